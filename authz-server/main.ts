import { runService } from '#shared/boot/run-service.js';
import { mountAuthzServer } from './app.js';

await runService({
  name: 'authz-server',
  port: (c) => c.authz.port,
  publicUrl: (c) => c.authz.issuer,
  mount: mountAuthzServer,
});
