import type { Config } from '#shared/config/index.js';
import { API_SCOPES } from '#shared/oauth/scopes.js';
import { scopesFor } from '../auth/scopes.js';
import type { RouteContract } from '../http/contract.js';
import { metadataPathFor } from '../middleware/koa-resource-metadata.js';

/** Where the MCP endpoint lives on the API's server. */
export const MCP_PATH = '/mcp';
export const MCP_METADATA_PATH = metadataPathFor(MCP_PATH);

/**
 * The MCP endpoint is a protected resource of its own (RFC 9728), with its own identifier, so an
 * agent's token is good at /mcp only and a REST token is not (RFC 8707: the authorization server
 * issues each for one audience, authz-server/oidc/resource.ts).
 */
export const mcpResource = (config: Pick<Config, 'api'>): string => `${config.api.audience}${MCP_PATH}`;

/**
 * The scopes the tools need, as the metadata advertises them: those of their contracts' access
 * rules, within what a self-registered agent may hold (AGENT_SCOPES) and the API's scopes.
 * Tools over public routes need none.
 */
export function mcpScopes(contracts: readonly RouteContract[], config: Pick<Config, 'agents'>): string[] {
  const needed = new Set(contracts.flatMap((c) => (typeof c.access === 'object' ? scopesFor(c.access.permission) : [])));
  return API_SCOPES.filter((s) => needed.has(s) && config.agents.scopes.includes(s));
}
