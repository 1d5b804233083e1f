import { setTimeout } from 'node:timers/promises';
import type { Knex } from 'knex';
import { migrations as registry } from './migrations/index.js';

export interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
}

const NAME = /^\d{4}_[a-z0-9_]+$/;

/**
 * PostgreSQL advisory lock key ("Port" in ASCII) taken for the whole of a migration run.
 * https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
 */
const PG_MIGRATION_LOCK = 0x506f7274;

/**
 * Knex's `migrationSource` over an explicit list rather than a folder scan
 * (https://knexjs.org/guide/migrations.html#custom-migration-sources): the build and the sources
 * agree on names, and a bundler cannot drop a migration file.
 */
function sourceOf(list: readonly Migration[]): Knex.MigrationSource<Migration> {
  const seen = new Set<string>();
  for (const m of list) {
    if (!NAME.test(m.name)) throw new Error(`Invalid migration name "${m.name}": expected NNNN_snake_case`);
    if (seen.has(m.name)) throw new Error(`Duplicate migration name "${m.name}"`);
    seen.add(m.name);
  }
  return {
    getMigrations: async () => [...list],
    getMigrationName: (m) => m.name,
    getMigration: async (m) => m,
  };
}

/**
 * Runs `fn` with the migrator serialised across every process sharing the database.
 *
 * Knex's lock row (`knex_migrations_lock`) is taken only after knex has checked for, and maybe
 * created, its own tables, so two first-time migrators race on CREATE TABLE and the loser fails
 * ("Migration table is already locked" or a duplicate pg_type row). Behaviour chosen instead:
 * every migrator waits its turn and succeeds; a late one finds nothing pending.
 * - PostgreSQL: one transaction holding `pg_advisory_xact_lock`, released on commit or rollback,
 *   so a crashed migrator never leaves a stale lock. statement_timeout is lifted for this
 *   transaction only: waiting for the lock and building indexes may take longer than a request.
 * - SQLite: the transaction holds the pool's only connection, which serialises callers in one
 *   process (a second caller waits up to acquireTimeoutMs for it). Another process holding the
 *   write lock makes ours fail with SQLITE_BUSY, after busy_timeout or at once when a deferred
 *   transaction that has read must upgrade (https://sqlite.org/lang_transaction.html), so the
 *   whole transaction, rolled back, is retried.
 * Knex runs the batch in a savepoint inside this transaction, keeping its lock row as well.
 */
async function locked<T>(db: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(async (trx) => {
        if (db.client.dialect === 'postgresql') {
          await trx.raw('SET LOCAL statement_timeout = 0');
          await trx.raw('SELECT pg_advisory_xact_lock(?)', [PG_MIGRATION_LOCK]);
        }
        return fn(trx);
      });
    } catch (err) {
      if (attempt >= LOCK_ATTEMPTS || !isLockContention(err)) throw err;
      await setTimeout(LOCK_RETRY_MS * attempt);
    }
  }
}

const LOCK_ATTEMPTS = 10;
const LOCK_RETRY_MS = 100;

/** SQLite busy, or knex's lock row held by a migrator outside this module (e.g. the knex CLI). */
function isLockContention(err: unknown): boolean {
  const { name, code } = (err ?? {}) as { name?: unknown; code?: unknown };
  return name === 'MigrationLocked' || (typeof code === 'string' && code.startsWith('SQLITE_BUSY'));
}

/** Applies every pending migration of `list` as one batch. Returns the names applied. */
export async function migrateLatest(db: Knex, list: readonly Migration[] = registry): Promise<string[]> {
  const migrationSource = sourceOf(list);
  const [, applied] = (await locked(db, (trx) => trx.migrate.latest({ migrationSource }))) as [number, string[]];
  return applied;
}

/** Reverts the last batch applied. Returns the names reverted. */
export async function migrateRollback(db: Knex, list: readonly Migration[] = registry): Promise<string[]> {
  const migrationSource = sourceOf(list);
  const [, reverted] = (await locked(db, (trx) => trx.migrate.rollback({ migrationSource }))) as [number, string[]];
  return reverted;
}

/** Applied and pending names. Takes the migration lock, so it waits for a migration in progress. */
export async function migrationStatus(db: Knex, list: readonly Migration[] = registry): Promise<MigrationStatus> {
  const migrationSource = sourceOf(list);
  const [completed, pending] = (await locked(db, (trx) => trx.migrate.list({ migrationSource }))) as [
    Array<{ name: string }>,
    Migration[],
  ];
  return { applied: completed.map((m) => m.name), pending: pending.map((m) => m.name) };
}
