import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';

/**
 * JSON and form body parsing with a size limit. Routes opt in: there is no global body
 * parser, so the Stripe webhook route can read its raw body for signature checks.
 */
export function koaBody(opts: { limitBytes: number }): Middleware {
  return bodyParser({
    enableTypes: ['json', 'form'],
    jsonLimit: opts.limitBytes,
    formLimit: opts.limitBytes,
    jsonStrict: true,
  }) as unknown as Middleware;
}
