import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/process.js';

/**
 * Mocha global setup of the whole suite (`.mocharc.json`): compiles the services and the admin
 * CLI once (`npm run build`'s tsconfig, into dist/), then lets test/helpers/process.ts start
 * those processes from the compiled JavaScript instead of through tsx — the same code, without a
 * transpiler in every one of the few hundred processes the suite starts. test/build.test.ts
 * proves the compiled build runs and agrees with the sources. PORTCULLIS_TEST_SOURCES=1 keeps
 * every process on the sources.
 */
export async function mochaGlobalSetup(): Promise<void> {
  if (process.env.PORTCULLIS_TEST_SOURCES === '1') return;
  const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  // The command of `npm run build` (test/build.test.ts checks that they agree).
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT });
  process.env.PORTCULLIS_TEST_COMPILED = '1';
}
