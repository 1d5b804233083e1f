import type { Middleware } from 'koa';

const BASE = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";
const UNESCAPE: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

/**
 * A strict CSP for what oidc-provider renders itself, that still lets its auto-submitting
 * forms work: the form_post response (OAuth 2.0 Form Post Response Mode §2), the logout of
 * a session without an account (RP-Initiated Logout §3) and the logout before signing in as
 * another account. oidc-provider adds the sha256 of its one inline script to `script-src`
 * when the policy has that directive (helpers/script_src_sha.js), so the request starts with
 * `script-src 'none'`; when a hash was added, 'none' goes and `form-action` allows exactly
 * the origin the provider's form posts to — already validated by the provider (a registered
 * redirect URI or its own logout endpoint) — on that response only (see formAction).
 */
export function koaProviderCsp(issuer: string): Middleware {
  const self = new URL(issuer).origin;
  return async (ctx, next) => {
    ctx.set('Content-Security-Policy', `${BASE}; script-src 'none'; form-action 'self'`);
    await next();
    const hashes = /script-src 'none'((?: 'sha256-[A-Za-z0-9+/=]+')+)/.exec(ctx.response.get('Content-Security-Policy'))?.[1];
    if (!hashes) return;
    const html = typeof ctx.body === 'string' ? ctx.body : Buffer.isBuffer(ctx.body) ? ctx.body.toString('utf8') : '';
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1]?.replace(/&(?:amp|lt|gt|quot|#39);/g, (e) => UNESCAPE[e]!);
    ctx.set('Content-Security-Policy', `${BASE}; script-src${hashes}${formAction(action, self)}`);
  };
}

/**
 * The form-action directive for an auto-submitting form. To the client (form_post): exactly
 * its origin. To our own logout endpoint: none, like our own pages (layout.ts) — Chromium
 * applies form-action to the redirects after the post, which end at the client's validated
 * post-logout URI or back at the authorization request.
 */
function formAction(action: string | undefined, self: string): string {
  if (!action || !URL.canParse(action, self)) return "; form-action 'none'";
  const url = new URL(action, self);
  if (url.origin === self) return '';
  // http(s): the origin; a native app's private-use scheme (RFC 8252 §7.1): the scheme alone.
  return `; form-action ${url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol}`;
}
