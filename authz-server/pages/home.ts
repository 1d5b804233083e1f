import type { Context } from 'koa';
import { esc, nextSteps, renderPage } from './layout.js';
import { START } from './message.js';

/** The issuer's own address in a browser: what this service is and where to go from here. */
export function renderHome(ctx: Context, marketplace: string | undefined): void {
  renderPage(
    ctx,
    'Sign in to the marketplace',
    `<h1>Portcullis</h1>
<p>Portcullis is where you sign in to the marketplace and the applications that work with it.</p>
${nextSteps([
  { href: '/account/sign-in', text: 'Sign in to your account' },
  { href: '/account/sign-up', text: 'Create an account' },
  ...(marketplace ? [{ href: marketplace, text: 'Go to the marketplace' }] : []),
])}`,
  );
}

/** A browser's 404 (API clients keep the JSON error). */
export function renderNotFound(ctx: Context): void {
  const requestId = String(ctx.state.requestId ?? '');
  renderPage(
    ctx,
    'Page not found',
    `<h1>Page not found</h1>
<p role="alert">There is no page at this address. Check the link, or start again from one of these pages.</p>
${requestId ? `<p class="muted">Request id: <code>${esc(requestId)}</code></p>` : ''}
${nextSteps([{ href: '/account', text: 'Go to your account' }, START])}`,
    404,
  );
}
