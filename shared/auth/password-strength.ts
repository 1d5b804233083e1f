import { createRequire } from 'node:module';
import type { FeedbackType, OptionsType, ZxcvbnFactory } from '@zxcvbn-ts/core';

/**
 * zxcvbn's score 3 means about 10^8 guesses or more: "safely unguessable: moderate
 * protection from offline slow-hash scenario" (zxcvbn README). Below it the password is one a
 * list-driven attacker tries early (NIST SP 800-63B §3.1.1.2: refuse commonly used, expected
 * or compromised values).
 */
export const MIN_SCORE = 3;

/** NIST SP 800-63B §3.1.1.2 names "the name of the service" among the context words to refuse. */
export const SERVICE_WORDS = ['portcullis', 'marketplace'] as const;

/**
 * zxcvbn tries up to this many l33t readings of a password ('p@ss' → 'pass'), each a full
 * dictionary pass, synchronously on the request path. Measured on the 2-core dev machine: the
 * default, 100, takes ~330 ms for 64 random printable characters and 0.7–1.4 s at 128; 16 takes
 * ~70 ms and ~160 ms. It misses little: of 979 l33t-spelled common passwords, 100 refuses all and
 * 16 refuses 970.
 */
const L33T_READINGS = 16;

export interface Strength extends FeedbackType {
  score: number;
}

const require = createRequire(import.meta.url);
let estimator: { zxcvbn: ZxcvbnFactory; personalData: FeedbackType } | undefined;

/**
 * Loaded on the first check, not at import: the dictionaries cost ~150 ms to load and ~180 ms to
 * rank, and every process that imports better-auth (the resource API too) reaches this module
 * for PASSWORD_MIN / PASSWORD_MAX without ever checking a password.
 */
function load() {
  if (estimator) return estimator;
  const { ZxcvbnFactory: Factory } = require('@zxcvbn-ts/core') as typeof import('@zxcvbn-ts/core');
  const common = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
  const en = require('@zxcvbn-ts/language-en') as typeof import('@zxcvbn-ts/language-en');
  const options: OptionsType = {
    dictionary: { ...common.dictionary, ...en.dictionary },
    graphs: common.adjacencyGraphs,
    translations: en.translations,
    l33tMaxSubstitutions: L33T_READINGS,
  };
  const personalData = { warning: en.translations.warnings.userInputs, suggestions: [en.translations.suggestions.anotherWord] };
  estimator = { zxcvbn: new Factory(options), personalData };
  return estimator;
}

/** zxcvbn's estimate with `words` as the user's own dictionary (each costs an attacker one guess). */
export function estimate(password: string, words: readonly string[]): Strength {
  const { score, feedback } = load().zxcvbn.check(password, [...words]);
  return { score, warning: feedback.warning, suggestions: feedback.suggestions };
}

/** zxcvbn's own English advice for a password built from the user's data. */
export function personalDataFeedback(): FeedbackType {
  const { warning, suggestions } = load().personalData;
  return { warning, suggestions: [...suggestions] };
}

/**
 * The words an attacker who knows the account tries first: the whole address, its local part
 * (also without a +tag), that part's pieces and letters ('jane.doe' → 'jane', 'doe', 'janedoe'),
 * each word of the name, and the service's own words.
 */
export function contextWords(context: { email?: string; name?: string }): string[] {
  const words: string[] = [];
  const email = context.email?.trim().toLowerCase();
  if (email) {
    const local = email.split('@')[0]!;
    const base = local.split('+')[0]!; // jane.doe+shop is jane.doe's address
    words.push(email, local, base, ...local.split(/[._+-]/), base.replace(/[._-]/g, ''));
  }
  if (context.name) words.push(...context.name.toLowerCase().split(/\s+/));
  words.push(...SERVICE_WORDS);
  return [...new Set(words.filter(Boolean))];
}

/**
 * The password with every context word of four or more characters taken out (longest first,
 * ignoring case): what an attacker who knows the account still has to guess.
 */
export function withoutWords(password: string, words: readonly string[]): string {
  let rest = password.toLowerCase();
  for (const word of words.filter((w) => w.length >= 4).sort((a, b) => b.length - a.length)) rest = rest.split(word).join('');
  return rest;
}
