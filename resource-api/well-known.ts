import Router from '@koa/router';
import type { Config } from '#shared/config/index.js';
import { API_SCOPES } from '#shared/oauth/scopes.js';
import { PROTECTED_RESOURCE_METADATA_PATH } from './middleware/koa-resource-metadata.js';
import { DPOP_ALGS } from './auth/dpop.js';

/**
 * RFC 9728 protected resource metadata, so clients can find our authorization server. No
 * `resource_signing_alg_values_supported`: RFC 9728 §2 means it for signed resource responses,
 * and this API signs none.
 */
export function wellKnownRoutes(config: Config): Router {
  const router = new Router();
  const metadata = {
    resource: config.api.audience,
    authorization_servers: [config.authz.issuer],
    scopes_supported: [...API_SCOPES],
    bearer_methods_supported: ['header'],
    // RFC 9728 §2: the DPoP proof algorithms this API accepts (RFC 9449); DPoP-bound tokens
    // are sent as `Authorization: DPoP` with a proof, others as `Bearer` (docs/dpop.md).
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    resource_name: 'Portcullis marketplace API',
  };
  router.get(PROTECTED_RESOURCE_METADATA_PATH, (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = metadata;
  });
  return router;
}
