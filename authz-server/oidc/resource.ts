import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { Config } from '#shared/config/index.js';
import { API_SCOPES, isApiScope } from '#shared/oauth/scopes.js';

/**
 * The resource servers Portcullis issues access tokens for (RFC 8707 indicators): the
 * marketplace REST API (API_AUDIENCE) and its MCP endpoint (`<API_AUDIENCE>/mcp`, its own
 * protected resource, RFC 9728). A token is good at one of them only: the API checks `aud`.
 */
export function resourceServers(config: Pick<Config, 'api'>): { api: string; mcp: string } {
  return { api: config.api.audience, mcp: `${config.api.audience}/mcp` };
}

/**
 * The API scopes a client may get in a token for either resource: all of them. What bounds a
 * grant is the client's own `scope` (oidc-provider refuses any other with invalid_scope); for
 * clients that registered themselves or identify by a metadata document the agent policy keeps
 * that `scope` within AGENT_SCOPES and fills it with exactly those when absent
 * (clients/agent-policy.ts, oidc/registration.ts, oidc/client-id-metadata.ts; docs/agents.md).
 */
export function resourceScopesFor(_client: unknown): readonly string[] {
  return API_SCOPES;
}

/**
 * Resource indicators (RFC 8707). Access tokens for a resource server are RFC 9068 JWTs with
 * `aud` = that resource. A request for API scopes without a `resource` parameter gets the REST
 * API as default resource; a plain OpenID request gets an opaque access token for userinfo.
 */
export function resourceIndicators(config: Config) {
  const { api, mcp } = resourceServers(config);
  const known = new Set([api, mcp]);
  return {
    enabled: true,
    defaultResource(ctx: KoaContextWithOIDC, _client: unknown, oneOf?: string[]) {
      if (oneOf) return oneOf;
      return requestedScopes(ctx).some(isApiScope) ? api : undefined;
    },
    useGrantedResource: () => true,
    async getResourceServerInfo(_ctx: KoaContextWithOIDC, resourceIndicator: string, client: unknown): Promise<ResourceServer> {
      if (!known.has(resourceIndicator)) throw new errors.InvalidTarget();
      return {
        scope: resourceScopesFor(client).join(' '),
        audience: resourceIndicator,
        accessTokenTTL: config.tokens.accessTokenTtlS,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      };
    },
  };
}

function requestedScopes(ctx: KoaContextWithOIDC): string[] {
  const oidc = ctx.oidc;
  const scope =
    (oidc.params?.scope as string | undefined) ??
    oidc.entities.AuthorizationCode?.scope ??
    oidc.entities.RefreshToken?.scope ??
    '';
  return String(scope).split(' ').filter(Boolean);
}
