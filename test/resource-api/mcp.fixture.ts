import { expect } from 'chai';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { HttpBrowser } from '../helpers/http-browser.js';
import { signedInTokens } from '../authz-server/oidc.flow.js';
import type { ApiAnswer, Stack } from '../security/stack.js';

/** What a marketplace agent asks for: the buyer's scopes (shared/oauth/scopes.ts DEFAULT_AGENT_SCOPES). */
export const AGENT_SCOPES = 'listings:read reviews:write checkout:create usage:report usage:read';

/** The MCP endpoint's resource identifier: `<API_AUDIENCE>/mcp` (RFC 8707, RFC 9728). */
export const mcpResource = (s: Stack) => `${s.env.config.api.audience}/mcp`;

/** An access token from the real code flow (login, consent, PKCE); `resource` selects its audience. */
export async function tokenFor(s: Stack, email: string, o: { scope?: string; resource?: string } = {}): Promise<string> {
  const extra = o.resource ? { resource: o.resource } : undefined;
  return (await signedInTokens(s.client, new HttpBrowser(), { email, scope: `openid ${o.scope ?? AGENT_SCOPES}`, ...(extra ? { extra } : {}) })).access_token;
}

/** The test agent: the official SDK client over Streamable HTTP with a bearer token, connected. */
export async function connectAgent(s: Stack, token: string, headers: Record<string, string> = {}): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${s.apiUrl}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}`, ...headers } } });
  const client = new Client({ name: 'portcullis-test-agent', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

export interface ToolAnswer {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  content: { type: string; text?: string }[];
}

export const call = async (agent: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> => (await agent.callTool({ name, arguments: args })) as ToolAnswer;

/** A tool's answer: structured content, and the same JSON as its text. */
export function result(a: ToolAnswer): Record<string, unknown> {
  expect(a.isError ?? false, JSON.stringify(a)).to.equal(false);
  expect(JSON.parse(a.content[0]!.text!)).to.deep.equal(a.structuredContent);
  return a.structuredContent!;
}

/** A tool's refusal: the error body the REST route answers, as the tool result's text. */
export function refusal(a: ToolAnswer): { code: string; message: string; requestId: string; details?: unknown } {
  expect(a.isError, JSON.stringify(a)).to.equal(true);
  expect(a.structuredContent).to.equal(undefined);
  return (JSON.parse(a.content[0]!.text!) as { error: { code: string; message: string; requestId: string } }).error;
}

/** A REST error body without its request id, to compare with a tool's refusal. */
export function restError(res: ApiAnswer): Record<string, unknown> {
  expect(res.body?.error, res.text).to.be.an('object');
  const { requestId, ...rest } = res.body.error as Record<string, unknown>;
  expect(requestId).to.equal(res.headers.get('x-request-id'));
  return rest;
}

export function withoutRequestId(e: { requestId: string }): Record<string, unknown> {
  const { requestId, ...rest } = e;
  expect(requestId).to.match(/^[0-9a-f-]{36}$/);
  return rest;
}

/** A hand-written JSON-RPC POST to /mcp, for the cases the SDK client would not send. */
export async function postMcp(s: Stack, o: { token?: string; headers?: Record<string, string>; body?: unknown; method?: string } = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  const body = o.body === undefined ? { jsonrpc: '2.0', id: 1, method: 'tools/list' } : o.body;
  const res = await fetch(`${s.apiUrl}/mcp`, { method: o.method ?? 'POST', headers, body: (o.method ?? 'POST') === 'POST' ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/** audit_log rows the API process wrote (its queue drains right after the answer), oldest first. */
export async function auditRows(s: Stack, where: Record<string, unknown>, count: number): Promise<Record<string, unknown>[]> {
  for (let i = 0; i < 50; i++) {
    const rows = await s.db('audit_log').where(where).orderBy([{ column: 'created_at', order: 'asc' }, { column: 'id', order: 'asc' }]);
    if (rows.length >= count) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
  return s.db('audit_log').where(where);
}
