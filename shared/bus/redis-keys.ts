import type { RevocationType } from './changes.js';

/**
 * The bus's Redis keys. One hash tag, `{bus}`, puts them in one Cluster slot, so the publish
 * script may touch all of them atomically.
 *
 * - `log`: the stream of changes (XADD … MAXLEN ~), each entry `{ prev, change }`: `prev` is the
 *   id of the entry before it, so a reader knows it missed none (the chain is unbroken) — or that
 *   the stream was trimmed past it, or Redis restarted empty (a gap).
 * - `head`: the id of the last entry: what `sync()` reads on every request (one GET).
 * - `since`: epoch ms from which the deny sets are complete (set when first missing: a fresh or
 *   emptied Redis knows nothing older).
 * - `deny:*`: sorted sets of revocations, member the grant, user or client id, score the time of
 *   revocation (ms); trimmed once a token issued before it has expired.
 */
export function busKeys(prefix: string) {
  const k = (name: string) => `${prefix}{bus}:${name}`;
  return {
    log: k('log'),
    head: k('head'),
    since: k('since'),
    deny: {
      'grant.revoked': k('deny:grant'),
      'user.sessions_revoked': k('deny:user'),
      'client.deleted': k('deny:client'),
    } satisfies Record<RevocationType, string>,
  };
}

export type BusKeys = ReturnType<typeof busKeys>;

/**
 * KEYS log, head, since, deny set; ARGV max stream length, change JSON, now (ms), deny window
 * (ms), deny member ('' for a change that revokes nothing), deny score.
 * The deny state is written before the entry, in the same atomic step: a reader that sees the
 * entry finds the deny state too. ZADD GT keeps the latest time per member (a later "tokens before
 * T" covers an earlier one).
 */
export const PUBLISH_SCRIPT = `
redis.call('SET', KEYS[3], ARGV[3], 'NX')
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[4], 'GT', ARGV[6], ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (tonumber(ARGV[3]) - tonumber(ARGV[4])))
end
local prev = redis.call('GET', KEYS[2]) or '0-0'
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'prev', prev, 'change', ARGV[2])
redis.call('SET', KEYS[2], id)
return id
`;

/** Stream ids `ms-seq` in order: negative, zero or positive. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}

/** The id before any entry: what a reader of an empty (or never written) stream has applied. */
export const NO_ENTRY = '0-0';
