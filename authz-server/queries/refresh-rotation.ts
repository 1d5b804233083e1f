import type { Knex } from 'knex';
import { REVOKED_GRANT } from './oidc-models.js';
import { ACCOUNT_COLUMNS, toAccountRow, type AccountRow } from './users.js';

/**
 * SQL of the refresh grant (authz-server/oidc/refresh-rotation.ts says the rules): one read that
 * brings everything oidc-provider asks for next, and one conditional write per rotation.
 */
const TABLE = 'oidc_models';
const MODEL = 'RefreshToken';

/** Where a presented refresh token stands, and the successor it was rotated to. */
export interface ChainState {
  consumedAt: number | null;
  successorId: string | null;
  /** The successor is stored, unexpired and not consumed: nobody has used it yet. */
  successorLive: boolean;
}

export interface RefreshLookup extends ChainState {
  payload: string;
  /** The token's grant (payload JSON), or null when it is gone or expired. */
  grant: string | null;
  /** The token's account, or null when there is no such user. */
  account: AccountRow | null;
}

/** The successor a rotation stores. */
export interface SuccessorRow {
  id: string;
  payload: string;
  grantId: string | null;
  accountId: string | null;
  expiresAt: number | null;
}

const unexpired = (alias: string, now: number) => (q: Knex.QueryBuilder) => q.whereNull(`${alias}.expires_at`).orWhere(`${alias}.expires_at`, '>', now);

/** One live refresh token row (not expired, its grant not revoked) with its successor's state. */
function chainQuery(db: Knex, id: string, now: number): Knex.QueryBuilder {
  return db(`${TABLE} as m`)
    .leftJoin(`${TABLE} as s`, (j) => j.on('s.id', '=', 'm.successor_id').andOnVal('s.model', '=', MODEL))
    .select('m.payload', 'm.consumed_at', 'm.successor_id', 's.id as s_id', 's.consumed_at as s_consumed_at', 's.expires_at as s_expires_at')
    .where('m.model', MODEL)
    .andWhere('m.id', id)
    .andWhere(unexpired('m', now))
    .andWhere((q) =>
      q.whereNull('m.grant_id').orWhereNotExists(db(`${TABLE} as t`).select(db.raw('1')).where('t.model', REVOKED_GRANT).andWhereRaw('t.id = m.grant_id')),
    );
}

function chainState(row: Record<string, unknown>, now: number): ChainState {
  const expiresAt = row.s_expires_at === null ? null : Number(row.s_expires_at);
  return {
    consumedAt: row.consumed_at === null ? null : Number(row.consumed_at),
    successorId: (row.successor_id as string | null) ?? null,
    successorLive: row.s_id !== null && row.s_id !== undefined && row.s_consumed_at === null && (expiresAt === null || expiresAt > now),
  };
}

/** The token row with its successor's state, its grant and its account (no LIMIT: by primary key). */
function lookupQuery(db: Knex, id: string, now: number): Knex.QueryBuilder {
  return chainQuery(db, id, now)
    .leftJoin(`${TABLE} as g`, (j) => j.on('g.id', '=', 'm.grant_id').andOnVal('g.model', '=', 'Grant'))
    .leftJoin('user as u', 'u.id', 'm.account_id')
    .select('g.payload as g_payload', 'g.expires_at as g_expires_at', ...ACCOUNT_COLUMNS.map((c) => `u.${c} as u_${c}`));
}

function toLookup(row: Record<string, unknown> | undefined, now: number): RefreshLookup | undefined {
  if (!row || row.payload === null || row.payload === undefined) return undefined;
  const grantLive = row.g_payload !== null && (row.g_expires_at === null || Number(row.g_expires_at) > now);
  const user = Object.fromEntries(ACCOUNT_COLUMNS.map((c) => [c, row[`u_${c}`]])) as Parameters<typeof toAccountRow>[0];
  return { ...chainState(row, now), payload: row.payload as string, grant: grantLive ? (row.g_payload as string) : null, account: row.u_id === null ? null : toAccountRow(user) };
}

/**
 * The refresh token, its grant and its account in one round trip: oidc-provider looks up all
 * three in a row (lib/actions/grants/refresh_token.js: RefreshToken.find, validateGrant,
 * validateAccount).
 */
export async function findRefreshForGrant(db: Knex, id: string, now: number): Promise<RefreshLookup | undefined> {
  return toLookup(await lookupQuery(db, id, now).first(), now);
}

/**
 * The client (its metadata, as in oauth_clients) and the refresh token it presents, with the
 * token's grant and account: everything a refresh grant reads, in one round trip. oidc-provider
 * authenticates the client before it reads the token; the token part is kept for that read.
 */
export async function findClientWithRefresh(db: Knex, clientId: string, tokenId: string, now: number): Promise<{ metadata: string; token: RefreshLookup | undefined } | undefined> {
  const row = await db('oauth_clients as c')
    .leftJoin(lookupQuery(db, tokenId, now).as('t'), (j) => j.on(db.raw('1 = 1')))
    .select('c.metadata as c_metadata', 't.*')
    .where('c.client_id', clientId)
    .first();
  return row ? { metadata: row.c_metadata as string, token: toLookup(row, now) } : undefined;
}

const INSERT = `INSERT INTO ${TABLE} (model, id, payload, grant_id, account_id, expires_at) SELECT '${MODEL}', ?, ?, ?, ?, CAST(? AS bigint)`;
const insertBindings = (n: SuccessorRow) => [n.id, n.payload, n.grantId, n.accountId, n.expiresAt];
const isPg = (db: Knex) => db.client.config.client === 'pg';

/**
 * First use of `oldId`: consumed (conditionally — exactly one concurrent caller wins) and its
 * successor stored, all or nothing: a failure between the two can no longer leave a consumed
 * token without a successor. On PostgreSQL one statement (a data-modifying CTE); on SQLite a
 * transaction on the one connection. False: `oldId` was consumed by someone else first.
 */
export async function rotate(db: Knex, oldId: string, next: SuccessorRow, now: number): Promise<boolean> {
  if (isPg(db)) {
    const res = await db.raw(
      `WITH consumed AS (UPDATE ${TABLE} SET consumed_at = ?, successor_id = ? WHERE model = '${MODEL}' AND id = ? AND consumed_at IS NULL RETURNING id) ${INSERT} FROM consumed`,
      [now, next.id, oldId, ...insertBindings(next)],
    );
    return res.rowCount === 1;
  }
  return db.transaction(async (trx) => {
    const consumed = await trx(TABLE).where({ model: MODEL, id: oldId }).whereNull('consumed_at').update({ consumed_at: now, successor_id: next.id });
    if (consumed !== 1) return false;
    await trx.raw(INSERT, insertBindings(next));
    return true;
  });
}

/**
 * A retry of `oldId`, rotated after `rotatedAfter` to `seen`: `oldId` now points at `next`,
 * `seen` is consumed (retired unused: presenting it later is reuse), `next` is stored. Each
 * step is conditional on the state the request saw, so of concurrent retries one wins, and a
 * successor that was used meanwhile is never retired. False: nothing was stored (`oldId` may
 * point at the missing `next`: the caller revokes the grant).
 */
export async function rerotate(db: Knex, oldId: string, seen: string, next: SuccessorRow, now: number, rotatedAfter: number): Promise<boolean> {
  if (isPg(db)) {
    const res = await db.raw(
      `WITH moved AS (UPDATE ${TABLE} SET successor_id = ? WHERE model = '${MODEL}' AND id = ? AND successor_id = ? AND consumed_at > ? RETURNING id),
            retired AS (UPDATE ${TABLE} SET consumed_at = ? WHERE model = '${MODEL}' AND id = ? AND consumed_at IS NULL AND EXISTS (SELECT 1 FROM moved) RETURNING id)
       ${INSERT} FROM retired`,
      [next.id, oldId, seen, rotatedAfter, now, seen, ...insertBindings(next)],
    );
    return res.rowCount === 1;
  }
  return db.transaction(async (trx) => {
    const moved = await trx(TABLE).where({ model: MODEL, id: oldId, successor_id: seen }).andWhere('consumed_at', '>', rotatedAfter).update({ successor_id: next.id });
    if (moved !== 1) return false;
    const retired = await trx(TABLE).where({ model: MODEL, id: seen }).whereNull('consumed_at').update({ consumed_at: now });
    if (retired !== 1) return false;
    await trx.raw(INSERT, insertBindings(next));
    return true;
  });
}
