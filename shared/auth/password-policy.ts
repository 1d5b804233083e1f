import { MIN_SCORE, contextWords, estimate, personalDataFeedback, withoutWords } from './password-strength.js';

/**
 * Password rules applied wherever a password is set: sign-up, reset and the admin CLI.
 * better-auth's own length check does not cover its admin createUser.
 */
export const PASSWORD_MIN = 12;
/** Also bounds the estimator's cost (see password-strength.ts). */
export const PASSWORD_MAX = 128;

export interface PasswordContext {
  email?: string;
  name?: string;
}

/** Why a password is refused: `message` completes "The password …"; the rest is zxcvbn's advice. */
export interface PasswordRefusal {
  message: string;
  warning: string | null;
  suggestions: string[];
}

const refusal = (message: string, warning: string | null = null, suggestions: string[] = []): PasswordRefusal => ({ message, warning, suggestions });

/**
 * NIST SP 800-63B §3.1.1.2: at least the minimum length, and not a commonly used, expected or
 * compromised value, nor one derived from context words (the user's name and address, the
 * service's name). Length first, so the estimator only ever sees bounded input.
 */
export function checkPassword(password: string, context: PasswordContext = {}): PasswordRefusal | undefined {
  if (password.length < PASSWORD_MIN) return refusal(`must be at least ${PASSWORD_MIN} characters`);
  if (password.length > PASSWORD_MAX) return refusal(`must be at most ${PASSWORD_MAX} characters`);
  const words = contextWords(context);
  const strength = estimate(password, words);
  if (strength.score < MIN_SCORE) return refusal('is too easy to guess', strength.warning, strength.suggestions);
  // zxcvbn floors any password of three or more pieces at ~10^8 guesses (score 3), so
  // "janedoe2024janedoe" passes on its score alone: what is left without the context words
  // must pass too.
  const rest = withoutWords(password, words);
  if (rest !== password.toLowerCase() && estimate(rest, []).score < MIN_SCORE) {
    const { warning, suggestions } = personalDataFeedback();
    return refusal('must not be built from your name, your email address or the service name', warning, suggestions);
  }
  return undefined;
}

/** The refusal as one line: "The password is too easy to guess. This is a commonly used password. …" */
export function describeRefusal(r: PasswordRefusal): string {
  return [`The password ${r.message}.`, r.warning, ...r.suggestions].filter(Boolean).join(' ');
}

/** The earlier API: the refusal message alone, or undefined when the password is acceptable. */
export function passwordProblem(password: string, context: PasswordContext = {}): string | undefined {
  return checkPassword(password, context)?.message;
}
