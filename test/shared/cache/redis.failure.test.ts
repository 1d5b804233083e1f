import { expect } from 'chai';
import { AppError } from '#shared/errors/index.js';
import { createCache, type Cache } from '#shared/cache/index.js';
import { captureLogger } from '../../helpers/log-capture.js';
import { TcpProxy } from './tcp-proxy.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rejection(op: () => Promise<unknown>): Promise<unknown> {
  return op().then(
    () => expect.fail('expected the operation to reject'),
    (err: unknown) => err,
  );
}

function expectUnavailable(err: unknown): void {
  expect(err).to.be.instanceOf(AppError);
  expect(err).to.include({ code: 'CACHE_UNAVAILABLE', status: 503 });
  expect((err as AppError).cause).to.be.instanceOf(Error);
}

/** Port 1 on loopback is closed, so every connection attempt is refused at once. */
describe('Redis cache — Redis unreachable', function () {
  this.timeout(10_000);
  let cache: Cache;
  const capture = captureLogger();
  const { logger } = capture;
  const lines = () => capture.lines() as { level: string; msg: string }[];

  before(async () => {
    cache = await createCache(
      { backend: 'redis', url: 'redis://127.0.0.1:1', keyPrefix: 'p:', commandTimeoutMs: 500, connectTimeoutMs: 500 },
      logger,
    );
  });
  after(async () => {
    await cache?.close();
  });

  it('createCache resolves with the redis backend', () => {
    expect(cache.backend).to.equal('redis');
  });

  it('get and ping reject with CACHE_UNAVAILABLE', async () => {
    expectUnavailable(await rejection(() => cache.get('a')));
    expectUnavailable(await rejection(() => cache.ping()));
  });

  it('every other operation rejects with CACHE_UNAVAILABLE', async () => {
    const ops = [
      () => cache.set('a', 'v', 100),
      () => cache.setIfAbsent('a', 'v', 100),
      () => cache.delete('a'),
      () => cache.deleteByPrefix('a'),
      () => cache.incr('a', 1, 100),
      () => cache.takeToken('a', { capacity: 1, refillPerSecond: 1 }),
    ];
    for (const op of ops) expectUnavailable(await rejection(op));
  });

  it('logs the outage once although reconnect attempts keep failing', async () => {
    // Reconnects back off 200, 400, 600 ms: this spans at least three failed attempts.
    await sleep(1_300);
    const warnings = lines().filter((l) => l.level === 'warn');
    expect(warnings).to.have.length(1);
    expect(warnings[0]!.msg).to.equal('cache: Redis unavailable, operations fail with CACHE_UNAVAILABLE until it reconnects');
    expect(lines()).to.have.length(1);
  });
});

/** A server that accepts connections but never answers must not stall boot or callers. */
describe('Redis cache — Redis accepts but never answers', function () {
  this.timeout(10_000);
  const hung = new TcpProxy();
  let cache: Cache | undefined;

  after(async () => {
    await cache?.close();
    await hung.stop();
  });

  it('createCache resolves and operations reject with CACHE_UNAVAILABLE', async () => {
    await hung.start();
    cache = await createCache(
      { backend: 'redis', url: `redis://127.0.0.1:${hung.port}`, keyPrefix: 'p:', commandTimeoutMs: 300, connectTimeoutMs: 300 },
      captureLogger().logger,
    );
    expectUnavailable(await rejection(() => cache!.get('a')));
    expectUnavailable(await rejection(() => cache!.ping()));
  });
});
