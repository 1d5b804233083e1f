export type Write = (line: string) => void;

export interface Command {
  summary: string;
  /** Options and arguments after the command name, for `<command> --help`. */
  usage?: string;
  run(args: string[], write: Write): Promise<void>;
}

/** Wrong arguments: exit code 2 and the message, no stack. */
export class UsageError extends Error {}
