import type { ServiceDefinition } from '#shared/boot/run-service.js';
import { mountAuthzServer } from './app.js';
import { authzAuthDeps } from './accounts/auth-deps.js';

/** The authz-server as `runService` boots it (authz-server/main.ts), and as tests host it. */
export const authzServerService: ServiceDefinition = {
  name: 'authz-server',
  port: (c) => c.authz.port,
  publicUrl: (c) => c.authz.issuer,
  mount: mountAuthzServer,
  authDeps: authzAuthDeps,
};
