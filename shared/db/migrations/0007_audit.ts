import type { Migration } from '../migrator.js';

/**
 * The audit trail (STYLE.md habit 8). Rows hold only what `shared/audit/redact.ts` lets
 * through: ids, a truncated IP prefix, a truncated user agent and allow-listed properties as
 * JSON text. `created_at` is epoch milliseconds (bigint) like every other table, so the purge
 * job compares the same way on SQLite and PostgreSQL; (created_at, id) also serves paging.
 */
export const audit: Migration = {
  name: '0007_audit',
  async up(knex) {
    await knex.schema.createTable('audit_log', (t) => {
      t.string('id', 36).primary();
      t.string('event', 64).notNullable();
      t.string('outcome', 16).notNullable();
      t.string('actor_user_id', 255);
      t.string('actor_client_id', 255);
      t.string('subject_type', 64);
      t.string('subject_id', 255);
      t.string('request_id', 128);
      t.string('ip_prefix', 64);
      t.string('user_agent', 200);
      t.text('properties').notNullable();
      t.bigInteger('created_at').notNullable();
      t.check("?? in ('success', 'failure', 'denied')", ['outcome'], 'audit_log_outcome_valid');
      t.index(['created_at', 'id']);
      t.index(['event']);
      t.index(['actor_user_id']);
    });
  },
  async down(knex) {
    await knex.schema.dropTable('audit_log');
  },
};
