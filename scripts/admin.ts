/**
 * `npm run admin -- <command> [options]`: operator tasks. Each command lives in
 * scripts/admin/<group>.ts and scripts/admin/main.ts dispatches; this file only binds that to
 * the process (argv, env, stdin, stdout, stderr, exit code). `<command> --help` prints that
 * command's usage.
 */
import { runAdmin } from './admin/main.js';

const code = await runAdmin(process.argv.slice(2), {
  env: process.env,
  out: (text) => process.stdout.write(text),
  warn: (line) => process.stderr.write(line.endsWith('\n') ? line : line + '\n'),
  async stdin() {
    if (process.stdin.isTTY) return undefined;
    let text = '';
    for await (const chunk of process.stdin) text += chunk;
    return text;
  },
});
// Pools, sockets and timers of a command must not hold the process open; stdout drains first.
process.stdout.write('', () => process.exit(code));
