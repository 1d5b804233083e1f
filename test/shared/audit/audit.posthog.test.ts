import { expect } from 'chai';
import { createAudit } from '#shared/audit/audit.js';
import type { Knex } from '#shared/db/index.js';
import { closedPortUrl, startPostHogRecorder, type PostHogRecorder } from '../../helpers/posthog-recorder.js';
import { SECRET, auditDb, backends, silentLogger } from './fixtures.js';

const PLANTED = ['hunter2', 'eyJplanted.token', 'alice@example.com', '4242424242424242', 'planted-body'];

function recordPlanted(audit: ReturnType<typeof createAudit>, i = 0) {
  audit.record('sign_in.failed', {
    outcome: 'failure',
    actor: { userId: `user-${i}` },
    requestId: `req-${i}`,
    ip: '203.0.113.9',
    properties: { method: 'password', reason: 'no such user alice@example.com', password: 'hunter2', token: 'eyJplanted.token', cardNumber: '4242424242424242', body: 'planted-body' },
  });
}

const countRows = async (db: Knex) => Number(((await db('audit_log').count({ n: '*' })) as [{ n: number | string }])[0].n);

describe('shared/audit PostHog sink (posthog-node against a loopback server)', () => {
  let db: Knex;
  let dispose: () => Promise<void>;
  let server: PostHogRecorder | undefined;
  beforeEach(async () => ({ db, dispose } = await auditDb(backends.sqlite(''))));
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await dispose();
  });

  it('delivers the event names and distinctId, with no planted secret anywhere in the raw body', async () => {
    server = await startPostHogRecorder();
    const audit = createAudit({ db, logger: silentLogger, secret: SECRET, posthog: { apiKey: 'phc_test', host: server.url, flushAt: 1, disableCompression: true, fetchRetryCount: 0 } });
    recordPlanted(audit, 1);
    audit.record('webhook.received', { outcome: 'success', properties: { provider: 'stripe', eventType: 'checkout.session.completed' } });
    await audit.close();
    const raw = server.bodies.join('\n');
    for (const secret of PLANTED) expect(raw, secret).not.to.include(secret);
    const events = server.events();
    expect(events.map((e) => [e.event, e.distinct_id])).to.deep.equal([['sign_in.failed', 'user-1'], ['webhook.received', 'portcullis']]);
    expect(events[0]!.properties).to.include({ method: 'password', outcome: 'failure', requestId: 'req-1' });
    expect(events[1]!.properties).to.include({ $process_person_profile: false, provider: 'stripe' });
    expect(await countRows(db)).to.equal(2);
    expect(audit.stats()).to.include({ written: 2, posthogSent: 2, posthogErrors: 0 });
  });

  it('PostHog down (closed port): record() does not block, rows land, errors and losses are counted', async () => {
    const host = await closedPortUrl();
    const audit = createAudit({ db, logger: silentLogger, secret: SECRET, posthogTimeoutMs: 1000, posthog: { apiKey: 'phc_test', host, flushAt: 1, maxQueueSize: 10, disableCompression: true, fetchRetryCount: 0 } });
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) recordPlanted(audit, i);
    expect(performance.now() - t0).to.be.below(50);
    await audit.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(await countRows(db)).to.equal(100);
    const s = audit.stats();
    expect(s.posthogErrors).to.be.greaterThan(0);
    expect(s.posthogLost).to.be.greaterThan(0);
    expect(s.posthogQueued).to.be.at.most(10);
    const t1 = performance.now();
    await audit.close();
    expect(performance.now() - t1).to.be.below(3000);
  });

  it('PostHog slow (5 s): record() does not block, rows land, queue overflow is counted, close() is bounded', async () => {
    server = await startPostHogRecorder({ kind: 'slow', delayMs: 5000 });
    const audit = createAudit({ db, logger: silentLogger, secret: SECRET, posthogTimeoutMs: 1000, posthog: { apiKey: 'phc_test', host: server.url, flushAt: 1, maxQueueSize: 10, disableCompression: true, fetchRetryCount: 0, requestTimeout: 10_000 } });
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) recordPlanted(audit, i);
    expect(performance.now() - t0).to.be.below(50);
    await audit.flush();
    expect(await countRows(db)).to.equal(100);
    expect(audit.stats().posthogLost).to.be.greaterThan(0);
    const t1 = performance.now();
    await audit.close();
    expect(performance.now() - t1).to.be.below(3000);
  });

  it('close() flushes events still pending to both sinks', async () => {
    server = await startPostHogRecorder();
    const audit = createAudit({ db, logger: silentLogger, secret: SECRET, posthog: { apiKey: 'phc_test', host: server.url, flushAt: 100, flushInterval: 60_000, disableCompression: true, fetchRetryCount: 0 } });
    for (let i = 0; i < 3; i++) recordPlanted(audit, i);
    expect(server.bodies).to.have.length(0);
    await audit.close();
    expect(await countRows(db)).to.equal(3);
    const events = server.events();
    expect(events).to.have.length(3);
    expect(audit.stats()).to.include({ written: 3, posthogSent: 3, posthogQueued: 0, posthogLost: 0 });
  });
});
