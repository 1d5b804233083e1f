import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError, type ConfigProblem } from '#shared/config/index.js';
import { generate } from '#shared/config/dev-secrets.js';

/** A fresh, empty DATA_DIR under the OS temp folder; `cleanup()` removes it. */
export async function tempDataDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-config-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Awaits `promise`, asserts it rejected with a ConfigError and returns that error. */
export async function expectConfigError(promise: Promise<unknown>): Promise<ConfigError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) expect.fail('expected loadConfig to reject with a ConfigError, but it resolved');
  if (!(caught instanceof ConfigError)) {
    expect.fail(`expected a ConfigError, got ${(caught as Error)?.name}: ${(caught as Error)?.message}`);
  }
  expect(caught.name).to.equal('ConfigError');
  expect(caught).to.be.instanceOf(Error);
  // The message lists every problem as "  KEY: message".
  for (const p of caught.problems) expect(caught.message).to.include(`  ${p.key}: ${p.message}`);
  return caught;
}

export function problemKeys(err: ConfigError): string[] {
  return err.problems.map((p) => p.key);
}

export function problem(err: ConfigError, key: string): ConfigProblem | undefined {
  return err.problems.find((p) => p.key === key);
}

/** Asserts no marker appears anywhere an error could be printed or logged. */
export function expectNoLeak(err: Error & { problems?: readonly ConfigProblem[] }, ...markers: string[]): void {
  const surfaces = [err.message, String(err), err.stack ?? '', JSON.stringify(err.problems ?? []), JSON.stringify(err)];
  for (const marker of markers) {
    for (const s of surfaces) expect(s, `secret marker "${marker}" leaked`).to.not.include(marker);
  }
}

let signingKeys: Promise<string> | undefined;
/** One generated SIGNING_KEYS value (RS256 + ES256 private JWKS), shared by the suite. */
export function sharedSigningKeys(): Promise<string> {
  signingKeys ??= generate('SIGNING_KEYS');
  return signingKeys;
}

export const AUTH_SECRET = 'auth-secret-0123456789abcdefghijklmnop';
export const COOKIE_KEY_1 = 'cookie-key-1-0123456789abcdefghijklmnop';
export const COOKIE_KEY_2 = 'cookie-key-2-0123456789abcdefghijklmnop';
export const DATABASE_URL = 'postgres://portcullis:pw@db.internal:5432/portcullis';

/** A complete, valid production environment. */
export async function productionEnv(dataDir: string): Promise<Record<string, string>> {
  return {
    NODE_ENV: 'production',
    DATA_DIR: dataDir,
    ISSUER_URL: 'https://auth.example.com',
    API_AUDIENCE: 'https://api.example.com',
    DATABASE_URL,
    AUTH_SECRET,
    COOKIE_KEYS: `${COOKIE_KEY_1},${COOKIE_KEY_2}`,
    SIGNING_KEYS: await sharedSigningKeys(),
    SMTP_URL: 'smtp://mail.example.com:587',
  };
}
