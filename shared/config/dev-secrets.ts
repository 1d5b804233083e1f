import { randomBytes } from 'node:crypto';
import { ConfigError } from './errors.js';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

export const DEV_SECRETS_FILE = 'dev-secrets.json';
export type DevSecretName = 'AUTH_SECRET' | 'COOKIE_KEYS' | 'SIGNING_KEYS';

/**
 * Development only: secrets that were not configured are generated once and kept in
 * DATA_DIR/dev-secrets.json (mode 0600), so sessions and tokens survive a restart.
 */
export async function loadOrCreateDevSecrets(
  dataDir: string,
  names: readonly DevSecretName[],
): Promise<Record<DevSecretName, string>> {
  const file = path.join(dataDir, DEV_SECRETS_FILE);
  const existing = await readStored(file);
  if (existing && names.every((n) => existing[n])) return existing as Record<DevSecretName, string>;

  await mkdir(dataDir, { recursive: true });
  // Two services starting at once must agree on one set: generate under an exclusive lock
  // and re-read inside it, so whoever comes second uses what the first wrote.
  const release = await lock(`${file}.lock`);
  try {
    const stored = { ...(await readStored(file)) };
    let changed = false;
    for (const name of names) {
      if (stored[name]) continue;
      stored[name] = await generate(name);
      changed = true;
    }
    if (changed) {
      const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(tmp, JSON.stringify(stored, null, 2), { mode: 0o600 });
      await rename(tmp, file);
    }
    return stored as Record<DevSecretName, string>;
  } finally {
    await release();
  }
}

/** Exclusive lock on a file next to dev-secrets.json (shared with the keys:* commands). */
export async function lock(lockFile: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.close();
      return () => unlink(lockFile).catch(() => undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lockFile).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > 5_000) await unlink(lockFile).catch(() => undefined); // generation takes < 1 s: left by a crashed process
      if (Date.now() > deadline) throw new ConfigError([{ key: 'DATA_DIR', message: `timed out waiting for ${path.basename(lockFile)}` }]);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function readStored(file: string): Promise<Partial<Record<DevSecretName, string>> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Partial<Record<DevSecretName, string>>;
  } catch {
    // fall through: the parser's message would quote the file's content
  }
  throw new ConfigError([{ key: 'DATA_DIR', message: `${DEV_SECRETS_FILE} is not a JSON object; remove it to regenerate development secrets` }]);
}

export async function generate(name: DevSecretName): Promise<string> {
  switch (name) {
    case 'AUTH_SECRET':
      return randomBytes(32).toString('base64url');
    case 'COOKIE_KEYS':
      return randomBytes(32).toString('base64url');
    case 'SIGNING_KEYS':
      return JSON.stringify({ keys: [await newSigningKey('RS256'), await newSigningKey('ES256')] });
  }
}

/** A fresh private JWK whose kid is its RFC 7638 thumbprint, so kids are unique by construction. */
export async function newSigningKey(alg: 'RS256' | 'ES256') {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg, use: 'sig' };
}
