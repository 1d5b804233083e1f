import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Container } from '#shared/container.js';
import { fromRequest } from '#shared/audit/index.js';
import { demandsTwoFactor, proofOf } from '#shared/auth/assurance.js';
import { renderLogin } from '../pages/login.js';
import { epochTime } from '../oidc/time.js';
import type { Refusal } from '../forms/refusal.js';
import { typedEmail } from '../accounts/password-sign-in.js';
import { action, finish, interactionOf, type Details } from './steps.js';

const TWO_FACTOR_REQUIRED = 'This application requires two-factor authentication. Turn it on in your account first.';

/**
 * The interaction's password page. Sign-up links back here once the account exists (a link
 * only: routes/account.ts accepts nothing but an interaction path).
 */
export const loginPage = (ctx: Context, d: Details, input: { clientName: string; email: string; error?: string }, status?: number) =>
  renderLogin(ctx, { action: action(d, 'login'), signUpHref: `/account/sign-up?return_to=/interaction/${d.uid}/`, ...input }, status);

/** The password page again after a refusal of its form. */
export function loginRefused(ctx: Context, refused: Refusal): void {
  loginPage(ctx, interactionOf(ctx), { clientName: ctx.state.clientName as string, email: typedEmail(ctx, refused), error: refused.message }, refused.status);
}

/**
 * Signs the account in to the interaction: what it proved (acr, amr) and when. A client that asked
 * for two-factor (acr_values=loa:2) gets nothing less (OIDC Core §3.1.2.1): access_denied.
 */
export async function signInTo(provider: Provider, c: Pick<Container, 'audit'>, ctx: Context, accountId: string, twoFactor: boolean, ts = epochTime()): Promise<void> {
  const d = interactionOf(ctx);
  if (demandsTwoFactor(d.params.acr_values) && !twoFactor) {
    return finish(provider, ctx, { error: 'access_denied', error_description: TWO_FACTOR_REQUIRED });
  }
  c.audit.record('sign_in.succeeded', { outcome: 'success', actor: { userId: accountId, clientId: String(d.params.client_id) }, ...fromRequest(ctx), properties: { method: 'password', mfa: twoFactor } });
  return finish(provider, ctx, { login: { accountId, ...proofOf(twoFactor), ts } });
}

/** Who a failure of this interaction is audited as: its client. */
export const interactionClient = (ctx: Context) => ({ clientId: String(interactionOf(ctx).params.client_id) });
