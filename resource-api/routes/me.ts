import Router from '@koa/router';
import type { Middleware } from 'koa';

/** GET /v1/me: who the caller is, as the API sees it (role from the database). */
export function meRoutes(auth: Middleware): Router {
  const router = new Router();
  router.get('/v1/me', auth, (ctx) => {
    const p = ctx.state.principal!;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { id: p.userId, email: p.email, name: p.name, role: p.role, authMethod: p.method, clientId: p.clientId, scopes: p.scopes };
  });
  return router;
}
