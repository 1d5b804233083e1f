import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { AppError } from '#shared/errors/index.js';
import { createCache, type Cache } from '#shared/cache/index.js';
import { REDIS_SKIP_REASON, REDIS_URL, describeWithService } from '../../helpers/services.js';
import { captureLogger } from '../../helpers/log-capture.js';
import { TcpProxy } from './tcp-proxy.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `op` until it resolves; Redis reconnect backoff is capped at 2 s. */
async function eventually<T>(op: () => Promise<T>, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

describeWithService('Redis cache — outage and recovery', REDIS_URL, REDIS_SKIP_REASON, (url) => {
  let cache: Cache;
  let proxy: TcpProxy;
  const capture = captureLogger();
  const { logger } = capture;
  const lines = () => capture.lines() as { level: string; msg: string }[];

  before(async () => {
    const target = new URL(url);
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    await proxy.start();
    const proxied = new URL(url);
    proxied.host = `127.0.0.1:${proxy.port}`;
    const keyPrefix = `portcullis:test:${randomBytes(6).toString('hex')}:`;
    cache = await createCache(
      { backend: 'redis', url: proxied.toString(), keyPrefix, commandTimeoutMs: 500, connectTimeoutMs: 500 },
      logger,
    );
  });
  after(async () => {
    await cache?.deleteByPrefix('').catch(() => undefined);
    await cache?.close();
    await proxy?.stop();
  });

  it('fails fast while Redis is unreachable and recovers without a restart', async function () {
    this.timeout(10_000);
    await cache.set('k', 'kept');
    await proxy.stop();
    await sleep(50);
    const err = await cache.get('k').then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(AppError);
    expect(err).to.include({ code: 'CACHE_UNAVAILABLE', status: 503 });
    await sleep(700);
    await proxy.start();
    expect(await eventually(() => cache.get('k'), 4_000)).to.equal('kept');
    expect(lines().map((l) => [l.level, l.msg])).to.deep.equal([
      ['info', 'cache: connected to Redis'],
      ['warn', 'cache: Redis unavailable, operations fail with CACHE_UNAVAILABLE until it reconnects'],
      ['info', 'cache: Redis connection restored'],
    ]);
  });
});
