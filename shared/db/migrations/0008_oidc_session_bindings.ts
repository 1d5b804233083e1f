import type { Migration } from '../migrator.js';

/**
 * Which better-auth session each OpenID session was created from (keyed by the provider
 * session's `uid`, which survives its identifier rotation). The OpenID session is valid only
 * while that better-auth session is (authz-server/oidc/session-binding.ts), and ending the
 * better-auth session ends it: both lookups are indexed.
 */
export const oidcSessionBindings: Migration = {
  name: '0008_oidc_session_bindings',
  async up(knex) {
    await knex.schema.createTable('oidc_session_bindings', (t) => {
      t.string('session_uid', 255).primary();
      t.string('auth_session_id', 255).notNullable();
      t.string('account_id', 255).notNullable();
      t.bigInteger('expires_at').notNullable();
      t.index(['auth_session_id']);
      t.index(['account_id']);
      t.index(['expires_at']);
    });
  },
  async down(knex) {
    await knex.schema.dropTable('oidc_session_bindings');
  },
};
