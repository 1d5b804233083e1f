export interface AdminRun {
  code: number;
  /** stdout and stderr as they were written, interleaved (what a terminal shows). */
  output: string;
  stdout: string;
  stderr: string;
}

/**
 * The admin CLI's own dispatcher (scripts/admin/main.ts `runAdmin`) in this process: the same
 * parsing, commands, exit codes and output as `npm run admin -- …`, without starting Node and
 * loading the command's modules again each time. `env` is the whole environment the command sees
 * (as `runNode` gives a process a clean one); `stdin` is what is piped in (empty, as `runNode`'s
 * ignored stdin, when absent). test/scripts/admin.test.ts keeps a few runs as real processes to
 * prove the binding to argv, streams and the exit code.
 */
export async function adminHere(args: string[], env: Record<string, string | undefined>, stdin = ''): Promise<AdminRun> {
  let output = '';
  let stdout = '';
  let stderr = '';
  // Imported, not required: mocha may load this file through require(), and the commands'
  // own dynamic imports would then meet a second copy of UsageError and the error catalog.
  const { runAdmin } = await import('../../scripts/admin/main.js');
  const code = await runAdmin(args, {
    env: { ...env },
    out: (text) => {
      stdout += text;
      output += text;
    },
    warn: (line) => {
      const text = line.endsWith('\n') ? line : line + '\n';
      stderr += text;
      output += text;
    },
    stdin: async () => stdin,
  });
  return { code, output, stdout, stderr };
}
