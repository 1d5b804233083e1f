import type { Config } from '#shared/config/index.js';
import { ALL_SCOPES } from '#shared/oauth/scopes.js';
import type { Logger } from '#shared/logging/logger.js';
import type { ClientService } from './service.js';

export const DEMO_CLIENT_ID = 'marketplace-ui';

/**
 * Development only: a public client for the local marketplace UI, so `npm start` gives a
 * working OIDC setup out of the box (see docs/oauth.md). Never registered in production.
 */
export async function ensureDemoClient(config: Config, clients: ClientService, logger: Logger): Promise<void> {
  if (config.isProduction) return;
  const existing = await clients.list();
  if (existing.some((c) => c.clientId === DEMO_CLIENT_ID)) return;
  await clients
    .create({
      clientId: DEMO_CLIENT_ID,
      name: 'Marketplace UI (development)',
      type: 'public',
      applicationType: 'web',
      redirectUris: config.frontendOrigins.map((o) => `${o}/callback`),
      postLogoutRedirectUris: config.frontendOrigins.map((o) => `${o}/`),
      scopes: [...ALL_SCOPES],
    }, { developmentWebLoopback: true })
    .then(
      () => logger.info({ clientId: DEMO_CLIENT_ID }, 'registered the development demo client'),
      (err: { code?: string }) => {
        if (err.code !== 'CLIENT_EXISTS') throw err; // another replica registered it first
      },
    );
}
