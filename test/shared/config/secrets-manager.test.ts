import { access } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig, type LoadOptions } from '#shared/config/index.js';
import { DEV_SECRETS_FILE } from '#shared/config/dev-secrets.js';
import { fakeSecretArn, startFakeSecretsManager, type FakeSecretsManager } from '../../helpers/fake-secrets-manager.js';
import {
  AUTH_SECRET,
  COOKIE_KEY_1,
  COOKIE_KEY_2,
  DATABASE_URL,
  expectConfigError,
  expectNoLeak,
  sharedSigningKeys,
  tempDataDir,
} from './support.js';

const KEY = 'SECRETS_MANAGER_SECRET_ID';
const MARKER = 'PLANTED-SM-MARKER';
const options: LoadOptions = { secretsManagerCredentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'test' } };

describe('shared/config loadConfig with AWS Secrets Manager (fake server, real SDK)', () => {
  let sm: FakeSecretsManager;
  let SIGNING_KEYS: string;
  let dir: string;
  let cleanup: () => Promise<void>;

  const smEnv = (secretId: string, extra: Record<string, string> = {}) => ({
    DATA_DIR: dir,
    AWS_REGION: 'us-east-1',
    SECRETS_MANAGER_ENDPOINT: sm.endpoint,
    SECRETS_MANAGER_SECRET_ID: secretId,
    ...extra,
  });
  const production = {
    NODE_ENV: 'production',
    ISSUER_URL: 'https://auth.example.com',
    API_AUDIENCE: 'https://api.example.com',
    MAIL_DISABLED: 'true',
  };

  before(async () => {
    SIGNING_KEYS = await sharedSigningKeys();
    const full = {
      AUTH_SECRET,
      COOKIE_KEYS: `${COOKIE_KEY_1},${COOKIE_KEY_2}`,
      SIGNING_KEYS,
      DATABASE_URL,
      STRIPE_SECRET_KEY: 'sk_live_fromsecret',
      STRIPE_WEBHOOK_SECRET: 'whsec_fromsecret',
    };
    sm = await startFakeSecretsManager({
      secrets: {
        'portcullis/prod': JSON.stringify(full),
        'portcullis/extra': JSON.stringify({ AUTH_SECRET, NOT_A_SETTING: MARKER, constructor: MARKER, toString: MARKER }),
        'portcullis/proto': `{"AUTH_SECRET":${JSON.stringify(AUTH_SECRET)},"__proto__":${JSON.stringify(MARKER)}}`,
        'portcullis/object-keys': JSON.stringify({ SIGNING_KEYS: JSON.parse(SIGNING_KEYS) }),
        'portcullis/scalars': JSON.stringify({ AUTHZ_PORT: 5000, TRUST_PROXY: true, LOG_LEVEL: 'warn' }),
        'portcullis/empty-field': JSON.stringify({ AUTH_SECRET: '   ', COOKIE_KEYS: COOKIE_KEY_1 }),
        'portcullis/null-field': JSON.stringify({ COOKIE_KEYS: MARKER, AUTH_SECRET: null }),
        'portcullis/invalid-values': JSON.stringify({
          AUTH_SECRET: `${MARKER}-auth`,
          DATABASE_URL: `mysql://user:${MARKER}-pw@h/db`,
          SIGNING_KEYS: `{"keys":[{"d":"${MARKER}-d"`,
          AUTHZ_PORT: 'abc',
        }),
        'portcullis/bad-json': `{"AUTH_SECRET": "${MARKER}", oops`,
        'portcullis/array': JSON.stringify([MARKER, { AUTH_SECRET: MARKER }]),
        'portcullis/string': JSON.stringify(MARKER),
        'portcullis/number': '42',
        'portcullis/null': 'null',
        'portcullis/denied': JSON.stringify({ AUTH_SECRET: MARKER }),
      },
      denied: ['portcullis/denied'],
      binary: { 'portcullis/binary': new TextEncoder().encode(MARKER) },
    });
  });

  after(async () => {
    await sm?.close();
  });

  beforeEach(async () => {
    sm.requests.length = 0;
    ({ dir, cleanup } = await tempDataDir());
  });

  afterEach(async () => {
    await cleanup();
  });

  describe('success', () => {
    it('fills unset settings from the secret and lists them in provenance (production)', async () => {
      const { config, notices } = await loadConfig(smEnv('portcullis/prod', production), options);
      expect(config.isProduction).to.equal(true);
      expect(config.secrets.authSecret).to.equal(AUTH_SECRET);
      expect(config.secrets.cookieKeys).to.deep.equal([COOKIE_KEY_1, COOKIE_KEY_2]);
      expect(config.secrets.signingKeys).to.deep.equal(JSON.parse(SIGNING_KEYS));
      expect(config.db).to.include({ client: 'pg', url: DATABASE_URL });
      expect(config.stripe).to.deep.equal({ secretKey: 'sk_live_fromsecret', webhookSecret: 'whsec_fromsecret', apiUrl: undefined });
      expect([...config.provenance.fromSecretsManager].sort()).to.deep.equal(
        ['AUTH_SECRET', 'COOKIE_KEYS', 'DATABASE_URL', 'SIGNING_KEYS', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'].sort(),
      );
      expect(config.provenance.generated).to.deep.equal([]);
      expect(notices).to.deep.equal([]);
    });

    it('signs the request with SigV4 and calls secretsmanager.GetSecretValue with the SecretId', async () => {
      await loadConfig(smEnv('portcullis/prod', production), options);
      expect(sm.requests).to.have.length(1);
      const [req] = sm.requests;
      expect(req!.target).to.equal('secretsmanager.GetSecretValue');
      expect(req!.secretId).to.equal('portcullis/prod');
      expect(req!.contentType).to.equal('application/x-amz-json-1.1');
      expect(req!.authorization).to.be.a('string');
      expect(req!.authorization!.startsWith('AWS4-HMAC-SHA256 ')).to.equal(true);
      expect(req!.authorization).to.match(/Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/secretsmanager\/aws4_request/);
      expect(req!.authorization).to.match(/SignedHeaders=[^,]*x-amz-target/);
    });

    it('accepts the secret by ARN', async () => {
      const arn = fakeSecretArn('portcullis/prod');
      const { config } = await loadConfig(smEnv(arn, production), options);
      expect(config.secrets.authSecret).to.equal(AUTH_SECRET);
      expect(sm.requests.map((r) => r.secretId)).to.deep.equal([arn]);
    });

    it('lets explicit environment values win over the secret', async () => {
      const envSecret = 'explicit-env-auth-secret-0123456789abcdef';
      const envDb = 'postgres://env:pw@db.env.example/portcullis';
      const { config } = await loadConfig(
        smEnv('portcullis/prod', { ...production, AUTH_SECRET: envSecret, DATABASE_URL: envDb }),
        options,
      );
      expect(config.secrets.authSecret).to.equal(envSecret);
      expect(config.db).to.include({ client: 'pg', url: envDb });
      expect(config.secrets.cookieKeys).to.deep.equal([COOKIE_KEY_1, COOKIE_KEY_2]);
      expect(config.provenance.fromSecretsManager).to.not.include('AUTH_SECRET');
      expect(config.provenance.fromSecretsManager).to.not.include('DATABASE_URL');
      expect(config.provenance.fromSecretsManager).to.include('COOKIE_KEYS');
    });

    it('ignores an unknown field with a notice naming it, never its value', async () => {
      const { config, notices } = await loadConfig(smEnv('portcullis/extra', { SIGNING_KEYS }), options);
      expect(config.secrets.authSecret).to.equal(AUTH_SECRET);
      expect(notices).to.include('Secrets Manager field NOT_A_SETTING is not a Portcullis setting and was ignored');
      expect(config.provenance.fromSecretsManager).to.deep.equal(['AUTH_SECRET']);
      for (const n of notices) expect(n).to.not.include(MARKER);
      expect(JSON.stringify(config)).to.not.include(MARKER);
    });

    it('treats fields named like Object.prototype members (constructor, toString) as unknown, with a notice', async () => {
      const { notices } = await loadConfig(smEnv('portcullis/extra', { SIGNING_KEYS }), options);
      expect(notices).to.include('Secrets Manager field constructor is not a Portcullis setting and was ignored');
      expect(notices).to.include('Secrets Manager field toString is not a Portcullis setting and was ignored');
    });

    it('treats a "__proto__" field as unknown, with a notice', async () => {
      const { config, notices } = await loadConfig(smEnv('portcullis/proto', { SIGNING_KEYS }), options);
      expect(config.secrets.authSecret).to.equal(AUTH_SECRET);
      expect(notices).to.include('Secrets Manager field __proto__ is not a Portcullis setting and was ignored');
    });

    it('accepts SIGNING_KEYS given as a JSON object rather than a string', async () => {
      const { config } = await loadConfig(smEnv('portcullis/object-keys'), options);
      expect(config.secrets.signingKeys).to.deep.equal(JSON.parse(SIGNING_KEYS));
      expect(config.provenance.fromSecretsManager).to.deep.equal(['SIGNING_KEYS']);
      expect(config.provenance.generated).to.deep.equal(['AUTH_SECRET', 'COOKIE_KEYS']);
    });

    it('accepts numbers and booleans for non-string settings', async () => {
      const { config } = await loadConfig(smEnv('portcullis/scalars', { SIGNING_KEYS }), options);
      expect(config.authz).to.deep.equal({ port: 5000, issuer: 'http://localhost:5000', internalUrl: 'http://localhost:5000' });
      expect(config.http.trustProxy).to.equal(true);
      expect(config.logLevel).to.equal('warn');
      expect([...config.provenance.fromSecretsManager].sort()).to.deep.equal(['AUTHZ_PORT', 'LOG_LEVEL', 'TRUST_PROXY']);
    });

    it('skips blank fields (a blank secret field does not count as set)', async () => {
      const { config } = await loadConfig(smEnv('portcullis/empty-field', { SIGNING_KEYS }), options);
      expect(config.provenance.fromSecretsManager).to.deep.equal(['COOKIE_KEYS']);
      expect(config.provenance.generated).to.deep.equal(['AUTH_SECRET']);
    });

    it('does not contact Secrets Manager when SECRETS_MANAGER_SECRET_ID is unset', async () => {
      const { config } = await loadConfig(
        { DATA_DIR: dir, AWS_REGION: 'us-east-1', SECRETS_MANAGER_ENDPOINT: sm.endpoint, SIGNING_KEYS },
        options,
      );
      expect(sm.requests).to.deep.equal([]);
      expect(config.provenance.fromSecretsManager).to.deep.equal([]);
    });
  });

  describe('failures (start-up stops, naming the AWS error, never the content)', () => {
    async function failure(secretId: string, extra: Record<string, string> = {}) {
      const err = await expectConfigError(loadConfig(smEnv(secretId, { ...production, ...extra }), options));
      expectNoLeak(err, MARKER);
      expect(await access(path.join(dir, DEV_SECRETS_FILE)).then(() => true, () => false)).to.equal(false);
      return err;
    }

    it('a missing secret: ResourceNotFoundException', async () => {
      const err = await failure('portcullis/does-not-exist');
      expect(err.problems).to.deep.equal([
        { key: KEY, message: 'could not fetch the secret from AWS Secrets Manager (ResourceNotFoundException: no such secret)' },
      ]);
      expect(sm.requests.map((r) => r.secretId)).to.deep.equal(['portcullis/does-not-exist']);
    });

    it('access denied: AccessDeniedException', async () => {
      const err = await failure('portcullis/denied');
      expect(err.problems).to.deep.equal([
        {
          key: KEY,
          message: 'could not fetch the secret from AWS Secrets Manager (AccessDeniedException: the credentials may not read this secret)',
        },
      ]);
    });

    it('fails in development too (an operator who configured a secret never runs without it)', async () => {
      const err = await expectConfigError(loadConfig(smEnv('portcullis/does-not-exist'), options));
      expect(err.problems.map((p) => p.key)).to.deep.equal([KEY]);
    });

    it('a secret that is not valid JSON', async () => {
      const err = await failure('portcullis/bad-json');
      expect(err.problems).to.deep.equal([{ key: KEY, message: 'the secret is not valid JSON' }]);
    });

    for (const id of ['portcullis/array', 'portcullis/string', 'portcullis/number', 'portcullis/null']) {
      it(`a secret that is JSON but not an object (${id.split('/')[1]})`, async () => {
        const err = await failure(id);
        expect(err.problems).to.deep.equal([
          { key: KEY, message: 'the secret must be a JSON object of setting names to values' },
        ]);
      });
    }

    it('a field that is null', async () => {
      const err = await failure('portcullis/null-field');
      expect(err.problems).to.deep.equal([
        { key: KEY, message: "the secret's field AUTH_SECRET must be a string, number, boolean or object" },
      ]);
    });

    it('a binary secret', async () => {
      const err = await failure('portcullis/binary');
      expect(err.problems).to.deep.equal([
        { key: KEY, message: 'the secret has no SecretString (binary secrets are not supported)' },
      ]);
    });

    it('invalid values from the secret are named by key, their values redacted', async () => {
      const err = await failure('portcullis/invalid-values');
      expect(err.problems).to.deep.equal([
        { key: 'AUTHZ_PORT', message: 'expected a whole number' },
        { key: 'DATABASE_URL', message: 'expected a postgres:// URL' },
        { key: 'AUTH_SECRET', message: 'must be at least 32 characters' },
        { key: 'COOKIE_KEYS', message: 'is required in production' },
        { key: 'SIGNING_KEYS', message: 'expected a JSON object {"keys":[…]}' },
      ]);
    });

    it('an unreachable endpoint', async () => {
      const closed = await startFakeSecretsManager({ secrets: {} });
      await closed.close();
      const err = await expectConfigError(
        loadConfig(smEnv('portcullis/prod', { SECRETS_MANAGER_ENDPOINT: closed.endpoint }), options),
      );
      expect(err.problems.map((p) => p.key)).to.deep.equal([KEY]);
      expect(err.problems[0]!.message).to.match(/^could not fetch the secret from AWS Secrets Manager \(/);
    });

    it('a malformed SECRETS_MANAGER_ENDPOINT is named as such, not as a fetch failure', async () => {
      const err = await expectConfigError(
        loadConfig(smEnv('portcullis/prod', { SECRETS_MANAGER_ENDPOINT: 'not a url' }), options),
      );
      expect(err.problems).to.deep.equal([{ key: 'SECRETS_MANAGER_ENDPOINT', message: 'expected an http(s) URL' }]);
      expect(sm.requests).to.deep.equal([]);
    });

    it('a malformed AWS_REGION is named as such, before anything is fetched', async () => {
      const err = await expectConfigError(loadConfig(smEnv('portcullis/prod', { AWS_REGION: 'US East 1' }), options));
      expect(err.problems).to.deep.equal([{ key: 'AWS_REGION', message: 'expected an AWS region name' }]);
      expect(sm.requests).to.deep.equal([]);
    });
  });
});
