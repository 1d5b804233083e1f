import type Koa from 'koa';
import mount from 'koa-mount';
import { fromNodeHeaders } from 'better-auth/node';
import { betterAuthMount } from './better-auth-mount.js';
import type { Container } from '#shared/container.js';
import { mountRouter } from '#shared/http/index.js';
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
import { koaStorageOutage } from './middleware/koa-storage-outage.js';
import { koaDeviceCodeAttempts, koaDevicePolling } from './oidc/device-flow.js';
import { registerBusMetrics } from '#shared/bus/metrics.js';

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
  registerBusMetrics(c.metrics.registry, c.changes); // changes this server could not announce yet
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

  // Outside every route below: better-auth's and the provider's storage 500s, translated.
  app.use(koaStorageOutage(provider, c));
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
