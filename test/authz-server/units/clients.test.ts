import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createDb, migrateLatest, type Knex } from '#shared/db/index.js';
import { AppError } from '#shared/errors/index.js';
import { createClientService, publicView, type ClientService } from '#authz/clients/service.js';
import { REVOKED_GRANT, upsertModel } from '#authz/queries/oidc-models.js';
import type { ClientInput } from '#authz/clients/schema.js';
import { createAudit } from '#shared/audit/index.js';
import { createProvider } from '#authz/oidc/provider.js';
import { createLogger } from '#shared/logging/logger.js';
import { testConfig } from '../../helpers/config.js';

const base = { name: 'Test App', type: 'public', redirectUris: ['https://app.example/cb'] } satisfies ClientInput;

async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => expect.fail('expected a rejection'),
    (e: unknown) => e,
  );
  expect(err).to.be.instanceOf(AppError);
  return err as AppError;
}

describe('authz-server client service (SQLite)', () => {
  let dir: string;
  let db: Knex;
  let svc: ClientService;
  let provider: ReturnType<typeof createProvider>;
  let cleanupConfig: () => Promise<void>;
  const count = async () => Number((await db('oauth_clients').count({ n: '*' }))[0]!.n);
  const stored = async (id: string) => JSON.parse((await db('oauth_clients').where({ client_id: id }).first()).metadata);

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-clients-'));
    db = createDb({ client: 'sqlite', filename: path.join(dir, 'c.sqlite'), acquireTimeoutMs: 5000, migrateOnStart: false });
    await migrateLatest(db);
    svc = createClientService(db);
    const t = await testConfig();
    cleanupConfig = t.cleanup;
    const logger = createLogger({ level: 'silent', service: 'test' });
    provider = createProvider({ config: t.config, db, logger, auth: null as never, audit: createAudit({ db, logger, secret: t.config.secrets.authSecret }) });
  });
  beforeEach(() => db('oauth_clients').del());
  after(async () => {
    await db.destroy();
    await cleanupConfig?.();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a public native client without a secret', async () => {
    const created = await svc.create({ ...base, clientId: 'public-app', scopes: ['openid', 'offline_access', 'listings:read'] });
    expect(created.clientId).to.equal('public-app');
    expect(created.clientSecret).to.equal(undefined);
    const expected = {
      client_name: 'Test App',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['https://app.example/cb'],
      post_logout_redirect_uris: [],
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid offline_access listings:read',
    };
    expect(created.metadata).to.deep.equal(expected);
    expect(await stored('public-app')).to.deep.equal(expected);
    const row = await svc.show('public-app');
    expect(row.clientId).to.equal('public-app');
    expect(row.metadata).to.deep.equal(expected);
    expect(row.createdAt).to.be.within(Date.now() - 5000, Date.now());
  });

  it('generates a random client id when none is given', async () => {
    const a = await svc.create(base);
    const b = await svc.create(base);
    expect(a.clientId).to.match(/^[0-9a-f]{32}$/); // hex: never read as a command-line option
    expect(a.clientId).to.not.equal(b.clientId);
    expect((await svc.list()).map((r) => r.clientId).sort()).to.deep.equal([a.clientId, b.clientId].sort());
  });

  it('gives a confidential client a secret, stored in its metadata but not in publicView', async () => {
    const created = await svc.create({ ...base, clientId: 'conf', type: 'confidential', clientCredentials: true });
    expect(created.clientSecret).to.be.a('string');
    expect(created.clientSecret!.length).to.be.at.least(40);
    expect(created.metadata).to.include({ token_endpoint_auth_method: 'client_secret_basic', application_type: 'web', client_secret: created.clientSecret });
    expect(created.metadata.grant_types).to.deep.equal(['authorization_code', 'refresh_token', 'client_credentials']);
    expect((await stored('conf')).client_secret).to.equal(created.clientSecret);
    const view = publicView(await svc.show('conf'));
    expect(view).to.not.have.property('client_secret');
    expect(JSON.stringify(view)).to.not.include(created.clientSecret!);
    expect(view.client_id).to.equal('conf');
    const other = await svc.create({ ...base, type: 'confidential' });
    expect(other.clientSecret).to.not.equal(created.clientSecret);
  });

  it('private_key_jwt with a jwks_uri gets no secret', async () => {
    const created = await svc.create({ ...base, type: 'confidential', authMethod: 'private_key_jwt', jwksUri: 'https://app.example/jwks.json' });
    expect(created.clientSecret).to.equal(undefined);
    expect(created.metadata).to.include({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://app.example/jwks.json' });
    expect(created.metadata).to.not.have.property('client_secret');
  });

  it('sets id_token_signed_response_alg only when idTokenAlg is given', async () => {
    expect((await svc.create({ ...base, idTokenAlg: 'ES256' })).metadata.id_token_signed_response_alg).to.equal('ES256');
    expect((await svc.create(base)).metadata).to.not.have.property('id_token_signed_response_alg');
    const err = await failure(svc.create({ ...base, idTokenAlg: 'HS256' } as unknown as ClientInput));
    expect(err.code).to.equal('INVALID_CLIENT_METADATA');
    expect(err.message).to.match(/^idTokenAlg: /);
    expect(await count()).to.equal(2);
  });

  it('refuses a duplicate client id with CLIENT_EXISTS (409) and keeps the first', async () => {
    await svc.create({ ...base, clientId: 'dup', name: 'First' });
    const err = await failure(svc.create({ ...base, clientId: 'dup', name: 'Second' }));
    expect([err.code, err.status]).to.deep.equal(['CLIENT_EXISTS', 409]);
    expect(await count()).to.equal(1);
    expect((await stored('dup')).client_name).to.equal('First');
  });

  it('show and remove of an unknown client fail with CLIENT_NOT_FOUND (404)', async () => {
    for (const p of [svc.show('ghost'), svc.remove('ghost', Date.now() + 60_000)]) {
      const err = await failure(p);
      expect([err.code, err.status]).to.deep.equal(['CLIENT_NOT_FOUND', 404]);
    }
    await svc.create({ ...base, clientId: 'gone' });
    await svc.remove('gone', Date.now() + 60_000);
    expect(await count()).to.equal(0);
    expect((await failure(svc.remove('gone', Date.now() + 60_000))).code).to.equal('CLIENT_NOT_FOUND');
  });

  it('remove ends what the client holds: its grants are tombstoned (their tokens die), other clients\' grants stay', async () => {
    await svc.create({ ...base, clientId: 'leaving' });
    await svc.create({ ...base, clientId: 'staying' });
    const grant = (id: string, clientId: string) => upsertModel(db, { model: 'Grant', id, payload: JSON.stringify({ clientId, accountId: 'u1' }), grantId: id, userCode: null, uid: null, accountId: 'u1', expiresAt: Date.now() + 60_000 });
    await grant('g-leaving', 'leaving');
    await grant('g-staying', 'staying');
    await svc.remove('leaving', Date.now() + 60_000);
    const tombstones = await db('oidc_models').where({ model: REVOKED_GRANT }).pluck('id');
    expect(tombstones).to.deep.equal(['g-leaving']);
    expect(await db('oidc_models').where({ model: 'Grant', id: 'g-staying' }).first()).to.not.equal(undefined);
  });

  const accepted = ['https://app.example/cb', 'http://127.0.0.1:8123/cb', 'http://[::1]/cb', 'http://localhost/cb', 'com.example.app:/cb'];
  for (const uri of accepted) {
    it(`accepts redirect URI ${uri}`, async () => {
      const created = await svc.create({ ...base, redirectUris: [uri], postLogoutRedirectUris: [uri] });
      expect((await stored(created.clientId)).redirect_uris).to.deep.equal([uri]);
      expect((await stored(created.clientId)).post_logout_redirect_uris).to.deep.equal([uri]);
      const client = await provider.Client.find(created.clientId); // oidc-provider validates the stored metadata
      expect(client?.redirectUris).to.deep.equal([uri]);
    });
  }

  // oidc-provider refuses these per application_type; the schema must refuse them first.
  const providerRefuses: Array<[string, ClientInput]> = [
    ['a private-use scheme on a web (confidential) client', { ...base, type: 'confidential', redirectUris: ['com.example.app:/cb'] }],
    ['a loopback https URI on a native (public) client', { ...base, redirectUris: ['https://localhost/cb'] }],
  ];
  for (const [what, input] of providerRefuses) {
    it(`rejects ${what}, which oidc-provider refuses`, async () => {
      expect((await failure(svc.create(input))).code).to.equal('INVALID_CLIENT_METADATA');
      expect(await count()).to.equal(0);
    });
  }

  const rejectedUris = [
    'http://example.com/cb',
    'https://x/cb#frag',
    'https://x/cb#',
    'https://user:pw@x/cb',
    'javascript:alert(1)',
    '/cb',
    'data:text/html,<script>alert(1)</script>',
    'file:///x',
    'http://localhost.evil.example/cb',
    ' https://app.example/cb',
    'https:app.example/cb',
    'https://app.example/c\tb',
  ];
  for (const uri of rejectedUris) {
    it(`rejects redirect URI ${uri} (and as a post-logout URI) with INVALID_CLIENT_METADATA`, async () => {
      for (const input of [
        { ...base, redirectUris: [uri] },
        { ...base, redirectUris: ['https://ok.example/cb', uri] },
        { ...base, postLogoutRedirectUris: [uri] },
      ]) {
        const err = await failure(svc.create(input));
        expect([err.code, err.status]).to.deep.equal(['INVALID_CLIENT_METADATA', 400]);
        expect(err.message).to.match(/^(redirectUris|postLogoutRedirectUris)\.\d: /);
      }
      expect(await count()).to.equal(0);
    });
  }

  const rejected: Array<[string, ClientInput, RegExp]> = [
    ['no redirect URI', { ...base, redirectUris: [] }, /^redirectUris: at least one redirect URI is required$/],
    ['an unknown scope', { ...base, scopes: ['openid', 'admin:everything'] }, /^scopes\.1: unknown scope "admin:everything" \(known: openid offline_access/],
    ['a public client with client_secret_basic', { ...base, authMethod: 'client_secret_basic' }, /^authMethod: public clients authenticate with none/],
    ['a confidential client with none', { ...base, type: 'confidential', authMethod: 'none' }, /^authMethod: confidential clients must authenticate$/],
    ['private_key_jwt without jwksUri', { ...base, type: 'confidential', authMethod: 'private_key_jwt' }, /^jwksUri: private_key_jwt needs a jwks_uri/],
    ['client_credentials on a public client', { ...base, clientCredentials: true }, /^clientCredentials: client_credentials needs a confidential client$/],
    ['a malformed client id', { ...base, clientId: 'a b' }, /^clientId: /],
    ['an unknown field', { ...base, extra: 1 } as ClientInput, /^client: /],
    ['an unknown type', { ...base, type: 'trusted' } as unknown as ClientInput, /^type: /],
  ];
  for (const [what, input, message] of rejected) {
    it(`rejects ${what} with INVALID_CLIENT_METADATA and stores nothing`, async () => {
      const err = await failure(svc.create(input));
      expect([err.code, err.status]).to.deep.equal(['INVALID_CLIENT_METADATA', 400]);
      expect(err.message).to.match(message);
      expect(await count()).to.equal(0);
    });
  }
});
