import type { Knex } from 'knex';
import { ROLE_NAMES, type RoleName } from './permissions.js';

/**
 * Who a person is to both services, and whether they may act at all: the one user lookup and
 * the one ban rule of the authorization server (what it issues tokens for) and the API (what it
 * accepts them for). better-auth's user table is read here, never written.
 */
export interface UserAccess {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string;
  role: string | null;
  banned: boolean;
  banExpires: string | Date | null;
}

export const USER_ACCESS_COLUMNS = ['id', 'email', 'emailVerified', 'name', 'role', 'banned', 'banExpires'] as const;

/**
 * oidc-provider's tombstone of a revoked grant in oidc_models (authz-server/queries/oidc-models.ts
 * REVOKED_GRANT): the database's word on a grant when the bus cannot give it.
 */
const REVOKED_GRANT = 'RevokedGrant';

export function toUserAccess(row: Record<(typeof USER_ACCESS_COLUMNS)[number], unknown>): UserAccess {
  const r = row as unknown as UserAccess;
  return { ...r, emailVerified: Boolean(row.emailVerified), banned: Boolean(row.banned) };
}

export async function findUserAccess(db: Knex, id: string): Promise<UserAccess | undefined> {
  const row = await db('user').select(...USER_ACCESS_COLUMNS).where({ id }).first();
  return row ? toUserAccess(row) : undefined;
}

/**
 * The user and, in the same round trip, whether `grantId` has been revoked (its tombstone):
 * what the API reads for a bearer token when the bus cannot vouch for it.
 */
export async function findUserAccessWithGrant(db: Knex, id: string, grantId: string): Promise<{ user: UserAccess; grantRevoked: boolean } | undefined> {
  // A scalar subquery (at most one tombstone per grant: its primary key): 1, or null when none.
  const tombstone = db('oidc_models').select(db.raw('1')).where({ model: REVOKED_GRANT, id: grantId }).as('grantRevoked');
  const row = await db('user').select(...USER_ACCESS_COLUMNS, tombstone).where({ id }).first();
  if (!row) return undefined;
  return { user: toUserAccess(row), grantRevoked: row.grantRevoked !== null };
}

/** A ban is in force while `banned` is set and it has no end or its end is still ahead. */
export function isBanned(user: { banned: boolean | null | number; banExpires: string | Date | null }, now = Date.now()): boolean {
  if (!user.banned) return false;
  return !user.banExpires || new Date(user.banExpires).getTime() > now;
}

/** The role a person acts with: one of ours, else the least one (a stored value we do not know grants nothing). */
export function roleOf(user: Pick<UserAccess, 'role'>): RoleName {
  return (ROLE_NAMES as readonly string[]).includes(user.role ?? '') ? (user.role as RoleName) : 'user';
}
