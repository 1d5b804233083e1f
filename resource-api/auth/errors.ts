/** Error codes of the API's authentication and authorization layer (RFC 6750 semantics). */
export const AuthErrors = {
  UNAUTHENTICATED: { status: 401, message: 'Authentication is required.' },
  INVALID_TOKEN: { status: 401, message: 'The access token is invalid or expired.' },
  /** RFC 9449 §7.1 `invalid_dpop_proof`: a DPoP-bound token came without a valid, fresh, unused proof. */
  INVALID_DPOP_PROOF: { status: 401, message: 'The DPoP proof is missing, invalid or already used.' },
  AMBIGUOUS_CREDENTIALS: { status: 401, message: 'Send either a bearer token or a session cookie, not both.' },
  INVALID_SESSION: { status: 401, message: 'The session is invalid or expired.' },
  INSUFFICIENT_SCOPE: { status: 403, message: 'The access token lacks the scope this needs.' },
  FORBIDDEN: { status: 403, message: 'Your role does not allow this.' },
  ACCOUNT_DISABLED: { status: 403, message: 'This account is disabled.' },
  USER_TOKEN_REQUIRED: { status: 403, message: 'This acts for a person: a client acting for itself (client_credentials) may not call it.' },
  AUTH_SERVER_UNAVAILABLE: { status: 503, message: 'Tokens cannot be verified right now.', expose: true },
} as const;
