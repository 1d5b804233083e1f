import type Koa from 'koa';
import mount from 'koa-mount';
import { fromNodeHeaders } from 'better-auth/node';
import { betterAuthMount } from './better-auth-mount.js';
import type { Container } from '#shared/container.js';
import { mountRouter } from '#shared/http/index.js';
import { createProvider } from './oidc/provider.js';
import { interactionRoutes } from './routes/interaction.js';
import { accountRoutes } from './routes/account.js';
import { accountSettingsRoutes } from './routes/account-settings.js';
import { createAuthzLimits } from './rate-limits.js';
import { startPurge } from './oidc/purge.js';
import { createClientService } from './clients/service.js';
import { ensureDemoClient } from './clients/demo.js';

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

  app.use(limits.signInApi);
  app.use(limits.token);

  app.use(betterAuthMount(c, limits));

  const interactions = interactionRoutes(provider, c, limits);
  mountRouter(app, interactions);
  mountRouter(app, accountRoutes(c, limits));
  mountRouter(app, accountSettingsRoutes(c));

  // RP-initiated logout ends the better-auth session too, once the provider confirmed it.
  app.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== '/session/end/confirm') return;
    const body = (ctx as unknown as { oidc?: { body?: Record<string, unknown> } }).oidc?.body;
    if (!body?.logout || ctx.status >= 400) return;
    const res = await c.auth.api.signOut({ headers: fromNodeHeaders(ctx.req.headers), asResponse: true });
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
  });

  app.use(mount(provider as unknown as Koa));
  const purge = startPurge(c);
  return { close: () => purge.stop() };
}
