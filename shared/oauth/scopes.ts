/**
 * Scopes Portcullis issues. OpenID scopes go to the authorization server itself; API scopes
 * are granted for the resource API (audience = API_AUDIENCE) and end up in its JWT access
 * tokens. The resource API intersects them with the caller's role.
 */
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'] as const;
export const API_SCOPES = ['listings:read', 'listings:write', 'reviews:write', 'checkout:create', 'usage:report', 'usage:read'] as const;
export const ALL_SCOPES: readonly string[] = [...OIDC_SCOPES, ...API_SCOPES];

export type ApiScope = (typeof API_SCOPES)[number];

/**
 * The scopes a client that registered itself (RFC 7591) or identifies by a client ID metadata
 * document may hold, unless the operator sets AGENT_SCOPES: acting for a person as a buyer
 * (read listings, report and read usage, start a checkout, write a review) — never publishing
 * or editing listings, which stay with clients an operator registered.
 */
export const DEFAULT_AGENT_SCOPES: readonly string[] = ['openid', 'offline_access', 'profile', 'email', 'listings:read', 'reviews:write', 'checkout:create', 'usage:report', 'usage:read'];

export function isApiScope(scope: string): scope is ApiScope {
  return (API_SCOPES as readonly string[]).includes(scope);
}

/**
 * What each scope lets a client do, in a person's words: the consent page shows them and the
 * API's OpenAPI document describes its scopes with them (one wording, no drift).
 */
export const SCOPE_DESCRIPTIONS: Record<(typeof OIDC_SCOPES)[number] | ApiScope, string> = {
  openid: 'Confirm who you are',
  profile: 'See your name',
  email: 'See your email address',
  offline_access: 'Stay signed in (keep access when you are away)',
  'listings:read': 'Read marketplace listings',
  'listings:write': 'Create and edit your listings',
  'reviews:write': 'Write reviews in your name',
  'checkout:create': 'Start purchases in your name',
  'usage:report': 'Report usage against your quotas',
  'usage:read': 'See your usage and quotas',
};
