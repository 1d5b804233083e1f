import { createDb, migrateLatest, migrations, type Knex } from '#shared/db/index.js';
import { pgBackend, silentLogger, sqliteBackend, type Backend } from '../db/fixtures/backends.js';

export { silentLogger };
export const SECRET = 'test-audit-hmac-key';

/** A fresh database of one backend with every migration (0007_audit included) applied. */
export async function auditDb(backend: Backend): Promise<{ db: Knex; dispose(): Promise<void> }> {
  const temp = await backend();
  const db = createDb(temp.config, silentLogger);
  await migrateLatest(db, migrations);
  return {
    db,
    async dispose() {
      await db.destroy();
      await temp.dispose();
    },
  };
}

export const backends: Record<'sqlite' | 'pg', (url: string) => Backend> = {
  sqlite: () => sqliteBackend,
  pg: (url) => pgBackend(url),
};
