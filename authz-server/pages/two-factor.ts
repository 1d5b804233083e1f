import type { Context } from 'koa';
import { TOTP } from '#shared/auth/assurance.js';
import { errorBox, esc, nextSteps, renderPage } from './layout.js';

/**
 * The second sign-in step: a TOTP code from the authenticator app, or a backup code.
 * `restart`: where to sign in again once the pending sign-in has expired.
 */
export function renderTotpChallenge(ctx: Context, input: { action: string; error?: string; restart?: string }, status = 200): void {
  const invalid = input.error ? ' aria-invalid="true" aria-describedby="form-error"' : '';
  renderPage(
    ctx,
    'Two-factor authentication',
    `<h1>Two-factor authentication</h1>
<p>Enter the ${TOTP.digits}-digit code from your authenticator app, or one of your backup codes.</p>
${errorBox(input.error)}
<form method="post" action="${esc(input.action)}" novalidate>
  <label for="code">Authentication code</label>
  <input id="code" name="code" type="text" inputmode="text" autocomplete="one-time-code" required maxlength="20"${invalid} autofocus>
  <button type="submit">Verify</button>
</form>
${input.restart ? nextSteps([{ href: input.restart, text: 'Sign in again' }]) : ''}`,
    status,
  );
}
