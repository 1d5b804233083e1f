import { expect } from 'chai';
import { loadConfig } from '#shared/config/index.js';
import { newSigningKey } from '#shared/config/dev-secrets.js';
import { expectConfigError, sharedSigningKeys, tempDataDir } from './support.js';

describe('shared/config loadConfig — number and consistency rules', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDataDir()));
  afterEach(() => cleanup());
  const load = async (env: Record<string, string>) =>
    loadConfig({ DATA_DIR: dir, SIGNING_KEYS: await sharedSigningKeys(), ...env });

  for (const value of ['0x10', '1e3', '4000.5', ' 12 x']) {
    it(`reads only decimal whole numbers: AUTHZ_PORT="${value}" is refused`, async () => {
      const err = await expectConfigError(load({ AUTHZ_PORT: value }));
      expect(err.problems).to.deep.equal([{ key: 'AUTHZ_PORT', message: 'expected a whole number' }]);
    });
  }

  it('refuses a pool minimum above the maximum', async () => {
    const err = await expectConfigError(load({ DB_POOL_MIN: '20', DB_POOL_MAX: '5' }));
    expect(err.problems).to.deep.equal([{ key: 'DB_POOL_MIN', message: 'must not exceed DB_POOL_MAX' }]);
  });

  it('refuses idle lifetimes longer than the absolute ones (compared with defaults too)', async () => {
    const err = await expectConfigError(load({ REFRESH_TOKEN_IDLE_TTL_S: '3000000', SESSION_IDLE_TTL_S: '50000' }));
    expect(err.problems).to.deep.equal([
      { key: 'REFRESH_TOKEN_IDLE_TTL_S', message: 'must not exceed REFRESH_TOKEN_ABSOLUTE_TTL_S' },
      { key: 'SESSION_IDLE_TTL_S', message: 'must not exceed SESSION_TTL_S' },
    ]);
  });

  it('accepts equal idle and absolute lifetimes', async () => {
    const { config } = await load({ SESSION_IDLE_TTL_S: '43200' });
    expect(config.session).to.deep.equal({ ttlS: 43200, idleTtlS: 43200 });
  });

  it('refuses an EC signing key that is not P-256, and an RSA key labelled ES256', async () => {
    const rsa = await newSigningKey('RS256');
    const p384 = { ...(await newSigningKey('ES256')), crv: 'P-384' };
    let err = await expectConfigError(load({ SIGNING_KEYS: JSON.stringify({ keys: [rsa, p384] }) }));
    expect(err.problems).to.deep.equal([{ key: 'SIGNING_KEYS', message: 'EC keys must be P-256 for ES256' }]);
    err = await expectConfigError(load({ SIGNING_KEYS: JSON.stringify({ keys: [rsa, { ...rsa, kid: 'other', alg: 'ES256' }] }) }));
    expect(err.problems).to.deep.equal([{ key: 'SIGNING_KEYS', message: 'an RSA key cannot be used for ES256' }]);
  });
});

describe('shared/config loadConfig — AUTHZ_INTERNAL_URL', () => {
  it('defaults to the issuer and can point elsewhere (a compose network name)', async () => {
    const { dir, cleanup } = await tempDataDir();
    try {
      const signing = await sharedSigningKeys();
      const plain = await loadConfig({ DATA_DIR: dir, SIGNING_KEYS: signing, ISSUER_URL: 'https://auth.example.com/' });
      expect(plain.config.authz.internalUrl).to.equal('https://auth.example.com');
      const inner = await loadConfig({ DATA_DIR: dir, SIGNING_KEYS: signing, ISSUER_URL: 'https://auth.example.com', AUTHZ_INTERNAL_URL: 'http://authz-server:4000/' });
      expect(inner.config.authz).to.deep.include({ issuer: 'https://auth.example.com', internalUrl: 'http://authz-server:4000' });
      const err = await expectConfigError(loadConfig({ DATA_DIR: dir, SIGNING_KEYS: signing, AUTHZ_INTERNAL_URL: 'ftp://x' }));
      expect(err.problems).to.deep.equal([{ key: 'AUTHZ_INTERNAL_URL', message: 'expected an http(s) URL' }]);
    } finally {
      await cleanup();
    }
  });
});

describe('shared/config settings table: one source of defaults', () => {
  it('every documented default that is a value parses with its own schema and is the loader\'s default', async () => {
    const { settingDefaults, settings, settingNames } = await import('#shared/config/settings.js');
    const rules = settingNames.filter((n) => settings[n].default !== '—' && !Object.hasOwn(settingDefaults, n));
    // The only documented defaults that are rules, computed by the loader where the rule says.
    expect(rules.sort()).to.deep.equal(['API_AUDIENCE', 'AUTHZ_INTERNAL_URL', 'AUTH_SECRET', 'COOKIE_KEYS', 'DB_MIGRATE_ON_START', 'ISSUER_URL', 'SIGNING_KEYS']);
    expect(settingDefaults.ACCESS_TOKEN_TTL_S).to.equal(600);
    expect(settingDefaults.FRONTEND_URL).to.deep.equal(['http://localhost:3000']);
    expect(settingDefaults.TRUST_PROXY).to.equal(false);
  });
});
