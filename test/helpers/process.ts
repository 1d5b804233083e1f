import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import type { Container } from '#shared/container.js';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Node flags that run TypeScript sources, as `npm start` does. */
export const SOURCE_FLAGS = ['--conditions=source', '--import', 'tsx'];

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Proc {
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after the grace period; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Entry points test/setup/compiled-services.ts compiles, and where the compiled file is. */
const COMPILED: Record<string, string> = {
  'authz-server/main.ts': 'dist/authz-server/main.js',
  'resource-api/main.ts': 'dist/resource-api/main.js',
  'scripts/admin.ts': 'dist/scripts/admin.js',
};

/**
 * In a whole-suite run the services and the admin CLI start from the build compiled once by the
 * global setup (PORTCULLIS_TEST_COMPILED); a file run on its own starts them from the sources.
 * Only the exact `SOURCE_FLAGS` spelling is mapped: a test that must run the sources spells the
 * flags otherwise (test/build.test.ts).
 */
function entryPoint(args: string[]): string[] {
  if (process.env.PORTCULLIS_TEST_COMPILED !== '1' || args.length < SOURCE_FLAGS.length + 1) return args;
  if (!SOURCE_FLAGS.every((f, i) => args[i] === f)) return args;
  const compiled = COMPILED[args[SOURCE_FLAGS.length]!];
  return compiled ? [compiled, ...args.slice(SOURCE_FLAGS.length + 1)] : args;
}

/**
 * V8's on-disk code cache (Node's module compile cache) for the processes the suite starts: the
 * services load some 2,500 modules, and compiling them was most of a start's CPU. Node checks
 * each entry against the source's hash, so a changed file is compiled afresh.
 */
export const COMPILE_CACHE = process.env.NODE_COMPILE_CACHE || path.join(os.tmpdir(), 'portcullis-test-compile-cache');

/** Spawns a node process from the repo root with a clean, explicit environment. */
export function runNode(args: string[], env: Record<string, string | undefined>): Proc {
  const child = spawn(process.execPath, entryPoint(args), {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_COMPILE_CACHE: COMPILE_CACHE, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    async waitFor(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before ${pattern}:\n${out}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export type ServiceName = 'authz-server' | 'resource-api';

/**
 * How a harness runs a service: `process` spawns `node <service>/main` (a real process: signals,
 * exit codes, stdout, a PID to kill); `in-process` hosts the same boot (`launchService`, what main
 * runs, minus the signal handlers) in the test's own process, on its own port and database pool.
 * Route, contract and service tests host; security/, journey/, reliability/ and browser/ spawn.
 */
export type Hosting = 'process' | 'in-process';

/**
 * The service booted in this process by `launchService`, behind the `Proc` interface: `output()`
 * is its log lines, `exited` resolves with 1 when the start fails (as the process would exit 1)
 * and with 0 after `stop()` has shut it down gracefully. It has no child process: a test that
 * signals or kills one spawns it instead.
 */
export interface HostedProc extends Proc {
  /** The hosted service's container once it listens (its database's `query` events, its metrics). */
  container(): Promise<Container>;
}

export function hostInProcess(service: ServiceName, env: Record<string, string | undefined>): HostedProc {
  for (const name of ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS']) {
    if (env[name]) throw new Error(`${name} takes effect when a process starts: start ${service} with hosting 'process'`);
  }
  let out = '';
  const destination = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  });
  let code: number | null | undefined;
  let resolveExit!: (code: number | null) => void;
  const exited = new Promise<number | null>((r) => (resolveExit = r));
  const exit = (c: number) => {
    code = c;
    resolveExit(c);
  };
  const running = (async () => {
    const { launchService } = await import('#shared/boot/run-service.js');
    const def = service === 'authz-server' ? (await import('#authz/service.js')).authzServerService : (await import('#api/service.js')).resourceApiService;
    return launchService(def, { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, { destination, signals: false });
  })().catch(() => {
    exit(1); // logged as fatal in `out`, as a process would print it before exiting 1
    return undefined;
  });
  return {
    get child(): ChildProcess {
      throw new Error(`${service} is hosted in the test process: it has no child process to signal (start it with hosting 'process')`);
    },
    output: () => out,
    exited,
    async container() {
      const server = await running;
      if (!server) throw new Error(`${service} did not start:\n${out}`);
      return server.container;
    },
    async waitFor(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (code !== undefined) throw new Error(`${service} stopped (${code}) before ${pattern}:\n${out}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      const server = await running;
      if (code === undefined && server) {
        await server.shutdown('stopped by the test');
        exit(0);
      }
      return code ?? null;
    },
  };
}

/**
 * Service processes of one suite. Each is tracked from the moment it is spawned, so a start
 * that times out (a loaded machine) is still stopped by stopAll().
 */
export function serviceProcesses() {
  const procs: Proc[] = [];
  return {
    async start(service: ServiceName, env: Record<string, string>, timeoutMs = 90_000): Promise<Proc> {
      const proc = runNode([...SOURCE_FLAGS, `${service}/main.ts`], env);
      procs.push(proc);
      await proc.waitFor(new RegExp(`${service} listening`), timeoutMs);
      return proc;
    },
    /** Stops every process started here (SIGKILL after `graceMs`). */
    async stopAll(graceMs = 5000): Promise<void> {
      await Promise.all(procs.map((p) => p.stop(graceMs)));
    },
  };
}
