/**
 * `node --conditions=source --import tsx bench/usage-ab.ts`: `POST /v1/usage` and its floors,
 * measured in turns (A B C D, D C B A, …) on one stack, so that load from other processes on a
 * shared machine falls on every variant alike. Prints each round and the medians of requests/s,
 * the server's CPU per request and PostgreSQL's (the backends serving this run's database).
 * Variants: a bare Koa handler doing one INSERT, the same handler sending the usage report's one
 * statement, our stack answering without a database (bench/servers/usage-floor.ts), the route of
 * this checkout and, with BENCH_BEFORE=<path of another checkout, dependencies installed>, that
 * checkout's resource API on the same database (it must read this schema).
 * Knobs: BENCH_ROUNDS (4), BENCH_DURATION_S (4 per measured run, after 2 s unmeasured).
 */
import path from 'node:path';
import { readdir, readFile } from 'node:fs/promises';
import { createStack, freePort, startService, type Service } from './lib/stack.js';
import { load, type LoadOptions } from './lib/cannon.js';
import { waitPastBusStart } from './lib/bus.js';
import { usageWorkload } from './lib/usage.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const DURATION = Number(process.env.BENCH_DURATION_S ?? 4);
const REDIS = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const out = (s: string) => process.stdout.write(`${s}\n`);
/** User + system CPU of a process so far, ms (/proc, Linux; USER_HZ is 100). */
const cpuMs = async (pid: number) => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return 0;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
/** CPU ms so far of each PostgreSQL backend serving `db` (its process title names the database). */
const pgBackends = async (db: string): Promise<Map<number, number>> => {
  const m = new Map<number, number>();
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const title = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (title.startsWith('postgres: ') && title.includes(` ${db} `)) m.set(Number(pid), await cpuMs(Number(pid)));
  }
  return m;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const stack = await createStack({ baseDbUrl: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres', redisUrl: REDIS, logLevel: 'info' });
const dbName = new URL(stack.dbUrl).pathname.slice(1);
const servers: Service[] = [];
const start = async (name: string, script: string, env: Record<string, string>, port: number, ready?: string) => {
  const s = await startService(name, script, { ...stack.env, ...env }, port, stack.dataDir, ready);
  servers.push(s);
  return s;
};
try {
  const bareKoaPort = await freePort();
  const bareKoa = await start('bare-koa', 'bench/servers/bare-koa.ts', { BENCH_PORT: String(bareKoaPort) }, bareKoaPort, '/json');
  const authz = await start('authz-server', 'authz-server/main.ts', {}, Number(stack.env.AUTHZ_PORT));
  const api = await start('resource-api', 'resource-api/main.ts', {}, Number(stack.env.API_PORT));
  const floorPort = await freePort();
  const floor = await start('usage-floor', 'bench/servers/usage-floor.ts', { API_PORT: String(floorPort) }, floorPort);
  const beforePort = await freePort();
  const before = process.env.BENCH_BEFORE ? await start('resource-api-before', path.join(process.env.BENCH_BEFORE, 'resource-api/main.ts'), { API_PORT: String(beforePort) }, beforePort) : undefined;
  await waitPastBusStart(REDIS, stack.env.REDIS_KEY_PREFIX!);
  const [rt] = await stack.seedTokens(1);
  const res = await fetch(`${authz.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt!, client_id: 'bench-agent' }) });
  const token = ((await res.json()) as { access_token: string }).access_token;
  const reports = await usageWorkload(stack);
  const json = { 'content-type': 'application/json' };
  const asUser = { ...json, authorization: `Bearer ${token}` };
  const variants: { name: string; server: Service; o: LoadOptions }[] = [
    { name: 'bare Koa + one INSERT', server: bareKoa, o: { url: `${bareKoa.url}/insert`, method: 'POST', headers: json, body: '{"units":1}', expectStatus: 201 } },
    { name: 'bare Koa + the usage statement', server: bareKoa, o: { url: `${bareKoa.url}/usage`, method: 'POST', headers: json, next: reports({ userId: stack.userId }), expectStatus: 201 } },
    { name: 'our stack, no database', server: floor, o: { url: `${floor.url}/v1/usage`, method: 'POST', headers: asUser, next: reports(), expectStatus: 201 } },
    { name: 'POST /v1/usage', server: api, o: { url: `${api.url}/v1/usage`, method: 'POST', headers: asUser, next: reports(), expectStatus: 201 } },
    ...(before ? [{ name: 'POST /v1/usage before', server: before, o: { url: `${before.url}/v1/usage`, method: 'POST' as const, headers: asUser, next: reports(), expectStatus: 201 } }] : []),
  ];
  const seen = variants.map(() => ({ rps: [] as number[], cpu: [] as number[], db: [] as number[] }));
  for (let round = 0; round < ROUNDS; round++) {
    const order = variants.map((_, i) => i);
    for (const i of round % 2 ? order.reverse() : order) {
      const v = variants[i]!;
      await load('warm-up', { ...v.o, duration: 2 });
      const pid = v.server.child.pid!;
      const [cpu0, db0] = [await cpuMs(pid), await pgBackends(dbName)];
      const r = await load(v.name, { ...v.o, duration: DURATION });
      const [cpu1, db1] = [await cpuMs(pid), await pgBackends(dbName)];
      if (r.bad) throw new Error(`${v.name}: unexpected answers ${JSON.stringify(r.statuses)}`);
      const dbMs = [...db1].reduce((n, [p, ms]) => n + ms - (db0.get(p) ?? 0), 0);
      seen[i]!.rps.push(r.rps);
      seen[i]!.cpu.push(((cpu1 - cpu0) * 1000) / r.total);
      seen[i]!.db.push((dbMs * 1000) / r.total);
      out(`round ${round} ${v.name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${seen[i]!.cpu.at(-1)!.toFixed(0)} µs server CPU/req, ${seen[i]!.db.at(-1)!.toFixed(0)} µs PostgreSQL CPU/req`);
    }
  }
  out('| variant | median req/s | server CPU µs/req | PostgreSQL CPU µs/req |');
  out('|---|---:|---:|---:|');
  for (const [i, v] of variants.entries()) out(`| ${v.name} | ${median(seen[i]!.rps).toFixed(0)} | ${median(seen[i]!.cpu).toFixed(0)} | ${median(seen[i]!.db).toFixed(0)} |`);
} finally {
  for (const s of servers.reverse()) await s.stop();
  await stack.close();
}
