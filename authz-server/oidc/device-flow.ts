import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Adapter, KoaContextWithOIDC, Client } from 'oidc-provider';
import type { Config } from '#shared/config/index.js';
import type { Container } from '#shared/container.js';
import { fromRequest } from '#shared/audit/index.js';
import { findClient } from '../queries/clients.js';
import { findUserById } from '../queries/users.js';
import type { AuthzLimits } from '../rate-limits.js';
import type { ClientProvenance } from '../pages/consent.js';
import { DeviceErrors } from './errors.js';
import { renderDeviceCodeConfirm, renderDeviceCodeInput, renderDeviceDenied, renderDeviceLimited, renderDeviceSuccess } from '../pages/device-code.js';

/**
 * RFC 8628 §6.1: user codes of 8 characters from BCDFGHJKLMNPQRSTVWXZ (no vowels, no digits,
 * nothing that reads as another character), 20^8 ≈ 2^34.6, shown as XXXX-XXXX. oidc-provider
 * normalises what the person types (upper case, everything but letters dropped) before the
 * lookup, so case, spaces and the dash do not matter.
 */
export const USER_CODE_CHARSET = 'base-20';
export const USER_CODE_MASK = '****-****';
/** RFC 8628 §3.2 `interval` (the RFC's default): the seconds a device waits between two polls. */
export const POLL_INTERVAL_S = 5;
/**
 * How long a device code's row outlives its expiry: the storage drops expired rows, and the
 * provider can only answer expired_token (RFC 8628 §3.5) — and the page "expired" — for a code
 * it still finds. After that a poll gets invalid_grant.
 */
export const EXPIRED_GRACE_S = 600;

const DEVICE_ROUTES = new Set(['code_verification', 'device_resume']);
/** oidc-provider's routes fold case and ignore one trailing slash (as rate-limits.ts). */
const VERIFICATION_PATH = /^\/device\/?$/i;

type Ctx = KoaContextWithOIDC;
const page = (ctx: Ctx) => ctx as unknown as Context;

/** RFC 8628 device authorization grant: oidc-provider's `features.deviceFlow` (docs/oauth.md). */
export function deviceFlowFeature(_config: Config, db: Knex) {
  return {
    enabled: true,
    charset: USER_CODE_CHARSET,
    mask: USER_CODE_MASK,
    userCodeInputSource: (ctx: Ctx, _form: string, out?: { error?: string }, err?: Error & { userCode?: string }) => inputPage(ctx, err),
    userCodeConfirmSource: (ctx: Ctx, _form: string, client: Client, _deviceInfo: unknown, userCode: string) => confirmPage(ctx, db, client, userCode),
    successSource: async (ctx: Ctx) => renderDeviceSuccess(page(ctx), ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId ?? ''),
  };
}

/** What the person typed that was not a live code (oidc-provider's re-render errors), as catalog codes. */
const INPUT_ERRORS: Record<string, keyof typeof DeviceErrors> = {
  NoCodeError: 'DEVICE_CODE_MISSING',
  NotFoundError: 'DEVICE_CODE_INVALID',
  ExpiredError: 'DEVICE_CODE_EXPIRED',
  AlreadyUsedError: 'DEVICE_CODE_USED',
};

async function inputPage(ctx: Ctx, err: (Error & { userCode?: string }) | undefined): Promise<void> {
  const form = { action: ctx.oidc.urlFor('code_verification'), xsrf: String((ctx.oidc.session?.state as { secret?: string } | undefined)?.secret ?? '') };
  if (!err) return renderDeviceCodeInput(page(ctx), form);
  // Cancel on the confirmation page, or access_denied from the interaction (Deny on consent).
  if (err.name === 'AbortedError') return renderDeviceDenied(page(ctx));
  const typed = Object.hasOwn(INPUT_ERRORS, err.name) ? DeviceErrors[INPUT_ERRORS[err.name]!] : undefined;
  if (typed) return renderDeviceCodeInput(page(ctx), { ...form, userCode: err.userCode ?? '', error: typed.message }, typed.status);
  // Not the person's typing: a stale form (xsrf), a sign-in that ended, or our own failure.
  const status = ctx.status >= 500 ? ctx.status : 400;
  const code = status >= 500 ? 'DEVICE_PAGE_FAILED' : ctx.oidc.route === 'device_resume' ? 'DEVICE_SIGN_IN_ENDED' : 'DEVICE_FORM_EXPIRED';
  renderDeviceCodeInput(page(ctx), { ...form, error: DeviceErrors[code].message }, status);
}

async function confirmPage(ctx: Ctx, db: Knex, client: Client, userCode: string): Promise<void> {
  const params = ctx.oidc.entities.DeviceCode?.params as { scope?: string } | undefined;
  const accountId = ctx.oidc.session?.accountId;
  renderDeviceCodeConfirm(page(ctx), {
    action: ctx.oidc.urlFor('code_verification'),
    xsrf: String((ctx.oidc.session?.state as { secret?: string } | undefined)?.secret ?? ''),
    userCode,
    clientName: client.clientName ?? client.clientId,
    provenance: await provenanceOf(db, client),
    scopes: String(params?.scope ?? '').split(' ').filter(Boolean),
    ...(accountId ? { account: (await findUserById(db, accountId))?.email } : {}),
  });
}

/** Who vouches for the client, as the consent page says it (interaction/prompt.ts). */
async function provenanceOf(db: Knex, client: Client): Promise<ClientProvenance> {
  if ((client as { clientIdMetadataDocument?: boolean }).clientIdMetadataDocument) return { kind: 'metadata-document', host: new URL(client.clientId).host };
  return (await findClient(db, client.clientId))?.source === 'dynamic' ? { kind: 'registered' } : { kind: 'operator' };
}

/** The user code as the device shows it (XXXX-XXXX), from its stored, normalised form. */
export function displayUserCode(normalized: string): string {
  const chars = [...normalized];
  return [...USER_CODE_MASK].map((c) => (c === '*' ? (chars.shift() ?? '') : c)).join('') + chars.join('');
}

type DeviceCode = InstanceType<Provider['DeviceCode']>;

/** A device code by its id, expired or not (as oidc-provider loads it for an interaction). */
function findDeviceCode(provider: Provider, id: string): Promise<DeviceCode | undefined> {
  const find = provider.DeviceCode.find as (id: string, o: { ignoreExpiration: boolean; ignoreSessionBinding: boolean }) => Promise<DeviceCode | undefined>;
  return find.call(provider.DeviceCode, id, { ignoreExpiration: true, ignoreSessionBinding: true });
}

/** The code of a device flow interaction (Interaction.deviceCode is the device code's id), for its consent page. */
export async function deviceUserCode(provider: Provider, deviceCodeId: string | undefined): Promise<string | undefined> {
  const code = deviceCodeId ? await findDeviceCode(provider, deviceCodeId) : undefined;
  return code ? displayUserCode(code.userCode) : undefined;
}

/** Audit (device.approved / device.denied, never a code) and readable expired codes. */
export function observeDeviceFlow(provider: Provider, c: Pick<Container, 'config' | 'db' | 'logger' | 'audit'>): void {
  keepExpiredCodesReadable(provider);
  provider.on('authorization.success', (ctx) => {
    const code = ctx.oidc.entities.DeviceCode;
    if (!DEVICE_ROUTES.has(String(ctx.oidc.route)) || !code?.accountId) return;
    c.audit.record('device.approved', {
      outcome: 'success',
      actor: { userId: code.accountId, clientId: String(code.clientId) },
      ...fromRequest(page(ctx)),
      properties: { scope: code.scope ?? '', grantId: code.grantId ?? null },
    });
  });
  // A code is marked refused (error) on the request that refuses it: the Cancel of the
  // confirmation page (the code is that request's entity), or the resume of an interaction
  // that answered access_denied (oidc-provider then loads the code by the interaction's
  // pointer; the interaction is destroyed by that resume, so it happens once).
  provider.use(async (ctx, next) => {
    await next();
    const oidc = (ctx as unknown as Partial<Ctx>).oidc;
    if (!oidc || !DEVICE_ROUTES.has(String(oidc.route))) return;
    const resumed = oidc.route === 'device_resume' ? oidc.entities?.Interaction?.deviceCode : undefined;
    const code = oidc.entities?.DeviceCode ?? (resumed ? await findDeviceCode(provider, resumed) : undefined);
    if (!code?.error) return;
    const reason = code.error !== 'access_denied' ? code.error : oidc.route === 'code_verification' ? 'user_aborted' : 'access_denied';
    c.audit.record('device.denied', {
      outcome: 'denied',
      actor: { ...(oidc.session?.accountId ? { userId: oidc.session.accountId } : {}), clientId: String(code.clientId) },
      ...fromRequest(ctx as unknown as Context),
      properties: { scope: String((code.params as { scope?: string } | undefined)?.scope ?? ''), reason },
    });
  });
}

/** Every write of a device code keeps its row EXPIRED_GRACE_S past the code's own expiry. */
function keepExpiredCodesReadable(provider: Provider): void {
  const adapter = (provider.DeviceCode as unknown as { adapter: Adapter }).adapter;
  const upsert = adapter.upsert.bind(adapter);
  adapter.upsert = (id, payload, expiresIn) => upsert(id, payload, expiresIn ? expiresIn + EXPIRED_GRACE_S : expiresIn);
}

/**
 * RFC 8628 §5.1: every POST to the verification URI (a code typed, or confirmed) costs a token
 * per address and per OpenID session, taken before the code is looked up — an empty bucket
 * answers 429 whether the code is right or wrong, so it tells a guesser nothing.
 */
export function koaDeviceCodeAttempts(provider: Provider, limits: AuthzLimits): Middleware {
  const sessionCookie = provider.cookieName('session');
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !VERIFICATION_PATH.test(ctx.path)) return next();
    const wait = await limits.check(ctx, [['device-code:ip', ctx.ip], ['device-code:session', ctx.cookies.get(sessionCookie) || undefined]]);
    if (wait > 0) return renderDeviceLimited(ctx, wait);
    return next();
  };
}

/**
 * The polling contract around oidc-provider, which implements neither: the device
 * authorization response names `interval` (RFC 8628 §3.2), and a device that polls a pending
 * code again within `interval` seconds gets `slow_down` instead of `authorization_pending`
 * (§3.5). The last poll's time lives in the shared cache (all replicas), keyed by a hash of
 * the device code; with the cache down, polls are answered as pending (token:client still bounds them).
 */
export function koaDevicePolling(c: Pick<Container, 'cache' | 'logger'>): Middleware {
  const log = c.logger.child({ component: 'device-flow' });
  return async (ctx, next) => {
    await next();
    const oidc = (ctx as unknown as Partial<Ctx>).oidc;
    if (ctx.method !== 'POST' || !oidc || !ctx.body || typeof ctx.body !== 'object') return;
    const body = ctx.body as Record<string, unknown>;
    if (oidc.route === 'device_authorization' && ctx.status === 200) {
      body.interval = POLL_INTERVAL_S;
      return;
    }
    const deviceCode = oidc.params?.device_code;
    if (oidc.route !== 'token' || body.error !== 'authorization_pending' || typeof deviceCode !== 'string') return;
    const key = `device-poll:${createHash('sha256').update(deviceCode).digest('hex')}`;
    const onTime = await c.cache.setIfAbsent(key, '1', POLL_INTERVAL_S * 1000).catch((err: Error) => {
      log.warn({ err: { type: err.name, message: err.message } }, 'slow_down not checked: cache unavailable');
      return true;
    });
    if (!onTime) ctx.body = { error: 'slow_down', error_description: `poll at most every ${POLL_INTERVAL_S} seconds` };
  };
}
