import pg from 'pg';
import { randomBytes } from 'node:crypto';

/**
 * Service-backed suites run only when the service is configured (CI sets both).
 * Each returns the URL, or undefined with the reason logged by the caller's `skip`.
 */
export const PG_URL = process.env.DATABASE_URL || undefined;
export const REDIS_URL = process.env.REDIS_URL || undefined;
export const PG_SKIP_REASON = 'DATABASE_URL is not set: PostgreSQL suite skipped';
export const REDIS_SKIP_REASON = 'REDIS_URL is not set: Redis suite skipped';

/**
 * Every temporary database is named `portcullis_t_<run>_<random>`: `npm test` sets
 * PORTCULLIS_TEST_RUN and, once every worker has ended, drops what its run left behind
 * (`dropRunDatabases`) — a system shared by a worker's files (test/security/stack.ts) lives until
 * the worker exits, and a killed process cannot drop its own.
 */
export const TEMP_DB_PREFIX = 'portcullis_t_';

/** Creates an empty database next to the one in `baseUrl`; drop() removes it. */
export async function createTempDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const run = /^[a-z0-9]{1,12}$/.test(process.env.PORTCULLIS_TEST_RUN ?? '') ? process.env.PORTCULLIS_TEST_RUN : 'x';
  const name = `${TEMP_DB_PREFIX}${run}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Drops every temporary database of one `npm test` run (connections are ended by force). */
export async function dropRunDatabases(baseUrl: string, run: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: baseUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${TEMP_DB_PREFIX}${run}\\_%`]);
    for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    return rows.map((r) => r.datname);
  } finally {
    await c.end();
  }
}

/**
 * `describe` for a suite that needs a service: when the URL is missing the suite is reported
 * as skipped, with the reason in its title (mocha prints it among the pending tests).
 */
export function describeWithService(title: string, url: string | undefined, reason: string, fn: (url: string) => void): void {
  if (url) describe(title, () => fn(url));
  else describe.skip(`${title} — skipped: ${reason}`, () => fn(''));
}
