import type { Middleware } from 'koa';
import type { Logger } from '../logging/logger.js';

/**
 * One structured line per request. Only method, path (no query string: it can carry
 * login hints and other personal data), status and timing; never headers or bodies.
 */
export function koaAccessLog(logger: Logger): Middleware {
  return async (ctx, next) => {
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const durationMs = Number(process.hrtime.bigint() - start) / 1e6;
      const status = ctx.status;
      const line = { requestId: ctx.state.requestId, method: ctx.method, path: ctx.path, status, durationMs: Math.round(durationMs * 100) / 100 };
      if (status >= 500) logger.error(line, 'request failed');
      else logger.info(line, 'request');
    }
  };
}
