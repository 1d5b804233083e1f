import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { createCache, type Cache } from '#shared/cache/index.js';
import { Redis } from 'ioredis';
import { createRateLimiter, DEGRADED_MESSAGE, RECOVERED_MESSAGE, rateLimitKey } from '#shared/rate-limit/index.js';
import { REDIS_SKIP_REASON, REDIS_URL, describeWithService } from '../../helpers/services.js';
import { captureLogger } from '../../helpers/log-capture.js';
import { TcpProxy } from '../cache/tcp-proxy.js';

type Line = { level: string; msg: string };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const redisOptions = (url: string, keyPrefix: string) =>
  ({ backend: 'redis', url, keyPrefix, commandTimeoutMs: 500, connectTimeoutMs: 500 }) as const;

describeWithService('rate limiter — Redis shared by two replicas', REDIS_URL, REDIS_SKIP_REASON, (url) => {
  const keyPrefix = `portcullis:test:${randomBytes(6).toString('hex')}:`;
  let a: Cache;
  let b: Cache;

  before(async () => {
    a = await createCache(redisOptions(url, keyPrefix), captureLogger().logger);
    b = await createCache(redisOptions(url, keyPrefix), captureLogger().logger);
  });
  after(async () => {
    await a?.deleteByPrefix('').catch(() => undefined);
    await a?.close();
    await b?.close();
  });

  it('counts one bucket across both limiters', async () => {
    const capture = captureLogger();
    const one = createRateLimiter({ cache: a, logger: capture.logger });
    const two = createRateLimiter({ cache: b, logger: capture.logger });
    const rule = { capacity: 5, refillPerSecond: 0.01 };
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await (i % 2 ? two : one).take('sign-in:account', 'dave@example.com', rule));
    expect(results.map((r) => r.allowed)).to.deep.equal([true, true, true, true, true, false, false, false]);
    expect(results[5]!.retryAfterS).to.be.within(99, 100);
    // Concurrent calls from both replicas still grant exactly `capacity` in total.
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? two : one).take('sign-up:ip', '198.51.100.9', rule)));
    expect(burst.filter((r) => r.allowed)).to.have.length(5);
    expect(one.degraded || two.degraded).to.equal(false);
    expect(capture.lines()).to.deep.equal([]);
  });

  it('stores only hashed keys in Redis', async () => {
    const limiter = createRateLimiter({ cache: a, logger: captureLogger().logger });
    await limiter.take('password-reset:account', 'erin@example.com', { capacity: 3, refillPerSecond: 0.01 });
    const raw = new Redis(url, { lazyConnect: true });
    try {
      await raw.connect();
      const keys = await raw.keys(`${keyPrefix}rl:password-reset:account:*`);
      expect(keys).to.deep.equal([`${keyPrefix}${rateLimitKey('password-reset:account', 'erin@example.com')}`]);
      expect(keys[0]).to.match(/:rl:password-reset:account:[0-9a-f]{64}$/);
      expect(keys[0]).not.to.include('erin');
    } finally {
      raw.disconnect();
    }
  });
});

describeWithService('rate limiter — Redis outage and recovery', REDIS_URL, REDIS_SKIP_REASON, (url) => {
  const keyPrefix = `portcullis:test:${randomBytes(6).toString('hex')}:`;
  let cache: Cache;
  let proxy: TcpProxy;

  before(async () => {
    const target = new URL(url);
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    await proxy.start();
    const proxied = new URL(url);
    proxied.host = `127.0.0.1:${proxy.port}`;
    cache = await createCache(redisOptions(proxied.toString(), keyPrefix), captureLogger().logger);
  });
  after(async () => {
    await cache?.deleteByPrefix('').catch(() => undefined);
    await cache?.close();
    await proxy?.stop();
  });

  it('keeps answering from in-process buckets while Redis is cut, then returns to Redis', async function () {
    this.timeout(15_000);
    const capture = captureLogger();
    const limiter = createRateLimiter({ cache, logger: capture.logger, probeIntervalMs: 200 });
    const rule = { capacity: 3, refillPerSecond: 0.01 };

    // Exhaust the bucket in Redis.
    for (let i = 0; i < 3; i++) expect((await limiter.take('sign-in:ip', '192.0.2.1', rule)).allowed).to.equal(true);
    expect((await limiter.take('sign-in:ip', '192.0.2.1', rule)).allowed).to.equal(false);

    await proxy.stop();
    await sleep(50);
    // The fallback bucket is fresh and per process, but still limits with exact counts.
    const started = Date.now();
    const during = [];
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      during.push(await limiter.take('sign-in:ip', '192.0.2.1', rule));
      expect(Date.now() - t0, 'one call while Redis is down').to.be.below(1_500);
    }
    expect(during.map((r) => r.allowed)).to.deep.equal([true, true, true, false, false]);
    // Many calls over time stay fast and log nothing more.
    while (Date.now() - started < 1_500) {
      const t0 = Date.now();
      await limiter.take('token:client', 'client-1', { capacity: 1_000, refillPerSecond: 10 });
      expect(Date.now() - t0).to.be.below(1_500);
      await sleep(20);
    }
    expect(limiter.degraded).to.equal(true);

    await proxy.start();
    // Back on Redis, the bucket exhausted before the outage is still exhausted.
    const deadline = Date.now() + 8_000;
    while (limiter.degraded && Date.now() < deadline) {
      await limiter.take('token:client', 'client-1', { capacity: 1_000, refillPerSecond: 10 });
      await sleep(100);
    }
    expect(limiter.degraded, 'recovered within 8 s').to.equal(false);
    expect((await limiter.take('sign-in:ip', '192.0.2.1', rule)).allowed).to.equal(false);

    const lines = capture.lines() as Line[];
    expect(lines.map((l) => [l.level, l.msg])).to.deep.equal([
      ['warn', DEGRADED_MESSAGE],
      ['info', RECOVERED_MESSAGE],
    ]);
  });
});
