import { mkdirSync } from 'node:fs';
import path from 'node:path';
import knex, { type Knex } from 'knex';
import type { Config } from '../config/types.js';
import type { Logger } from '../logging/logger.js';

type SqliteConfig = Extract<Config['db'], { client: 'sqlite' }>;
type PgConfig = Extract<Config['db'], { client: 'pg' }>;

/** The subset of a better-sqlite3 `Database` that the pool hook needs. */
interface SqliteConnection {
  pragma(source: string): unknown;
}

/**
 * Builds the one knex instance of a service from `config.db`. Nothing else creates database
 * clients: the instance is passed down to queries (STYLE.md habit 3), and closed with
 * `db.destroy()` on shutdown. With a `logger`, knex's own warnings (pool, migrations) go to it
 * instead of the console.
 */
export function createDb(config: Config['db'], logger?: Logger): Knex {
  const base: Knex.Config = logger ? { log: knexLog(logger) } : {};
  return config.client === 'sqlite' ? createSqlite(config, base) : createPg(config, base);
}

/**
 * https://knexjs.org/guide/#log: pool and migrator warnings arrive as strings. `debug: true`
 * (never set here) would also send queries with their bindings, i.e. user data.
 */
function knexLog(logger: Logger): Knex.Logger {
  const child = logger.child({ component: 'knex' });
  return {
    warn: (msg: unknown) => child.warn({ detail: msg }, 'knex warning'),
    error: (msg: unknown) => child.error({ detail: msg }, 'knex error'),
    deprecate: (method: string, alternative: string) => child.warn({ method, alternative }, 'knex deprecation'),
    debug: (msg: unknown) => child.debug({ detail: msg }, 'knex debug'),
  };
}

function createSqlite(config: SqliteConfig, base: Knex.Config): Knex {
  if (config.filename !== ':memory:') mkdirSync(path.dirname(config.filename), { recursive: true });
  return knex({
    ...base,
    client: 'better-sqlite3',
    // knex requires this for SQLite: it has no DEFAULT keyword for omitted insert columns.
    useNullAsDefault: true,
    connection: { filename: config.filename },
    acquireConnectionTimeout: config.acquireTimeoutMs,
    pool: {
      // better-sqlite3 is synchronous: a second connection waiting on SQLite's busy handler
      // would block the event loop that the lock holder needs to commit. One connection
      // serialises writers in-process instead; busy_timeout covers other processes.
      min: 1,
      max: 1,
      afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: SqliteConnection) => void) {
        try {
          // https://sqlite.org/wal.html: readers do not block the writer, nor it them.
          conn.pragma('journal_mode = WAL');
          // https://sqlite.org/pragma.html#pragma_synchronous: NORMAL is durable-enough and
          // corruption-safe in WAL mode.
          conn.pragma('synchronous = NORMAL');
          // Foreign keys are off by default in SQLite (https://sqlite.org/foreignkeys.html §2).
          conn.pragma('foreign_keys = ON');
          conn.pragma(`busy_timeout = ${Math.trunc(config.acquireTimeoutMs)}`);
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  });
}

function createPg(config: PgConfig, base: Knex.Config): Knex {
  return knex({
    ...base,
    client: 'pg',
    connection: {
      connectionString: config.url,
      application_name: 'portcullis',
      // Sent in the startup packet, so every pooled session has it without an extra round trip.
      statement_timeout: config.statementTimeoutMs,
      // pg waits forever for a TCP connect by default; an unreachable (black-holed) host must
      // fail within the acquire budget so requests get a 503 instead of hanging.
      connectionTimeoutMillis: config.acquireTimeoutMs,
    },
    // knex's pool rejects a waiting query with the first connect error (tarn's
    // propagateCreateError, on by default in knex) instead of retrying until the acquire timeout.
    pool: { min: config.pool.min, max: config.pool.max },
    acquireConnectionTimeout: config.acquireTimeoutMs,
  });
}
