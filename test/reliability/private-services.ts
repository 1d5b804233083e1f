import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../helpers/process.js';

/**
 * Private PostgreSQL and Redis servers for fault tests: the shared ones (5432, 6379) serve other
 * suites and CI at the same time, so a test that stops its database or cache gets its own,
 * on a free loopback port, and removes it afterwards (also when the test process exits).
 */

const run = promisify(execFile);

function pgBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** `pg_ctl stop -m fast`: open sessions are terminated (57P01), new connections refused. */
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** Why a private cluster cannot be made here, or undefined when it can. */
export function privatePostgresUnavailable(): string | undefined {
  if (!pgBinDir()) return 'no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb)';
  if (process.getuid?.() === 0) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    } catch {
      return 'running as root without a postgres user to own the cluster';
    }
  }
  return undefined;
}

const clusters = new Set<string>();
const redisChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const data of clusters) {
    try {
      execFileSync(path.join(pgBinDir()!, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore', ...asPostgres() });
    } catch {
      // already stopped
    }
  }
  for (const c of redisChildren) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** initdb refuses to run as root: the cluster belongs to the postgres user. */
function asPostgres(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = pgBinDir()!;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-pg-'));
  const data = path.join(dir, 'data');
  const owner = asPostgres();
  if (owner.uid !== undefined) await chown(dir, owner.uid, owner.gid!);
  const opts = { ...owner, cwd: dir, timeout: 60_000 };
  await run(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], opts);
  clusters.add(data);
  const port = await freePort();
  // fsync off: a test cluster, thrown away; it makes start, stop and every commit cheap.
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const ctl = (args: string[]) => run(path.join(bin, 'pg_ctl'), ['-D', data, ...args], opts);
  const start = async () => {
    await ctl(['-o', serverOptions, '-l', path.join(dir, 'log'), '-w', '-t', '30', 'start']);
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    async stop() {
      await ctl(['-m', 'fast', '-w', '-t', '30', 'stop']);
    },
    async destroy() {
      await ctl(['-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      clusters.delete(data);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateRedis {
  url: string;
  port: number;
  pid(): number | undefined;
  /** SIGKILL: Redis vanishes without closing connections gracefully (a crash, an OOM kill). */
  kill(): Promise<void>;
  /** A fresh, empty Redis on the same port. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export function privateRedisUnavailable(): string | undefined {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'redis-server is not installed';
  }
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    redisChildren.add(c);
    c.on('exit', () => redisChildren.delete(c));
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    c.stderr!.on('data', (d) => (out += d));
    const deadline = Date.now() + 10_000;
    while (!/Ready to accept connections/.test(out)) {
      if (c.exitCode !== null) throw new Error(`redis-server exited: ${out}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    child = c;
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, pid: () => child?.pid, kill, start, destroy: kill };
}

/**
 * The fallback fault where no private cluster can be made: every session of `database` (the
 * test's own temporary database, never another) is terminated with pg_terminate_backend every
 * `everyMs` until stop(). Queries in progress fail with 57P01; new connections still succeed.
 */
export function killConnectionsRepeatedly(baseUrl: string, database: string, everyMs = 100): { stop(): Promise<number> } {
  let stopped = false;
  let killed = 0;
  const loop = (async () => {
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: baseUrl });
    await admin.connect();
    try {
      while (!stopped) {
        const res = await admin.query('SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
        killed += Number(res.rows[0].n);
        await new Promise((r) => setTimeout(r, everyMs));
      }
    } finally {
      await admin.end();
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return killed;
    },
  };
}
