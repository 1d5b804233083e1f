import type { Context } from 'koa';
import { errorBox, esc, renderPage } from './layout.js';

/** The second sign-in step: a TOTP code from the authenticator app, or a backup code. */
export function renderTotpChallenge(ctx: Context, input: { action: string; error?: string }, status = 200): void {
  const invalid = input.error ? ' aria-invalid="true" aria-describedby="form-error"' : '';
  renderPage(
    ctx,
    'Two-factor authentication',
    `<h1>Two-factor authentication</h1>
<p>Enter the 6-digit code from your authenticator app, or one of your backup codes.</p>
${errorBox(input.error)}
<form method="post" action="${esc(input.action)}" novalidate>
  <label for="code">Authentication code</label>
  <input id="code" name="code" type="text" inputmode="text" autocomplete="one-time-code" required maxlength="20"${invalid} autofocus>
  <button type="submit">Verify</button>
</form>`,
    status,
  );
}
