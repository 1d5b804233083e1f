import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { currentSession } from '#shared/auth/session.js';
import { demandsTwoFactor } from '#shared/auth/assurance.js';
import { isApiScope } from '#shared/oauth/scopes.js';
import { describeRedirect, renderConsent, type ClientProvenance } from '../pages/consent.js';
import { findClient } from '../queries/clients.js';
import { findUserById } from '../queries/users.js';
import { deviceUserCode } from '../oidc/device-flow.js';
import { epochTime } from '../oidc/time.js';
import { refusal } from '../forms/refusal.js';
import { form } from '../forms/steps.js';
import { action, clientName, interactionOf, loadInteraction, type Details } from './steps.js';
import { loginPage, signInTo } from './sign-in.js';
import { InteractionErrors } from './errors.js';
import type { InteractionDeps } from './deps.js';

/** Who vouches for the client (the consent page says it when nobody but the client does). */
async function provenance(provider: Provider, db: InteractionDeps['c']['db'], d: Details): Promise<ClientProvenance> {
  const id = String(d.params.client_id);
  const client = (await provider.Client.find(id)) as { clientIdMetadataDocument?: boolean } | undefined;
  if (client?.clientIdMetadataDocument) return { kind: 'metadata-document', host: new URL(id).host };
  return (await findClient(db, id))?.source === 'dynamic' ? { kind: 'registered' } : { kind: 'operator' };
}

/** GET /interaction/:uid: the page of the prompt the provider asks now. */
export function promptPage({ provider, c }: InteractionDeps): Middleware {
  async function login(ctx: Context, d: Details) {
    // SSO: an existing better-auth session signs the user in, unless the client demands a fresh
    // authentication (prompt=login, max_age exceeded) or two-factor. A reused session proves only
    // the password (loa:1): it may predate the user's 2FA enrolment.
    const forced = d.prompt.reasons.includes('login_prompt') || d.prompt.reasons.includes('max_age') || demandsTwoFactor(d.params.acr_values);
    const session = forced ? null : await currentSession(c.auth, c.config, ctx.req.headers);
    if (session) return signInTo(provider, c, ctx, session.user.id, false, epochTime(new Date(session.session.createdAt).getTime()));
    return loginPage(ctx, d, { clientName: await clientName(provider, d), email: typeof d.params.login_hint === 'string' ? d.params.login_hint : '' });
  }

  async function consent(ctx: Context, d: Details) {
    const pd = d.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
    const account = d.session?.accountId ? await findUserById(c.db, d.session.accountId) : undefined;
    const userCode = await deviceUserCode(provider, d.deviceCode);
    return renderConsent(ctx, {
      action: action(d, 'consent'),
      switchAction: action(d, 'switch-account'),
      clientName: await clientName(provider, d),
      provenance: await provenance(provider, c.db, d),
      redirectTo: describeRedirect(String(d.params.redirect_uri ?? '')),
      account: account?.email ?? '',
      // The API's scopes are also provider scopes, so oidc-provider lists them among the OpenID
      // ones too: each permission is shown once, in its group.
      aboutYou: (pd.missingOIDCScope ?? []).filter((s) => !isApiScope(s)),
      resources: Object.entries(pd.missingResourceScopes ?? {}).map(([indicator, scopes]) => ({ indicator, scopes })),
      ...(userCode ? { userCode } : {}),
    });
  }

  return form(undefined, [
    loadInteraction(provider),
    async function renderPrompt(ctx) {
      const d = interactionOf(ctx);
      if (d.prompt.name === 'login') return login(ctx, d);
      if (d.prompt.name === 'consent') return consent(ctx, d);
      throw refusal(InteractionErrors, 'UNSUPPORTED_STEP');
    },
  ]);
}
