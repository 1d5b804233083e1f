import type { Context, Middleware } from 'koa';
import compose from 'koa-compose';
import { z } from 'zod';
import { appError, HttpErrors, type ErrorCatalog } from '#shared/errors/index.js';
import type { AuthzLimits } from '../rate-limits.js';
import { renderRefusal } from '../pages/message.js';
import { Refusal, refusal } from './refusal.js';

/**
 * Server-rendered forms built like oidc-provider endpoints (lib/actions/*.js): an array of small
 * named steps read top to bottom (`loadInteraction → requirePrompt → parseForm → rateLimit → act
 * → render`). A step that refuses throws a Refusal from its feature's page catalog; `form()`
 * shows it on the form's own page, so no step needs to know how the page looks.
 */

/** The form's page again, showing a refusal's message with its status. */
export type RefusalPage = (ctx: Context, refused: Refusal) => void | Promise<void>;

/** The steps of one form; `page` shows their refusals (a page without a form has none to show). */
export function form(page: RefusalPage | undefined, steps: Middleware[]): Middleware {
  return compose([showRefusals(page), ...steps]) as Middleware;
}

/** A refusal with a title of its own is a message page; any other shows on the form's page. */
function showRefusals(page: RefusalPage | undefined): Middleware {
  return async function showRefusals(ctx, next) {
    try {
      await next();
    } catch (err) {
      if (!(err instanceof Refusal) || (!err.title && !page)) throw err;
      if (err.title) return renderRefusal(ctx, err);
      await page!(ctx, err);
    }
  };
}

/** The body pages/koa-form.ts parsed, or nothing. */
export const formBody = (ctx: Context): Record<string, unknown> => (ctx.request as unknown as { body?: Record<string, unknown> }).body ?? {};

/** A text field of a form schema: its text, or '' when missing or repeated (an array). */
export const formText = () => z.string().catch('');

/**
 * The parsed form in `ctx.state.form`. A refinement of the schema names its refusal by giving
 * the catalog's code as its message; anything else is a plain 400.
 */
export function parseForm<C extends ErrorCatalog>(schema: z.ZodType, catalog?: C): Middleware {
  return async function parseForm(ctx, next) {
    const parsed = schema.safeParse(formBody(ctx));
    if (!parsed.success) {
      const code = parsed.error.issues[0]?.message ?? '';
      throw catalog && code in catalog ? refusal(catalog, code) : appError(HttpErrors, 'VALIDATION_FAILED');
    }
    ctx.state.form = parsed.data;
    await next();
  };
}

export type Buckets = Parameters<AuthzLimits['check']>[1];

/**
 * Charges the buckets the form names (a missing key charges nothing); the first refused one stops
 * the form with the catalog's `code`, whose `{wait}` is the retry delay (also in Retry-After).
 */
export function rateLimit<C extends ErrorCatalog>(limits: AuthzLimits, buckets: (ctx: Context) => Buckets | Promise<Buckets>, catalog: C, code: keyof C & string): Middleware {
  return async function rateLimit(ctx, next) {
    const wait = await limits.check(ctx, await buckets(ctx));
    if (wait > 0) throw refusal(catalog, code, { wait });
    await next();
  };
}
