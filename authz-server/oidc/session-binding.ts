import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { Knex } from 'knex';
import type { Auth } from '#shared/auth/better-auth.js';
import { currentSession } from '#shared/auth/session.js';
import type { Config } from '#shared/config/index.js';
import { bindSession, findBinding, sessionRowExists, unbindSession } from '../queries/session-bindings.js';

const { Check } = interactionPolicy;

export interface BindingDeps {
  db: Knex;
  auth: Auth;
  config: Config;
}

/**
 * The OpenID session lives only as long as the better-auth session it was created from.
 * oidc-provider keeps its own session (cookie `portcullis.oidc`, SESSION_TTL_S) and would
 * otherwise go on issuing codes after the person signed out, revoked that session or sat idle
 * past the better-auth idle limit. This login check runs on every authorization request
 * (prompt=none included: it then answers login_required):
 *
 * - right after a sign-in (the resume of an interaction that returned `login`), the request
 *   must carry the better-auth session of that same account, and the OpenID session is bound
 *   to it;
 * - otherwise the request must carry exactly the bound better-auth session, alive and within
 *   its idle and absolute lifetimes (currentSession). A planted or copied `portcullis.oidc`
 *   cookie without it, or with another account's, asks for a sign-in — and signing in as
 *   another account replaces the OpenID session (oidc-provider ends it first).
 */
export function sessionBindingCheck(deps: BindingDeps) {
  return new Check('session_ended', 'the sign-in session has ended', 'login_required', async (ctx: KoaContextWithOIDC) => {
    const session = ctx.oidc.session;
    if (!session?.accountId) return Check.NO_NEED_TO_PROMPT; // no_session asks for a sign-in
    const current = await currentSession(deps.auth, deps.config, ctx.req.headers);
    if (!current || current.user.id !== session.accountId) return Check.REQUEST_PROMPT;
    const signedInNow = (ctx.oidc.result as { login?: { accountId?: string } } | undefined)?.login?.accountId === session.accountId;
    if (signedInNow) {
      await bindSession(deps.db, {
        sessionUid: session.uid,
        authSessionId: current.session.id,
        accountId: session.accountId,
        expiresAt: Date.now() + deps.config.session.ttlS * 1000,
      });
      // Ended between the read above and the binding: its delete hook found nothing bound yet.
      // Still there now, any later end finds the binding.
      if (await sessionRowExists(deps.db, current.session.id)) return Check.NO_NEED_TO_PROMPT;
      await unbindSession(deps.db, session.uid);
      return Check.REQUEST_PROMPT;
    }
    const bound = await findBinding(deps.db, session.uid, Date.now());
    return bound?.authSessionId === current.session.id ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
  });
}
