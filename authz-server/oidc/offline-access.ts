import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

const OFFLINE = 'offline_access';

/**
 * OpenID Connect Core §11: offline_access needs prompt=consent "unless other conditions for
 * processing the request permitting offline access to the requested resources are in place".
 * A native client is shown the consent page on every authorization (RFC 8252 §8.6,
 * oidc-provider's `native_client_prompt`), so for it that condition always holds: its
 * offline_access goes to the person on this request's consent page, whatever `prompt` says.
 *
 * oidc-provider drops the scope before the policy runs (lib/actions/authorization/scopes.js);
 * this puts it back on the authorization request itself (the interaction keeps the parameters
 * for the resumed request), so the consent page lists it, the grant records the person's answer,
 * and the code carries it to the default `issueRefreshToken`. It never asks for a prompt.
 * Web clients keep oidc-provider's rule: no prompt=consent, no offline_access.
 */
export function nativeOfflineAccess() {
  return new interactionPolicy.Check('native_offline_access', 'offline_access goes to the consent page', (ctx) => {
    if (shouldRestore(ctx)) ctx.oidc.params!.scope = `${String(ctx.oidc.params!.scope ?? '')} ${OFFLINE}`.trim();
    return interactionPolicy.Check.NO_NEED_TO_PROMPT;
  });
}

function shouldRestore(ctx: KoaContextWithOIDC): boolean {
  const { oidc } = ctx;
  const client = oidc.client;
  if (oidc.route !== 'authorization' || !client || !oidc.params) return false;
  if (client.applicationType !== 'native' || !client.grantTypeAllowed('refresh_token')) return false;
  // prompt=none shows no consent page: nothing to restore (a native client gets interaction_required).
  if (oidc.prompts.has('none') || !String(oidc.params.response_type ?? '').split(' ').includes('code')) return false;
  if (!String(client.scope ?? '').split(' ').includes(OFFLINE)) return false;
  const kept = String(oidc.params.scope ?? '').split(' ');
  return !kept.includes(OFFLINE) && rawScope(ctx).includes(OFFLINE);
}

/** The scope as the client sent it (query or form body), before oidc-provider filtered it. */
function rawScope(ctx: KoaContextWithOIDC): string[] {
  const source = ctx.method === 'POST' ? (ctx.oidc as unknown as { body?: Record<string, unknown> }).body : ctx.query;
  const scope = source?.scope;
  return typeof scope === 'string' ? scope.split(' ') : [];
}
