import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { appError } from '#shared/errors/index.js';
import { translateDbError } from '#shared/db/index.js';
import { clientInput, type ClientInput } from './schema.js';
import { ClientErrors } from './errors.js';
import { deleteClientAndGrants, findClient, insertClient, listClients, type ClientRow, type ClientSource } from '../queries/clients.js';

export interface CreatedClient {
  clientId: string;
  /** Shown once, at creation; only for client_secret_* clients. */
  clientSecret: string | undefined;
  metadata: Record<string, unknown>;
}

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Client registration rules; the admin CLI and development start call these. */
export function createClientService(db: Knex) {
  return {
    /** `developmentWebLoopback`: only the development demo client (never in production) may use http on a web client. */
    async create(input: ClientInput, opts: { developmentWebLoopback?: boolean } = {}): Promise<CreatedClient> {
      const parsed = clientInput.safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw appError(ClientErrors, 'INVALID_CLIENT_METADATA', { message: `${issue.path.join('.') || 'client'}: ${issue.message}` });
      }
      const c = parsed.data;
      const http = opts.developmentWebLoopback ? undefined : webHttpRedirect(c);
      if (http) throw appError(ClientErrors, 'INVALID_CLIENT_METADATA', { message: http });
      // Hex, not base64url: an id starting with '-' reads as an option on a command line.
      const clientId = c.clientId ?? randomBytes(16).toString('hex');
      const authMethod = c.authMethod ?? (c.type === 'public' ? 'none' : 'client_secret_basic');
      const clientSecret = authMethod.startsWith('client_secret_') ? randomBytes(32).toString('base64url') : undefined;
      // A device client without a redirect URI is device-only (RFC 8628): no code flow at all.
      const codeFlow = c.redirectUris.length > 0;
      const metadata: Record<string, unknown> = {
        client_name: c.name,
        application_type: c.applicationType ?? (c.type === 'public' ? 'native' : 'web'),
        token_endpoint_auth_method: authMethod,
        redirect_uris: c.redirectUris,
        post_logout_redirect_uris: c.postLogoutRedirectUris,
        response_types: codeFlow ? ['code'] : [],
        grant_types: [...(codeFlow ? ['authorization_code'] : []), 'refresh_token', ...(c.clientCredentials ? ['client_credentials'] : []), ...(c.deviceCode ? [DEVICE_CODE_GRANT] : [])],
        scope: c.scopes.join(' '),
        ...(clientSecret ? { client_secret: clientSecret } : {}),
        ...(c.jwksUri ? { jwks_uri: c.jwksUri } : {}),
        ...(c.jwks ? { jwks: c.jwks } : {}),
        ...(c.idTokenAlg ? { id_token_signed_response_alg: c.idTokenAlg } : {}),
        ...(c.dpopBound ? { dpop_bound_access_tokens: true } : {}),
      };
      try {
        await insertClient(db, clientId, metadata, Date.now());
      } catch (err) {
        const e = translateDbError(err);
        if ((e as { code?: string }).code === 'UNIQUE_VIOLATION') throw appError(ClientErrors, 'CLIENT_EXISTS');
        throw e;
      }
      return { clientId, clientSecret, metadata };
    },

    /** Every client, or those of one source (`admin`: the CLI's; `dynamic`: self-registered, RFC 7591). */
    list(source?: ClientSource): Promise<ClientRow[]> {
      return listClients(db, source);
    },

    async show(clientId: string): Promise<ClientRow> {
      const row = await findClient(db, clientId);
      if (!row) throw appError(ClientErrors, 'CLIENT_NOT_FOUND');
      return row;
    },

    /**
     * Deletes the client and ends what it holds (RFC 7592 §2.3 semantics for every client): its
     * grants are revoked — tombstoned until `tombstoneExpiresAt`, so refresh tokens issued
     * before cannot come back — and its registration access tokens deleted.
     */
    async remove(clientId: string, tombstoneExpiresAt: number): Promise<void> {
      if (!(await deleteClientAndGrants(db, clientId, tombstoneExpiresAt))) throw appError(ClientErrors, 'CLIENT_NOT_FOUND');
    },
  };
}

export type ClientService = ReturnType<typeof createClientService>;

/**
 * RFC 9700 §2.1 / RFC 8252 §7.3 (docs/oauth.md): plain http is only for the loopback redirect of
 * a native app; a web client's code must never travel over http, loopback or not.
 */
function webHttpRedirect(c: { type: string; applicationType?: 'web' | 'native'; redirectUris: string[]; postLogoutRedirectUris: string[] }): string | undefined {
  if ((c.applicationType ?? (c.type === 'public' ? 'native' : 'web')) !== 'web') return undefined;
  for (const [field, list] of [['redirectUris', c.redirectUris], ['postLogoutRedirectUris', c.postLogoutRedirectUris]] as const) {
    const i = list.findIndex((u) => u.toLowerCase().startsWith('http:'));
    if (i !== -1) return `${field}.${i}: ${list[i]}: web clients must use https (http only for the loopback redirect of a native client)`;
  }
  return undefined;
}

/** What the CLI prints: never the secret (it is shown once, by create). */
export function publicView(row: ClientRow): Record<string, unknown> {
  const { client_secret: _secret, ...rest } = row.metadata;
  return {
    client_id: row.clientId,
    ...rest,
    source: row.source,
    created_at: new Date(row.createdAt).toISOString(),
    last_used_at: row.lastUsedAt === null ? null : new Date(row.lastUsedAt).toISOString(),
  };
}
