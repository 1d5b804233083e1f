import type { Context } from 'koa';
import { errorBox, esc, renderPage } from './layout.js';

export interface LoginPageInput {
  action: string;
  clientName: string;
  email?: string;
  error?: string;
}

export function renderLogin(ctx: Context, input: LoginPageInput, status = 200): void {
  const describedBy = input.error ? ' aria-describedby="form-error" aria-invalid="true"' : '';
  renderPage(
    ctx,
    'Sign in',
    `<h1>Sign in</h1>
<p>to continue to <strong>${esc(input.clientName)}</strong></p>
${errorBox(input.error)}
<form method="post" action="${esc(input.action)}" novalidate>
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${esc(input.email)}"${describedBy} autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required${describedBy}>
  <button type="submit">Sign in</button>
</form>
<p><a href="/account/forgot-password">Forgot your password?</a> · <a href="/account/sign-up">Create an account</a></p>`,
    status,
  );
}
