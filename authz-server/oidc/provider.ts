import Provider from 'oidc-provider';
import type { Container } from '#shared/container.js';
import { fromRequest } from '#shared/audit/index.js';
import { providerConfiguration } from './configuration.js';
import { introspectionOfJwts } from './introspection.js';
import { observeRegistration } from './registration.js';
import { clientIdMetadataFeature } from './client-id-metadata.js';
import { observeDeviceFlow } from './device-flow.js';
import { createProviderCaches, NO_CACHES } from './caches.js';

/**
 * One provider per process. `proxy` follows TRUST_PROXY: X-Forwarded-* are honoured only
 * behind a proxy the operator trusts.
 */
export function createProvider(c: Pick<Container, 'config' | 'db' | 'logger' | 'audit' | 'auth'> & Partial<Pick<Container, 'metrics' | 'changes'>>): Provider {
  const log = c.logger.child({ component: 'oidc' });
  type ReuseEvent = 'refresh_token.reuse_detected' | 'authorization_code.reuse_detected' | 'device_code.reuse_detected';
  const REUSE_OF: Record<string, ReuseEvent> = { RefreshToken: 'refresh_token.reuse_detected', AuthorizationCode: 'authorization_code.reuse_detected', DeviceCode: 'device_code.reuse_detected' };
  const reuse = (event: ReuseEvent, grantId: string | null, clientId?: string) => {
    c.metrics?.reuse.inc({ kind: event.split('.')[0]! });
    c.audit.record(event, { outcome: 'denied', actor: { ...(clientId ? { clientId } : {}) }, properties: { grantId: grantId ?? null, grantRevoked: Boolean(grantId) } });
    // Every reuse revokes the grant (some paths before the adapter does): the API hears it now.
    if (grantId) void announceRevoked(grantId);
  };
  // The change bus: the grant's access tokens are refused at every API replica (docs/operations.md).
  const announceRevoked = async (grantId: string) => void (await c.changes?.publish({ type: 'grant.revoked', grantId, at: Date.now() }));
  const metadataDocuments = clientIdMetadataFeature(c.config);
  const provider = new Provider(
    c.config.authz.issuer,
    providerConfiguration(c.config, c.db, c.auth, {
      onReuseRace: (model, grantId) => {
        log.warn({ model, grantRevoked: Boolean(grantId) }, 'concurrent reuse detected: grant revoked');
        reuse(REUSE_OF[model] ?? 'authorization_code.reuse_detected', grantId);
      },
      onOtherClientReplay: (grantId, clientId) => {
        log.warn({ grantRevoked: Boolean(grantId) }, 'rotated refresh token presented by another client: grant revoked');
        reuse('refresh_token.reuse_detected', grantId, clientId);
      },
      onRefreshRetry: (grantId) => log.info({ grantId }, 'refresh retried within REFRESH_RETRY_WINDOW_S: the unreceived successor was replaced'),
      onGrantRevoked: announceRevoked,
      onClientDeleted: async (clientId) => void (await c.changes?.publish({ type: 'client.deleted', clientId, at: Date.now() })),
      onClientChanged: async (clientId) => void (await c.changes?.publish({ type: 'client.changed', clientId })),
      caches: c.changes ? createProviderCaches(c.changes, c.config.bus.cacheMaxAgeMs) : NO_CACHES,
    }, metadataDocuments),
  );
  provider.proxy = c.config.http.trustProxy;
  enforceRegisteredSecretMethod(provider);
  discoveryListsAcceptedMethods(provider);
  introspectionOfJwts(provider);
  observeRegistration(provider, c);
  metadataDocuments.observe(provider, c);
  observeDeviceFlow(provider, c);
  provider.maxIpsCount = 1; // as shared/http/app.ts: only the hop our proxy appended
  // The request id of the access log line (shared/http/koa-request-id.ts) on every provider line.
  const requestId = (ctx: unknown) => (ctx as { state?: { requestId?: string } } | undefined)?.state?.requestId;
  provider.on('server_error', (ctx, err) => log.error({ requestId: requestId(ctx), err: { type: err.name, message: err.message, stack: err.stack } }, 'oidc server_error'));
  // OAuth errors answered to clients carry a hidden error_detail; operators see it here.
  for (const event of ['grant.error', 'authorization.error', 'introspection.error', 'revocation.error', 'userinfo.error'] as const) {
    (provider.on as (e: string, h: (ctx: unknown, err: { error?: string; error_detail?: string }) => void) => void)(event, (ctx, err) => {
      log.info({ requestId: requestId(ctx), event, error: err.error, detail: err.error_detail, cause: causeChain(err) }, 'oauth error');
      // Sequential reuse, as detected by oidc-provider itself (concurrent reuse: onReuseRace).
      const oidc = (ctx as { oidc?: { client?: { clientId: string }; entities?: { AuthorizationCode?: { grantId?: string }; RefreshToken?: { grantId?: string }; DeviceCode?: { grantId?: string } } } }).oidc;
      if (err.error_detail === 'authorization code already consumed') reuse('authorization_code.reuse_detected', oidc?.entities?.AuthorizationCode?.grantId ?? null, oidc?.client?.clientId);
      if (err.error_detail === 'refresh token already used') reuse('refresh_token.reuse_detected', oidc?.entities?.RefreshToken?.grantId ?? null, oidc?.client?.clientId);
      if (err.error_detail === 'device code already consumed') {
        // oidc-provider keeps no device code entity on this path; it revoked the grant just before
        // (grant.revoked below noted which one on this request).
        reuse('device_code.reuse_detected', (ctx as { state?: { revokedGrantId?: string } }).state?.revokedGrantId ?? null, oidc?.client?.clientId);
      }
    });
  }
  provider.on('grant.success', (ctx) => c.metrics?.tokens.inc({ grant_type: String(ctx.oidc.params?.grant_type ?? 'unknown') }));
  provider.on('grant.revoked', (ctx, grantId) => {
    log.info({ grantId }, 'grant revoked');
    if (ctx?.state) (ctx.state as { revokedGrantId?: string }).revokedGrantId = grantId;
  });
  // RFC 7009: a token revoked at the revocation endpoint. Tokens are also destroyed elsewhere
  // (rotation, reuse detection, grant revocation), so only the revocation route counts here.
  for (const [event, tokenType] of [['access_token.destroyed', 'access_token'], ['refresh_token.destroyed', 'refresh_token'], ['client_credentials.destroyed', 'client_credentials']] as const) {
    (provider.on as (e: string, h: (token: { accountId?: string; clientId?: string; grantId?: string }) => void) => void)(event, (token) => {
      const ctx = Provider.ctx;
      if (ctx?.oidc?.route !== 'revocation') return;
      const actor = { ...(token.accountId ? { userId: token.accountId } : {}), ...(token.clientId ? { clientId: token.clientId } : {}) };
      c.audit.record('token.revoked', { outcome: 'success', actor, ...fromRequest(ctx), properties: { tokenType, grantId: token.grantId ?? null, reason: 'client_request' } });
    });
  }
  return provider;
}

/** error_description / message of nested causes, for the server log only. */
function causeChain(err: unknown): string[] {
  const out: string[] = [];
  let e = (err as { cause?: unknown }).cause;
  for (let i = 0; i < 3 && e; i++, e = (e as { cause?: unknown }).cause) {
    const x = e as { error_description?: string; message?: string };
    out.push(String(x.error_description ?? x.message ?? e));
  }
  return out;
}

/**
 * oidc-provider accepts a client secret in the Basic header or in the body whichever of the two
 * the client registered (lib/shared/client_auth.js). The registered
 * `token_endpoint_auth_method` is the only one (RFC 7591 §2): a secret presented the other way
 * does not authenticate the client (invalid_client).
 */
function enforceRegisteredSecretMethod(provider: Provider): void {
  const proto = provider.Client.prototype as unknown as { compareClientSecret(actual: string): Promise<boolean>; clientAuthMethod: string };
  const compare = proto.compareClientSecret;
  proto.compareClientSecret = async function (this: typeof proto, actual: string) {
    const basic = /^basic /i.test(Provider.ctx?.get('authorization') ?? '');
    if ((this.clientAuthMethod === 'client_secret_basic') !== basic) return false;
    return compare.call(this, actual);
  };
}

/**
 * RFC 8414 §2: the revocation and introspection auth methods in discovery are methods the
 * server accepts. oidc-provider drops a configured method it cannot serve (client_secret_jwt
 * without an HMAC algorithm in clientAuthSigningAlgValues, lib/helpers/configuration.js) from
 * token_endpoint_auth_methods_supported only; the two lists follow that one, at every route
 * of discovery (/.well-known/openid-configuration and /.well-known/oauth-authorization-server).
 */
function discoveryListsAcceptedMethods(provider: Provider): void {
  provider.use(async (ctx, next) => {
    await next();
    if ((ctx as { oidc?: { route?: string } }).oidc?.route !== 'discovery') return;
    const body = ctx.body as Record<string, unknown> | undefined;
    const accepted = new Set(body?.token_endpoint_auth_methods_supported as string[] | undefined);
    for (const key of ['revocation_endpoint_auth_methods_supported', 'introspection_endpoint_auth_methods_supported']) {
      if (Array.isArray(body?.[key])) body[key] = (body[key] as string[]).filter((m) => accepted.has(m));
    }
  });
}
