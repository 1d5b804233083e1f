import type { JWK } from 'jose';

import type { SettingValue } from './settings.js';

// The leaves' types come from the settings table (settings.ts): one source for names, types and defaults.
export type NodeEnv = SettingValue<'NODE_ENV'>;
export type LogLevel = SettingValue<'LOG_LEVEL'>;

/** The parsed, frozen configuration passed down from boot. Never log it whole. */
export interface Config {
  env: NodeEnv;
  isProduction: boolean;
  logLevel: LogLevel;
  host: string;
  dataDir: string;
  authz: { port: number; issuer: string; internalUrl: string };
  api: { port: number; audience: string };
  frontendOrigins: readonly string[];
  /** `npm start` also serves examples/marketplace-ui (development only). */
  demoUi: boolean;
  http: { trustProxy: boolean; trustRequestId: boolean; bodyLimitBytes: number; shutdownTimeoutMs: number };
  db:
    | { client: 'sqlite'; filename: string; acquireTimeoutMs: number; migrateOnStart: boolean }
    | {
        client: 'pg';
        url: string;
        pool: { min: number; max: number };
        acquireTimeoutMs: number;
        statementTimeoutMs: number;
        migrateOnStart: boolean;
      };
  cache:
    | { backend: 'memory' }
    | { backend: 'redis'; url: string; keyPrefix: string; commandTimeoutMs: number; connectTimeoutMs: number };
  /** The change bus (shared/bus): how long bus-invalidated caches may keep an entry, stream length. */
  bus: { cacheMaxAgeMs: number; streamMaxLength: number };
  secrets: { authSecret: string; cookieKeys: readonly string[]; signingKeys: { keys: readonly JWK[] } };
  tokens: {
    authCodeTtlS: number;
    accessTokenTtlS: number;
    idTokenTtlS: number;
    refreshIdleTtlS: number;
    refreshAbsoluteTtlS: number;
    deviceCodeTtlS: number;
    /** 0: no retry window (every reuse of a rotated refresh token revokes the grant). */
    refreshRetryWindowS: number;
    apiTokenSigningAlg: SettingValue<'API_TOKEN_SIGNING_ALG'>;
  };
  session: { ttlS: number; idleTtlS: number };
  stripe: { secretKey: string | undefined; webhookSecret: string | undefined; apiUrl: string | undefined };
  /** The Stripe event queue's worker (resource-api/features/billing/webhook/worker.ts). */
  webhooks: { worker: boolean; concurrency: number; pollMs: number; leaseMs: number; maxAttempts: number; retryBaseMs: number };
  posthog: { apiKey: string; host: string; maxQueueSize: number } | undefined;
  mail: { smtpUrl: string | undefined; from: string; disabled: boolean };
  moderation: { url: string | undefined; timeoutMs: number; failOpen: boolean };
  rateLimitMultiplier: number;
  /** Clients that join without an operator: RFC 7591 registration and client ID metadata documents. */
  agents: {
    scopes: readonly string[];
    registration: { mode: SettingValue<'REGISTRATION_MODE'>; initialAccessToken: string | undefined; unusedDays: number };
    metadataDocuments: { enabled: boolean; allowLoopback: boolean };
  };
  audit: { retentionDays: number };
  metricsToken: string | undefined;
  /** Names (never values) of settings generated for development, and where they came from. */
  provenance: { generated: readonly string[]; fromSecretsManager: readonly string[] };
}
