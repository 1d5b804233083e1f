import type { Context, Middleware } from 'koa';
import { AppError, HttpErrors, appError, isAppError } from '../errors/index.js';
import { translateDbError } from '../db/errors.js';
import type { Logger } from '../logging/logger.js';

export interface ErrorBody {
  error: { code: string; message: string; requestId: string; details?: Record<string, unknown> };
}

/**
 * The one place errors become responses: `{ error: { code, message, requestId } }`.
 * Known errors keep their status and code; a 5xx always answers the generic
 * INTERNAL_ERROR text so no internals (stack, SQL, hostnames) reach a client.
 */
export function koaErrorHandler(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body == null) throw appError(HttpErrors, 'NOT_FOUND');
    } catch (err) {
      const e = toAppError(err);
      if (e.status >= 500 && e.expected) logger.warn({ requestId: ctx.state.requestId, code: e.code, status: e.status }, 'answered by design');
      else if (e.status >= 500) logger.error({ requestId: ctx.state.requestId, err: errForLog(err) }, 'unhandled error');
      respond(ctx, e);
    }
  };
}

export function respond(ctx: Context, e: AppError): void {
  ctx.status = e.status;
  for (const [k, v] of Object.entries(e.headers ?? {})) ctx.set(k, v);
  const body: ErrorBody = {
    error: {
      code: e.expose ? e.code : 'INTERNAL_ERROR',
      message: e.expose ? e.message : HttpErrors.INTERNAL_ERROR.message,
      requestId: String(ctx.state.requestId ?? ''),
    },
  };
  if (e.expose && e.data) body.error.details = e.data;
  ctx.body = body;
}

/** Maps errors thrown by Koa, co-body and friends (http-errors) to our catalog. */
export function toAppError(err: unknown): AppError {
  if (isAppError(err)) return err;
  // A driver error that left a query untranslated (an outage can hit any query, not only those
  // inside withTransaction): retryable 503, never a 500 naming the driver. A NUL in a value that
  // PostgreSQL cannot store is the client's input: 400.
  const storage = translateDbError(err);
  if (isAppError(storage) && (storage.code === 'DATABASE_UNAVAILABLE' || storage.code === 'UNSUPPORTED_CHARACTER')) return storage;
  const e = err as { status?: number; statusCode?: number; type?: string; expose?: boolean };
  const status = e?.status ?? e?.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500) {
    return appError(HttpErrors, 'INTERNAL_ERROR', { cause: err });
  }
  if (status === 413) return appError(HttpErrors, 'PAYLOAD_TOO_LARGE', { cause: err });
  if (status === 415) return appError(HttpErrors, 'UNSUPPORTED_MEDIA_TYPE', { cause: err });
  if (status === 404) return appError(HttpErrors, 'NOT_FOUND', { cause: err });
  if (status === 405) return appError(HttpErrors, 'METHOD_NOT_ALLOWED', { cause: err });
  // co-body rethrows JSON.parse's SyntaxError (also for __proto__ keys) with status 400.
  if (err instanceof SyntaxError || e.type === 'entity.parse.failed') return appError(HttpErrors, 'INVALID_JSON');
  return new AppError(status, 'BAD_REQUEST', HttpErrors.BAD_REQUEST.message, { cause: err });
}

/** Stack and message go to the server log only; pino's err serializer keeps the shape. */
function errForLog(err: unknown): unknown {
  if (err instanceof Error) return { type: err.name, message: err.message, stack: err.stack, cause: err.cause instanceof Error ? { type: err.cause.name, message: err.cause.message } : undefined };
  return { message: String(err) };
}
