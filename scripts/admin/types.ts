export type Write = (line: string) => void;

export interface Command {
  summary: string;
  run(args: string[], write: Write): Promise<void>;
}

/** Wrong arguments: exit code 2 and the message, no stack. */
export class UsageError extends Error {}
