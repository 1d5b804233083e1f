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
    // Every API scope for either resource. What bounds a grant is the client's own `scope`
    // (oidc-provider refuses any other with invalid_scope); for clients that joined by themselves
    // the agent policy keeps that within AGENT_SCOPES (clients/agent-policy.ts, docs/agents.md).
    async getResourceServerInfo(_ctx: KoaContextWithOIDC, resourceIndicator: string): Promise<ResourceServer> {
      if (!known.has(resourceIndicator)) throw new errors.InvalidTarget();
      return {
        scope: API_SCOPES.join(' '),
        audience: resourceIndicator,
        accessTokenTTL: config.tokens.accessTokenTtlS,
        accessTokenFormat: 'jwt',
        // API_TOKEN_SIGNING_ALG, for both resources: ES256 by default (a signature per token
        // issued, and ES256 signs several times faster than RS256); the API verifies either.
        jwt: { sign: { alg: config.tokens.apiTokenSigningAlg } },
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
