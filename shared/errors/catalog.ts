import { AppError, type AppErrorOptions } from './app-error.js';

/**
 * Error codes shared by both services. One rule for the others: a catalog lives in the feature
 * that owns its codes (`<feature>/errors.ts`), a code is defined once across every catalog
 * (the error-catalogs test finds every catalog and checks both), and codes are never written
 * inline at a throw site.
 */
export const HttpErrors = {
  BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  VALIDATION_FAILED: { status: 400, message: 'The request did not pass validation.' },
  INVALID_CURSOR: { status: 400, message: 'The pagination cursor is invalid.' },
  ORIGIN_NOT_ALLOWED: { status: 403, message: 'This request must come from a trusted origin.' },
  CSRF_TOKEN_INVALID: { status: 403, message: 'This form has expired or did not come from this site. Reload the page and try again.' },
  NOT_FOUND: { status: 404, message: 'No such resource.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed on this resource.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type.' },
  HEADERS_TOO_LARGE: { status: 431, message: 'Request headers are too large.' },
  INTERNAL_ERROR: { status: 500, message: 'Internal server error.' },
  NOT_READY: { status: 503, message: 'The service is not ready.', expose: true, expected: true },
  SHUTTING_DOWN: { status: 503, message: 'The service is shutting down.', expose: true, expected: true },
} as const;

export const StorageErrors = {
  UNIQUE_VIOLATION: { status: 409, message: 'A record with the same unique value already exists.' },
  FOREIGN_KEY_VIOLATION: { status: 409, message: 'The record refers to something that does not exist.' },
  NOT_NULL_VIOLATION: { status: 400, message: 'A required value is missing.' },
  CHECK_VIOLATION: { status: 400, message: 'A value is out of its allowed range.' },
  UNSUPPORTED_CHARACTER: { status: 400, message: 'A value contains a character that cannot be stored (such as NUL).' },
  DATABASE_UNAVAILABLE: { status: 503, message: 'The database is unavailable.', expose: true },
  CACHE_UNAVAILABLE: { status: 503, message: 'The cache is unavailable.', expose: true },
} as const;

/**
 * `expose: true` on a 5xx entry marks a fixed, generic message safe to show (e.g. 503s);
 * `expected: true` marks an answer the deployment gives by design (billing not configured,
 * shutting down): logged as a warning with its code, not as an error with a stack. `title`: a
 * page catalog's entry shown as a page of its own (the authz-server's pages), with that heading.
 */
export type ErrorCatalog = Record<string, { status: number; message: string; expose?: boolean; expected?: boolean; title?: string }>;

/** Builds an AppError from a catalog entry, so the code and status always travel together. */
export function appError<C extends ErrorCatalog>(
  catalog: C,
  code: keyof C & string,
  options: AppErrorOptions & { message?: string } = {},
): AppError {
  const entry = catalog[code]!;
  const expose = options.expose ?? entry.expose;
  const expected = options.expected ?? entry.expected;
  return new AppError(entry.status, code, options.message ?? entry.message, { ...options, ...(expose === undefined ? {} : { expose }), ...(expected === undefined ? {} : { expected }) });
}
