import { randomBytes } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Context, Middleware } from 'koa';
import type { Knex } from 'knex';
import type { Config } from '#shared/config/index.js';
import type { Container } from '#shared/container.js';
import type { Logger } from '#shared/logging/logger.js';
import { fromRequest } from '#shared/audit/index.js';
import { agentPolicyViolation, isRedirectField } from '../clients/agent-policy.js';
import { touchDynamicClient } from '../queries/clients.js';

/**
 * RFC 7591 dynamic registration and RFC 7592 management at /reg (docs/registration.md), under
 * the agent policy (clients/agent-policy.ts). `open`: anyone; `closed`: with the initial access
 * token (oidc-provider compares the string in constant time); `off` — or `closed` without a
 * token, which only development allows — no endpoint and no registration_endpoint in discovery.
 */
export function registrationFeatures(config: Config, _db: Knex) {
  if (!registrationEnabled(config)) return { registration: { enabled: false }, registrationManagement: { enabled: false } };
  const { mode, initialAccessToken } = config.agents.registration;
  return {
    registration: {
      enabled: true,
      initialAccessToken: mode === 'closed' ? initialAccessToken! : false,
      // Hex, as the CLI's ids: one starting with '-' would read as an option on a command line.
      idFactory: () => randomBytes(16).toString('hex'),
      issueRegistrationAccessToken: true,
    },
    // RFC 7592 read, update and delete with the registration access token; an update rotates it.
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
  };
}

function registrationEnabled(config: Config): boolean {
  const { mode, initialAccessToken } = config.agents.registration;
  return mode === 'open' || (mode === 'closed' && Boolean(initialAccessToken));
}

/** The policy in front of /reg, audit (client.registered, client.deleted) and last-use tracking. */
export function observeRegistration(provider: Provider, c: Pick<Container, 'config' | 'db' | 'logger' | 'audit'>): void {
  const log = c.logger.child({ component: 'registration' });
  const { mode } = c.config.agents.registration;
  const trackUse = lastUseTracker(c.db, log);
  provider.on('authorization.success', trackUse);
  provider.on('grant.success', trackUse);
  if (!registrationEnabled(c.config)) {
    if (mode === 'closed') log.warn('REGISTRATION_MODE=closed without REGISTRATION_INITIAL_ACCESS_TOKEN: dynamic registration is off');
    return;
  }
  provider.use(agentPolicyGate(c.config.agents.scopes, log));
  provider.on('registration_create.success', (ctx, client) => {
    c.audit.record('client.registered', {
      outcome: 'success',
      actor: { clientId: client.clientId },
      subject: { type: 'client', id: client.clientId },
      ...fromRequest(ctx as unknown as Context),
      properties: { authMethod: client.tokenEndpointAuthMethod, redirectUriCount: client.redirectUris?.length ?? 0, scope: client.scope ?? null, mode },
    });
  });
  provider.on('registration_delete.success', (ctx, client) => {
    c.audit.record('client.deleted', { outcome: 'success', actor: { clientId: client.clientId }, subject: { type: 'client', id: client.clientId }, ...fromRequest(ctx as unknown as Context), properties: { reason: 'self' } });
  });
}

// oidc-provider's own limit for a JSON body (lib/shared/selective_body.js).
const BODY_LIMIT = 56 * 1024;

/**
 * Where the policy runs: a middleware in front of oidc-provider's POST /reg and PUT /reg/:id,
 * reading the JSON body itself. oidc-provider has no better place: `registration.policies` only
 * exist with adapter-backed initial access tokens (never in open mode, lib/helpers/configuration.js)
 * and `extraClientMetadata` validates every client load (operators' clients too) after defaults
 * were applied (an absent method already reads client_secret_basic, a client_secret of a public
 * client is silently dropped). The body goes on as a string on `ctx.request.body`, which
 * oidc-provider parses as it would have (it logs once per process that a body was pre-read).
 * The policy answers before the initial or registration access token is checked: it tells a
 * stranger nothing docs/registration.md does not.
 */
function agentPolicyGate(scopes: readonly string[], log: Logger): Middleware {
  return async (ctx, next) => {
    const route = writeRoute(ctx);
    if (!route) return next();
    let body: Record<string, unknown> = {};
    if (ctx.is('application/json')) {
      let text: string;
      try {
        text = await readBody(ctx);
      } catch {
        return refuse(ctx, 'invalid_request', 'failed to parse the request body');
      }
      (ctx.request as { body?: unknown }).body = text;
      const parsed = parseObject(text);
      if (!parsed) return next(); // oidc-provider answers invalid_request, as for any bad body
      body = parsed;
    } else if (ctx.get('content-type')) {
      return next(); // oidc-provider refuses other content types
    }
    const v = agentPolicyViolation(body, { kind: 'registered', scopes });
    if (v) {
      log.info({ route, field: v.field, requestId: ctx.state.requestId }, 'registration refused by the agent policy');
      return refuse(ctx, isRedirectField(v.field) ? 'invalid_redirect_uri' : 'invalid_client_metadata', v.message);
    }
    (ctx.request as { body?: unknown }).body = JSON.stringify(withDefaults(body, scopes));
    return next();
  };
}

/** oidc-provider's router folds case and ignores one trailing slash: so does this match. */
function writeRoute(ctx: Context): 'create' | 'update' | undefined {
  const path = ctx.path.toLowerCase().replace(/(.)\/$/, '$1');
  if (ctx.method === 'POST' && path === '/reg') return 'create';
  if (ctx.method === 'PUT' && /^\/reg\/[^/]+$/.test(path)) return 'update';
  return undefined;
}

async function readBody(ctx: Context): Promise<string> {
  const length = ctx.request.length;
  if (length !== undefined && length > BODY_LIMIT) throw new Error('request entity too large');
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of ctx.req) {
    received += (chunk as Buffer).length;
    if (received > BODY_LIMIT) throw new Error('request entity too large');
    chunks.push(chunk as Buffer);
  }
  return new TextDecoder(ctx.request.charset || 'utf-8', { fatal: true }).decode(Buffer.concat(chunks));
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 7591 §3.2.2 error response. */
function refuse(ctx: Context, error: string, description: string): void {
  ctx.status = 400;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error, error_description: description };
}

const LOOPBACK_HTTP = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(:\d+)?(\/|$)/i;

/**
 * Without `scope` a registered client gets the agent scopes (otherwise oidc-provider would let
 * it ask for any). A loopback or private-use redirect URI belongs to a native app (RFC 8252):
 * application_type native unless the client said otherwise (the policy refuses web + http).
 */
function withDefaults(body: Record<string, unknown>, scopes: readonly string[]): Record<string, unknown> {
  const out = { ...body };
  if (out.scope === undefined) out.scope = scopes.join(' ');
  const uris = (out.redirect_uris as unknown[]).map(String);
  if (out.application_type === undefined && uris.some((u) => LOOPBACK_HTTP.test(u) || !/^https?:/i.test(u))) out.application_type = 'native';
  return out;
}

const HOUR_MS = 3_600_000;
const TRACKED_MAX = 10_000;

/**
 * last_used_at of dynamic clients (the purge's clock), written at most hourly per client: this
 * process remembers when it last wrote (or found nothing to write) and the UPDATE itself only
 * matches a dynamic client not touched within the hour, so replicas add at most one write each.
 */
function lastUseTracker(db: Knex, log: Logger) {
  const recent = new Map<string, number>();
  return (ctx: KoaContextWithOIDC) => {
    const clientId = ctx.oidc?.client?.clientId;
    if (!clientId) return;
    const now = Date.now();
    const seen = recent.get(clientId);
    if (seen !== undefined && now - seen < HOUR_MS) return;
    recent.delete(clientId);
    if (recent.size >= TRACKED_MAX) recent.delete(recent.keys().next().value!);
    recent.set(clientId, now);
    touchDynamicClient(db, clientId, now, HOUR_MS).catch((err: Error) => {
      recent.delete(clientId);
      log.warn({ err: { type: err.name, message: err.message } }, 'could not record client use');
    });
  };
}
