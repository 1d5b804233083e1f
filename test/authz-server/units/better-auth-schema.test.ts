import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { getMigrations } from 'better-auth/db/migration';
import { loadConfig, type Config } from '#shared/config/index.js';
import { createDb, migrateLatest } from '#shared/db/index.js';
import { authOptions, createAuthDatabase } from '#shared/auth/better-auth.js';
import { PG_SKIP_REASON, PG_URL, createTempDatabase, describeWithService } from '../../helpers/services.js';

type Plan = Awaited<ReturnType<typeof getMigrations>>;

/** better-auth's own planner, run against our migrated database, with its warnings kept. */
async function plan(config: Config): Promise<{ plan: Plan; warnings: string[] }> {
  const authDb = createAuthDatabase(config);
  const warnings: string[] = [];
  try {
    const options = {
      ...authOptions(config, authDb.database),
      logger: { level: 'warn' as const, log: (level: string, message: string) => void (level === 'warn' || level === 'error' ? warnings.push(message) : undefined) },
    };
    return { plan: await getMigrations(options), warnings };
  } finally {
    await authDb.close();
  }
}

function schemaContract(env: () => Promise<{ dataDir: string; databaseUrl?: string; dispose(): Promise<void> }>): void {
  let config: Config;
  let dispose: () => Promise<void>;

  before(async () => {
    const e = await env();
    dispose = e.dispose;
    ({ config } = await loadConfig({ DATA_DIR: e.dataDir, LOG_LEVEL: 'silent', ...(e.databaseUrl ? { DATABASE_URL: e.databaseUrl } : {}) }));
  });
  after(() => dispose?.());

  it('on an empty database, better-auth would create all its tables (the check has teeth)', async () => {
    const { plan: p } = await plan(config);
    expect(p.toBeCreated.map((t) => t.table).sort()).to.deep.equal(['account', 'session', 'twoFactor', 'user', 'verification']);
  });

  it('after migrateLatest, better-auth finds nothing to create or add', async () => {
    const db = createDb(config.db);
    try {
      await migrateLatest(db);
    } finally {
      await db.destroy();
    }
    const { plan: p, warnings } = await plan(config);
    expect(p.toBeCreated.map((t) => t.table)).to.deep.equal([]);
    expect(p.toBeAdded.map((t) => `${t.table}: ${Object.keys(t.fields).join(',')}`)).to.deep.equal([]);
    expect(p.unsafeChanges).to.deep.equal([]);
    expect(p.schemaProblems).to.deep.equal([]);
    expect(warnings).to.deep.equal([]);
    expect(await p.compileMigrations()).to.not.match(/create table|alter table/i);
  });
}

describe('better-auth schema vs our migrations (SQLite)', () =>
  schemaContract(async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-ba-'));
    return { dataDir, dispose: () => rm(dataDir, { recursive: true, force: true }) };
  }));

describeWithService('better-auth schema vs our migrations (PostgreSQL)', PG_URL, PG_SKIP_REASON, (url) =>
  schemaContract(async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-ba-'));
    const temp = await createTempDatabase(url);
    return {
      dataDir,
      databaseUrl: temp.url,
      dispose: async () => {
        await temp.drop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  }));
