import { expect } from 'chai';
import { ConfigError } from '#shared/config/index.js';
import { generate, newSigningKey } from '#shared/config/dev-secrets.js';
import { addKey, describe as describeKeys, type RingKey } from '#authz/keys/keyring.js';
import { checkApiTokenKey } from '#authz/keys/api-token-alg.js';

const MESSAGE = 'is ES256 but SIGNING_KEYS has no active ES256 key: add one with `npm run admin -- keys:add --alg ES256` (the first key of an alg signs at once), or set API_TOKEN_SIGNING_ALG=RS256';

function refusal(keys: RingKey[], alg: 'ES256' | 'RS256'): unknown {
  try {
    checkApiTokenKey(keys, alg);
    return 'started';
  } catch (err) {
    return err instanceof ConfigError ? err.problems : err;
  }
}

describe('authz-server/keys/api-token-alg: an active key for API_TOKEN_SIGNING_ALG', () => {
  it('a fresh development key set has an active key of both algs', async () => {
    const keys = JSON.parse(await generate('SIGNING_KEYS')).keys as RingKey[];
    expect(describeKeys(keys).map((k) => [k.alg, k.status])).to.deep.equal([['RS256', 'active'], ['ES256', 'active']]);
    expect([refusal(keys, 'ES256'), refusal(keys, 'RS256')]).to.deep.equal(['started', 'started']);
  });

  it('RSA keys only: ES256 is refused with the setting named and the fix, RS256 starts', async () => {
    const keys = [(await newSigningKey('RS256')) as RingKey];
    expect(refusal(keys, 'ES256')).to.deep.equal([{ key: 'API_TOKEN_SIGNING_ALG', message: MESSAGE }]);
    expect(refusal(keys, 'RS256')).to.equal('started');
  });

  it('keys:add --alg ES256 on such a set adds an active ES256 key (the first of its alg signs at once)', async () => {
    const { keys, kid } = await addKey([(await newSigningKey('RS256')) as RingKey], 'ES256');
    expect(describeKeys(keys).find((k) => k.kid === kid)).to.deep.equal({ kid, alg: 'ES256', status: 'active' });
    expect(refusal(keys, 'ES256')).to.equal('started');
  });

  it('an ES256 key that is only published (next) or retired does not sign: refused', async () => {
    const rsa = (await newSigningKey('RS256')) as RingKey;
    const ec = (await newSigningKey('ES256')) as RingKey;
    for (const status of ['next', 'retired'] as const) {
      expect(refusal([rsa, { ...ec, status }], 'ES256'), status).to.deep.equal([{ key: 'API_TOKEN_SIGNING_ALG', message: MESSAGE }]);
    }
  });
});
