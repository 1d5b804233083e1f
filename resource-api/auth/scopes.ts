import type { statement } from '#shared/auth/permissions.js';
import type { ApiScope } from '#shared/oauth/scopes.js';

type Statement = typeof statement;
export type Permission = { [R in keyof Statement]?: Statement[R][number][] };
/** `resource:action` of the RBAC statement, e.g. `listing:read`. */
export type PermissionKey = { [R in keyof Statement & string]: `${R}:${Statement[R][number]}` }[keyof Statement & string];
/** Keys are the statement's permissions and values API_SCOPES (or null): a typo on either side does not compile. */
export type ScopeMap = { readonly [K in PermissionKey]?: ApiScope | null };

/**
 * Which OAuth scope lets a token use a permission. A bearer token's effective permissions
 * are the role's permissions ∩ what its scopes allow; `null` means tokens never get it
 * (administration needs a first-party session).
 */
export const SCOPE_FOR: ScopeMap = {
  'listing:read': 'listings:read',
  'listing:create': 'listings:write',
  'listing:update': 'listings:write',
  'listing:delete': 'listings:write',
  'listing:publish': 'listings:write',
  'listing:suspend': null,
  'review:create': 'reviews:write',
  'review:delete': 'reviews:write',
  'review:moderate': null,
  'checkout:create': 'checkout:create',
  'usage:report': 'usage:report',
  'usage:read': 'usage:read',
  'audit:read': null,
};

export function scopesFor(required: Permission): (string | null)[] {
  return Object.entries(required).flatMap(([resource, actions]) => (actions ?? []).map((a) => SCOPE_FOR[`${resource}:${a}` as PermissionKey] ?? null));
}
