import type { Context, Middleware } from 'koa';
import { fromRequest, type Audit, type AuditEventName, type AuditInput } from '#shared/audit/index.js';
import { toAppError } from '#shared/http/index.js';
import type { Caller } from '../auth/principal.js';

/** One audit event as an operation describes it; the actor and the request are added here. */
export interface AuditFacts {
  event: AuditEventName;
  subject?: AuditInput['subject'];
  properties?: Record<string, unknown>;
}

/**
 * Records one event for a call made in `ctx` by `caller` (the request id, address prefix and
 * user agent come from the HTTP request that carried it, a REST call or an MCP tool call alike).
 * The catalog's allow-list still decides which properties are stored.
 */
export function recordAudit(audit: Pick<Audit, 'record'>, ctx: Context, caller: Caller | undefined, outcome: AuditInput['outcome'], facts: AuditFacts): void {
  const actor = !caller ? {} : caller.kind === 'client' ? { clientId: caller.clientId } : { userId: caller.userId, ...(caller.clientId ? { clientId: caller.clientId } : {}) };
  audit.record(facts.event, { outcome, actor, ...(facts.subject ? { subject: facts.subject } : {}), ...fromRequest(ctx), properties: facts.properties ?? {} });
}

/** An event decided from a route's answer, with its outcome (the actor and the request are added when recorded). */
export type AnswerAuditFacts = AuditFacts & { outcome: AuditInput['outcome'] };

/** What a route answered: its status and, for an error, its code. Undefined facts record nothing. */
export type AnswerAuditRule = (answer: { status: number; code: string | undefined }) => AnswerAuditFacts | undefined;

/**
 * Records the event `rule` derives from the answer of the one route this is mounted on: for a
 * route outside the contracts (the Stripe webhook: signed, not authorized), whose doc declares
 * its rule as a contract declares `audit` (SignedRouteDoc.audit). Contract routes record theirs
 * in runContract, wherever they are called from.
 */
export function koaAnswerAudit(audit: Pick<Audit, 'record'>, rule: AnswerAuditRule): Middleware {
  // Errors are seen here before the shared error handler turns them into bodies.
  return async (ctx, next) => {
    let status = 0;
    let code: string | undefined;
    try {
      await next();
      status = ctx.status;
      code = (ctx.body as { error?: { code?: string } } | undefined)?.error?.code;
    } catch (err) {
      const e = toAppError(err);
      [status, code] = [e.status, e.code];
      throw err;
    } finally {
      const o = rule({ status, code });
      if (o) recordAudit(audit, ctx, ctx.state.principal, o.outcome, o);
    }
  };
}
