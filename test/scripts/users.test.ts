import { expect } from 'chai';
import * as oidc from 'openid-client';
import { HttpBrowser } from '../helpers/http-browser.js';
import { startSystem, type System, type Service } from '../helpers/system.js';
import { runNode, SOURCE_FLAGS } from '../helpers/process.js';
import { adminHere } from '../helpers/admin.js';
import { PASSWORD, REDIRECT, discover, signedInTokens } from '../authz-server/oidc.flow.js';

describe('admin CLI: users', function () {
  this.timeout(90_000);
  let env: System;
  let server: Service;
  let config: oidc.Configuration;

  before(async () => {
    env = await startSystem({ backend: 'sqlite', authz: 0 });
    server = await env.startAuthz();
    await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access'] });
    config = await discover(server.issuer, 'agent');
  });
  after(() => env?.close());

  /** The CLI's dispatcher in this process; the password the way an operator scripts it. */
  async function admin(args: string[], password?: string) {
    const run = await adminHere(args, { ...env.env, ...(password ? { PORTCULLIS_PASSWORD: password } : {}) });
    return { code: run.code, out: run.output };
  }

  it('creates, lists and re-roles users', async () => {
    expect((await admin(['users:create', '--email', 'cli@example.com', '--name', 'Cli'], PASSWORD)).code).to.equal(0);
    expect((await admin(['users:create', '--email', 'weak@example.com', '--name', 'W'], 'short')).code).to.equal(2);
    const listed = await admin(['users:list']);
    expect(listed.out).to.match(/\tcli@example\.com\tuser\tverified/);
    expect(listed.out).not.to.contain('weak@example.com');
    const set = await admin(['users:set-role', 'cli@example.com', 'publisher']);
    expect(set.out).to.contain('cli@example.com: user → publisher');
    expect((await env.db('user').where({ email: 'cli@example.com' }).first()).role).to.equal('publisher');
    const audited = await env.db('audit_log').where({ event: 'user.role_changed' }).first();
    expect(audited).to.deep.include({ outcome: 'success', actor_client_id: 'admin-cli', subject_type: 'user' });
    expect(JSON.parse(audited.properties)).to.deep.equal({ fromRole: 'user', toRole: 'publisher' });
    const tail = await admin(['audit:tail', '--limit', '5']);
    expect(tail.code, tail.out).to.equal(0);
    expect(tail.out).to.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}user\.role_changed {2}success {2}actor=-\/admin-cli {2}subject=user:\S+ {2}\{"fromRole":"user","toRole":"publisher"\}$/m);
    expect((await admin(['audit:tail', '--limit', '0'])).code).to.equal(2);
    expect((await admin(['users:set-role', 'cli@example.com', 'root'])).code).to.equal(2);
    expect((await admin(['users:set-role', 'nobody@example.com', 'admin'])).code).to.equal(2);
  });

  it('users:create refuses a weak password with exit 2, the refusal and zxcvbn\'s advice on stderr, and creates no one', async () => {
    const common = runNode([...SOURCE_FLAGS, 'scripts/admin.ts', 'users:create', '--email', 'cli-weak@example.com', '--name', 'Cli Weak'], { ...env.env, PORTCULLIS_PASSWORD: 'password123456' });
    const streams = { stdout: '', stderr: '' };
    common.child.stdout!.on('data', (d) => (streams.stdout += d));
    common.child.stderr!.on('data', (d) => (streams.stderr += d));
    const closed = new Promise<number | null>((resolve) => common.child.on('close', resolve));
    expect(await closed).to.equal(2);
    expect(streams).to.deep.equal({ stdout: '', stderr: 'The password is too easy to guess. This is similar to a commonly used password. Add more words that are less common.\n' });
    // The operator-given name is a context word: refused for this user, fine for another.
    const own = await admin(['users:create', '--email', 'cli-weak@example.com', '--name', 'Zephyrinus McGillicuddy'], 'McGillicuddyZephyrinus');
    expect(own.code).to.equal(2);
    expect(own.out).to.contain('The password is too easy to guess. There should not be any personal or page related data. Add more words that are less common.');
    expect(await env.db('user').where({ email: 'cli-weak@example.com' })).to.deep.equal([]);
    expect((await admin(['users:create', '--email', 'cli-weak@example.com', '--name', 'Cli Weak'], 'McGillicuddyZephyrinus')).code).to.equal(0);
  });

  it('a ban revokes sessions and refresh tokens at once, and sign-in is refused until unbanned', async () => {
    await env.createUser({ email: 'ban-me@example.com', password: PASSWORD });
    const browser = new HttpBrowser();
    const tokens = await signedInTokens(config, browser, { email: 'ban-me@example.com' });
    const banned = await admin(['users:ban', 'ban-me@example.com', '--reason', 'abuse', '--days', '7']);
    expect(banned.code, banned.out).to.equal(0);
    expect(banned.out).to.match(/revoked sessions and 1 grant\(s\)/);
    const refresh = await oidc.refreshTokenGrant(config, tokens.refresh_token!).then(() => 'worked', (e: oidc.ResponseBodyError) => e.error);
    expect(refresh).to.equal('invalid_grant');
    const session = await browser.request(`${server.issuer}/api/auth/get-session`, { headers: { accept: 'application/json' } });
    expect(JSON.parse(session.text)).to.equal(null);
    const row = await env.db('user').where({ email: 'ban-me@example.com' }).first();
    expect(Boolean(row.banned)).to.equal(true);
    expect(row.banReason).to.equal('abuse');
    expect(JSON.parse((await env.db('audit_log').where({ event: 'user.banned', subject_id: row.id }).first()).properties).reason).to.equal('abuse');
    const signIn = () => fetch(`${server.issuer}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: server.issuer }, body: JSON.stringify({ email: 'ban-me@example.com', password: PASSWORD }) });
    // Refused with the wrong-password answer: a 403 would confirm the account and its password.
    const refused = await signIn();
    expect(refused.status).to.equal(401);
    expect(((await refused.json()) as { code: string }).code).to.equal('INVALID_EMAIL_OR_PASSWORD');
    expect((await admin(['users:unban', 'ban-me@example.com'])).code).to.equal(0);
    expect((await signIn()).status).to.equal(200);
  });
});
