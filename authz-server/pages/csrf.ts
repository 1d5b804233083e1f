import type { Context } from 'koa';
import Tokens from 'csrf';

const tokens = new Tokens();

/**
 * Synchronizer tokens for the pages' forms (OWASP CSRF cheat sheet), on top of the origin
 * check: the secret lives in a signed (Koa keys), HttpOnly, SameSite=Strict cookie — with the
 * `__Host-` prefix on https, so a sibling subdomain cannot toss one in — and each form carries
 * a token derived from it (pillarjs `csrf`: salted hash, constant-time compare).
 */
const cookieName = (https: boolean) => (https ? '__Host-portcullis.csrf' : 'portcullis.csrf');
/** Set by the authz app from ISSUER_URL (the browser's view, also behind a TLS-terminating proxy). */
const https = (ctx: Context) => ctx.state.secureCookies === true;

function secretOf(ctx: Context): string | undefined {
  return ctx.cookies.get(cookieName(https(ctx)), { signed: true }) || undefined;
}

/** A token for this response's forms; sets the secret cookie the first time. */
export function csrfToken(ctx: Context): string {
  let secret = secretOf(ctx) ?? (ctx.state.csrfSecret as string | undefined);
  if (!secret) {
    secret = tokens.secretSync();
    ctx.state.csrfSecret = secret;
    const secure = https(ctx);
    if (secure) ctx.cookies.secure = true; // TLS ends at the proxy; the browser is on https
    ctx.cookies.set(cookieName(secure), secret, { signed: true, httpOnly: true, sameSite: 'strict', secure, path: '/', overwrite: true });
  }
  return tokens.create(secret);
}

export function csrfValid(ctx: Context, token: unknown): boolean {
  const secret = secretOf(ctx);
  return Boolean(secret) && typeof token === 'string' && tokens.verify(secret!, token);
}
