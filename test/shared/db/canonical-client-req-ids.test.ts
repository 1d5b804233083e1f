import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createDb, migrateLatest, migrations, type Knex } from '#shared/db/index.js';
import { insertListing } from '../../helpers/listings.js';
import { PG_SKIP_REASON, PG_URL, createTempDatabase, describeWithService } from '../../helpers/services.js';

/**
 * Migration 0010: usage rows stored with a non-canonical (upper-case) clientReqId before the API
 * canonicalised ids are lower-cased, with their stored answer, so a canonical retry replays
 * instead of consuming twice; a pair the old comparison let through keeps both rows.
 */
function suite(open: () => Promise<{ db: Knex; dispose(): Promise<void> }>) {
  let db: Knex;
  let dispose: () => Promise<void>;
  const before = migrations.findIndex((m) => m.name === '0010_canonical_client_req_ids');

  beforeEach(async () => {
    ({ db, dispose } = await open());
    expect(before).to.be.above(0);
    await migrateLatest(db, migrations.slice(0, before));
  });
  afterEach(async () => {
    await db.destroy();
    await dispose();
  });

  async function user(): Promise<string> {
    const id = randomUUID();
    await db('user').insert({ id, name: 'U', email: `${id}@example.com`, emailVerified: true, createdAt: new Date(), updatedAt: new Date(), role: 'user' });
    return id;
  }
  async function usage(userId: string, listingId: string, clientReqId: string, createdAt: number): Promise<string> {
    const id = randomUUID();
    await db('usage_records').insert({ id, user_id: userId, client_req_id: clientReqId, listing_id: listingId, units: 1, result: JSON.stringify({ id, clientReqId, units: 1 }), created_at: createdAt });
    return id;
  }
  const row = (id: string) => db('usage_records').where({ id }).first('client_req_id', 'result');

  it('lower-cases a lone upper-case id and its stored answer; keeps a pair whose canonical form exists; lower-cases the earliest of two spellings', async () => {
    const u = await user();
    const other = await user();
    const listing = await insertListing(db, { publisherId: await user() });
    const lone = 'A1B2C3D4-0000-4000-8000-00000000000A';
    const loneRow = await usage(u, listing, lone, 1);
    const paired = 'B1B2C3D4-0000-4000-8000-00000000000B';
    const pairedUpper = await usage(u, listing, paired, 2);
    const pairedLower = await usage(u, listing, paired.toLowerCase(), 3);
    const twice = 'C1B2C3D4-0000-4000-8000-00000000000C';
    const firstSpelling = await usage(u, listing, twice, 4);
    const secondSpelling = await usage(u, listing, 'c1b2c3d4-0000-4000-8000-00000000000C', 5);
    const othersRow = await usage(other, listing, lone, 6); // another user's id: independent
    const canonical = await usage(u, listing, randomUUID(), 7);
    const canonicalBefore = await row(canonical);

    await migrateLatest(db, migrations);

    expect(await row(loneRow)).to.deep.equal({ client_req_id: lone.toLowerCase(), result: JSON.stringify({ id: loneRow, clientReqId: lone.toLowerCase(), units: 1 }) });
    expect((await row(pairedUpper))!.client_req_id).to.equal(paired);
    expect((await row(pairedLower))!.client_req_id).to.equal(paired.toLowerCase());
    expect((await row(firstSpelling))!.client_req_id).to.equal(twice.toLowerCase());
    expect((await row(secondSpelling))!.client_req_id).to.equal('c1b2c3d4-0000-4000-8000-00000000000C');
    expect((await row(othersRow))!.client_req_id).to.equal(lone.toLowerCase());
    expect(await row(canonical)).to.deep.equal(canonicalBefore);
    expect(Number((await db('usage_records').count({ n: '*' }).first())!.n)).to.equal(7);
  });
}

describe('migration 0010: canonical clientReqIds (SQLite)', () => {
  suite(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-0010-'));
    const db = createDb({ client: 'sqlite', filename: path.join(dir, 'db.sqlite'), acquireTimeoutMs: 5000, migrateOnStart: false });
    return { db, dispose: () => rm(dir, { recursive: true, force: true }) };
  });
});

describeWithService('migration 0010: canonical clientReqIds (PostgreSQL)', PG_URL, PG_SKIP_REASON, (url) => {
  suite(async () => {
    const tmp = await createTempDatabase(url);
    const db = createDb({ client: 'pg', url: tmp.url, pool: { min: 0, max: 2 }, acquireTimeoutMs: 5000, statementTimeoutMs: 10000, migrateOnStart: false });
    return { db, dispose: () => tmp.drop() };
  });
});
