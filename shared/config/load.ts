import path from 'node:path';
import type { SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { ConfigError, type ConfigProblem } from './errors.js';
import { settingDefaults, settings, settingNames, secretSettingNames, type SettingName, type SettingValue } from './settings.js';
import { fetchSecretSettings } from './secrets-manager.js';
import { DEV_SECRETS_FILE, loadOrCreateDevSecrets, type DevSecretName } from './dev-secrets.js';
import { parseSigningKeys } from './signing-keys.js';
import type { Config, NodeEnv } from './types.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface LoadOptions {
  /** Tests only: credentials for the Secrets Manager client. */
  secretsManagerCredentials?: SecretsManagerClientConfig['credentials'];
}

export interface LoadedConfig {
  config: Config;
  /** Things worth logging at boot (names only, never values). */
  notices: string[];
}

const GENERATED: readonly DevSecretName[] = ['AUTH_SECRET', 'COOKIE_KEYS', 'SIGNING_KEYS'];

/**
 * Reads every setting once at boot. Precedence: explicit environment, then the AWS Secrets
 * Manager secret (when SECRETS_MANAGER_SECRET_ID is set), then defaults; in development,
 * missing secrets are generated and persisted under DATA_DIR. Throws ConfigError naming
 * every bad key; no value of a secret ever appears in the message.
 */
export async function loadConfig(env: Env, options: LoadOptions = {}): Promise<LoadedConfig> {
  const notices: string[] = [];
  const raw: Partial<Record<SettingName, string>> = {};
  for (const name of settingNames) {
    const v = env[name];
    if (v !== undefined && v.trim() !== '') raw[name] = v.trim();
  }

  const fromSecretsManager: string[] = [];
  // The settings that say where the secret lives are checked before it is fetched.
  const locators = (['SECRETS_MANAGER_ENDPOINT', 'AWS_REGION'] as const).flatMap((key) => {
    const r = raw[key] === undefined ? undefined : settings[key].schema.safeParse(raw[key]);
    return r && !r.success ? [{ key, message: r.error.issues[0]?.message ?? 'invalid value' }] : [];
  });
  if (locators.length > 0) throw new ConfigError(locators);
  if (raw.SECRETS_MANAGER_SECRET_ID) {
    const fetched = await fetchSecretSettings({
      secretId: raw.SECRETS_MANAGER_SECRET_ID,
      region: raw.AWS_REGION,
      endpoint: raw.SECRETS_MANAGER_ENDPOINT,
      credentials: options.secretsManagerCredentials,
    });
    for (const [k, v] of Object.entries(fetched)) {
      if (!Object.hasOwn(settings, k)) {
        notices.push(`Secrets Manager field ${k} is not a Portcullis setting and was ignored`);
      } else if (raw[k as SettingName] === undefined && v.trim() !== '') {
        raw[k as SettingName] = v.trim();
        fromSecretsManager.push(k);
      }
    }
  }

  const problems: ConfigProblem[] = [];
  const parsed: Partial<Record<SettingName, unknown>> = {};
  for (const name of settingNames) {
    const value = raw[name];
    if (value === undefined) continue;
    const r = settings[name].schema.safeParse(value);
    if (r.success) parsed[name] = r.data;
    else problems.push({ key: name, message: r.error.issues[0]?.message ?? 'invalid value' });
  }

  const nodeEnv = (parsed.NODE_ENV as NodeEnv | undefined) ?? 'development';
  const isProduction = nodeEnv === 'production';
  if (isProduction) {
    for (const name of settingNames) {
      if (settings[name].production === true && raw[name] === undefined) {
        problems.push({ key: name, message: 'is required in production' });
      }
    }
    // Production mail goes out by SMTP, or is switched off on purpose: never silently into a file.
    if (!raw.SMTP_URL && parsed.MAIL_DISABLED !== true) {
      problems.push({ key: 'SMTP_URL', message: 'is required in production (or set MAIL_DISABLED=true to run without mail)' });
    }
    if (raw.STRIPE_SECRET_KEY && !raw.STRIPE_WEBHOOK_SECRET) {
      problems.push({ key: 'STRIPE_WEBHOOK_SECRET', message: 'is required in production when STRIPE_SECRET_KEY is set' });
    }
    if (parsed.CLIENT_METADATA_ALLOW_LOOPBACK === true) {
      problems.push({ key: 'CLIENT_METADATA_ALLOW_LOOPBACK', message: 'must not be set in production (client metadata documents are fetched from public addresses only)' });
    }
    if (parsed.REGISTRATION_MODE === 'closed' && !raw.REGISTRATION_INITIAL_ACCESS_TOKEN) {
      problems.push({ key: 'REGISTRATION_INITIAL_ACCESS_TOKEN', message: 'is required in production when REGISTRATION_MODE=closed' });
    }
    for (const key of ['ISSUER_URL', 'API_AUDIENCE'] as const) {
      const url = parsed[key] as string | undefined;
      if (url && !isHttpsOrLoopback(url)) problems.push({ key, message: 'must use https in production' });
    }
  }
  for (const [low, high] of [
    ['DB_POOL_MIN', 'DB_POOL_MAX'],
    ['REFRESH_TOKEN_IDLE_TTL_S', 'REFRESH_TOKEN_ABSOLUTE_TTL_S'],
    ['SESSION_IDLE_TTL_S', 'SESSION_TTL_S'],
  ] as const) {
    const a = (parsed[low] as number | undefined) ?? Number(settings[low].default);
    const b = (parsed[high] as number | undefined) ?? Number(settings[high].default);
    if (a > b) problems.push({ key: low, message: `must not exceed ${high}` });
  }
  if (raw.SIGNING_KEYS) {
    const keys = parseSigningKeys(raw.SIGNING_KEYS);
    if ('error' in keys) problems.push({ key: 'SIGNING_KEYS', message: keys.error });
    else parsed.SIGNING_KEYS = keys;
  }
  if (problems.length > 0) throw new ConfigError(scrub(problems, raw));

  const dataDir = path.resolve((parsed.DATA_DIR as string | undefined) ?? './data');
  const generated: string[] = [];
  const missing = GENERATED.filter((n) => raw[n] === undefined);
  if (missing.length > 0) {
    // Production never reaches here: the checks above made these required.
    const dev = await loadOrCreateDevSecrets(dataDir, missing);
    for (const name of missing) {
      const value = typeof dev[name] === 'string' ? dev[name] : '';
      if (name === 'SIGNING_KEYS') {
        const keys = parseSigningKeys(value);
        if ('error' in keys) problems.push({ key: name, message: `in ${DEV_SECRETS_FILE}: ${keys.error}` });
        else parsed[name] = keys;
      } else {
        const r = settings[name].schema.safeParse(value);
        if (r.success) parsed[name] = r.data;
        else problems.push({ key: name, message: `in ${DEV_SECRETS_FILE}: ${r.error.issues[0]?.message ?? 'invalid value'}` });
      }
      generated.push(name);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    notices.push(`development secrets in use for ${missing.join(', ')} (generated, kept in ${dataDir})`);
  }

  return { config: deepFreeze(build(parsed, { nodeEnv, dataDir, generated, fromSecretsManager })), notices };
}

function build(
  p: Partial<Record<SettingName, unknown>>,
  meta: { nodeEnv: NodeEnv; dataDir: string; generated: string[]; fromSecretsManager: string[] },
): Config {
  // A set value, else the setting's documented default (settings.ts is the one place for it).
  const get = <K extends SettingName>(name: K): SettingValue<K> => {
    if (p[name] !== undefined) return p[name] as SettingValue<K>;
    if (!Object.hasOwn(settingDefaults, name)) throw new Error(`setting ${name} has no default value`);
    return settingDefaults[name] as SettingValue<K>;
  };
  const opt = <K extends SettingName>(name: K): SettingValue<K> | undefined => p[name] as SettingValue<K> | undefined;
  const isProduction = meta.nodeEnv === 'production';
  const authzPort = get('AUTHZ_PORT');
  const apiPort = get('API_PORT');
  const migrateOnStart = opt('DB_MIGRATE_ON_START') ?? !isProduction;
  const acquireTimeoutMs = get('DB_ACQUIRE_TIMEOUT_MS');
  const databaseUrl = opt('DATABASE_URL');
  const redisUrl = opt('REDIS_URL');
  const posthogKey = opt('POSTHOG_API_KEY');

  return {
    env: meta.nodeEnv,
    isProduction,
    logLevel: get('LOG_LEVEL'),
    host: get('HOST'),
    dataDir: meta.dataDir,
    authz: {
      port: authzPort,
      issuer: stripSlash(opt('ISSUER_URL') ?? `http://localhost:${authzPort}`),
      internalUrl: stripSlash(opt('AUTHZ_INTERNAL_URL') ?? opt('ISSUER_URL') ?? `http://localhost:${authzPort}`),
    },
    api: { port: apiPort, audience: stripSlash(opt('API_AUDIENCE') ?? `http://localhost:${apiPort}`) },
    frontendOrigins: get('FRONTEND_URL').map((u) => originOf(u)),
    demoUi: !isProduction && get('DEMO_UI'),
    http: {
      trustProxy: get('TRUST_PROXY'),
      trustRequestId: get('TRUST_REQUEST_ID'),
      bodyLimitBytes: get('BODY_LIMIT_BYTES'),
      shutdownTimeoutMs: get('SHUTDOWN_TIMEOUT_MS'),
    },
    db: databaseUrl
      ? {
          client: 'pg',
          url: databaseUrl,
          pool: { min: get('DB_POOL_MIN'), max: get('DB_POOL_MAX') },
          acquireTimeoutMs,
          statementTimeoutMs: get('DB_STATEMENT_TIMEOUT_MS'),
          migrateOnStart,
        }
      : { client: 'sqlite', filename: path.join(meta.dataDir, 'portcullis.sqlite'), acquireTimeoutMs, migrateOnStart },
    cache: redisUrl
      ? {
          backend: 'redis',
          url: redisUrl,
          keyPrefix: get('REDIS_KEY_PREFIX'),
          commandTimeoutMs: get('REDIS_COMMAND_TIMEOUT_MS'),
          connectTimeoutMs: get('REDIS_CONNECT_TIMEOUT_MS'),
        }
      : { backend: 'memory' },
    bus: { cacheMaxAgeMs: get('BUS_CACHE_MAX_AGE_S') * 1000, streamMaxLength: get('BUS_STREAM_MAX_LENGTH') },
    secrets: {
      authSecret: p.AUTH_SECRET as string,
      cookieKeys: opt('COOKIE_KEYS')!,
      signingKeys: p.SIGNING_KEYS as Config['secrets']['signingKeys'],
    },
    tokens: {
      authCodeTtlS: get('AUTH_CODE_TTL_S'),
      accessTokenTtlS: get('ACCESS_TOKEN_TTL_S'),
      idTokenTtlS: get('ID_TOKEN_TTL_S'),
      refreshIdleTtlS: get('REFRESH_TOKEN_IDLE_TTL_S'),
      refreshAbsoluteTtlS: get('REFRESH_TOKEN_ABSOLUTE_TTL_S'),
      deviceCodeTtlS: get('DEVICE_CODE_TTL_S'),
      refreshRetryWindowS: get('REFRESH_RETRY_WINDOW_S'),
      apiTokenSigningAlg: get('API_TOKEN_SIGNING_ALG'),
    },
    session: { ttlS: get('SESSION_TTL_S'), idleTtlS: get('SESSION_IDLE_TTL_S') },
    stripe: {
      secretKey: opt('STRIPE_SECRET_KEY'),
      webhookSecret: opt('STRIPE_WEBHOOK_SECRET'),
      apiUrl: opt('STRIPE_API_URL'),
    },
    webhooks: {
      worker: get('STRIPE_WEBHOOK_WORKER'),
      concurrency: get('STRIPE_WEBHOOK_CONCURRENCY'),
      pollMs: get('STRIPE_WEBHOOK_POLL_MS'),
      leaseMs: get('STRIPE_WEBHOOK_LEASE_MS'),
      maxAttempts: get('STRIPE_WEBHOOK_MAX_ATTEMPTS'),
      retryBaseMs: get('STRIPE_WEBHOOK_RETRY_BASE_MS'),
    },
    posthog: posthogKey ? { apiKey: posthogKey, host: get('POSTHOG_HOST'), maxQueueSize: get('POSTHOG_MAX_QUEUE') } : undefined,
    mail: { smtpUrl: opt('SMTP_URL'), from: get('MAIL_FROM'), disabled: get('MAIL_DISABLED') },
    rateLimitMultiplier: get('RATE_LIMIT_MULTIPLIER'),
    agents: {
      scopes: get('AGENT_SCOPES'),
      registration: {
        mode: get('REGISTRATION_MODE'),
        initialAccessToken: opt('REGISTRATION_INITIAL_ACCESS_TOKEN'),
        unusedDays: get('DYNAMIC_CLIENT_UNUSED_DAYS'),
      },
      metadataDocuments: { enabled: get('CLIENT_METADATA_DOCUMENTS'), allowLoopback: get('CLIENT_METADATA_ALLOW_LOOPBACK') },
    },
    audit: { retentionDays: get('AUDIT_RETENTION_DAYS') },
    metricsToken: opt('METRICS_TOKEN'),
    moderation: { url: opt('MODERATION_URL'), timeoutMs: get('MODERATION_TIMEOUT_MS'), failOpen: get('MODERATION_FAIL_OPEN') },
    provenance: { generated: meta.generated, fromSecretsManager: meta.fromSecretsManager },
  };
}

function isHttpsOrLoopback(url: string): boolean {
  const u = new URL(url);
  return u.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
}

function stripSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}

function originOf(url: string): string {
  return URL.canParse(url) ? new URL(url).origin : url;
}

/** Belt and braces: no secret value may survive into a message, whatever a validator wrote. */
function scrub(problems: ConfigProblem[], raw: Partial<Record<SettingName, string>>): ConfigProblem[] {
  const values = secretSettingNames.map((n) => raw[n]).filter((v): v is string => !!v && v.length >= 4);
  return problems.map((p) => ({
    key: p.key,
    message: values.reduce((m, v) => m.split(v).join('[redacted]'), p.message),
  }));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
