/**
 * One cache / coordination interface for both backends (in-process memory for `npm start`,
 * Redis shared by all replicas in production). Values are strings: callers JSON-encode.
 * Every operation of the Redis backend rejects with AppError `CACHE_UNAVAILABLE` (503) when
 * Redis cannot answer in time; callers decide whether to fail closed or degrade.
 */
export interface TokenBucketRule {
  /** Largest burst; a new bucket starts full. */
  capacity: number;
  refillPerSecond: number;
  /** Tokens this call takes; 1 when omitted. */
  cost?: number;
}

export interface TokenBucketResult {
  allowed: boolean;
  /** Whole tokens left after this call. */
  remaining: number;
  /** 0 when allowed; otherwise how long until `cost` tokens are available. */
  retryAfterMs: number;
}

export interface Cache {
  readonly backend: 'memory' | 'redis';
  get(key: string): Promise<string | null>;
  /** Without `ttlMs` the value never expires. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** atomic: true only for the one caller that created the key */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** true when a live key was removed. */
  delete(key: string): Promise<boolean>;
  /** Number of live keys removed. */
  deleteByPrefix(prefix: string): Promise<number>;
  /** atomic counter; ttl is applied when the key is created (fixed window) */
  incr(key: string, by: number, ttlMs: number): Promise<number>;
  /** atomic token bucket; refill is continuous */
  takeToken(key: string, rule: TokenBucketRule): Promise<TokenBucketResult>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
