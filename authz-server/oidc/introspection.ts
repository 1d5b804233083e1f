import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Who may learn about a token at the introspection endpoint (RFC 7662 §4: the server must not
 * tell one client about another's tokens). A confidential client learns about its own tokens
 * only; every other answer is `active: false` (RFC 7662 §2.2), as it is for a public client,
 * which proves nothing about who it is.
 *
 * Resource servers: the only tokens with an audience are the API's RFC 9068 JWTs, which the API
 * verifies itself and this server does not keep (see introspectionOfJwts), so no client is
 * registered as an introspecting resource server.
 */
export async function introspectionAllowed(_ctx: KoaContextWithOIDC, client: { clientId: string; clientAuthMethod: string }, token: { clientId?: string }): Promise<boolean> {
  if (client.clientAuthMethod === 'none') return false;
  return token.clientId === client.clientId;
}

/**
 * RFC 7662 §2.2: a token the server does not know is `active: false`, never an error. The API's
 * access tokens are JWTs (RFC 9068) that are not stored, and oidc-provider refuses them with
 * 400 unsupported_token_type (lib/shared/reject_structured_tokens.js) — an RFC 7009 revocation
 * error with no meaning at introspection. That answer, after client authentication succeeded,
 * becomes 200 `{ "active": false }`. Revocation keeps its 400 (RFC 7009 §2.2.1).
 */
export function introspectionOfJwts(provider: Provider): void {
  provider.use(async (ctx, next) => {
    await next();
    if ((ctx as { oidc?: { route?: string } }).oidc?.route !== 'introspection') return;
    if (ctx.status !== 400 || (ctx.body as { error?: string } | undefined)?.error !== 'unsupported_token_type') return;
    ctx.status = 200;
    ctx.body = { active: false };
  });
}
