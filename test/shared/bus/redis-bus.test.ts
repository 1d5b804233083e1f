import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createRedisBus } from '#shared/bus/redis-bus.js';
import { createBusCache } from '#shared/bus/bus-cache.js';
import { busKeys } from '#shared/bus/redis-keys.js';
import { Follower } from '#shared/bus/redis-follower.js';
import type { BusEvent, ChangeBus } from '#shared/bus/index.js';
import { REDIS_SKIP_REASON, REDIS_URL, describeWithService } from '../../helpers/services.js';
import { captureLogger } from '../../helpers/log-capture.js';
import { TcpProxy } from '../cache/tcp-proxy.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits for a recovery that is asynchronous by nature (a reconnect after the connection was cut):
 * polled, bounded. The steady state never waits: sync() catches up before it answers.
 */
async function eventually(check: () => Promise<boolean>, withinMs = 8_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('not within the bound');
    await sleep(50);
  }
}

describeWithService('change bus on Redis (shared/bus)', REDIS_URL, REDIS_SKIP_REASON, (url) => {
  const opened: ChangeBus[] = [];
  let proxy: TcpProxy;
  let prefix: string;
  let admin: Redis;
  const capture = captureLogger();
  const { logger } = capture;

  const redisConfig = (via: string) => ({ backend: 'redis' as const, url: via, keyPrefix: prefix, commandTimeoutMs: 500, connectTimeoutMs: 500 });
  const bus = async (via = url, maxLength = 100_000) => {
    const b = await createRedisBus({ redis: redisConfig(via), maxLength, denyWindowMs: 60_000, retryForMs: 60_000, logger, blockMs: 300 });
    opened.push(b);
    return b;
  };
  /** A follower and what it received, in order. */
  const follower = async (via = url) => {
    const b = await bus(via);
    const events: BusEvent[] = [];
    b.subscribe((e) => events.push(e));
    await eventually(() => b.sync());
    return { b, events, changes: () => events.flatMap((e) => (e.kind === 'change' ? [e.change] : [])) };
  };

  beforeEach(async () => {
    prefix = `portcullis:test-bus:${randomBytes(6).toString('hex')}:`;
    const target = new URL(url);
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    await proxy.start();
  });
  before(() => {
    admin = new Redis(url);
  });
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((b) => b.close()));
    await proxy.stop();
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
  });
  after(() => admin.quit());
  const proxied = () => {
    const u = new URL(url);
    u.host = `127.0.0.1:${proxy.port}`;
    return u.toString();
  };

  it('a change published before sync() is applied when sync() answers, on every follower, in order', async () => {
    const [one, two] = [await follower(), await follower()];
    const publisher = await bus();
    expect(await publisher.publish({ type: 'user.changed', userId: 'u1' })).to.equal(true);
    expect(await publisher.publish({ type: 'grant.revoked', grantId: 'g1', at: 1 })).to.equal(true);
    for (const f of [one, two]) {
      expect(await f.b.sync()).to.equal(true);
      expect(f.changes()).to.deep.equal([{ type: 'user.changed', userId: 'u1' }, { type: 'grant.revoked', grantId: 'g1', at: 1 }]);
    }
  });

  it('a follower that joins later gets the revocations Redis holds in its first reset, not the other changes', async () => {
    const publisher = await bus();
    const first = Date.now();
    await publisher.publish({ type: 'user.changed', userId: 'u1' });
    const at = Date.now();
    await publisher.publish({ type: 'user.sessions_revoked', userId: 'u2', at });
    await publisher.publish({ type: 'client.deleted', clientId: 'c1', at });
    const late = await follower();
    expect(late.events).to.have.length(1);
    const [reset] = late.events as [Extract<BusEvent, { kind: 'reset' }>];
    expect(reset.kind).to.equal('reset');
    expect(reset.deny!.revocations).to.have.deep.members([{ type: 'user.sessions_revoked', userId: 'u2', at }, { type: 'client.deleted', clientId: 'c1', at }]);
    // Redis knows every revocation since its first use: the first publication here.
    expect(reset.deny!.since).to.be.within(first, at);
  });

  it('is stale (sync() false) while Redis is unreachable, and catches up on what it missed', async () => {
    const f = await follower(proxied());
    const publisher = await bus();
    await proxy.stop();
    expect(await f.b.sync()).to.equal(false);
    await publisher.publish({ type: 'entitlements.changed', userId: 'u1' });
    await proxy.start();
    await eventually(() => f.b.sync());
    // The stream still held the change: applied, no reset needed.
    expect(f.changes()).to.deep.equal([{ type: 'entitlements.changed', userId: 'u1' }]);
  });

  it('after missing changes the stream no longer holds, it resets: a cached entry is not served again', async () => {
    const f = await follower(proxied());
    const cache = createBusCache<{ role: string }>(f.b, { max: 10, maxAgeMs: 60_000, invalidates: (c) => (c.type === 'user.changed' ? c.userId : undefined) });
    expect(await cache.get('u1', async () => ({ role: 'admin' }), await f.b.sync())).to.deep.equal({ role: 'admin' });
    expect(await cache.get('u1', async () => ({ role: 'never read' }), await f.b.sync())).to.deep.equal({ role: 'admin' });
    const publisher = await bus(url, 10);
    await proxy.stop();
    await publisher.publish({ type: 'user.changed', userId: 'u1' });
    // Enough to trim the stream past the follower (MAXLEN ~ removes whole nodes of 100 entries).
    for (let i = 0; i < 300; i++) await publisher.publish({ type: 'entitlements.changed', userId: `filler-${i}` });
    expect(await admin.xlen(busKeys(prefix).log)).to.be.below(300);
    await proxy.start();
    await eventually(() => f.b.sync());
    expect(f.events.filter((e) => e.kind === 'reset')).to.have.length(2); // the first join, then the gap
    expect(f.changes().some((c) => c.type === 'user.changed')).to.equal(false);
    expect(await cache.get('u1', async () => ({ role: 'user' }), await f.b.sync())).to.deep.equal({ role: 'user' });
  });

  it('Redis emptied (a restart without its data): the follower resets and keeps the revocations it knew', async () => {
    const f = await follower();
    const publisher = await bus();
    await publisher.publish({ type: 'grant.revoked', grantId: 'g-known', at: Date.now() });
    expect(await f.b.sync()).to.equal(true);
    await admin.del(...(await admin.keys(`${prefix}*`)));
    expect(await f.b.sync()).to.equal(false);
    await eventually(() => f.b.sync());
    const resets = f.events.filter((e): e is Extract<BusEvent, { kind: 'reset' }> => e.kind === 'reset');
    expect(resets).to.have.length(2);
    // Redis forgot the revocation; the subscriber merges (revocations.ts), Redis says it knows nothing older.
    expect(resets[1]!.deny!.revocations).to.deep.equal([]);
    expect(resets[1]!.deny!.since).to.be.above(resets[0]!.deny!.since);
  });

  it('a change Redis cannot take is retried in the background and arrives once Redis is back', async () => {
    const f = await follower();
    const publisher = await bus(proxied());
    await proxy.stop();
    expect(await publisher.publish({ type: 'user.changed', userId: 'late' })).to.equal(false);
    await proxy.start();
    await eventually(async () => (await f.b.sync()) && f.changes().length > 0);
    expect(f.changes()).to.deep.equal([{ type: 'user.changed', userId: 'late' }]);
  });

  it('sync() alone applies what was published before it: no wait for the follower\'s blocking read', async () => {
    // The follower's blocking connection goes to a server that never answers: only sync() reads.
    const hung = new TcpProxy();
    await hung.start();
    const main = new Redis(url, { lazyConnect: true });
    const blocking = new Redis(`redis://127.0.0.1:${hung.port}`, { lazyConnect: true, enableReadyCheck: false, commandTimeout: 60_000 });
    blocking.on('error', () => undefined);
    const events: BusEvent[] = [];
    const f = new Follower(main, blocking, (e) => events.push(e), { keys: busKeys(prefix), denyWindowMs: 60_000, blockMs: 30_000, logger });
    try {
      await main.connect();
      f.start(Promise.resolve());
      await eventually(() => f.sync());
      const publisher = await bus();
      await publisher.publish({ type: 'user.changed', userId: 'u1' });
      await publisher.publish({ type: 'entitlements.changed', userId: 'u1' });
      expect(await f.sync()).to.equal(true);
      expect(events.flatMap((e) => (e.kind === 'change' ? [e.change.type] : []))).to.deep.equal(['user.changed', 'entitlements.changed']);
    } finally {
      f.stop();
      blocking.disconnect();
      await main.quit();
      await hung.stop();
    }
  });

  it('refuses to publish a malformed change (a bug at the call site)', async () => {
    const publisher = await bus();
    const err = await publisher.publish({ type: 'user.changed', userId: '' }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(Error);
  });
});
