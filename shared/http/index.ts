export { createHttpApp, type HttpAppOptions } from './app.js';
export { startServer, installSignalHandlers, type RunningServer, type ServerOptions } from './server.js';
export { createDrain, type Drain } from './koa-drain.js';
export { koaBody } from './koa-body.js';
export { respond, toAppError, type ErrorBody } from './koa-error-handler.js';
export { REQUEST_ID_HEADER } from './koa-request-id.js';
export type { ReadinessCheck } from './koa-health.js';
export { mountRouter } from './mount-router.js';
export { originAllowed, assertOrigin, originsOf } from './origin-check.js';
