export type { Knex } from 'knex';
export { createDb } from './knex.js';
export { translateDbError } from './errors.js';
export { withTransaction, isUnavailable } from './transaction.js';
export { migrateLatest, migrateRollback, migrationStatus, type Migration, type MigrationStatus } from './migrator.js';
export { migrations } from './migrations/index.js';
export { pingDb } from './ping.js';
