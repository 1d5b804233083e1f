import type { Redis } from 'ioredis';
import type { Logger } from '../logging/logger.js';
import { parseChange } from './changes.js';
import { compareIds, NO_ENTRY, type BusKeys } from './redis-keys.js';
import { readSnapshot } from './redis-snapshot.js';
import type { BusEvent } from './types.js';

export interface FollowerOptions {
  keys: BusKeys;
  /** How far back the deny sets are read: a token issued before that has expired. */
  denyWindowMs: number;
  /** How long one XREAD waits for new entries (the blocking connection's timeout is longer). */
  blockMs: number;
  logger: Logger;
  now?: () => number;
}

type Entry = [id: string, fields: string[]];

/** Entries read per step, by the follower or by a request catching up. */
const BATCH = 1_000;
const MAX_BACKOFF_MS = 2_000;

/**
 * Follows the stream for one process: `blocking` waits on XREAD BLOCK for the next entries,
 * `main` answers `sync()` (GET head, XRANGE to catch up) and reads the deny snapshot. Entries are
 * applied in order, each only once, and only while the chain is unbroken (each entry names the
 * one before it); an unreachable Redis or a failed command makes the follower stale until it has
 * caught up from its last entry, a broken chain (a gap) until `reset()` has re-read the head and
 * the deny state.
 */
export class Follower {
  private live = false;
  private lastId = NO_ENTRY;
  private closed = false;
  private rejoining: Promise<void> | undefined;
  private batch: Promise<boolean> | undefined;
  private wasLive = false;
  private readonly now: () => number;

  constructor(
    private readonly main: Redis,
    private readonly blocking: Redis,
    private readonly emit: (e: BusEvent) => void,
    private readonly opts: FollowerOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Starts following once `connected` settles (the blocking connection's first attempt). */
  start(connected: Promise<unknown>): void {
    void connected.then(() => this.loop());
  }

  stop(): void {
    this.closed = true;
    this.live = false;
  }

  get following(): boolean {
    return this.live;
  }

  sync(): Promise<boolean> {
    if (!this.live) return Promise.resolve(false);
    // Requests that arrive in the same turn of the event loop share one GET, sent after all of
    // them started: a change announced before any of them began is seen by each.
    this.batch ??= new Promise((resolve) =>
      setImmediate(() => {
        this.batch = undefined;
        resolve(this.check());
      }),
    );
    return this.batch;
  }

  private async check(): Promise<boolean> {
    try {
      const seen = this.lastId;
      const head = (await this.main.get(this.opts.keys.head)) ?? NO_ENTRY;
      if (!this.live) return false;
      if (compareIds(this.lastId, head) >= 0) {
        // Current — or the follower applied past this head meanwhile. Otherwise the head went
        // back: Redis restarted without its data.
        if (this.lastId === head || this.lastId !== seen) return true;
        this.stale('the stream went back (Redis restarted without its data?)');
        return false;
      }
      // Behind: catch up now rather than wait for the follower's XREAD to return.
      const entries = await this.after(this.lastId);
      if (!this.live) return false;
      if (!this.apply(entries) || (entries.length === 0 && compareIds(this.lastId, head) < 0)) {
        this.stale('missed changes (the stream was trimmed past this replica, or Redis lost data)');
        return false;
      }
      return compareIds(this.lastId, head) >= 0;
    } catch (err) {
      this.stale('Redis unreachable', err);
      return false;
    }
  }

  private async after(id: string): Promise<Entry[]> {
    return (await this.main.xrange(this.opts.keys.log, `(${id}`, '+', 'COUNT', BATCH)) as Entry[];
  }

  private async loop(): Promise<void> {
    let backoff = 100;
    while (!this.closed) {
      try {
        if (!this.live) await this.rejoinOnce();
        const reply = (await this.blocking.xread('COUNT', BATCH, 'BLOCK', this.opts.blockMs, 'STREAMS', this.opts.keys.log, this.lastId)) as [string, Entry[]][] | null;
        if (reply && this.live && !this.apply(reply[0]![1])) this.stale('missed changes (the stream was trimmed past this replica, or Redis lost data)');
        backoff = 100;
      } catch (err) {
        if (this.closed) return;
        this.stale('Redis unreachable', err);
        await new Promise((r) => setTimeout(r, backoff).unref());
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  private rejoinOnce(): Promise<void> {
    return (this.rejoining ??= this.rejoin().finally(() => (this.rejoining = undefined)));
  }

  /**
   * Back on the bus: a replica that had joined before reads on from the last change it applied
   * (nothing else to do when the chain is unbroken); otherwise, or after a gap, a reset.
   */
  private async rejoin(): Promise<void> {
    if (this.wasLive && (await this.catchUp())) {
      this.live = !this.closed;
      this.opts.logger.info('bus: caught up with the changes it missed');
      return;
    }
    await this.reset();
  }

  /** Applies everything after lastId up to the head; false at a gap (or when the head went back). */
  private async catchUp(): Promise<boolean> {
    const head = (await this.main.get(this.opts.keys.head)) ?? NO_ENTRY;
    if (compareIds(head, this.lastId) < 0) return false;
    while (compareIds(this.lastId, head) < 0) {
      const entries = await this.after(this.lastId);
      if (entries.length === 0 || !this.apply(entries)) return false;
    }
    return true;
  }

  /** Joins (or re-joins) the stream at its head, with the deny state Redis holds at that moment. */
  private async reset(): Promise<void> {
    const { head, deny } = await readSnapshot(this.main, this.opts.keys, { now: this.now(), denyWindowMs: this.opts.denyWindowMs });
    this.lastId = head;
    this.emit({ kind: 'reset', deny });
    this.live = !this.closed;
    if (this.live) this.opts.logger.info({ revocations: deny.revocations.length }, this.wasLive ? 'bus: rejoined after a gap (caches were reset)' : 'bus: following changes');
    this.wasLive ||= this.live;
  }

  /** Applies the entries after lastId, in order; false at the first one that does not follow it (a gap). */
  private apply(entries: Entry[]): boolean {
    for (const [id, fields] of entries) {
      if (compareIds(id, this.lastId) <= 0) continue; // applied already (read twice)
      if (field(fields, 'prev') !== this.lastId) return false;
      this.lastId = id;
      const change = parseChange(field(fields, 'change'));
      // A change this version cannot read: drop every cached entry rather than guess.
      this.emit(change ? { kind: 'change', change } : { kind: 'reset' });
    }
    return true;
  }

  private stale(reason: string, err?: unknown): void {
    if (!this.live) return;
    this.live = false;
    this.opts.logger.warn({ reason, err: err ? { message: (err as Error).message } : undefined }, 'bus: stale, requests read the database until it catches up');
    // Catch up now; the follower's loop would otherwise wait for its XREAD to return.
    if (!this.closed) void this.rejoinOnce().catch(() => undefined);
  }
}

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
