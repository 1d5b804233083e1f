import type { TokenBucketResult } from './types.js';

/**
 * Continuous-refill token bucket, written once for the memory backend; `redis-scripts.ts`
 * holds the same arithmetic in Lua. A missing bucket is a full one, so state only needs to
 * live until the bucket would be full again (`ttlMs`).
 */
export interface BucketState {
  tokens: number;
  /** Time of the last refill, in ms. */
  ts: number;
}

export interface BucketStep {
  state: BucketState;
  result: TokenBucketResult;
  ttlMs: number;
}

export function takeFromBucket(
  prev: BucketState | undefined,
  capacity: number,
  refillPerSecond: number,
  cost: number,
  nowMs: number,
): BucketStep {
  let tokens = prev?.tokens ?? capacity;
  const ts = prev?.ts ?? nowMs;
  // A clock that steps back must not refill twice, so the later time is kept.
  if (nowMs > ts) tokens = Math.min(capacity, tokens + ((nowMs - ts) * refillPerSecond) / 1000);
  const allowed = tokens >= cost;
  if (allowed) tokens -= cost;
  const retryAfterMs = allowed ? 0 : Math.max(1, Math.ceil(((cost - tokens) * 1000) / refillPerSecond));
  return {
    state: { tokens, ts: Math.max(ts, nowMs) },
    result: { allowed, remaining: Math.floor(tokens), retryAfterMs },
    ttlMs: Math.max(1, Math.ceil(((capacity - tokens) * 1000) / refillPerSecond)),
  };
}

export function encodeBucket(s: BucketState): string {
  return `${s.tokens}:${s.ts}`;
}

export function decodeBucket(raw: string | undefined): BucketState | undefined {
  if (raw === undefined) return undefined;
  const [tokens, ts] = raw.split(':').map(Number);
  return Number.isFinite(tokens) && Number.isFinite(ts) ? { tokens: tokens!, ts: ts! } : undefined;
}
