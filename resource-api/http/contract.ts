import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import type { Audit } from '#shared/audit/index.js';
import { appError, HttpErrors, isAppError, StorageErrors, type AppError, type ErrorCatalog } from '#shared/errors/index.js';
import { koaBody } from '#shared/http/index.js';
import { authorize, koaGuard, type Access } from '../middleware/koa-guard.js';
import { recordAudit, type AnswerAuditRule, type AuditFacts } from '../middleware/koa-audit.js';
import { personOf, type Caller, type Principal } from '../auth/principal.js';
import { UNSUPPORTED_CHARACTER } from './fields.js';

type Method = 'get' | 'post' | 'patch' | 'delete';
type AnyObject = z.ZodObject<z.ZodRawShape>;

/** A catalog code a route can answer. The status is the catalog's, so the two cannot disagree. */
export interface ErrorCodeRef {
  code: string;
  status: number;
}

/** `errorCodes(ListingErrors, 'SLUG_TAKEN')`: the names are checked against the catalog by the compiler. */
export function errorCodes<C extends ErrorCatalog>(catalog: C, ...codes: (keyof C & string)[]): ErrorCodeRef[] {
  return codes.map((code) => ({ code, status: catalog[code]!.status }));
}

/** What a handler (and an audit rule) gets: the parsed input and the person calling. */
export interface ContractInput<P extends AnyObject = AnyObject, Q extends AnyObject = AnyObject, B extends AnyObject = AnyObject> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
  /** The person calling; undefined for an anonymous caller or a client acting for itself. */
  principal: Principal | undefined;
}

/**
 * The audit events an operation records, wherever it is called from (its REST route, an MCP
 * tool): one on success, and one per refusal code that is an event (services stay free of
 * audit plumbing). The actor and the request's id, address and agent are added when recorded.
 */
export interface ContractAudit<I extends ContractInput = ContractInput> {
  success?: (input: I) => AuditFacts;
  refused?: Partial<Record<string, (input: I, error: AppError) => AuditFacts>>;
}

/**
 * One route's whole contract in one place: path, who may call it, input schemas (strict:
 * unknown fields are refused), response schema, documented statuses and audit events. The same
 * object registers the Koa route and the MCP tool, validates input, and feeds /openapi.json and
 * the RBAC tests.
 */
export interface RouteContract<P extends AnyObject = AnyObject, Q extends AnyObject = AnyObject, B extends AnyObject = AnyObject> {
  method: Method;
  path: string;
  /** Stable camelCase name of the operation in /openapi.json (generated clients name methods after it). */
  operationId: string;
  summary: string;
  tag: string;
  /**
   * `public`: no credential needed (an optional one is still read), and a client acting for
   * itself (client_credentials) is served like an anonymous caller. Otherwise the route acts for
   * a person — any signed-in one (`authenticated`) or one whose role and token scopes allow a
   * permission — and a client's own token is 403 USER_TOKEN_REQUIRED.
   */
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  response: z.ZodType;
  status: 200 | 201 | 204;
  /**
   * Error statuses this route can answer besides the cross-cutting 500 and 503 (outage, shutdown):
   * exactly the statuses of its error codes, which openapi.errors.ts checks when the app is built.
   */
  errors: number[];
  /**
   * Codes the handler and its services throw. Those of the credential, the access rule and input
   * parsing follow from the contract itself (openapi.errors.ts), so they are not repeated here.
   */
  errorCodes?: ErrorCodeRef[];
  audit?: ContractAudit<ContractInput<NoInfer<P>, NoInfer<Q>, NoInfer<B>>>;
  handler: (ctx: Context, input: ContractInput<P, Q, B>) => Promise<unknown>;
}

/**
 * A route registered outside the contracts, described here for /openapi.json and its audit
 * events. The Stripe webhook reads its raw body (the signature covers the bytes) and is signed
 * rather than authorized, so it lists every code it can answer itself.
 */
export interface SignedRouteDoc {
  method: Method;
  path: string;
  operationId: string;
  summary: string;
  description: string;
  tag: string;
  /** The security scheme (openapi.security.ts) and the header that carries the signature. */
  signature: { scheme: 'stripeSignature'; header: string; description: string };
  /** The JSON the signature covers, as documentation: the route parses nothing before verifying. */
  body: z.ZodType;
  response: z.ZodType;
  status: 200;
  /** What each status means to the sender, who retries on anything but a 2xx. */
  statusText: Record<number, string>;
  errorCodes: ErrorCodeRef[];
  /** The event each answer records (koaAnswerAudit, mounted on the route itself: it never passes through runContract). */
  audit: AnswerAuditRule;
}

export function defineRoute<P extends AnyObject, Q extends AnyObject, B extends AnyObject>(c: RouteContract<P, Q, B>): RouteContract {
  return c as unknown as RouteContract;
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.output<T> {
  if (!schema) return {} as z.output<T>;
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const toIssue = (i: z.core.$ZodIssue) => ({ in: where, path: i.path.join('.'), message: i.message });
  // The same answer a NUL gets where PostgreSQL refuses it (shared/db/errors.ts), on every backend.
  const unstorable = r.error.issues.filter((i) => i.code === 'custom' && i.params?.code === UNSUPPORTED_CHARACTER);
  if (unstorable.length) throw appError(StorageErrors, 'UNSUPPORTED_CHARACTER', { data: { issues: unstorable.slice(0, 10).map(toIssue) } });
  throw appError(HttpErrors, 'VALIDATION_FAILED', { data: { issues: r.error.issues.slice(0, 10).map(toIssue) } });
}

/** The input of one call before parsing: path parameters, query and JSON body. */
export interface RawInput {
  params?: unknown;
  query?: unknown;
  body?: unknown;
}

/** Where a call comes from: its HTTP request (REST route or /mcp), the caller koa-auth found, the audit trail. */
export interface Invocation {
  ctx: Context;
  caller: Caller | undefined;
  audit: Pick<Audit, 'record'>;
}

/**
 * Parses the input, runs the handler and records the contract's audit event: what a REST route
 * and an MCP tool share once the caller is authorized. Answers the handler's result; throws the
 * same AppError (same stable code) either way.
 */
export async function runContract(c: RouteContract, raw: RawInput, inv: Invocation): Promise<unknown> {
  const input: ContractInput = {
    params: parse(c.params, raw.params, 'path'),
    query: parse(c.query, raw.query, 'query'),
    body: parse(c.body, raw.body, 'body'),
    principal: personOf(inv.caller),
  };
  let result: unknown;
  try {
    result = await c.handler(inv.ctx, input);
  } catch (err) {
    const rule = isAppError(err) ? c.audit?.refused?.[err.code] : undefined;
    if (rule) recordAudit(inv.audit, inv.ctx, inv.caller, 'denied', rule(input, err as AppError));
    throw err;
  }
  if (c.audit?.success) recordAudit(inv.audit, inv.ctx, inv.caller, 'success', c.audit.success(input));
  return result;
}

/** One call of an operation from outside its REST route (the MCP tools): its access rule, then runContract. */
export async function invokeContract(c: RouteContract, raw: RawInput, inv: Invocation): Promise<unknown> {
  authorize(inv.caller, c.access);
  return runContract(c, raw, inv);
}

export interface RouteDeps {
  /** koa-auth: required credential. */
  auth: Middleware;
  /** koa-auth variant that lets anonymous callers through. */
  optionalAuth: Middleware;
  bodyLimitBytes: number;
  audit: Pick<Audit, 'record'>;
}

/**
 * The REST routes. The access rule runs before the body is read (a refused caller never gets
 * as far as a 413 or 415), then runContract, as for an MCP tool.
 */
export function registerRoutes(contracts: readonly RouteContract[], deps: RouteDeps): Router {
  const router = new Router();
  const body = koaBody({ limitBytes: deps.bodyLimitBytes });
  for (const c of contracts) {
    const chain: Middleware[] = [c.access === 'public' ? deps.optionalAuth : deps.auth, koaGuard(c.access)];
    if (c.body) {
      chain.push(async (ctx, next) => {
        if (!ctx.is('application/json')) throw appError(HttpErrors, 'UNSUPPORTED_MEDIA_TYPE');
        await next();
      });
      chain.push(body);
    }
    chain.push(async (ctx) => {
      const raw = { params: ctx.params, query: ctx.query, body: (ctx.request as unknown as { body?: unknown }).body };
      const result = await runContract(c, raw, { ctx, caller: ctx.state.principal, audit: deps.audit });
      ctx.status = c.status;
      if (c.status !== 204) ctx.body = result;
      if (c.method !== 'get' || c.access !== 'public') ctx.set('Cache-Control', 'no-store');
    });
    router[c.method](c.path, ...chain);
  }
  return router;
}
