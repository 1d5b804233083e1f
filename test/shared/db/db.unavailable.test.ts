import { expect } from 'chai';
import { AppError } from '#shared/errors/index.js';
import { createDb, isUnavailable, pingDb, translateDbError, withTransaction, type Knex } from '#shared/db/index.js';
import { silentLogger, sqliteBackend, type TestDatabase } from './fixtures/backends.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

function expectUnavailable(err: unknown): void {
  expect(err).to.be.instanceOf(AppError);
  expect({ code: (err as AppError).code, status: (err as AppError).status }).to.deep.equal({ code: 'DATABASE_UNAVAILABLE', status: 503 });
}

describe('shared/db when PostgreSQL is unreachable (closed loopback port)', () => {
  let db: Knex;
  before(() => {
    db = createDb(
      { client: 'pg', url: 'postgres://127.0.0.1:1/x', pool: { min: 0, max: 2 }, acquireTimeoutMs: 300, statementTimeoutMs: 1000, migrateOnStart: false },
      silentLogger,
    );
  });
  after(() => db.destroy());

  it('rejects a query quickly with an error that translates to 503 DATABASE_UNAVAILABLE', async () => {
    const started = Date.now();
    const err = await rejection(db('accounts').select('id'));
    expect(Date.now() - started).to.be.below(2000);
    expectUnavailable(translateDbError(err));
    expect(isUnavailable(err)).to.equal(true);
  });

  it('rejects withTransaction with the translated error', async () => {
    expectUnavailable(await rejection(withTransaction(db, (trx) => trx('accounts').select('id'))));
  });

  it('fails the readiness ping with DATABASE_UNAVAILABLE', async () => {
    expectUnavailable(await rejection(pingDb(db, 1000)));
  });
});

describe('shared/db when the SQLite connection pool is exhausted', () => {
  let tdb: TestDatabase;
  let db: Knex;
  before(async () => {
    tdb = await sqliteBackend();
    db = createDb({ ...tdb.config, acquireTimeoutMs: 200 } as TestDatabase['config'], silentLogger);
  });
  after(async () => {
    await db.destroy();
    await tdb.dispose();
  });

  it('translates the pool acquire timeout (KnexTimeoutError) to DATABASE_UNAVAILABLE', async () => {
    // The transaction holds SQLite's only connection; a query on `db` instead of `trx` waits for it.
    const err = await withTransaction(db, async () => rejection(db.raw('select 1')));
    expect((err as Error).name).to.equal('KnexTimeoutError');
    expectUnavailable(translateDbError(err));
  });

  it('fails the readiness ping after its own timeout while the connection is held', async () => {
    await withTransaction(db, async () => expectUnavailable(await rejection(pingDb(db, 50))));
  });
});
