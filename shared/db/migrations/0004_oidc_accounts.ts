import type { Migration } from '../migrator.js';

/**
 * The account behind each provider row, so a password reset, a ban or "sign out
 * everywhere" can revoke every grant (refresh and opaque access tokens) and OpenID session
 * of a user in one query.
 */
export const oidcAccounts: Migration = {
  name: '0004_oidc_accounts',
  async up(knex) {
    await knex.schema.alterTable('oidc_models', (t) => {
      t.string('account_id', 255);
      t.index(['account_id']);
    });
  },
  async down(knex) {
    await knex.schema.alterTable('oidc_models', (t) => {
      t.dropIndex(['account_id']);
      t.dropColumn('account_id');
    });
  },
};
