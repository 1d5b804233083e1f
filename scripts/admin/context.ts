import { loadConfig, type Config } from '#shared/config/index.js';
import { createDb } from '#shared/db/index.js';
import type { Knex } from 'knex';
import type { AdminEnv } from './types.js';

/** Commands read the same configuration as the services (env, Secrets Manager, defaults). */
export async function adminConfig(env: AdminEnv): Promise<Config> {
  return (await loadConfig(env)).config;
}

/** Runs `fn` with a database handle that is always closed afterwards. */
export async function withDb<T>(env: AdminEnv, fn: (db: Knex, config: Config) => Promise<T>): Promise<T> {
  const config = await adminConfig(env);
  const db = createDb(config.db);
  try {
    return await fn(db, config);
  } finally {
    await db.destroy();
  }
}
