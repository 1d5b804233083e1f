import { parseArgs } from 'node:util';
import { createClientService, publicView } from '#authz/clients/service.js';
import type { ClientInput } from '#authz/clients/schema.js';
import type { Command } from './types.js';
import { UsageError } from './types.js';
import { withDb } from './context.js';
import { tombstoneTtlS } from '#authz/queries/oidc-models.js';
import { announce } from './announce.js';
import { recordCliEvent } from './audit.js';

const CREATE_USAGE =
  'clients:create --name NAME --type public|confidential --redirect-uri URI [--redirect-uri URI …] ' +
  '[--scope "openid offline_access …"] [--id ID] [--app-type web|native] ' +
  '[--auth-method none|client_secret_basic|client_secret_post|private_key_jwt] [--jwks-uri https://… | --jwks JSON] ' +
  '[--post-logout-redirect-uri URI …] [--client-credentials] [--device] [--dpop-bound] [--id-token-alg RS256|ES256]';

const LIST_USAGE = '[--admin | --dynamic]';

function listSource(args: string[]): 'admin' | 'dynamic' | undefined {
  if (args.length === 0) return undefined;
  if (args.length === 1 && (args[0] === '--admin' || args[0] === '--dynamic')) return args[0].slice(2) as 'admin' | 'dynamic';
  throw new UsageError(`usage: npm run admin -- clients:list ${LIST_USAGE}`);
}

function parseJwks(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError('--jwks must be a JSON object {"keys":[…]} of public keys');
  }
}

function one(args: string[], usage: string): string {
  if (args.length !== 1 || args[0]!.startsWith('--')) throw new UsageError(`usage: npm run admin -- ${usage}`);
  return args[0]!;
}

export const clientCommands: Record<string, Command> = {
  'clients:create': {
    summary: 'register an OAuth client (prints its id, and its secret once)',
    usage: CREATE_USAGE.replace(/^clients:create /, ''),
    run: async (args, write, io) => {
      let values;
      try {
        ({ values } = parseArgs({
          args,
          options: {
            name: { type: 'string' },
            type: { type: 'string' },
            id: { type: 'string' },
            'app-type': { type: 'string' },
            'auth-method': { type: 'string' },
            'redirect-uri': { type: 'string', multiple: true },
            'post-logout-redirect-uri': { type: 'string', multiple: true },
            scope: { type: 'string' },
            'jwks-uri': { type: 'string' },
            'client-credentials': { type: 'boolean' },
            device: { type: 'boolean' },
            'dpop-bound': { type: 'boolean' },
            'id-token-alg': { type: 'string' },
            jwks: { type: 'string' },
          },
          strict: true,
          allowPositionals: false,
        }));
      } catch (err) {
        throw new UsageError(`${(err as Error).message}\nusage: npm run admin -- ${CREATE_USAGE}`);
      }
      if (!values.name || !values.type) throw new UsageError(`usage: npm run admin -- ${CREATE_USAGE}`);
      const input = {
        name: values.name,
        type: values.type,
        redirectUris: values['redirect-uri'] ?? [],
        postLogoutRedirectUris: values['post-logout-redirect-uri'] ?? [],
        clientCredentials: values['client-credentials'] ?? false,
        deviceCode: values.device ?? false,
        dpopBound: values['dpop-bound'] ?? false,
        ...(values.id ? { clientId: values.id } : {}),
        ...(values['app-type'] ? { applicationType: values['app-type'] } : {}),
        ...(values['auth-method'] ? { authMethod: values['auth-method'] } : {}),
        ...(values.scope ? { scopes: values.scope.split(/\s+/).filter(Boolean) } : {}),
        ...(values['jwks-uri'] ? { jwksUri: values['jwks-uri'] } : {}),
        ...(values['id-token-alg'] ? { idTokenAlg: values['id-token-alg'] } : {}),
        ...(values.jwks ? { jwks: parseJwks(values.jwks) } : {}),
      } as ClientInput;
      await withDb(io.env, async (db, config) => {
        const created = await createClientService(db).create(input);
        await recordCliEvent(db, config, 'client.created', {
          outcome: 'success',
          subject: { type: 'client', id: created.clientId },
          properties: { authMethod: created.metadata.token_endpoint_auth_method, redirectUriCount: input.redirectUris.length },
        });
        write(`client_id=${created.clientId}`);
        if (created.clientSecret) {
          // The line stays machine-readable (`client_secret=…` alone); the warning goes to stderr.
          write(`client_secret=${created.clientSecret}`);
          io.warn('The client secret is shown once: store it now.');
        }
      });
    },
  },
  'clients:list': {
    summary: 'list clients: operator-created first, then self-registered (RFC 7591) ones',
    usage: LIST_USAGE,
    run: (args, write, io) => {
      const source = listSource(args);
      return withDb(io.env, async (db) => {
        const rows = await createClientService(db).list(source);
        if (rows.length === 0) write(source ? `no ${source} clients` : 'no clients');
        // One line per client: id, type, name, source, last use (dynamic clients only; '-' when never).
        for (const r of [...rows.filter((x) => x.source === 'admin'), ...rows.filter((x) => x.source === 'dynamic')]) {
          const m = r.metadata as { client_name?: string; token_endpoint_auth_method?: string };
          const lastUsed = r.source === 'dynamic' ? (r.lastUsedAt === null ? '-' : new Date(r.lastUsedAt).toISOString()) : '';
          write([r.clientId, m.token_endpoint_auth_method === 'none' ? 'public' : 'confidential', m.client_name ?? '', r.source, lastUsed].join('\t').trimEnd());
        }
      });
    },
  },
  'clients:show': {
    summary: 'show one client (JSON, without its secret)',
    usage: 'CLIENT_ID',
    run: (args, write, io) =>
      withDb(io.env, async (db) => write(JSON.stringify(publicView(await createClientService(db).show(one(args, 'clients:show CLIENT_ID'))), null, 2))),
  },
  'clients:delete': {
    summary: 'delete a client (operator-created or self-registered)',
    usage: 'CLIENT_ID',
    run: (args, write, io) =>
      withDb(io.env, async (db, config) => {
        const id = one(args, 'clients:delete CLIENT_ID');
        await createClientService(db).remove(id, Date.now() + tombstoneTtlS(config.tokens) * 1000);
        await recordCliEvent(db, config, 'client.deleted', { outcome: 'success', subject: { type: 'client', id }, properties: { reason: 'operator' } });
        write(`deleted ${id}`);
        // Its grants' access tokens and its own die at every API replica too.
        await announce(config, { type: 'client.deleted', clientId: id, at: Date.now() });
      }),
  },
};
