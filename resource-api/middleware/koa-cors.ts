import cors from '@koa/cors';
import type { Middleware } from 'koa';

/**
 * Exact-origin allow-list from FRONTEND_URL, with credentials. Any other origin gets no
 * CORS headers at all (not even a refusal), so the browser blocks it.
 */
export function koaCors(origins: readonly string[]): Middleware {
  const allowed = new Set(origins);
  return cors({
    origin: (ctx) => {
      const origin = ctx.get('Origin');
      return allowed.has(origin) ? origin : '';
    },
    credentials: true,
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
    exposeHeaders: ['X-Request-Id', 'WWW-Authenticate'],
    maxAge: 600,
  });
}
