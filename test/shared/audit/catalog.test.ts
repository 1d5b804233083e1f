import { expect } from 'chai';
import { AUDIT_EVENTS, isAuditEventName, type AuditEventName } from '#shared/audit/catalog.js';

/** The issue's list, phrase by phrase, mapped to the catalog key that covers it. */
const ISSUE_LIST: Record<string, AuditEventName> = {
  'sign-up': 'user.signed_up',
  'email verified': 'user.email_verified',
  'sign-in succeeded': 'sign_in.succeeded',
  'sign-in failed': 'sign_in.failed',
  '2FA enrolled': 'two_factor.enrolled',
  '2FA challenge failed': 'two_factor.challenge_failed',
  'password reset': 'password.reset',
  'session revoked': 'session.revoked',
  'role changed': 'user.role_changed',
  'user banned': 'user.banned',
  'client created': 'client.created',
  'client deleted': 'client.deleted',
  'key rotated': 'key.rotated',
  'authorization granted': 'authorization.granted',
  'authorization denied': 'authorization.denied',
  'code reuse detected': 'authorization_code.reuse_detected',
  'refresh reuse detected (grant revoked)': 'refresh_token.reuse_detected',
  'token revoked': 'token.revoked',
  'rate limit hit': 'rate_limit.hit',
  'listing published': 'listing.published',
  'listing suspended': 'listing.suspended',
  'review rejected by moderation': 'review.rejected',
  'checkout created': 'checkout.created',
  'invalid returnUrl': 'return_url.rejected',
  'webhook received': 'webhook.received',
  'webhook rejected': 'webhook.rejected',
  'webhook processed': 'webhook.processed',
  'webhook failed': 'webhook.failed',
  'entitlement granted': 'entitlement.granted',
  'entitlement revoked': 'entitlement.revoked',
  'quota exceeded': 'quota.exceeded',
  'clientReqId conflict': 'client_req_id.conflicted',
};

const FORBIDDEN_NAME = /password|secret|cookie|^token$|accesstoken|refreshtoken|idtoken|^code$|body|card|cvc|pan$|^email$|authorization|signature/i;

describe('shared/audit catalog', () => {
  for (const [phrase, key] of Object.entries(ISSUE_LIST)) {
    it(`covers "${phrase}" as ${key}`, () => {
      expect(isAuditEventName(key)).to.equal(true);
    });
  }

  it('names every event noun.verb in snake_case', () => {
    for (const name of Object.keys(AUDIT_EVENTS)) expect(name).to.match(/^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/, name);
  });

  it('allow-lists no property name that carries a credential, body, card data or raw email', () => {
    for (const [event, { properties }] of Object.entries(AUDIT_EVENTS)) {
      for (const p of properties) expect(p, `${event}.${p}`).not.to.match(FORBIDDEN_NAME);
    }
  });

  it('rejects names outside the catalog', () => {
    expect(isAuditEventName('user.deleted')).to.equal(false);
    expect(isAuditEventName('toString')).to.equal(false);
  });
});
