import { z } from 'zod';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { appError, HttpErrors } from '#shared/errors/index.js';
import type { RawInput, RouteContract } from '../http/contract.js';

/**
 * The marketplace tools, each the twin of one REST operation (by operationId): the same
 * contract, so the same input rules, access rule, handler, answers, refusal codes and audit
 * events. `note` adds what an agent must know beyond the route's summary.
 */
export const TOOL_CATALOG = [
  { name: 'search_listings', operationId: 'listListings', title: 'Search listings' },
  { name: 'get_listing', operationId: 'getListing', title: 'Get a listing' },
  { name: 'my_quotas', operationId: 'listQuotas', title: 'My entitlements and quotas' },
  {
    name: 'report_usage', operationId: 'reportUsage', title: 'Report usage',
    note: 'Send a fresh UUID as clientReqId per unit of work: repeating it replays the first answer (replayed: true) and consumes nothing more.',
  },
  {
    name: 'start_checkout', operationId: 'createCheckoutSession', title: 'Start a checkout',
    note: 'Give the returned url to the person: they pay on the Stripe page themselves. Never ask for or send card data.',
  },
  { name: 'write_review', operationId: 'createReview', title: 'Write a review' },
] as const;

const PARTS = ['params', 'query', 'body'] as const;
type Part = (typeof PARTS)[number];

export interface ContractTool {
  definition: Tool;
  contract: RouteContract;
}

/**
 * Resolves the catalog against the API's contracts, once at start-up: a missing operation or a
 * field name two input parts share is a programming error and stops the boot.
 */
export function contractTools(contracts: readonly RouteContract[]): ContractTool[] {
  return TOOL_CATALOG.map((entry) => {
    const contract = contracts.find((c) => c.operationId === entry.operationId);
    if (!contract) throw new Error(`MCP tool ${entry.name}: no contract with operationId ${entry.operationId}`);
    const shape = mergedShape(contract, entry.name);
    return {
      contract,
      definition: {
        name: entry.name,
        title: entry.title,
        description: 'note' in entry ? `${contract.summary}. ${entry.note}` : `${contract.summary}.`,
        // What the route's path parameters, query and body accept, as one object.
        inputSchema: jsonSchema(z.strictObject(shape), 'input') as Tool['inputSchema'],
        outputSchema: jsonSchema(contract.response, 'output') as Tool['outputSchema'],
        annotations: { readOnlyHint: contract.method === 'get', idempotentHint: contract.method === 'get' || entry.name === 'report_usage', openWorldHint: false },
      },
    };
  });
}

function mergedShape(c: RouteContract, name: string): Record<string, z.core.$ZodType> {
  const shape: Record<string, z.core.$ZodType> = {};
  for (const part of PARTS) {
    for (const [key, schema] of Object.entries(c[part]?.shape ?? {})) {
      if (key in shape) throw new Error(`MCP tool ${name}: input field ${key} is in two parts of ${c.operationId}`);
      shape[key] = schema;
    }
  }
  return shape;
}

/**
 * JSON Schema draft-07 (what the SDK itself emits for zod), with every named schema inlined: a
 * tool's schemas must be objects at their root (MCP `Tool`), not a `$ref` to a definition.
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  return z.toJSONSchema(schema, { io, target: 'draft-7', metadata: z.registry() }) as Record<string, unknown>;
}

/**
 * Sorts a tool's arguments back into the route's path parameters, query and body, so the
 * contract's own schemas judge them (and answer the route's VALIDATION_FAILED). A name no part
 * knows goes to the last part, whose strict schema refuses it.
 */
export function splitArguments(c: RouteContract, args: unknown): RawInput {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw appError(HttpErrors, 'VALIDATION_FAILED', { data: { issues: [{ in: 'arguments', path: '', message: 'expected an object' }] } });
  }
  const parts = PARTS.filter((p) => c[p]);
  const entries = new Map<Part, [string, unknown][]>(parts.map((p) => [p, []]));
  for (const [key, value] of Object.entries(args)) {
    const part = parts.find((p) => Object.hasOwn(c[p]!.shape, key)) ?? parts.at(-1);
    if (!part) throw appError(HttpErrors, 'VALIDATION_FAILED', { data: { issues: [{ in: 'arguments', path: key, message: 'this tool takes no arguments' }] } });
    entries.get(part)!.push([key, value]);
  }
  // fromEntries: every name an own property, `__proto__` included, for the strict schemas to see.
  return Object.fromEntries([...entries].map(([part, e]) => [part, Object.fromEntries(e)]));
}
