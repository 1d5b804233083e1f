import type { Context } from 'koa';
import { renderPage } from './layout.js';

/**
 * RP-initiated logout confirmation. `form` is oidc-provider's own form (id "op.logoutForm",
 * with its anti-CSRF `xsrf` field); the buttons submit it.
 */
export function renderLogoutConfirm(ctx: Context, form: string): void {
  renderPage(
    ctx,
    'Sign out',
    `<h1>Sign out?</h1>
<p>Do you want to sign out of Portcullis?</p>
${form}
<div class="actions">
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out</button>
<button type="submit" form="op.logoutForm" class="secondary">Stay signed in</button>
</div>`,
  );
}
