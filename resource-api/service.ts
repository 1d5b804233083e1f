import type { ServiceDefinition } from '#shared/boot/run-service.js';
import { mountResourceApi } from './app.js';

/** The resource API as `runService` boots it (resource-api/main.ts), and as tests host it. */
export const resourceApiService: ServiceDefinition = {
  name: 'resource-api',
  port: (c) => c.api.port,
  publicUrl: (c) => c.api.audience,
  // What it returns stops the Stripe event worker on shutdown, before the database pool closes.
  mount: (app, c) => mountResourceApi(app, c),
};
