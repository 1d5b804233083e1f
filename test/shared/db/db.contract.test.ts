import { PG_SKIP_REASON, PG_URL, describeWithService } from '../../helpers/services.js';
import { contractFor } from './contract.js';
import { pgBackend, sqliteBackend } from './fixtures/backends.js';

/** The one relational-storage contract (DESIGN.md, "Storage and infrastructure"), per backend. */
describe('shared/db contract: SQLite (better-sqlite3, temp file)', () => contractFor(sqliteBackend, 'sqlite'));

describeWithService('shared/db contract: PostgreSQL (temp database)', PG_URL, PG_SKIP_REASON, (url) =>
  contractFor(pgBackend(url), 'pg'),
);
