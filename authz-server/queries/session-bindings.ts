import type { Knex } from 'knex';
import { revokeGrant } from './oidc-models.js';

/** SQL for oidc_session_bindings (migration 0008). Times are epoch milliseconds. */
const TABLE = 'oidc_session_bindings';

export interface SessionBinding {
  authSessionId: string;
  accountId: string;
}

export async function bindSession(db: Knex, row: { sessionUid: string; authSessionId: string; accountId: string; expiresAt: number }): Promise<void> {
  await db(TABLE)
    .insert({ session_uid: row.sessionUid, auth_session_id: row.authSessionId, account_id: row.accountId, expires_at: row.expiresAt })
    .onConflict('session_uid')
    .merge(['auth_session_id', 'account_id', 'expires_at']);
}

export async function unbindSession(db: Knex, sessionUid: string): Promise<void> {
  await db(TABLE).where('session_uid', sessionUid).del();
}

/** Whether better-auth's session row is still there (its table is better-auth's, read only here). */
export async function sessionRowExists(db: Knex, authSessionId: string): Promise<boolean> {
  return Boolean(await db('session').select('id').where('id', authSessionId).first());
}

export async function findBinding(db: Knex, sessionUid: string, now: number): Promise<SessionBinding | undefined> {
  const row = await db(TABLE).select('auth_session_id', 'account_id').where('session_uid', sessionUid).andWhere('expires_at', '>', now).first();
  return row ? { authSessionId: row.auth_session_id, accountId: row.account_id } : undefined;
}

interface StoredAuthorization {
  grantId?: string;
  persistsLogout?: boolean;
}

/**
 * Ends the OpenID sessions created from these better-auth sessions: their rows and bindings
 * are deleted and the grants they hold are revoked — the grants a logout would revoke
 * (oidc-provider's end_session: not those marked persistsLogout, i.e. offline_access), or
 * every one of them with `includeOffline` (the owner ended a session they do not trust).
 * Returns the grants it revoked (for the change bus: their access tokens die at the API too).
 */
export async function endBoundSessions(db: Knex, authSessionIds: readonly string[], opts: { includeOffline: boolean; tombstoneExpiresAt: number }): Promise<string[]> {
  if (authSessionIds.length === 0) return [];
  const uids = (await db(TABLE).select('session_uid').whereIn('auth_session_id', authSessionIds)).map((r) => r.session_uid as string);
  if (uids.length === 0) return [];
  const sessions = await db('oidc_models').select('payload').where('model', 'Session').whereIn('uid', uids);
  const revoked: string[] = [];
  for (const { payload } of sessions) {
    const authorizations = (JSON.parse(payload as string) as { authorizations?: Record<string, StoredAuthorization> }).authorizations ?? {};
    for (const a of Object.values(authorizations)) {
      if (!a.grantId || (!opts.includeOffline && a.persistsLogout)) continue;
      await revokeGrant(db, a.grantId, opts.tombstoneExpiresAt);
      revoked.push(a.grantId);
    }
  }
  await db('oidc_models').where('model', 'Session').whereIn('uid', uids).del();
  await db(TABLE).whereIn('session_uid', uids).del();
  return revoked;
}


export async function purgeExpiredBindings(db: Knex, now: number): Promise<number> {
  return db(TABLE).where('expires_at', '<=', now).del();
}
