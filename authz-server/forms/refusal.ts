import { AppError, type ErrorCatalog } from '#shared/errors/index.js';

/**
 * A form step's refusal, from a page catalog: the form shows its page again with the message
 * (pages/forms: `form()`), or a message page when the entry has a title of its own. Uncaught, it
 * is an ordinary AppError (a JSON error with its code).
 */
export class Refusal extends AppError {
  readonly title: string | undefined;

  constructor(status: number, code: string, message: string, title?: string) {
    super(status, code, message);
    this.name = 'Refusal';
    this.title = title;
  }
}

/** The catalog entry `code` as a refusal; `{name}` in its message is replaced by `params.name`. */
export function refusal<C extends ErrorCatalog>(catalog: C, code: keyof C & string, params: Record<string, string | number> = {}): Refusal {
  const entry = catalog[code]!;
  const message = entry.message.replace(/\{(\w+)\}/g, (all, name: string) => (name in params ? String(params[name]) : all));
  return new Refusal(entry.status, code, message, entry.title);
}
