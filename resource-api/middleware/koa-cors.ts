import cors from '@koa/cors';
import type { Middleware } from 'koa';
import { PROTECTED_RESOURCE_METADATA_PATH } from './koa-resource-metadata.js';

/**
 * Exact-origin allow-list from FRONTEND_URL, with credentials. Any other origin gets no
 * CORS headers at all (not even a refusal), so the browser blocks it — except on the public
 * protected resource metadata documents (`publicPaths`: the API's and /mcp's), which every
 * origin may read without credentials.
 */
export function koaCors(origins: readonly string[], publicPaths: readonly string[] = [PROTECTED_RESOURCE_METADATA_PATH]): Middleware {
  const allowed = new Set(origins);
  const isPublic = (path: string) => publicPaths.includes(path);
  return cors({
    // The protected resource metadata is a public document (RFC 9728 §3): any origin may read it,
    // never with credentials.
    origin: (ctx) => {
      if (isPublic(ctx.path)) return '*';
      const origin = ctx.get('Origin');
      return allowed.has(origin) ? origin : '';
    },
    credentials: (ctx) => !isPublic(ctx.path),
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: ['Authorization', 'Content-Type', 'X-Request-Id', 'MCP-Protocol-Version'],
    exposeHeaders: ['X-Request-Id', 'WWW-Authenticate'],
    maxAge: 600,
  });
}
