import type { Middleware } from 'koa';
import { renderTotpChallenge } from '../pages/two-factor.js';
import { form, parseForm, rateLimit } from '../forms/steps.js';
import { AccountErrors } from '../accounts/errors.js';
import { checkPassword, passwordChecked, signInBuckets, signInForm } from '../accounts/password-sign-in.js';
import { action, interactionOf, loadClientName, loadInteraction, requirePrompt } from './steps.js';
import { interactionClient, loginRefused, signInTo } from './sign-in.js';
import type { InteractionDeps } from './deps.js';

/** POST /interaction/:uid/login: the password; then the code page, or back to the provider. */
export function loginForm({ provider, c, limits }: InteractionDeps): Middleware {
  return form(loginRefused, [
    loadInteraction(provider),
    requirePrompt('login'),
    loadClientName(provider),
    parseForm(signInForm, AccountErrors),
    rateLimit(limits, signInBuckets, AccountErrors, 'SIGN_IN_LIMITED'),
    checkPassword(c, interactionClient),
    async function askCodeOrSignIn(ctx) {
      const checked = passwordChecked(ctx);
      if ('twoFactor' in checked) return renderTotpChallenge(ctx, { action: action(interactionOf(ctx), 'totp') });
      return signInTo(provider, c, ctx, checked.userId, false);
    },
  ]);
}
