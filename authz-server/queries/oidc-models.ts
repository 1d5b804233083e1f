import type { Knex } from 'knex';

/** SQL for the oidc_models table. Times are epoch milliseconds. */
export const REVOKED_GRANT = 'RevokedGrant';

/**
 * How long a revoked grant's tombstone must outlive the revocation: as long as anything the
 * grant issued could still be presented (the absolute refresh lifetime, plus an access token).
 */
export function tombstoneTtlS(tokens: { refreshAbsoluteTtlS: number; accessTokenTtlS: number }): number {
  return tokens.refreshAbsoluteTtlS + tokens.accessTokenTtlS;
}
const TABLE = 'oidc_models';

export interface ModelRow {
  payload: string;
  consumed_at: number | string | null;
  grant_id: string | null;
}

export async function upsertModel(
  db: Knex,
  row: { model: string; id: string; payload: string; grantId: string | null; userCode: string | null; uid: string | null; accountId: string | null; expiresAt: number | null },
): Promise<void> {
  await db(TABLE)
    .insert({ model: row.model, id: row.id, payload: row.payload, grant_id: row.grantId, user_code: row.userCode, uid: row.uid, account_id: row.accountId, expires_at: row.expiresAt, consumed_at: null })
    .onConflict(['model', 'id'])
    .merge(['payload', 'grant_id', 'user_code', 'uid', 'account_id', 'expires_at']);
}

/**
 * One live row: not expired, and not belonging to a revoked grant. The tombstone check is
 * what makes revocation final even for a token written concurrently with the revocation.
 */
export function findModel(db: Knex, model: string, column: 'id' | 'uid' | 'user_code', value: string, now: number): Promise<ModelRow | undefined> {
  return db(`${TABLE} as m`)
    .select('m.payload', 'm.consumed_at', 'm.grant_id')
    .where('m.model', model)
    .andWhere(`m.${column}`, value)
    .andWhere((q) => q.whereNull('m.expires_at').orWhere('m.expires_at', '>', now))
    .andWhere((q) =>
      q.whereNull('m.grant_id').orWhereNotExists(
        db(`${TABLE} as t`).select(db.raw('1')).where('t.model', REVOKED_GRANT).andWhereRaw('t.id = m.grant_id'),
      ),
    )
    .first();
}

/** Conditional update: exactly one concurrent caller gets 1, every other gets 0. */
export async function consumeModel(db: Knex, model: string, id: string, now: number): Promise<number> {
  return db(TABLE).where({ model, id }).whereNull('consumed_at').update({ consumed_at: now });
}

export async function grantIdOf(db: Knex, model: string, id: string): Promise<string | null> {
  const row = await db(TABLE).select('grant_id').where({ model, id }).first();
  return row?.grant_id ?? null;
}

export async function destroyModel(db: Knex, model: string, id: string): Promise<void> {
  await db(TABLE).where({ model, id }).del();
}

/**
 * Tombstone first (so readers stop seeing the grant at once), then delete its rows. A refresh
 * retry updates two rows of the grant in one statement (queries/refresh-rotation.ts rerotate);
 * PostgreSQL may break the lock cycle with this DELETE by failing one of them (SQLSTATE 40P01,
 * nothing of it done). A revocation must not be lost that way: it runs again.
 */
export async function revokeGrant(db: Knex, grantId: string, tombstoneExpiresAt: number): Promise<void> {
  await retryDeadlock(() =>
    db.transaction(async (trx) => {
      await trx(TABLE)
        .insert({ model: REVOKED_GRANT, id: grantId, payload: '{}', grant_id: null, expires_at: tombstoneExpiresAt })
        .onConflict(['model', 'id'])
        .ignore();
      await trx(TABLE).where('grant_id', grantId).del();
    }),
  );
}

/** SQLSTATE 40P01: PostgreSQL chose this transaction to end a deadlock and rolled it back. */
export const isDeadlock = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === '40P01';

async function retryDeadlock<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isDeadlock(err) || attempt >= attempts) throw err;
    }
  }
}

export async function purgeExpired(db: Knex, now: number): Promise<number> {
  return db(TABLE).whereNotNull('expires_at').andWhere('expires_at', '<=', now).del();
}

/**
 * Everything the provider holds for one account: every grant is revoked (tombstoned, so its
 * refresh and opaque access tokens die) and every OpenID session is deleted.
 */
export async function revokeAccount(db: Knex, accountId: string, tokens: Parameters<typeof tombstoneTtlS>[0]): Promise<number> {
  const tombstoneExpiresAt = Date.now() + tombstoneTtlS(tokens) * 1000;
  const grants = await db(TABLE).distinct('grant_id').where('account_id', accountId).whereNotNull('grant_id');
  for (const { grant_id } of grants) await revokeGrant(db, grant_id as string, tombstoneExpiresAt);
  await db(TABLE).where({ model: 'Session', account_id: accountId }).del();
  await db('oidc_session_bindings').where('account_id', accountId).del();
  return grants.length;
}
