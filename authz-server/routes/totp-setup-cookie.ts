import type { Context } from 'koa';

/**
 * Marks the browser that started a two-factor setup, so that only it may see the pending
 * setup again after a wrong code: a signed (Koa keys), HttpOnly, SameSite=Strict cookie naming
 * the session and the time — `__Host-` on https, like the form token (pages/csrf.ts). It holds
 * no secret: the setup itself is read back from better-auth.
 */
const TTL_MS = 15 * 60 * 1000;
const https = (ctx: Context) => ctx.state.secureCookies === true;
const name = (ctx: Context) => (https(ctx) ? '__Host-portcullis.totp-setup' : 'portcullis.totp-setup');

function set(ctx: Context, value: string | null, maxAge: number): void {
  const secure = https(ctx);
  if (secure) ctx.cookies.secure = true; // TLS ends at the proxy; the browser is on https
  ctx.cookies.set(name(ctx), value, { signed: true, httpOnly: true, sameSite: 'strict', secure, path: '/', maxAge, overwrite: true });
}

export function rememberSetup(ctx: Context, sessionId: string): void {
  set(ctx, `${sessionId}.${Date.now()}`, TTL_MS);
}

export function forgetSetup(ctx: Context): void {
  set(ctx, null, 0);
}

/** Whether this browser started the pending setup, in this session, less than 15 minutes ago. */
export function setupStartedHere(ctx: Context, sessionId: string): boolean {
  const value = ctx.cookies.get(name(ctx), { signed: true });
  if (!value) return false;
  const dot = value.lastIndexOf('.');
  const at = Number(value.slice(dot + 1));
  return dot > 0 && value.slice(0, dot) === sessionId && Number.isFinite(at) && Date.now() - at < TTL_MS;
}
