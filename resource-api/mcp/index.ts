import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { Audit } from '#shared/audit/index.js';
import type { Config } from '#shared/config/index.js';
import type { Logger } from '#shared/logging/logger.js';
import type { RouteContract } from '../http/contract.js';
import { mcpEndpoint } from './koa-mcp.js';
import { mcpMetadataRoutes } from './metadata.js';
import { mcpScopes } from './resource.js';
import { contractTools } from './tools.js';

export { MCP_METADATA_PATH, MCP_PATH, mcpResource } from './resource.js';
export { TOOL_CATALOG } from './tools.js';

/**
 * The marketplace MCP server (docs/mcp.md): its protected resource metadata and the stateless
 * Streamable HTTP endpoint, whose tools are the API's own contracts.
 */
export function mcpRoutes(deps: { config: Config; contracts: readonly RouteContract[]; auth: Middleware; audit: Pick<Audit, 'record'>; logger: Logger }): Router[] {
  const tools = contractTools(deps.contracts);
  const scopes = mcpScopes(tools.map((t) => t.contract), deps.config);
  return [mcpMetadataRoutes(deps.config, scopes), mcpEndpoint({ ...deps, tools })];
}
