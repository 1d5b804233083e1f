import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import type Koa from 'koa';
import { createContainer, readinessChecks, type Container } from '#shared/container.js';
import { createDrain, createHttpApp } from '#shared/http/index.js';
import type { Config } from '#shared/config/index.js';
import { mountResourceApi } from '#api/app.js';
import { koaGuard } from '#api/middleware/koa-guard.js';
import { captureLogger } from './log-capture.js';

/**
 * The real resource API in this process (same config and database as an AuthzEnv), plus a
 * few probe routes that exercise koa-guard with real permissions.
 */
export async function startApi(config: Config, opts: { jwksCooldownMs?: number } = {}) {
  const logs = captureLogger('resource-api');
  const container: Container = await createContainer(config, logs.logger);
  const app: Koa = createHttpApp({ config, logger: logs.logger, publicUrl: config.api.audience, readiness: readinessChecks(container), drain: createDrain() });
  const { auth } = mountResourceApi(app, container, opts);
  const probes = new Router({ prefix: '/probe' });
  probes.get('/read', auth, koaGuard({ listing: ['read'] }), (ctx) => void (ctx.body = { ok: 'read' }));
  probes.post('/publish', auth, koaGuard({ listing: ['publish'] }), (ctx) => void (ctx.body = { ok: 'publish' }));
  probes.post('/suspend', auth, koaGuard({ listing: ['suspend'] }), (ctx) => void (ctx.body = { ok: 'suspend' }));
  app.use(probes.routes());
  const server = http.createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    logs,
    async close() {
      await new Promise((r) => server.close(r));
      await container.close();
    },
  };
}
