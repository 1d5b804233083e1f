import Router from '@koa/router';
import type { Config } from '#shared/config/index.js';
import { MCP_METADATA_PATH, mcpResource } from './resource.js';
import { DPOP_ALGS } from '../auth/dpop.js';

/**
 * RFC 9728 metadata of the MCP endpoint, where its 401s point (koa-resource-metadata.ts): the
 * first document an MCP client reads, to find the authorization server and the `resource` to
 * ask a token for. Public and readable from any origin (koa-cors.ts), like the API's own.
 */
export function mcpMetadataRoutes(config: Pick<Config, 'api' | 'authz'>, scopes: readonly string[]): Router {
  const metadata = {
    resource: mcpResource(config),
    authorization_servers: [config.authz.issuer],
    scopes_supported: [...scopes],
    bearer_methods_supported: ['header'],
    // RFC 9728 §2: /mcp takes DPoP-bound tokens with a proof as the REST API does (RFC 9449).
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    resource_name: 'Portcullis marketplace (MCP)',
  };
  return new Router().get(MCP_METADATA_PATH, (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = metadata;
  });
}
