import cors from '@koa/cors';
import type { Middleware } from 'koa';
import { PROTECTED_RESOURCE_METADATA_PATH } from './koa-resource-metadata.js';

/**
 * Exact-origin allow-list from FRONTEND_URL, with credentials. Any other origin gets no
 * CORS headers at all (not even a refusal), so the browser blocks it — except on the public
 * protected resource metadata, which every origin may read without credentials.
 */
export function koaCors(origins: readonly string[]): Middleware {
  const allowed = new Set(origins);
  return cors({
    // The protected resource metadata is a public document (RFC 9728 §3): any origin may read it,
    // never with credentials.
    origin: (ctx) => {
      if (ctx.path === PROTECTED_RESOURCE_METADATA_PATH) return '*';
      const origin = ctx.get('Origin');
      return allowed.has(origin) ? origin : '';
    },
    credentials: (ctx) => ctx.path !== PROTECTED_RESOURCE_METADATA_PATH,
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: ['Authorization', 'Content-Type', 'X-Request-Id', 'MCP-Protocol-Version'],
    exposeHeaders: ['X-Request-Id', 'WWW-Authenticate'],
    maxAge: 600,
  });
}
