import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { createDrain, createHttpApp } from '#shared/http/index.js';
import { testConfig } from '../helpers/config.js';
import { captureLogger } from '../helpers/log-capture.js';

/**
 * The shared HTTP base (request id, error handler, security headers) on loopback, with the
 * middleware under test mounted by `mount`: for unit tests of authz-server middleware and steps.
 */
export async function serveBaseApp(mount: (app: Koa) => void): Promise<{ base: string; close(): Promise<void> }> {
  const t = await testConfig();
  const app = createHttpApp({ config: t.config, logger: captureLogger().logger, publicUrl: 'http://localhost', readiness: { db: async () => {}, cache: async () => {} }, drain: createDrain() });
  mount(app);
  const server = http.createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await new Promise((r) => server.close(r));
      await t.cleanup();
    },
  };
}
