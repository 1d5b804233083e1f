import { ConfigError } from '#shared/config/index.js';
import { isAppError } from '#shared/errors/index.js';
import { allCommands, findCommand } from './commands.js';
import { UsageError, type AdminIo } from './types.js';

/** Where the CLI writes and what it reads: the process's own streams, or a test's buffers. */
export interface AdminStreams extends AdminIo {
  /** stdout, as text (lines carry their own newline). */
  out(text: string): void;
}

/**
 * `npm run admin -- <command> [options]` without the process: parses `argv`, runs the command and
 * answers the exit code (0 done, 1 failed, 2 wrong arguments). Errors are reported on `warn`
 * without stacks. scripts/admin.ts binds it to the process; tests call it directly.
 */
export async function runAdmin(argv: string[], io: AdminStreams): Promise<number> {
  const [name, ...args] = argv;
  const write = (s: string) => io.out(s.endsWith('\n') ? s : s + '\n');
  const asksForHelp = !name || name === 'help' || name === '--help';

  const command = asksForHelp ? undefined : await findCommand(name);
  if (!command) {
    if (!asksForHelp) io.warn(`unknown command: ${name}\n\n`);
    write('Usage: npm run admin -- <command> [options]   (<command> --help for its options)\n\nCommands:');
    for (const [cmd, c] of Object.entries(await allCommands())) write(`  ${cmd.padEnd(18)} ${c.summary}`);
    return asksForHelp ? 0 : 2;
  }

  if (args.includes('--help') || args.includes('-h')) {
    write(`${name}: ${command.summary}`);
    write(`usage: npm run admin -- ${name}${command.usage ? ` ${command.usage}` : ''}`);
    return 0;
  }

  try {
    await command.run(args, write, io);
    return 0;
  } catch (err) {
    const message =
      err instanceof ConfigError ? err.message : isAppError(err) ? `${err.code}: ${err.message}` : err instanceof UsageError ? err.message : `failed: ${(err as Error)?.message ?? String(err)}`;
    io.warn(message);
    return err instanceof UsageError ? 2 : 1;
  }
}
