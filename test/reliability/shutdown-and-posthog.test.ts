import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSystem, PASSWORD, type Service, type System } from '../helpers/system.js';
import { freePort } from '../helpers/process.js';
import { PG_URL } from '../helpers/services.js';
import { errorCode, timedFetch, type Sample } from './load.js';

/**
 * Two dependencies that must never cost a request: PostHog unreachable (POSTHOG_HOST on a dead
 * loopback port), and the process itself being stopped (SIGTERM) with requests in flight.
 * One authz-server and two resource-api processes, all with the dead PostHog; the second API
 * replica is the one stopped, with a slow review-moderation stub keeping requests in flight.
 * (The audit-specific PostHog HTTP test lives in test/journey/.)
 */
const MODERATION_DELAY_MS = 1500;
const SHUTDOWN_TIMEOUT_MS = 8000;
const IN_FLIGHT = 10;

describe(`dead PostHog and SIGTERM under load (${PG_URL ? 'pg' : 'sqlite'})`, function () {
  this.timeout(90_000);
  let r: System;
  let victim: Service;
  let user: { id: string; email: string };
  let token: string;
  let refresh: string;
  let listingId: string;
  let moderation: http.Server;
  let moderated = 0;

  before(async () => {
    moderation = http.createServer((req, res) => {
      req.resume();
      moderated++;
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ allowed: false, reason: 'HELD_FOR_REVIEW' })), MODERATION_DELAY_MS);
    });
    await new Promise<void>((res) => moderation.listen(0, '127.0.0.1', res));
    const deadPostHog = `http://127.0.0.1:${await freePort()}`;
    r = await startSystem({
      hosting: 'process',
      logLevel: 'warn',
      backend: PG_URL ? 'pg' : 'sqlite',
      ...(PG_URL ? { pgUrl: PG_URL } : {}),
      authz: 1,
      api: 1,
      env: { POSTHOG_API_KEY: 'phc_reliability_test', POSTHOG_HOST: deadPostHog },
    });
    victim = await r.startApi({
      MODERATION_URL: `http://127.0.0.1:${(moderation.address() as AddressInfo).port}/check`,
      MODERATION_TIMEOUT_MS: '5000',
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      // The request lines show what the drain did (the harness default is warn).
      LOG_LEVEL: 'info',
    });
    await r.seedClient();
    user = await r.seedUser('shutdown@example.com');
    ({ listingId } = await r.seedEntitlement(user.id, 1));
    const t = await r.tokens(user.email, 'openid offline_access usage:report reviews:write');
    token = t.access_token;
    refresh = t.refresh_token!;
  });
  after(async () => {
    try {
      await r?.close();
    } finally {
      await new Promise((res) => moderation?.close(res));
    }
  });

  it('PostHog unreachable: every request keeps its status and answers promptly; the audit table still gets the events', async () => {
    const samples: Sample[] = [];
    const signIn = (password: string) => timedFetch('sign-in', `${r.authz[0]!.url}/api/auth/sign-in/email`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: r.issuer }, body: JSON.stringify({ email: user.email, password }),
    });
    const report = () => timedFetch('usage', `${r.api[0]!.url}/v1/usage`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ clientReqId: crypto.randomUUID(), listingId, units: 1 }),
    });
    for (let i = 0; i < 5; i++) {
      samples.push(await signIn(PASSWORD), await signIn('not the password at all'));
      const s = await timedFetch('refresh', `${r.authz[0]!.url}/token`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, client_id: 'agent' }),
      });
      samples.push(s);
      if (s.status === 200) refresh = String((JSON.parse(s.body) as { refresh_token: string }).refresh_token);
      samples.push(await report());
    }
    const tokens = await r.tokens(user.email, 'openid usage:read');

    const statuses = samples.map((s) => `${s.kind} ${s.status} ${errorCode(s) ?? ''}`.trim());
    const expected = [];
    for (let i = 0; i < 5; i++) expected.push('sign-in 200', 'sign-in 401 INVALID_EMAIL_OR_PASSWORD', 'refresh 200', i === 0 ? 'usage 201' : 'usage 402 QUOTA_EXCEEDED');
    expect(statuses).to.deep.equal(expected);
    expect(tokens.access_token).to.be.a('string');
    // posthog-node only queues on capture; nothing waits on the dead host (loose: a loaded CI machine).
    expect(Math.max(...samples.map((s) => s.ms)), 'slowest answer (ms)').to.be.below(5000);
    await waitFor(async () => (await r.db('audit_log').where({ event: 'quota.exceeded' }).count({ n: '*' }))[0]!.n == 4);
  });

  it('SIGTERM: in-flight requests complete, new connections are refused, audit events are flushed, exit 0 within the drain bound', async () => {
    moderated = 0;
    const inFlight = Array.from({ length: IN_FLIGHT }, () =>
      timedFetch('review', `${victim.url}/v1/listings/${listingId}/reviews`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ rating: 4, body: 'Slow to moderate.' }),
      }, 20_000),
    );
    await waitFor(async () => moderated === IN_FLIGHT);
    const signalledAt = Date.now();
    victim.proc.child.kill('SIGTERM');
    await new Promise((res) => setTimeout(res, 200));
    const late = await freshConnection(`${victim.url}/v1/me`, token);

    const answers = await Promise.all(inFlight);
    const code = await Promise.race([victim.proc.exited, new Promise<'hung'>((res) => setTimeout(() => res('hung'), SHUTDOWN_TIMEOUT_MS + 10_000))]);
    const exitMs = Date.now() - signalledAt;
    console.log(`      ${IN_FLIGHT} in-flight requests answered ${Math.max(...answers.map((a) => a.at + a.ms)) - signalledAt} ms after SIGTERM; exit ${code} after ${exitMs} ms; late request: ${late}`);

    expect(answers.map((a) => `${a.status} ${errorCode(a)}`)).to.deep.equal(Array(IN_FLIGHT).fill('422 REVIEW_REJECTED'));
    expect(late, 'a new connection after SIGTERM').to.be.oneOf(['ECONNREFUSED', '503 SHUTTING_DOWN']);
    expect(code, `exit code\n${victim.proc.output().slice(-2000)}`).to.equal(0);
    // In-flight work ended well inside the drain budget, so the exit did not wait for it to expire.
    expect(exitMs).to.be.below(SHUTDOWN_TIMEOUT_MS + 6000);
    expect(victim.proc.output()).to.contain('shutdown complete');
    const ids = answers.map((a) => a.headers!.get('x-request-id')!);
    const rows = await r.db('audit_log').where({ event: 'review.rejected' }).whereIn('request_id', ids).count({ n: '*' });
    expect(Number(rows[0]!.n), 'one audit row per completed request').to.equal(IN_FLIGHT);
  });

  it('SIGTERM on an authz-server during a burst of sign-ins: each one completes or is refused cleanly, exit 0', async () => {
    const authz = r.authz[0]!;
    const burst = Array.from({ length: 30 }, () => timedFetch('sign-in', `${authz.url}/api/auth/sign-in/email`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: r.issuer }, body: JSON.stringify({ email: user.email, password: PASSWORD }),
    }));
    await new Promise((res) => setTimeout(res, 50));
    const signalledAt = Date.now();
    authz.proc.child.kill('SIGTERM');
    const answers = await Promise.all(burst);
    const code = await Promise.race([authz.proc.exited, new Promise<'hung'>((res) => setTimeout(() => res('hung'), SHUTDOWN_TIMEOUT_MS + 15_000))]);
    const tally: Record<string, number> = {};
    for (const a of answers) tally[`${a.status || a.error} ${errorCode(a) ?? ''}`.trim()] = (tally[`${a.status || a.error} ${errorCode(a) ?? ''}`.trim()] ?? 0) + 1;
    console.log(`      sign-ins around SIGTERM: ${JSON.stringify(tally)}; exit ${code} after ${Date.now() - signalledAt} ms`);
    // Completed (200), refused on an open connection (503 SHUTTING_DOWN), or refused at connect:
    // ECONNREFUSED, or ECONNRESET for a connection still in the kernel's accept backlog when the
    // listener closed (the client had connected but the server never accepted it). Never a hang.
    for (const a of answers) expect(`${a.status} ${errorCode(a) ?? a.error}`).to.match(/^(200 .*|503 SHUTTING_DOWN|0 ECONNREFUSED|0 ECONNRESET)$/);
    expect(answers.filter((a) => a.status === 200).length, 'sign-ins in flight completed').to.be.greaterThan(0);
    expect(code).to.equal(0);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** One request on a brand-new TCP connection: its status and code, or the connection error. */
function freshConnection(url: string, token: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, headers: { authorization: `Bearer ${token}` }, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(`${res.statusCode} ${(JSON.parse(body) as { error?: { code?: string } }).error?.code ?? ''}`.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('TIMEOUT')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}
