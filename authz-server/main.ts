import { runService } from '#shared/boot/run-service.js';
import { mountAuthzServer } from './app.js';
import { authzAuthDeps } from './accounts/auth-deps.js';

await runService({
  name: 'authz-server',
  port: (c) => c.authz.port,
  publicUrl: (c) => c.authz.issuer,
  mount: mountAuthzServer,
  authDeps: authzAuthDeps,
});
