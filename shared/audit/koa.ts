import type { Context } from 'koa';
import type { AuditInput } from './audit.js';

/** The request facts every audit event carries; the audit module truncates and redacts them. */
export function fromRequest(ctx: Context): Pick<AuditInput, 'requestId' | 'ip' | 'userAgent'> {
  return { requestId: String(ctx.state.requestId ?? ''), ip: ctx.ip, userAgent: ctx.get('User-Agent') };
}
