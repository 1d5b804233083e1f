import type { Logger } from '#shared/logging/logger.js';

export interface ReviewDraft {
  listingId: string;
  userId: string;
  rating: number;
  body: string;
}

export type ModerationVerdict = { allowed: true } | { allowed: false; reason: string };

/** Decides whether a review may be stored. Called before every create and edit. */
export interface ModerationHook {
  check(review: ReviewDraft): Promise<ModerationVerdict>;
}

export const MODERATION_UNAVAILABLE = 'MODERATION_UNAVAILABLE';

/** Allows everything: for development, and for tests that are not about moderation. */
export const passThroughModeration: ModerationHook = {
  check: async () => ({ allowed: true }),
};

export interface HttpModerationOptions {
  url: string;
  /** Budget for the whole exchange, body included. Default 2000 ms. */
  timeoutMs?: number;
  /** Allow reviews when the service cannot answer. Default false (fail closed). */
  failOpen?: boolean;
  logger?: Logger;
}

// The reason reaches API clients in the error details: only a short code is passed through.
const REASON_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * A moderation service over HTTP. Each check POSTs the draft as JSON to `url` and expects a
 * 2xx answer `{ "allowed": boolean, "reason"?: string }`; a refusal carries `reason` when it
 * is an UPPER_SNAKE code of at most 64 characters, else the generic `REJECTED`.
 *
 * When the service does not give a usable verdict — timeout (AbortSignal, `timeoutMs`),
 * network error, any non-2xx status (a 4xx means our request is wrong, not the review), or a
 * body that is not that shape — the outcome is `failOpen`: `true` allows the review, `false`
 * (the default) refuses it with reason `MODERATION_UNAVAILABLE`, so an outage never lets
 * unmoderated content through unless explicitly chosen. Each such failure is logged at warn.
 */
export function httpModeration(opts: HttpModerationOptions): ModerationHook {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const unavailable = (why: string): ModerationVerdict => {
    opts.logger?.warn({ why, failOpen: opts.failOpen === true }, 'moderation service unavailable');
    return opts.failOpen === true ? { allowed: true } : { allowed: false, reason: MODERATION_UNAVAILABLE };
  };
  return {
    async check(review) {
      let answer: unknown;
      try {
        const res = await fetch(opts.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify(review),
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (!res.ok) {
          await res.body?.cancel();
          return unavailable(`status ${res.status}`);
        }
        answer = await res.json();
      } catch (err) {
        return unavailable(err instanceof Error ? err.name : 'error');
      }
      const a = answer as { allowed?: unknown; reason?: unknown } | null;
      if (typeof a !== 'object' || a === null || typeof a.allowed !== 'boolean') return unavailable('malformed answer');
      if (a.allowed) return { allowed: true };
      return { allowed: false, reason: typeof a.reason === 'string' && REASON_CODE.test(a.reason) ? a.reason : 'REJECTED' };
    },
  };
}
