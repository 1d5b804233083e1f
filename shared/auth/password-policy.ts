/**
 * Password rules applied wherever a password is set (admin CLI today, sign-up and reset with
 * the accounts work). better-auth's own length check does not cover its admin createUser.
 */
export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 128;

/** Shapes that top breached-password lists are made of, at our minimum length. */
const COMMON = [
  'password', 'qwerty', 'azerty', 'letmein', 'welcome', 'iloveyou', 'admin', 'abc123',
  'monkey', 'dragon', 'football', 'baseball', 'sunshine', 'princess', 'trustno1', 'changeme', 'portcullis',
];

export function passwordProblem(password: string, context: { email?: string } = {}): string | undefined {
  if (password.length < PASSWORD_MIN) return `must be at least ${PASSWORD_MIN} characters`;
  if (password.length > PASSWORD_MAX) return `must be at most ${PASSWORD_MAX} characters`;
  if (/^(.)\1+$/.test(password)) return 'must not be one repeated character';
  const lower = password.toLowerCase();
  if (/^\d+$/.test(password) || '01234567890123456789'.includes(password) || 'abcdefghijklmnopqrstuvwxyz'.includes(lower) || 'qwertyuiopasdfghjklzxcvbnm'.includes(lower)) {
    return 'must not be a sequence of digits or keyboard letters';
  }
  // A common password padded to length ("password1234", "qwerty123456") is still a common password.
  const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '@': 'a', $: 's' };
  const variants = [lower.replace(/[^a-z]/g, ''), lower.replace(/[013458@$]/g, (c) => LEET[c]!).replace(/[^a-z]/g, '')];
  if (variants.some((v) => COMMON.some((w) => v === w || v === w + w))) return 'is too common';
  const local = context.email?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 4 && lower.includes(local)) return 'must not contain your email address';
  return undefined;
}
