import { z } from 'zod';
import { ALL_SCOPES } from '#shared/oauth/scopes.js';

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);
const PRIVATE_USE = /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+$/;

/**
 * RFC 9700 §2.1 / RFC 8252: redirect URIs are compared exactly; https, loopback http for
 * native clients (any port, matched by the provider) or a private-use scheme with a dot
 * (com.example.app:/cb). Never a fragment, never userinfo.
 */
export const redirectUri = z.string().superRefine((v, ctx) => {
  if (/[\s\x00-\x1f\x7f]/.test(v)) return void ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} contains whitespace or control characters` });
  if (!URL.canParse(v)) return void ctx.addIssue({ code: 'custom', message: `${v} is not an absolute URI` });
  const u = new URL(v);
  if (u.hash || v.includes('#')) ctx.addIssue({ code: 'custom', message: `${v} must not contain a fragment` });
  if (u.username || u.password) ctx.addIssue({ code: 'custom', message: `${v} must not contain userinfo` });
  const scheme = u.protocol.slice(0, -1);
  if ((scheme === 'https' || scheme === 'http') && !v.toLowerCase().startsWith(`${scheme}://`)) {
    return void ctx.addIssue({ code: 'custom', message: `${v} must start with ${scheme}://` });
  }
  if (scheme === 'https') return;
  if (scheme === 'http' && LOOPBACK.has(u.hostname)) return;
  if (PRIVATE_USE.test(scheme)) return;
  ctx.addIssue({ code: 'custom', message: `${v}: use https, a loopback http URI or a private-use scheme` });
});

/**
 * What oidc-provider accepts per application type (OIDC Registration §2, RFC 8252): web
 * clients use http(s) only; native clients must not claim https on a loopback host.
 */
function redirectProblem(uri: string, appType: 'web' | 'native'): string | undefined {
  if (!URL.canParse(uri)) return undefined; // reported by redirectUri
  const u = new URL(uri);
  const scheme = u.protocol.slice(0, -1);
  if (appType === 'web' && scheme !== 'https' && scheme !== 'http') return `${uri}: web clients may only use http(s) redirect URIs`;
  if (appType === 'native' && scheme === 'https' && LOOPBACK.has(u.hostname)) return `${uri}: native clients use http on loopback, not https`;
  return undefined;
}

export const clientInput = z
  .object({
    clientId: z.string().regex(/^[A-Za-z0-9._~-]{3,128}$/, { message: 'client id: 3–128 characters of A-Z a-z 0-9 . _ ~ -' }).optional(),
    name: z.string().min(1).max(100),
    type: z.enum(['public', 'confidential']),
    applicationType: z.enum(['web', 'native']).optional(),
    authMethod: z.enum(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']).optional(),
    /** Empty only for a device-only client (`deviceCode`): it has no front channel of its own. */
    redirectUris: z.array(redirectUri),
    postLogoutRedirectUris: z.array(redirectUri).default([]),
    scopes: z.array(z.string().refine((s) => ALL_SCOPES.includes(s), { error: (issue) => `unknown scope "${String(issue.input)}" (known: ${ALL_SCOPES.join(' ')})` })).min(1).default(['openid']),
    jwksUri: z.url({ protocol: /^https$/ }).optional(),
    /** Inline public keys (RFC 7591 `jwks`), for clients that cannot host a jwks_uri. */
    jwks: z.object({ keys: z.array(z.looseObject({ kty: z.string(), kid: z.string().optional() }).refine((k) => !('d' in k), { message: 'jwks must hold public keys only' })).min(1) }).optional(),
    clientCredentials: z.boolean().default(false),
    /** RFC 8628: the client may use the device authorization grant. */
    deviceCode: z.boolean().default(false),
    /** RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request must carry a DPoP proof. */
    dpopBound: z.boolean().default(false),
    idTokenAlg: z.enum(['RS256', 'ES256']).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const method = c.authMethod ?? (c.type === 'public' ? 'none' : 'client_secret_basic');
    if (c.type === 'public' && method !== 'none') ctx.addIssue({ code: 'custom', path: ['authMethod'], message: 'public clients authenticate with none (PKCE)' });
    if (c.type === 'confidential' && method === 'none') ctx.addIssue({ code: 'custom', path: ['authMethod'], message: 'confidential clients must authenticate' });
    if (method === 'private_key_jwt' && !c.jwksUri && !c.jwks) ctx.addIssue({ code: 'custom', path: ['jwksUri'], message: 'private_key_jwt needs a jwks_uri or jwks' });
    if (c.redirectUris.length === 0 && !c.deviceCode) ctx.addIssue({ code: 'custom', path: ['redirectUris'], message: 'at least one redirect URI is required' });
    const appType = c.applicationType ?? (c.type === 'public' ? 'native' : 'web');
    for (const [field, list] of [['redirectUris', c.redirectUris], ['postLogoutRedirectUris', c.postLogoutRedirectUris]] as const) {
      list.forEach((uri, i) => {
        const problem = redirectProblem(uri, appType);
        if (problem) ctx.addIssue({ code: 'custom', path: [field, i], message: problem });
      });
    }
    if (c.jwksUri && c.jwks) ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'give jwks_uri or jwks, not both' });
    if (c.clientCredentials && c.type === 'public') ctx.addIssue({ code: 'custom', path: ['clientCredentials'], message: 'client_credentials needs a confidential client' });
  });

export type ClientInput = z.input<typeof clientInput>;
