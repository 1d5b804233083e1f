/**
 * `npm run admin -- <command> [options]`: operator tasks. Each command lives in
 * scripts/admin/<group>.ts; this file only dispatches and reports errors without stacks.
 */
import { ConfigError } from '#shared/config/index.js';
import { isAppError } from '#shared/errors/index.js';
import { commands } from './admin/commands.js';
import { UsageError } from './admin/types.js';

const [name, ...args] = process.argv.slice(2);
const write = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');

if (!name || name === 'help' || name === '--help' || !Object.hasOwn(commands, name)) {
  write('Usage: npm run admin -- <command> [options]\n\nCommands:');
  for (const [cmd, c] of Object.entries(commands)) write(`  ${cmd.padEnd(18)} ${c.summary}`);
  process.exit(name && name !== 'help' && name !== '--help' ? 2 : 0);
}

try {
  await commands[name]!.run(args, write);
  process.exit(0);
} catch (err) {
  const message =
    err instanceof ConfigError ? err.message : isAppError(err) ? `${err.code}: ${err.message}` : err instanceof UsageError ? err.message : `failed: ${(err as Error)?.message ?? String(err)}`;
  process.stderr.write(message + '\n');
  process.exit(err instanceof UsageError ? 2 : 1);
}
