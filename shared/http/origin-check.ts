import type { Context } from 'koa';
import { appError, HttpErrors } from '../errors/index.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cross-site request forgery defence for requests a cookie authenticates (OWASP CSRF cheat
 * sheet, "Verifying origin with standard headers"). SameSite=Lax alone lets a same-site
 * sibling (another port or subdomain) post with the victim's cookies, so every unsafe request
 * must say where it comes from: an `Origin` on the allow-list, or — where a browser sent no
 * Origin, or an opaque `Origin: null` — `Sec-Fetch-Site: same-origin`. Neither fails closed.
 */
export function originAllowed(ctx: Pick<Context, 'method' | 'get'>, allowed: ReadonlySet<string>): boolean {
  if (SAFE.has(ctx.method)) return true;
  const origin = ctx.get('Origin');
  if (origin && origin !== 'null') return allowed.has(origin);
  // Pages served with `Referrer-Policy: no-referrer` make the browser send `Origin: null` even
  // for their own same-origin form posts (Fetch §3.1, origin serialization): Sec-Fetch-Site,
  // which no script can set, then tells.
  return ctx.get('Sec-Fetch-Site') === 'same-origin';
}

/** Throws 403 ORIGIN_NOT_ALLOWED unless `originAllowed`. */
export function assertOrigin(ctx: Pick<Context, 'method' | 'get'>, allowed: ReadonlySet<string>): void {
  if (!originAllowed(ctx, allowed)) throw appError(HttpErrors, 'ORIGIN_NOT_ALLOWED');
}

/** The origins of URLs (configuration values are full URLs). */
export function originsOf(urls: Iterable<string>): Set<string> {
  return new Set([...urls].map((u) => new URL(u).origin));
}
