import type Koa from 'koa';
import type { Container } from '#shared/container.js';
import { createAccessTokenVerifier } from './auth/access-token.js';
import { koaAuth } from './middleware/koa-auth.js';
import { koaCors } from './middleware/koa-cors.js';
import { meRoutes } from './routes/me.js';
import { wellKnownRoutes } from './routes/well-known.js';

/** The resource API: CORS, discovery metadata, then authenticated /v1 routes. */
export function mountResourceApi(app: Koa, c: Container, opts: { jwksCooldownMs?: number } = {}): Koa.Middleware {
  app.use(koaCors(c.config.frontendOrigins));
  const auth = koaAuth({ db: c.db, auth: c.auth, verifyToken: createAccessTokenVerifier(c.config, opts) });
  for (const router of [wellKnownRoutes(c.config), meRoutes(auth)]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return auth;
}
