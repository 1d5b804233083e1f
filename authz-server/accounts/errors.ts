import type { ErrorCatalog } from '#shared/errors/index.js';

/**
 * What the account pages and both sign-ins (the interaction's and the account area's) say when
 * they refuse. `{wait}`: seconds until the bucket allows another try. Entries with a title are
 * pages of their own; the others show on the form that was sent.
 */
export const AccountErrors = {
  // One answer for an unknown address, a wrong password, an unverified or a banned account.
  SIGN_IN_FAILED: { status: 401, message: 'Incorrect email or password.' },
  // A NUL: no account can hold one (and PostgreSQL cannot compare it), so no lookup either.
  SIGN_IN_MALFORMED: { status: 400, message: 'Incorrect email or password.' },
  SIGN_IN_LIMITED: { status: 429, message: 'Too many attempts. Try again in {wait} seconds.' },
  CODE_INVALID: { status: 401, message: 'That code is not valid. Try again.' },
  PENDING_SIGN_IN_EXPIRED: { status: 400, message: 'This sign-in has expired. Sign in again.' },
  EMAIL_INVALID: { status: 400, message: 'Enter a valid email address.' },
  MAIL_LIMITED: { status: 429, message: 'Too many requests. Try again in {wait} seconds.' },
  RESET_LINK_EXPIRED: { status: 400, title: 'Link expired', message: 'This reset link is invalid, expired or already used. Ask for a new one.' },
  CONFIRMATION_LINK_EXPIRED: { status: 400, title: 'Link expired', message: 'This confirmation link is invalid or has expired. Ask for a new one.' },
  SIGN_IN_REQUIRED: { status: 401, title: 'Sign in first', message: 'Sign in to manage your account.' },
  // The account page stays the answer to its own forms: 200, as it is (test/security/password-oracle.test.ts).
  PASSWORD_INCORRECT: { status: 200, message: 'Incorrect password.' },
  ENROLMENT_RESTART: { status: 200, message: 'That code is not valid. Start the setup again.' },
  ENROLMENT_CODE_INVALID: { status: 400, message: 'That code is not valid. Check that your device\'s clock is right and enter the current code.' },
  OWN_SESSION_NOT_FOUND: { status: 404, message: 'No such session.' },
} as const satisfies ErrorCatalog;
