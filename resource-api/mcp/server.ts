import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ContractTool } from './tools.js';

const INFO = { name: 'portcullis-marketplace', version: '1.0.0' };
const INSTRUCTIONS =
  'Tools of the Portcullis agent marketplace, acting for the person who authorized you. Each mirrors a REST route of the API ' +
  '(same answers, same error codes): a refusal is a tool result with isError and { "error": { "code", "message" } }.';

/** Runs one tool call for the request being served; answers a result or a refusal, never throws. */
export type CallTool = (tool: ContractTool, args: unknown) => Promise<CallToolResult>;

/**
 * One MCP server per HTTP request (stateless: any replica answers any request). The tools are
 * served through McpServer's underlying Server rather than registerTool: registerTool validates
 * arguments itself and answers a failure with a bare text message before the tool runs, whereas
 * here the contract's schemas are the one judge, so bad input is the route's VALIDATION_FAILED.
 */
export function createMcpServer(tools: readonly ContractTool[], call: CallTool): McpServer {
  const mcp = new McpServer(INFO, { instructions: INSTRUCTIONS });
  const byName = new Map(tools.map((t) => [t.definition.name, t]));
  mcp.server.registerCapabilities({ tools: {} });
  mcp.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: tools.map((t) => t.definition) }));
  mcp.server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const tool = byName.get(request.params.name);
    // MCP tools spec: an unknown tool is a protocol error, not a tool result.
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
    return call(tool, request.params.arguments ?? {});
  });
  return mcp;
}
