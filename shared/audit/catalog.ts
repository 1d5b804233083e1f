/**
 * Every audit event, as a typed `noun.verb` key (STYLE.md habit 8), with the only property
 * names it may carry. This list is the redaction policy: `redact.ts` keeps a property only
 * when its name is listed here for that event, so a field added at a call site is dropped
 * (and counted) until someone adds it here on purpose. Never list a name that carries a
 * body, password, token, code, cookie, secret, card data or raw email address; an email
 * that must be linkable goes in `emailHash` (HMAC, see redact.ts).
 */
export const AUDIT_EVENTS = {
  'user.signed_up': { properties: ['method', 'emailHash'] },
  'user.email_verified': { properties: ['emailHash'] },
  'sign_in.succeeded': { properties: ['method', 'mfa'] },
  'sign_in.failed': { properties: ['method', 'reason', 'emailHash'] },
  'two_factor.enrolled': { properties: ['method'] },
  'two_factor.challenge_failed': { properties: ['method', 'reason', 'attempt'] },
  'password.reset': { properties: ['stage', 'emailHash'] },
  'session.revoked': { properties: ['reason', 'count'] },
  'user.role_changed': { properties: ['fromRole', 'toRole'] },
  'user.banned': { properties: ['reason', 'until'] },
  'user.unbanned': { properties: [] },
  'client.created': { properties: ['authMethod', 'redirectUriCount', 'firstParty'] },
  'client.deleted': { properties: ['reason'] },
  'client.registered': { properties: ['authMethod', 'redirectUriCount', 'scope', 'mode'] },
  'client.metadata_fetched': { properties: ['host', 'authMethod', 'outcome'] },
  'client.purged': { properties: ['count', 'unusedDays'] },
  'key.rotated': { properties: ['kid', 'alg', 'use', 'action'] },
  'authorization.granted': { properties: ['scope', 'grantId', 'prompt'] },
  'authorization.denied': { properties: ['scope', 'reason'] },
  'device.approved': { properties: ['scope', 'grantId'] },
  'device.denied': { properties: ['scope', 'reason'] },
  'authorization_code.reuse_detected': { properties: ['grantId', 'grantRevoked'] },
  'refresh_token.reuse_detected': { properties: ['grantId', 'grantRevoked'] },
  'device_code.reuse_detected': { properties: ['grantId', 'grantRevoked'] },
  'token.revoked': { properties: ['tokenType', 'grantId', 'reason'] },
  'rate_limit.hit': { properties: ['route', 'limit', 'windowS'] },
  'listing.published': { properties: ['status'] },
  'listing.suspended': { properties: ['reason'] },
  'review.rejected': { properties: ['reason', 'category', 'listingId'] },
  'checkout.created': { properties: ['listingId', 'mode', 'amountMinor', 'currency'] },
  'return_url.rejected': { properties: ['reason', 'host'] },
  'webhook.received': { properties: ['provider', 'eventType', 'eventId'] },
  'webhook.rejected': { properties: ['provider', 'reason'] },
  'webhook.processed': { properties: ['provider', 'eventType', 'eventId', 'durationMs'] },
  'webhook.failed': { properties: ['provider', 'eventType', 'eventId', 'errorCode', 'attempts'] },
  'webhook.dead_lettered': { properties: ['provider', 'eventType', 'eventId', 'errorCode', 'attempts'] },
  'webhook.retried': { properties: ['provider', 'eventType', 'eventId', 'previousError'] },
  'entitlement.granted': { properties: ['listingId', 'plan', 'source', 'eventId'] },
  'entitlement.revoked': { properties: ['listingId', 'plan', 'reason', 'eventId'] },
  'quota.exceeded': { properties: ['listingId', 'limit', 'used'] },
  'client_req_id.conflicted': { properties: ['route'] },
} as const satisfies Record<string, { properties: readonly string[] }>;

export type AuditEventName = keyof typeof AUDIT_EVENTS;

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export function isAuditEventName(name: string): name is AuditEventName {
  return Object.hasOwn(AUDIT_EVENTS, name);
}
