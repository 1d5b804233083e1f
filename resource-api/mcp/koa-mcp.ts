import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Audit } from '#shared/audit/index.js';
import type { Config } from '#shared/config/index.js';
import { appError, HttpErrors } from '#shared/errors/index.js';
import { koaBody, originsOf, toAppError } from '#shared/http/index.js';
import type { Logger } from '#shared/logging/logger.js';
import { invokeContract } from '../http/contract.js';
import { createMcpServer } from './server.js';
import { splitArguments, type ContractTool } from './tools.js';
import { toolRefusal, toolResult } from './results.js';
import { MCP_PATH } from './resource.js';
import { scopesFor } from '../auth/scopes.js';
import { AuthErrors } from '../auth/errors.js';
import { challenge } from '../middleware/koa-auth.js';

export interface McpEndpointDeps {
  config: Pick<Config, 'api' | 'frontendOrigins' | 'http'>;
  /** koa-auth for the MCP resource: bearer tokens whose audience is /mcp, nothing else. */
  auth: Middleware;
  tools: readonly ContractTool[];
  audit: Pick<Audit, 'record'>;
  logger: Logger;
}

/**
 * MCP Streamable HTTP transport spec, security warning: servers MUST validate Origin (DNS
 * rebinding). A browser page may call /mcp from the marketplace's own front ends or the API's
 * origin only; a request without Origin is not a browser's and passes.
 */
function checkOrigin(config: McpEndpointDeps['config']): Middleware {
  const allowed = new Set([...originsOf(config.frontendOrigins), new URL(config.api.audience).origin]);
  return async (ctx, next) => {
    const origin = ctx.get('Origin');
    if (origin && !allowed.has(origin)) throw appError(HttpErrors, 'ORIGIN_NOT_ALLOWED');
    await next();
  };
}

/** Stateless: no session to resume (GET) or end (DELETE), so only POST is served. */
const onlyPost: Middleware = async (ctx, next) => {
  if (ctx.method !== 'POST') throw appError(HttpErrors, 'METHOD_NOT_ALLOWED', { headers: { Allow: 'POST' } });
  await next();
};

const jsonOnly: Middleware = async (ctx, next) => {
  if (!ctx.is('application/json')) throw appError(HttpErrors, 'UNSUPPORTED_MEDIA_TYPE');
  await next();
};

/**
 * MCP authorization, scope challenge handling: a tools/call whose tool needs a scope the token
 * lacks is answered at the HTTP level — 403 with `error="insufficient_scope"` and the scopes to
 * ask for — so the client can step up (the official SDK re-authorizes and retries by itself).
 * The scope named is the token's own scopes plus the missing ones, so stepping up never loses a
 * permission already granted. The role rule (FORBIDDEN), USER_TOKEN_REQUIRED and everything else
 * stay tool results: asking the person for more scopes would not change them.
 */
function scopeChallenge(tools: readonly ContractTool[]): Middleware {
  const byName = new Map(tools.map((t) => [t.definition.name, t]));
  return async (ctx, next) => {
    const p = ctx.state.principal;
    const body = (ctx.request as unknown as { body?: unknown }).body;
    const calls = (Array.isArray(body) ? body : [body]) as { method?: unknown; params?: { name?: unknown } }[];
    if (p?.kind === 'user' && p.scopes) {
      for (const call of calls) {
        if (call?.method !== 'tools/call' || typeof call.params?.name !== 'string') continue;
        const access = byName.get(call.params.name)?.contract.access;
        if (!access || typeof access !== 'object') continue;
        const missing = scopesFor(access.permission).filter((s): s is string => s !== null && !p.scopes!.includes(s));
        if (missing.length === 0) continue;
        const wanted = [...new Set([...p.scopes, ...missing])].join(' ');
        throw appError(AuthErrors, 'INSUFFICIENT_SCOPE', { headers: challenge('insufficient_scope', `${call.params.name} needs ${missing.join(' ')}`, wanted) });
      }
    }
    await next();
  };
}

/** One tool call through the contract (access rule, input, handler, audit), as a tool result. */
function callTool(deps: McpEndpointDeps, ctx: Context) {
  return async (tool: ContractTool, args: unknown) => {
    try {
      const raw = splitArguments(tool.contract, args);
      return toolResult(await invokeContract(tool.contract, raw, { ctx, caller: ctx.state.principal, audit: deps.audit }));
    } catch (err) {
      const e = toAppError(err);
      // Logged as koa-error-handler logs a REST 5xx; the agent gets the generic body.
      if (e.status >= 500 && e.expected) deps.logger.warn({ requestId: ctx.state.requestId, code: e.code, status: e.status, tool: tool.definition.name }, 'answered by design');
      else if (e.status >= 500) deps.logger.error({ requestId: ctx.state.requestId, err, tool: tool.definition.name }, 'unhandled error in an MCP tool');
      return toolRefusal(e, String(ctx.state.requestId ?? ''));
    }
  };
}

/** A fresh server and transport for this request, JSON answers (no SSE stream to keep open). */
function serve(deps: McpEndpointDeps): Middleware {
  return async (ctx) => {
    const server = createMcpServer(deps.tools, callTool(deps, ctx));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    ctx.res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    ctx.set('Cache-Control', 'no-store');
    ctx.respond = false; // the transport writes the answer
    await transport.handleRequest(ctx.req, ctx.res, (ctx.request as unknown as { body?: unknown }).body);
  };
}

/** POST /mcp, read top to bottom: origin, method, token, media type, bounded JSON body, scopes, MCP. */
export function mcpEndpoint(deps: McpEndpointDeps): Router {
  const body = koaBody({ limitBytes: deps.config.http.bodyLimitBytes });
  return new Router().all(MCP_PATH, checkOrigin(deps.config), onlyPost, deps.auth, jsonOnly, body, scopeChallenge(deps.tools), serve(deps));
}
