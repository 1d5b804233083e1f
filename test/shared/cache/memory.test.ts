import { expect } from 'chai';
import { createMemoryCache } from '#shared/cache/index.js';

/** Memory-only behaviour the contract cannot see: the sweep and the entry bound. */
describe('MemoryCache', () => {
  let now = 1_000;
  const clock = () => now;

  it('sweep drops expired entries that are never read again', async () => {
    const cache = createMemoryCache({ now: clock });
    await cache.set('a', '1', 50);
    await cache.set('b', '2');
    now += 51;
    expect(cache.size).to.equal(2);
    cache.sweep();
    expect(cache.size).to.equal(1);
    expect(await cache.get('b')).to.equal('2');
    await cache.close();
  });

  it('evicts the least recently written entry past maxEntries', async () => {
    const cache = createMemoryCache({ maxEntries: 3, now: clock });
    await cache.set('a', '1');
    await cache.set('b', '2');
    await cache.set('c', '3');
    await cache.set('a', '1b');
    await cache.set('d', '4');
    expect(cache.size).to.equal(3);
    expect(await cache.get('b')).to.equal(null);
    expect([await cache.get('a'), await cache.get('c'), await cache.get('d')]).to.deep.equal(['1b', '3', '4']);
    await cache.close();
  });

  it('refills the token bucket continuously with the clock', async () => {
    const cache = createMemoryCache({ now: clock });
    const rule = { capacity: 2, refillPerSecond: 4 };
    await cache.takeToken('k', rule);
    await cache.takeToken('k', rule);
    expect(await cache.takeToken('k', rule)).to.deep.equal({ allowed: false, remaining: 0, retryAfterMs: 250 });
    now += 125;
    expect(await cache.takeToken('k', rule)).to.deep.equal({ allowed: false, remaining: 0, retryAfterMs: 125 });
    now += 125;
    expect(await cache.takeToken('k', rule)).to.deep.equal({ allowed: true, remaining: 0, retryAfterMs: 0 });
    now += 10_000;
    expect(await cache.takeToken('k', rule)).to.deep.equal({ allowed: true, remaining: 1, retryAfterMs: 0 });
    await cache.close();
  });
});
