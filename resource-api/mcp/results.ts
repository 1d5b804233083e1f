import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { HttpErrors, type AppError } from '#shared/errors/index.js';
import type { ErrorBody } from '#shared/http/index.js';

/** The route's JSON answer, as structured content and as text for clients that read only text. */
export function toolResult(value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value as Record<string, unknown> };
}

/**
 * A refusal as a tool result (MCP: tool errors are results with isError, so the model sees
 * them), carrying the body the REST route answers (shared/http/koa-error-handler.ts): the same
 * stable code, the same generic text for anything not exposed.
 */
export function toolRefusal(e: AppError, requestId: string): CallToolResult {
  const error: ErrorBody['error'] = {
    code: e.expose ? e.code : 'INTERNAL_ERROR',
    message: e.expose ? e.message : HttpErrors.INTERNAL_ERROR.message,
    requestId,
    ...(e.expose && e.data ? { details: e.data } : {}),
  };
  return { isError: true, content: [{ type: 'text', text: JSON.stringify({ error } satisfies ErrorBody) }] };
}
