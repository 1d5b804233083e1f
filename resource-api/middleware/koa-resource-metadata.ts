import type { Middleware } from 'koa';
import { isAppError } from '#shared/errors/index.js';

export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/**
 * RFC 9728 §5.1: every Bearer challenge of this API names its protected resource metadata, so a
 * client that meets a 401 (or a 403 insufficient_scope, to step up) finds the authorization
 * server from there — what MCP clients do. One place for every challenge the API throws.
 */
export function koaResourceMetadataChallenge(audience: string): Middleware {
  const param = `resource_metadata="${new URL(PROTECTED_RESOURCE_METADATA_PATH, `${audience}/`).href}"`;
  return async (_ctx, next) => {
    try {
      await next();
    } catch (err) {
      const headers = isAppError(err) ? err.headers : undefined;
      const challenge = headers?.['WWW-Authenticate'];
      if (headers && challenge?.startsWith('Bearer')) headers['WWW-Authenticate'] = challenge === 'Bearer' ? `Bearer ${param}` : `${challenge}, ${param}`;
      throw err;
    }
  };
}
