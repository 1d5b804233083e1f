/**
 * Read-only view of better-auth's user table for the OpenID provider: the one user lookup of both
 * services, beside the one ban rule, lives in shared/auth/user-access.ts (#15). These names stay
 * for the authorization server's callers (the refresh grant joins the same columns).
 */
export {
  USER_ACCESS_COLUMNS as ACCOUNT_COLUMNS,
  findUserAccess as findUserById,
  toUserAccess as toAccountRow,
  type UserAccess as AccountRow,
} from '#shared/auth/user-access.js';
