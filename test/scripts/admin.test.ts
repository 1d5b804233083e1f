import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '#shared/config/index.js';
import { createDb, migrations } from '#shared/db/index.js';
import { runNode, SOURCE_FLAGS } from '../helpers/process.js';
import { adminHere } from '../helpers/admin.js';
import { auditRow } from '../helpers/audit-row.js';
import { upsertDynamicClient } from '#authz/queries/clients.js';

interface Run {
  code: number | null;
  out: string;
}

describe('scripts/admin.ts (the admin CLI)', function () {
  this.timeout(60_000);
  let dir: string;
  const names = migrations.map((m) => m.name);

  const devEnv = () => ({ DATA_DIR: dir, NODE_ENV: 'development' });
  /**
   * The CLI as a process: where the binding to argv, streams and exit code is the subject (usage,
   * exit codes) and where anything the process prints counts (secrets never printed).
   */
  async function cli(args: string[], env: Record<string, string> = devEnv()): Promise<Run> {
    const proc = runNode([...SOURCE_FLAGS, 'scripts/admin.ts', ...args], env);
    const code = await proc.exited;
    return { code, out: proc.output() };
  }
  /** Every other command through the CLI's dispatcher in this process (test/helpers/admin.ts). */
  async function admin(args: string[], env: Record<string, string> = devEnv()): Promise<Run> {
    const run = await adminHere(args, env);
    return { code: run.code, out: run.output };
  }
  async function ok(args: string[]): Promise<string> {
    const r = await admin(args);
    expect(r.code, r.out).to.equal(0);
    return r.out;
  }
  const keyLines = (out: string) =>
    [...out.matchAll(/^\s*(\S+)  (RS256|ES256)  (active|next|retired)$/gm)].map((m) => ({ kid: m[1]!, alg: m[2]!, status: m[3]! }));
  const secretsFile = () => path.join(dir, 'dev-secrets.json');
  /** audit_log rows of one event, oldest first, each without its random id and time. */
  async function audited(event: string): Promise<Record<string, unknown>[]> {
    const db = createDb((await loadConfig({ DATA_DIR: dir, NODE_ENV: 'development' })).config.db);
    try {
      const rows: Record<string, unknown>[] = await db('audit_log').where({ event }).orderBy([{ column: 'created_at', order: 'asc' }, { column: 'id', order: 'asc' }]);
      return rows.map((row) => auditRow(row));
    } finally {
      await db.destroy();
    }
  }
  const cliRow = (event: string, subject: [string, string], properties: Record<string, unknown>) => ({
    event, outcome: 'success', actor_user_id: null, actor_client_id: 'admin-cli', subject_type: subject[0], subject_id: subject[1],
    request_id: null, ip_prefix: null, user_agent: null, properties,
  });

  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-admin-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('prints usage listing every command with exit 0, and exits 2 on an unknown command', async () => {
    const listing = await cli([]);
    expect(listing.code, listing.out).to.equal(0);
    const usage = listing.out;
    expect(usage).to.match(/^Usage: npm run admin -- <command> \[options\]/);
    for (const cmd of ['db:migrate', 'db:status', 'db:rollback', 'config:check', 'secrets:generate', 'clients:create', 'clients:list', 'clients:show', 'clients:delete', 'keys:list', 'keys:add', 'keys:promote', 'keys:retire', 'keys:remove']) {
      expect(usage).to.match(new RegExp(`^  ${cmd} +\\S`, 'm'));
    }
    expect((await cli(['--help'])).code).to.equal(0);
    const unknown = await cli(['no:such-command']);
    expect(unknown.code).to.equal(2);
    expect(unknown.out).to.include('Usage: npm run admin');
    expect(unknown.out).to.include('unknown command: no:such-command');
    const help = await cli(['clients:create', '--help']);
    expect(help.code).to.equal(0);
    expect(help.out).to.include('usage: npm run admin -- clients:create --name NAME --type public|confidential');
    expect(help.out).not.to.match(/Unknown option/i);
  });

  it('db:status, db:migrate, db:status report the registry', async () => {
    expect(await ok(['db:status'])).to.include(`sqlite: 0 applied, ${names.length} pending`);
    expect(await ok(['db:migrate'])).to.include(`sqlite: applied ${names.length} migration(s): ${names.join(', ')}`);
    const status = await ok(['db:status']);
    expect(status).to.include(`sqlite: ${names.length} applied, 0 pending`);
    for (const n of names) expect(status).to.include(`  applied  ${n}`);
    expect(await ok(['db:migrate'])).to.include('sqlite: applied 0 migration(s)');
  });

  it('clients: create (public), list, show, delete, then show fails with CLIENT_NOT_FOUND', async () => {
    const created = await ok(['clients:create', '--name', 'CLI App', '--type', 'public', '--redirect-uri', 'http://127.0.0.1:9000/cb', '--scope', 'openid offline_access']);
    const id = /^client_id=(\S+)$/m.exec(created)?.[1];
    expect(id).to.be.a('string');
    expect(created).to.not.include('client_secret');
    expect(await ok(['clients:list'])).to.include(`${id}\tpublic\tCLI App`);
    const shown = JSON.parse(await ok(['clients:show', id!]));
    expect(shown).to.include({ client_id: id, client_name: 'CLI App', token_endpoint_auth_method: 'none', scope: 'openid offline_access' });
    expect(shown.redirect_uris).to.deep.equal(['http://127.0.0.1:9000/cb']);
    expect(shown).to.not.have.property('client_secret');
    expect(await ok(['clients:delete', id!])).to.include(`deleted ${id}`);
    expect(await audited('client.created')).to.deep.equal([cliRow('client.created', ['client', id!], { authMethod: 'none', redirectUriCount: 1 })]);
    expect(await audited('client.deleted')).to.deep.equal([cliRow('client.deleted', ['client', id!], { reason: 'operator' })]);
    const gone = await admin(['clients:show', id!]);
    expect(gone.code).to.equal(1);
    expect(gone.out).to.include('CLIENT_NOT_FOUND: No such client.');
    expect(gone.out).to.not.match(/\n\s+at /);
    expect(await ok(['clients:list'])).to.include('no clients');
  });

  it('confidential create prints the secret once; show never contains it', async () => {
    const created = await ok(['clients:create', '--id', 'conf-app', '--name', 'Conf', '--type', 'confidential', '--redirect-uri', 'https://conf.example/cb', '--client-credentials']);
    expect(created).to.include('client_id=conf-app');
    const secret = /^client_secret=(\S+)$/m.exec(created)?.[1]; // alone on its line: scripts read it
    expect(created).to.include('The client secret is shown once: store it now.');
    expect(secret).to.be.a('string').with.length.at.least(40);
    const confRows = (await audited('client.created')).filter((r) => r.subject_id === 'conf-app');
    expect(confRows).to.deep.equal([cliRow('client.created', ['client', 'conf-app'], { authMethod: 'client_secret_basic', redirectUriCount: 1 })]);
    expect(JSON.stringify(confRows)).to.not.include(secret!);
    expect(created.split(secret!).length - 1).to.equal(1);
    const shown = await ok(['clients:show', 'conf-app']);
    expect(shown).to.not.include(secret!);
    expect(shown).to.not.include('"client_secret"');
    expect(JSON.parse(shown)).to.include({ token_endpoint_auth_method: 'client_secret_basic' });
    expect(JSON.parse(shown).grant_types).to.deep.equal(['authorization_code', 'refresh_token', 'client_credentials']);
    expect(await ok(['clients:list'])).to.include('conf-app\tconfidential\tConf');
    const dup = await admin(['clients:create', '--id', 'conf-app', '--name', 'X', '--type', 'public', '--redirect-uri', 'https://x.example/cb']);
    expect(dup.code).to.equal(1);
    expect(dup.out).to.include('CLIENT_EXISTS');
  });

  it('rejects invalid metadata with exit 1 and bad arguments with exit 2', async () => {
    const bad = await admin(['clients:create', '--name', 'Bad', '--type', 'public', '--redirect-uri', 'http://example.com/cb']);
    expect(bad.code).to.equal(1);
    expect(bad.out).to.match(/^INVALID_CLIENT_METADATA: redirectUris\.0: .*http:\/\/example\.com\/cb/m);
    const flag = await admin(['clients:create', '--name', 'X', '--type', 'public', '--redirect-uri', 'https://x.example/cb', '--bogus']);
    expect(flag.code).to.equal(2);
    expect(flag.out).to.include('usage: npm run admin -- clients:create');
    expect((await admin(['clients:create', '--name', 'X'])).code).to.equal(2);
    expect((await admin(['clients:show'])).code).to.equal(2);
    expect((await admin(['clients:delete', 'a', 'b'])).code).to.equal(2);
    expect((await admin(['keys:add', '--alg', 'HS256'])).code).to.equal(2);
    expect((await admin(['keys:promote'])).code).to.equal(2);
    expect(await ok(['clients:list'])).to.not.include('Bad');
  });

  it('clients:list shows the source, lists self-registered clients after the operator\'s (--dynamic / --admin filter); clients:delete removes a dynamic one', async () => {
    const used = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const never = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
    const db = createDb((await loadConfig({ DATA_DIR: dir, NODE_ENV: 'development' })).config.db);
    try {
      const metadata = (name: string) => ({ client_name: name, token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1/cb'], application_type: 'native', scope: 'openid' });
      await upsertDynamicClient(db, used, metadata('Self agent'), Date.now());
      await upsertDynamicClient(db, never, metadata('Idle agent'), Date.now() + 1);
      await db('oauth_clients').where({ client_id: used }).update({ last_used_at: Date.parse('2026-01-02T03:04:05.000Z') });
    } finally {
      await db.destroy();
    }
    const lines = (await ok(['clients:list'])).trim().split('\n');
    const dynamicLines = [`${used}\tpublic\tSelf agent\tdynamic\t2026-01-02T03:04:05.000Z`, `${never}\tpublic\tIdle agent\tdynamic\t-`];
    expect(lines.slice(-2)).to.deep.equal(dynamicLines);
    expect(lines).to.include('conf-app\tconfidential\tConf\tadmin');
    expect(lines.slice(0, -2).every((l) => l.endsWith('\tadmin'))).to.equal(true);
    expect((await ok(['clients:list', '--dynamic'])).trim().split('\n')).to.deep.equal(dynamicLines);
    expect(await ok(['clients:list', '--admin'])).to.include('conf-app\tconfidential\tConf\tadmin').and.not.include('dynamic');
    expect(JSON.parse(await ok(['clients:show', used]))).to.include({ client_id: used, source: 'dynamic', last_used_at: '2026-01-02T03:04:05.000Z' });
    expect(JSON.parse(await ok(['clients:show', 'conf-app']))).to.include({ source: 'admin', last_used_at: null });
    const bad = await admin(['clients:list', '--self']);
    expect([bad.code, bad.out.trim()]).to.deep.equal([2, 'usage: npm run admin -- clients:list [--admin | --dynamic]']);

    expect(await ok(['clients:delete', used])).to.include(`deleted ${used}`);
    expect((await audited('client.deleted')).filter((r) => r.subject_id === used)).to.deep.equal([cliRow('client.deleted', ['client', used], { reason: 'operator' })]);
    expect((await ok(['clients:list', '--dynamic'])).trim().split('\n')).to.deep.equal([dynamicLines[1]]);
    expect((await ok(['clients:delete', never]))).to.include(`deleted ${never}`);
    expect(await ok(['clients:list', '--dynamic'])).to.include('no dynamic clients');
  });

  it('keys: list, add, promote, remove; dev-secrets.json stays 0600 and keeps its other secrets', async () => {
    const initial = keyLines(await ok(['keys:list']));
    expect(initial.map((k) => [k.alg, k.status])).to.deep.equal([['RS256', 'active'], ['ES256', 'active']]);
    const [oldRs, es] = initial as [(typeof initial)[0], (typeof initial)[0]];
    const before = JSON.parse(await readFile(secretsFile(), 'utf8'));

    const added = await ok(['keys:add', '--alg', 'RS256']);
    expect(added).to.include(`updated ${secretsFile()}`);
    const afterAdd = keyLines(await ok(['keys:list']));
    expect(afterAdd).to.have.length(3);
    const fresh = afterAdd.find((k) => k.kid !== oldRs.kid && k.kid !== es.kid)!;
    expect(fresh).to.include({ alg: 'RS256', status: 'next' });
    expect(afterAdd.find((k) => k.kid === oldRs.kid)!.status).to.equal('active');

    await ok(['keys:promote', fresh.kid]);
    const afterPromote = Object.fromEntries(keyLines(await ok(['keys:list'])).map((k) => [k.kid, k.status]));
    expect(afterPromote).to.deep.equal({ [oldRs.kid]: 'retired', [es.kid]: 'active', [fresh.kid]: 'active' });

    const refused = await admin(['keys:remove', fresh.kid]);
    expect(refused.code).to.equal(1);
    expect(refused.out).to.include(`KEY_ROTATION_REFUSED: ${fresh.kid} is signing`);
    expect(keyLines(await ok(['keys:list']))).to.have.length(3);
    expect((await admin(['keys:remove', 'no-such-kid'])).code).to.equal(1);

    await ok(['keys:remove', oldRs.kid]);
    // One key.rotated row per applied step, none for the refused or unknown ones; never key material.
    const rotated = await audited('key.rotated');
    expect(rotated).to.deep.equal([
      cliRow('key.rotated', ['signing_key', fresh.kid], { kid: fresh.kid, alg: 'RS256', use: 'sig', action: 'add' }),
      cliRow('key.rotated', ['signing_key', fresh.kid], { kid: fresh.kid, alg: 'RS256', use: 'sig', action: 'promote' }),
      cliRow('key.rotated', ['signing_key', oldRs.kid], { kid: oldRs.kid, alg: 'RS256', use: 'sig', action: 'remove' }),
    ]);
    const material = JSON.parse(JSON.parse(await readFile(secretsFile(), 'utf8')).SIGNING_KEYS).keys.map((k: { d: string }) => k.d);
    for (const d of material) expect(JSON.stringify(rotated)).to.not.include(d);
    const final = keyLines(await ok(['keys:list']));
    expect(final.map((k) => k.kid).sort()).to.deep.equal([es.kid, fresh.kid].sort());

    expect((await stat(secretsFile())).mode & 0o777).to.equal(0o600);
    const afterAll = JSON.parse(await readFile(secretsFile(), 'utf8'));
    expect(afterAll.AUTH_SECRET).to.equal(before.AUTH_SECRET);
    expect(afterAll.COOKIE_KEYS).to.equal(before.COOKIE_KEYS);
    expect(JSON.parse(afterAll.SIGNING_KEYS).keys.map((k: { kid: string }) => k.kid)).to.deep.equal([es.kid, fresh.kid]);
  });

  it('an Object.prototype name (toString) is an unknown command: usage and exit 2', async () => {
    expect((await admin(['toString'])).code).to.equal(2);
  });
  it('keys:add --alg=ES256 adds an ES256 key, and a stray positional is a usage error', async () => {
    expect(keyLines(await ok(['keys:add', '--alg=ES256'])).at(-1)!.alg).to.equal('ES256');
    expect((await admin(['keys:add', 'ES256'])).code).to.equal(2);
  });

  const production = {
    NODE_ENV: 'production',
    ISSUER_URL: 'https://auth.example.com',
    API_AUDIENCE: 'https://api.example.com',
    MAIL_DISABLED: 'true',
  };

  it('secrets:generate prints three lines that production accepts', async () => {
    const out = await ok(['secrets:generate']);
    const lines = out.trim().split('\n');
    expect(lines).to.have.length(3);
    const env: Record<string, string> = {};
    for (const line of lines) {
      const m = /^(AUTH_SECRET|COOKIE_KEYS|SIGNING_KEYS)='([^']+)'$/.exec(line);
      expect(m, line).to.not.equal(null);
      env[m![1]!] = m![2]!;
    }
    expect(Object.keys(env)).to.deep.equal(['AUTH_SECRET', 'COOKIE_KEYS', 'SIGNING_KEYS']);
    const { config } = await loadConfig({ ...production, DATABASE_URL: 'postgres://u@127.0.0.1:5432/db', DATA_DIR: dir, ...env });
    expect(config.isProduction).to.equal(true);
    expect(config.provenance.generated).to.deep.equal([]);
    expect(config.secrets.authSecret).to.equal(env.AUTH_SECRET);
    expect(config.secrets.signingKeys.keys.map((k) => k.alg)).to.deep.equal(['RS256', 'ES256']);
  });

  it('config:check in production never prints a secret value, valid or not', async () => {
    const secrets = (await ok(['secrets:generate'])).trim().split('\n').map((l) => /^(\w+)='(.*)'$/.exec(l)!);
    const env: Record<string, string> = { ...production, DATA_DIR: dir, DATABASE_URL: 'postgres://portcullis:PlantedDbPassw0rd@db.internal:5432/p' };
    for (const m of secrets) env[m[1]!] = m[2]!;
    env.AUTH_SECRET = 'PLANTED-auth-secret-0123456789abcdef-xyz';
    const valid = await cli(['config:check'], env);
    expect(valid.code, valid.out).to.equal(0);
    expect(valid.out).to.include('configuration valid (production)');
    expect(valid.out).to.match(/database +pg/);
    const leaks = ['PlantedDbPassw0rd', 'PLANTED-auth-secret', env.COOKIE_KEYS!, ...JSON.parse(env.SIGNING_KEYS!).keys.map((k: { d: string }) => k.d)];
    for (const s of leaks) expect(valid.out).to.not.include(s);

    const invalid = await cli(['config:check'], { ...env, AUTH_SECRET: 'PLANTED-short', COOKIE_KEYS: 'PLANTED-cookie' });
    expect(invalid.code).to.equal(1);
    expect(invalid.out).to.include('AUTH_SECRET: must be at least 32 characters');
    expect(invalid.out).to.include('COOKIE_KEYS: must be at least 32 characters');
    expect(invalid.out).to.not.include('PLANTED');
  });
});
