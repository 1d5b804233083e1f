import { expect } from 'chai';
import type { Cache } from '#shared/cache/index.js';

/**
 * The behaviour every Cache backend must share. `open(keyPrefix)` returns a cache whose keys
 * live under that prefix (the memory backend is isolated per instance, so it ignores it).
 * Each backend runs this suite; a backend passes only if every assertion holds exactly.
 */
export type OpenCache = (keyPrefix: string) => Promise<Cache>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export function cacheContract(open: OpenCache, runPrefix: string): void {
  let cache: Cache;
  let other: Cache | undefined;

  before(async () => {
    cache = await open(`${runPrefix}main:`);
  });
  after(async () => {
    await cache.deleteByPrefix('');
    await cache.close();
  });
  afterEach(async () => {
    await other?.deleteByPrefix('');
    await other?.close();
    other = undefined;
  });

  it('get returns null for a missing key and the value after set', async () => {
    expect(await cache.get('kv:missing')).to.equal(null);
    await cache.set('kv:a', '{"x":1}');
    expect(await cache.get('kv:a')).to.equal('{"x":1}');
    await cache.set('kv:a', 'second');
    expect(await cache.get('kv:a')).to.equal('second');
  });

  it('set with a ttl expires the value', async () => {
    await cache.set('ttl:a', 'v', 40);
    expect(await cache.get('ttl:a')).to.equal('v');
    await sleep(80);
    expect(await cache.get('ttl:a')).to.equal(null);
  });

  it('set without a ttl replaces an earlier ttl', async () => {
    await cache.set('ttl:b', 'short', 40);
    await cache.set('ttl:b', 'forever');
    await sleep(80);
    expect(await cache.get('ttl:b')).to.equal('forever');
  });

  it('setIfAbsent is true for exactly one of 50 concurrent callers', async () => {
    const results = await Promise.all(range(50).map((i) => cache.setIfAbsent('once:a', `v${i}`, 5_000)));
    const winners = results.flatMap((won, i) => (won ? [i] : []));
    expect(winners).to.have.length(1);
    expect(await cache.get('once:a')).to.equal(`v${winners[0]}`);
  });

  it('setIfAbsent succeeds again once the key has expired', async () => {
    expect(await cache.setIfAbsent('once:b', 'first', 40)).to.equal(true);
    expect(await cache.setIfAbsent('once:b', 'second', 40)).to.equal(false);
    await sleep(80);
    expect(await cache.setIfAbsent('once:b', 'third', 40)).to.equal(true);
    expect(await cache.get('once:b')).to.equal('third');
  });

  it('delete removes a key and reports whether it existed', async () => {
    await cache.set('del:a', 'v');
    expect(await cache.delete('del:a')).to.equal(true);
    expect(await cache.get('del:a')).to.equal(null);
    expect(await cache.delete('del:a')).to.equal(false);
    await cache.set('del:b', 'v', 30);
    await sleep(60);
    expect(await cache.delete('del:b')).to.equal(false);
  });

  it('deleteByPrefix removes only keys under the prefix', async () => {
    await Promise.all(range(3).map((i) => cache.set(`pre:a:${i}`, 'x')));
    await cache.set('pre:ab', 'keep-1');
    await cache.set('pre:b:1', 'keep-2');
    expect(await cache.deleteByPrefix('pre:a:')).to.equal(3);
    expect(await cache.get('pre:a:0')).to.equal(null);
    expect(await cache.get('pre:ab')).to.equal('keep-1');
    expect(await cache.get('pre:b:1')).to.equal('keep-2');
    expect(await cache.deleteByPrefix('pre:a:')).to.equal(0);
  });

  it('deleteByPrefix treats glob characters literally and handles many keys', async () => {
    await cache.set('glob:x*', 'star');
    await cache.set('glob:xy', 'keep');
    expect(await cache.deleteByPrefix('glob:x*')).to.equal(1);
    expect(await cache.get('glob:xy')).to.equal('keep');
    await Promise.all(range(1_200).map((i) => cache.set(`bulk:${i}`, 'x')));
    expect(await cache.deleteByPrefix('bulk:')).to.equal(1_200);
    expect(await cache.get('bulk:7')).to.equal(null);
  });

  it('incr is exact under 50 concurrent increments', async () => {
    const values = await Promise.all(range(50).map(() => cache.incr('ctr:a', 1, 5_000)));
    expect([...values].sort((a, b) => a - b)).to.deep.equal(range(50).map((i) => i + 1));
    expect(await cache.get('ctr:a')).to.equal('50');
    expect(await cache.incr('ctr:a', 7, 5_000)).to.equal(57);
    expect(await cache.incr('ctr:a', -10, 5_000)).to.equal(47);
  });

  it('incr applies the ttl only when it creates the key (fixed window)', async () => {
    expect(await cache.incr('ctr:b', 2, 120)).to.equal(2);
    await sleep(40);
    expect(await cache.incr('ctr:b', 3, 120)).to.equal(5);
    // 140 ms after creation: a ttl renewed by the second incr would still be alive here.
    await sleep(100);
    expect(await cache.get('ctr:b')).to.equal(null);
    expect(await cache.incr('ctr:b', 1, 120)).to.equal(1);
  });

  it('takeToken allows exactly capacity under concurrency, then refuses until refilled', async () => {
    const rule = { capacity: 5, refillPerSecond: 10 };
    const results = await Promise.all(range(20).map(() => cache.takeToken('tb:a', rule)));
    const allowed = results.filter((r) => r.allowed);
    expect(allowed).to.have.length(5);
    expect(allowed.map((r) => r.remaining).sort()).to.deep.equal([0, 1, 2, 3, 4]);
    expect(allowed.every((r) => r.retryAfterMs === 0)).to.equal(true);
    const refused = await cache.takeToken('tb:a', rule);
    expect(refused.allowed).to.equal(false);
    expect(refused.remaining).to.equal(0);
    expect(refused.retryAfterMs).to.be.within(1, 100);
    await sleep(refused.retryAfterMs + 20);
    const again = await cache.takeToken('tb:a', rule);
    expect(again.allowed).to.equal(true);
    expect(again.retryAfterMs).to.equal(0);
  });

  it('takeToken charges cost and keeps separate buckets per key', async () => {
    const rule = { capacity: 10, refillPerSecond: 1, cost: 4 };
    expect(await cache.takeToken('tb:b', rule)).to.deep.equal({ allowed: true, remaining: 6, retryAfterMs: 0 });
    expect(await cache.takeToken('tb:b', rule)).to.deep.equal({ allowed: true, remaining: 2, retryAfterMs: 0 });
    const refused = await cache.takeToken('tb:b', rule);
    expect(refused.allowed).to.equal(false);
    expect(refused.retryAfterMs).to.be.within(1_900, 2_000);
    expect((await cache.takeToken('tb:c', rule)).remaining).to.equal(6);
  });

  it('keys are isolated by keyPrefix', async () => {
    other = await open(`${runPrefix}other:`);
    await cache.set('iso:a', 'mine');
    await other.set('iso:a', 'theirs');
    expect(await cache.get('iso:a')).to.equal('mine');
    expect(await other.get('iso:a')).to.equal('theirs');
    expect(await other.deleteByPrefix('')).to.equal(1);
    expect(await cache.get('iso:a')).to.equal('mine');
    expect(await other.get('iso:a')).to.equal(null);
  });

  it('rejects invalid ttls, increments and rules with RangeError before touching the store', async () => {
    for (const attempt of [
      () => cache.set('bad:a', 'v', 0),
      () => cache.setIfAbsent('bad:a', 'v', 1.5),
      () => cache.incr('bad:a', 0.5, 100),
      () => cache.takeToken('bad:a', { capacity: 2, refillPerSecond: 1, cost: 3 }),
      () => cache.takeToken('bad:a', { capacity: 2, refillPerSecond: 0 }),
    ]) {
      const err = await attempt().then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(RangeError);
    }
    expect(await cache.get('bad:a')).to.equal(null);
  });

  it('ping resolves while the backend is reachable', async () => {
    await cache.ping();
  });
}
