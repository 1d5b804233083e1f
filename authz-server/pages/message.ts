import type { Context } from 'koa';
import { esc, renderPage } from './layout.js';

/** Error and information pages (never a redirect to an unverified URI). */
export function renderMessage(ctx: Context, title: string, message: string, status = 200): void {
  renderPage(ctx, title, `<h1>${esc(title)}</h1>\n<p role="${status >= 400 ? 'alert' : 'status'}">${esc(message)}</p>`, status);
}
