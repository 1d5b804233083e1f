import { symmetricDecrypt } from 'better-auth/crypto';
import type { Auth } from '#shared/auth/better-auth.js';
import { TOTP } from '#shared/auth/assurance.js';

export interface TotpSetup {
  totpUri: string;
  backupCodes: string[];
}

/**
 * The TOTP setup better-auth holds for an account until its first code is verified (its
 * `twoFactor` row with `verified: false`), read again server-side so a wrong code does not
 * throw the QR code and the backup codes away. Nothing of it travels in a form: the enrolment
 * page asks for it by the signed-in account only. Undefined once verified, or with no setup.
 */
export async function pendingTotpSetup(auth: Auth, user: { id: string; email: string }): Promise<TotpSetup | undefined> {
  const context = await auth.$context;
  const row = await context.adapter.findOne<{ secret: string; verified?: boolean | null }>({ model: 'twoFactor', where: [{ field: 'userId', value: user.id }] });
  if (!row || row.verified !== false) return undefined;
  const secret = await symmetricDecrypt({ key: context.secretConfig, data: row.secret });
  const { backupCodes } = await auth.api.viewBackupCodes({ body: { userId: user.id } });
  return { totpUri: otpauthUri(secret, user.email), backupCodes };
}

/**
 * The otpauth:// URI exactly as better-auth's enable step builds it (@better-auth/utils/otp):
 * the secret's UTF-8 bytes in unpadded RFC 4648 base32.
 */
export function otpauthUri(secret: string, account: string): string {
  const params = new URLSearchParams({ secret: base32(new TextEncoder().encode(secret)), issuer: TOTP.issuer, digits: String(TOTP.digits), period: String(TOTP.period) });
  return `otpauth://totp/${encodeURIComponent(TOTP.issuer)}:${encodeURIComponent(account)}?${params}`;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 §6 base32, without padding. */
function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff; // only the bits not yet written matter
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}
