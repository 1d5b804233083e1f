/**
 * Scopes Portcullis issues. OpenID scopes go to the authorization server itself; API scopes
 * are granted for the resource API (audience = API_AUDIENCE) and end up in its JWT access
 * tokens. The resource API intersects them with the caller's role.
 */
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'] as const;
export const API_SCOPES = ['listings:read', 'listings:write', 'reviews:write', 'checkout:create', 'usage:report', 'usage:read'] as const;
export const ALL_SCOPES: readonly string[] = [...OIDC_SCOPES, ...API_SCOPES];

export type ApiScope = (typeof API_SCOPES)[number];

export function isApiScope(scope: string): scope is ApiScope {
  return (API_SCOPES as readonly string[]).includes(scope);
}
