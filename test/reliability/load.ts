/**
 * Bounded load for the fault suites: every request has a deadline, every answer is recorded
 * with its start time, duration, status and body, so a test can say what a client saw before,
 * during and after a fault.
 */
export interface Sample {
  kind: string;
  /** Start, ms since the epoch. */
  at: number;
  ms: number;
  /** 0: no HTTP answer (connection refused or reset, or the deadline passed). */
  status: number;
  body: string;
  headers?: Headers;
  error?: string;
}

/** Every request of the fault suites must be answered within this; a hang is a failure. */
export const ANSWER_BOUND_MS = 10_000;

export async function timedFetch(kind: string, url: string, init: RequestInit = {}, timeoutMs = ANSWER_BOUND_MS): Promise<Sample> {
  const at = Date.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const body = await res.text();
    return { kind, at, ms: Date.now() - at, status: res.status, body, headers: res.headers };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { kind, at, ms: Date.now() - at, status: 0, body: '', error: e.cause?.code ?? e.name };
  }
}

/** Runs `step` in a loop until `until()` is true; a fixed pause keeps the load bounded. */
export async function worker(until: () => boolean, step: (i: number) => Promise<unknown>, pauseMs = 20): Promise<void> {
  for (let i = 0; !until(); i++) {
    await step(i);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/** Words a 5xx body must never contain: driver, SQL, host and stack details. */
export const INTERNALS = /ECONNREFUSED|ECONNRESET|knex|postgres|sqlite|select |insert |update |redis|ioredis|stack|\bat [\w.<>]+ \(|\.ts:\d+|node_modules|terminating connection/i;

export function json(sample: Sample): Record<string, unknown> | undefined {
  try {
    return JSON.parse(sample.body) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The error code of an API error body, or the OAuth `error` of an RFC 6749 body. */
export function errorCode(sample: Sample): string | undefined {
  const b = json(sample);
  if (!b) return undefined;
  const e = b.error;
  if (typeof e === 'string') return e;
  if (e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string') return (e as { code: string }).code;
  if (typeof b.code === 'string') return b.code;
  return undefined;
}

/** Time from `from` to the end of the first successful sample of `kind` that started at or after it. */
export function recoveryMs(samples: Sample[], kind: string, from: number, ok: (s: Sample) => boolean = (s) => s.status >= 200 && s.status < 300): number | undefined {
  const first = samples.filter((s) => s.kind === kind && s.at >= from && ok(s)).sort((a, b) => a.at - b.at)[0];
  return first ? first.at + first.ms - from : undefined;
}

export function summary(samples: Sample[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const s of samples) {
    const k = `${s.status}${errorCode(s) ? ` ${errorCode(s)}` : s.error ? ` ${s.error}` : ''}`;
    (out[s.kind] ??= {})[k] = (out[s.kind]![k] ?? 0) + 1;
  }
  return out;
}
