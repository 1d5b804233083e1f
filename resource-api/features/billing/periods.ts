export type QuotaPeriod = 'month' | 'year' | 'once';

/** `ms` plus `count` calendar months or years in UTC, clamped to the month's last day (Jan 31 → Feb 28). */
export function addPeriod(ms: number, period: 'month' | 'year', count = 1): number {
  const d = new Date(ms);
  const total = d.getUTCMonth() + count * (period === 'month' ? 1 : 12);
  const y = d.getUTCFullYear() + Math.floor(total / 12);
  const m = total % 12;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Date.UTC(y, m, Math.min(d.getUTCDate(), lastDay), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

/** The first period of a one-time purchase: `once` never ends; month and year start at the grant. */
export function firstPeriod(grantedAt: number, period: QuotaPeriod): { start: number; end: number | null } {
  return { start: grantedAt, end: period === 'once' ? null : addPeriod(grantedAt, period) };
}

/**
 * The period containing `now` for a quota that renews every `period` from `anchor` (the grant
 * time). Counting from the anchor, not from the last period, keeps month ends from drifting.
 */
export function periodContaining(anchor: number, period: 'month' | 'year', now: number): { start: number; end: number } {
  const approx = period === 'month' ? 31 * 86_400_000 : 366 * 86_400_000; // never more periods than elapsed
  let k = Math.max(0, Math.floor((now - anchor) / approx) - 1);
  while (addPeriod(anchor, period, k + 1) <= now) k++;
  return { start: addPeriod(anchor, period, k), end: addPeriod(anchor, period, k + 1) };
}
