import type { Middleware } from 'koa';
import { fromNodeHeaders } from 'better-auth/node';
import { refusal } from '../forms/refusal.js';
import { form } from '../forms/steps.js';
import { interactionOf, loadInteraction } from './steps.js';
import { InteractionErrors } from './errors.js';
import type { InteractionDeps } from './deps.js';

/**
 * POST /interaction/:uid/switch-account, "Not you?" on the consent page: this browser's session
 * ends (and the OpenID session bound to it), and the same authorization request starts again
 * with a forced sign-in. Signing in as another account then replaces the OpenID session:
 * oidc-provider ends the old one first.
 */
export function switchAccountForm({ provider, c }: InteractionDeps): Middleware {
  return form(undefined, [
    loadInteraction(provider),
    async function refuseDevice(ctx, next) {
      if (interactionOf(ctx).deviceCode) throw refusal(InteractionErrors, 'DEVICE_ACCOUNT_SWITCH');
      await next();
    },
    async function signOut(ctx, next) {
      const res = await c.auth.api.signOut({ headers: fromNodeHeaders(ctx.req.headers), asResponse: true });
      for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
      await next();
    },
    async function restartWithLogin(ctx) {
      const d = interactionOf(ctx);
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(d.params)) if (typeof v === 'string') params.set(k, v);
      const prompts = new Set(String(d.params.prompt ?? '').split(' ').filter((p) => p && p !== 'none'));
      prompts.add('login');
      params.set('prompt', [...prompts].join(' '));
      ctx.status = 303;
      ctx.redirect(`${provider.pathFor('authorization')}?${params}`);
    },
  ]);
}
