import type { Command } from './types.js';

/**
 * Every admin command group, loaded on demand: a command imports only its own group (the
 * clients group does not pay for the Stripe or AWS SDKs, nor keys for better-auth), which is
 * most of a CLI call's start-up time. The usage listing loads them all.
 */
const GROUPS: Record<string, () => Promise<Record<string, Command>>> = {
  db: async () => (await import('./db.js')).dbCommands,
  config: async () => (await import('./config.js')).configCommands,
  secrets: async () => (await import('./config.js')).configCommands,
  clients: async () => (await import('./clients.js')).clientCommands,
  keys: async () => (await import('./keys.js')).keyCommands,
  users: async () => (await import('./users.js')).userCommands,
  audit: async () => (await import('./audit.js')).auditCommands,
  token: async () => (await import('./token.js')).tokenCommands,
  webhooks: async () => (await import('./webhooks.js')).webhookCommands,
};

/** The command called `name`, or undefined when there is none. */
export async function findCommand(name: string): Promise<Command | undefined> {
  const load = Object.hasOwn(GROUPS, name.split(':')[0]!) ? GROUPS[name.split(':')[0]!] : undefined;
  const group = load ? await load() : {};
  return Object.hasOwn(group, name) ? group[name] : undefined;
}

/** Every command, for the usage listing. */
export async function allCommands(): Promise<Record<string, Command>> {
  const groups = await Promise.all([...new Set(Object.values(GROUPS))].map((load) => load()));
  return Object.assign({}, ...groups) as Record<string, Command>;
}
