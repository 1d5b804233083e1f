import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
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
  const stored = { ...existing };
  for (const name of names) stored[name] ??= await generate(name);
  if (names.every((n) => existing?.[n])) return stored as Record<DevSecretName, string>;

  await mkdir(dataDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(stored, null, 2), { mode: 0o600 });
  try {
    if (existing) {
      await rename(tmp, file);
    } else {
      // Two services starting at once must agree on one set: the first link wins, the other re-reads.
      await link(tmp, file).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
        return loadOrCreateDevSecrets(dataDir, names).then((won) => Object.assign(stored, won));
      });
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return stored as Record<DevSecretName, string>;
}

async function readStored(file: string): Promise<Partial<Record<DevSecretName, string>> | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
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
