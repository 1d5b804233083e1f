/**
 * Authentication context class references (OIDC Core §2 `acr`) and methods (RFC 8176 `amr`)
 * Portcullis issues: loa:1 is a password, loa:2 a password and a TOTP or backup code. A client
 * demands two factors with `acr_values=urn:portcullis:loa:2`. The second factor's settings live
 * here too, so better-auth, the enrolment page and the sign-in steps cannot disagree on them.
 */
export const LOA_PASSWORD = 'urn:portcullis:loa:1';
export const LOA_TWO_FACTOR = 'urn:portcullis:loa:2';
export const ACR_VALUES = [LOA_PASSWORD, LOA_TWO_FACTOR] as const;

/** RFC 8176 §2: `pwd` a password, `otp` a one-time password (TOTP or backup code). */
export const AMR_PASSWORD = 'pwd';
export const AMR_ONE_TIME_CODE = 'otp';

/** What a sign-in proved: its amr values and the matching acr. */
export const proofOf = (twoFactor: boolean) =>
  twoFactor ? { amr: [AMR_PASSWORD, AMR_ONE_TIME_CODE], acr: LOA_TWO_FACTOR } : { amr: [AMR_PASSWORD], acr: LOA_PASSWORD };

/** Whether an authorization request's `acr_values` (space-separated) asks for two factors (OIDC Core §3.1.2.1). */
export const demandsTwoFactor = (acrValues: unknown) => String(acrValues ?? '').split(' ').includes(LOA_TWO_FACTOR);

/** RFC 6238 TOTP as better-auth's twoFactor plugin runs it and authenticator apps are told (otpauth URI). */
export const TOTP = { issuer: 'Portcullis', digits: 6, period: 30 } as const;
/** Single-use backup codes handed out at enrolment. */
export const BACKUP_CODES = { amount: 10, length: 10 } as const;

const TOTP_CODE = new RegExp(`^\\d{${TOTP.digits}}$`);
/** A second-factor code is a TOTP code when it has the TOTP's digits, else it is tried as a backup code. */
export const secondFactorMethod = (code: string): 'totp' | 'backup_code' => (TOTP_CODE.test(code) ? 'totp' : 'backup_code');

// The ban rule lives with the user lookup: shared/auth/user-access.ts.
