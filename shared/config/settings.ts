import { z } from 'zod';
import { ALL_SCOPES, DEFAULT_AGENT_SCOPES } from '../oauth/scopes.js';

/**
 * Every setting Portcullis reads, as environment variable names. This table is the single
 * source for parsing (zod), for documentation (docs/config.md is checked against it by a
 * test) and for the docker-compose check. Values arrive as strings; empty means unset.
 */
export interface Setting<S extends z.ZodType = z.ZodType> {
  schema: S;
  /** What the default is, as documented ("—" when there is none). */
  default: string;
  /** Never printed, never logged; accepted from AWS Secrets Manager. */
  secret: boolean;
  /** `true`: production refuses to start without it. A string: required in production under that condition. */
  production: boolean | string;
  doc: string;
}

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+$/, { message: 'expected a whole number' }) // decimal only: no 0x10 or 1e3
    .transform(Number)
    .pipe(
      z
        .number({ message: 'expected a whole number' })
        .int({ message: 'expected a whole number' })
        .min(min, { message: `must be at least ${min}` })
        .max(max, { message: `must be at most ${max}` }),
    );
const port = int(0, 65535);
const httpUrl = z
  .string()
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), { message: 'expected an http(s) URL' });
const list = z.string().transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));
const originList = list.pipe(
  z
    .array(z.string().refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), { message: 'each entry must be an http(s) origin' }))
    .min(1, { message: 'needs at least one origin' }),
);
const secretString = (min: number) =>
  z.string().min(min, { message: `must be at least ${min} characters` });

function setting<S extends z.ZodType>(
  schema: S,
  doc: string,
  opts: { default?: string; secret?: boolean; production?: boolean | string } = {},
): Setting<S> {
  return { schema, doc, default: opts.default ?? '—', secret: opts.secret ?? false, production: opts.production ?? false };
}

export const settings = {
  NODE_ENV: setting(z.enum(['development', 'test', 'production']), 'Run mode. `production` turns on every fail-closed check.', { default: 'development' }),
  LOG_LEVEL: setting(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'pino log level.', { default: 'info' }),
  HOST: setting(z.string().min(1), 'Interface both services bind to (`0.0.0.0` in containers).', { default: '127.0.0.1' }),
  AUTHZ_PORT: setting(port, 'Port of the authorization server.', { default: '4000' }),
  API_PORT: setting(port, 'Port of the resource API.', { default: '4001' }),
  ISSUER_URL: setting(httpUrl, 'Public URL of the authorization server: the OIDC issuer. https in production (http only for a loopback host).', { default: 'http://localhost:$AUTHZ_PORT', production: true }),
  AUTHZ_INTERNAL_URL: setting(httpUrl, 'Where the resource API reaches the authorization server for its JWKS (e.g. `http://authz-server:4000` inside a compose network).', { default: '$ISSUER_URL' }),
  API_AUDIENCE: setting(httpUrl, 'Public URL of the resource API, also its resource identifier (`aud` of access tokens).', { default: 'http://localhost:$API_PORT', production: true }),
  FRONTEND_URL: setting(originList, 'Comma-separated origins of the marketplace UI: the CORS allow-list and the default returnUrl allow-list.', { default: 'http://localhost:3000' }),
  DEMO_UI: setting(bool, 'Development only: `npm start` also serves the example marketplace UI (examples/marketplace-ui) on the first `FRONTEND_URL` origin. Ignored in production.', { default: 'true' }),
  TRUST_PROXY: setting(bool, 'Honour `X-Forwarded-*` headers; the client address is the last `X-Forwarded-For` hop (the one your proxy appends). Only behind a proxy you control.', { default: 'false' }),
  TRUST_REQUEST_ID: setting(bool, 'Accept the incoming `X-Request-Id` (from a trusted proxy) instead of always generating one.', { default: 'false' }),
  DATA_DIR: setting(z.string().min(1), 'Folder for the embedded SQLite database and development-generated secrets.', { default: './data' }),
  DATABASE_URL: setting(z.string().regex(/^postgres(ql)?:\/\//, { message: 'expected a postgres:// URL' }), 'PostgreSQL connection URL. Unset: SQLite file in `DATA_DIR`.', { secret: true, production: true }),
  DB_POOL_MIN: setting(int(0, 100), 'Minimum PostgreSQL pool size.', { default: '0' }),
  DB_POOL_MAX: setting(int(1, 200), 'Maximum PostgreSQL pool size.', { default: '10' }),
  DB_ACQUIRE_TIMEOUT_MS: setting(int(100, 120000), 'How long a query waits for a pool connection before failing with 503.', { default: '5000' }),
  DB_STATEMENT_TIMEOUT_MS: setting(int(0, 600000), 'PostgreSQL `statement_timeout` per connection (0 = none).', { default: '10000' }),
  DB_MIGRATE_ON_START: setting(bool, 'Run pending migrations when a service starts.', { default: 'true (false in production)' }),
  REDIS_URL: setting(z.string().regex(/^rediss?:\/\//, { message: 'expected a redis:// or rediss:// URL' }), 'Redis URL for cache, rate limits and revocation signals. Unset: in-process store (single instance only).', { secret: true }),
  REDIS_KEY_PREFIX: setting(z.string().max(64), 'Prefix of every Redis key.', { default: 'portcullis:' }),
  REDIS_COMMAND_TIMEOUT_MS: setting(int(10, 60000), 'A Redis command that takes longer fails with `CACHE_UNAVAILABLE`.', { default: '1000' }),
  REDIS_CONNECT_TIMEOUT_MS: setting(int(10, 60000), 'Redis connect timeout.', { default: '2000' }),
  BUS_CACHE_MAX_AGE_S: setting(int(0, 3600), 'With Redis: how long a replica may serve a cached role, ban state or entitlement list (API), client metadata or account (authorization server) that the change bus keeps current — the bound if a change is never announced. `0`: no caching (every request reads the database).', { default: '60' }),
  BUS_STREAM_MAX_LENGTH: setting(int(1000, 10000000), 'Changes kept in the bus stream (approximately): a replica cut off for fewer changes than this catches up; beyond, it resets its caches.', { default: '100000' }),
  AUTH_SECRET: setting(secretString(32), 'Secret for better-auth sessions and tokens (≥ 32 characters).', { default: 'generated in development', secret: true, production: true }),
  COOKIE_KEYS: setting(list.pipe(z.array(secretString(32)).min(1, { message: 'needs at least one key' })), 'Comma-separated cookie signing keys, newest first (each ≥ 32 characters).', { default: 'generated in development', secret: true, production: true }),
  SIGNING_KEYS: setting(z.string(), 'Private JWKS (JSON `{"keys":[…]}`) for ID and access tokens; RS256 and ES256, unique `kid`s.', { default: 'generated in development', secret: true, production: true }),
  AUTH_CODE_TTL_S: setting(int(10, 600), 'Authorization code lifetime (single use).', { default: '60' }),
  ACCESS_TOKEN_TTL_S: setting(int(60, 86400), 'Access token (JWT) lifetime.', { default: '600' }),
  ID_TOKEN_TTL_S: setting(int(60, 86400), 'ID token lifetime.', { default: '3600' }),
  REFRESH_TOKEN_IDLE_TTL_S: setting(int(60, 31536000), 'Refresh token idle lifetime (each rotation restarts it).', { default: '1209600' }),
  REFRESH_TOKEN_ABSOLUTE_TTL_S: setting(int(60, 31536000), 'Refresh token absolute lifetime of a grant.', { default: '2592000' }),
  REFRESH_RETRY_WINDOW_S: setting(int(0, 60), 'A refresh token presented again this many seconds after its rotation, by the same client (and DPoP key) while its successor is unused, counts as a retry of a lost answer: a new successor replaces the unreceived one. Any other reuse revokes the grant. `0`: every reuse revokes. Rules: docs/oauth.md.', { default: '5' }),
  API_TOKEN_SIGNING_ALG: setting(z.enum(['ES256', 'RS256'], { message: 'expected ES256 or RS256' }), 'Signature algorithm of the access tokens (JWT) for the API and its `/mcp` endpoint. `ES256` needs an active ES256 key in `SIGNING_KEYS` (the authz-server refuses to start without one). ID tokens stay RS256 unless a client registered another.', { default: 'ES256' }),
  DEVICE_CODE_TTL_S: setting(int(10, 1800), 'Device authorization grant (RFC 8628): how long a device code and its user code live.', { default: '600' }),
  SESSION_TTL_S: setting(int(60, 2592000), 'Absolute lifetime of a sign-in session.', { default: '43200' }),
  SESSION_IDLE_TTL_S: setting(int(60, 2592000), 'Idle lifetime of a sign-in session (sliding).', { default: '3600' }),
  BODY_LIMIT_BYTES: setting(int(1024, 10485760), 'Largest accepted request body.', { default: '102400' }),
  SHUTDOWN_TIMEOUT_MS: setting(int(100, 120000), 'How long graceful shutdown waits for in-flight requests.', { default: '10000' }),
  STRIPE_SECRET_KEY: setting(z.string().regex(/^(sk|rk)_/, { message: 'expected a Stripe secret key (sk_… or rk_…)' }), 'Stripe API key. Unset: billing answers 503 `BILLING_NOT_CONFIGURED`.', { secret: true }),
  STRIPE_WEBHOOK_SECRET: setting(z.string().regex(/^whsec_/, { message: 'expected a webhook signing secret (whsec_…)' }), 'Stripe webhook signing secret. Without it no webhook is processed.', { secret: true, production: 'when STRIPE_SECRET_KEY is set' }),
  STRIPE_API_URL: setting(httpUrl, 'Override of the Stripe API base URL (tests, stripe-mock).', {}),
  STRIPE_WEBHOOK_WORKER: setting(bool, 'Run the Stripe event worker in this resource-api process: it applies the events the webhook stored (queue rules: docs/operations.md). At least one process sharing the database must run it.', { default: 'true' }),
  STRIPE_WEBHOOK_CONCURRENCY: setting(int(1, 64), 'Transactions a Stripe event worker runs at once, each applying up to 16 events of different customers (one database connection each).', { default: '4' }),
  STRIPE_WEBHOOK_POLL_MS: setting(int(50, 60000), 'How often an idle worker looks for Stripe events stored by another process or due for a retry (an event stored by its own process wakes it at once).', { default: '1000' }),
  STRIPE_WEBHOOK_LEASE_MS: setting(int(500, 3600000), 'How long a claimed Stripe event stays with its worker before another worker may take it over (a worker that died while applying it).', { default: '30000' }),
  STRIPE_WEBHOOK_MAX_ATTEMPTS: setting(int(1, 100), 'Attempts at applying a Stripe event before it is dead-lettered (`dead`: listed by `webhooks:list`, counted in /metrics, retried by `webhooks:retry`).', { default: '8' }),
  STRIPE_WEBHOOK_RETRY_BASE_MS: setting(int(10, 3600000), 'Back-off after a failed attempt at a Stripe event: this long after the first, doubling after each further one (at most an hour).', { default: '1000' }),
  POSTHOG_API_KEY: setting(z.string().min(1), 'PostHog project key. Unset: audit goes to the `audit_log` table only.', { secret: true }),
  METRICS_TOKEN: setting(secretString(16), 'Bearer token for GET /metrics. Unset: /metrics is open in development and off (404) in production.', { secret: true }),
  AUDIT_RETENTION_DAYS: setting(int(1, 3650), 'How long audit_log and stripe_events rows are kept before the hourly purge deletes them.', { default: '365' }),
  POSTHOG_HOST: setting(httpUrl, 'PostHog host.', { default: 'https://us.i.posthog.com' }),
  POSTHOG_MAX_QUEUE: setting(int(20, 100000), 'Audit events held for PostHog while it is slow or down; beyond this the oldest are dropped (counted in /metrics).', { default: '1000' }),
  SMTP_URL: setting(z.string().regex(/^smtps?:\/\//, { message: 'expected an smtp:// or smtps:// URL' }), 'SMTP server for mail. Unset: development outbox in `DATA_DIR`; production refuses to start without it unless `MAIL_DISABLED=true`.', { secret: true, production: 'unless MAIL_DISABLED=true' }),
  MAIL_DISABLED: setting(bool, 'Run without mail: verification and password-reset mails are dropped (logged by kind). The explicit alternative to `SMTP_URL` in production.', { default: 'false' }),
  MAIL_FROM: setting(z.string().min(3), 'Sender address of outgoing mail.', { default: 'Portcullis <no-reply@localhost>' }),
  RATE_LIMIT_MULTIPLIER: setting(int(1, 1000000), 'Multiplies every rate-limit bucket (capacity and refill), e.g. for load tests. Rules: docs/auth.md.', { default: '1' }),
  MODERATION_URL: setting(httpUrl, 'External review moderation service called before every review is stored. Unset: no moderation (pass-through).', {}),
  MODERATION_TIMEOUT_MS: setting(int(50, 30000), 'Budget for one moderation call.', { default: '2000' }),
  MODERATION_FAIL_OPEN: setting(bool, 'Store reviews when the moderation service cannot answer (default: refuse them).', { default: 'false' }),
  AGENT_SCOPES: setting(
    list.pipe(z.array(z.string().refine((s) => ALL_SCOPES.includes(s), { error: (i) => `unknown scope "${String(i.input)}"` })).min(1, { message: 'needs at least one scope' })),
    'Comma-separated scopes a self-registered client (RFC 7591) or a client ID metadata document client may hold; a registration asking for another is refused. Rules: docs/agents.md.',
    { default: DEFAULT_AGENT_SCOPES.join(',') },
  ),
  REGISTRATION_MODE: setting(z.enum(['open', 'closed', 'off']), 'Dynamic client registration (RFC 7591) at `POST /reg`: `open` to public clients under the agent policy, `closed` (needs `REGISTRATION_INITIAL_ACCESS_TOKEN`), or `off`.', { default: 'open' }),
  REGISTRATION_INITIAL_ACCESS_TOKEN: setting(secretString(32), 'The initial access token `POST /reg` requires when `REGISTRATION_MODE=closed` (≥ 32 characters).', { secret: true, production: 'when REGISTRATION_MODE=closed' }),
  DYNAMIC_CLIENT_UNUSED_DAYS: setting(int(1, 3650), 'A self-registered client that has not been used for this many days is deleted by the hourly purge.', { default: '30' }),
  CLIENT_METADATA_DOCUMENTS: setting(bool, 'Accept an https URL as `client_id` and fetch its client ID metadata document (what MCP clients use).', { default: 'true' }),
  CLIENT_METADATA_ALLOW_LOOPBACK: setting(bool, 'Tests only: let client ID metadata documents live on a loopback address (every other private range stays refused). Refused in production.', { default: 'false' }),
  SECRETS_MANAGER_SECRET_ID: setting(z.string().min(1), 'AWS Secrets Manager secret (name or ARN) whose JSON fills unset settings at boot.', {}),
  SECRETS_MANAGER_ENDPOINT: setting(httpUrl, 'Secrets Manager endpoint override (tests, VPC endpoints).', {}),
  AWS_REGION: setting(z.string().regex(/^[a-z0-9-]+$/, { message: 'expected an AWS region name' }), 'Region for Secrets Manager (else the SDK\'s standard chain).', {}),
} satisfies Record<string, Setting>;

export type SettingName = keyof typeof settings;
export const settingNames = Object.keys(settings) as SettingName[];
export const secretSettingNames = settingNames.filter((n) => settings[n].secret);

/** What a setting parses to: the `Config` leaves are these types. */
export type SettingValue<K extends SettingName> = z.output<(typeof settings)[K]['schema']>;

/**
 * The runtime default of every setting whose documented default is a value, parsed by the
 * setting's own schema — one place for defaults (docs/config.md shows the same strings). A
 * documented default that is a rule ("$ISSUER_URL", "generated in development", "true (false in
 * production)") has no entry here: the loader computes it where the rule says.
 */
export const settingDefaults: { readonly [K in SettingName]?: SettingValue<K> } = Object.fromEntries(
  settingNames.flatMap((name) => {
    const d = settings[name].default;
    if (d === '—' || d.includes('$') || d.includes(' (') || d.startsWith('generated')) return [];
    const r = settings[name].schema.safeParse(d);
    if (!r.success) throw new Error(`the documented default of ${name} (${d}) does not parse: ${r.error.issues[0]?.message}`);
    return [[name, r.data]];
  }),
);
