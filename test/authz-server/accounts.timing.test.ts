import { expect } from 'chai';
import { startSystem, type System } from '../helpers/system.js';
import { PASSWORD } from './oidc.flow.js';
import { interleavedMedians } from '../helpers/stats.js';

/**
 * The timing halves of the account tests (test/authz-server/accounts.test.ts holds the rest):
 * they compare medians of samples taken alternately (test/helpers/stats.ts), and `npm test` runs
 * them after the parallel phase, beside at most two other quiet files (test/run.ts QUIET).
 * test/security/user-enumeration.test.ts makes the same promise on the sign-in page and the JSON
 * API with a looser, noise-aware bound.
 */
describe('accounts: sign-in and sign-up take the same time whoever asks', function () {
  this.timeout(120_000);
  let env: System;
  let issuer: string;

  before(async () => {
    env = await startSystem({ backend: 'sqlite', authz: 0 });
    issuer = (await env.startAuthz()).issuer;
    await env.createUser({ email: 'taken@example.com', password: PASSWORD });
  });
  after(() => env?.close());

  const signUp = (body: Record<string, string>) =>
    fetch(`${issuer}/account/sign-up`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const signInApi = (email: string, password: string) =>
    fetch(`${issuer}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: issuer }, body: JSON.stringify({ email, password }) });

  it('takes statistically indistinguishable time at sign-in for an unknown email and a wrong password', async () => {
    const [unknownMedian, wrongMedian] = await interleavedMedians(30, async (email) => void (await (await signInApi(email, 'wrong password 1234')).text()), 'nobody-at-all@example.com', 'taken@example.com');
    // Both paths run one scrypt hash; without the dummy hash the unknown path would be far faster.
    expect(Math.abs(unknownMedian - wrongMedian), `unknown ${unknownMedian} ms, wrong ${wrongMedian} ms`).to.be.lessThan(Math.max(unknownMedian, wrongMedian) * 0.5);
  });


  it('takes statistically indistinguishable time to sign up a new and a taken address', async () => {
    const stamp = Date.now();
    const [fresh, taken] = await interleavedMedians(30, async (who, i) => {
      const res = await signUp({ name: 'T', email: who === 'new' ? `timing-${stamp}-${i}@example.com` : 'taken@example.com', password: PASSWORD });
      expect(res.status).to.equal(202);
    }, 'new', 'taken');
    expect(Math.abs(fresh - taken), `new ${fresh} ms, taken ${taken} ms`).to.be.lessThan(Math.max(fresh, taken) * 0.5);
  });

});
