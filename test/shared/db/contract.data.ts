import { expect } from 'chai';
import { AppError } from '#shared/errors/index.js';
import { createDb, migrateLatest, pingDb, translateDbError, withTransaction, type Knex } from '#shared/db/index.js';
import { silentLogger, type Backend, type TestDatabase } from './fixtures/backends.js';
import { testMigrations } from './fixtures/migrations.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

/** Asserts the exact catalog code and status, and that `data` holds names only. */
function expectStorageError(err: unknown, code: string, status: number, data: Record<string, string>): void {
  expect(err).to.be.instanceOf(AppError);
  const appErr = err as AppError;
  expect({ code: appErr.code, status: appErr.status }).to.deep.equal({ code, status });
  expect(appErr.data).to.include(data);
  expect(Object.keys(appErr.data ?? {})).to.satisfy((keys: string[]) => keys.every((k) => ['constraint', 'table', 'column'].includes(k)));
  expect(JSON.stringify(appErr.data)).not.to.match(/secret-value|@example/);
}

export function dataContract(backend: Backend, kind: 'sqlite' | 'pg'): void {
  describe('constraints, transactions and concurrency', () => {
    let tdb: TestDatabase;
    let db: Knex;
    let accountId: number;
    before(async () => {
      tdb = await backend();
      db = createDb(tdb.config, silentLogger);
      await migrateLatest(db, testMigrations);
    });
    after(async () => {
      await db?.destroy();
      await tdb?.dispose();
    });
    beforeEach(async () => {
      await db('listings').delete();
      await db('accounts').delete();
      [{ id: accountId }] = await db('accounts').insert({ email: 'owner@example.com', name: 'Owner' }, ['id']);
    });
    const count = async (table: string) => Number((await db(table).count({ n: '*' }))[0]?.n);

    it('translates a unique violation to 409 UNIQUE_VIOLATION with names only', async () => {
      const err = await rejection(withTransaction(db, (trx) => trx('accounts').insert({ email: 'owner@example.com', name: 'x' })));
      const names: Record<string, string> = kind === 'pg' ? { table: 'accounts', constraint: 'accounts_email_unique' } : { table: 'accounts', column: 'email' };
      expectStorageError(err, 'UNIQUE_VIOLATION', 409, names);
    });

    it('translates a foreign key violation to 409 FOREIGN_KEY_VIOLATION', async () => {
      const err = await rejection(db('listings').insert({ account_id: 999_999, title: 't', price_cents: 1 }));
      const names: Record<string, string> = kind === 'pg' ? { table: 'listings', constraint: 'listings_account_id_foreign' } : {};
      expectStorageError(translateDbError(err), 'FOREIGN_KEY_VIOLATION', 409, names);
    });

    it('translates a not-null violation to 400 NOT_NULL_VIOLATION', async () => {
      const err = await rejection(db('listings').insert({ account_id: accountId, title: null, price_cents: 1 }));
      expectStorageError(translateDbError(err), 'NOT_NULL_VIOLATION', 400, { table: 'listings', column: 'title' });
    });

    it('translates a check violation to 400 CHECK_VIOLATION', async () => {
      const err = await rejection(db('listings').insert({ account_id: accountId, title: 'secret-value', price_cents: -1 }));
      expectStorageError(translateDbError(err), 'CHECK_VIOLATION', 400, { constraint: 'listings_price_nonnegative' });
    });

    it('returns any other driver error unchanged', async () => {
      const err = await rejection(db.raw('select * from no_such_table'));
      expect(translateDbError(err)).to.equal(err);
    });

    it('commits a transaction that resolves and returns its value', async () => {
      const title = await withTransaction(db, async (trx) => {
        await trx('listings').insert({ account_id: accountId, title: 'kept', price_cents: 5 });
        return 'kept';
      });
      expect(title).to.equal('kept');
      expect([await count('accounts'), await count('listings')]).to.deep.equal([1, 1]);
    });

    it('rolls back everything when the function throws, rethrowing its error unchanged', async () => {
      const boom = new Error('boom');
      const err = await rejection(
        withTransaction(db, async (trx) => {
          await trx('accounts').insert({ email: 'second@example.com', name: 'Second' });
          await trx('listings').insert({ account_id: accountId, title: 'gone', price_cents: 5 });
          throw boom;
        }),
      );
      expect(err).to.equal(boom);
      expect([await count('accounts'), await count('listings')]).to.deep.equal([1, 0]);
    });

    it('rolls back earlier writes when a later statement violates a constraint', async () => {
      const err = await rejection(
        withTransaction(db, async (trx) => {
          await trx('listings').insert({ account_id: accountId, title: 'gone', price_cents: 5 });
          await trx('accounts').insert({ email: 'owner@example.com', name: 'Dup' });
        }),
      );
      expectStorageError(err, 'UNIQUE_VIOLATION', 409, { table: 'accounts' });
      expect([await count('accounts'), await count('listings')]).to.deep.equal([1, 0]);
    });

    it('lets exactly one of 20 concurrent inserts of the same unique value succeed', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          withTransaction(db, (trx) => trx('accounts').insert({ email: 'race@example.com', name: `racer ${i}` })),
        ),
      );
      const rejected = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as AppError);
      expect(results.length - rejected.length).to.equal(1);
      expect(rejected.map((e) => `${e.status} ${e.code}`)).to.deep.equal(Array(19).fill('409 UNIQUE_VIOLATION'));
      expect(Number((await db('accounts').where({ email: 'race@example.com' }).count({ n: '*' }))[0]?.n)).to.equal(1);
    });

    it('answers the readiness ping', async () => {
      await pingDb(db);
    });
  });
}
