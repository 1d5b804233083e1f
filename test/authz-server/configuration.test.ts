import { expect } from 'chai';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { providerConfiguration } from '#authz/oidc/configuration.js';
import { createDb } from '#shared/db/index.js';
import { testConfig } from '../helpers/config.js';

describe('authz-server provider configuration', () => {
  it('gives refresh tokens the idle lifetime, capped by what is left of the absolute one', async () => {
    const { config, cleanup } = await testConfig({ REFRESH_TOKEN_IDLE_TTL_S: '3600', REFRESH_TOKEN_ABSOLUTE_TTL_S: '86400' });
    const db = createDb(config.db);
    try {
      const ttl = providerConfiguration(config, db, null as never).ttl!.RefreshToken as (ctx: KoaContextWithOIDC, token: unknown, client: unknown) => number;
      const now = Math.floor(Date.now() / 1000);
      const ctx = {} as KoaContextWithOIDC;
      expect(ttl(ctx, { iiat: now }, {})).to.equal(3600);
      expect(ttl(ctx, { iiat: now - 86400 + 600 }, {})).to.be.within(599, 600);
      expect(ttl(ctx, { iiat: now - 90000 }, {})).to.equal(1);
      expect(ttl(ctx, {}, {})).to.equal(3600);
    } finally {
      await db.destroy();
      await cleanup();
    }
  });

  it('switches off what is not served end to end and keeps only the code flow', async () => {
    const { config, cleanup } = await testConfig();
    const db = createDb(config.db);
    try {
      const c = providerConfiguration(config, db, null as never);
      expect(c.responseTypes).to.deep.equal(['code']);
      expect(c.features!.devInteractions!.enabled).to.equal(false);
      // RFC 9449 is served end to end (docs/dpop.md), with server nonces and no proof replay.
      expect(c.features!.dPoP).to.deep.include({ enabled: true, allowReplay: false });
      expect((c.features!.dPoP as { requireNonce: () => boolean }).requireNonce()).to.equal(true);
      expect((c.features!.dPoP as { nonceSecret: Buffer }).nonceSecret).to.have.length(32);
      expect(c.features!.pushedAuthorizationRequests!.enabled).to.equal(false);
      expect(c.rotateRefreshToken).to.equal(true);
      expect((c.pkce!.required as () => boolean)()).to.equal(true);
      expect(c.ttl!.AuthorizationCode).to.equal(60);
    } finally {
      await db.destroy();
      await cleanup();
    }
  });
});
