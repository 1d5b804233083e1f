/**
 * Password rules applied wherever a password is set (admin CLI today, sign-up and reset with
 * the accounts work). better-auth's own length check does not cover its admin createUser.
 */
export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 128;

export function passwordProblem(password: string): string | undefined {
  if (password.length < PASSWORD_MIN) return `must be at least ${PASSWORD_MIN} characters`;
  if (password.length > PASSWORD_MAX) return `must be at most ${PASSWORD_MAX} characters`;
  if (/^(.)\1+$/.test(password)) return 'must not be one repeated character';
  return undefined;
}
