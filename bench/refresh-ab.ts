/**
 * `node --conditions=source --import tsx bench/refresh-ab.ts`: the refresh grant on authz-server
 * processes that differ in one thing, measured in turns (A B C, C B A, …) on one stack, so that
 * load from other processes on a shared machine falls on every variant alike. Prints each round
 * and the median requests/s and server CPU per refresh. Variants: this checkout with ES256 and
 * with RS256 API tokens, and, with BENCH_BEFORE=<path of another checkout, dependencies
 * installed>, that checkout's authz-server on the same database (it must read this schema).
 * Knobs: BENCH_ROUNDS (4), BENCH_REFRESH_REQUESTS (1500), BENCH_REFRESH_WARM (1000).
 */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { createStack, freePort, startService, type Service } from './lib/stack.js';
import { load } from './lib/cannon.js';

const N = Number(process.env.BENCH_REFRESH_REQUESTS ?? 1500);
const WARM = Number(process.env.BENCH_REFRESH_WARM ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const out = (s: string) => process.stdout.write(`${s}\n`);
/** User + system CPU of a process so far, ms (/proc, Linux; USER_HZ is 100). */
const cpuMs = async (pid: number) => {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const stack = await createStack({ baseDbUrl: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres', redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379', logLevel: 'info' });
const variants: { name: string; script: string; env: Record<string, string> }[] = [
  ...(process.env.BENCH_BEFORE ? [{ name: `before (${process.env.BENCH_BEFORE})`, script: path.join(process.env.BENCH_BEFORE, 'authz-server/main.ts'), env: {} }] : []),
  { name: 'RS256 API token', script: 'authz-server/main.ts', env: { API_TOKEN_SIGNING_ALG: 'RS256' } },
  { name: 'ES256 API token', script: 'authz-server/main.ts', env: {} },
];
const servers: Service[] = [];
try {
  for (const v of variants) {
    const port = await freePort();
    servers.push(await startService(`ab-${servers.length}`, v.script, { ...stack.env, AUTHZ_PORT: String(port), ...v.env }, port, stack.dataDir));
  }
  const seen = variants.map(() => ({ rps: [] as number[], cpu: [] as number[] }));
  for (let round = 0; round < ROUNDS; round++) {
    const order = variants.map((_, i) => i);
    for (const i of round % 2 ? order.reverse() : order) {
      const tokens = await stack.seedTokens(N + WARM + 100);
      let next = 0;
      const o = {
        url: `${servers[i]!.url}/token`, method: 'POST' as const, headers: { 'content-type': 'application/x-www-form-urlencoded' },
        next: () => ({ body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens[next++]!, client_id: 'bench-agent' }).toString() }),
      };
      await load('warm-up', { ...o, amount: WARM });
      const pid = servers[i]!.child.pid!;
      const before = await cpuMs(pid);
      const r = await load(variants[i]!.name, { ...o, amount: N });
      const cpu = ((await cpuMs(pid)) - before) * 1000 / r.total;
      if (r.bad) throw new Error(`${variants[i]!.name}: unexpected answers ${JSON.stringify(r.statuses)}`);
      seen[i]!.rps.push(r.rps);
      seen[i]!.cpu.push(cpu);
      out(`round ${round} ${variants[i]!.name}: ${r.rps.toFixed(0)} req/s, ${cpu.toFixed(0)} µs CPU/refresh, p50 ${r.p50} ms`);
    }
  }
  for (const [i, v] of variants.entries()) out(`median ${v.name}: ${median(seen[i]!.rps).toFixed(0)} req/s, ${median(seen[i]!.cpu).toFixed(0)} µs CPU/refresh`);
} finally {
  for (const s of servers) await s.stop();
  await stack.close();
}
