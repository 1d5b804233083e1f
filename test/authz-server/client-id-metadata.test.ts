import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { startSystem, type System } from '../helpers/system.js';
import { HttpBrowser, LOGIN_FORM, CONSENT_FORM } from '../helpers/http-browser.js';
import { auditRow } from '../helpers/audit-row.js';
import { createTestCa, httpsDocumentServer, type TestCa } from '../helpers/test-ca.js';
import { PASSWORD, REDIRECT, authorize } from './oidc.flow.js';

/**
 * Client ID Metadata Documents (docs/agents.md): a client_id that is an https URL is fetched
 * from the client's own server — served here over https on loopback with a throwaway CA that
 * the authz-server process trusts through NODE_EXTRA_CA_CERTS. Every refusal is invalid_client
 * with a description, never a 500, and stores nothing.
 */
describe('authz-server client ID metadata documents', function () {
  this.timeout(60_000);
  let ca: TestCa;
  let docs: Awaited<ReturnType<typeof httpsDocumentServer>>;
  let env: System;
  let strict: System;
  let issuer: string;
  let strictIssuer: string;

  const agentDoc = (id: string, extra: Record<string, unknown> = {}) => ({
    client_id: id,
    client_name: 'Test Agent',
    client_uri: docs.origin,
    redirect_uris: [REDIRECT],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    application_type: 'native',
    scope: 'openid offline_access listings:read',
    ...extra,
  });

  /** The front channel's first answer for `clientId`, as a browser would see it. */
  async function authorizeAt(base: string, clientId: string, redirectUri = REDIRECT) {
    const url = new URL(`${base}/auth`);
    for (const [k, v] of Object.entries({ client_id: clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGKSDWCydw', code_challenge_method: 'S256', state: 'xyz' })) {
      url.searchParams.set(k, v);
    }
    const res = await fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
    return { status: res.status, location: res.headers.get('location'), text: await res.text() };
  }

  const developerDetail = (text: string) => /<summary>Details for the application's developer<\/summary>\s*<p><code>([^<]+)<\/code>(?::\s*([^<]*))?<\/p>/.exec(text)?.slice(1, 3);

  async function metadataAudit(db: System['db']) {
    return (await db('audit_log').where({ event: 'client.metadata_fetched' }).orderBy('created_at', 'asc')).map((r: Record<string, unknown>) => ({ ...auditRow(r), id: r.id }) as ReturnType<typeof auditRow> & { id: unknown });
  }
  /**
   * The refusals recorded since the rows `seen`, once one with `outcome` arrived (audit rows
   * are written after the answer; an earlier test's `accepted` row may land late, so it is skipped).
   */
  async function newAudit(db: System['db'], seen: Set<unknown>, outcome: string) {
    let rows: Awaited<ReturnType<typeof metadataAudit>> = [];
    for (let i = 0; i < 30; i++) {
      rows = (await metadataAudit(db)).filter((r) => !seen.has(r.id) && r.properties.outcome !== 'accepted');
      if (rows.some((r) => r.properties.outcome === outcome)) break;
      await sleep(100);
    }
    return rows;
  }

  before(async () => {
    ca = createTestCa();
    docs = await httpsDocumentServer(ca);
    // A process of its own: NODE_EXTRA_CA_CERTS is read when a process starts (and the document fetcher keeps per-process state).
    env = await startSystem({ backend: 'sqlite', env: { CLIENT_METADATA_ALLOW_LOOPBACK: 'true', NODE_EXTRA_CA_CERTS: ca.caFile }, authz: 0, hosting: 'process' });
    strict = await startSystem({ backend: 'sqlite', env: { NODE_EXTRA_CA_CERTS: ca.caFile }, authz: 0, hosting: 'process' });
    issuer = (await env.startAuthz()).issuer;
    strictIssuer = (await strict.startAuthz()).issuer;
    await env.createUser({ email: 'alice@example.com', password: PASSWORD, name: 'Alice' });
  });

  after(async () => {
    await env?.close();
    await strict?.close();
    await docs?.close();
    ca?.close();
  });

  it('advertises client_id_metadata_document_supported in discovery', async () => {
    const meta = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(meta.client_id_metadata_document_supported).to.equal(true);
  });

  it('signs a person in for an agent identified by its document: consent says who is asking, code + PKCE, refresh, audit with the host only', async () => {
    const id = docs.url('/agents/good/client.json');
    docs.json('/agents/good/client.json', agentDoc(id), { 'cache-control': 'max-age=300' });
    const config = await oidc.discovery(new URL(issuer), id, { redirect_uris: [REDIRECT] }, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const browser = new HttpBrowser();
    const { page: login, verifier, state } = await authorize(config, browser, { signIn: false, scope: 'openid offline_access listings:read' });
    expect(login.text).to.match(LOGIN_FORM);
    const consent = await browser.submit(login, LOGIN_FORM, { email: 'alice@example.com', password: PASSWORD }, issuer);
    expect(consent.status).to.equal(200);
    expect(consent.text).to.match(CONSENT_FORM);
    expect(consent.text).to.contain('<strong>Test Agent</strong> <small>(name given by the app itself, not checked by us)</small>');
    expect(consent.text).to.contain(`It identifies itself by a document at <strong>${new URL(docs.origin).host}</strong>.`);
    expect(consent.text).to.contain('After you answer you go back to <strong>an app on this device</strong>.');
    expect(consent.text).to.contain('Signed in as <strong>alice@example.com</strong>');
    const done = await browser.submit(consent, CONSENT_FORM, { decision: 'allow' }, issuer);
    expect(done.location).to.match(/^http:\/\/127\.0\.0\.1:8765\/callback\?code=/);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.location!), { pkceCodeVerifier: verifier, expectedState: state });
    const at = decodeJwt(tokens.access_token);
    expect(at.client_id).to.equal(id);
    expect(at.aud).to.equal(env.env.API_AUDIENCE);
    expect(at.scope).to.equal('listings:read');
    expect(tokens.refresh_token).to.be.a('string');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(decodeJwt(refreshed.access_token).client_id).to.equal(id);
    // Cached per Cache-Control: one fetch for the whole flow (authorization, token, refresh).
    expect(docs.hits('/agents/good/client.json')).to.equal(1);
    const rows = (await metadataAudit(env.db)).filter((r) => r.properties.host === new URL(docs.origin).host);
    expect(rows.map((r) => [r.outcome, r.properties])).to.deep.include(['success', { host: new URL(docs.origin).host, outcome: 'accepted', authMethod: 'none' }]);
    for (const r of rows) expect(JSON.stringify(r)).not.to.contain('/agents/good');
  });

  it('a document without scope gets the agent scope set, never more (listings:write is not in it)', async () => {
    const id = docs.url('/agents/noscope/client.json');
    const { scope: _scope, ...doc } = agentDoc(id);
    docs.json('/agents/noscope/client.json', doc);
    const url = new URL(`${issuer}/auth`);
    for (const [k, v] of Object.entries({ client_id: id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid listings:write', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGKSDWCydw', code_challenge_method: 'S256', state: 's' })) {
      url.searchParams.set(k, v);
    }
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).to.equal(303);
    const back = new URL(res.headers.get('location')!);
    expect(back.origin + back.pathname).to.equal(REDIRECT);
    expect(back.searchParams.get('error')).to.equal('invalid_scope');
  });

  describe('refusals: invalid_client with a description, nothing stored, never a 500', () => {
    const cases: { name: string; path: string; serve: (id: string) => Parameters<(typeof docs)['serve']>[1]; detail: RegExp; outcome: string }[] = [
      {
        name: 'a redirect (no redirect is followed)',
        path: '/agents/redirect/client.json',
        serve: () => (_req, res) => res.writeHead(302, { location: docs.url('/agents/good/client.json') }).end(),
        detail: /^client_id metadata document fetch failed$/,
        outcome: 'http_302',
      },
      {
        name: 'an oversize document (more than 5 KiB)',
        path: '/agents/big/client.json',
        serve: (id) => (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...agentDoc(id), padding: 'x'.repeat(6 * 1024) })),
        detail: /^client_id metadata document fetch failed$/,
        outcome: 'invalid_document',
      },
      {
        name: 'a slow document (over the 2.5 s budget)',
        path: '/agents/slow/client.json',
        serve: (id) => (_req, res) => void sleep(4000).then(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(agentDoc(id)))),
        detail: /^client_id metadata document fetch failed$/,
        outcome: 'unreachable',
      },
      {
        name: 'a client_id inside that is not the URL',
        path: '/agents/mismatch/client.json',
        serve: () => (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(agentDoc(docs.url('/agents/other/client.json')))),
        detail: /^client_id metadata document refused: client_id metadata document client_id does not match the expected value$/,
        outcome: 'invalid_document',
      },
      {
        name: 'a shared-secret (confidential) method',
        path: '/agents/secret/client.json',
        serve: (id) => (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(agentDoc(id, { token_endpoint_auth_method: 'client_secret_basic' }))),
        detail: /^client_id metadata document refused: .*shared-secret/,
        outcome: 'invalid_document',
      },
      {
        name: 'private_key_jwt with a jwks_uri on another origin',
        path: '/agents/jwks/client.json',
        serve: (id) => (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(agentDoc(id, { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://keys.example.com/jwks.json' }))),
        detail: /^client_id metadata document refused: .*jwks_uri/,
        outcome: 'refused',
      },
      {
        name: 'a scope outside the agent set',
        path: '/agents/scope/client.json',
        serve: (id) => (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(agentDoc(id, { scope: 'openid listings:write' }))),
        detail: /^client_id metadata document refused: .*listings:write/,
        outcome: 'refused',
      },
      {
        name: 'a plain-http redirect URI off loopback',
        path: '/agents/http/client.json',
        serve: (id) => (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(agentDoc(id, { application_type: 'web', redirect_uris: ['https://agent.example.com/cb', 'http://agent.example.com/cb'] }))),
        detail: /^client_id metadata document refused: .*http:\/\/agent\.example\.com\/cb/,
        outcome: 'refused',
      },
    ];

    for (const c of cases) {
      it(`refuses ${c.name}`, async () => {
        const id = docs.url(c.path);
        docs.serve(c.path, c.serve(id));
        const before = await env.db('oauth_clients').count({ n: '*' }).first();
        const seen = new Set((await metadataAudit(env.db)).map((r) => r.id));
        const r = await authorizeAt(issuer, id);
        expect(r.status, r.text.slice(0, 400)).to.equal(400);
        const [error, description] = developerDetail(r.text) ?? [];
        expect(error).to.equal('invalid_client');
        expect(description?.replace(/&#39;/g, "'"), description).to.match(c.detail);
        expect(docs.hits(c.path)).to.equal(1);
        expect(await env.db('oauth_clients').count({ n: '*' }).first()).to.deep.equal(before);
        expect((await newAudit(env.db, seen, c.outcome)).map((a) => ({ host: a.properties.host, outcome: a.properties.outcome }))).to.deep.equal([{ host: new URL(docs.origin).host, outcome: c.outcome }]);
        // Not fetched again for a while, whoever asks (the error page's own lookup included).
        // (A document refused by the policy is remembered by oidc-provider's cache and refused again.)
        const retry = await authorizeAt(issuer, id);
        const [retryError, retryDescription] = developerDetail(retry.text) ?? [];
        expect([retry.status, retryError]).to.deep.equal([400, 'invalid_client']);
        if (c.outcome !== 'refused') expect(retryDescription).to.match(/^client_id metadata document failed recently; it is fetched again after \d+ s$/);
        expect(docs.hits(c.path)).to.equal(1);
      });
    }

    it('refuses a document on a private address (loopback, without the test allowance) without connecting', async () => {
      const path = '/agents/private/client.json';
      for (const id of [docs.url(path), docs.url(path).replace('127.0.0.1', 'localhost')]) {
        docs.json(path, agentDoc(id));
        const r = await authorizeAt(strictIssuer, id);
        expect(r.status).to.equal(400);
        expect(developerDetail(r.text)).to.deep.equal(['invalid_client', 'client_id metadata document fetch failed']);
      }
      expect(docs.hits(path)).to.equal(0);
      // Audit rows are written after the answer: wait for both.
      let audit = await metadataAudit(strict.db);
      for (let i = 0; i < 30 && audit.length < 2; i++) {
        await sleep(100);
        audit = await metadataAudit(strict.db);
      }
      expect(audit.map((a) => a.properties.outcome)).to.deep.equal(['blocked_address', 'blocked_address']);
    });

    it('refuses a redirect URI the document does not list (exact match)', async () => {
      const id = docs.url('/agents/good/client.json');
      const r = await authorizeAt(issuer, id, 'http://127.0.0.1:8765/elsewhere');
      expect(r.status).to.equal(400);
      expect(developerDetail(r.text)?.[0]).to.equal('invalid_redirect_uri');
    });

    it('does not fetch an http client_id or one without a path: unknown client', async () => {
      for (const id of [docs.url('/agents/good/client.json').replace('https:', 'http:'), docs.origin]) {
        const r = await authorizeAt(issuer, id);
        expect(r.status).to.equal(400);
        expect(developerDetail(r.text)?.[0]).to.equal('invalid_client');
      }
    });
  });
});
