import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { Config } from '#shared/config/index.js';
import { API_SCOPES, isApiScope } from '#shared/oauth/scopes.js';

/**
 * Resource indicators (RFC 8707): the marketplace API is the one resource server. Its access
 * tokens are RFC 9068 JWTs with `aud` = API_AUDIENCE. A request for API scopes without a
 * `resource` parameter gets the API as default resource; a plain OpenID request gets an
 * opaque access token for userinfo.
 */
export function resourceIndicators(config: Config) {
  const audience = config.api.audience;
  return {
    enabled: true,
    defaultResource(ctx: KoaContextWithOIDC, _client: unknown, oneOf?: string[]) {
      if (oneOf) return oneOf;
      return requestedScopes(ctx).some(isApiScope) ? audience : undefined;
    },
    useGrantedResource: () => true,
    async getResourceServerInfo(_ctx: KoaContextWithOIDC, resourceIndicator: string): Promise<ResourceServer> {
      if (resourceIndicator !== audience) throw new errors.InvalidTarget();
      return {
        scope: API_SCOPES.join(' '),
        audience,
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
