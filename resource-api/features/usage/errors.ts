/**
 * Error codes of usage reporting. A listing the caller holds no active entitlement to answers
 * billing's NOT_ENTITLED (billing grants entitlements).
 */
export const UsageErrors = {
  QUOTA_EXCEEDED: { status: 402, message: 'Not enough quota left for this request.' },
  IDEMPOTENCY_KEY_REUSED: { status: 409, message: 'This clientReqId was already used with different parameters.' },
} as const;
