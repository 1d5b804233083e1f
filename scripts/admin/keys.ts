import { randomBytes } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { DEV_SECRETS_FILE, lock } from '#shared/config/dev-secrets.js';
import { addKey, describe, promoteKey, removeKey, retireKey, type RingKey, type SigningAlg } from '#authz/keys/keyring.js';
import type { AdminEnv, Command, Write } from './types.js';
import { UsageError } from './types.js';
import { adminConfig } from './context.js';
import { createDb } from '#shared/db/index.js';
import { recordCliEvent } from './audit.js';

type KeyAction = 'add' | 'promote' | 'retire' | 'remove';

/**
 * Signing keys live in SIGNING_KEYS. In development that is DATA_DIR/dev-secrets.json, which
 * these commands update in place; otherwise they print the new value for the operator to
 * store (environment or Secrets Manager) before a rolling restart.
 */
async function withRing(env: AdminEnv, write: Write, action: KeyAction, change: (keys: RingKey[]) => Promise<{ keys: RingKey[]; kid: string }> | { keys: RingKey[]; kid: string }): Promise<void> {
  const config = await adminConfig(env);
  const keys = config.secrets.signingKeys.keys as RingKey[];
  const { keys: next, kid } = await change([...keys]);
  const value = JSON.stringify({ keys: next });
  if (config.provenance.generated.includes('SIGNING_KEYS')) {
    const file = path.join(config.dataDir, DEV_SECRETS_FILE);
    const release = await lock(`${file}.lock`);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const stored = JSON.parse(await readFile(file, 'utf8'));
      await writeFile(tmp, JSON.stringify({ ...stored, SIGNING_KEYS: value }, null, 2), { mode: 0o600 });
      await rename(tmp, file);
    } finally {
      await unlink(tmp).catch(() => undefined);
      await release();
    }
    write(`updated ${file}; restart the services to load it`);
  } else {
    write('Store this as SIGNING_KEYS, then restart the services (rolling):');
    write(`SIGNING_KEYS='${value}'`);
  }
  for (const k of describe(next)) write(`  ${k.kid}  ${k.alg}  ${k.status}`);
  // Public facts only (kid, alg): the key material never reaches the trail.
  const alg = describe([...keys, ...next]).find((k) => k.kid === kid)?.alg ?? null;
  const db = createDb(config.db);
  try {
    await recordCliEvent(db, config, 'key.rotated', { outcome: 'success', subject: { type: 'signing_key', id: kid }, properties: { kid, alg, use: 'sig', action } });
  } finally {
    await db.destroy();
  }
}

function kidArg(args: string[], cmd: string): string {
  if (args.length !== 1 || args[0]!.startsWith('--')) throw new UsageError(`usage: npm run admin -- ${cmd} KID`);
  return args[0]!;
}

export const keyCommands: Record<string, Command> = {
  'keys:list': {
    summary: 'list signing keys: kid, alg, status (active signs; next and retired are published)',
    run: async (_args, write, io) => {
      const config = await adminConfig(io.env);
      for (const k of describe(config.secrets.signingKeys.keys as RingKey[])) write(`${k.kid}  ${k.alg}  ${k.status}`);
    },
  },
  'keys:add': {
    summary: 'add a key (--alg RS256|ES256); published now, signs after keys:promote',
    usage: '[--alg RS256|ES256]',
    run: (args, write, io) => {
      let alg: string;
      try {
        alg = parseArgs({ args, options: { alg: { type: 'string', default: 'RS256' } }, strict: true, allowPositionals: false }).values.alg;
      } catch {
        throw new UsageError('usage: npm run admin -- keys:add [--alg RS256|ES256]');
      }
      if (alg !== 'RS256' && alg !== 'ES256') throw new UsageError('usage: npm run admin -- keys:add [--alg RS256|ES256]');
      return withRing(io.env, write, 'add', (keys) => addKey(keys, alg as SigningAlg));
    },
  },
  'keys:promote': {
    summary: 'make a key the signing key of its alg; the previous one is retired',
    usage: 'KID',
    run: (args, write, io) => {
      const kid = kidArg(args, 'keys:promote');
      return withRing(io.env, write, 'promote', (keys) => ({ keys: promoteKey(keys, kid), kid }));
    },
  },
  'keys:retire': {
    summary: 'stop signing with a non-active key but keep publishing it',
    usage: 'KID',
    run: (args, write, io) => {
      const kid = kidArg(args, 'keys:retire');
      return withRing(io.env, write, 'retire', (keys) => ({ keys: retireKey(keys, kid), kid }));
    },
  },
  'keys:remove': {
    summary: 'unpublish a retired key (tokens it signed stop verifying)',
    usage: 'KID',
    run: (args, write, io) => {
      const kid = kidArg(args, 'keys:remove');
      return withRing(io.env, write, 'remove', (keys) => ({ keys: removeKey(keys, kid), kid }));
    },
  },
};
