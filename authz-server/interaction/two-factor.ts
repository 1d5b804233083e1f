import type { Middleware } from 'koa';
import { renderTotpChallenge } from '../pages/two-factor.js';
import { form, parseForm, rateLimit } from '../forms/steps.js';
import { AccountErrors } from '../accounts/errors.js';
import { checkCode, codeChecked, codeForm, requirePendingSignIn, secondFactorBuckets } from '../accounts/second-factor-sign-in.js';
import { action, interactionOf, loadInteraction, requirePrompt } from './steps.js';
import { interactionClient, signInTo } from './sign-in.js';
import { InteractionErrors } from './errors.js';
import type { InteractionDeps } from './deps.js';

/** POST /interaction/:uid/totp: the code after the password (accounts/second-factor-sign-in.ts), then back to the provider. */
export function twoFactorForm({ provider, c, limits }: InteractionDeps): Middleware {
  return form((ctx, refused) => renderTotpChallenge(ctx, { action: action(interactionOf(ctx), 'totp'), error: refused.message }, refused.status), [
    loadInteraction(provider),
    requirePrompt('login'),
    parseForm(codeForm),
    requirePendingSignIn(InteractionErrors, 'INTERACTION_SIGN_IN_EXPIRED'),
    rateLimit(limits, secondFactorBuckets(c.db), AccountErrors, 'SIGN_IN_LIMITED'),
    checkCode(c, interactionClient),
    async function signIn(ctx) {
      return signInTo(provider, c, ctx, codeChecked(ctx).userId, true);
    },
  ]);
}
