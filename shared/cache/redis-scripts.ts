/**
 * Lua run inside Redis so each read-modify-write is one atomic step for every replica.
 * The token bucket reads Redis TIME, so replicas with skewed clocks still share one clock;
 * since Redis 5 scripts replicate their effects, so a non-deterministic TIME is allowed.
 * Numbers are stored with %.17g so no precision is lost between calls.
 */

/** KEYS[1] counter; ARGV[1] increment; ARGV[2] ttl in ms, set only by the call that creates the key. */
const INCR_FIXED_WINDOW = `
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return tonumber(ARGV[1]) end
return redis.call('INCRBY', KEYS[1], ARGV[1])
`;

/**
 * KEYS[1] bucket hash {tokens, ts}; ARGV capacity, refillPerSecond, cost.
 * Returns {allowed 0|1, whole tokens remaining, retryAfterMs}. Same arithmetic as
 * token-bucket.ts: a missing bucket is full, so the hash expires once it would be full again.
 */
const TAKE_TOKEN = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(s[1]) or capacity
local ts = tonumber(s[2]) or now
if now > ts then tokens = math.min(capacity, tokens + (now - ts) * rate / 1000) end
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.max(1, math.ceil((cost - tokens) * 1000 / rate))
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', math.max(ts, now)))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((capacity - tokens) * 1000 / rate)))
return { allowed, math.floor(tokens), retry }
`;

/** Registered through ioredis `scripts`, which uses EVALSHA and falls back to EVAL on NOSCRIPT. */
export const SCRIPTS = {
  portcullisIncr: { lua: INCR_FIXED_WINDOW, numberOfKeys: 1 },
  portcullisTakeToken: { lua: TAKE_TOKEN, numberOfKeys: 1 },
};

/** The commands ioredis adds for SCRIPTS (it cannot type them itself). */
export interface ScriptCommands {
  portcullisIncr(key: string, by: number, ttlMs: number): Promise<number>;
  portcullisTakeToken(key: string, capacity: number, refillPerSecond: number, cost: number): Promise<[number, number, number]>;
}
