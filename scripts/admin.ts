/**
 * `npm run admin -- <command> [options]`: operator tasks. Each command lives in
 * scripts/admin/<group>.ts; this file only dispatches and reports errors without stacks.
 * `<command> --help` prints that command's usage.
 */
import { ConfigError } from '#shared/config/index.js';
import { isAppError } from '#shared/errors/index.js';
import { allCommands, findCommand } from './admin/commands.js';
import { UsageError } from './admin/types.js';

const [name, ...args] = process.argv.slice(2);
const write = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');

const command = name && name !== 'help' && name !== '--help' ? await findCommand(name) : undefined;
if (!command) {
  if (name && name !== 'help' && name !== '--help') process.stderr.write(`unknown command: ${name}\n\n`);
  write('Usage: npm run admin -- <command> [options]   (<command> --help for its options)\n\nCommands:');
  for (const [cmd, c] of Object.entries(await allCommands())) write(`  ${cmd.padEnd(18)} ${c.summary}`);
  process.exit(name && name !== 'help' && name !== '--help' ? 2 : 0);
}

if (args.includes('--help') || args.includes('-h')) {
  write(`${name}: ${command.summary}`);
  write(`usage: npm run admin -- ${name}${command.usage ? ` ${command.usage}` : ''}`);
  process.exit(0);
}

try {
  await command.run(args, write);
  process.exit(0);
} catch (err) {
  const message =
    err instanceof ConfigError ? err.message : isAppError(err) ? `${err.code}: ${err.message}` : err instanceof UsageError ? err.message : `failed: ${(err as Error)?.message ?? String(err)}`;
  process.stderr.write(message + '\n');
  process.exit(err instanceof UsageError ? 2 : 1);
}
