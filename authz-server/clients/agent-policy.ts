import { redirectUri } from './schema.js';
import { DEVICE_CODE_GRANT } from './service.js';

/**
 * What a client that joins without an operator may be (docs/registration.md): a client that
 * registered itself (RFC 7591, kind `registered`) or one identified by a client ID metadata
 * document (kind `metadata-document`). One rule set for both, checked on RFC 7591 metadata names.
 */
export interface AgentPolicyOptions {
  kind: 'registered' | 'metadata-document';
  /** The scopes such a client may hold (AGENT_SCOPES). */
  scopes: readonly string[];
  /** The client_id URL of a metadata document: its keys must live on that origin. */
  clientIdUrl?: string;
}

/** The metadata field at fault and a sentence for `error_description`. */
export interface AgentPolicyViolation {
  field: string;
  message: string;
}

/**
 * Grant types an agent may use. The device-code grant (RFC 8628) is for agents without a
 * browser (a server, a container, SSH); such an agent still registers a redirect URI.
 */
export const AGENT_GRANT_TYPES: readonly string[] = ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT];
export const AGENT_RESPONSE_TYPES: readonly string[] = ['code'];
const NAME_MAX = 100;

type Metadata = Record<string, unknown>;
type Check = (m: Metadata, o: AgentPolicyOptions) => AgentPolicyViolation | undefined;

/** A human description of the first rule the metadata breaks, or undefined. */
export function agentPolicyProblem(metadata: Record<string, unknown>, opts: AgentPolicyOptions): string | undefined {
  return agentPolicyViolation(metadata, opts)?.message;
}

export function agentPolicyViolation(metadata: Record<string, unknown>, opts: AgentPolicyOptions): AgentPolicyViolation | undefined {
  for (const check of CHECKS) {
    const v = check(metadata, opts);
    if (v) return v;
  }
  return undefined;
}

const violation = (field: string, message: string): AgentPolicyViolation => ({ field, message });

/** Nobody holds a secret the server handed out without an operator (RFC 9700 §2.5: no shared secrets for such clients). */
const noClientSecret: Check = (m) =>
  m.client_secret !== undefined ? violation('client_secret', 'client_secret must not be sent: register a public client with token_endpoint_auth_method "none"') : undefined;

/**
 * RFC 7591 §2: an absent token_endpoint_auth_method means client_secret_basic, which would need
 * a secret; a registered agent is public (PKCE). A metadata document may also prove a key it
 * publishes next to its client_id (never inline: the document is fetched, its keys must be too).
 */
const authMethod: Check = (m, o) => {
  const method = m.token_endpoint_auth_method;
  if (o.kind === 'registered') {
    if (method === 'none') return undefined;
    const got = method === undefined ? 'is missing (RFC 7591 defaults it to "client_secret_basic")' : `${JSON.stringify(method)} is not allowed`;
    return violation('token_endpoint_auth_method', `token_endpoint_auth_method ${got}: register a public client with token_endpoint_auth_method "none"`);
  }
  if (m.jwks !== undefined) return violation('jwks', 'jwks must not be inline: publish the keys at a jwks_uri on the client_id origin');
  if (method === 'none') return undefined;
  if (method !== 'private_key_jwt') {
    return violation('token_endpoint_auth_method', `token_endpoint_auth_method ${JSON.stringify(method ?? 'client_secret_basic')} is not allowed: use "none" or "private_key_jwt"`);
  }
  const jwksUri = m.jwks_uri;
  if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) return violation('jwks_uri', 'private_key_jwt needs a jwks_uri');
  if (!o.clientIdUrl || !URL.canParse(o.clientIdUrl) || new URL(jwksUri).origin !== new URL(o.clientIdUrl).origin) {
    return violation('jwks_uri', `jwks_uri ${jwksUri} must be on the origin of the client_id`);
  }
  return undefined;
};

/** URLs the server would fetch for a public client that needs none (SSRF surface). */
const noFetchedUrls: Check = (m, o) => {
  if (m.sector_identifier_uri !== undefined) return violation('sector_identifier_uri', 'sector_identifier_uri is not accepted');
  if (o.kind === 'registered') {
    for (const field of ['jwks_uri', 'jwks'] as const) {
      if (m[field] !== undefined) return violation(field, `${field} is not accepted: a public client has no keys`);
    }
  }
  return undefined;
};

/** RFC 9700 §2.1, RFC 8252: the same redirect URI kinds as operator-registered clients (clients/schema.ts). */
const redirectUris: Check = (m, o) => {
  const list = m.redirect_uris;
  if (!Array.isArray(list) || list.length === 0) return violation('redirect_uris', 'redirect_uris must hold at least one redirect URI');
  return uriList('redirect_uris', list) ?? (o.kind === 'registered' ? webOverHttp(m, list) : undefined);
};

const postLogoutRedirectUris: Check = (m) => {
  const list = m.post_logout_redirect_uris;
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) return violation('post_logout_redirect_uris', 'post_logout_redirect_uris must be an array of URIs');
  return uriList('post_logout_redirect_uris', list);
};

function uriList(field: string, list: unknown[]): AgentPolicyViolation | undefined {
  for (const uri of list) {
    const parsed = redirectUri.safeParse(uri);
    if (!parsed.success) return violation(field, `${field}: ${parsed.error.issues[0]!.message}`);
  }
  return undefined;
}

/** A web client's code never travels over http, loopback or not (as clients/service.ts). */
function webOverHttp(m: Metadata, list: unknown[]): AgentPolicyViolation | undefined {
  if (m.application_type !== 'web') return undefined;
  const http = list.find((u) => String(u).toLowerCase().startsWith('http:'));
  return http ? violation('redirect_uris', `redirect_uris: ${String(http)}: web clients must use https (http only for the loopback redirect of a native client)`) : undefined;
}

const subset = (field: string, allowed: readonly string[]): Check => (m) => {
  const list = m[field];
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) return violation(field, `${field} must be an array`);
  const bad = list.filter((x) => typeof x !== 'string' || !allowed.includes(x));
  return bad.length ? violation(field, `${field} ${bad.map((x) => JSON.stringify(x)).join(', ')} not allowed (allowed: ${allowed.join(', ')})`) : undefined;
};

const scope: Check = (m, o) => {
  if (m.scope === undefined) return undefined;
  if (typeof m.scope !== 'string') return violation('scope', 'scope must be a space-separated string');
  const forbidden = m.scope.split(' ').filter((s) => s && !o.scopes.includes(s));
  if (forbidden.length === 0) return undefined;
  return violation('scope', `scope ${forbidden.join(' ')} ${forbidden.length === 1 ? 'is' : 'are'} not available to self-registered clients (allowed: ${o.scopes.join(' ')})`);
};

/** People see the name on the consent page: a registered client must give one. */
const clientName: Check = (m, o) => {
  const name = m.client_name;
  if (name === undefined && o.kind === 'metadata-document') return undefined;
  if (typeof name !== 'string' || name.trim().length === 0) return violation('client_name', 'client_name is required');
  if (name.length > NAME_MAX) return violation('client_name', `client_name must be at most ${NAME_MAX} characters`);
  if (/[\x00-\x1f\x7f]/.test(name)) return violation('client_name', 'client_name must not contain control characters');
  return undefined;
};

const CHECKS: readonly Check[] = [
  noClientSecret,
  authMethod,
  noFetchedUrls,
  redirectUris,
  postLogoutRedirectUris,
  subset('grant_types', AGENT_GRANT_TYPES),
  subset('response_types', AGENT_RESPONSE_TYPES),
  scope,
  clientName,
];

/** Fields whose violation RFC 7591 §3.2.2 reports as invalid_redirect_uri. */
export function isRedirectField(field: string): boolean {
  return field === 'redirect_uris' || field === 'post_logout_redirect_uris';
}
