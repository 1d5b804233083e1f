import type { Knex } from 'knex';

/** Whether `userId` currently holds an active entitlement (granted by billing) to the listing. */
export async function hasActiveEntitlement(db: Knex, userId: string, listingId: string): Promise<boolean> {
  const row = await db('entitlements').select('id').where({ user_id: userId, listing_id: listingId, status: 'active' }).first();
  return row !== undefined;
}
