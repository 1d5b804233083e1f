import { execFile } from 'node:child_process';
import { access, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { loadConfig, type Config, type LoadedConfig } from '#shared/config/index.js';
import { DEV_SECRETS_FILE, generate, newSigningKey } from '#shared/config/dev-secrets.js';
import {
  AUTH_SECRET,
  COOKIE_KEY_1,
  COOKIE_KEY_2,
  DATABASE_URL,
  expectConfigError,
  expectNoLeak,
  problem,
  problemKeys,
  productionEnv,
  sharedSigningKeys,
  tempDataDir,
} from './support.js';

type Jwk = Record<string, unknown>;

const execFileAsync = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

describe('shared/config loadConfig', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let SIGNING_KEYS: string;

  before(async () => {
    SIGNING_KEYS = await sharedSigningKeys();
  });

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDataDir());
  });

  afterEach(async () => {
    await cleanup();
  });

  /** Development load with all three secrets supplied (no key generation, fast). */
  const withSecrets = (env: Record<string, string>) =>
    loadConfig({ DATA_DIR: dir, AUTH_SECRET, COOKIE_KEYS: COOKIE_KEY_1, SIGNING_KEYS, ...env });

  describe('defaults', () => {
    it('fills every setting with its documented default in development', async () => {
      const { config } = await loadConfig({ DATA_DIR: dir });
      const { secrets, provenance, ...rest } = config;
      expect(rest).to.deep.equal({
        env: 'development',
        isProduction: false,
        logLevel: 'info',
        host: '127.0.0.1',
        dataDir: dir,
        authz: { port: 4000, issuer: 'http://localhost:4000', internalUrl: 'http://localhost:4000' },
        api: { port: 4001, audience: 'http://localhost:4001' },
        frontendOrigins: ['http://localhost:3000'],
        demoUi: true,
        http: { trustProxy: false, trustRequestId: false, bodyLimitBytes: 102400, shutdownTimeoutMs: 10000 },
        db: { client: 'sqlite', filename: path.join(dir, 'portcullis.sqlite'), acquireTimeoutMs: 5000, migrateOnStart: true },
        cache: { backend: 'memory' },
        bus: { cacheMaxAgeMs: 60_000, streamMaxLength: 100_000 },
        tokens: {
          authCodeTtlS: 60,
          accessTokenTtlS: 600,
          idTokenTtlS: 3600,
          refreshIdleTtlS: 1209600,
          refreshAbsoluteTtlS: 2592000,
          deviceCodeTtlS: 600,
          refreshRetryWindowS: 5,
          apiTokenSigningAlg: 'ES256',
        },
        session: { ttlS: 43200, idleTtlS: 3600 },
        stripe: { secretKey: undefined, webhookSecret: undefined, apiUrl: undefined },
        webhooks: { worker: true, concurrency: 4, pollMs: 1000, leaseMs: 30000, maxAttempts: 8, retryBaseMs: 1000 },
        posthog: undefined,
        mail: { smtpUrl: undefined, from: 'Portcullis <no-reply@localhost>', disabled: false },
        moderation: { url: undefined, timeoutMs: 2000, failOpen: false },
        rateLimitMultiplier: 1,
        agents: {
          scopes: ['openid', 'offline_access', 'profile', 'email', 'listings:read', 'reviews:write', 'checkout:create', 'usage:report', 'usage:read'],
          registration: { mode: 'open', initialAccessToken: undefined, unusedDays: 30 },
          metadataDocuments: { enabled: true, allowLoopback: false },
        },
        audit: { retentionDays: 365 },
        metricsToken: undefined,
      });
      expect(provenance).to.deep.equal({ generated: ['AUTH_SECRET', 'COOKIE_KEYS', 'SIGNING_KEYS'], fromSecretsManager: [] });
      expect(secrets.authSecret).to.be.a('string').with.length.of.at.least(32);
      expect(secrets.cookieKeys).to.have.length(1);
      expect(secrets.signingKeys.keys.map((k) => k.kty)).to.have.members(['RSA', 'EC']);
    });

    it('derives the default issuer and audience from AUTHZ_PORT and API_PORT', async () => {
      const { config } = await withSecrets({ AUTHZ_PORT: '5100', API_PORT: '5101' });
      expect(config.authz).to.deep.equal({ port: 5100, issuer: 'http://localhost:5100', internalUrl: 'http://localhost:5100' });
      expect(config.api).to.deep.equal({ port: 5101, audience: 'http://localhost:5101' });
    });

    it('treats empty and whitespace-only values as unset', async () => {
      const { config } = await withSecrets({ AUTHZ_PORT: '', API_PORT: '   ', ISSUER_URL: ' ', REDIS_URL: '', NODE_ENV: '' });
      expect(config.env).to.equal('development');
      expect(config.authz).to.deep.equal({ port: 4000, issuer: 'http://localhost:4000', internalUrl: 'http://localhost:4000' });
      expect(config.api).to.deep.equal({ port: 4001, audience: 'http://localhost:4001' });
      expect(config.cache).to.deep.equal({ backend: 'memory' });
    });

    it('ignores environment variables that are not settings', async () => {
      const { config } = await withSecrets({ PATH: '/usr/bin', HOME: '/root', PORCULLIS_TYPO: 'x' });
      expect(config.authz.port).to.equal(4000);
    });
  });

  describe('explicit values', () => {
    it('parses, trims and normalises every setting', async () => {
      const { config } = await withSecrets({
        NODE_ENV: 'test',
        LOG_LEVEL: 'debug',
        HOST: '0.0.0.0',
        AUTHZ_PORT: ' 8080 ',
        API_PORT: '8081',
        ISSUER_URL: 'https://auth.example.com/',
        API_AUDIENCE: 'https://api.example.com',
        FRONTEND_URL: ' https://app.example.com/some/path?x=1 , http://localhost:5173,, ',
        TRUST_PROXY: 'yes',
        TRUST_REQUEST_ID: '1',
        BODY_LIMIT_BYTES: '2048',
        SHUTDOWN_TIMEOUT_MS: '500',
        DATABASE_URL: 'postgresql://u:p@db.example:5432/pc',
        DB_POOL_MIN: '2',
        DB_POOL_MAX: '20',
        DB_ACQUIRE_TIMEOUT_MS: '1000',
        DB_STATEMENT_TIMEOUT_MS: '0',
        DB_MIGRATE_ON_START: 'false',
        REDIS_URL: 'rediss://cache.example:6380/0',
        REDIS_KEY_PREFIX: 'pc:',
        REDIS_COMMAND_TIMEOUT_MS: '250',
        REDIS_CONNECT_TIMEOUT_MS: '750',
        BUS_CACHE_MAX_AGE_S: '0',
        BUS_STREAM_MAX_LENGTH: '5000',
        AUTH_CODE_TTL_S: '30',
        ACCESS_TOKEN_TTL_S: '300',
        ID_TOKEN_TTL_S: '900',
        REFRESH_TOKEN_IDLE_TTL_S: '86400',
        REFRESH_TOKEN_ABSOLUTE_TTL_S: '604800',
        SESSION_TTL_S: '7200',
        DEVICE_CODE_TTL_S: '300',
        REFRESH_RETRY_WINDOW_S: '0',
        API_TOKEN_SIGNING_ALG: 'RS256',
        SESSION_IDLE_TTL_S: '600',
        STRIPE_SECRET_KEY: 'sk_test_123',
        STRIPE_WEBHOOK_SECRET: 'whsec_456',
        STRIPE_API_URL: 'http://127.0.0.1:12111',
        STRIPE_WEBHOOK_WORKER: 'false',
        STRIPE_WEBHOOK_CONCURRENCY: '2',
        STRIPE_WEBHOOK_POLL_MS: '250',
        STRIPE_WEBHOOK_LEASE_MS: '60000',
        STRIPE_WEBHOOK_MAX_ATTEMPTS: '5',
        STRIPE_WEBHOOK_RETRY_BASE_MS: '2000',
        POSTHOG_API_KEY: 'phc_abc',
        POSTHOG_HOST: 'https://eu.i.posthog.com',
        POSTHOG_MAX_QUEUE: '500',
        SMTP_URL: 'smtps://mailer:pw@smtp.example:465',
        MAIL_FROM: 'Market <auth@example.com>',
        MODERATION_URL: 'https://moderation.example/check',
        MODERATION_TIMEOUT_MS: '500',
        MODERATION_FAIL_OPEN: 'true',
        RATE_LIMIT_MULTIPLIER: '10',
        AUDIT_RETENTION_DAYS: '30',
        AGENT_SCOPES: ' openid , listings:read,',
        REGISTRATION_MODE: 'closed',
        REGISTRATION_INITIAL_ACCESS_TOKEN: 'iat-0123456789abcdef0123456789abcdef',
        DYNAMIC_CLIENT_UNUSED_DAYS: '7',
        CLIENT_METADATA_DOCUMENTS: 'false',
        CLIENT_METADATA_ALLOW_LOOPBACK: 'true',
      });
      const { secrets, provenance, ...rest } = config;
      expect(rest).to.deep.equal({
        env: 'test',
        isProduction: false,
        logLevel: 'debug',
        host: '0.0.0.0',
        dataDir: dir,
        authz: { port: 8080, issuer: 'https://auth.example.com', internalUrl: 'https://auth.example.com' },
        api: { port: 8081, audience: 'https://api.example.com' },
        frontendOrigins: ['https://app.example.com', 'http://localhost:5173'],
        demoUi: true,
        http: { trustProxy: true, trustRequestId: true, bodyLimitBytes: 2048, shutdownTimeoutMs: 500 },
        db: {
          client: 'pg',
          url: 'postgresql://u:p@db.example:5432/pc',
          pool: { min: 2, max: 20 },
          acquireTimeoutMs: 1000,
          statementTimeoutMs: 0,
          migrateOnStart: false,
        },
        cache: { backend: 'redis', url: 'rediss://cache.example:6380/0', keyPrefix: 'pc:', commandTimeoutMs: 250, connectTimeoutMs: 750 },
        bus: { cacheMaxAgeMs: 0, streamMaxLength: 5000 },
        tokens: { authCodeTtlS: 30, accessTokenTtlS: 300, idTokenTtlS: 900, refreshIdleTtlS: 86400, refreshAbsoluteTtlS: 604800, deviceCodeTtlS: 300, refreshRetryWindowS: 0, apiTokenSigningAlg: 'RS256' },
        session: { ttlS: 7200, idleTtlS: 600 },
        stripe: { secretKey: 'sk_test_123', webhookSecret: 'whsec_456', apiUrl: 'http://127.0.0.1:12111' },
        webhooks: { worker: false, concurrency: 2, pollMs: 250, leaseMs: 60000, maxAttempts: 5, retryBaseMs: 2000 },
        posthog: { apiKey: 'phc_abc', host: 'https://eu.i.posthog.com', maxQueueSize: 500 },
        mail: { smtpUrl: 'smtps://mailer:pw@smtp.example:465', from: 'Market <auth@example.com>', disabled: false },
        moderation: { url: 'https://moderation.example/check', timeoutMs: 500, failOpen: true },
        rateLimitMultiplier: 10,
        agents: {
          scopes: ['openid', 'listings:read'],
          registration: { mode: 'closed', initialAccessToken: 'iat-0123456789abcdef0123456789abcdef', unusedDays: 7 },
          metadataDocuments: { enabled: false, allowLoopback: true },
        },
        audit: { retentionDays: 30 },
        metricsToken: undefined,
      });
      expect(secrets.authSecret).to.equal(AUTH_SECRET);
      expect(secrets.cookieKeys).to.deep.equal([COOKIE_KEY_1]);
      expect(secrets.signingKeys).to.deep.equal(JSON.parse(SIGNING_KEYS));
      expect(provenance).to.deep.equal({ generated: [], fromSecretsManager: [] });
    });

    it('parses COOKIE_KEYS as a comma-separated list, newest first', async () => {
      const { config } = await withSecrets({ COOKIE_KEYS: ` ${COOKIE_KEY_2} ,${COOKIE_KEY_1},` });
      expect(config.secrets.cookieKeys).to.deep.equal([COOKIE_KEY_2, COOKIE_KEY_1]);
    });

    for (const [text, value] of [
      ['true', true],
      ['1', true],
      ['yes', true],
      ['false', false],
      ['0', false],
      ['no', false],
    ] as const) {
      it(`reads boolean ${JSON.stringify(text)} as ${value}`, async () => {
        const { config } = await withSecrets({ TRUST_PROXY: text, DB_MIGRATE_ON_START: text });
        expect(config.http.trustProxy).to.equal(value);
        expect(config.db.migrateOnStart).to.equal(value);
      });
    }
  });

  describe('malformed values', () => {
    const cases: [key: string, value: string, message: string][] = [
      ['AUTHZ_PORT', 'abc', 'expected a whole number'],
      ['AUTHZ_PORT', '70000', 'must be at most 65535'],
      ['AUTHZ_PORT', '-1', 'must be at least 0'],
      ['API_PORT', '4000.5', 'expected a whole number'],
      ['ISSUER_URL', 'not-a-url', 'expected an http(s) URL'],
      ['ISSUER_URL', 'ftp://auth.example.com', 'expected an http(s) URL'],
      ['API_AUDIENCE', 'api.example.com', 'expected an http(s) URL'],
      ['REDIS_URL', 'http://x', 'expected a redis:// or rediss:// URL'],
      ['DATABASE_URL', 'mysql://user:pw@h/db', 'expected a postgres:// URL'],
      ['TRUST_PROXY', 'maybe', 'expected true or false'],
      ['NODE_ENV', 'staging', 'Invalid option: expected one of "development"|"test"|"production"'],
      ['DB_POOL_MAX', '0', 'must be at least 1'],
      ['BODY_LIMIT_BYTES', '10', 'must be at least 1024'],
      ['COOKIE_KEYS', `${'k'.repeat(40)},short`, 'must be at least 32 characters'],
      ['AUTH_SECRET', 'too-short', 'must be at least 32 characters'],
      ['STRIPE_SECRET_KEY', 'pk_live_123', 'expected a Stripe secret key (sk_… or rk_…)'],
      ['STRIPE_WEBHOOK_SECRET', 'secret_123', 'expected a webhook signing secret (whsec_…)'],
      ['SMTP_URL', 'http://mail.example', 'expected an smtp:// or smtps:// URL'],
      ['AWS_REGION', 'US EAST 1', 'expected an AWS region name'],
    ];
    for (const [key, value, message] of cases) {
      it(`rejects ${key}=${JSON.stringify(value)} naming ${key}`, async () => {
        const err = await expectConfigError(loadConfig({ DATA_DIR: dir, [key]: value }));
        expect(err.problems).to.deep.equal([{ key, message }]);
      });
    }

    for (const value of ['https://app.example.com, not-a-url', 'ftp://files.example.com']) {
      it(`rejects FRONTEND_URL=${JSON.stringify(value)} (an entry that is not an http(s) origin)`, async () => {
        const err = await expectConfigError(loadConfig({ DATA_DIR: dir, FRONTEND_URL: value }));
        expect(err.problems).to.deep.equal([{ key: 'FRONTEND_URL', message: 'each entry must be an http(s) origin' }]);
      });
    }

    it('rejects a FRONTEND_URL list with no entries', async () => {
      const err = await expectConfigError(loadConfig({ DATA_DIR: dir, FRONTEND_URL: ' , ,' }));
      expect(err.problems).to.deep.equal([{ key: 'FRONTEND_URL', message: 'needs at least one origin' }]);
    });

    it('reports every problem together, in setting order, and writes no development secrets', async () => {
      const err = await expectConfigError(
        loadConfig({ DATA_DIR: dir, REDIS_URL: 'http://x', ISSUER_URL: 'not-a-url', AUTHZ_PORT: 'abc', SIGNING_KEYS: 'nope' }),
      );
      expect(err.problems).to.deep.equal([
        { key: 'AUTHZ_PORT', message: 'expected a whole number' },
        { key: 'ISSUER_URL', message: 'expected an http(s) URL' },
        { key: 'REDIS_URL', message: 'expected a redis:// or rediss:// URL' },
        { key: 'SIGNING_KEYS', message: 'expected a JSON object {"keys":[…]}' },
      ]);
      expect(err.message.split('\n')[0]).to.equal('Invalid configuration:');
      expect(await exists(path.join(dir, DEV_SECRETS_FILE))).to.equal(false);
    });
  });

  describe('immutability', () => {
    it('returns a deeply frozen config', async () => {
      const { config } = await loadConfig({ DATA_DIR: dir, FRONTEND_URL: 'http://a.example,http://b.example' });
      const nested: unknown[] = [
        config,
        config.authz,
        config.api,
        config.http,
        config.db,
        config.cache,
        config.secrets,
        config.secrets.cookieKeys,
        config.secrets.signingKeys,
        config.secrets.signingKeys.keys,
        ...config.secrets.signingKeys.keys,
        config.frontendOrigins,
        config.tokens,
        config.session,
        config.stripe,
        config.mail,
        config.provenance,
        config.provenance.generated,
        config.provenance.fromSecretsManager,
      ];
      for (const o of nested) expect(Object.isFrozen(o), JSON.stringify(o)?.slice(0, 60)).to.equal(true);

      const mutable = config as unknown as {
        authz: { port: number };
        frontendOrigins: string[];
        secrets: { signingKeys: { keys: Jwk[] } };
      };
      expect(() => {
        mutable.authz.port = 1;
      }).to.throw(TypeError);
      expect(() => mutable.frontendOrigins.push('https://evil.example')).to.throw(TypeError);
      expect(() => {
        mutable.secrets.signingKeys.keys[0]!.kid = 'swapped';
      }).to.throw(TypeError);
      expect(config.authz.port).to.equal(4000);
      expect(config.frontendOrigins).to.deep.equal(['http://a.example', 'http://b.example']);
    });
  });

  describe('production', () => {
    it('loads a complete production environment without generating anything', async () => {
      const { config, notices } = await loadConfig(await productionEnv(dir));
      expect(config.env).to.equal('production');
      expect(config.isProduction).to.equal(true);
      expect(config.authz.issuer).to.equal('https://auth.example.com');
      expect(config.api.audience).to.equal('https://api.example.com');
      expect(config.db).to.deep.equal({
        client: 'pg',
        url: DATABASE_URL,
        pool: { min: 0, max: 10 },
        acquireTimeoutMs: 5000,
        statementTimeoutMs: 10000,
        migrateOnStart: false,
      });
      expect(config.secrets.authSecret).to.equal(AUTH_SECRET);
      expect(config.secrets.cookieKeys).to.deep.equal([COOKIE_KEY_1, COOKIE_KEY_2]);
      expect(config.provenance).to.deep.equal({ generated: [], fromSecretsManager: [] });
      expect(notices).to.deep.equal([]);
      expect(await exists(path.join(dir, DEV_SECRETS_FILE))).to.equal(false);
    });

    it('refuses to start without its secrets and database, naming each', async () => {
      const err = await expectConfigError(loadConfig({ NODE_ENV: 'production', DATA_DIR: dir }));
      for (const key of ['AUTH_SECRET', 'COOKIE_KEYS', 'SIGNING_KEYS', 'DATABASE_URL']) {
        expect(problem(err, key), key).to.deep.equal({ key, message: 'is required in production' });
      }
      expect(await exists(path.join(dir, DEV_SECRETS_FILE))).to.equal(false);
    });

    it('with nothing set, names exactly AUTH_SECRET, COOKIE_KEYS, SIGNING_KEYS, DATABASE_URL, ISSUER_URL, API_AUDIENCE and SMTP_URL', async () => {
      const err = await expectConfigError(loadConfig({ NODE_ENV: 'production', DATA_DIR: dir }));
      expect(problemKeys(err)).to.have.members([
        'SMTP_URL',
        'AUTH_SECRET',
        'COOKIE_KEYS',
        'SIGNING_KEYS',
        'DATABASE_URL',
        'ISSUER_URL',
        'API_AUDIENCE',
      ]);
    });

    for (const key of ['AUTH_SECRET', 'COOKIE_KEYS', 'SIGNING_KEYS', 'DATABASE_URL', 'ISSUER_URL', 'API_AUDIENCE']) {
      it(`names ${key} alone when only ${key} is missing`, async () => {
        const env = await productionEnv(dir);
        delete env[key];
        const err = await expectConfigError(loadConfig(env));
        expect(err.problems).to.deep.equal([{ key, message: 'is required in production' }]);
      });
    }

    it('requires STRIPE_WEBHOOK_SECRET when STRIPE_SECRET_KEY is set', async () => {
      const env = { ...(await productionEnv(dir)), STRIPE_SECRET_KEY: 'sk_live_abc' };
      const err = await expectConfigError(loadConfig(env));
      expect(err.problems).to.deep.equal([
        { key: 'STRIPE_WEBHOOK_SECRET', message: 'is required in production when STRIPE_SECRET_KEY is set' },
      ]);
      const { config } = await loadConfig({ ...env, STRIPE_WEBHOOK_SECRET: 'whsec_abc' });
      expect(config.stripe).to.deep.equal({ secretKey: 'sk_live_abc', webhookSecret: 'whsec_abc', apiUrl: undefined });
    });

    it('refuses production without mail unless it is switched off on purpose (never a silent outbox file)', async () => {
      const { SMTP_URL: _smtp, ...env } = await productionEnv(dir);
      const err = await expectConfigError(loadConfig(env));
      expect(err.problems).to.deep.equal([{ key: 'SMTP_URL', message: 'is required in production (or set MAIL_DISABLED=true to run without mail)' }]);
      const off = await loadConfig({ ...env, MAIL_DISABLED: 'true' });
      expect(off.config.mail).to.deep.include({ smtpUrl: undefined, disabled: true });
      const smtp = await loadConfig({ ...env, SMTP_URL: 'smtps://mail.example.com:465' });
      expect(smtp.config.mail).to.deep.include({ smtpUrl: 'smtps://mail.example.com:465', disabled: false });
      // Development keeps its outbox without either.
      expect((await withSecrets({})).config.mail).to.deep.include({ smtpUrl: undefined, disabled: false });
    });

    it('refuses the loopback allowance for client metadata documents in production', async () => {
      const env = { ...(await productionEnv(dir)), CLIENT_METADATA_ALLOW_LOOPBACK: 'true' };
      const err = await expectConfigError(loadConfig(env));
      expect(err.problems).to.deep.equal([
        { key: 'CLIENT_METADATA_ALLOW_LOOPBACK', message: 'must not be set in production (client metadata documents are fetched from public addresses only)' },
      ]);
    });

    it('refuses closed registration without its initial access token in production', async () => {
      const env = { ...(await productionEnv(dir)), REGISTRATION_MODE: 'closed' };
      const err = await expectConfigError(loadConfig(env));
      expect(err.problems).to.deep.equal([{ key: 'REGISTRATION_INITIAL_ACCESS_TOKEN', message: 'is required in production when REGISTRATION_MODE=closed' }]);
    });

    it('refuses an unknown agent scope, naming it', async () => {
      const err = await expectConfigError(loadConfig({ ...(await productionEnv(dir)), AGENT_SCOPES: 'openid,listings:admin' }));
      expect(err.problems).to.deep.equal([{ key: 'AGENT_SCOPES', message: 'unknown scope "listings:admin"' }]);
    });

    it('does not require STRIPE_WEBHOOK_SECRET outside production', async () => {
      const { config } = await withSecrets({ STRIPE_SECRET_KEY: 'sk_test_abc' });
      expect(config.stripe.secretKey).to.equal('sk_test_abc');
      expect(config.stripe.webhookSecret).to.equal(undefined);
    });

    for (const key of ['ISSUER_URL', 'API_AUDIENCE'] as const) {
      for (const url of ['http://auth.example.com', 'http://localhost.attacker.example', 'http://10.0.0.5:4000']) {
        it(`rejects ${key}=${url} (http on a non-loopback host)`, async () => {
          const env = { ...(await productionEnv(dir)), [key]: url };
          const err = await expectConfigError(loadConfig(env));
          expect(err.problems).to.deep.equal([{ key, message: 'must use https in production' }]);
        });
      }
    }

    for (const url of ['http://localhost:4000', 'http://127.0.0.1:4000', 'http://[::1]:4000']) {
      it(`accepts an http loopback issuer ${url}`, async () => {
        const { config } = await loadConfig({ ...(await productionEnv(dir)), ISSUER_URL: url });
        expect(config.authz.issuer).to.equal(url);
      });
    }

    it('defaults DB_MIGRATE_ON_START to false in production but honours an explicit true', async () => {
      const { config } = await loadConfig({ ...(await productionEnv(dir)), DB_MIGRATE_ON_START: 'true' });
      expect(config.db.migrateOnStart).to.equal(true);
    });
  });

  describe('secret values never appear in errors', () => {
    it('AUTH_SECRET too short', async () => {
      const err = await expectConfigError(loadConfig({ DATA_DIR: dir, AUTH_SECRET: 'hunter2-planted' }));
      expect(err.problems).to.deep.equal([{ key: 'AUTH_SECRET', message: 'must be at least 32 characters' }]);
      expectNoLeak(err, 'hunter2-planted', 'hunter2');
    });

    it('SIGNING_KEYS that is not JSON', async () => {
      const planted = '{"keys":[{"kty":"RSA","kid":"k1","d":"PLANTED-SIGNING-MARKER"';
      const err = await expectConfigError(loadConfig({ DATA_DIR: dir, SIGNING_KEYS: planted }));
      expect(err.problems).to.deep.equal([{ key: 'SIGNING_KEYS', message: 'expected a JSON object {"keys":[…]}' }]);
      expectNoLeak(err, 'PLANTED-SIGNING-MARKER');
    });

    it('SIGNING_KEYS that is JSON but not a valid key set', async () => {
      const planted = JSON.stringify({ keys: [{ kty: 'oct', kid: 'PLANTED-KID', k: 'PLANTED-SIGNING-MARKER', d: 'PLANTED-D' }] });
      const err = await expectConfigError(loadConfig({ DATA_DIR: dir, SIGNING_KEYS: planted }));
      expect(err.problems).to.deep.equal([{ key: 'SIGNING_KEYS', message: 'each key needs kty RSA or EC' }]);
      expectNoLeak(err, 'PLANTED');
    });

    it('DATABASE_URL with a password and the wrong scheme', async () => {
      const err = await expectConfigError(loadConfig({ DATA_DIR: dir, DATABASE_URL: 'mysql://user:PLANTEDpw@h/db' }));
      expect(err.problems).to.deep.equal([{ key: 'DATABASE_URL', message: 'expected a postgres:// URL' }]);
      expectNoLeak(err, 'PLANTEDpw');
    });

    it('all at once in production, alongside other problems', async () => {
      const err = await expectConfigError(
        loadConfig({
          NODE_ENV: 'production',
          DATA_DIR: dir,
          ISSUER_URL: 'https://auth.example.com',
          API_AUDIENCE: 'https://api.example.com',
          AUTH_SECRET: 'hunter2-planted',
          COOKIE_KEYS: 'PLANTED-cookie-1,PLANTED-cookie-2',
          SIGNING_KEYS: '["PLANTED-SIGNING-MARKER"]',
          DATABASE_URL: 'mysql://user:PLANTEDpw@h/db',
          REDIS_URL: 'http://:PLANTEDredis@cache',
          STRIPE_SECRET_KEY: 'pk_PLANTEDstripe',
          SMTP_URL: 'http://u:PLANTEDsmtp@mail',
        }),
      );
      expect(problemKeys(err)).to.have.members([
        'DATABASE_URL',
        'REDIS_URL',
        'AUTH_SECRET',
        'COOKIE_KEYS',
        'SIGNING_KEYS',
        'STRIPE_SECRET_KEY',
        'STRIPE_WEBHOOK_SECRET',
        'SMTP_URL',
      ]);
      expectNoLeak(err, 'hunter2', 'PLANTED');
    });
  });

  describe('SIGNING_KEYS', () => {
    const keySet = (keys: Jwk[]) => JSON.stringify({ keys });
    const load = (signingKeys: string) => withSecrets({ SIGNING_KEYS: signingKeys });

    it('uses explicit keys as given and does not generate or store any', async () => {
      const { config } = await load(SIGNING_KEYS);
      const given = (JSON.parse(SIGNING_KEYS) as { keys: Jwk[] }).keys;
      expect(config.secrets.signingKeys.keys.map((k) => k.kid)).to.deep.equal(given.map((k) => k.kid));
      expect(config.provenance.generated).to.deep.equal([]);
      expect(await exists(path.join(dir, DEV_SECRETS_FILE))).to.equal(false);
    });

    it('accepts a single RSA key without alg', async () => {
      const { alg: _alg, ...rsa } = await newSigningKey('RS256');
      const { config } = await load(keySet([rsa]));
      expect(config.secrets.signingKeys.keys).to.have.length(1);
    });

    it('rejects duplicate kids', async () => {
      const rsa = await newSigningKey('RS256');
      const ec = { ...(await newSigningKey('ES256')), kid: rsa.kid };
      const err = await expectConfigError(load(keySet([rsa, ec])));
      expect(err.problems).to.deep.equal([{ key: 'SIGNING_KEYS', message: 'kids must be unique' }]);
    });

    it('rejects public-only keys (no d), saying a private key is needed', async () => {
      const pub = (JSON.parse(SIGNING_KEYS) as { keys: Jwk[] }).keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest }) => rest);
      const err = await expectConfigError(load(keySet(pub)));
      expect(err.problems).to.deep.equal([{ key: 'SIGNING_KEYS', message: 'each key must be a private key (d)' }]);
    });

    it('rejects a key with an empty d', async () => {
      const rsa = { ...(await newSigningKey('RS256')), d: '' };
      const err = await expectConfigError(load(keySet([rsa])));
      expect(err.problems).to.deep.equal([{ key: 'SIGNING_KEYS', message: 'each key must be a private key (d)' }]);
    });

    it('rejects a set without an RSA key (OIDC requires RS256)', async () => {
      const err = await expectConfigError(load(keySet([await newSigningKey('ES256')])));
      expect(err.problems).to.deep.equal([{ key: 'SIGNING_KEYS', message: 'needs an RSA key usable for RS256' }]);
    });

    it('rejects a set whose only RSA key is for PS256', async () => {
      const ps = { ...(await newSigningKey('RS256')), alg: 'PS256' };
      const err = await expectConfigError(load(keySet([ps, await newSigningKey('ES256')])));
      expect(err.problems).to.deep.equal([{ key: 'SIGNING_KEYS', message: 'needs an RSA key usable for RS256' }]);
    });

    for (const [what, text, message] of [
      ['an empty key list', '{"keys":[]}', 'needs at least one key'],
      ['a key with kty oct', '{"keys":[{"kty":"oct","kid":"a","d":"x"}]}', 'each key needs kty RSA or EC'],
      ['a key with use enc', '{"keys":[{"kty":"RSA","kid":"a","d":"x","use":"enc"}]}', 'use must be sig'],
      ['a key with alg HS256', '{"keys":[{"kty":"RSA","kid":"a","d":"x","alg":"HS256"}]}', 'alg must be RS256, PS256 or ES256'],
      ['text that is not JSON', 'not json', 'expected a JSON object {"keys":[…]}'],
    ] as const) {
      it(`rejects ${what}`, async () => {
        const err = await expectConfigError(load(text));
        expect(err.problems).to.deep.equal([{ key: 'SIGNING_KEYS', message }]);
      });
    }
  });

  describe('development secrets', () => {
    const file = () => path.join(dir, DEV_SECRETS_FILE);
    type Stored = { AUTH_SECRET?: string; COOKIE_KEYS?: string; SIGNING_KEYS?: string };
    const readStored = async (): Promise<Stored> => JSON.parse(await readFile(file(), 'utf8')) as Stored;
    const secretsOf = (c: Config) => JSON.parse(JSON.stringify(c.secrets)) as unknown;

    it('generates the three secrets once into DATA_DIR/dev-secrets.json (mode 0600)', async () => {
      const { config, notices } = await loadConfig({ DATA_DIR: dir });
      const st = await stat(file());
      expect(st.mode & 0o777).to.equal(0o600);
      expect(await readdir(dir), 'no lock or temp file left behind').to.deep.equal([DEV_SECRETS_FILE]);
      const stored = await readStored();
      expect(Object.keys(stored).sort()).to.deep.equal(['AUTH_SECRET', 'COOKIE_KEYS', 'SIGNING_KEYS']);
      expect(config.secrets.authSecret).to.equal(stored.AUTH_SECRET);
      expect(config.secrets.cookieKeys).to.deep.equal([stored.COOKIE_KEYS]);
      expect(config.secrets.signingKeys).to.deep.equal(JSON.parse(stored.SIGNING_KEYS!));
      const keys = config.secrets.signingKeys.keys;
      expect(keys.map((k) => [k.kty, k.alg])).to.deep.equal([
        ['RSA', 'RS256'],
        ['EC', 'ES256'],
      ]);
      for (const k of keys) expect(k.d, 'private').to.be.a('string');
      expect(new Set(keys.map((k) => k.kid)).size).to.equal(2);
      expect(config.provenance.generated).to.deep.equal(['AUTH_SECRET', 'COOKIE_KEYS', 'SIGNING_KEYS']);
      expect(notices).to.have.length(1);
      expect(notices[0]).to.include('development secrets in use for AUTH_SECRET, COOKIE_KEYS, SIGNING_KEYS');
      for (const v of [stored.AUTH_SECRET!, stored.COOKIE_KEYS!]) expect(notices[0]).to.not.include(v);
    });

    it('reuses the stored secrets on the next load (same values, file unchanged)', async () => {
      const first = await loadConfig({ DATA_DIR: dir });
      const before = await readFile(file(), 'utf8');
      const second = await loadConfig({ DATA_DIR: dir });
      expect(secretsOf(second.config)).to.deep.equal(secretsOf(first.config));
      expect(await readFile(file(), 'utf8')).to.equal(before);
      expect(second.config.provenance.generated).to.deep.equal(['AUTH_SECRET', 'COOKIE_KEYS', 'SIGNING_KEYS']);
    });

    it('creates a DATA_DIR that does not exist yet', async () => {
      const nested = path.join(dir, 'a', 'b');
      const { config } = await loadConfig({ DATA_DIR: nested, SIGNING_KEYS });
      expect(config.dataDir).to.equal(nested);
      expect(await exists(path.join(nested, DEV_SECRETS_FILE))).to.equal(true);
    });

    it('generates only what is not configured, and never stores explicit values', async () => {
      const { config } = await loadConfig({ DATA_DIR: dir, AUTH_SECRET });
      expect(config.secrets.authSecret).to.equal(AUTH_SECRET);
      expect(config.provenance.generated).to.deep.equal(['COOKIE_KEYS', 'SIGNING_KEYS']);
      const stored = await readStored();
      expect(Object.keys(stored).sort()).to.deep.equal(['COOKIE_KEYS', 'SIGNING_KEYS']);
      expect(await readFile(file(), 'utf8')).to.not.include(AUTH_SECRET);
    });

    it('writes nothing when all three are configured', async () => {
      const { config, notices } = await withSecrets({});
      expect(config.provenance.generated).to.deep.equal([]);
      expect(notices).to.deep.equal([]);
      expect(await exists(file())).to.equal(false);
    });

    it('keeps stored values and adds missing ones to a partial file', async () => {
      const storedSecret = 'stored-auth-secret-0123456789abcdefghij';
      await writeFile(file(), JSON.stringify({ AUTH_SECRET: storedSecret }), { mode: 0o600 });
      const { config } = await loadConfig({ DATA_DIR: dir, SIGNING_KEYS });
      expect(config.secrets.authSecret).to.equal(storedSecret);
      const stored = await readStored();
      expect(stored.AUTH_SECRET).to.equal(storedSecret);
      expect(config.secrets.cookieKeys).to.deep.equal([stored.COOKIE_KEYS]);
      expect((await stat(file())).mode & 0o777).to.equal(0o600);
    });

    it('two concurrent first loads agree on the same values', async () => {
      const [a, b] = await Promise.all([loadConfig({ DATA_DIR: dir }), loadConfig({ DATA_DIR: dir })]);
      expect(secretsOf(b.config)).to.deep.equal(secretsOf(a.config));
      expect(a.config.secrets.authSecret).to.equal((await readStored()).AUTH_SECRET);
    });

    it('concurrent first loads agree on the same values, every time (fast generation, repeated)', async () => {
      for (let round = 0; round < 10; round++) {
        const roundDir = path.join(dir, `round-${round}`);
        const results: LoadedConfig[] = await Promise.all([
          loadConfig({ DATA_DIR: roundDir, SIGNING_KEYS }),
          loadConfig({ DATA_DIR: roundDir, SIGNING_KEYS }),
        ]);
        const stored = JSON.parse(await readFile(path.join(roundDir, DEV_SECRETS_FILE), 'utf8')) as Stored;
        for (const r of results) {
          expect(r.config.secrets.authSecret, `round ${round}`).to.equal(stored.AUTH_SECRET);
          expect(r.config.secrets.cookieKeys, `round ${round}`).to.deep.equal([stored.COOKIE_KEYS]);
        }
      }
    });

    it('concurrent loads that complete a partial file agree on the same values', async () => {
      await writeFile(file(), JSON.stringify({ SIGNING_KEYS: await generate('SIGNING_KEYS') }), { mode: 0o600 });
      const results = await Promise.all([loadConfig({ DATA_DIR: dir }), loadConfig({ DATA_DIR: dir })]);
      const stored = await readStored();
      for (const r of results) {
        expect(r.config.secrets.authSecret).to.equal(stored.AUTH_SECRET);
        expect(r.config.secrets.cookieKeys).to.deep.equal([stored.COOKIE_KEYS]);
      }
    });

    it('rejects an invalid stored secret with a ConfigError naming it (never a half-built config)', async () => {
      await writeFile(file(), JSON.stringify({ AUTH_SECRET: 'short', COOKIE_KEYS: 'x', SIGNING_KEYS: '{"keys":[]}' }), {
        mode: 0o600,
      });
      const err = await expectConfigError(loadConfig({ DATA_DIR: dir }));
      expect(err.problems).to.deep.equal([
        { key: 'AUTH_SECRET', message: `in ${DEV_SECRETS_FILE}: must be at least 32 characters` },
        { key: 'COOKIE_KEYS', message: `in ${DEV_SECRETS_FILE}: must be at least 32 characters` },
        { key: 'SIGNING_KEYS', message: `in ${DEV_SECRETS_FILE}: needs at least one key` },
      ]);
    });

    it('rejects a stored secret of the wrong type', async () => {
      await writeFile(file(), JSON.stringify({ AUTH_SECRET: 12345 }), { mode: 0o600 });
      const err = await expectConfigError(loadConfig({ DATA_DIR: dir, COOKIE_KEYS: COOKIE_KEY_1, SIGNING_KEYS }));
      expect(problemKeys(err)).to.deep.equal(['AUTH_SECRET']);
    });

    for (const [what, content] of [
      ['not JSON', 'PLANTED{not json'],
      ['JSON null', 'null'],
      ['a JSON array', '["PLANTED"]'],
    ] as const) {
      it(`rejects a dev-secrets.json that is ${what}, naming DATA_DIR, without echoing its content`, async () => {
        await writeFile(file(), content, { mode: 0o600 });
        const err = await expectConfigError(loadConfig({ DATA_DIR: dir }));
        expect(err.problems).to.deep.equal([
          { key: 'DATA_DIR', message: `${DEV_SECRETS_FILE} is not a JSON object; remove it to regenerate development secrets` },
        ]);
        expectNoLeak(err, 'PLANTED');
      });
    }

    it('two separate processes starting at once agree on the same values', async function () {
      this.timeout(60_000);
      const fixture = path.join(import.meta.dirname, 'fixtures', 'load-dev-config.ts');
      const run = () =>
        execFileAsync(process.execPath, ['--conditions=source', '--import', 'tsx', fixture, dir, SIGNING_KEYS], {
          cwd: repoRoot,
        }).then(({ stdout }) => JSON.parse(stdout) as { authSecret: string; cookieKeys: string[] });
      const [a, b] = await Promise.all([run(), run()]);
      const stored = await readStored();
      expect(a.authSecret).to.equal(stored.AUTH_SECRET);
      expect(b.authSecret).to.equal(stored.AUTH_SECRET);
      expect(a.cookieKeys).to.deep.equal([stored.COOKIE_KEYS]);
      expect(b.cookieKeys).to.deep.equal([stored.COOKIE_KEYS]);
    });

    it('is not blocked forever by a lock file left behind by a crashed process', async () => {
      const lockFile = `${file()}.lock`;
      await writeFile(lockFile, '');
      const old = new Date(Date.now() - 5 * 60_000);
      await utimes(lockFile, old, old);
      const { config } = await loadConfig({ DATA_DIR: dir, SIGNING_KEYS });
      expect(config.secrets.authSecret).to.equal((await readStored()).AUTH_SECRET);
      expect(await exists(lockFile)).to.equal(false);
    });
  });
});
