import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { createContainer, readinessChecks, type Container } from '#shared/container.js';
import { createDrain, createHttpApp } from '#shared/http/index.js';
import type { Config } from '#shared/config/index.js';
import { mountAuthzServer } from '#authz/app.js';
import { authzAuthDeps } from '#authz/accounts/auth-deps.js';
import { captureLogger } from '../helpers/log-capture.js';

/**
 * The real authz-server in this process (the boot of authz-server/main.ts without the signal
 * handlers), on the config and database of an AuthzEnv: for tests that watch what the server
 * does to its database (knex `query` events), where no process boundary is under test.
 */
export async function startAuthzInProcess(config: Config): Promise<{ url: string; container: Container; close(): Promise<void> }> {
  const logs = captureLogger('authz-server');
  const container = await createContainer(config, logs.logger, { authDeps: authzAuthDeps, service: 'authz-server' });
  const app: Koa = createHttpApp({ config, logger: logs.logger, publicUrl: config.authz.issuer, readiness: readinessChecks(container), drain: createDrain() });
  const mounted = await mountAuthzServer(app, container);
  const server = http.createServer(app.callback());
  await new Promise<void>((r) => server.listen(config.authz.port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    container,
    async close() {
      await new Promise((r) => server.close(r));
      await mounted?.close();
      await container.close();
    },
  };
}
