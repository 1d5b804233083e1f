import type { Context } from 'koa';
import { esc, nextSteps, renderPage } from './layout.js';
import { START } from './message.js';
import { PageErrors } from './errors.js';

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
  const { title, message, status } = PageErrors.PAGE_NOT_FOUND;
  renderPage(
    ctx,
    title,
    `<h1>${esc(title)}</h1>
<p role="alert">${esc(message)}</p>
${requestId ? `<p class="muted">Request id: <code>${esc(requestId)}</code></p>` : ''}
${nextSteps([{ href: '/account', text: 'Go to your account' }, START])}`,
    status,
  );
}
