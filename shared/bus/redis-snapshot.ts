import type { Redis } from 'ioredis';
import { REVOCATION_TYPES, revocationOf, type Revocation } from './changes.js';
import { NO_ENTRY, type BusKeys } from './redis-keys.js';
import type { DenySnapshot } from './types.js';

/**
 * Where a (re)joining follower starts: the stream's head and the deny state, read in one MULTI so
 * that every revocation before the head is in the snapshot (and the ones after it are entries
 * the follower reads next). `since` is set first when Redis has none: a fresh or emptied Redis
 * holds every revocation from now on, and nothing older.
 */
export async function readSnapshot(main: Redis, keys: BusKeys, opts: { now: number; denyWindowMs: number }): Promise<{ head: string; deny: DenySnapshot }> {
  await main.set(keys.since, String(opts.now), 'NX');
  const tx = main.multi().get(keys.head).get(keys.since);
  for (const type of REVOCATION_TYPES) tx.zrangebyscore(keys.deny[type], opts.now - opts.denyWindowMs, '+inf', 'WITHSCORES');
  const replies = await tx.exec();
  if (!replies || replies.some(([err]) => err)) throw new Error('bus: the deny state could not be read');
  const [head, since, ...sets] = replies.map(([, value]) => value) as [string | null, string | null, ...string[][]];
  const revocations: Revocation[] = [];
  REVOCATION_TYPES.forEach((type, i) => {
    const set = sets[i]!;
    for (let j = 0; j < set.length; j += 2) revocations.push(revocationOf(type, set[j]!, Number(set[j + 1])));
  });
  return { head: head ?? NO_ENTRY, deny: { since: Number(since ?? opts.now), revocations } };
}
