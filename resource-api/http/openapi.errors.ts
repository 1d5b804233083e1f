import { HttpErrors, StorageErrors } from '#shared/errors/index.js';
import { AuthErrors } from '../auth/errors.js';
import { errorCodes, type ErrorCodeRef, type RouteContract } from './contract.js';

/** Codes any operation may answer whatever its contract: every operation documents them. */
export const CROSS_CUTTING: readonly ErrorCodeRef[] = [
  ...errorCodes(HttpErrors, 'INTERNAL_ERROR', 'SHUTTING_DOWN'),
  ...errorCodes(StorageErrors, 'DATABASE_UNAVAILABLE'),
];

/** Catalog codes no operation in /openapi.json answers, and why (the catalogs are shared with the authz-server). */
export const NOT_OPERATION_CODES: Readonly<Record<string, string>> = {
  NOT_FOUND: 'a path the document does not list',
  METHOD_NOT_ALLOWED: 'a method the document does not list for the path',
  NOT_READY: 'GET /readyz, an operations endpoint outside the document',
  HEADERS_TOO_LARGE: "Node's HTTP parser answers 431 before the application sees the request",
  CSRF_TOKEN_INVALID: "the authorization server's HTML forms",
  UNIQUE_VIOLATION: 'a storage constraint: services translate those their rules meet (SLUG_TAKEN, REVIEW_EXISTS); one reaching a client is a bug',
  FOREIGN_KEY_VIOLATION: 'a storage constraint: services check references first (LISTING_NOT_FOUND, NOT_ENTITLED); one reaching a client is a bug',
  NOT_NULL_VIOLATION: 'a storage constraint: input schemas require every stored value; one reaching a client is a bug',
  CHECK_VIOLATION: 'a storage constraint: input schemas bound every stored value; one reaching a client is a bug',
};

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid input',
  401: 'Missing or invalid credentials',
  402: 'Payment required',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Body too large',
  415: 'Body must be application/json',
  422: 'Rejected by a business rule',
  500: 'Unexpected failure, told without internals: quote requestId',
  502: 'The payment provider did not answer',
  503: 'A dependency is unavailable or the server is shutting down: retry later',
};

export const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'requestId'],
      properties: {
        code: { type: 'string', description: 'Stable UPPER_SNAKE code; each response lists the codes its status carries.' },
        message: { type: 'string' },
        requestId: { type: 'string' },
        details: { type: 'object', description: 'Present for some codes, e.g. VALIDATION_FAILED: `{ issues: [{ in, path, message }] }`.' },
      },
    },
  },
};

/**
 * The codes that follow from a contract itself — the credential koa-auth verifies (on public
 * routes too), the access rule, the origin check of cookie writes, input parsing — plus those its
 * handler declares.
 */
export function operationCodes(c: RouteContract): ErrorCodeRef[] {
  const codes = errorCodes(AuthErrors, 'INVALID_TOKEN', 'INVALID_DPOP_PROOF', 'AMBIGUOUS_CREDENTIALS', 'INVALID_SESSION', 'ACCOUNT_DISABLED', 'AUTH_SERVER_UNAVAILABLE');
  // A DPoP proof's jti is checked in the shared cache: no Redis, no DPoP request (503).
  codes.push(...errorCodes(StorageErrors, 'CACHE_UNAVAILABLE'));
  if (c.method !== 'get') codes.push(...errorCodes(HttpErrors, 'ORIGIN_NOT_ALLOWED'));
  if (c.access !== 'public') codes.push(...errorCodes(AuthErrors, 'UNAUTHENTICATED', 'USER_TOKEN_REQUIRED'));
  if (typeof c.access === 'object') codes.push(...errorCodes(AuthErrors, 'INSUFFICIENT_SCOPE', 'FORBIDDEN'));
  if (c.params || c.query || c.body) codes.push(...errorCodes(HttpErrors, 'VALIDATION_FAILED'));
  if (c.body) codes.push(...errorCodes(HttpErrors, 'INVALID_JSON', 'BAD_REQUEST', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'));
  return [...codes, ...(c.errorCodes ?? [])];
}

/** A contract's `errors` must be exactly the statuses of its codes: neither can drift alone. */
export function assertErrorStatuses(c: RouteContract): void {
  const fromCodes = [...new Set(operationCodes(c).map((e) => e.status))].sort();
  const declared = [...new Set(c.errors)].sort();
  if (fromCodes.join() !== declared.join()) {
    throw new Error(`OpenAPI: ${c.operationId} declares errors [${declared.join(', ')}] but its error codes answer [${fromCodes.join(', ')}]`);
  }
}

/** One response per error status, its `error.code` narrowed to exactly the codes that status carries. */
export function errorResponses(codes: readonly ErrorCodeRef[], text: Record<number, string> = {}): Record<string, unknown> {
  const byStatus = new Map<number, Set<string>>();
  for (const { status, code } of [...codes, ...CROSS_CUTTING]) (byStatus.get(status) ?? byStatus.set(status, new Set()).get(status)!).add(code);
  const responses: Record<string, unknown> = {};
  for (const [status, set] of [...byStatus].sort(([a], [b]) => a - b)) {
    const list = [...set].sort();
    const narrowed = { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['code'], properties: { code: { type: 'string', enum: list } } } } };
    responses[status] = {
      description: `${text[status] ?? STATUS_TEXT[status] ?? 'Error'} (${list.join(', ')})`,
      'x-error-codes': list,
      content: { 'application/json': { schema: { allOf: [{ $ref: '#/components/schemas/Error' }, narrowed] } } },
    };
  }
  return responses;
}
