import type { Migration } from '../migrator.js';

/**
 * Billing: Stripe-backed entitlements with a quota per period, idempotent usage records and the
 * ledger of Stripe webhook events. Times are epoch ms; Stripe's own seconds are converted.
 *
 * `entitlements` gains its billing columns here (rows inserted without them — tests, admin —
 * stay valid: everything is nullable or defaulted). `status` gains the value `pending`
 * (a subscription not paid yet), which `hasActiveEntitlement` already treats as not entitled.
 */
export const billing: Migration = {
  name: '0006_billing',
  async up(knex) {
    await knex.schema.alterTable('entitlements', (t) => {
      t.integer('quota_units');
      t.string('quota_period', 8);
      t.integer('quota_remaining').notNullable().defaultTo(0);
      t.bigInteger('period_start');
      t.bigInteger('period_end');
      t.string('stripe_customer_id', 255);
      t.string('stripe_subscription_id', 255);
      t.string('stripe_checkout_session_id', 255);
      t.string('stripe_payment_intent_id', 255);
      t.string('subscription_status', 32);
      /** Stripe `event.created` (ms) of the subscription state last applied: older events lose. */
      t.bigInteger('updated_from_event_at');
      t.string('revoked_reason', 32);
    });
    await knex.schema.alterTable('entitlements', (t) => {
      // NULLs are distinct in both SQLite and PostgreSQL unique indexes: manual grants stay allowed.
      t.unique(['stripe_subscription_id'], { indexName: 'entitlements_stripe_subscription_unique' });
      t.unique(['stripe_checkout_session_id'], { indexName: 'entitlements_stripe_checkout_unique' });
      t.index(['stripe_payment_intent_id'], 'entitlements_stripe_payment_intent_idx');
    });
    await knex.schema.createTable('billing_customers', (t) => {
      t.text('user_id').primary().references('id').inTable('user');
      t.string('stripe_customer_id', 255).notNullable().unique();
      t.bigInteger('created_at').notNullable();
    });
    /** Fully refunded payments, kept so a grant that arrives after its refund is never applied. */
    await knex.schema.createTable('billing_refunds', (t) => {
      t.string('payment_intent_id', 255).primary();
      t.string('charge_id', 255).notNullable();
      t.bigInteger('refunded_at').notNullable();
    });
    await knex.schema.createTable('usage_records', (t) => {
      t.string('id', 36).primary();
      t.text('user_id').notNullable().references('id').inTable('user');
      t.string('client_req_id', 36).notNullable();
      t.string('listing_id', 36).notNullable().references('id').inTable('listings');
      t.integer('units').notNullable();
      t.string('entitlement_id', 36).references('id').inTable('entitlements');
      /** The JSON answer of the first request, replayed verbatim (plus `replayed: true`). */
      t.text('result');
      t.bigInteger('created_at').notNullable();
      t.unique(['user_id', 'client_req_id'], { indexName: 'usage_records_user_request_unique' });
      t.check('?? > 0', ['units'], 'usage_records_units_positive');
      t.index(['entitlement_id', 'created_at']);
    });
    /** No payload is stored: only what operations need (ids, type, status, times). */
    await knex.schema.createTable('stripe_events', (t) => {
      t.string('id', 255).primary();
      t.string('type', 100).notNullable();
      t.string('object_id', 255);
      t.string('status', 16).notNullable();
      t.integer('attempts').notNullable().defaultTo(1);
      t.bigInteger('event_created_at').notNullable();
      t.bigInteger('received_at').notNullable();
      t.bigInteger('processed_at');
      t.bigInteger('last_failed_at');
      t.check("?? in ('processed', 'ignored', 'failed')", ['status'], 'stripe_events_status_valid');
      t.index(['status', 'received_at']);
    });
  },
  async down(knex) {
    await knex.schema.dropTable('stripe_events');
    await knex.schema.dropTable('usage_records');
    await knex.schema.dropTable('billing_refunds');
    await knex.schema.dropTable('billing_customers');
    await knex.schema.alterTable('entitlements', (t) => {
      t.dropUnique(['stripe_subscription_id'], 'entitlements_stripe_subscription_unique');
      t.dropUnique(['stripe_checkout_session_id'], 'entitlements_stripe_checkout_unique');
      t.dropIndex(['stripe_payment_intent_id'], 'entitlements_stripe_payment_intent_idx');
    });
    await knex.schema.alterTable('entitlements', (t) => {
      t.dropColumns('quota_units', 'quota_period', 'quota_remaining', 'period_start', 'period_end', 'stripe_customer_id', 'stripe_subscription_id',
        'stripe_checkout_session_id', 'stripe_payment_intent_id', 'subscription_status', 'updated_from_event_at', 'revoked_reason');
    });
  },
};
