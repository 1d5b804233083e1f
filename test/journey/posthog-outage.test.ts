import { expect } from 'chai';
import { startSystem, type System, type Backend } from '../helpers/system.js';
import { freePort, serviceProcesses, type Proc } from '../helpers/process.js';
import { PG_SKIP_REASON, PG_URL, describeWithService } from '../helpers/services.js';
import { closedPortUrl, startPostHogRecorder, type PostHogRecorder } from '../helpers/posthog-recorder.js';
import { median } from '../helpers/stats.js';

const ROUNDS = 40;
const WARM_UP = 5;
const MAX_QUEUE = 20;

interface Api { name: string; url: string; proc: Proc; ms: number[]; statuses: number[] }

async function auditCounter(api: Api, counter: string): Promise<number> {
  const text = await (await fetch(`${api.url}/metrics`)).text();
  const m = new RegExp(`^audit_events\\{[^}]*counter="${counter}"[^}]*\\} (\\d+)$`, 'm').exec(text);
  if (!m) throw new Error(`no audit_events{counter="${counter}"} in /metrics of ${api.name}`);
  return Number(m[1]);
}

/** One request that records an audit event (webhook.rejected) and touches nothing else. */
async function rejectedWebhook(api: Api, record: boolean): Promise<void> {
  const t0 = performance.now();
  const res = await fetch(`${api.url}/v1/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' }, body: '{"id":"evt_forged"}' });
  const text = await res.text();
  if (!record) return;
  api.ms.push(performance.now() - t0);
  api.statuses.push(res.status);
  expect(JSON.parse(text).error.code, api.name).to.equal('WEBHOOK_SIGNATURE_INVALID');
}

/**
 * PostHog refusing connections, never answering, or answering after 5 s (past posthog-node's
 * 3 s request timeout here) must cost a request nothing: the same burst against four
 * resource-api processes — one without PostHog as the baseline — interleaved request by request
 * so they share the machine's load, then the statuses, the median latencies and the counters.
 * A fifth process, on a PostHog that answers at once, is kept apart for the SIGTERM-flush test.
 */
function suite(backend: Backend, pgUrl?: string) {
  let env: System;
  const procs = serviceProcesses();
  const recorders: PostHogRecorder[] = [];
  let apis: Api[];
  let flushProbe: { api: Api; recorder: PostHogRecorder };

  before(async function () {
    this.timeout(150_000);
    env = await startSystem({ backend, pgUrl: pgUrl, env: { STRIPE_WEBHOOK_SECRET: 'whsec_outage_test_secret' }, authz: 0, hosting: 'process' });
    const [hole, slow, ok] = await Promise.all([startPostHogRecorder({ kind: 'never' }), startPostHogRecorder({ kind: 'slow', delayMs: 5000 }), startPostHogRecorder()]);
    recorders.push(hole, slow, ok);
    const hosts: Record<string, string | undefined> = { baseline: undefined, down: await closedPortUrl(), hole: hole.url, slow: slow.url, flush: ok.url };
    const started = await Promise.all(Object.entries(hosts).map(async ([name, host]) => {
      const port = await freePort();
      const proc = await procs.start('resource-api', {
        ...env.env, API_PORT: String(port), LOG_LEVEL: 'info', DB_MIGRATE_ON_START: 'false',
        ...(host ? { POSTHOG_API_KEY: 'phc_outage_test', POSTHOG_HOST: host, POSTHOG_MAX_QUEUE: String(MAX_QUEUE) } : {}),
      });
      return { name, url: `http://127.0.0.1:${port}`, proc, ms: [], statuses: [] } satisfies Api;
    }));
    apis = started.filter((a) => a.name !== 'flush');
    flushProbe = { api: started.find((a) => a.name === 'flush')!, recorder: ok };
  });
  after(async function () {
    this.timeout(30_000);
    await procs.stopAll();
    await Promise.all(recorders.map((r) => r.close()));
    await env?.close();
  });

  it('PostHog down, black-holed or slow: same statuses, median latency close to the baseline, losses counted, rows written', async function () {
    this.timeout(60_000);
    for (let round = 0; round < WARM_UP + ROUNDS; round++) {
      const order = round % 2 === 0 ? apis : [...apis].reverse();
      for (const api of order) await rejectedWebhook(api, round >= WARM_UP);
    }
    const base = apis.find((a) => a.name === 'baseline')!;
    for (const api of apis) {
      expect(api.statuses, api.name).to.deep.equal(Array(ROUNDS).fill(400));
      // Generous on purpose (2 shared cores): a request waiting on PostHog would take seconds.
      expect(median(api.ms), `${api.name} median ms vs baseline ${median(base.ms).toFixed(1)}`).to.be.below(3 * median(base.ms) + 25);
    }
    const total = WARM_UP + ROUNDS;
    for (const api of apis) {
      for (let i = 0; i < 100 && (await auditCounter(api, 'written')) < total; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await auditCounter(api, 'written'), `${api.name} rows`).to.equal(total);
      expect(await auditCounter(api, 'dropped'), api.name).to.equal(0);
    }
    expect(await auditCounter(base, 'posthogLost')).to.equal(0);
    for (const name of ['down', 'hole', 'slow']) {
      const api = apis.find((a) => a.name === name)!;
      // Bounded: at most MAX_QUEUE wait for PostHog; the oldest beyond that are dropped and counted.
      expect(await auditCounter(api, 'posthogQueued'), name).to.be.at.most(MAX_QUEUE);
      expect(await auditCounter(api, 'posthogLost'), name).to.be.at.least(total - MAX_QUEUE);
      expect(await auditCounter(api, 'posthogSent'), name).to.equal(0);
    }
    // posthog-node really did try the unresponsive hosts (the test exercises the real client).
    expect(recorders[0]!.bodies.length, 'black hole reached').to.be.at.least(1);
    expect(recorders[1]!.bodies.length, 'slow host reached').to.be.at.least(1);
  });

  it('SIGTERM with PostHog down or black-holed: exits 0 within the shutdown bound', async function () {
    this.timeout(60_000);
    const stopping = apis.filter((a) => a.name !== 'baseline');
    const t0 = performance.now();
    const codes = await Promise.all(stopping.map((a) => a.proc.stop(20_000)));
    expect(codes).to.deep.equal(stopping.map(() => 0));
    // Drain plus posthog-node's bounded shutdown (5 s) — never a hang on an unresponsive PostHog.
    expect(performance.now() - t0).to.be.below(15_000);
  });

  it('SIGTERM flushes events still waiting in posthog-node (fewer than flushAt, before its 10 s timer)', async function () {
    this.timeout(30_000);
    const { api, recorder } = flushProbe;
    for (let i = 0; i < 3; i++) await rejectedWebhook(api, true);
    expect(recorder.bodies, 'nothing sent before shutdown').to.deep.equal([]);
    expect(await api.proc.stop(15_000)).to.equal(0);
    expect(recorder.events().map((e) => [e.event, e.distinct_id, e.properties.provider])).to.deep.equal(Array(3).fill(['webhook.rejected', 'portcullis', 'stripe']));
  });
}

describe('PostHog outage at the HTTP level (SQLite): resource-api processes', () => suite('sqlite'));
describeWithService('PostHog outage at the HTTP level (PostgreSQL): resource-api processes', PG_URL, PG_SKIP_REASON, (url) => suite('pg', url));
