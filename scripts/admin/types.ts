export type Write = (line: string) => void;

/** The environment a command reads its configuration from (the process's, for the CLI). */
export type AdminEnv = Readonly<Record<string, string | undefined>>;

/** What a command may use besides its arguments and stdout: nothing reads `process` directly. */
export interface AdminIo {
  env: AdminEnv;
  /** A line for stderr: warnings that must stay out of machine-readable output. */
  warn: Write;
  /** All of stdin, or undefined when it is a terminal (nothing piped). */
  stdin(): Promise<string | undefined>;
}

export interface Command {
  summary: string;
  /** Options and arguments after the command name, for `<command> --help`. */
  usage?: string;
  run(args: string[], write: Write, io: AdminIo): Promise<void>;
}

/** Wrong arguments: exit code 2 and the message, no stack. */
export class UsageError extends Error {}
