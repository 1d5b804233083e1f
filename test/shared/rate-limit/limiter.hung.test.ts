import { expect } from 'chai';
import { createCache, type Cache } from '#shared/cache/index.js';
import { createRateLimiter, DEGRADED_MESSAGE } from '#shared/rate-limit/index.js';
import { captureLogger } from '../../helpers/log-capture.js';
import { TcpProxy } from '../cache/tcp-proxy.js';

/** No real Redis needed: a relay with no target accepts connections and never answers. */
describe('rate limiter — Redis accepts but never answers', function () {
  this.timeout(10_000);
  const hung = new TcpProxy();
  let cache: Cache | undefined;

  after(async () => {
    await cache?.close();
    await hung.stop();
  });

  it('answers every call from the fallback within a bounded time', async () => {
    await hung.start();
    cache = await createCache(
      { backend: 'redis', url: `redis://127.0.0.1:${hung.port}`, keyPrefix: 'p:', commandTimeoutMs: 300, connectTimeoutMs: 300 },
      captureLogger().logger,
    );
    const capture = captureLogger();
    const limiter = createRateLimiter({ cache, logger: capture.logger, probeIntervalMs: 200 });
    const rule = { capacity: 4, refillPerSecond: 0.01 };
    const started = Date.now();
    const results = [];
    for (let i = 0; i < 6; i++) {
      const t0 = Date.now();
      results.push(await limiter.take('sign-in:ip', '192.0.2.50', rule));
      expect(Date.now() - t0).to.be.below(1_000);
    }
    expect(results.map((r) => r.allowed)).to.deep.equal([true, true, true, true, false, false]);
    expect(Date.now() - started).to.be.below(2_000);
    expect((capture.lines() as { msg: string }[]).map((l) => l.msg)).to.deep.equal([DEGRADED_MESSAGE]);
  });
});
