import type { ErrorCatalog } from '#shared/errors/index.js';

/**
 * What the device flow's pages (RFC 8628, oidc/device-flow.ts) say when the person's code or form
 * is refused: re-rendered on the input page, with the typed text kept where there is one.
 */
export const DeviceErrors = {
  DEVICE_CODE_MISSING: { status: 400, message: 'Enter the code your device shows.' },
  DEVICE_CODE_INVALID: { status: 400, message: 'That code is not valid. Check the code on your device and enter it again.' },
  DEVICE_CODE_EXPIRED: { status: 400, message: 'That code has expired. Start again on your device to get a new code.' },
  DEVICE_CODE_USED: { status: 400, message: 'That code was already used. Start again on your device to get a new code.' },
  DEVICE_SIGN_IN_ENDED: { status: 400, message: 'This sign-in could not be finished. Start again on your device to get a new code.' },
  DEVICE_FORM_EXPIRED: { status: 400, message: 'This form has expired. Enter the code again.' },
  DEVICE_PAGE_FAILED: { status: 500, message: 'Something went wrong on our side. Try again in a moment.' },
} as const satisfies ErrorCatalog;
