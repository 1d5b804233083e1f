import type { Knex } from 'knex';
import { interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { epochTime } from './time.js';
import type { Config } from '#shared/config/index.js';
import { ALL_SCOPES } from '#shared/oauth/scopes.js';
import { providerJwks, type RingKey } from '../keys/keyring.js';
import { checkApiTokenKey } from '../keys/api-token-alg.js';
import { prefetchedAccount } from './refresh-rotation.js';
import { createAdapterClass, type AdapterOptions } from './adapter.js';
import { tombstoneTtlS } from '../queries/oidc-models.js';
import { createFindAccount, ROLE_CLAIM } from './account.js';
import { resourceIndicators } from './resource.js';
import { sessionBindingCheck, type BindingDeps } from './session-binding.js';
import { ACR_VALUES, LOA_TWO_FACTOR, demandsTwoFactor } from '#shared/auth/assurance.js';
import { nativeOfflineAccess } from './offline-access.js';
import { introspectionAllowed } from './introspection.js';
import { registrationFeatures } from './registration.js';
import { clientIdMetadataFeature, type MetadataDocuments } from './client-id-metadata.js';
import { createOutboundFetch } from './outbound-fetch.js';
import { deviceFlowFeature } from './device-flow.js';
import { dpopFeature, DPOP_SIGNING_ALGS } from './dpop.js';
import type { Auth } from '#shared/auth/better-auth.js';
import { renderMessage } from '../pages/message.js';
import { renderLogoutConfirm } from '../pages/logout.js';
import { renderProviderError } from '../pages/provider-error.js';

/**
 * oidc-provider settings. Everything v9 turns on by default that we do not serve end to end
 * is switched off (dev interactions, PAR); the flows are the authorization code (PKCE S256 for
 * every client), refresh, client credentials and the device grant (RFC 8628) — no implicit, no
 * ROPC; DPoP (RFC 9449) binds tokens when a proof is sent (oidc/dpop.ts).
 */
export { LOA_TWO_FACTOR } from '#shared/auth/assurance.js';

/** Client authentication at the token, revocation and introspection endpoints. */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_jwt', 'client_secret_post', 'private_key_jwt', 'none'] as const;

/**
 * The default prompts plus one login check: a client asking for two-factor
 * (acr_values=urn:portcullis:loa:2) gets a fresh sign-in unless the current OpenID session was
 * itself established with two factors — also when no interaction would otherwise happen.
 */
function interactionsPolicy(binding: BindingDeps) {
  const policy = interactionPolicy.base();
  const login = policy.get('login')!;
  // First, on every authorization request: the login prompt's checks always run.
  login.checks.add(nativeOfflineAccess(), 0);
  login.checks.push(sessionBindingCheck(binding));
  login.checks.push(
    new interactionPolicy.Check('two_factor_required', 'two-factor authentication is required', (ctx) => {
      const wanted = demandsTwoFactor(ctx.oidc.params?.acr_values);
      return wanted && ctx.oidc.session?.acr !== LOA_TWO_FACTOR ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
  );
  return policy;
}

/** `grant_id` in the API's JWT access tokens (not in client_credentials tokens, which have no grant). */
async function grantClaim(_ctx: KoaContextWithOIDC, token: { grantId?: string; resourceServer?: unknown }) {
  return token.grantId && token.resourceServer ? { grant_id: token.grantId } : undefined;
}

export function providerConfiguration(
  config: Config,
  db: Knex,
  auth: Auth,
  hooks: Pick<AdapterOptions, 'onReuseRace' | 'onOtherClientReplay' | 'onRefreshRetry' | 'onGrantRevoked' | 'onClientDeleted' | 'onClientChanged' | 'caches'> = {},
  /** The provider's client ID metadata document state (createProvider observes the same one). */
  metadataDocuments: MetadataDocuments = clientIdMetadataFeature(config),
): Configuration {
  const t = config.tokens;
  checkApiTokenKey(config.secrets.signingKeys.keys as RingKey[], t.apiTokenSigningAlg);
  const https = config.authz.issuer.startsWith('https:');
  const cookie = { httpOnly: true, sameSite: 'lax' as const, secure: https, signed: true };
  return {
    adapter: createAdapterClass(db, { tombstoneTtlS: tombstoneTtlS(t), refreshRetryWindowS: t.refreshRetryWindowS, ...hooks }),
    jwks: providerJwks(config.secrets.signingKeys.keys as RingKey[]) as Configuration['jwks'],
    // A refresh grant read the account with its token (oidc/refresh-rotation.ts); other requests
    // read it through the bus-invalidated cache (oidc/caches.ts).
    findAccount: createFindAccount(db, prefetchedAccount, hooks.caches),
    claims: {
      openid: ['sub', ROLE_CLAIM, 'amr', 'acr'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      amr: null,
      sid: null,
      auth_time: null,
    },
    // OpenID Connect Core §5.4: the profile and email claims come from userinfo when the access
    // token can be used there (opaque, no audience). When it is a JWT for the API (RFC 8707:
    // userinfo refuses a token with an audience) they come in the ID token instead — oidc-provider's
    // conform mode does exactly that (lib/helpers/grant_common.js issueIdToken). The role, amr and
    // acr are openid-scope claims: always in the ID token. ID tokens also travel in URLs
    // (id_token_hint), so they carry nothing the client can read at userinfo.
    conformIdTokenClaims: true,
    // The change bus (docs/operations.md): an access token for the API names the grant it was
    // issued from, so the API refuses it once that grant is revoked (resource-api/auth/revocations.ts).
    extraTokenClaims: grantClaim,
    scopes: [...ALL_SCOPES],
    // Set at sign-in: loa:1 password, loa:2 password + TOTP (see interaction/sign-in.ts).
    acrValues: [...ACR_VALUES],
    responseTypes: ['code'],
    clientAuthMethods: [...CLIENT_AUTH_METHODS],
    // RFC 8414 §2: without these, clients must assume client_secret_basic only. Public clients
    // revoke their own tokens with `none`; introspection is for confidential clients only.
    discovery: {
      revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
      introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS.filter((m) => m !== 'none'),
    },
    pkce: { required: () => true },
    // Every URL the server fetches for a client (metadata documents, jwks_uri) reaches public
    // addresses only: oidc/outbound-fetch.ts.
    fetch: metadataDocuments.fetch(createOutboundFetch({ allowLoopback: config.agents.metadataDocuments.allowLoopback })) as Configuration['fetch'],
    fetchResponseBodyLimits: { 'client_id metadata document': 5 * 1024, jwks_uri: 64 * 1024, sector_identifier_uri: 64 * 1024 },
    allowOmittingSingleRegisteredRedirectUri: false,
    // RFC 9700 §4.14.2: every use rotates; a retry within REFRESH_RETRY_WINDOW_S replaces the
    // unreceived successor (oidc/refresh-rotation.ts), any other reuse revokes the grant.
    rotateRefreshToken: true,
    cookies: {
      keys: [...config.secrets.cookieKeys],
      names: { session: 'portcullis.oidc', interaction: 'portcullis.interaction', resume: 'portcullis.resume' },
      long: cookie,
      short: cookie,
    },
    interactions: { policy: interactionsPolicy({ db, auth, config }), url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      dPoP: dpopFeature(config) as never,
      deviceFlow: deviceFlowFeature(config, db) as never,
      pushedAuthorizationRequests: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: introspectionAllowed as never },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => renderLogoutConfirm(ctx as never, form),
        postLogoutSuccessSource: async (ctx) => renderMessage(ctx as never, 'Signed out', 'You are signed out.'),
      },
      resourceIndicators: resourceIndicators(config) as never,
      ...(registrationFeatures(config, db) as object),
      clientIdMetadataDocument: metadataDocuments.feature as never,
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
      clientAuthSigningAlgValues: ['RS256', 'ES256', 'PS256'],
      dPoPSigningAlgValues: DPOP_SIGNING_ALGS as never,
    },
    ttl: {
      AuthorizationCode: t.authCodeTtlS,
      AccessToken: t.accessTokenTtlS,
      ClientCredentials: t.accessTokenTtlS,
      IdToken: t.idTokenTtlS,
      Interaction: 600,
      DeviceCode: t.deviceCodeTtlS,
      Session: config.session.ttlS,
      Grant: t.refreshAbsoluteTtlS,
      // Idle lifetime per token, capped by the grant's absolute lifetime (iiat survives rotation).
      RefreshToken: (_ctx, token) => {
        const iiat = (token as { iiat?: number }).iiat ?? epochTime();
        const left = t.refreshAbsoluteTtlS - (epochTime() - iiat);
        return Math.max(1, Math.min(t.refreshIdleTtlS, left));
      },
    },
    clientBasedCORS: (_ctx, origin, client) =>
      client.clientAuthMethod === 'none' && (client.redirectUris ?? []).some((u: string) => URL.canParse(u) && new URL(u).origin === origin),
    renderError: async (ctx: KoaContextWithOIDC, out) => {
      renderProviderError(ctx as never, { error: String(out.error), ...(out.error_description ? { error_description: String(out.error_description) } : {}) }, ctx.status >= 400 ? ctx.status : 400);
    },
  };
}
