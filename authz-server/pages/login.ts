import type { Context } from 'koa';
import { errorBox, esc, renderPage } from './layout.js';

export interface LoginPageInput {
  action: string;
  /** The application the sign-in continues to; absent on the account's own sign-in. */
  clientName?: string;
  email?: string;
  error?: string;
  /** "Create an account": carries the way back to this sign-in when there is one. */
  signUpHref?: string;
}

/**
 * The password step. After any failed attempt the same neutral line offers a new confirmation
 * mail, whoever the address belongs to: the page must not tell an unconfirmed account apart.
 */
export function renderLogin(ctx: Context, input: LoginPageInput, status = 200): void {
  const describedBy = input.error ? ' aria-describedby="form-error" aria-invalid="true"' : '';
  const purpose = input.clientName ? `to continue to <strong>${esc(input.clientName)}</strong>` : 'to manage your Portcullis account';
  renderPage(
    ctx,
    'Sign in',
    `<h1>Sign in</h1>
<p>${purpose}</p>
${errorBox(input.error)}
<form method="post" action="${esc(input.action)}" novalidate>
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${esc(input.email)}"${describedBy} autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required${describedBy}>
  <button type="submit">Sign in</button>
</form>
${input.error ? '<p>Didn\'t get a confirmation mail? <a href="/account/confirm-email">Send it again</a></p>\n' : ''}<p><a href="/account/forgot-password">Forgot your password?</a></p>
<p>New to Portcullis? <a href="${esc(input.signUpHref ?? '/account/sign-up')}">Create an account</a></p>`,
    status,
  );
}
