import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { errors } from 'oidc-provider';
import { createDb, migrateLatest, type Knex } from '#shared/db/index.js';
import { createAdapterClass } from '#authz/oidc/adapter.js';
import { insertClient } from '#authz/queries/clients.js';
import { purgeExpired, upsertModel } from '#authz/queries/oidc-models.js';
import { PG_SKIP_REASON, PG_URL, createTempDatabase, describeWithService } from '../../helpers/services.js';

interface Backend {
  db: Knex;
  dispose(): Promise<void>;
}

async function sqlite(): Promise<Backend> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-adapter-'));
  const db = createDb({ client: 'sqlite', filename: path.join(dir, 'a.sqlite'), acquireTimeoutMs: 5000, migrateOnStart: false });
  return { db, dispose: async () => (await db.destroy(), rm(dir, { recursive: true, force: true })) };
}

async function postgres(url: string): Promise<Backend> {
  const temp = await createTempDatabase(url);
  const db = createDb({ client: 'pg', url: temp.url, pool: { min: 0, max: 10 }, acquireTimeoutMs: 5000, statementTimeoutMs: 10000, migrateOnStart: false });
  return { db, dispose: async () => (await db.destroy(), temp.drop()) };
}

const rowCount = async (db: Knex, where: Record<string, unknown> = {}) => Number((await db('oidc_models').where(where).count({ n: '*' }))[0]!.n);

function adapterContract(open: () => Promise<Backend>): void {
  let backend: Backend;
  let db: Knex;
  let races: Array<[string, string | null]>;
  let Adapter: ReturnType<typeof createAdapterClass>;
  let n = 0;
  const uniq = (p: string) => `${p}-${++n}-${Date.now()}`;

  before(async () => {
    backend = await open();
    db = backend.db;
    await migrateLatest(db);
    Adapter = createAdapterClass(db, { tombstoneTtlS: 3600, onReuseRace: (m, g) => races.push([m, g]) });
  });
  beforeEach(() => (races = []));
  after(() => backend?.dispose());

  it('upsert then find returns the payload unchanged; upsert again replaces it', async () => {
    const a = new Adapter('Session');
    const id = uniq('s');
    const payload = { accountId: 'acc-1', loginTs: 1700000000, uid: uniq('u'), amr: ['pwd'] };
    await a.upsert(id, payload, 600);
    expect(await a.find(id)).to.deep.equal(payload);
    await a.upsert(id, { ...payload, accountId: 'acc-2' }, 600);
    expect(await a.find(id)).to.deep.equal({ ...payload, accountId: 'acc-2' });
    expect(await rowCount(db, { model: 'Session', id })).to.equal(1);
    expect(await a.find(uniq('missing'))).to.equal(undefined);
  });

  it('keeps models apart: the same id in two models are two rows', async () => {
    const id = uniq('shared');
    await new Adapter('Interaction').upsert(id, { kind: 'Interaction' }, 60);
    await new Adapter('Session').upsert(id, { kind: 'Session' }, 60);
    expect(await new Adapter('Interaction').find(id)).to.deep.equal({ kind: 'Interaction' });
    await new Adapter('Interaction').destroy(id);
    expect(await new Adapter('Interaction').find(id)).to.equal(undefined);
    expect(await new Adapter('Session').find(id)).to.deep.equal({ kind: 'Session' });
  });

  it('an entry with expiresIn 1 s is gone after it expires; expiresIn 0 never expires', async () => {
    const a = new Adapter('Interaction');
    const short = uniq('short');
    const forever = uniq('forever');
    await a.upsert(short, { kind: 'Interaction' }, 1);
    await a.upsert(forever, { kind: 'Interaction' }, 0);
    expect(await a.find(short)).to.deep.equal({ kind: 'Interaction' });
    await sleep(1100);
    expect(await a.find(short)).to.equal(undefined);
    expect(await a.find(forever)).to.deep.equal({ kind: 'Interaction' });
    const row = await db('oidc_models').where({ model: 'Interaction', id: forever }).first();
    expect(row.expires_at).to.equal(null);
  });

  it('findByUid and findByUserCode look up by their columns', async () => {
    const uid = uniq('uid');
    await new Adapter('Session').upsert(uniq('s'), { uid, accountId: 'x' }, 60);
    expect(await new Adapter('Session').findByUid(uid)).to.deep.equal({ uid, accountId: 'x' });
    expect(await new Adapter('Session').findByUid(uniq('nouid'))).to.equal(undefined);
    expect(await new Adapter('Interaction').findByUid(uid)).to.equal(undefined);
    const userCode = uniq('UC');
    await new Adapter('DeviceCode').upsert(uniq('d'), { userCode, clientId: 'c' }, 60);
    expect(await new Adapter('DeviceCode').findByUserCode(userCode)).to.deep.equal({ userCode, clientId: 'c' });
  });

  it('consume marks `consumed` in epoch seconds on a later find', async () => {
    const a = new Adapter('AuthorizationCode');
    const id = uniq('code');
    await a.upsert(id, { grantId: uniq('g'), clientId: 'c' }, 60);
    const before = Math.floor(Date.now() / 1000);
    await a.consume(id);
    const after = Math.ceil(Date.now() / 1000);
    const found = await a.find(id);
    expect(found?.consumed).to.be.a('number');
    expect(found!.consumed).to.be.within(before, after);
    expect(await a.consume(id).then(() => 'resolved', (e: unknown) => e)).to.be.instanceOf(errors.InvalidGrant);
  });

  it('50 concurrent consumes: exactly one wins, 49 fail with InvalidGrant and the grant is revoked', async () => {
    const grantId = uniq('grant');
    const otherGrant = uniq('other');
    const code = uniq('code');
    const codes = new Adapter('AuthorizationCode');
    await codes.upsert(code, { grantId, clientId: 'c' }, 60);
    await new Adapter('RefreshToken').upsert('rt-' + grantId, { grantId }, 3600);
    await new Adapter('AccessToken').upsert('at-' + grantId, { grantId }, 600);
    await new Adapter('Grant').upsert(grantId, { accountId: 'acc', clientId: 'c' }, 3600);
    await new Adapter('RefreshToken').upsert('rt-' + otherGrant, { grantId: otherGrant }, 3600);
    expect(await new Adapter('Grant').find(grantId)).to.deep.equal({ accountId: 'acc', clientId: 'c' });

    const results = await Promise.allSettled(Array.from({ length: 50 }, () => codes.consume(code)));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).to.have.length(1);
    expect(lost).to.have.length(49);
    for (const r of lost) {
      expect(r.reason).to.be.instanceOf(errors.InvalidGrant);
      expect((r.reason as { error: string }).error).to.equal('invalid_grant');
    }
    expect(races).to.have.length(49);
    expect(races.every(([m]) => m === 'AuthorizationCode')).to.equal(true);
    expect(races.some(([, g]) => g === grantId)).to.equal(true);

    expect(await new Adapter('RefreshToken').find('rt-' + grantId)).to.equal(undefined);
    expect(await new Adapter('AccessToken').find('at-' + grantId)).to.equal(undefined);
    expect(await new Adapter('Grant').find(grantId)).to.equal(undefined);
    expect(await codes.find(code)).to.equal(undefined);
    expect(await rowCount(db, { grant_id: grantId })).to.equal(0);
    expect(await rowCount(db, { model: 'RevokedGrant', id: grantId })).to.equal(1);
    expect(await new Adapter('RefreshToken').find('rt-' + otherGrant)).to.deep.equal({ grantId: otherGrant });
  });

  it('revokeByGrantId leaves a tombstone: a later upsert with that grantId is never found', async () => {
    const grantId = uniq('grant');
    const at = new Adapter('AccessToken');
    await at.upsert('a1-' + grantId, { grantId }, 600);
    await at.revokeByGrantId(grantId);
    expect(await at.find('a1-' + grantId)).to.equal(undefined);
    await at.upsert('a2-' + grantId, { grantId }, 600);
    await new Adapter('Grant').upsert(grantId, { accountId: 'acc' }, 600);
    expect(await at.find('a2-' + grantId)).to.equal(undefined);
    expect(await new Adapter('Grant').find(grantId)).to.equal(undefined);
    const tomb = await db('oidc_models').where({ model: 'RevokedGrant', id: grantId }).first();
    expect(Number(tomb.expires_at)).to.be.within(Date.now() + 3590_000, Date.now() + 3600_000);
  });

  it('destroy removes one entry', async () => {
    const a = new Adapter('AccessToken');
    const [x, y] = [uniq('x'), uniq('y')];
    await a.upsert(x, { jti: x }, 600);
    await a.upsert(y, { jti: y }, 600);
    await a.destroy(x);
    expect(await a.find(x)).to.equal(undefined);
    expect(await a.find(y)).to.deep.equal({ jti: y });
    expect(await rowCount(db, { model: 'AccessToken', id: x })).to.equal(0);
  });

  it('the Client model reads oauth_clients and adds client_id', async () => {
    const metadata = { client_name: 'App', redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' };
    const id = uniq('client');
    await insertClient(db, id, metadata, Date.now());
    expect(await new Adapter('Client').find(id)).to.deep.equal({ ...metadata, client_id: id });
    expect(await new Adapter('Client').find(uniq('nope'))).to.equal(undefined);
  });

  it('purgeExpired removes only rows whose expiry has passed', async () => {
    await db('oidc_models').del();
    const now = Date.now();
    const row = (id: string, expiresAt: number | null) =>
      upsertModel(db, { model: 'Session', id, payload: '{}', grantId: null, userCode: null, uid: null, accountId: null, expiresAt });
    await row('past', now - 1000);
    await row('edge', now);
    await row('future', now + 1);
    await row('never', null);
    expect(await purgeExpired(db, now)).to.equal(2);
    const left = (await db('oidc_models').select('id').orderBy('id')).map((r: { id: string }) => r.id);
    expect(left).to.deep.equal(['future', 'never']);
    expect(await purgeExpired(db, now)).to.equal(0);
  });
}

describe('authz-server KnexAdapter contract (SQLite)', () => adapterContract(sqlite));
describeWithService('authz-server KnexAdapter contract (PostgreSQL)', PG_URL, PG_SKIP_REASON, (url) => adapterContract(() => postgres(url)));
