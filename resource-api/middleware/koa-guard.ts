import type { Middleware } from 'koa';
import { appError } from '#shared/errors/index.js';
import { roles } from '#shared/auth/permissions.js';
import { AuthErrors } from '../auth/errors.js';
import { scopesFor, type Permission } from '../auth/scopes.js';
import { challenge } from './koa-auth.js';
import type { Caller, Principal } from '../auth/principal.js';

/**
 * Who may call an operation. `public`: anyone, even anonymous or a client acting for itself;
 * `authenticated`: any person; `{ permission }`: a person whose role allows it and, for a
 * bearer token, whose token carries the scope for it (auth/scopes.ts).
 */
export type Access = 'public' | 'authenticated' | { permission: Permission };

/** Whether the caller may use `permission`: role allows it and, for a token, scopes do too. */
export function allows(p: Principal, permission: Permission): boolean {
  if (!roles[p.role].authorize(permission as never).success) return false;
  return p.scopes === null || scopesFor(permission).every((s) => s !== null && p.scopes!.includes(s));
}

/**
 * The access rule of one operation, for every way it is called (a REST route, an MCP tool):
 * throws the refusal the caller gets. The role is fresh from the database (koa-auth), so a
 * demotion applies to the very next call; the token's scopes are checked before the role, so
 * a token without the scope learns that first (RFC 6750 §3.1 insufficient_scope).
 */
export function authorize(caller: Caller | undefined, access: Access): void {
  if (access === 'public') return;
  if (!caller) throw appError(AuthErrors, 'UNAUTHENTICATED', { headers: challenge() });
  // Permissions belong to roles, and a client acting for itself has none.
  if (caller.kind === 'client') throw appError(AuthErrors, 'USER_TOKEN_REQUIRED');
  if (access === 'authenticated') return;
  const needed = scopesFor(access.permission);
  if (caller.scopes) {
    const missing = needed.filter((s) => s === null || !caller.scopes!.includes(s));
    if (missing.length > 0) {
      const wanted = needed.filter((s): s is string => s !== null).join(' ');
      throw appError(AuthErrors, 'INSUFFICIENT_SCOPE', { headers: challenge('insufficient_scope', undefined, wanted || undefined) });
    }
  }
  if (!roles[caller.role].authorize(access.permission as never).success) throw appError(AuthErrors, 'FORBIDDEN');
}

/** RBAC for one route: `authorize` against the caller koa-auth established. */
export function koaGuard(required: Permission | Access): Middleware {
  const access: Access = typeof required === 'string' || 'permission' in required ? (required as Access) : { permission: required };
  return async (ctx, next) => {
    authorize(ctx.state.principal, access);
    await next();
  };
}
