import { dataContract } from './contract.data.js';
import { migrationContract } from './contract.migrations.js';
import type { Backend } from './fixtures/backends.js';

/**
 * The relational-storage contract every backend must meet. Backend differences are limited to
 * which names a driver reports for a violated constraint (`kind`).
 */
export function contractFor(backend: Backend, kind: 'sqlite' | 'pg'): void {
  migrationContract(backend);
  dataContract(backend, kind);
}
