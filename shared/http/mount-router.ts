import type Koa from 'koa';
import type Router from '@koa/router';
import { HttpErrors, appError } from '../errors/index.js';

/**
 * Mounts a router so that a known path with the wrong method answers our JSON
 * `405 METHOD_NOT_ALLOWED` (with `Allow`), and an unknown method never becomes a 5xx.
 */
export function mountRouter(app: Koa, router: Router): void {
  app.use(router.routes());
  app.use(
    router.allowedMethods({
      throw: true,
      methodNotAllowed: () => appError(HttpErrors, 'METHOD_NOT_ALLOWED'),
      notImplemented: () => appError(HttpErrors, 'METHOD_NOT_ALLOWED'),
    }),
  );
}
