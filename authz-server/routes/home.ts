import type { Middleware } from 'koa';
import type { Config } from '#shared/config/index.js';
import { renderHome, renderNotFound } from '../pages/home.js';

/**
 * Content negotiation for what no route answered: a browser (Accept prefers text/html) asking
 * for the issuer's root gets the start page, for any other unknown address the 404 page. API
 * clients keep the JSON `NOT_FOUND` error of shared/http/koa-error-handler.ts, byte for byte.
 */
export function koaHtmlFallback(config: Pick<Config, 'frontendOrigins'>): Middleware {
  const marketplace = config.frontendOrigins[0];
  return async (ctx, next) => {
    await next();
    if (ctx.status !== 404 || ctx.body != null) return;
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || ctx.accepts('json', 'html') !== 'html') return;
    if (ctx.path === '/') return renderHome(ctx, marketplace);
    renderNotFound(ctx);
  };
}
