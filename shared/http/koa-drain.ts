import type { Middleware } from 'koa';
import { HttpErrors, appError } from '../errors/index.js';

/** Shared flag flipped by graceful shutdown; in-flight requests are counted to know when to stop. */
export interface Drain {
  draining: boolean;
  inFlight: number;
}

export function createDrain(): Drain {
  return { draining: false, inFlight: 0 };
}

/**
 * Once draining, a request that still arrives on a kept-alive connection is refused with
 * 503 SHUTTING_DOWN and `Connection: close`, so clients retry on another replica.
 */
export function koaDrain(drain: Drain): Middleware {
  return async (ctx, next) => {
    if (drain.draining) {
      ctx.set('Connection', 'close');
      throw appError(HttpErrors, 'SHUTTING_DOWN');
    }
    drain.inFlight++;
    try {
      await next();
    } finally {
      drain.inFlight--;
    }
  };
}
