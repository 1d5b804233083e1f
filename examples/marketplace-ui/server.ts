/**
 * The marketplace UI, as a backend-for-frontend: the browser holds only this server's session
 * cookie (HttpOnly, SameSite=Lax); the tokens stay here. It signs in with OpenID Connect (code +
 * PKCE, client `marketplace-ui`), lists listings, opens Stripe Checkout through the API, shows
 * entitlements and usage, and signs out through RP-initiated logout. Only `openid-client`, Koa
 * and the HTTP API — no Portcullis code.
 *
 *   node --import tsx examples/marketplace-ui/server.ts
 *
 * PORTCULLIS_ISSUER (http://localhost:4000), PORTCULLIS_API (http://localhost:4001),
 * PORTCULLIS_RESOURCE (the API's resource identifier, default PORTCULLIS_API), UI_URL (this
 * app's public origin, http://localhost:3000), UI_CLIENT_ID (marketplace-ui), UI_COOKIE_KEY.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import Koa, { type Context } from 'koa';
import * as client from 'openid-client';

const ISSUER = process.env.PORTCULLIS_ISSUER ?? 'http://localhost:4000';
const API = process.env.PORTCULLIS_API ?? 'http://localhost:4001';
const RESOURCE = process.env.PORTCULLIS_RESOURCE ?? API;
const UI = new URL(process.env.UI_URL ?? 'http://localhost:3000').origin;
const CLIENT_ID = process.env.UI_CLIENT_ID ?? 'marketplace-ui';
const SCOPE = 'openid email profile offline_access listings:read checkout:create usage:read';
const COOKIE = 'marketplace.sid';

interface Session {
  createdAt: number;
  /** The refresh under way: concurrent API calls share it (a second use of the refresh token would look like reuse and revoke the grant). */
  refreshing?: Promise<string | undefined>;
  pkce?: { verifier: string; state: string };
  tokens?: { access_token: string; id_token?: string; refresh_token?: string; expires_at: number };
  email?: string;
}
/** Server-side sessions (a database in a real deployment; this is one process). */
const sessions = new Map<string, Session>();

let discovered: client.Configuration | undefined;
async function oidc(): Promise<client.Configuration> {
  // Plain http only for a development issuer on this machine; anything else must be https.
  const options = new URL(ISSUER).protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(new URL(ISSUER).hostname) ? { execute: [client.allowInsecureRequests] } : undefined;
  discovered ??= await client.discovery(new URL(ISSUER), CLIENT_ID, undefined, client.None(), options);
  return discovered;
}

const app = new Koa({ keys: [process.env.UI_COOKIE_KEY ?? randomBytes(32).toString('base64url')] });
const secure = UI.startsWith('https:');

const SESSION_TTL_MS = 12 * 3600_000;
const cookieName = secure ? `__Host-${COOKIE}` : COOKIE; // __Host-: no sibling subdomain can set it

function session(ctx: Context): Session | undefined {
  const id = ctx.cookies.get(cookieName, { signed: true });
  const s = id ? sessions.get(id) : undefined;
  if (s && Date.now() - s.createdAt > SESSION_TTL_MS) sessions.delete(id!);
  return s && sessions.has(id!) ? s : undefined;
}

/** A new session with a new id (never one the browser brought: no session fixation). */
function newSession(ctx: Context, from: Partial<Session> = {}): Session {
  const old = ctx.cookies.get(cookieName, { signed: true });
  if (old) sessions.delete(old);
  for (const [id, s] of sessions) if (Date.now() - s.createdAt > SESSION_TTL_MS) sessions.delete(id);
  const id = randomUUID();
  const s: Session = { ...from, createdAt: Date.now() };
  sessions.set(id, s);
  ctx.cookies.set(cookieName, id, { signed: true, httpOnly: true, sameSite: 'lax', secure, path: '/' });
  return s;
}

/** The session's access token, refreshed (rotation) once when it is about to expire. */
async function accessToken(s: Session): Promise<string | undefined> {
  if (!s.tokens) return undefined;
  if (s.tokens.expires_at - 30 > Date.now() / 1000) return s.tokens.access_token;
  if (!s.tokens.refresh_token) return undefined;
  s.refreshing ??= refresh(s).finally(() => (s.refreshing = undefined));
  return s.refreshing;
}

async function refresh(s: Session): Promise<string | undefined> {
  const t = await client.refreshTokenGrant(await oidc(), s.tokens!.refresh_token!, { resource: RESOURCE });
  s.tokens = { access_token: t.access_token, id_token: t.id_token ?? s.tokens!.id_token, refresh_token: t.refresh_token ?? s.tokens!.refresh_token, expires_at: Math.floor(Date.now() / 1000) + (t.expires_in ?? 0) };
  return s.tokens.access_token;
}

async function api(s: Session | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const token = s ? await accessToken(s) : undefined;
  const res = await fetch(`${API}${path}`, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, json: await res.json().catch(() => null) };
}

const esc = (v: unknown) => String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
function page(ctx: Context, title: string, body: string, status = 200) {
  ctx.status = status;
  ctx.type = 'html';
  // form-action covers the redirects after a post (Chromium): to Stripe Checkout and to the issuer's logout.
  ctx.set('Content-Security-Policy', `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${new URL(ISSUER).origin} https://checkout.stripe.com; frame-ancestors 'none'; base-uri 'none'`);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)} · Marketplace</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}main{max-width:44rem;margin:2rem auto;padding:0 1rem}section{background:#fff;border-radius:8px;padding:1rem 1.5rem;margin:1rem 0;box-shadow:0 1px 4px #0002}button,.button{padding:.5rem 1rem;border:0;border-radius:4px;background:#2a54c7;color:#fff;font-size:1rem;cursor:pointer;text-decoration:none;display:inline-block}li{margin:.5rem 0}form{display:inline}</style>
</head><body><main>${body}</main></body></html>`;
}

/** Same-origin forms only: a browser's Origin (or Sec-Fetch-Site) must be this app. */
function sameOrigin(ctx: Context): boolean {
  const origin = ctx.get('origin');
  return origin && origin !== 'null' ? origin === UI : ctx.get('sec-fetch-site') === 'same-origin';
}

async function form(ctx: Context): Promise<URLSearchParams> {
  let raw = '';
  for await (const chunk of ctx.req) {
    raw += chunk;
    if (raw.length > 4096) ctx.throw(413);
  }
  return new URLSearchParams(raw);
}

app.use(async (ctx) => {
  const s = session(ctx);
  if (ctx.method === 'POST' && !sameOrigin(ctx)) return page(ctx, 'Refused', '<h1>Refused</h1><p>This form must come from the marketplace itself.</p>', 403);

  if (ctx.method === 'GET' && ctx.path === '/') {
    if (!s?.tokens) return page(ctx, 'Welcome', `<h1>Agent marketplace</h1><section><p>Sign in to browse, buy and track your agents.</p><a class="button" href="/login">Sign in</a></section>`);
    const [listings, me, usage] = await Promise.all([api(s, 'GET', '/v1/listings?limit=20'), api(s, 'GET', '/v1/me'), api(s, 'GET', '/v1/usage')]);
    const notice = ctx.query.checkout === 'success' ? '<p role="status">Thank you: your purchase is being confirmed.</p>' : ctx.query.checkout === 'cancel' ? '<p role="status">Checkout cancelled.</p>' : '';
    const items = (listings.json?.items ?? []) as { id: string; title: string; summary: string }[];
    const rows = (usage.json?.items ?? []) as { listingId: string; status: string; quota: { units: number; remaining: number; used: number } }[];
    const titles = new Map(((listings.json?.items ?? []) as { id: string; title: string }[]).map((l) => [l.id, l.title]));
    return page(ctx, 'Marketplace', `<h1>Agent marketplace</h1>
<p>Signed in as <strong>${esc(me.json?.email ?? s.email)}</strong>.</p>${notice}
<section><h2>Listings</h2><ul>${items.map((l) => `<li><strong>${esc(l.title)}</strong> — ${esc(l.summary)} <form method="post" action="/buy"><input type="hidden" name="listingId" value="${esc(l.id)}"><button type="submit">Buy ${esc(l.title)}</button></form></li>`).join('') || '<li>No listings yet.</li>'}</ul></section>
<section><h2>Your entitlements and usage</h2><ul id="usage">${rows.map((r) => `<li>${esc(titles.get(r.listingId) ?? r.listingId)}: ${esc(r.quota.remaining)} of ${esc(r.quota.units)} units left (${esc(r.status)})</li>`).join('') || '<li>None yet.</li>'}</ul></section>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>`);
  }

  if (ctx.method === 'GET' && ctx.path === '/login') {
    const fresh = newSession(ctx);
    fresh.pkce = { verifier: client.randomPKCECodeVerifier(), state: client.randomState() };
    const url = client.buildAuthorizationUrl(await oidc(), {
      redirect_uri: `${UI}/callback`, scope: SCOPE, state: fresh.pkce.state, resource: RESOURCE,
      code_challenge: await client.calculatePKCECodeChallenge(fresh.pkce.verifier), code_challenge_method: 'S256',
    });
    return ctx.redirect(url.href);
  }

  if (ctx.method === 'GET' && ctx.path === '/callback') {
    const pkce = s?.pkce;
    if (s) s.pkce = undefined;
    const expired = () => page(ctx, 'Sign-in expired', '<h1>Sign-in did not complete</h1><p><a href="/login">Sign in again</a></p>', 400);
    if (!pkce) return expired();
    // A denial (error=access_denied), a stale or forged state: a page, not a 500.
    const t = await client.authorizationCodeGrant(await oidc(), new URL(ctx.originalUrl, UI), { pkceCodeVerifier: pkce.verifier, expectedState: pkce.state }, { resource: RESOURCE }).catch(() => undefined);
    if (!t) return expired();
    // Signed in: a new session id, so a cookie planted before the sign-in never holds the tokens.
    newSession(ctx, {
      tokens: { access_token: t.access_token, id_token: t.id_token, refresh_token: t.refresh_token, expires_at: Math.floor(Date.now() / 1000) + (t.expires_in ?? 0) },
      email: t.claims()?.email as string | undefined,
    });
    return ctx.redirect('/');
  }

  if (ctx.method === 'POST' && ctx.path === '/buy' && s?.tokens) {
    const listingId = (await form(ctx)).get('listingId') ?? '';
    const res = await api(s, 'POST', '/v1/checkout/sessions', { listingId, returnUrl: `${UI}/`, clientReqId: randomUUID() });
    if (res.status === 200 || res.status === 201) return ctx.redirect(res.json.url);
    return page(ctx, 'Checkout unavailable', `<h1>Checkout unavailable</h1><p>${esc(res.json?.error?.message ?? 'Try again later.')} (${esc(res.json?.error?.code)})</p><p><a href="/">Back to the marketplace</a></p>`, 502);
  }

  if (ctx.method === 'POST' && ctx.path === '/logout') {
    const idToken = s?.tokens?.id_token;
    if (s?.tokens?.refresh_token) await client.tokenRevocation(await oidc(), s.tokens.refresh_token).catch(() => undefined);
    const id = ctx.cookies.get(cookieName, { signed: true });
    if (id) sessions.delete(id);
    ctx.cookies.set(cookieName, null, { signed: true });
    // RP-initiated logout: the authorization server ends its own sessions, then sends the browser back.
    return ctx.redirect(client.buildEndSessionUrl(await oidc(), { post_logout_redirect_uri: `${UI}/`, ...(idToken ? { id_token_hint: idToken } : {}) }).href);
  }

  if (ctx.method === 'POST' && ctx.path === '/buy') return ctx.redirect('/');
  page(ctx, 'Not found', '<h1>Not found</h1><p><a href="/">Back to the marketplace</a></p>', 404);
});

const port = Number(process.env.UI_PORT ?? new URL(UI).port ?? 3000) || 3000;
app.listen(port, process.env.UI_HOST ?? '127.0.0.1', () => process.stdout.write(`marketplace-ui listening on ${UI} (port ${port})\n`));
