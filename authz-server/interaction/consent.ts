import type { Middleware } from 'koa';
import { z } from 'zod';
import { fromRequest } from '#shared/audit/index.js';
import { refusal } from '../forms/refusal.js';
import { form, formText, parseForm } from '../forms/steps.js';
import { finish, interactionOf, loadInteraction, requirePrompt } from './steps.js';
import { InteractionErrors } from './errors.js';
import type { InteractionDeps } from './deps.js';

const consentForm = z.object({ decision: formText() });

/** POST /interaction/:uid/consent: Allow saves the grant for what the provider found missing; anything else is a denial. */
export function consentAnswerForm({ provider, c }: InteractionDeps): Middleware {
  return form(undefined, [
    loadInteraction(provider),
    requirePrompt('consent'),
    parseForm(consentForm),
    async function denyUnlessAllowed(ctx, next) {
      if ((ctx.state.form as z.output<typeof consentForm>).decision === 'allow') return next();
      const d = interactionOf(ctx);
      c.audit.record('authorization.denied', { outcome: 'denied', actor: { userId: d.session!.accountId, clientId: String(d.params.client_id) }, ...fromRequest(ctx), properties: { scope: String(d.params.scope ?? ''), reason: 'user_denied' } });
      return finish(provider, ctx, { error: 'access_denied', error_description: 'The user denied the request.' });
    },
    async function saveGrant(ctx) {
      const d = interactionOf(ctx);
      const accountId = d.session!.accountId;
      const clientId = String(d.params.client_id);
      const pd = d.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
      const grant = d.grantId ? await provider.Grant.find(d.grantId) : new provider.Grant({ accountId, clientId });
      if (!grant) throw refusal(InteractionErrors, 'GRANT_GONE');
      if (pd.missingOIDCScope) grant.addOIDCScope(pd.missingOIDCScope.join(' '));
      if (pd.missingOIDCClaims) grant.addOIDCClaims(pd.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(pd.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
      const grantId = await grant.save();
      c.audit.record('authorization.granted', { outcome: 'success', actor: { userId: accountId, clientId }, ...fromRequest(ctx), properties: { scope: String(d.params.scope ?? ''), grantId, prompt: d.prompt.reasons.join(' ') } });
      return finish(provider, ctx, { consent: { grantId } }, true);
    },
  ]);
}
