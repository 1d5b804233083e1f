import type { Migration } from '../migrator.js';

/**
 * Storage for oidc-provider models (one table, keyed by model name and id) and for OAuth
 * clients (managed by the admin CLI). Times are epoch milliseconds in bigint columns so
 * SQLite and PostgreSQL compare them the same way.
 */
export const oidc: Migration = {
  name: '0001_oidc',
  async up(knex) {
    await knex.schema.createTable('oidc_models', (t) => {
      t.string('model', 40).notNullable();
      t.string('id', 255).notNullable();
      t.text('payload').notNullable();
      t.string('grant_id', 255);
      t.string('user_code', 255);
      t.string('uid', 255);
      t.bigInteger('expires_at');
      t.bigInteger('consumed_at');
      t.primary(['model', 'id']);
      t.index(['grant_id']);
      t.index(['uid']);
      t.index(['user_code']);
      t.index(['expires_at']);
    });
    await knex.schema.createTable('oauth_clients', (t) => {
      t.string('client_id', 255).primary();
      t.text('metadata').notNullable();
      t.bigInteger('created_at').notNullable();
      t.bigInteger('updated_at').notNullable();
    });
  },
  async down(knex) {
    await knex.schema.dropTable('oauth_clients');
    await knex.schema.dropTable('oidc_models');
  },
};
