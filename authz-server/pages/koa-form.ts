import type { Context, Middleware } from 'koa';
import { appError, HttpErrors } from '#shared/errors/index.js';
import { koaBody, originAllowed, originsOf, respond } from '#shared/http/index.js';
import { csrfValid } from './csrf.js';
import { renderMessage } from './message.js';

/**
 * The body parser of every page form that a cookie authenticates (the sign-in interaction,
 * the account page): the request must come from the issuer's own origin (Origin, or
 * Sec-Fetch-Site: same-origin) and carry the form's synchronizer token. Cross-site and
 * same-site siblings (another port or subdomain) are refused with 403 and a stable code,
 * before the body is acted on.
 */
export function koaForm(issuer: string, opts: { limitBytes: number }): Middleware {
  const parse = koaBody(opts);
  const allowed = originsOf([issuer]);
  return async (ctx, next) => {
    if (!originAllowed(ctx, allowed)) return refuse(ctx, 'ORIGIN_NOT_ALLOWED');
    await parse(ctx, async () => {
      const token = (ctx.request as unknown as { body?: Record<string, unknown> }).body?._csrf;
      if (!csrfValid(ctx, token)) return refuse(ctx, 'CSRF_TOKEN_INVALID');
      await next();
    });
  };
}

function refuse(ctx: Context, code: 'ORIGIN_NOT_ALLOWED' | 'CSRF_TOKEN_INVALID'): void {
  if (ctx.accepts('json', 'html') === 'json') return respond(ctx, appError(HttpErrors, code));
  renderMessage(ctx, 'Request refused', `${HttpErrors[code].message} (${code})`, 403);
}
