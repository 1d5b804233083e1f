import { z } from 'zod';
import type { Config } from '#shared/config/index.js';
import { API_SCOPES } from '#shared/oauth/scopes.js';
import { scopesFor } from '../auth/scopes.js';
import type { RouteContract } from './contract.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid input (VALIDATION_FAILED, INVALID_JSON, UNSUPPORTED_CHARACTER, …)',
  401: 'Missing or invalid credentials',
  402: 'Payment required',
  403: 'Not allowed (role, scope, ownership, or a session write from an untrusted origin)',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Body too large',
  415: 'Body must be application/json',
  422: 'Rejected by a business rule',
  503: 'A dependency is unavailable',
};

const json = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { io, unrepresentable: 'any' });

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
      security: c.access === 'public' ? [{}, { bearer: [] }, { session: [] }] : [{ bearer: scopes.filter((s): s is string => s !== null) }, { session: [] }],
      ...(permission ? { 'x-permission': permission } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Portcullis marketplace API', version: '1' },
    servers: [{ url: config.api.audience }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'oauth2', flows: { authorizationCode: { authorizationUrl: `${config.authz.issuer}/auth`, tokenUrl: `${config.authz.issuer}/token`, scopes: Object.fromEntries(API_SCOPES.map((s) => [s, s])) } } },
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
