import type { Migration } from '../migrator.js';

/**
 * A rotated refresh token names the token issued in its place (`successor_id`), so that a client
 * retrying a refresh whose answer it never received can be given a fresh successor while the
 * unreceived one is retired in the same statement (authz-server/queries/refresh-rotation.ts,
 * REFRESH_RETRY_WINDOW_S). Null for every other row, and for tokens rotated before this column.
 */
export const refreshSuccessors: Migration = {
  name: '0011_refresh_successors',
  async up(knex) {
    await knex.schema.alterTable('oidc_models', (t) => {
      t.string('successor_id', 255);
    });
  },
  async down(knex) {
    await knex.schema.alterTable('oidc_models', (t) => {
      t.dropColumn('successor_id');
    });
  },
};
