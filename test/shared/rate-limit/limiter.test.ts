import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { createMemoryCache, type TokenBucketRule } from '#shared/cache/index.js';
import {
  createRateLimiter,
  DEGRADED_MESSAGE,
  RATE_LIMIT_RULES,
  RECOVERED_MESSAGE,
  type RateLimiter,
} from '#shared/rate-limit/index.js';
import { captureLogger } from '../../helpers/log-capture.js';
import { SwitchableCache } from './fakes.js';

type Line = { level: string; msg: string };

async function takeN(limiter: RateLimiter, n: number, bucket: string, key: string, rule: TokenBucketRule) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await limiter.take(bucket, key, rule));
  return out;
}

describe('rate limiter — shared cache up (memory backend)', () => {
  let now = 1_000_000;
  const clock = () => now;
  const rule = { capacity: 3, refillPerSecond: 0.4 }; // one token every 2.5 s

  function setup() {
    const cache = new SwitchableCache(createMemoryCache({ now: clock }));
    const capture = captureLogger();
    const limiter = createRateLimiter({ cache, logger: capture.logger, fallback: createMemoryCache({ now: clock }), now: clock });
    return { cache, limiter, lines: () => capture.lines() as Line[] };
  }

  it('allows exactly `capacity` calls, then refuses with retryAfterS >= 1', async () => {
    const { limiter, lines } = setup();
    const results = await takeN(limiter, 5, 'sign-in:ip', '203.0.113.7', rule);
    expect(results.map((r) => r.allowed)).to.deep.equal([true, true, true, false, false]);
    expect(results.slice(0, 3).map((r) => [r.remaining, r.retryAfterS])).to.deep.equal([
      [2, 0],
      [1, 0],
      [0, 0],
    ]);
    // 2.5 s until the next token, rounded up to whole seconds.
    expect(results[3]).to.deep.equal({ allowed: false, remaining: 0, retryAfterS: 3 });
    expect(lines()).to.deep.equal([]);
    expect(limiter.degraded).to.equal(false);
  });

  it('never answers retryAfterS 0 on a refusal, even when the wait is under a second', async () => {
    const { limiter } = setup();
    const fast = { capacity: 1, refillPerSecond: 100 };
    await limiter.take('b', 'k', fast);
    expect(await limiter.take('b', 'k', fast)).to.deep.equal({ allowed: false, remaining: 0, retryAfterS: 1 });
  });

  it('allows again once the bucket has refilled', async () => {
    const { limiter } = setup();
    await takeN(limiter, 3, 'sign-in:ip', 'ip-2', rule);
    expect((await limiter.take('sign-in:ip', 'ip-2', rule)).allowed).to.equal(false);
    now += 2_400;
    expect((await limiter.take('sign-in:ip', 'ip-2', rule)).allowed).to.equal(false);
    now += 100;
    expect(await limiter.take('sign-in:ip', 'ip-2', rule)).to.deep.equal({ allowed: true, remaining: 0, retryAfterS: 0 });
    expect((await limiter.take('sign-in:ip', 'ip-2', rule)).allowed).to.equal(false);
  });

  it('keeps keys and buckets independent', async () => {
    const { limiter } = setup();
    await takeN(limiter, 3, 'sign-in:ip', 'ip-a', rule);
    expect((await limiter.take('sign-in:ip', 'ip-a', rule)).allowed).to.equal(false);
    expect((await limiter.take('sign-in:ip', 'ip-b', rule)).allowed).to.equal(true);
    expect((await limiter.take('sign-up:ip', 'ip-a', rule)).allowed).to.equal(true);
  });

  it('namespaces keys as rl:<bucket>:<sha256> so an email never reaches the cache', async () => {
    const { cache, limiter } = setup();
    const email = 'Alice.Example+x@example.com';
    await limiter.take('sign-in:account', email, RATE_LIMIT_RULES['sign-in:account']);
    const digest = createHash('sha256').update(email).digest('hex');
    expect(cache.keys).to.deep.equal([`rl:sign-in:account:${digest}`]);
    for (const k of cache.keys) {
      expect(k).to.match(/^rl:sign-in:account:[0-9a-f]{64}$/);
      expect(k).not.to.include('@');
      expect(k.toLowerCase()).not.to.include('alice');
    }
  });

  it('rejects an invalid rule instead of hiding the bug behind the fallback', async () => {
    const { limiter, lines } = setup();
    const err = await limiter.take('b', 'k', { capacity: 0, refillPerSecond: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(RangeError);
    expect(limiter.degraded).to.equal(false);
    expect(lines()).to.deep.equal([]);
  });

  it('uses the documented default rules', () => {
    expect(RATE_LIMIT_RULES['sign-in:ip']).to.deep.equal({ capacity: 20, refillPerSecond: 1 / 3 });
    expect(RATE_LIMIT_RULES['token:client']).to.deep.equal({ capacity: 100, refillPerSecond: 10 });
    expect(Object.keys(RATE_LIMIT_RULES)).to.have.members([
      'sign-in:ip',
      'sign-in:account',
      'sign-up:ip',
      'password-reset:ip',
      'password-reset:account',
      'totp:account',
      'verify-mail:ip',
      'verify-mail:recipient',
      'token:client',
      'register:ip',
      'device-code:ip',
      'device-code:session',
    ]);
  });
});

describe('rate limiter — shared cache unavailable', () => {
  let now = 5_000_000;
  const clock = () => now;
  const rule = { capacity: 3, refillPerSecond: 0.1 };

  function setup(probeIntervalMs = 1_000) {
    const cache = new SwitchableCache(createMemoryCache({ now: clock }));
    const capture = captureLogger();
    const limiter = createRateLimiter({
      cache,
      logger: capture.logger,
      fallback: createMemoryCache({ now: clock }),
      probeIntervalMs,
      now: clock,
    });
    return { cache, limiter, lines: () => capture.lines() as Line[] };
  }

  it('still limits with exact counts from the in-process fallback', async () => {
    const { cache, limiter } = setup(0);
    cache.down = true;
    const results = await takeN(limiter, 5, 'sign-in:account', 'bob@example.com', rule);
    expect(results.map((r) => r.allowed)).to.deep.equal([true, true, true, false, false]);
    expect(results[3]!.retryAfterS).to.equal(10);
    expect((await limiter.take('sign-in:account', 'carol@example.com', rule)).allowed).to.equal(true);
    expect(limiter.degraded).to.equal(true);
  });

  it('logs the degradation once at warn over many calls', async () => {
    const { cache, limiter, lines } = setup(0);
    cache.down = true;
    for (let i = 0; i < 50; i++) await limiter.take('token:client', `client-${i % 5}`, RATE_LIMIT_RULES['token:client']);
    await Promise.all(Array.from({ length: 20 }, (_, i) => limiter.take('b', `k${i}`, rule)));
    expect(lines().map((l) => [l.level, l.msg])).to.deep.equal([['warn', DEGRADED_MESSAGE]]);
    // The caller's key is never logged.
    expect(JSON.stringify(lines())).not.to.include('client-');
  });

  it('logs recovery once at info and goes back to the shared cache', async () => {
    const { cache, limiter, lines } = setup(0);
    cache.down = true;
    await takeN(limiter, 4, 'b', 'k', rule);
    cache.down = false;
    // The shared bucket was never touched during the outage, so it is full again.
    const back = await takeN(limiter, 5, 'b', 'k', rule);
    expect(back.map((r) => r.allowed)).to.deep.equal([true, true, true, false, false]);
    expect(limiter.degraded).to.equal(false);
    expect(lines().map((l) => [l.level, l.msg])).to.deep.equal([
      ['warn', DEGRADED_MESSAGE],
      ['info', RECOVERED_MESSAGE],
    ]);
  });

  it('logs each outage once: a second outage warns again', async () => {
    const { cache, limiter, lines } = setup(0);
    for (const down of [true, true, false, false, true, true, false]) {
      cache.down = down;
      await limiter.take('b', 'k', { capacity: 100, refillPerSecond: 1 });
    }
    expect(lines().map((l) => l.level)).to.deep.equal(['warn', 'info', 'warn', 'info']);
  });

  it('while degraded, probes the shared cache at most once per interval', async () => {
    const { cache, limiter, lines } = setup(1_000);
    cache.down = true;
    await takeN(limiter, 10, 'b', 'k', { capacity: 100, refillPerSecond: 1 });
    expect(cache.calls).to.equal(1);
    now += 999;
    await limiter.take('b', 'k', { capacity: 100, refillPerSecond: 1 });
    expect(cache.calls).to.equal(1);
    now += 1;
    await takeN(limiter, 10, 'b', 'k', { capacity: 100, refillPerSecond: 1 });
    expect(cache.calls).to.equal(2);
    cache.down = false;
    await limiter.take('b', 'k', { capacity: 100, refillPerSecond: 1 });
    expect(cache.calls).to.equal(2);
    expect(limiter.degraded).to.equal(true);
    now += 1_000;
    await limiter.take('b', 'k', { capacity: 100, refillPerSecond: 1 });
    expect(cache.calls).to.equal(3);
    expect(limiter.degraded).to.equal(false);
    expect(lines().map((l) => l.level)).to.deep.equal(['warn', 'info']);
  });

  it('uses its own in-process memory cache when no fallback is given', async () => {
    const cache = new SwitchableCache(createMemoryCache());
    cache.down = true;
    const limiter = createRateLimiter({ cache, logger: captureLogger().logger });
    const results = await takeN(limiter, 3, 'b', 'k', { capacity: 2, refillPerSecond: 0.01 });
    expect(results.map((r) => r.allowed)).to.deep.equal([true, true, false]);
  });
});
