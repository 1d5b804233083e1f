import type { Knex } from 'knex';

/** A stripe_events row as tests read it: numbers as numbers on both backends. */
export interface StoredEvent {
  id: string;
  type: string;
  status: 'pending' | 'processed' | 'ignored' | 'dead';
  attempts: number;
  customer_id: string | null;
  last_error: string | null;
  locked_by: string | null;
  locked_until: number | null;
  next_attempt_at: number | null;
  processed_at: number | null;
  event_created_at: number;
  received_at: number;
  payload: string | null;
}

const NUMBERS = ['attempts', 'locked_until', 'next_attempt_at', 'processed_at', 'event_created_at', 'received_at', 'last_failed_at'];

export function storedEvent(row: Record<string, unknown>): StoredEvent {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, NUMBERS.includes(k) && v !== null ? Number(v) : v])) as unknown as StoredEvent;
}

/** Whether the worker has finished an attempt at the event: applied, ignored, dead, or failed and waiting for its retry. */
export const attempted = (e: StoredEvent) => e.status !== 'pending' || (e.attempts > 0 && e.locked_by === null && e.last_error !== null);

/**
 * Polls stripe_events until the worker has made an attempt at `id` (see attempted), or fails
 * after `timeoutMs` naming the row as it was: a bound on waiting, not a timing assertion.
 */
export async function eventSettled(db: Knex, id: string, timeoutMs = 15_000): Promise<StoredEvent> {
  return waitForRow(db, id, attempted, timeoutMs, 'an attempt');
}

/** Polls until `id` is in `status` (e.g. processed after its retries). */
export async function eventInStatus(db: Knex, id: string, status: StoredEvent['status'], timeoutMs = 15_000): Promise<StoredEvent> {
  return waitForRow(db, id, (e) => e.status === status, timeoutMs, status);
}

/** Polls until none of `ids` is pending any more; returns their rows in the order given. */
export async function eventsDone(db: Knex, ids: readonly string[], timeoutMs = 30_000): Promise<StoredEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = (await db('stripe_events').whereIn('id', ids)).map(storedEvent);
    if (rows.length === ids.length && rows.every((r) => r.status !== 'pending')) return ids.map((id) => rows.find((r) => r.id === id)!);
    if (Date.now() > deadline) {
      const left = rows.filter((r) => r.status === 'pending');
      throw new Error(`${ids.length - rows.length} of ${ids.length} events not stored and ${left.length} still pending after ${timeoutMs} ms: ${JSON.stringify(left.slice(0, 3))}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function waitForRow(db: Knex, id: string, done: (e: StoredEvent) => boolean, timeoutMs: number, what: string): Promise<StoredEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await db('stripe_events').where({ id }).first();
    const e = row ? storedEvent(row) : undefined;
    if (e && done(e)) return e;
    if (Date.now() > deadline) throw new Error(`stripe event ${id}: no ${what} within ${timeoutMs} ms (${e ? JSON.stringify({ ...e, payload: e.payload ? '…' : null }) : 'not stored'})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A log of applications, written by the database itself: a trigger on stripe_events adds a row
 * each time an event turns from pending to processed, inside the transaction that applies it (so
 * a rolled-back attempt leaves none). `seq` is the order of application; within one customer the
 * applications never overlap (the next event is claimed after the previous one committed), so it
 * is their order; `worker` is who applied it (the lease it held). Test-only: created here, never by a migration.
 */
export async function installApplyLog(db: Knex): Promise<void> {
  if (await db.schema.hasTable('test_apply_log')) return;
  if (db.client.dialect === 'postgresql') {
    await db.raw('CREATE TABLE test_apply_log (seq bigserial PRIMARY KEY, event_id text NOT NULL, customer_id text, event_created_at bigint NOT NULL, received_at bigint NOT NULL, worker text)');
    await db.raw(`CREATE FUNCTION test_apply_log_f() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO test_apply_log (event_id, customer_id, event_created_at, received_at, worker) VALUES (NEW.id, NEW.customer_id, NEW.event_created_at, NEW.received_at, OLD.locked_by); RETURN NEW; END $$`);
    await db.raw(`CREATE TRIGGER test_apply_log_t AFTER UPDATE OF status ON stripe_events FOR EACH ROW
      WHEN (OLD.status = 'pending' AND NEW.status = 'processed') EXECUTE FUNCTION test_apply_log_f()`);
  } else {
    await db.raw('CREATE TABLE test_apply_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, customer_id TEXT, event_created_at INTEGER NOT NULL, received_at INTEGER NOT NULL, worker TEXT)');
    await db.raw(`CREATE TRIGGER test_apply_log_t AFTER UPDATE OF status ON stripe_events
      WHEN OLD.status = 'pending' AND NEW.status = 'processed'
      BEGIN INSERT INTO test_apply_log (event_id, customer_id, event_created_at, received_at, worker) VALUES (NEW.id, NEW.customer_id, NEW.event_created_at, NEW.received_at, OLD.locked_by); END`);
  }
}

/** The applications of `ids`, in the order they happened. */
export async function applyLog(db: Knex, ids: readonly string[]): Promise<{ event_id: string; customer_id: string | null; event_created_at: number; received_at: number; worker: string | null }[]> {
  const rows: Record<string, unknown>[] = await db('test_apply_log').whereIn('event_id', ids).orderBy('seq');
  return rows.map((r) => ({
    event_id: String(r.event_id), customer_id: (r.customer_id as string | null) ?? null, event_created_at: Number(r.event_created_at), received_at: Number(r.received_at),
    worker: (r.worker as string | null) ?? null,
  }));
}

/** Fisher–Yates: a delivery order Stripe could produce (it guarantees none). */
export function shuffled<T>(items: readonly T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** One value of a metric in Prometheus text (summed over its series when several match). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  if (!found) throw new Error(`no ${name} ${JSON.stringify(labels)} in /metrics`);
  return total;
}
