import type { Change, Revocation } from './changes.js';

/**
 * What a subscriber receives, in order:
 * - `change`: one change, applied by every subscriber before the next.
 * - `reset`: the subscriber (re)joined the bus — at start, after missing changes it can no longer
 *   read (the stream was trimmed past it, or Redis lost its data), or after a change this version
 *   cannot read. Caches drop everything. `deny` is the revocation state as Redis holds it (absent
 *   for an unreadable change): merged into what the subscriber knew, never replacing it, since
 *   Redis may have lost it.
 */
export type BusEvent = { kind: 'change'; change: Change } | { kind: 'reset'; deny?: DenySnapshot };

export interface DenySnapshot {
  /** Epoch ms from which Redis holds every revocation: older tokens need the database's word. */
  since: number;
  revocations: Revocation[];
}

export type BusHandler = (event: BusEvent) => void;

/**
 * The change bus (docs/operations.md): publishers announce a change once it is committed, and
 * every subscribed replica applies it. `redis`: a Redis stream (the durable sequence) followed
 * with XREAD BLOCK, plus deny sets for revocations. `off` (no REDIS_URL, `npm start`): no other
 * process can hear, so nobody may cache what a change would invalidate — `sync()` is always false.
 */
export interface ChangeBus {
  readonly kind: 'redis' | 'off';
  /**
   * Announces a committed change. Never rejects: true once it is on the bus; false when Redis
   * could not take it — it is then retried in the background while it can still matter, and the
   * caller (an operator at the CLI) may say so.
   */
  publish(change: Change): Promise<boolean>;
  /** Adds a handler; the first one starts following the bus. Returns the unsubscribe function. */
  subscribe(handler: BusHandler): () => void;
  /**
   * Whether every change published before this call has been applied: one round trip (shared by
   * the requests that arrive together) to compare the stream's head with the last change
   * applied, catching up when they differ. False while the bus is unreachable or catching up
   * after a gap: callers then read the database (caches pass through).
   */
  sync(): Promise<boolean>;
  /**
   * For operators (/metrics, docs/operations.md): `following` while this process applies every
   * change (its caches may answer), `stale` while it cannot (the database answers), `idle` when
   * it only publishes; `unpublished`: changes waiting for Redis to take them.
   */
  stats(): { state: 'following' | 'stale' | 'idle'; unpublished: number };
  /** Tries pending publications once more, then closes the connections; says how many never went out. */
  close(): Promise<{ unpublished: number }>;
}
