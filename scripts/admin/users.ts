import { parseArgs } from 'node:util';
import { createAuth } from '#shared/auth/better-auth.js';
import { ROLE_NAMES, type RoleName } from '#shared/auth/permissions.js';
import { migrateLatest, createDb } from '#shared/db/index.js';
import { checkPassword, describeRefusal } from '#shared/auth/password-policy.js';
import { revokeAccount } from '#authz/queries/oidc-models.js';
import { createAudit, type Audit } from '#shared/audit/index.js';
import { createLogger } from '#shared/logging/logger.js';
import type { AdminEnv, AdminIo, Command } from './types.js';
import { UsageError } from './types.js';
import { adminConfig } from './context.js';
import { announce } from './announce.js';

const USAGE = 'users:create --email EMAIL --name NAME [--role user|publisher|admin] (password from PORTCULLIS_PASSWORD or stdin)';

async function readPassword(io: AdminIo): Promise<string> {
  // Not a flag: command-line arguments are visible to other users of the machine (ps).
  const fromEnv = io.env.PORTCULLIS_PASSWORD;
  if (fromEnv) return fromEnv;
  const piped = await io.stdin();
  if (piped === undefined) throw new UsageError('pipe the password on stdin or set PORTCULLIS_PASSWORD');
  return piped.replace(/\r?\n$/, '');
}

const createCommand: Record<string, Command> = {
  'users:create': {
    summary: 'create a verified user with a password (read from stdin or PORTCULLIS_PASSWORD)',
    usage: USAGE.replace(/^users:create /, ''),
    run: async (args, write, io) => {
      let values;
      try {
        ({ values } = parseArgs({ args, options: { email: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' } }, strict: true }));
      } catch (err) {
        throw new UsageError(`${(err as Error).message}\nusage: npm run admin -- ${USAGE}`);
      }
      if (!values.email || !values.name) throw new UsageError(`usage: npm run admin -- ${USAGE}`);
      const role = (values.role ?? 'user') as RoleName;
      if (!ROLE_NAMES.includes(role)) throw new UsageError(`role must be one of ${ROLE_NAMES.join(', ')}`);
      const password = await readPassword(io);
      // The same rules as sign-up, with the operator-given address and name as context words.
      const refused = checkPassword(password, { email: values.email, name: values.name });
      if (refused) throw new UsageError(describeRefusal(refused));
      const config = await adminConfig(io.env);
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

async function withUser<T>(env: AdminEnv, email: string, fn: (ctx: { id: string; auth: ReturnType<typeof createAuth>['auth']; db: import('knex').Knex; config: import('#shared/config/index.js').Config; audit: Audit }) => Promise<T>): Promise<T> {
  const config = await adminConfig(env);
  const db = createDb(config.db);
  const { auth, close } = createAuth(config);
  // Operator actions are audited like any other (actor: the CLI, no user id).
  const audit = createAudit({ db, logger: createLogger({ level: 'warn', service: 'admin-cli' }), secret: config.secrets.authSecret, ...(config.posthog ? { posthog: config.posthog } : {}) });
  try {
    const user = await db('user').select('id').where({ email: email.toLowerCase() }).first();
    if (!user) throw new UsageError(`no user with email ${email}`);
    return await fn({ id: user.id as string, auth, db, config, audit });
  } finally {
    await audit.close();
    await close();
    await db.destroy();
  }
}

/**
 * A ban must bite at once: sessions and every OAuth grant of the user go. (A role change needs no
 * revocation: the API reads the role from the database, or from a cache the change bus keeps current.)
 */
async function revokeEverything(db: import('knex').Knex, config: import('#shared/config/index.js').Config, userId: string): Promise<number> {
  await db('session').where({ userId }).del();
  return revokeAccount(db, userId, config.tokens);
}

export const userCommands: Record<string, Command> = {
  ...createCommand,
  'users:list': {
    summary: 'list users: id, email, role, verified, banned',
    run: async (_args, write, io) => {
      const config = await adminConfig(io.env);
      const db = createDb(config.db);
      try {
        const rows = await db('user').select('id', 'email', 'role', 'emailVerified', 'banned').orderBy('createdAt', 'asc');
        if (rows.length === 0) write('no users');
        for (const r of rows) write(`${r.id}\t${r.email}\t${r.role ?? 'user'}\t${r.emailVerified ? 'verified' : 'unverified'}${r.banned ? '\tbanned' : ''}`);
      } finally {
        await db.destroy();
      }
    },
  },
  'users:set-role': {
    summary: 'set a user\'s role (user, publisher, admin); takes effect on their next request',
    usage: 'EMAIL user|publisher|admin',
    run: async (args, write, io) => {
      const [email, role] = args;
      if (!email || !role || args.length !== 2) throw new UsageError('usage: npm run admin -- users:set-role EMAIL user|publisher|admin');
      if (!(ROLE_NAMES as string[]).includes(role)) throw new UsageError(`role must be one of ${ROLE_NAMES.join(', ')}`);
      await withUser(io.env, email, async ({ id, db, config, audit }) => {
        const before = await db('user').select('role').where({ id }).first();
        await db('user').where({ id }).update({ role, updatedAt: db.client.config.client === 'pg' ? new Date() : new Date().toISOString() });
        audit.record('user.role_changed', { outcome: 'success', actor: { clientId: 'admin-cli' }, subject: { type: 'user', id }, properties: { fromRole: before?.role ?? 'user', toRole: role } });
        write(`${email}: ${before?.role ?? 'user'} → ${role}`);
        await announce(config, { type: 'user.changed', userId: id });
      });
    },
  },
  'users:ban': {
    summary: 'ban a user (--reason TEXT, --days N); revokes their sessions and refresh tokens at once',
    usage: 'EMAIL [--reason TEXT] [--days N]',
    run: async (args, write, io) => {
      let values, positionals;
      try {
        ({ values, positionals } = parseArgs({ args, options: { reason: { type: 'string' }, days: { type: 'string' } }, allowPositionals: true, strict: true }));
      } catch (err) {
        throw new UsageError(`${(err as Error).message}\nusage: npm run admin -- users:ban EMAIL [--reason TEXT] [--days N]`);
      }
      const days = values.days === undefined ? undefined : Number(values.days);
      if (positionals.length !== 1 || (days !== undefined && !(Number.isInteger(days) && days > 0))) throw new UsageError('usage: npm run admin -- users:ban EMAIL [--reason TEXT] [--days N]');
      await withUser(io.env, positionals[0]!, async ({ id, db, config, audit }) => {
        const expires = days ? new Date(Date.now() + days * 86400_000) : null;
        audit.record('user.banned', { outcome: 'success', actor: { clientId: 'admin-cli' }, subject: { type: 'user', id }, properties: { reason: values.reason ?? null, until: expires?.toISOString() ?? null } });
        const stamp = (d: Date | null) => (d === null ? null : db.client.config.client === 'pg' ? d : d.toISOString());
        await db('user').where({ id }).update({ banned: true, banReason: values.reason ?? null, banExpires: stamp(expires) });
        const grants = await revokeEverything(db, config, id);
        write(`banned ${positionals[0]}${expires ? ` until ${expires.toISOString()}` : ''}; revoked sessions and ${grants} grant(s)`);
        // Its access tokens too, at every API replica: those issued before now stay dead after an unban.
        await announce(config, { type: 'user.changed', userId: id }, { type: 'user.sessions_revoked', userId: id, at: Date.now() });
      });
    },
  },
  'users:unban': {
    summary: 'lift a ban',
    usage: 'EMAIL',
    run: async (args, write, io) => {
      if (args.length !== 1) throw new UsageError('usage: npm run admin -- users:unban EMAIL');
      await withUser(io.env, args[0]!, async ({ id, db, config, audit }) => {
        await db('user').where({ id }).update({ banned: false, banReason: null, banExpires: null });
        audit.record('user.unbanned', { outcome: 'success', actor: { clientId: 'admin-cli' }, subject: { type: 'user', id }, properties: {} });
        write(`unbanned ${args[0]}`);
        await announce(config, { type: 'user.changed', userId: id });
      });
    },
  },
};
