import { AssertionError } from 'chai';
import { z } from 'zod';
import type { ErrorCodeRef, RouteContract, SignedRouteDoc } from '#api/http/contract.js';
import { CROSS_CUTTING, operationCodes } from '#api/http/openapi.errors.js';

/** The error body every route answers with (shared/http/koa-error-handler.ts), `details` optional. */
const ErrorBody = z.strictObject({
  error: z.strictObject({ code: z.string().regex(/^[A-Z][A-Z0-9_]*$/), message: z.string().min(1), requestId: z.string().min(1), details: z.record(z.string(), z.unknown()).optional() }),
});

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * Fields the body has and its parsed value lost: keys the schema does not declare (a zod object
 * strips them rather than refusing them, so parsing alone would let an undeclared field through).
 */
export function undeclaredFields(body: unknown, parsed: unknown, at = ''): string[] {
  if (Array.isArray(body) && Array.isArray(parsed)) return body.flatMap((b, i) => undeclaredFields(b, parsed[i], `${at}[${i}]`));
  if (!isObject(body) || !isObject(parsed)) return [];
  return Object.keys(body).flatMap((k) => (k in parsed ? undeclaredFields(body[k], parsed[k], `${at}.${k}`) : [`${at}.${k}`]));
}

interface Described {
  operationId: string;
  method: string;
  pattern: RegExp;
  status: number;
  response: z.ZodType;
  codes: readonly ErrorCodeRef[];
}

const described = (d: RouteContract | SignedRouteDoc, codes: readonly ErrorCodeRef[]): Described => ({
  operationId: d.operationId,
  method: d.method.toUpperCase(),
  pattern: new RegExp(`^${d.path.replace(/:\w+/g, '[^/]+')}$`),
  status: d.status,
  response: d.response,
  codes: [...codes, ...CROSS_CUTTING],
});

/**
 * Holds the answers of a test's requests to the routes' contracts: the contract's success status
 * must carry a body its `response` schema parses, with no field it does not declare (a renamed,
 * missing, extra or wrongly typed field fails, as it would a client generated from
 * /openapi.json), and any other status must be an error the contract documents for that status,
 * in the error envelope. Paths no contract describes (probes, /openapi.json, 404s and 405s) are
 * not checked here. `checked` lists the operations whose success body has been parsed, so a test
 * can prove it reached every one.
 */
export function responseChecker(contracts: readonly RouteContract[], signed: readonly SignedRouteDoc[] = []) {
  const routes = [...contracts.map((c) => described(c, operationCodes(c))), ...signed.map((d) => described(d, d.errorCodes))];
  const checked = new Set<string>();
  const fail = (message: string, actual: unknown): never => {
    throw new AssertionError(message, { actual, showDiff: false });
  };

  return {
    checked,
    /** Throws when the answer is not one the route's contract declares. */
    check(method: string, url: string, status: number, body: unknown): void {
      const path = new URL(url, 'http://api.invalid').pathname;
      const route = routes.find((r) => r.method === method.toUpperCase() && r.pattern.test(path));
      if (!route) return;
      const label = `${route.operationId} (${method.toUpperCase()} ${path}) answered ${status}`;
      if (status === route.status) {
        const parsed = route.response.safeParse(body);
        if (!parsed.success) return fail(`${label} with a body its contract's response schema refuses: ${z.prettifyError(parsed.error)}`, body);
        const extra = undeclaredFields(body, parsed.data);
        if (extra.length) fail(`${label} with fields its contract's response schema does not declare: ${extra.join(', ')}`, body);
        checked.add(route.operationId);
        return;
      }
      if (status < 400) fail(`${label}, a status its contract does not declare (success is ${route.status})`, body);
      const envelope = ErrorBody.safeParse(body);
      if (!envelope.success) return fail(`${label} without the error envelope: ${z.prettifyError(envelope.error)}`, body);
      const { code } = envelope.data.error;
      if (!route.codes.some((e) => e.status === status && e.code === code)) fail(`${label} ${code}, which its contract does not document for that status`, body);
    },
  };
}

export type ResponseChecker = ReturnType<typeof responseChecker>;

/** Reads a fetch answer's body (JSON or empty) without consuming it, and checks it. */
export async function checkAnswer(checker: ResponseChecker, method: string, url: string, res: Response): Promise<void> {
  const text = await res.clone().text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  checker.check(method, url, res.status, body);
}
