import { runService } from '#shared/boot/run-service.js';
import { mountResourceApi } from './app.js';

await runService({
  name: 'resource-api',
  port: (c) => c.api.port,
  publicUrl: (c) => c.api.audience,
  mount: (app, c) => void mountResourceApi(app, c),
});
