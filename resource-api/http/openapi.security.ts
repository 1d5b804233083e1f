import type { Config } from '#shared/config/index.js';
import { API_SCOPES, SCOPE_DESCRIPTIONS } from '#shared/oauth/scopes.js';
import { scopesFor } from '../auth/scopes.js';
import type { RouteContract } from './contract.js';


export const CLIENT_TOKENS =
  'A client acting for itself (client_credentials token, `sub` = `client_id`) may call the operations whose security lists `clientToken` — the public ones, where it sees what an anonymous caller sees. Every other operation acts for a person and answers it `403 USER_TOKEN_REQUIRED`.';

export function securitySchemes(config: Config) {
  const scopes = Object.fromEntries(API_SCOPES.map((s) => [s, SCOPE_DESCRIPTIONS[s]]));
  const tokenUrl = `${config.authz.issuer}/token`;
  return {
    bearer: {
      type: 'oauth2',
      description: "A person's token (authorization code flow with PKCE, `resource` = this API), sent as `Authorization: Bearer`, or, when the token is DPoP-bound (RFC 9449: asked for with a DPoP proof, `token_type` DPoP), as `Authorization: DPoP` with a fresh `DPoP` proof header on every request (`401 INVALID_DPOP_PROOF` otherwise). The person's role decides what is allowed; the token's scopes narrow it.",
      flows: { authorizationCode: { authorizationUrl: `${config.authz.issuer}/auth`, tokenUrl, scopes } },
    },
    clientToken: { type: 'oauth2', description: CLIENT_TOKENS, flows: { clientCredentials: { tokenUrl, scopes } } },
    session: {
      type: 'apiKey', in: 'cookie', name: 'portcullis.session_token',
      description: 'The first-party session of the marketplace UI (`__Host-portcullis.session_token` over HTTPS). A write with it must come from a FRONTEND_URL origin: `403 ORIGIN_NOT_ALLOWED` otherwise.',
    },
    stripeSignature: { type: 'apiKey', in: 'header', name: 'Stripe-Signature', description: 'Stripe signs every webhook delivery with STRIPE_WEBHOOK_SECRET; only the webhook takes it.' },
  };
}

/**
 * Who may call, as security requirements: `public` takes no credential, a person's token, a
 * client's own token or the session (`{}` first: anonymous is fine). Every other route acts for a
 * person: a token with the scopes its permission needs, or the session. A permission no scope
 * grants (moderation, suspension, the audit trail) is for the session only.
 */
export function securityOf(access: RouteContract['access']): Record<string, string[]>[] {
  if (access === 'public') return [{}, { bearer: [] }, { clientToken: [] }, { session: [] }];
  const scopes = typeof access === 'object' ? scopesFor(access.permission) : [];
  if (scopes.includes(null)) return [{ session: [] }];
  return [{ bearer: scopes as string[] }, { session: [] }];
}
