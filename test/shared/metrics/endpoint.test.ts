import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { createMetrics, koaMetricsEndpoint } from '#shared/metrics/index.js';
import { createAudit } from '#shared/audit/index.js';
import { createDb } from '#shared/db/index.js';
import { koaErrorHandler } from '#shared/http/koa-error-handler.js';
import { testConfig } from '../../helpers/config.js';
import { captureLogger } from '../../helpers/log-capture.js';

describe('GET /metrics protection', () => {
  async function serve(opts: { token: string | undefined; production: boolean }) {
    const { config, cleanup } = await testConfig();
    const db = createDb(config.db);
    const { logger } = captureLogger();
    const metrics = createMetrics('test', { db, audit: createAudit({ db, logger, secret: 'x'.repeat(32) }) });
    const app = new Koa();
    app.use(koaErrorHandler(logger));
    app.use(koaMetricsEndpoint(metrics, opts));
    const server = http.createServer(app.callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    return { url, close: async () => { server.close(); await db.destroy(); await cleanup(); } };
  }

  it('is off (404) in production without a token', async () => {
    const s = await serve({ token: undefined, production: true });
    try {
      const res = await fetch(s.url);
      expect(res.status).to.equal(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('NOT_FOUND');
    } finally {
      await s.close();
    }
  });

  it('needs the exact bearer token in production when one is set', async () => {
    const s = await serve({ token: 'metrics-token-0123456789', production: true });
    try {
      expect((await fetch(s.url)).status).to.equal(404);
      expect((await fetch(s.url, { headers: { authorization: 'Bearer metrics-token-012345678' } })).status).to.equal(404);
      const ok = await fetch(s.url, { headers: { authorization: 'Bearer metrics-token-0123456789' } });
      expect(ok.status).to.equal(200);
      expect(await ok.text()).to.contain('# TYPE http_requests_total counter');
    } finally {
      await s.close();
    }
  });
});
