export interface ConfigProblem {
  key: string;
  message: string;
}

/** Start-up configuration failure. The message names keys, never values. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    super(
      'Invalid configuration:\n' + problems.map((p) => `  ${p.key}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
