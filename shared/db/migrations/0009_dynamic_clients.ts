import type { Migration } from '../migrator.js';

/**
 * Clients that registered themselves (RFC 7591, authz-server/oidc/registration.ts) live next to
 * the ones an operator created: `source` tells them apart ('admin' for every existing row), and
 * `last_used_at` (epoch ms, written at most hourly) lets the purge delete the dynamic ones
 * nobody uses (DYNAMIC_CLIENT_UNUSED_DAYS).
 */
export const dynamicClients: Migration = {
  name: '0009_dynamic_clients',
  async up(knex) {
    await knex.schema.alterTable('oauth_clients', (t) => {
      t.string('source', 16).notNullable().defaultTo('admin');
      t.bigInteger('last_used_at');
      t.index(['source'], 'oauth_clients_source_index');
    });
  },
  async down(knex) {
    await knex.schema.alterTable('oauth_clients', (t) => {
      t.dropIndex(['source'], 'oauth_clients_source_index');
      t.dropColumn('last_used_at');
      t.dropColumn('source');
    });
  },
};
