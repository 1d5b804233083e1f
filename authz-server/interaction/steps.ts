import type { Context, Middleware } from 'koa';
import { errors, type InteractionResults } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { refusal } from '../forms/refusal.js';
import { InteractionErrors } from './errors.js';

export type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/** The interaction `loadInteraction` found, for the steps after it. */
export const interactionOf = (ctx: Context) => ctx.state.interaction as Details;

/** The interaction of this browser's cookie, when it is the one in the URL; else it has expired. */
export function loadInteraction(provider: Provider): Middleware {
  return async function loadInteraction(ctx, next) {
    let d: Details | undefined;
    try {
      d = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      if (!(err instanceof errors.SessionNotFound)) throw err;
    }
    if (d?.uid !== ctx.params.uid) throw refusal(InteractionErrors, 'INTERACTION_EXPIRED');
    ctx.state.interaction = d;
    await next();
  };
}

/** The form answers the prompt the provider asks now (consent: for a signed-in session), else it is done already. */
export function requirePrompt(name: 'login' | 'consent'): Middleware {
  return async function requirePrompt(ctx, next) {
    const d = interactionOf(ctx);
    if (d.prompt.name !== name || (name === 'consent' && !d.session?.accountId)) throw refusal(InteractionErrors, 'STEP_ALREADY_COMPLETE');
    await next();
  };
}

/** The client's name as it registered it (or its id), for the pages. */
export async function clientName(provider: Provider, d: Details): Promise<string> {
  const client = await provider.Client.find(String(d.params.client_id));
  return client?.clientName ?? String(d.params.client_id);
}

export function loadClientName(provider: Provider): Middleware {
  return async function loadClientName(ctx, next) {
    ctx.state.clientName = await clientName(provider, interactionOf(ctx));
    await next();
  };
}

/** Where a form of this interaction posts. */
export const action = (d: Details, step: string) => `/interaction/${d.uid}/${step}`;

/**
 * Hands the result back to the provider with a 303 (RFC 9700 §4.12: never 307 after a form
 * carrying credentials). Consent keeps the sign-in submitted earlier in the same authorization
 * request (`merge`): with prompt=login, a consent result alone would look like a request that
 * never signed in, and the provider would ask again, forever.
 */
export async function finish(provider: Provider, ctx: Context, result: InteractionResults, merge = false): Promise<void> {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
  ctx.status = 303;
  ctx.redirect(returnTo);
}
