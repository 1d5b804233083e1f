import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, runNode, SOURCE_FLAGS, type Proc } from '../helpers/process.js';
import { PG_URL, REDIS_URL } from '../helpers/services.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
const json = (r: Response): Promise<any> => r.json();

const SERVICES = [
  { name: 'authz-server', entry: 'authz-server/main.ts', portVar: 'AUTHZ_PORT' },
  { name: 'resource-api', entry: 'resource-api/main.ts', portVar: 'API_PORT' },
] as const;

describe('service processes', function () {
  this.timeout(30_000);
  let dataDir: string;
  const procs: Proc[] = [];

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-boot-'));
  });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop(3000)));
    await rm(dataDir, { recursive: true, force: true });
  });

  async function boot(service: (typeof SERVICES)[number], env: Record<string, string> = {}) {
    const port = await freePort();
    const proc = runNode([...SOURCE_FLAGS, service.entry], { NODE_ENV: 'development', DATA_DIR: dataDir, [service.portVar]: String(port), ...env });
    procs.push(proc);
    return { proc, base: `http://127.0.0.1:${port}` };
  }

  for (const service of SERVICES) {
    describe(service.name, () => {
      it('starts with embedded defaults, serves health and readiness, 404s elsewhere', async () => {
        const { proc, base } = await boot(service);
        await proc.waitFor(/listening/);
        expect(proc.output()).to.contain('"db":"sqlite"').and.to.contain('"cache":"memory"');
        expect(proc.output()).to.contain('development secrets in use for AUTH_SECRET, COOKIE_KEYS, SIGNING_KEYS');
        const health = await fetch(`${base}/healthz`);
        expect(health.status).to.equal(200);
        const ready = await fetch(`${base}/readyz`);
        expect(ready.status).to.equal(200);
        expect(await json(ready)).to.deep.equal({ status: 'ready', checks: { db: 'ok', cache: 'ok' } });
        const other = await fetch(`${base}/v1/anything`);
        expect(other.status).to.equal(404);
        expect((await json(other)).error.code).to.equal('NOT_FOUND');
      });

      if (service.name === 'authz-server') {
        it('registers the development demo client, so an authorization request reaches sign-in', async () => {
          const { proc, base } = await boot(service);
          await proc.waitFor(/listening/);
          const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
          const q = new URLSearchParams({ client_id: 'marketplace-ui', response_type: 'code', scope: 'openid', redirect_uri: 'http://localhost:3000/callback', code_challenge: challenge, code_challenge_method: 'S256' });
          const res = await fetch(`${base}/auth?${q}`, { redirect: 'manual' });
          expect(res.status).to.equal(303);
          expect(res.headers.get('location')).to.match(/\/interaction\/[A-Za-z0-9_-]+$/);
        });
      }

      it('serves Prometheus metrics in development, by route pattern', async () => {
        const { proc, base } = await boot(service);
        await proc.waitFor(/listening/);
        await fetch(`${base}/v1/nowhere-${Date.now()}`);
        const res = await fetch(`${base}/metrics`);
        expect(res.status).to.equal(200);
        expect(res.headers.get('content-type')).to.contain('text/plain');
        const text = await res.text();
        expect(text).to.match(new RegExp(`^http_requests_total\\{method="GET",route="unmatched",status="404",service="${service.name}"\\} 1$`, 'm'));
        expect(text).to.contain('db_pool_connections').and.to.contain('audit_events').and.to.contain('process_cpu_user_seconds_total');
        expect(text).not.to.contain('nowhere-');
      });

      it('hides /metrics without the token when METRICS_TOKEN is set', async () => {
        const { proc, base } = await boot(service, { METRICS_TOKEN: 'metrics-token-0123456789' });
        await proc.waitFor(/listening/);
        expect((await fetch(`${base}/metrics`)).status).to.equal(404);
        expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).to.equal(404);
        expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer metrics-token-0123456789' } })).status).to.equal(200);
      });

      it('drains and exits 0 on SIGTERM', async () => {
        const { proc } = await boot(service);
        await proc.waitFor(/listening/);
        proc.child.kill('SIGTERM');
        expect(await proc.exited).to.equal(0);
        expect(proc.output()).to.contain('shutdown complete');
      });

      it('reports not ready (503) while its database is unreachable, and stays alive', async () => {
        const { proc, base } = await boot(service, { DATABASE_URL: 'postgres://portcullis@127.0.0.1:1/none', DB_MIGRATE_ON_START: 'false', DB_ACQUIRE_TIMEOUT_MS: '500' });
        await proc.waitFor(/listening/);
        const ready = await fetch(`${base}/readyz`);
        expect(ready.status).to.equal(503);
        const body = await json(ready);
        expect(body.error.code).to.equal('NOT_READY');
        expect(body.error.details.checks.db).to.be.oneOf(['unavailable', 'timeout']);
        expect(body.error.details.checks.cache).to.equal('ok');
        expect((await fetch(`${base}/healthz`)).status).to.equal(200);
      });

      it('refuses to start in production without its secrets, naming them and printing no value', async () => {
        const planted = 'short-PLANTED-value';
        const { proc } = await boot(service, { NODE_ENV: 'production', AUTH_SECRET: planted, STRIPE_SECRET_KEY: 'sk_test_PLANTEDPLANTED' });
        expect(await proc.exited).to.equal(1);
        const out = proc.output();
        for (const key of ['AUTH_SECRET', 'COOKIE_KEYS', 'SIGNING_KEYS', 'DATABASE_URL', 'ISSUER_URL', 'STRIPE_WEBHOOK_SECRET']) expect(out).to.contain(key);
        expect(out).not.to.contain('PLANTED');
        expect(out).not.to.contain('listening');
      });

      it('refuses a malformed setting with exit code 1 naming the key', async () => {
        const { proc } = await boot(service, { LOG_LEVEL: 'loud' });
        expect(await proc.exited).to.equal(1);
        expect(proc.output()).to.match(/LOG_LEVEL: /);
      });
    });
  }

  (PG_URL && REDIS_URL ? it : it.skip)(
    `both services are ready on PostgreSQL and Redis${PG_URL && REDIS_URL ? '' : ' — skipped: DATABASE_URL and REDIS_URL are not set'}`,
    async () => {
      for (const service of SERVICES) {
        const { proc, base } = await boot(service, { DATABASE_URL: PG_URL!, REDIS_URL: REDIS_URL!, REDIS_KEY_PREFIX: 'portcullis-boot-test:' });
        await proc.waitFor(/listening/);
        expect(proc.output()).to.contain('"db":"pg"').and.to.contain('"cache":"redis"');
        expect(await json(await fetch(`${base}/readyz`))).to.deep.equal({ status: 'ready', checks: { db: 'ok', cache: 'ok' } });
      }
    },
  );
});
