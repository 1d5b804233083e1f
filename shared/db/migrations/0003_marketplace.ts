import type { Migration } from '../migrator.js';

/**
 * Marketplace data: listings (agents for sale), reviews, and entitlements (who may use and
 * review a listing; granted by billing). Money is in minor units; times are epoch ms.
 */
export const marketplace: Migration = {
  name: '0003_marketplace',
  async up(knex) {
    await knex.schema.createTable('listings', (t) => {
      t.string('id', 36).primary();
      t.string('slug', 80).notNullable().unique();
      t.text('publisher_id').notNullable().references('id').inTable('user');
      t.string('title', 120).notNullable();
      t.string('summary', 280).notNullable();
      t.text('description').notNullable();
      t.string('status', 16).notNullable();
      t.string('price_type', 16).notNullable();
      t.string('price_interval', 8);
      t.string('currency', 3).notNullable();
      t.integer('amount_minor').notNullable();
      t.integer('quota_units').notNullable();
      t.string('quota_period', 8).notNullable();
      t.integer('rating_count').notNullable().defaultTo(0);
      t.integer('rating_sum').notNullable().defaultTo(0);
      t.text('search_text').notNullable();
      t.bigInteger('created_at').notNullable();
      t.bigInteger('updated_at').notNullable();
      t.bigInteger('published_at');
      t.bigInteger('deleted_at');
      t.check("?? in ('draft', 'published', 'suspended', 'deleted')", ['status'], 'listings_status_valid');
      t.check('?? >= 0', ['amount_minor'], 'listings_amount_nonnegative');
      t.check('?? >= 0', ['quota_units'], 'listings_quota_nonnegative');
      t.index(['status', 'published_at', 'id']);
      t.index(['publisher_id']);
    });
    await knex.schema.createTable('entitlements', (t) => {
      t.string('id', 36).primary();
      t.text('user_id').notNullable().references('id').inTable('user');
      t.string('listing_id', 36).notNullable().references('id').inTable('listings');
      t.string('status', 16).notNullable();
      t.bigInteger('granted_at').notNullable();
      t.bigInteger('revoked_at');
      t.index(['user_id', 'listing_id']);
    });
    await knex.schema.createTable('reviews', (t) => {
      t.string('id', 36).primary();
      t.string('listing_id', 36).notNullable().references('id').inTable('listings');
      t.text('user_id').notNullable().references('id').inTable('user');
      t.integer('rating').notNullable();
      t.text('body').notNullable();
      t.string('status', 16).notNullable();
      t.bigInteger('created_at').notNullable();
      t.bigInteger('updated_at').notNullable();
      t.unique(['listing_id', 'user_id']);
      t.check('?? between 1 and 5', ['rating'], 'reviews_rating_range');
      t.index(['listing_id', 'created_at', 'id']);
    });
  },
  async down(knex) {
    await knex.schema.dropTable('reviews');
    await knex.schema.dropTable('entitlements');
    await knex.schema.dropTable('listings');
  },
};
