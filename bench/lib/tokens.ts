import type Provider from 'oidc-provider';
import { API_SCOPES } from '#shared/oauth/scopes.js';

export const BENCH_API_SCOPES = ['listings:read', 'usage:report', 'usage:read'].filter((s) => (API_SCOPES as readonly string[]).includes(s));
export const BENCH_SCOPE = `openid offline_access ${BENCH_API_SCOPES.join(' ')}`;

/**
 * Stores `n` refresh tokens as a finished authorization-code flow would leave them: one grant
 * per token (openid + offline_access, the API scopes on the API resource), through the
 * provider's own models, so the same code seeds our PostgreSQL adapter and oidc-provider's
 * in-memory one.
 */
export async function seedRefreshTokens(provider: Provider, opts: { clientId: string; accountId: string; audience: string; n: number }): Promise<string[]> {
  const client = await provider.Client.find(opts.clientId);
  if (!client) throw new Error(`client ${opts.clientId} not found`);
  const now = Math.floor(Date.now() / 1000);
  const out: string[] = [];
  for (let i = 0; i < opts.n; i++) {
    const grant = new provider.Grant({ accountId: opts.accountId, clientId: opts.clientId });
    grant.addOIDCScope('openid offline_access');
    grant.addResourceScope(opts.audience, BENCH_API_SCOPES.join(' '));
    const grantId = await grant.save();
    const token = new provider.RefreshToken({
      client, accountId: opts.accountId, grantId, scope: BENCH_SCOPE, gty: 'authorization_code',
      iiat: now, authTime: now, acr: 'urn:portcullis:loa:1', amr: ['pwd'], rotations: 0, resource: opts.audience,
    } as never);
    out.push(await token.save());
  }
  return out;
}
