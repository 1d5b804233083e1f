import autocannon from 'autocannon';

export interface LoadResult {
  name: string;
  /** Completed requests per second over the measured run. */
  rps: number;
  p50: number;
  p99: number;
  total: number;
  /** Answers outside the expected status, connection errors and timeouts: a run with any is flagged. */
  bad: number;
  /** Answers by status code. */
  statuses: Record<string, number>;
}

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Called for every request: its body and/or headers (a pool of tokens, one-time refresh tokens, signed events). */
  next?: () => { body?: string; headers?: Record<string, string> };
  connections?: number;
  /** Seconds; ignored when `amount` is set. */
  duration?: number;
  amount?: number;
  expectStatus?: number;
}

/**
 * One bounded autocannon run on loopback. Callers warm up with a short unmeasured run first.
 */
export async function load(name: string, o: LoadOptions): Promise<LoadResult> {
  const expectStatus = o.expectStatus ?? 200;
  const started = performance.now();
  let lastAnswer = 0;
  const run = autocannon({
    url: o.url,
    method: o.method ?? 'GET',
    connections: o.connections ?? 10,
    pipelining: 1,
    timeout: 10,
    ...(o.amount ? { amount: o.amount } : { duration: o.duration ?? 5 }),
    headers: o.headers ?? {},
    setupClient: (client: autocannon.Client) => void client.on('response', () => void (lastAnswer = performance.now())),
    ...(o.next
      ? { requests: [{ method: o.method ?? 'GET', setupRequest: (req: autocannon.Request) => { const n = o.next!(); return { ...req, ...(n.body !== undefined ? { body: n.body } : {}), headers: { ...req.headers, ...n.headers } }; } }] }
      : o.body !== undefined ? { body: o.body } : {}),
  });
  const result = await run;
  // autocannon stops on its 1 s sampling tick: a fixed-count run (the refresh cases) lasts a
  // whole number of seconds by its `duration`, and would read as 1500/6 or 1500/7 req/s. The
  // time from the start to the last answer is what the requests took.
  const seconds = lastAnswer > started ? (lastAnswer - started) / 1000 : result.duration;
  const byStatus = result.statusCodeStats as unknown as Record<string, { count: number }>;
  const ok = byStatus[String(expectStatus)]?.count ?? 0;
  const total = result.requests.total;
  return {
    name,
    rps: total / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total,
    bad: total - ok + result.errors + result.timeouts,
    statuses: Object.fromEntries(Object.entries(byStatus).map(([k, v]) => [k, v.count])),
  };
}
