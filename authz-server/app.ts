import type Koa from 'koa';
import type { IncomingMessage } from 'node:http';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import { fromNodeHeaders } from 'better-auth/node';
import { betterAuthMount } from './better-auth-mount.js';
import type { Container } from '#shared/container.js';
import { mountRouter } from '#shared/http/index.js';
import { pingDb, translateDbError } from '#shared/db/index.js';
import { StorageErrors, appError, isAppError } from '#shared/errors/index.js';
import { renderMessage } from './pages/message.js';
import { createProvider } from './oidc/provider.js';
import { koaProviderCsp } from './oidc/koa-provider-csp.js';
import { currentSession } from '#shared/auth/session.js';
import { interactionRoutes } from './routes/interaction.js';
import { accountRoutes } from './routes/account.js';
import { accountSettingsRoutes } from './routes/account-settings.js';
import { koaHtmlFallback } from './routes/home.js';
import { createAuthzLimits } from './rate-limits.js';
import { startPurge } from './oidc/purge.js';
import { createClientService } from './clients/service.js';
import { ensureDemoClient } from './clients/demo.js';
import { betterAuthStorageFailures } from './accounts/storage-failures.js';
import { koaDeviceCodeAttempts, koaDevicePolling } from './oidc/device-flow.js';

/**
 * authz-server routes, in order: better-auth at /api/auth (it reads its own body, so it comes
 * before any parser), the interaction pages, then the OpenID provider for everything else.
 */
export async function mountAuthzServer(app: Koa, c: Container): Promise<{ close(): void }> {
  // Development convenience only: a database outage at boot must not stop the service
  // (readiness reports it), so a failed registration is logged and retried at next start.
  await ensureDemoClient(c.config, createClientService(c.db), c.logger).catch((err: Error) =>
    c.logger.warn({ err: { type: err.name, message: err.message } }, 'could not register the development demo client'),
  );
  const provider = createProvider(c);
  const limits = createAuthzLimits(c);

  const secureCookies = c.config.authz.issuer.startsWith('https:');
  app.use((ctx, next) => {
    ctx.state.secureCookies = secureCookies; // pages/csrf.ts: cookie prefix and Secure
    return next();
  });
  app.use(koaHtmlFallback(c.config)); // browsers: a start page at / and an HTML 404
  app.use(limits.signInApi);
  app.use(limits.token);
  app.use(limits.register);

  app.use(betterAuthOutage(c));
  app.use(betterAuthMount(c, limits));

  const interactions = interactionRoutes(provider, c, limits);
  mountRouter(app, interactions);
  mountRouter(app, accountRoutes(c, limits));
  mountRouter(app, accountSettingsRoutes(c, limits));

  // RP-initiated logout ends the better-auth session too, once the provider confirmed it — when
  // it belongs to the account whose OpenID session ended. oidc-provider also ends the OpenID
  // session this way before signing in another account: that account's fresh session stays.
  app.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== '/session/end/confirm') return;
    const oidc = (ctx as unknown as { oidc?: { body?: Record<string, unknown>; session?: { accountId?: string } } }).oidc;
    if (!oidc?.body?.logout || ctx.status >= 400) return;
    const current = await currentSession(c.auth, c.config, ctx.req.headers);
    if (!current || current.user.id !== oidc.session?.accountId) return;
    const res = await c.auth.api.signOut({ headers: fromNodeHeaders(ctx.req.headers), asResponse: true });
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
  });

  app.use(providerStorageErrors(provider));
  app.use(tokenResponseHeaders());
  app.use(koaProviderCsp(c.config.authz.issuer));
  app.use(koaDeviceCodeAttempts(provider, limits));
  app.use(koaDevicePolling(c));
  app.use(mount(provider as unknown as Koa));
  const purge = startPurge(c);
  return { close: () => purge.stop() };
}

/** RFC 6749 §5.1: token responses carry `Cache-Control: no-store` and `Pragma: no-cache`. */
function tokenResponseHeaders(): Koa.Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.method === 'POST' && ctx.path === '/token') ctx.set('Pragma', 'no-cache');
  };
}

const UNAVAILABLE = 'The service is temporarily unavailable. Try again in a moment.';
const BAD_CHARACTER = 'A parameter contains a character that is not allowed.';

/**
 * oidc-provider answers every unexpected error as 500 server_error. Two storage failures are
 * not server errors: a database outage is retryable, 503 with RFC 6749 §4.1.2.1's
 * `temporarily_unavailable` and Retry-After; a parameter PostgreSQL cannot compare (a NUL in a
 * client_id or token) is the client's, 400 `invalid_request`. JSON for the token,
 * introspection and revocation endpoints; the message page for browsers.
 */
function providerStorageErrors(provider: Provider): Koa.Middleware {
  const causes = new WeakMap<IncomingMessage, 'unavailable' | 'character'>();
  provider.on('server_error', (ctx, err) => {
    const storage = translateDbError(err);
    if (!isAppError(storage)) return;
    if (storage.code === 'DATABASE_UNAVAILABLE') causes.set(ctx.req, 'unavailable');
    if (storage.code === 'UNSUPPORTED_CHARACTER') causes.set(ctx.req, 'character');
  });
  return async (ctx, next) => {
    await next();
    const cause = ctx.status === 500 ? causes.get(ctx.req) : undefined;
    if (!cause) return;
    const html = ctx.accepts('json', 'html') === 'html';
    if (cause === 'character') {
      if (html) return renderMessage(ctx, 'Sign-in error', BAD_CHARACTER, 400);
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: BAD_CHARACTER };
      return;
    }
    ctx.set('Retry-After', '1');
    if (html) return renderMessage(ctx, 'Temporarily unavailable', UNAVAILABLE, 503);
    ctx.status = 503;
    ctx.body = { error: 'temporarily_unavailable', error_description: UNAVAILABLE };
  };
}

/**
 * better-auth answers a storage failure as a bare 500 and keeps the cause to itself. When the
 * database does not answer a ping either, or did not a moment ago (a request caught by the
 * restart itself), or better-auth's error hook just saw a connection failure (a killed session
 * while the server is up: accounts/storage-failures.ts), the 500 is an outage: 503 DATABASE_UNAVAILABLE. Only where the answer goes
 * through Koa (the JSON sign-in); other better-auth endpoints write to the socket themselves.
 */
function betterAuthOutage(c: Pick<Container, 'db'>): Koa.Middleware {
  let lastDownAt = 0;
  return async (ctx, next) => {
    await next();
    if (ctx.status !== 500 || !ctx.path.startsWith('/api/auth/') || ctx.respond === false) return;
    const down = await pingDb(c.db, 1000).then(() => false, () => true);
    if (down) lastDownAt = Date.now();
    if (down || Date.now() - lastDownAt < 5000 || betterAuthStorageFailures.within(5000)) throw appError(StorageErrors, 'DATABASE_UNAVAILABLE');
  };
}
