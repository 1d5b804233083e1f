import type { Knex } from 'knex';

/** Whether `userId` currently holds an active entitlement (granted by billing) to the listing. */
export async function hasActiveEntitlement(db: Knex, userId: string, listingId: string): Promise<boolean> {
  const row = await db('entitlements').select('id').where({ user_id: userId, listing_id: listingId, status: 'active' }).first();
  return row !== undefined;
}

/** Active entitlements of a user, newest first. */
export async function activeEntitlements(db: Knex, userId: string): Promise<{ listing_id: string; granted_at: number | string }[]> {
  return db('entitlements').select('listing_id', 'granted_at').where({ user_id: userId, status: 'active' }).orderBy('granted_at', 'desc');
}
