import { expect } from 'chai';
import * as oidc from 'openid-client';
import { emailHash } from '#shared/audit/index.js';
import { authzEnv, type AuthzEnv, type Backend } from '../helpers/authz.js';
import { HttpBrowser } from '../helpers/http-browser.js';
import { PG_SKIP_REASON, PG_URL, describeWithService } from '../helpers/services.js';
import { PASSWORD, discover, signedInTokens } from '../authz-server/oidc.flow.js';
import { serviceProcesses } from './processes.js';
import { verificationLink } from './outbox.js';

type Row = Record<string, unknown>;

/** The audit rows of one event once the authz-server process has written them (it queues first). */
async function rowsOf(env: AuthzEnv, event: string, count: number): Promise<Row[]> {
  for (let i = 0; i < 100; i++) {
    const rows: Row[] = await env.db('audit_log').where({ event }).orderBy('created_at');
    if (rows.length >= count) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`fewer than ${count} ${event} rows`);
}

const exact = (row: Row) => {
  const { id, created_at, properties, ...rest } = row;
  expect(id).to.match(/^[0-9a-f-]{36}$/);
  expect(Number(created_at)).to.be.above(0);
  return { ...rest, properties: JSON.parse(String(properties)) as Row };
};

/** Events the authz-server records outside its own pages: better-auth's verify-email and RFC 7009 revocation. */
function suite(backend: Backend, pgUrl?: string) {
  let env: AuthzEnv;
  const procs = serviceProcesses();
  let issuer: string;

  before(async function () {
    this.timeout(120_000);
    env = await authzEnv(backend, pgUrl);
    issuer = env.env.ISSUER_URL!;
    await procs.start('authz-server', { ...env.env, LOG_LEVEL: 'info', DB_MIGRATE_ON_START: 'false' });
    await env.createClient({ clientId: 'revoker', name: 'Revoker', type: 'public', redirectUris: ['http://127.0.0.1:8765/callback'], scopes: ['openid', 'offline_access'] });
  });
  after(async function () {
    this.timeout(30_000);
    await procs.stopAll();
    await env?.close();
  });

  it('user.email_verified: one row when the link is followed, with the user as actor and only an email hash', async function () {
    this.timeout(30_000);
    const email = 'verify-me@example.com';
    const res = await fetch(`${issuer}/account/sign-up`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'JourneyUA/1' }, body: JSON.stringify({ name: 'V', email, password: PASSWORD }) });
    expect(res.status).to.equal(202);
    expect(await env.db('audit_log').where({ event: 'user.email_verified' })).to.deep.equal([]);
    const link = await verificationLink(env.env.DATA_DIR!, email);
    const landed = await new HttpBrowser().request(link, { headers: { 'user-agent': 'JourneyUA/1' } });
    expect(landed.status).to.equal(302);
    const userId = (await env.db('user').where({ email }).first()).id;
    const [row, ...more] = await rowsOf(env, 'user.email_verified', 1);
    expect(more).to.deep.equal([]);
    expect(exact(row!)).to.deep.equal({
      event: 'user.email_verified', outcome: 'success', actor_user_id: userId, actor_client_id: null, subject_type: null, subject_id: null,
      request_id: null, ip_prefix: null, user_agent: 'JourneyUA/1', properties: { emailHash: `emailhash:${emailHash(email, env.config.secrets.authSecret)}` },
    });
    // The link is single use: following it again verifies nothing and records nothing.
    await new HttpBrowser().request(link);
    await new Promise((r) => setTimeout(r, 300));
    expect(await env.db('audit_log').where({ event: 'user.email_verified' })).to.have.length(1);
  });

  it('token.revoked: a refresh token revoked at the revocation endpoint, not rotation or an unknown token', async function () {
    this.timeout(60_000);
    const userId = await env.createUser({ email: 'revoke-me@example.com', password: PASSWORD });
    const config = await discover(issuer, 'revoker');
    const tokens = await signedInTokens(config, new HttpBrowser(), { email: 'revoke-me@example.com' });
    const rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    await oidc.tokenRevocation(config, 'not-a-token-we-issued');
    await oidc.tokenRevocation(config, rotated.refresh_token!);
    const [row, ...more] = await rowsOf(env, 'token.revoked', 1);
    expect(more).to.deep.equal([]);
    const grantId = (exact(row!).properties as { grantId: unknown }).grantId;
    expect(grantId).to.be.a('string').with.length.above(10);
    expect(exact(row!)).to.deep.include({ event: 'token.revoked', outcome: 'success', actor_user_id: userId, actor_client_id: 'revoker', subject_type: null, subject_id: null, ip_prefix: '127.0.0.0/24' });
    expect(exact(row!).properties).to.deep.equal({ tokenType: 'refresh_token', grantId, reason: 'client_request' });
    expect(String(row!.request_id)).to.match(/^[0-9a-f-]{36}$|^\S{8,}$/);
    expect(JSON.stringify(row)).to.not.include(rotated.refresh_token!);
    const refused = await oidc.refreshTokenGrant(config, rotated.refresh_token!).then(() => 'worked', (e: oidc.ResponseBodyError) => e.error);
    expect(refused).to.equal('invalid_grant');
  });
}

describe('authz-server audit events (SQLite process): email verified, token revoked', () => suite('sqlite'));
describeWithService('authz-server audit events (PostgreSQL process): email verified, token revoked', PG_URL, PG_SKIP_REASON, (url) => suite('pg', url));
