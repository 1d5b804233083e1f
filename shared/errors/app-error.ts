/**
 * The one error type of Portcullis. Every failure that reaches a client is an AppError
 * (or is turned into one by the HTTP error handler): `status` is the HTTP status, `code` a
 * stable UPPER_SNAKE identifier from a catalog, `expose` says whether `message` may be shown
 * to the client. A 5xx is never exposed: clients get a generic message and the request id.
 */
export interface AppErrorOptions {
  expose?: boolean;
  data?: Record<string, unknown>;
  cause?: unknown;
  headers?: Record<string, string>;
  /** An answer this deployment gives by design (not configured, shutting down): not a fault. */
  expected?: boolean;
}

export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly expose: boolean;
  readonly data: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly expected: boolean;

  constructor(status: number, code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.expose = options.expose ?? status < 500;
    this.data = options.data;
    this.headers = options.headers;
    this.expected = options.expected ?? false;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
