/**
 * `npm test`: the whole suite in two phases, then one summary.
 *
 * 1. The services and the admin CLI are bundled once (test/setup/compiled-services.ts, what
 *    `npm run build` does), so the few hundred processes the suite starts load a few bundled
 *    files, not TypeScript through tsx.
 * 2. Every file not listed in QUIET runs in mocha's parallel mode: the suite waits far more than
 *    it computes (process starts, device-flow intervals, outage timeouts), so files overlap.
 *    Each file owns its state: its own temporary PostgreSQL database, SQLite folder, Redis key
 *    prefix and ephemeral ports (test/helpers/process.ts `freePort`).
 *    The typecheck (`npm run typecheck`, tests included: test/resource-api/scopes.test.ts's
 *    proofs are lines that must not compile) runs beside it and counts as one test.
 * 3. The QUIET files run afterwards in three lanes side by side, one file at a time in each: they
 *    compare latencies (user enumeration by timing, PostHog outage latency) or race real
 *    timeouts. On a saturated machine they would measure the neighbours' load instead of the
 *    code; beside two other such files they do not (margins measured in QUIET's comment).
 *
 * The last lines are mocha's own summary lines with the totals of both phases, which is what
 * .ci/run reads. `npm test -- <files>` runs just those files with plain mocha.
 * Knobs: PORTCULLIS_TEST_JOBS (parallel workers; default 2 per core), PORTCULLIS_TEST_SOURCES=1
 * (start the services from the sources, no build).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes, scryptSync } from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { globSync } from 'node:fs';
import { mochaGlobalSetup } from './setup/compiled-services.js';
import { COMPILE_CACHE, ROOT } from './helpers/process.js';
import { dropRunDatabases } from './helpers/services.js';

/**
 * Files kept out of the parallel phase. They run after it in three lanes side by side, one file
 * at a time in each, so that at most three of them share the machine's two cores instead of the
 * parallel phase's saturated load. Two kinds:
 * - timing: assertions that compare latencies (user enumeration by timing, PostHog outage
 *   latency). Each samples its two sides alternately (test/helpers/stats.ts interleavedMedians,
 *   or request by request), so a neighbour's load lands on both medians alike. Measured with
 *   these lanes: medians 1–7 ms apart against bounds of 43–55 ms (user enumeration), PostHog
 *   outage 3–5 ms against a bound of 34–40 ms.
 * - timeouts: bounded by real timeouts that a saturated machine overruns: oidc-provider's 2.5 s
 *   fetch of a client metadata document, a Redis TTL of a few seconds, the change bus noticing a
 *   cut, `record()` not blocking on a PostHog that does not answer. They mostly wait.
 * The lanes are balanced by how long their files take here (about 20 s each), whatever the kind.
 */
export const QUIET: readonly (readonly string[])[] = [
  [
    'test/journey/posthog-outage.test.ts', // timing, ~18 s
    'test/authz-server/client-id-metadata.test.ts', // timeouts, ~5 s
  ],
  [
    'test/security/user-enumeration.test.ts', // timing, ~12 s
    'test/reliability/change-bus.outage.test.ts', // timeouts, ~11 s
  ],
  [
    'test/authz-server/accounts.timing.test.ts', // timing, ~13 s
    'test/shared/audit/audit.posthog.test.ts', // timeouts, ~3 s
    'test/shared/cache/cache.contract.test.ts', // timeouts, ~2 s
  ],
];
const QUIET_FILES = QUIET.flat();

/**
 * Files started before the rest, which follow in path order. Mocha hands files to its workers
 * in the order given, so a long file late in path order is still running after the others have
 * run dry, on a machine that is otherwise idle by then. Each file here was seen doing exactly
 * that: the 90 s Chromium sign-ins on both backends (sessions-end-everywhere), and the ~56 s
 * password-oracle file, which in path order finished 12 s after every other file. Putting every
 * long file first was tried too, but the runs that compared the orders were confounded by the
 * machine's own speed (see machineReference), so only files seen finishing last are listed. A
 * name that no longer exists is an error.
 */
export const LONGEST_FIRST = ['test/security/sessions-end-everywhere.test.ts', 'test/security/password-oracle.test.ts'];

// A hook or test without a timeout of its own gets 60 s (mocha's serial runs: 20 s): beside other
// files a process start or a sign-in can take several times longer than alone.
const MOCHA_FLAGS = ['--node-option', 'conditions=source', '--node-option', 'import=tsx', '--extension', 'ts', '--timeout', '60000', '--slow', '2000', '--exit', '--color'];
const mochaBin = join(dirname(createRequire(import.meta.url).resolve('mocha/package.json')), 'bin', 'mocha.js');

interface Counts {
  passing: number;
  pending: number;
  failing: number;
}

/**
 * Runs mocha with the given arguments, echoing its output (or, with `holdOutput`, keeping it for
 * `printHeld()`); resolves with its exit code and summary counts.
 */
function mocha(args: string[], { holdOutput = false } = {}): Promise<{ code: number; counts: Counts; printHeld(): void }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mochaBin, '--no-config', ...MOCHA_FLAGS, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_COMPILE_CACHE: COMPILE_CACHE } });
    let text = '';
    const held: [NodeJS.WriteStream, Buffer][] = [];
    const echo = (stream: NodeJS.WriteStream, d: Buffer) => (holdOutput ? held.push([stream, d]) : stream.write(d));
    child.stdout.on('data', (d: Buffer) => {
      echo(process.stdout, d);
      text += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => echo(process.stderr, d));
    child.on('close', (code) => {
      // eslint-disable-next-line no-control-regex
      const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
      const count = (word: string) => Number(plain.match(new RegExp(`^ *(\\d+) ${word}`, 'm'))?.[1] ?? 0);
      const printHeld = () => held.splice(0).forEach(([stream, d]) => stream.write(d));
      resolve({ code: code ?? 1, counts: { passing: count('passing'), pending: count('pending'), failing: count('failing') }, printHeld });
    });
  });
}

/** `tsc -p tsconfig.json --noEmit`: resolves with its output when it fails, undefined when clean. */
function typecheck(): Promise<string | undefined> {
  const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  return new Promise((resolve) => {
    execFile(process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit', '--pretty', 'false'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => resolve(err ? `${stdout}${stderr}` || String(err) : undefined));
  });
}

/** This run's name for its temporary PostgreSQL databases (test/helpers/services.ts). */
const RUN = randomBytes(4).toString('hex');
process.env.PORTCULLIS_TEST_RUN = RUN;

/** Drops the temporary databases this run left behind; a failure to do so is reported, not fatal. */
async function sweepDatabases(): Promise<void> {
  if (!process.env.DATABASE_URL) return;
  try {
    const dropped = await dropRunDatabases(process.env.DATABASE_URL, RUN);
    if (dropped.length) console.log(`\n  dropped ${dropped.length} temporary database(s) that outlived their worker`);
  } catch (err) {
    console.error(`\n  could not drop this run's temporary databases (portcullis_t_${RUN}_*): ${(err as Error).message}`);
  }
}

/**
 * How fast this machine is right now, for comparing the wall times of runs: the same 2-core
 * machine measured 81 and 108 ms for this one password hash (better-auth's scrypt parameters)
 * an hour apart, and the suite's wall time moved with it. Five hashes, about half a second.
 */
function machineReference(): string {
  const started = process.cpuUsage();
  for (let i = 0; i < 5; i++) scryptSync('reference', 'salt', 64, { N: 16384, r: 16, p: 1, maxmem: 64 * 1024 * 1024 });
  const used = process.cpuUsage(started);
  return `${Math.round((used.user + used.system) / 5 / 1000)} ms of CPU per scrypt hash (N=16384, r=16)`;
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  if (only.length > 0) return (await mocha(only).finally(sweepDatabases)).code; // from the sources, as a file run alone
  await mochaGlobalSetup(); // the compiled build, unless PORTCULLIS_TEST_SOURCES=1

  const all = globSync('test/**/*.test.ts', { cwd: ROOT }).map((f) => relative(ROOT, join(ROOT, f))).sort();
  const missing = [...QUIET_FILES, ...LONGEST_FIRST].filter((f) => !all.includes(f));
  if (missing.length) throw new Error(`QUIET or LONGEST_FIRST lists files that do not exist: ${missing.join(', ')}`);
  const parallel = [...LONGEST_FIRST, ...all.filter((f) => !QUIET_FILES.includes(f) && !LONGEST_FIRST.includes(f))];
  const jobs = Number(process.env.PORTCULLIS_TEST_JOBS) || Math.max(2, os.availableParallelism() * 2);

  const reference = machineReference();
  const started = Date.now();
  const types = typecheck();
  const phases: { code: number; counts: Counts }[] = [await mocha(['--parallel', '--jobs', String(jobs), ...parallel])];
  // The other lanes' output is held back and printed after the first lane's, so the reports do
  // not interleave line by line.
  const lanes = await Promise.all(QUIET.map((files, i) => mocha([...files], { holdOutput: i > 0 })));
  for (const lane of lanes) lane.printHeld();
  phases.push(...lanes);
  await sweepDatabases();
  const typeErrors = await types;
  phases.push({ code: typeErrors ? 1 : 0, counts: { passing: typeErrors ? 0 : 1, pending: 0, failing: typeErrors ? 1 : 0 } });
  console.log(typeErrors ? `\n  typecheck (tsc -p tsconfig.json --noEmit) failed:\n${typeErrors}` : '\n  ✔ typecheck (tsc -p tsconfig.json --noEmit)');
  const total = phases.reduce((t, p) => ({ passing: t.passing + p.counts.passing, pending: t.pending + p.counts.pending, failing: t.failing + p.counts.failing }), { passing: 0, pending: 0, failing: 0 });
  const minutes = Math.round((Date.now() - started) / 60_000);
  console.log(`\n  whole suite: ${all.length} files, ${parallel.length} in parallel (${jobs} workers), ${QUIET_FILES.length} in three quiet lanes; machine reference before the run: ${reference}\n`);
  console.log(`  ${total.passing} passing (${minutes}m)`);
  if (total.pending) console.log(`  ${total.pending} pending`);
  if (total.failing) console.log(`  ${total.failing} failing`);
  return phases.some((p) => p.code !== 0) || total.failing > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
