import { migrateLatest, migrateRollback, migrationStatus } from '#shared/db/index.js';
import type { Command } from './types.js';
import { withDb } from './context.js';

export const dbCommands: Record<string, Command> = {
  'db:migrate': {
    summary: 'apply pending migrations',
    run: (_args, write, io) =>
      withDb(io.env, async (db, config) => {
        const before = await migrationStatus(db);
        await migrateLatest(db);
        write(`${config.db.client}: applied ${before.pending.length} migration(s)${before.pending.length ? ': ' + before.pending.join(', ') : ''}`);
      }),
  },
  'db:status': {
    summary: 'list applied and pending migrations',
    run: (_args, write, io) =>
      withDb(io.env, async (db, config) => {
        const s = await migrationStatus(db);
        write(`${config.db.client}: ${s.applied.length} applied, ${s.pending.length} pending`);
        for (const n of s.applied) write(`  applied  ${n}`);
        for (const n of s.pending) write(`  pending  ${n}`);
      }),
  },
  'db:rollback': {
    summary: 'undo the last batch of migrations',
    run: (_args, write, io) =>
      withDb(io.env, async (db, config) => {
        const before = await migrationStatus(db);
        await migrateRollback(db);
        const after = await migrationStatus(db);
        write(`${config.db.client}: rolled back ${before.applied.length - after.applied.length} migration(s)`);
      }),
  },
};
