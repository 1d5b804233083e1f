import type { Knex } from 'knex';
import type { Migration } from '../migrator.js';

/**
 * better-auth's tables (core + admin plugin), with its camelCase column names, created by
 * our migrator so one `db:migrate` sets up everything. A test compares the result with
 * better-auth's own migration planner: it must find nothing to create or add.
 */
type Table = Knex.CreateTableBuilder;

/** better-auth declares dates as `date` on SQLite (ISO strings) and `timestamptz` on PostgreSQL. */
function date(knex: Knex, t: Table, name: string): Knex.ColumnBuilder {
  return knex.client.config.client === 'pg' ? t.timestamp(name, { useTz: true }) : t.specificType(name, 'date');
}

function timestamps(knex: Knex, t: Table): void {
  date(knex, t, 'createdAt').notNullable();
  date(knex, t, 'updatedAt').notNullable();
}

export const accounts: Migration = {
  name: '0002_accounts',
  async up(knex) {
    await knex.schema.createTable('user', (t) => {
      t.text('id').primary();
      t.text('name').notNullable();
      t.text('email').notNullable().unique();
      t.boolean('emailVerified').notNullable().defaultTo(false);
      t.text('image');
      timestamps(knex, t);
      t.text('role');
      t.boolean('banned').defaultTo(false);
      t.text('banReason');
      date(knex, t, 'banExpires');
    });
    await knex.schema.createTable('session', (t) => {
      t.text('id').primary();
      date(knex, t, 'expiresAt').notNullable();
      t.text('token').notNullable().unique();
      timestamps(knex, t);
      t.text('ipAddress');
      t.text('userAgent');
      t.text('userId').notNullable().references('id').inTable('user').onDelete('CASCADE');
      t.text('impersonatedBy');
      t.index(['userId']);
    });
    await knex.schema.createTable('account', (t) => {
      t.text('id').primary();
      t.text('accountId').notNullable();
      t.text('providerId').notNullable();
      t.text('userId').notNullable().references('id').inTable('user').onDelete('CASCADE');
      t.text('accessToken');
      t.text('refreshToken');
      t.text('idToken');
      date(knex, t, 'accessTokenExpiresAt');
      date(knex, t, 'refreshTokenExpiresAt');
      t.text('scope');
      t.text('password');
      timestamps(knex, t);
      t.index(['userId']);
    });
    await knex.schema.createTable('verification', (t) => {
      t.text('id').primary();
      t.text('identifier').notNullable();
      t.text('value').notNullable();
      date(knex, t, 'expiresAt').notNullable();
      timestamps(knex, t);
      t.index(['identifier']);
    });
  },
  async down(knex) {
    for (const table of ['verification', 'account', 'session', 'user']) await knex.schema.dropTable(table);
  },
};
