import Provider from 'oidc-provider';
import type { Container } from '#shared/container.js';
import { providerConfiguration } from './configuration.js';

/**
 * One provider per process. `proxy` follows TRUST_PROXY: X-Forwarded-* are honoured only
 * behind a proxy the operator trusts.
 */
export function createProvider(c: Pick<Container, 'config' | 'db' | 'logger'>): Provider {
  const log = c.logger.child({ component: 'oidc' });
  const provider = new Provider(
    c.config.authz.issuer,
    providerConfiguration(c.config, c.db, {
      onReuseRace: (model, grantId) => log.warn({ model, grantRevoked: Boolean(grantId) }, 'concurrent reuse detected: grant revoked'),
    }),
  );
  provider.proxy = c.config.http.trustProxy;
  provider.on('server_error', (_ctx, err) => log.error({ err: { type: err.name, message: err.message, stack: err.stack } }, 'oidc server_error'));
  provider.on('grant.revoked', (_ctx, grantId) => log.info({ grantId }, 'grant revoked'));
  return provider;
}
