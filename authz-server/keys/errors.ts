/** What the signing-key ring refuses (the admin CLI's keys:* commands print `CODE: message`). */
export const KeyErrors = {
  KEY_ROTATION_REFUSED: { status: 400, message: 'The key ring refuses this change.' },
} as const;
