import { expect } from 'chai';
import { createAudit } from '#shared/audit/audit.js';
import type { Knex } from '#shared/db/index.js';
import { captureLogger } from '../../helpers/log-capture.js';
import { PG_SKIP_REASON, PG_URL, describeWithService } from '../../helpers/services.js';
import { SECRET, auditDb, backends, silentLogger } from './fixtures.js';

function tableSuite(kind: 'sqlite' | 'pg', url: string) {
  let db: Knex;
  let dispose: () => Promise<void>;
  beforeEach(async () => {
    ({ db, dispose } = await auditDb(backends[kind](url)));
  });
  afterEach(() => dispose());

  it('writes the exact redacted row', async () => {
    const audit = createAudit({ db, logger: silentLogger, secret: SECRET });
    const before = Date.now();
    audit.record('sign_in.failed', {
      outcome: 'failure',
      actor: { clientId: 'client-1' },
      subject: { type: 'user', id: 'u-42' },
      requestId: 'req-1',
      ip: '203.0.113.77',
      userAgent: 'UA/'.padEnd(300, 'x'),
      properties: { method: 'password', reason: 'bad_credentials', password: 'hunter2', body: '{"password":"hunter2"}' },
    });
    await audit.close();
    const rows = await db('audit_log').select('*');
    expect(rows).to.have.length(1);
    const { id, created_at, ...rest } = rows[0] as Record<string, unknown>;
    expect(id).to.match(/^[0-9a-f-]{36}$/);
    expect(Number(created_at)).to.be.within(before, Date.now());
    expect(rest).to.deep.equal({
      event: 'sign_in.failed',
      outcome: 'failure',
      actor_user_id: null,
      actor_client_id: 'client-1',
      subject_type: 'user',
      subject_id: 'u-42',
      request_id: 'req-1',
      ip_prefix: '203.0.113.0/24',
      user_agent: 'UA/'.padEnd(200, 'x'),
      properties: '{"method":"password","reason":"bad_credentials"}',
    });
    expect(audit.stats()).to.include({ written: 1, failed: 0, dropped: 0, redactedProperties: 2 });
  });

  it('rejects an outcome outside success|failure|denied at the database', async () => {
    const row = { id: 'x', event: 'user.banned', outcome: 'maybe', properties: '{}', created_at: 1 };
    await db('audit_log').insert(row).then(
      () => expect.fail('expected a CHECK violation'),
      () => undefined,
    );
  });

  it('flushes many events written in batches, none lost', async () => {
    const audit = createAudit({ db, logger: silentLogger, secret: SECRET });
    for (let i = 0; i < 250; i++) audit.record('rate_limit.hit', { outcome: 'denied', properties: { limit: i } });
    await audit.flush();
    const [{ n }] = (await db('audit_log').count({ n: '*' })) as [{ n: number | string }];
    expect(Number(n)).to.equal(250);
    expect(audit.stats()).to.include({ written: 250, pending: 0 });
    await audit.close();
  });

  it('purge removes only rows older than the cut-off', async () => {
    const now = Date.now();
    const row = (id: string, created_at: number) => ({ id, event: 'user.banned', outcome: 'success', properties: '{}', created_at });
    await db('audit_log').insert([row('old-1', now - 10 * 86_400_000), row('old-2', now - 8 * 86_400_000), row('new', now - 1000)]);
    const audit = createAudit({ db, logger: silentLogger, secret: SECRET });
    expect(await audit.purge(7 * 86_400_000)).to.equal(2);
    expect((await db('audit_log').select('id')).map((r: { id: string }) => r.id)).to.deep.equal(['new']);
    await audit.close();
  });

  it('purge also removes stripe_events rows received before the cut-off (the trail of Stripe deliveries), never one still queued or dead', async () => {
    const now = Date.now();
    const ev = (id: string, received_at: number, status = 'processed') => ({ id, type: 'checkout.session.completed', status, event_created_at: received_at, received_at });
    const old = now - 10 * 86_400_000;
    await db('stripe_events').insert([ev('evt_old', old), ev('evt_old_ignored', old, 'ignored'), ev('evt_old_pending', old, 'pending'), ev('evt_old_dead', old, 'dead'), ev('evt_new', now - 1000)]);
    const audit = createAudit({ db, logger: silentLogger, secret: SECRET });
    expect(await audit.purge(7 * 86_400_000)).to.equal(2);
    expect((await db('stripe_events').select('id').orderBy('id')).map((r: { id: string }) => r.id)).to.deep.equal(['evt_new', 'evt_old_dead', 'evt_old_pending']);
    await audit.close();
  });

  it('counts and logs once per burst when the table write fails, and record never throws', async () => {
    const { logger, lines } = captureLogger();
    await db.schema.renameTable('audit_log', 'audit_log_gone');
    const audit = createAudit({ db, logger, secret: SECRET });
    for (let i = 0; i < 5; i++) audit.record('user.banned', { outcome: 'success' });
    await audit.flush();
    for (let i = 0; i < 5; i++) audit.record('user.banned', { outcome: 'success' });
    await audit.flush();
    expect(audit.stats()).to.include({ written: 0, failed: 10 });
    const errors = lines().filter((l) => l.msg === 'audit table write failed');
    expect(errors).to.have.length(1);
    await db.schema.renameTable('audit_log_gone', 'audit_log');
    audit.record('user.banned', { outcome: 'success' });
    await audit.close();
    expect(audit.stats()).to.include({ written: 1, failed: 10 });
    expect(lines().find((l) => l.msg === 'audit table writes recovered')).to.include({ failedInBurst: 10 });
  });

  it('counts an event recorded after close() as dropped', async () => {
    const audit = createAudit({ db, logger: silentLogger, secret: SECRET });
    await audit.close();
    audit.record('user.banned', { outcome: 'success' });
    expect(audit.stats()).to.include({ dropped: 1, written: 0 });
  });
}

describe('shared/audit table sink: SQLite', () => tableSuite('sqlite', ''));
describeWithService('shared/audit table sink: PostgreSQL', PG_URL, PG_SKIP_REASON, (url) => tableSuite('pg', url));
