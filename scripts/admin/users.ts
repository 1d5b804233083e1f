import { parseArgs } from 'node:util';
import { createAuth } from '#shared/auth/better-auth.js';
import { ROLE_NAMES, type RoleName } from '#shared/auth/permissions.js';
import { migrateLatest, createDb } from '#shared/db/index.js';
import { passwordProblem } from '#shared/auth/password-policy.js';
import type { Command } from './types.js';
import { UsageError } from './types.js';
import { adminConfig } from './context.js';

const USAGE = 'users:create --email EMAIL --name NAME [--role user|publisher|admin] (password from PORTCULLIS_PASSWORD or stdin)';

async function readPassword(): Promise<string> {
  // Not a flag: command-line arguments are visible to other users of the machine (ps).
  const fromEnv = process.env.PORTCULLIS_PASSWORD;
  if (fromEnv) return fromEnv;
  if (process.stdin.isTTY) throw new UsageError('pipe the password on stdin or set PORTCULLIS_PASSWORD');
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.replace(/\r?\n$/, '');
}

export const userCommands: Record<string, Command> = {
  'users:create': {
    summary: 'create a verified user with a password (read from stdin or PORTCULLIS_PASSWORD)',
    run: async (args, write) => {
      let values;
      try {
        ({ values } = parseArgs({ args, options: { email: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' } }, strict: true }));
      } catch (err) {
        throw new UsageError(`${(err as Error).message}\nusage: npm run admin -- ${USAGE}`);
      }
      if (!values.email || !values.name) throw new UsageError(`usage: npm run admin -- ${USAGE}`);
      const role = (values.role ?? 'user') as RoleName;
      if (!ROLE_NAMES.includes(role)) throw new UsageError(`role must be one of ${ROLE_NAMES.join(', ')}`);
      const password = await readPassword();
      const problem = passwordProblem(password);
      if (problem) throw new UsageError(`password ${problem}`);
      const config = await adminConfig();
      const db = createDb(config.db);
      try {
        await migrateLatest(db);
      } finally {
        await db.destroy();
      }
      const { auth, close } = createAuth(config);
      try {
        const created = await auth.api.createUser({ body: { email: values.email, password, name: values.name, role: role as 'user', data: { emailVerified: true } } });
        write(`created ${created.user.id} (${role})`);
      } catch (err) {
        const e = err as { body?: { code?: string; message?: string }; message?: string };
        throw new Error(e.body?.code ? `${e.body.code}: ${e.body.message ?? ''}` : (e.message ?? 'could not create the user'));
      } finally {
        await close();
      }
    },
  },
};
