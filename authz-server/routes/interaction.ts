import Router from '@koa/router';
import type { Context } from 'koa';
import { fromNodeHeaders } from 'better-auth/node';
import { errors, type InteractionResults } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Container } from '#shared/container.js';
import { currentSession } from '#shared/auth/session.js';
import { fromRequest } from '#shared/audit/index.js';
import { renderLogin } from '../pages/login.js';
import { describeRedirect, renderConsent, type ClientProvenance } from '../pages/consent.js';
import { findClient } from '../queries/clients.js';
import { renderMessage } from '../pages/message.js';
import { renderTotpChallenge } from '../pages/two-factor.js';
import { epochTime } from '../oidc/time.js';
import { isApiScope } from '#shared/oauth/scopes.js';
import type { AuthzLimits } from '../rate-limits.js';
import { koaForm } from '../pages/koa-form.js';
import { passwordSignIn } from '../accounts/password-sign-in.js';
import { LOA_TWO_FACTOR, proofOf } from '#shared/auth/assurance.js';
import { twoFactorAccount } from '../better-auth-mount.js';
import { findUserById } from '../queries/users.js';
import { deviceUserCode } from '../oidc/device-flow.js';

const SIGN_IN_FAILED = 'Incorrect email or password.';


type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * Sign-in hand-off: the provider sends the browser to /interaction/:uid; we authenticate with
 * better-auth (its own session cookie gives single sign-on), ask for consent, and hand the
 * result back with a 303 (RFC 9700 §4.12: never 307 after a form carrying credentials).
 */
export function interactionRoutes(provider: Provider, c: Pick<Container, 'auth' | 'config' | 'audit' | 'db'>, limits: AuthzLimits): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const body = koaForm(c.config.authz.issuer, { limitBytes: 16 * 1024 });

  async function details(ctx: Context): Promise<Details | undefined> {
    try {
      const d = await provider.interactionDetails(ctx.req, ctx.res);
      if (d.uid === ctx.params.uid) return d;
    } catch (err) {
      if (!(err instanceof errors.SessionNotFound)) throw err;
    }
    renderMessage(ctx, 'Sign-in expired', 'This sign-in request has expired or was already used. Start again from the application.', 400);
    return undefined;
  }

  /** A client that asked for two-factor (acr_values=loa:2) gets nothing less (OIDC Core §3.1.2.1). */
  const demandsTwoFactor = (d: Details) => String(d.params.acr_values ?? '').split(' ').includes(LOA_TWO_FACTOR);
  async function login(ctx: Context, d: Details, accountId: string, twoFactor: boolean, ts: number): Promise<void> {
    if (demandsTwoFactor(d) && !twoFactor) {
      return finish(ctx, { error: 'access_denied', error_description: 'This application requires two-factor authentication. Turn it on in your account first.' });
    }
    c.audit.record('sign_in.succeeded', { outcome: 'success', actor: { userId: accountId, clientId: String(d.params.client_id) }, ...fromRequest(ctx), properties: { method: 'password', mfa: twoFactor } });
    return finish(ctx, { login: { accountId, ...proofOf(twoFactor), ts } });
  }

  /**
   * Hands the result back to the provider. Consent keeps the sign-in submitted earlier in the
   * same authorization request (`merge`): with prompt=login, a consent result alone would
   * look like a request that never signed in, and the provider would ask again, forever.
   */
  async function finish(ctx: Context, result: InteractionResults, merge = false): Promise<void> {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
    ctx.status = 303;
    ctx.redirect(returnTo);
  }

  const clientName = async (d: Details) => {
    const client = await provider.Client.find(String(d.params.client_id));
    return client?.clientName ?? String(d.params.client_id);
  };
  // Who vouches for the client (the consent page says it when nobody but the client does).
  const provenance = async (d: Details): Promise<ClientProvenance> => {
    const id = String(d.params.client_id);
    const client = (await provider.Client.find(id)) as { clientIdMetadataDocument?: boolean } | undefined;
    if (client?.clientIdMetadataDocument) return { kind: 'metadata-document', host: new URL(id).host };
    return (await findClient(c.db, id))?.source === 'dynamic' ? { kind: 'registered' } : { kind: 'operator' };
  };
  const action = (d: Details, step: string) => `/interaction/${d.uid}/${step}`;
  // Sign-up links back here once the account exists (a link only: routes/account.ts accepts
  // nothing but an interaction path).
  const loginPage = (ctx: Context, d: Details, input: { clientName: string; email: string; error?: string }, status?: number) =>
    renderLogin(ctx, { action: action(d, 'login'), signUpHref: `/account/sign-up?return_to=/interaction/${d.uid}/`, ...input }, status);

  router.get('/', async (ctx) => {
    const d = await details(ctx);
    if (!d) return;
    if (d.prompt.name === 'login') {
      // SSO: an existing better-auth session signs the user in, unless the client demands
      // a fresh authentication (prompt=login, max_age exceeded) or two-factor. A reused session
      // proves only the password (loa:1): it may predate the user's 2FA enrolment.
      const forced = d.prompt.reasons.includes('login_prompt') || d.prompt.reasons.includes('max_age') || demandsTwoFactor(d);
      const session = forced ? null : await currentSession(c.auth, c.config, ctx.req.headers);
      if (session) return login(ctx, d, session.user.id, false, epochTime(new Date(session.session.createdAt).getTime()));
      return loginPage(ctx, d, { clientName: await clientName(d), email: typeof d.params.login_hint === 'string' ? d.params.login_hint : '' });
    }
    if (d.prompt.name === 'consent') {
      const pd = d.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
      // The API's scopes are also provider scopes, so oidc-provider lists them among the OpenID
      // ones too: each permission is shown once, in its group.
      const account = d.session?.accountId ? await findUserById(c.db, d.session.accountId) : undefined;
      const userCode = await deviceUserCode(provider, d.deviceCode);
      return renderConsent(ctx, {
        action: action(d, 'consent'),
        switchAction: action(d, 'switch-account'),
        clientName: await clientName(d),
        provenance: await provenance(d),
        redirectTo: describeRedirect(String(d.params.redirect_uri ?? '')),
        account: account?.email ?? '',
        aboutYou: (pd.missingOIDCScope ?? []).filter((s) => !isApiScope(s)),
        resources: Object.entries(pd.missingResourceScopes ?? {}).map(([indicator, scopes]) => ({ indicator, scopes })),
        ...(userCode ? { userCode } : {}),
      });
    }
    renderMessage(ctx, 'Sign-in error', 'Unsupported sign-in step.', 400);
  });

  router.post('/login', body, async (ctx) => {
    const d = await details(ctx);
    if (!d) return;
    if (d.prompt.name !== 'login') return renderMessage(ctx, 'Sign-in error', 'This sign-in step is already complete.', 400);
    const form = (ctx.request as unknown as { body?: Record<string, unknown> }).body ?? {};
    const email = typeof form.email === 'string' ? form.email.trim() : '';
    const password = typeof form.password === 'string' ? form.password : '';
    const name = await clientName(d);
    const r = await passwordSignIn(c, limits, ctx, email, password);
    if (r.kind === 'bad-input') return loginPage(ctx, d, { clientName: name, email: r.status === 400 ? '' : email, error: SIGN_IN_FAILED }, r.status);
    if (r.kind === 'limited') return loginPage(ctx, d, { clientName: name, email, error: `Too many attempts. Try again in ${r.wait} seconds.` }, 429);
    if (r.kind === 'failed') {
      c.audit.record('sign_in.failed', { outcome: 'failure', actor: { clientId: String(d.params.client_id) }, ...fromRequest(ctx), properties: { method: 'password', reason: `http_${r.status}`, emailHash: email } });
      // One message for unknown email, wrong password, banned or unverified account.
      return loginPage(ctx, d, { clientName: name, email, error: SIGN_IN_FAILED }, 401);
    }
    if (r.kind === 'two-factor') return renderTotpChallenge(ctx, { action: action(d, 'totp') });
    return login(ctx, d, r.userId, false, epochTime());
  });

  router.post('/totp', body, async (ctx) => {
    const d = await details(ctx);
    if (!d) return;
    if (d.prompt.name !== 'login') return renderMessage(ctx, 'Sign-in error', 'This sign-in step is already complete.', 400);
    const raw = (ctx.request as unknown as { body?: Record<string, unknown> }).body?.code;
    const code = typeof raw === 'string' ? raw.replace(/\s+/g, '') : '';
    // This step finishes the password step of this browser: only its pending two_factor cookie
    // goes to better-auth. A session cookie would let better-auth check the code for that
    // session's account instead — a stolen session plus a code skipping the password step.
    const pending = pendingSecondFactor(ctx.get('Cookie'));
    if (!pending) return renderTotpChallenge(ctx, { action: action(d, 'totp'), error: 'This sign-in has expired. Start again from the application.' }, 400);
    // Charged to the account whose code is checked: the pending sign-in's, never another
    // account's session the request also carries.
    const wait = await limits.check(ctx, [['sign-in:ip', ctx.ip], ['totp:account', await twoFactorAccount(c.db, pending)]]);
    if (wait > 0) return renderTotpChallenge(ctx, { action: action(d, 'totp'), error: `Too many attempts. Try again in ${wait} seconds.` }, 429);
    const headers = fromNodeHeaders({ ...ctx.req.headers, cookie: pending });
    // Six digits: a TOTP code; anything else is tried as a single-use backup code.
    const res = /^\d{6}$/.test(code)
      ? await c.auth.api.verifyTOTP({ body: { code }, headers, asResponse: true })
      : await c.auth.api.verifyBackupCode({ body: { code }, headers, asResponse: true });
    if (!res.ok) {
      c.audit.record('two_factor.challenge_failed', { outcome: 'failure', actor: { clientId: String(d.params.client_id) }, ...fromRequest(ctx), properties: { method: /^\d{6}$/.test(code) ? 'totp' : 'backup_code' } });
      return renderTotpChallenge(ctx, { action: action(d, 'totp'), error: 'That code is not valid. Try again.' }, 401);
    }
    const verified = (await res.json()) as { user: { id: string } };
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    return login(ctx, d, verified.user.id, true, epochTime());
  });

  router.post('/consent', body, async (ctx) => {
    const d = await details(ctx);
    if (!d) return;
    if (d.prompt.name !== 'consent' || !d.session?.accountId) return renderMessage(ctx, 'Sign-in error', 'This sign-in step is already complete.', 400);
    const decision = (ctx.request as unknown as { body?: Record<string, unknown> }).body?.decision;
    const who = { userId: d.session.accountId, clientId: String(d.params.client_id) };
    if (decision !== 'allow') {
      c.audit.record('authorization.denied', { outcome: 'denied', actor: who, ...fromRequest(ctx), properties: { scope: String(d.params.scope ?? ''), reason: 'user_denied' } });
      return finish(ctx, { error: 'access_denied', error_description: 'The user denied the request.' });
    }
    const pd = d.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    const grant = d.grantId
      ? await provider.Grant.find(d.grantId)
      : new provider.Grant({ accountId: d.session.accountId, clientId: String(d.params.client_id) });
    if (!grant) return renderMessage(ctx, 'Sign-in error', 'This sign-in request is no longer valid.', 400);
    if (pd.missingOIDCScope) grant.addOIDCScope(pd.missingOIDCScope.join(' '));
    if (pd.missingOIDCClaims) grant.addOIDCClaims(pd.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(pd.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    c.audit.record('authorization.granted', { outcome: 'success', actor: who, ...fromRequest(ctx), properties: { scope: String(d.params.scope ?? ''), grantId, prompt: d.prompt.reasons.join(' ') } });
    return finish(ctx, { consent: { grantId } }, true);
  });

  // "Not you?" on the consent page: this browser's session ends (and the OpenID session bound
  // to it), and the same authorization request starts again with a forced sign-in. Signing in
  // as another account then replaces the OpenID session: oidc-provider ends the old one first.
  router.post('/switch-account', body, async (ctx) => {
    const d = await details(ctx);
    if (!d) return;
    // A device flow has no authorization URL to start again from (its consent page offers no switch).
    if (d.deviceCode) return renderMessage(ctx, 'Sign-in error', 'To use another account for a device, choose Deny, sign out, and start again on the device.', 400);
    const res = await c.auth.api.signOut({ headers: fromNodeHeaders(ctx.req.headers), asResponse: true });
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(d.params)) if (typeof v === 'string') params.set(k, v);
    const prompts = new Set(String(d.params.prompt ?? '').split(' ').filter((p) => p && p !== 'none'));
    prompts.add('login');
    params.set('prompt', [...prompts].join(' '));
    ctx.status = 303;
    ctx.redirect(`${provider.pathFor('authorization')}?${params}`);
  });

  return router;
}

/** The Cookie header with only better-auth's pending second-factor cookie, or undefined. */
export function pendingSecondFactor(cookieHeader: string): string | undefined {
  const kept = cookieHeader.split(';').map((c) => c.trim()).filter((c) => /^(?:__Secure-)?portcullis\.two_factor=[^;]+$/.test(c));
  return kept.length === 1 ? kept[0] : undefined;
}
