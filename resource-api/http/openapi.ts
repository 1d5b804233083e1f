import { z } from 'zod';
import type { Config } from '#shared/config/index.js';
import { API_SCOPES } from '#shared/oauth/scopes.js';
import { scopesFor } from '../auth/scopes.js';
import type { RouteContract } from './contract.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid input (VALIDATION_FAILED, INVALID_JSON, UNSUPPORTED_CHARACTER, …)',
  401: 'Missing or invalid credentials',
  402: 'Payment required',
  403: 'Not allowed (role, scope, ownership, a session write from an untrusted origin, or USER_TOKEN_REQUIRED: a client acting for itself on a route that acts for a person)',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Body too large',
  415: 'Body must be application/json',
  422: 'Rejected by a business rule',
  503: 'A dependency is unavailable',
};

const json = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { io, unrepresentable: 'any' });

/**
 * Who may call, as OpenAPI security requirements: `public` routes take no credential, a person's
 * token (`bearer`), a client's own token (`clientToken`, client_credentials) or the session;
 * every other route acts for a person: `bearer` with the route's scopes, or the session.
 */
function security(c: RouteContract, scopes: string[]) {
  if (c.access === 'public') return [{}, { bearer: [] }, { clientToken: [] }, { session: [] }];
  return [{ bearer: scopes }, { session: [] }];
}

const CLIENT_TOKENS =
  'A client acting for itself (client_credentials token, `sub` = `client_id`) may call the operations whose security lists `clientToken` — the public ones, where it sees what an anonymous caller sees. Every other operation acts for a person and answers it `403 USER_TOKEN_REQUIRED`.';

/** OpenAPI 3.1 generated from the same contracts that register the routes. */
export function openApiDocument(contracts: readonly RouteContract[], config: Config) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const c of contracts) {
    const path = c.path.replace(/:(\w+)/g, '{$1}');
    const parameters = [
      ...Object.entries((c.params ? json(c.params, 'input').properties : {}) ?? {}).map(([name, schema]) => ({ name, in: 'path', required: true, schema })),
      ...Object.entries((c.query ? json(c.query, 'input').properties : {}) ?? {}).map(([name, schema]) => ({ name, in: 'query', required: false, schema })),
    ];
    const permission = typeof c.access === 'object' ? c.access.permission : undefined;
    const scopes = permission ? scopesFor(permission) : [];
    const responses: Record<string, unknown> = {
      [c.status]: c.status === 204 ? { description: 'Done' } : { description: 'Success', content: { 'application/json': { schema: json(c.response, 'output') } } },
    };
    for (const s of c.errors) responses[s] = { description: STATUS_TEXT[s] ?? 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    (paths[path] ??= {})[c.method] = {
      summary: c.summary,
      tags: [c.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(c.body ? { requestBody: { required: true, content: { 'application/json': { schema: json(c.body, 'input') } } } } : {}),
      responses,
      security: security(c, scopes.filter((s): s is string => s !== null)),
      ...(permission ? { 'x-permission': permission } : {}),
    };
  }
  const apiScopes = Object.fromEntries(API_SCOPES.map((s) => [s, s]));
  return {
    openapi: '3.1.0',
    info: { title: 'Portcullis marketplace API', version: '1', description: CLIENT_TOKENS },
    servers: [{ url: config.api.audience }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'oauth2', description: "A person's token (authorization code).", flows: { authorizationCode: { authorizationUrl: `${config.authz.issuer}/auth`, tokenUrl: `${config.authz.issuer}/token`, scopes: apiScopes } } },
        clientToken: { type: 'oauth2', description: CLIENT_TOKENS, flows: { clientCredentials: { tokenUrl: `${config.authz.issuer}/token`, scopes: apiScopes } } },
        session: { type: 'apiKey', in: 'cookie', name: 'portcullis.session_token' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'object', required: ['code', 'message', 'requestId'], properties: { code: { type: 'string' }, message: { type: 'string' }, requestId: { type: 'string' }, details: { type: 'object' } } } },
        },
      },
    },
  };
}
