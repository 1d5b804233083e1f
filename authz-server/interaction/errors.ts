import type { ErrorCatalog } from '#shared/errors/index.js';

/** What the sign-in interaction's pages say when they refuse (the password and code steps: accounts/errors.ts). */
export const InteractionErrors = {
  INTERACTION_EXPIRED: { status: 400, title: 'Sign-in expired', message: 'This sign-in request has expired or was already used. Start again from the application.' },
  STEP_ALREADY_COMPLETE: { status: 400, title: 'Sign-in error', message: 'This sign-in step is already complete.' },
  UNSUPPORTED_STEP: { status: 400, title: 'Sign-in error', message: 'Unsupported sign-in step.' },
  GRANT_GONE: { status: 400, title: 'Sign-in error', message: 'This sign-in request is no longer valid.' },
  // A device flow has no authorization URL to start again from (its consent page offers no switch).
  DEVICE_ACCOUNT_SWITCH: { status: 400, title: 'Sign-in error', message: 'To use another account for a device, choose Deny, sign out, and start again on the device.' },
  INTERACTION_SIGN_IN_EXPIRED: { status: 400, message: 'This sign-in has expired. Start again from the application.' },
} as const satisfies ErrorCatalog;
