/**
 * Authentication context class references (OIDC Core §2 `acr`) and methods (RFC 8176 `amr`)
 * Portcullis issues: loa:1 is a password, loa:2 a password and a TOTP or backup code. A client
 * demands two factors with `acr_values=urn:portcullis:loa:2`.
 */
export const LOA_PASSWORD = 'urn:portcullis:loa:1';
export const LOA_TWO_FACTOR = 'urn:portcullis:loa:2';
export const ACR_VALUES = [LOA_PASSWORD, LOA_TWO_FACTOR] as const;

/** What a sign-in proved: its amr values and the matching acr. */
export const proofOf = (twoFactor: boolean) => (twoFactor ? { amr: ['pwd', 'otp'], acr: LOA_TWO_FACTOR } : { amr: ['pwd'], acr: LOA_PASSWORD });

/** A ban is in force while `banned` is set and it has no end or its end is still ahead. */
export function isBanned(user: { banned: boolean | null | number; banExpires: string | Date | null }, now = Date.now()): boolean {
  if (!user.banned) return false;
  return !user.banExpires || new Date(user.banExpires).getTime() > now;
}
