import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { createDb, migrateLatest, migrateRollback, migrationStatus, type Knex } from '#shared/db/index.js';
import { silentLogger, type Backend, type TestDatabase } from './fixtures/backends.js';
import { testMigrationNames as names, testMigrations } from './fixtures/migrations.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./fixtures/migrate-child.ts', import.meta.url));

/** Starts a separate Node process (a second replica) migrating the same database. */
async function migrateInChild(config: TestDatabase['config']): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--conditions=source', '--import', 'tsx', child], {
    env: { ...process.env, DB_CONFIG: JSON.stringify(config) },
  });
  return JSON.parse(stdout) as string[];
}

async function tables(db: Knex): Promise<boolean[]> {
  return Promise.all(['accounts', 'listings'].map((t) => db.schema.hasTable(t)));
}

export function migrationContract(backend: Backend): void {
  describe('migrations', () => {
    let tdb: TestDatabase;
    let db: Knex;
    beforeEach(async () => {
      tdb = await backend();
      db = createDb(tdb.config, silentLogger);
    });
    afterEach(async () => {
      await db.destroy();
      await tdb.dispose();
    });

    it('lists every migration as pending on an empty database', async () => {
      expect(await migrationStatus(db, testMigrations)).to.deep.equal({ applied: [], pending: names });
    });

    it('applies the list in order, then reports none pending', async () => {
      expect(await migrateLatest(db, testMigrations)).to.deep.equal(names);
      expect(await migrationStatus(db, testMigrations)).to.deep.equal({ applied: names, pending: [] });
      expect(await tables(db)).to.deep.equal([true, true]);
      expect(await migrateLatest(db, testMigrations)).to.deep.equal([]);
    });

    it('records names without a file extension', async () => {
      await migrateLatest(db, testMigrations);
      const rows = (await db('knex_migrations').orderBy('id').select('name')) as Array<{ name: string }>;
      expect(rows.map((r) => r.name)).to.deep.equal(['0001_accounts', '0002_listings']);
    });

    it('rolls back the last batch in reverse order', async () => {
      await migrateLatest(db, testMigrations);
      expect(await migrateRollback(db, testMigrations)).to.deep.equal([...names].reverse());
      expect(await migrationStatus(db, testMigrations)).to.deep.equal({ applied: [], pending: names });
      expect(await tables(db)).to.deep.equal([false, false]);
    });

    it('rolls back only the last batch when migrations were applied in two batches', async () => {
      await migrateLatest(db, testMigrations.slice(0, 1));
      await migrateLatest(db, testMigrations);
      expect(await migrateRollback(db, testMigrations)).to.deep.equal(['0002_listings']);
      expect(await migrationStatus(db, testMigrations)).to.deep.equal({ applied: ['0001_accounts'], pending: ['0002_listings'] });
    });

    it('rejects names that are not NNNN_snake_case', async () => {
      const bad = [{ ...testMigrations[0]!, name: '0001_accounts.ts' }];
      await expectRejection(migrateLatest(db, bad), /Invalid migration name "0001_accounts.ts"/);
      await expectRejection(migrateLatest(db, [testMigrations[0]!, testMigrations[0]!]), /Duplicate migration name/);
    });

    it('runs concurrent migrators in one process one after the other; both succeed', async () => {
      const results = await Promise.all([migrateLatest(db, testMigrations), migrateLatest(db, testMigrations)]);
      expect(results.flat()).to.deep.equal(names);
      expect(await migrationStatus(db, testMigrations)).to.deep.equal({ applied: names, pending: [] });
    });

    it('runs concurrent migrators in separate processes one after the other; both succeed', async () => {
      // Both start on an empty database, so they also race to create knex's own tables.
      const results = await Promise.all([migrateInChild(tdb.config), migrateInChild(tdb.config)]);
      expect(results.flat()).to.deep.equal(names);
      expect(results.map((r) => r.length).sort()).to.deep.equal([0, 2]);
      expect(await migrationStatus(db, testMigrations)).to.deep.equal({ applied: names, pending: [] });
      const [row] = await db('knex_migrations').count({ n: '*' });
      expect(Number(row?.n)).to.equal(2);
    });
  });
}

async function expectRejection(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).to.be.instanceOf(Error);
  expect((err as Error).message).to.match(message);
}
