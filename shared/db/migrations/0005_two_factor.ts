import type { Knex } from 'knex';
import type { Migration } from '../migrator.js';

/** better-auth `twoFactor` plugin tables (TOTP secret, backup codes, attempt counter). */
function date(knex: Knex, t: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder {
  return knex.client.config.client === 'pg' ? t.timestamp(name, { useTz: true }) : t.specificType(name, 'date');
}

export const twoFactor: Migration = {
  name: '0005_two_factor',
  async up(knex) {
    await knex.schema.alterTable('user', (t) => {
      t.boolean('twoFactorEnabled').defaultTo(false);
    });
    await knex.schema.createTable('twoFactor', (t) => {
      t.text('id').primary();
      t.text('secret').notNullable();
      t.text('backupCodes').notNullable();
      t.text('userId').notNullable().references('id').inTable('user').onDelete('CASCADE');
      t.boolean('verified').defaultTo(true);
      t.integer('failedVerificationCount').defaultTo(0);
      date(knex, t, 'lockedUntil');
      t.index(['secret']);
      t.index(['userId']);
    });
  },
  async down(knex) {
    await knex.schema.dropTable('twoFactor');
    await knex.schema.alterTable('user', (t) => t.dropColumn('twoFactorEnabled'));
  },
};
