import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createDb, type Knex } from '#shared/db/index.js';
import { silentLogger } from './fixtures/backends.js';

describe('shared/db SQLite connection setup', () => {
  let dir: string;
  let db: Knex;
  let filename: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-sqlite-'));
    filename = path.join(dir, 'not', 'yet', 'there', 'portcullis.sqlite');
    db = createDb({ client: 'sqlite', filename, acquireTimeoutMs: 1234, migrateOnStart: false }, silentLogger);
  });
  after(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the database file under a folder that did not exist', async () => {
    await db.raw('select 1');
    expect(existsSync(filename)).to.equal(true);
  });

  it('enables WAL, foreign keys and the busy timeout on every connection', async () => {
    const pragma = async (name: string) => Object.values(((await db.raw(`pragma ${name}`)) as object[])[0]!)[0];
    expect(await pragma('journal_mode')).to.equal('wal');
    expect(await pragma('foreign_keys')).to.equal(1);
    expect(await pragma('busy_timeout')).to.equal(1234);
    expect(await pragma('synchronous')).to.equal(1);
  });
});
