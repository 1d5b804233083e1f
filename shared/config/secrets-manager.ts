import type { SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from './errors.js';

export interface SecretsManagerOptions {
  secretId: string;
  region: string | undefined;
  endpoint: string | undefined;
  /** Tests only; production uses the SDK's standard credential chain. */
  credentials?: SecretsManagerClientConfig['credentials'];
}

const KEY = 'SECRETS_MANAGER_SECRET_ID';

/**
 * Fetches the secret once at boot and returns its JSON object as setting strings.
 * Every failure is a ConfigError naming the secret id's setting and the AWS error name,
 * never the secret's content.
 */
export async function fetchSecretSettings(opts: SecretsManagerOptions): Promise<Record<string, string>> {
  // Loaded here, not at module load: the SDK costs ~55 ms of CPU at every start, and only a
  // deployment with SECRETS_MANAGER_SECRET_ID uses it.
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const client = new SecretsManagerClient({
    ...(opts.region ? { region: opts.region } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 3000, requestTimeout: 5000 },
  });
  let text: string | undefined;
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: opts.secretId }));
    text = out.SecretString;
  } catch (err) {
    const name = err instanceof Error ? err.name : 'UnknownError';
    throw new ConfigError([{ key: KEY, message: `could not fetch the secret from AWS Secrets Manager (${describe(name)})` }]);
  } finally {
    client.destroy();
  }
  if (text === undefined) {
    throw new ConfigError([{ key: KEY, message: 'the secret has no SecretString (binary secrets are not supported)' }]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError([{ key: KEY, message: 'the secret is not valid JSON' }]);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError([{ key: KEY, message: 'the secret must be a JSON object of setting names to values' }]);
  }
  // Null prototype: a "__proto__" field stays an ordinary (ignored) key instead of a prototype.
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else if (v !== null && typeof v === 'object') out[k] = JSON.stringify(v); // e.g. SIGNING_KEYS as an object
    else throw new ConfigError([{ key: KEY, message: `the secret's field ${safeName(k)} must be a string, number, boolean or object` }]);
  }
  return out;
}

function describe(name: string): string {
  switch (name) {
    case 'ResourceNotFoundException':
      return 'ResourceNotFoundException: no such secret';
    case 'AccessDeniedException':
      return 'AccessDeniedException: the credentials may not read this secret';
    default:
      return safeName(name);
  }
}

function safeName(s: string): string {
  return /^[A-Za-z0-9_.-]{1,80}$/.test(s) ? s : '(unprintable)';
}
