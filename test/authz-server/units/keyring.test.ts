import { expect } from 'chai';
import { newSigningKey } from '#shared/config/dev-secrets.js';
import { AppError } from '#shared/errors/index.js';
import {
  addKey,
  describe as describeKeys,
  promoteKey,
  providerJwks,
  removeKey,
  retireKey,
  type KeyStatus,
  type RingKey,
} from '#authz/keys/keyring.js';

const key = async (alg: 'RS256' | 'ES256', status?: KeyStatus): Promise<RingKey> => {
  const k = (await newSigningKey(alg)) as RingKey;
  return status ? { ...k, status } : k;
};
const statuses = (keys: readonly RingKey[]) => Object.fromEntries(keys.map((k) => [k.kid, k.status]));

function refused(fn: () => unknown, pattern: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).to.be.instanceOf(AppError);
  expect((err as AppError).code).to.equal('KEY_ROTATION_REFUSED');
  expect((err as AppError).status).to.equal(400);
  expect((err as AppError).message).to.match(pattern);
}

describe('authz-server signing-key ring', () => {
  let rsA: RingKey, rsB: RingKey, rsC: RingKey, esA: RingKey, esB: RingKey;
  before(async () => {
    [rsA, rsB, rsC, esA, esB] = await Promise.all([key('RS256'), key('RS256'), key('RS256'), key('ES256'), key('ES256')]);
  });

  describe('describe', () => {
    it('without statuses, the first key of each alg is active and the others are next', () => {
      expect(describeKeys([rsA, esA, rsB, esB])).to.deep.equal([
        { kid: rsA.kid, alg: 'RS256', status: 'active' },
        { kid: esA.kid, alg: 'ES256', status: 'active' },
        { kid: rsB.kid, alg: 'RS256', status: 'next' },
        { kid: esB.kid, alg: 'ES256', status: 'next' },
      ]);
    });

    it('keeps explicit statuses and derives alg from kty when alg is missing', () => {
      const { alg: _a, ...ecNoAlg } = esA;
      const { alg: _b, ...rsaNoAlg } = rsB;
      expect(describeKeys([{ ...rsA, status: 'retired' }, rsaNoAlg as RingKey, ecNoAlg as RingKey])).to.deep.equal([
        { kid: rsA.kid, alg: 'RS256', status: 'retired' },
        { kid: rsB.kid, alg: 'RS256', status: 'active' },
        { kid: esA.kid, alg: 'ES256', status: 'active' },
      ]);
    });
  });

  describe('providerJwks', () => {
    it('puts active keys first (then next, then retired), strips status, sets alg and use', () => {
      const { alg: _a, ...ecNoAlg } = esA;
      const ring: RingKey[] = [{ ...rsB, status: 'next' }, { ...rsC, status: 'retired' }, { ...(ecNoAlg as RingKey), status: 'active' }, { ...rsA, status: 'active' }];
      const before = JSON.stringify(ring);
      const { keys } = providerJwks(ring);
      expect(keys.map((k) => k.kid)).to.deep.equal([esA.kid, rsA.kid, rsB.kid, rsC.kid]);
      for (const k of keys) {
        expect(k).to.not.have.property('status');
        expect(k.use).to.equal('sig');
        expect(k.d).to.be.a('string');
      }
      expect(keys.map((k) => k.alg)).to.deep.equal(['ES256', 'RS256', 'RS256', 'RS256']);
      expect(JSON.stringify(ring)).to.equal(before);
    });

    it('orders implicit statuses the same way: a later unstatused key of an alg is next', () => {
      expect(providerJwks([rsB, rsA, esA]).keys.map((k) => k.kid)).to.deep.equal([rsB.kid, esA.kid, rsA.kid]);
    });
  });

  describe('addKey', () => {
    it('adds a next key when its alg already has an active key, and normalizes the ring', async () => {
      const { keys, kid } = await addKey([rsA, esA], 'RS256');
      expect(keys).to.have.length(3);
      expect(keys[2]!.kid).to.equal(kid);
      expect(kid).to.not.be.oneOf([rsA.kid, esA.kid]);
      expect(statuses(keys)).to.deep.equal({ [rsA.kid]: 'active', [esA.kid]: 'active', [kid]: 'next' });
      expect(keys[2]).to.include({ kty: 'RSA', alg: 'RS256', use: 'sig' });
      expect(keys[2]!.d).to.be.a('string');
    });

    it('adds an active key when no key of its alg is active (none, or only retired ones)', async () => {
      const first = await addKey([rsA], 'ES256');
      expect(statuses(first.keys)).to.deep.equal({ [rsA.kid]: 'active', [first.kid]: 'active' });
      expect(first.keys[1]).to.include({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
      const second = await addKey([rsA, { ...esA, status: 'retired' }], 'ES256');
      expect(statuses(second.keys)).to.deep.equal({ [rsA.kid]: 'active', [esA.kid]: 'retired', [second.kid]: 'active' });
    });

    it('gives every new key a distinct kid', async () => {
      let keys: RingKey[] = [rsA, esA];
      for (let i = 0; i < 3; i++) keys = (await addKey(keys, 'ES256')).keys;
      expect(new Set(keys.map((k) => k.kid)).size).to.equal(5);
    });
  });

  describe('promoteKey', () => {
    it('makes the target active, retires the previous active key of its alg, leaves others alone', () => {
      const ring: RingKey[] = [rsA, esA, { ...rsB, status: 'next' }, { ...rsC, status: 'retired' }, { ...esB, status: 'next' }];
      const next = promoteKey(ring, rsB.kid);
      expect(next.map((k) => k.kid)).to.deep.equal(ring.map((k) => k.kid));
      expect(statuses(next)).to.deep.equal({
        [rsA.kid]: 'retired',
        [esA.kid]: 'active',
        [rsB.kid]: 'active',
        [rsC.kid]: 'retired',
        [esB.kid]: 'next',
      });
      expect(providerJwks(next).keys[0]!.kid).to.equal(esA.kid);
      expect(providerJwks(next).keys.filter((k) => k.alg === 'RS256')[0]!.kid).to.equal(rsB.kid);
    });

    it('refuses an unknown kid', () => {
      refused(() => promoteKey([rsA, esA], 'no-such-kid'), /no key no-such-kid/);
    });
  });

  describe('retireKey and removeKey', () => {
    it('retireKey retires a next key and refuses the active key and unknown kids', () => {
      expect(statuses(retireKey([rsA, rsB, esA], rsB.kid))).to.deep.equal({ [rsA.kid]: 'active', [rsB.kid]: 'retired', [esA.kid]: 'active' });
      refused(() => retireKey([rsA, rsB, esA], rsA.kid), /is signing/);
      refused(() => retireKey([rsA, esA], 'nope'), /no key nope/);
    });

    it('removeKey removes retired or next keys and refuses the active key and unknown kids', () => {
      const ring: RingKey[] = [{ ...rsA, status: 'retired' }, rsB, esA, { ...esB, status: 'next' }];
      const after = removeKey(ring, rsA.kid);
      expect(after.map((k) => k.kid)).to.deep.equal([rsB.kid, esA.kid, esB.kid]);
      expect(statuses(after)).to.deep.equal({ [rsB.kid]: 'active', [esA.kid]: 'active', [esB.kid]: 'next' });
      expect(removeKey(ring, esB.kid).map((k) => k.kid)).to.deep.equal([rsA.kid, rsB.kid, esA.kid]);
      refused(() => removeKey(ring, rsB.kid), /is signing: promote another RS256 key first/);
      refused(() => removeKey(ring, esA.kid), /is signing: promote another ES256 key first/);
      refused(() => removeKey(ring, 'nope'), /no key nope/);
    });
  });
});
