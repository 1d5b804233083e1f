import type { Middleware } from 'koa';
import { isAppError } from '#shared/errors/index.js';
import { asDpopChallenge } from './koa-auth.js';

export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/**
 * RFC 9728 §3.1: the metadata of a resource whose identifier has a path (`<api>/mcp`) lives at
 * the well-known path followed by that path (`/.well-known/oauth-protected-resource/mcp`).
 */
export const metadataPathFor = (resourcePath: string): string => `${PROTECTED_RESOURCE_METADATA_PATH}${resourcePath}`;

/** The request was made with a DPoP-bound token (`Authorization: DPoP …`). */
const usedDpop = (authorization: string) => /^DPoP +/i.test(authorization);

/**
 * RFC 9728 §5.1: every Bearer or DPoP challenge of this API names its protected resource
 * metadata, so a client that meets a 401 (or a 403 insufficient_scope, to step up) finds the
 * authorization server from there — what MCP clients do. One place for every challenge the API
 * throws: it also restates, in the DPoP scheme, the Bearer challenges thrown after koa-auth
 * (koa-guard's and /mcp's insufficient_scope) when the request used DPoP (RFC 9449 §7.1).
 *
 * `ownResources`: paths on this server that are protected resources of their own (`/mcp`, with
 * its own audience); a challenge at or below one names that resource's metadata. Every other
 * path is the API itself (the root metadata).
 */
export function koaResourceMetadataChallenge(audience: string, ownResources: readonly string[] = []): Middleware {
  const param = (resourcePath: string) => `resource_metadata="${new URL(metadataPathFor(resourcePath), `${audience}/`).href}"`;
  const root = param('');
  const own = ownResources.map((path) => ({ path, param: param(path) }));
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const headers = isAppError(err) ? err.headers : undefined;
      let challenge = headers?.['WWW-Authenticate'];
      if (headers && challenge && /^(Bearer|DPoP)\b/.test(challenge)) {
        if (challenge.startsWith('Bearer') && usedDpop(ctx.get('Authorization'))) challenge = asDpopChallenge(challenge);
        const named = own.find((r) => ctx.path === r.path || ctx.path.startsWith(`${r.path}/`))?.param ?? root;
        headers['WWW-Authenticate'] = challenge === 'Bearer' ? `Bearer ${named}` : `${challenge}, ${named}`;
      }
      throw err;
    }
  };
}
