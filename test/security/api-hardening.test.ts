import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { SignJWT, importJWK, type JWK } from 'jose';
import { API_SCOPES } from '#shared/oauth/scopes.js';
import { describeEachBackend, errorOf, type ApiAnswer, type Stack } from './stack.js';

/**
 * Findings of a black-box probe of the resource API, each proven against the real processes:
 * B the bearer scheme is parsed as RFC 6750 §2.1 / RFC 9110 §11.1 say; C idempotency keys are
 * compared in canonical UUID form (RFC 9562 §4); D access-token claims are type-checked and not
 * from the future; E an unknown listing and a NUL in a search leak nothing; F the RFC 9728
 * metadata claims nothing the API does not do.
 */
describeEachBackend('security: API hardening (probe findings)', (stack) => {
  let s: Stack;
  before(() => {
    s = stack();
  });

  /** Asserts a 401 INVALID_TOKEN whose RFC 6750 challenge names `error`. */
  function expectInvalid(res: ApiAnswer, error: 'invalid_token' | 'invalid_request', label: string): void {
    expect(errorOf(res), label).to.deep.equal([401, 'INVALID_TOKEN']);
    expect(res.headers.get('www-authenticate'), label).to.match(new RegExp(`^Bearer error="${error}"`));
  }
  const me = (authorization: string) => s.api('GET', '/v1/me', { headers: { authorization } });

  describe('B. bearer scheme parsing', () => {
    it('accepts the scheme in any case and one or more spaces before the token (RFC 9110 §11.1, RFC 6750 §2.1)', async function () {
      this.timeout(60_000);
      await s.user('bearer-scheme@example.com');
      const token = (await s.tokens('bearer-scheme@example.com', 'openid listings:read')).access_token;
      for (const header of [`Bearer ${token}`, `bearer ${token}`, `BEARER ${token}`, `bEaReR ${token}`, `Bearer  ${token}`, `bearer    ${token}`]) {
        const res = await me(header);
        expect([res.status, res.body?.email], header.slice(0, 12)).to.deep.equal([200, 'bearer-scheme@example.com']);
      }
    });

    it('still refuses malformed headers with 401 INVALID_TOKEN and error="invalid_request"', async function () {
      this.timeout(60_000);
      await s.user('bearer-malformed@example.com');
      const token = (await s.tokens('bearer-malformed@example.com', 'openid listings:read')).access_token;
      const malformed = [
        'Bearer', 'bearer', 'Bearer%20x', `Bearer\t${token}`, `Bearer ${token}!`, `Bearer ${token} extra`, `Bearer ${token}=x`,
        `Basic ${Buffer.from('bearer-malformed@example.com:pw').toString('base64')}`, `Bearertoken ${token}`, `Token ${token}`,
      ];
      for (const header of malformed) expectInvalid(await me(header), 'invalid_request', header.slice(0, 16));
    });
  });

  describe('C. clientReqId is compared in canonical form', () => {
    async function buyer(email: string, units = 5) {
      const userId = await s.user(email);
      const listing = await s.listing(units);
      expect((await s.deliver(s.purchase(userId, listing))).status).to.equal(200);
      const token = (await s.tokens(email, 'openid usage:report usage:read')).access_token;
      const report = (clientReqId: string, listingId = listing) => s.api('POST', '/v1/usage', { token, json: { clientReqId, listingId, units: 1 } });
      const state = async () => ({
        remaining: Number((await s.db('entitlements').where({ user_id: userId, listing_id: listing }).first()).quota_remaining),
        records: await s.count('usage_records', { user_id: userId }),
      });
      return { userId, listing, report, state };
    }

    it('the same UUID in upper case is a replay of the lower-case one: one unit, one record', async function () {
      this.timeout(60_000);
      const b = await buyer('idem-case@example.com');
      const id = randomUUID();
      const first = await b.report(id);
      expect([first.status, first.body.replayed, first.body.remaining]).to.deep.equal([201, false, 4]);
      for (const spelling of [id.toUpperCase(), id.slice(0, 8).toUpperCase() + id.slice(8)]) {
        const again = await b.report(spelling);
        expect(again.status, spelling).to.equal(201);
        expect(again.body, spelling).to.deep.equal({ ...first.body, replayed: true });
      }
      expect(await b.state()).to.deep.equal({ remaining: 4, records: 1 });
      expect((await s.db('usage_records').where({ user_id: b.userId })).map((r: { client_req_id: string }) => r.client_req_id)).to.deep.equal([id]);
    });

    it('an upper-case key is stored lower-case, so the lower-case spelling replays it too', async function () {
      this.timeout(60_000);
      const b = await buyer('idem-upper-first@example.com');
      const id = randomUUID();
      const first = await b.report(id.toUpperCase());
      expect([first.status, first.body.clientReqId]).to.deep.equal([201, id]);
      expect((await b.report(id)).body).to.deep.equal({ ...first.body, replayed: true });
      expect(await b.state()).to.deep.equal({ remaining: 4, records: 1 });
    });

    it('refuses any other key format with 400 VALIDATION_FAILED naming clientReqId, storing nothing', async function () {
      this.timeout(60_000);
      const b = await buyer('idem-format@example.com');
      const id = randomUUID();
      expect((await b.report(id)).status).to.equal(201);
      const before = await b.state();
      for (const key of [id.replaceAll('-', ''), `{${id}}`, `urn:uuid:${id}`, ` ${id}`, `${id}\u0000`, 'not-a-uuid', id.slice(0, 35)]) {
        const res = await b.report(key);
        expect(errorOf(res), JSON.stringify(key)).to.deep.equal([400, 'VALIDATION_FAILED']);
        expect(res.body.error.details.issues.map((i: { in: string; path: string }) => `${i.in}:${i.path}`), JSON.stringify(key)).to.deep.equal(['body:clientReqId']);
      }
      expect(await b.state()).to.deep.equal(before);
    });
  });

  describe('D. access-token claims are checked for shape and time', () => {
    /** A token our server would never issue, signed with its real active key. */
    async function handSigned(claims: Record<string, unknown>): Promise<string> {
      const jwk = s.env.config.secrets.signingKeys.keys.find((k) => k.kty === 'RSA' && (k as { status?: string }).status !== 'retired')! as JWK & { kid: string };
      const alg = jwk.alg ?? 'RS256';
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ client_id: 'agent', scope: 'listings:read', jti: randomUUID(), ...claims })
        .setProtectedHeader({ alg, kid: jwk.kid, typ: 'at+jwt' })
        .setIssuer(s.issuer)
        .setAudience(s.env.config.api.audience)
        .setIssuedAt((claims.iat as number | undefined) ?? now)
        .setExpirationTime(now + 300)
        .sign(await importJWK({ ...jwk, status: undefined } as JWK, alg));
    }
    let sub: string;
    before(async () => {
      sub = await s.user('claims-odd@example.com');
    });

    it('accepts a well-formed hand-signed token (the key and claims are right, so refusals below are about the claim)', async () => {
      const res = await me(`Bearer ${await handSigned({ sub })}`);
      expect([res.status, res.body?.email, res.body?.scopes]).to.deep.equal([200, 'claims-odd@example.com', ['listings:read']]);
    });

    const now = () => Math.floor(Date.now() / 1000);
    const odd: [string, () => Record<string, unknown>][] = [
      ['scope as an array', () => ({ scope: ['listings:read'] })],
      ['scope as a number', () => ({ scope: 42 })],
      ['scope as an object', () => ({ scope: { split: 'x' } })],
      ['scope with a control character', () => ({ scope: 'listings:read\nlistings:write' })],
      ['sub as a number', () => ({ sub: 42 })],
      ['client_id as an array', () => ({ client_id: ['agent'] })],
      ['iat ten years ahead', () => ({ iat: now() + 10 * 365 * 86_400 })],
      ['iat ten minutes ahead', () => ({ iat: now() + 600 })],
      ['nbf ten minutes ahead', () => ({ nbf: now() + 600 })],
      // RFC 9449 §7.2: a DPoP-bound token is no bearer token (its proof: leaked-token-dpop.test.ts).
      ['a DPoP-bound token (cnf.jkt) sent as Bearer', () => ({ cnf: { jkt: 'A'.repeat(43) } })],
      ['cnf.jkt that is not a key thumbprint', () => ({ cnf: { jkt: 42 } })],
      ['a confirmation method the API cannot check (mTLS cnf x5t#S256)', () => ({ cnf: { 'x5t#S256': 'A'.repeat(43) } })],
    ];
    for (const [what, claims] of odd) {
      it(`refuses ${what} with 401 invalid_token`, async () => {
        expectInvalid(await me(`Bearer ${await handSigned({ sub, ...claims() })}`), 'invalid_token', what);
      });
    }
  });

  describe('E. no leaks through unknown listings or NULs', () => {
    it('POST /v1/usage with an unknown listingId answers exactly what a hidden draft answers, storing nothing', async function () {
      this.timeout(60_000);
      const userId = await s.user('leak-unknown-listing@example.com');
      const draft = await s.listing();
      await s.db('listings').where({ id: draft }).update({ status: 'draft', published_at: null });
      const token = (await s.tokens('leak-unknown-listing@example.com', 'openid usage:report usage:read')).access_token;
      const report = (listingId: string, clientReqId = randomUUID()) => s.api('POST', '/v1/usage', { token, json: { clientReqId, listingId, units: 1 } });

      const hidden = errorOf(await report(draft));
      expect(hidden).to.deep.equal([403, 'NOT_ENTITLED']);
      expect(errorOf(await report(randomUUID()))).to.deep.equal(hidden);
      expect(errorOf(await report(randomUUID().toUpperCase()))).to.deep.equal(hidden);
      expect(await s.count('usage_records', { user_id: userId })).to.equal(0);

      // A used key with another listing is a reused key either way.
      const bought = await s.listing(5);
      expect((await s.deliver(s.purchase(userId, bought))).status).to.equal(200);
      const key = randomUUID();
      expect((await report(bought, key)).status).to.equal(201);
      expect(errorOf(await report(draft, key))).to.deep.equal([409, 'IDEMPOTENCY_KEY_REUSED']);
      expect(errorOf(await report(randomUUID(), key))).to.deep.equal([409, 'IDEMPOTENCY_KEY_REUSED']);
      expect(await s.count('usage_records', { user_id: userId })).to.equal(1);
    });

    it('a NUL in any text input of the listing search is 400 UNSUPPORTED_CHARACTER from the query schema', async function () {
      this.timeout(60_000);
      const marker = `nulprobe${randomUUID().slice(0, 8)}`;
      const listing = await s.listing();
      await s.db('listings').where({ id: listing }).update({ title: marker, search_text: marker });
      const before = await s.count('listings');
      for (const [param, value] of [['q', '%00'], ['q', `${marker}%00`], ['q', '%00%25'], ['publisher', '%00'], ['cursor', '%00']] as const) {
        const res = await s.api('GET', `/v1/listings?${param}=${value}`);
        expect(errorOf(res), `${param}=${value}`).to.deep.equal([400, 'UNSUPPORTED_CHARACTER']);
        // Named by the schema (not the database's own refusal on PostgreSQL, which names no field).
        expect(res.body.error.details.issues.map((i: { in: string; path: string }) => `${i.in}:${i.path}`), `${param}=${value}`).to.deep.equal([`query:${param}`]);
      }
      // The search itself is unchanged: a literal % matches nothing here, the word finds its listing.
      const found = await s.api('GET', `/v1/listings?q=${marker}`);
      expect([found.status, found.body.items.map((i: { id: string }) => i.id)]).to.deep.equal([200, [listing]]);
      expect((await s.api('GET', `/v1/listings?q=${marker}%25`)).body.items).to.deep.equal([]);
      expect(await s.count('listings')).to.equal(before);
    });
  });

  describe('F. protected resource metadata (RFC 9728)', () => {
    it('lists no resource_signing_alg_values_supported (the API signs no responses); the rest is unchanged', async () => {
      const res = await s.api('GET', '/.well-known/oauth-protected-resource');
      expect(res.status).to.equal(200);
      expect(res.body).not.to.have.property('resource_signing_alg_values_supported');
      expect(res.body).to.deep.equal({
        resource: s.env.config.api.audience,
        authorization_servers: [s.issuer],
        scopes_supported: [...API_SCOPES],
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'],
        resource_name: 'Portcullis marketplace API',
      });
    });
  });
});
