import type { ErrorCatalog } from '#shared/errors/index.js';

/**
 * What the authz-server's own pages say when no feature of theirs owns the answer: the browser's
 * 404, and the provider's pages when storage failed under them (middleware/koa-storage-outage.ts,
 * whose JSON answers carry the same words as RFC 6749 error_description).
 */
export const PageErrors = {
  PAGE_NOT_FOUND: { status: 404, title: 'Page not found', message: 'There is no page at this address. Check the link, or start again from one of these pages.' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'Temporarily unavailable', message: 'The service is temporarily unavailable. Try again in a moment.' },
  PARAMETER_NOT_ALLOWED: { status: 400, title: 'Sign-in error', message: 'A parameter contains a character that is not allowed.' },
} as const satisfies ErrorCatalog;
