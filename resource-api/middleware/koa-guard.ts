import type { Middleware } from 'koa';
import { appError } from '#shared/errors/index.js';
import { roles } from '#shared/auth/permissions.js';
import { AuthErrors } from '../auth/errors.js';
import { scopesFor, type Permission } from '../auth/scopes.js';
import { challenge } from './koa-auth.js';
import type { Principal } from '../auth/principal.js';

/** Whether the caller may use `permission`: role allows it and, for a token, scopes do too. */
export function allows(p: Principal, permission: Permission): boolean {
  if (!roles[p.role].authorize(permission as never).success) return false;
  return p.scopes === null || scopesFor(permission).every((s) => s !== null && p.scopes!.includes(s));
}

/**
 * RBAC for one route: the caller's role (fresh from the database, set by koa-auth) must allow
 * `required`; a bearer token must also carry the scope for each permission.
 */
export function koaGuard(required: Permission): Middleware {
  const needed = scopesFor(required);
  return async (ctx, next) => {
    const principal = ctx.state.principal;
    if (!principal) throw appError(AuthErrors, 'UNAUTHENTICATED', { headers: challenge() });
    // Permissions belong to roles, and a client acting for itself has none.
    if (principal.kind === 'client') throw appError(AuthErrors, 'USER_TOKEN_REQUIRED');
    if (principal.scopes) {
      const missing = needed.filter((s) => s === null || !principal.scopes!.includes(s));
      if (missing.length > 0) {
        const wanted = needed.filter((s): s is string => s !== null).join(' ');
        throw appError(AuthErrors, 'INSUFFICIENT_SCOPE', { headers: challenge('insufficient_scope', undefined, wanted || undefined) });
      }
    }
    const result = roles[principal.role].authorize(required as never);
    if (!result.success) throw appError(AuthErrors, 'FORBIDDEN');
    await next();
  };
}
