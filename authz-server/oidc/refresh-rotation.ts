import type { Knex } from 'knex';
import Provider, { errors, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import type { AccountRow } from '../queries/users.js';
import { isDeadlock, revokeGrant } from '../queries/oidc-models.js';
import { findClientWithRefresh, findRefreshForGrant, rerotate, rotate, type ChainState, type RefreshLookup } from '../queries/refresh-rotation.js';
import type { AdapterOptions } from './adapter.js';

/**
 * The refresh grant on our storage. oidc-provider calls, in this order (lib/actions/token.js,
 * lib/actions/grants/refresh_token.js): Client.find → RefreshToken.find → Grant.find →
 * findAccount → consume() → save() of the successor. The first call reads everything the next
 * three need in the same round trip; consume() only marks the rotation, which save() performs
 * in one conditional write with the successor's insert. What a request learned is kept per request (keyed by its Koa context), never across
 * requests: nothing here needs invalidating.
 */
export interface Presented {
  id: string;
  /** The grant read with the token (payload null: gone or expired). */
  grant: { id: string | null; payload: AdapterPayload | null };
  /** The account read with the token (row null: no such user). */
  account: { id: string | null; row: AccountRow | null };
  /** Set when the token was presented again within the retry window: the successor it saw. */
  retryOf?: string;
  /** consume() was called: the successor's save() performs the rotation. */
  rotating: boolean;
}

const byRequest = new WeakMap<object, Presented>();
/** The token read with the client, for RefreshToken.find of the same request. */
const readWithClient = new WeakMap<object, { id: string; lookup: RefreshLookup | undefined }>();

/** The current request when it is a refresh grant at the token endpoint. */
export function refreshGrantRequest(): KoaContextWithOIDC | undefined {
  const ctx = Provider.ctx;
  return ctx?.oidc?.route === 'token' && ctx.oidc.params?.grant_type === 'refresh_token' ? ctx : undefined;
}

export function presented(ctx: object | undefined): Presented | undefined {
  return ctx ? byRequest.get(ctx) : undefined;
}

/** The account findAccount would read, when this request already read it with its token. */
export function prefetchedAccount(ctx: object | undefined, sub: string): AccountRow | null | undefined {
  const p = presented(ctx);
  return p && p.account.id === sub ? p.account.row : undefined;
}

export type Verdict = 'live' | 'retry' | 'reuse';

/**
 * RFC 9700 §4.14.2: a rotated refresh token presented again is reuse, and the grant is revoked.
 * One exception, for a client that never received the answer to its refresh (a cut connection,
 * a restart): the same token again within `windowMs` of its rotation, while the successor it
 * was rotated to is unused, is a retry — the caller checks that it comes from the same client;
 * oidc-provider checks the DPoP key of a bound token. Anything else rotated is reuse.
 */
export function judge(state: ChainState, now: number, windowMs: number): Verdict {
  if (state.consumedAt === null) return 'live';
  const recent = now - state.consumedAt <= windowMs;
  return windowMs > 0 && recent && state.successorId !== null && state.successorLive ? 'retry' : 'reuse';
}

const windowOf = (opts: AdapterOptions) => (opts.refreshRetryWindowS ?? 0) * 1000;

/** Reuse: the grant is revoked as adapter.revokeByGrantId does (tombstone, then the change bus). */
async function revoke(db: Knex, opts: AdapterOptions, grantId: string | null, now: number): Promise<void> {
  if (!grantId) return;
  await revokeGrant(db, grantId, now + opts.tombstoneTtlS * 1000);
  await opts.onGrantRevoked?.(grantId);
}

/**
 * Client.find in a refresh grant: the client's metadata, and the token it presents read in the
 * same statement. Null when the request names no token to read (then the plain lookup runs).
 */
export async function clientOfRefreshGrant(db: Knex, ctx: KoaContextWithOIDC, clientId: string): Promise<AdapterPayload | undefined | null> {
  const token = ctx.oidc.params?.refresh_token;
  if (typeof token !== 'string' || token.length === 0 || token.length > 255) return null;
  const found = await findClientWithRefresh(db, clientId, token, Date.now());
  // No row: a client this table does not hold (a client ID metadata document, resolved next by
  // oidc-provider) — its token is read on its own.
  if (!found) return undefined;
  readWithClient.set(ctx, { id: token, lookup: found.token });
  return { ...(JSON.parse(found.metadata) as AdapterPayload), client_id: clientId };
}

/** RefreshToken.find in a refresh grant: the token (with grant and account), judged. */
export async function presentRefreshToken(db: Knex, opts: AdapterOptions, ctx: KoaContextWithOIDC, id: string): Promise<AdapterPayload | undefined> {
  const now = Date.now();
  const early = readWithClient.get(ctx);
  const found = early?.id === id ? early.lookup : await findRefreshForGrant(db, id, now);
  if (!found) return undefined;
  const payload = JSON.parse(found.payload) as AdapterPayload;
  const seen: Presented = {
    id,
    grant: { id: payload.grantId ?? null, payload: found.grant ? (JSON.parse(found.grant) as AdapterPayload) : null },
    account: { id: payload.accountId ?? null, row: found.account },
    rotating: false,
  };
  byRequest.set(ctx, seen);
  const verdict = judge(found, now, windowOf(opts));
  if (verdict === 'live') return payload;
  // oidc-provider revokes the grant when it sees `consumed` (after its client and key checks).
  const consumed = { ...payload, consumed: Math.floor(found.consumedAt! / 1000) };
  const clientId = ctx.oidc.client?.clientId;
  if (clientId !== payload.clientId) {
    // A rotated token of this chain in another client's hands is reuse, wherever it came from;
    // oidc-provider would only answer "client mismatch".
    opts.onOtherClientReplay?.(payload.grantId ?? null, String(clientId));
    await revoke(db, opts, payload.grantId ?? null, now);
    return consumed;
  }
  if (verdict === 'reuse') return consumed;
  seen.retryOf = found.successorId!;
  return payload;
}

/** save() of the successor: the rotation itself (first use or retry), all or nothing. */
export async function rotateOnSave(db: Knex, opts: AdapterOptions, rotation: Presented, id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
  rotation.rotating = false;
  const now = Date.now();
  const next = { id, payload: JSON.stringify(payload), grantId: payload.grantId ?? null, accountId: payload.accountId ?? null, expiresAt: expiresIn ? now + expiresIn * 1000 : null };
  const write = rotation.retryOf ? rerotate(db, rotation.id, rotation.retryOf, next, now, now - windowOf(opts)) : rotate(db, rotation.id, next, now);
  // A deadlock victim (a retry's two rows against a revocation's DELETE) wrote nothing: it lost.
  const stored = await write.catch((err: unknown) => (isDeadlock(err) ? false : Promise.reject(err)));
  if (stored) {
    if (rotation.retryOf) opts.onRefreshRetry?.(next.grantId, rotation.retryOf);
    return;
  }
  // Lost a conditional write: another request rotated (or retried) this token since this one
  // read it. As for any consume, the loser is reuse: the window retries a lost answer, it does
  // not turn a race into two branches.
  opts.onReuseRace?.('RefreshToken', next.grantId);
  await revoke(db, opts, next.grantId, now);
  throw new errors.InvalidGrant('refresh token already used');
}
