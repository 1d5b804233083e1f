import helmet from 'koa-helmet';
import type { Middleware } from 'koa';

/**
 * Security headers for JSON APIs and server-rendered pages. Pages that need scripts or
 * styles set a nonce-based CSP themselves; the default forbids everything, including
 * framing (RFC 9700 §4.16: clickjacking protection).
 */
export function koaSecurityHeaders(opts: { https: boolean }): Middleware {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'self'"] },
    },
    crossOriginEmbedderPolicy: false,
    strictTransportSecurity: opts.https ? { maxAge: 31536000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    // The same as frame-ancestors 'none', for browsers that predate CSP 2.
    xFrameOptions: { action: 'deny' },
  }) as unknown as Middleware;
}
