import { z } from 'zod';
import type { Config } from '#shared/config/index.js';
import type { RouteContract, SignedRouteDoc } from './contract.js';
import { ERROR_SCHEMA, assertErrorStatuses, errorResponses, operationCodes } from './openapi.errors.js';
import { createSchemaBook } from './openapi.schemas.js';
import { CLIENT_TOKENS, securityOf, securitySchemes } from './openapi.security.js';

type SchemaBook = ReturnType<typeof createSchemaBook>;

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
const pascal = (id: string) => id[0]!.toUpperCase() + id.slice(1);
const jsonBody = (schema: unknown) => ({ content: { 'application/json': { schema } } });

/** Operation ids name a generated client's methods: unique, camelCase, checked before anything is served. */
function assertOperationIds(ids: string[]): void {
  const seen = new Set<string>();
  for (const id of ids) {
    if (!/^[a-z][a-zA-Z0-9]*$/.test(id)) throw new Error(`OpenAPI: operationId ${id} is not camelCase`);
    if (seen.has(id)) throw new Error(`OpenAPI: operationId ${id} is used twice`);
    seen.add(id);
  }
}

function contractOperation(c: RouteContract, book: SchemaBook) {
  const name = pascal(c.operationId);
  const parameters = [
    ...Object.entries((c.params ? json(c.params).properties : {}) ?? {}).map(([param, schema]) => ({ name: param, in: 'path', required: true, schema })),
    ...Object.entries((c.query ? json(c.query).properties : {}) ?? {}).map(([param, schema]) => ({ name: param, in: 'query', required: false, schema })),
  ];
  const success = c.status === 204 ? { description: 'Done' } : { description: 'Success', ...jsonBody(book.ref(c.response, 'output', `${name}Response`)) };
  return {
    operationId: c.operationId,
    summary: c.summary,
    tags: [c.tag],
    ...(parameters.length ? { parameters } : {}),
    ...(c.body ? { requestBody: { required: true, ...jsonBody(book.ref(c.body, 'input', `${name}Request`)) } } : {}),
    responses: { [c.status]: success, ...errorResponses(operationCodes(c)) },
    security: securityOf(c.access),
    ...(typeof c.access === 'object' ? { 'x-permission': c.access.permission } : {}),
  };
}

function signedOperation(d: SignedRouteDoc, book: SchemaBook) {
  return {
    operationId: d.operationId,
    summary: d.summary,
    description: d.description,
    tags: [d.tag],
    parameters: [{ name: d.signature.header, in: 'header', required: true, description: d.signature.description, schema: { type: 'string' } }],
    requestBody: { required: true, description: 'The event exactly as Stripe sent it: the signature covers these bytes.', ...jsonBody(book.ref(d.body, 'input', `${pascal(d.operationId)}Request`)) },
    responses: {
      [d.status]: { description: d.statusText[d.status]!, ...jsonBody(book.ref(d.response, 'output', `${pascal(d.operationId)}Response`)) },
      ...errorResponses(d.errorCodes, d.statusText),
    },
    security: [{ [d.signature.scheme]: [] }],
  };
}

/**
 * OpenAPI 3.1 generated from the same contracts that register the routes, plus the signed routes
 * outside them (the Stripe webhook: raw body). Inconsistent contracts fail here, when the app is built.
 */
export function openApiDocument(contracts: readonly RouteContract[], config: Config, signed: readonly SignedRouteDoc[] = []) {
  assertOperationIds([...contracts, ...signed].map((c) => c.operationId));
  contracts.forEach(assertErrorStatuses);
  const book = createSchemaBook();
  const paths: Record<string, Record<string, unknown>> = {};
  const add = (method: string, path: string, operation: unknown) => void ((paths[path.replace(/:(\w+)/g, '{$1}')] ??= {})[method] = operation);
  for (const c of contracts) add(c.method, c.path, contractOperation(c, book));
  for (const d of signed) add(d.method, d.path, signedOperation(d, book));
  return {
    openapi: '3.1.0',
    info: { title: 'Portcullis marketplace API', version: '1', description: CLIENT_TOKENS },
    servers: [{ url: config.api.audience }],
    paths,
    components: { securitySchemes: securitySchemes(config), schemas: { Error: ERROR_SCHEMA, ...book.schemas() } },
  };
}
