import type { TokenBucketRule } from './types.js';

/*
 * Argument checks shared by both backends, so a caller's bug fails the same way on memory and
 * on Redis (Redis would otherwise answer with a reply error that looks like an outage).
 */

export function checkTtl(ttlMs: number): void {
  // Redis PX only takes a positive integer; a 0 or fractional TTL is always a caller bug.
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive integer, got ${ttlMs}`);
}

export function checkIncrement(by: number): void {
  if (!Number.isSafeInteger(by)) throw new RangeError(`by must be an integer, got ${by}`);
}

/** Returns the cost to take; a cost above capacity could never be granted, so it is refused here. */
export function checkRule(rule: TokenBucketRule): number {
  const cost = rule.cost ?? 1;
  if (!(Number.isFinite(rule.capacity) && rule.capacity > 0)) throw new RangeError('capacity must be > 0');
  if (!(Number.isFinite(rule.refillPerSecond) && rule.refillPerSecond > 0)) throw new RangeError('refillPerSecond must be > 0');
  if (!(Number.isFinite(cost) && cost > 0 && cost <= rule.capacity)) throw new RangeError('cost must be in (0, capacity]');
  return cost;
}
