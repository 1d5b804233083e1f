import { buildDist } from '../../scripts/build.js';

/**
 * Global setup of the whole suite (test/run.ts): builds dist/ once, with the very function
 * `npm run build` runs (scripts/build.ts: one esbuild bundle per entry point), then lets
 * test/helpers/process.ts start the services and the admin CLI from those bundles instead of
 * through tsx — what production runs, without a transpiler and some 2,500 module loads in every
 * one of the few hundred processes the suite starts. test/build.test.ts proves the build runs
 * and agrees with the sources. PORTCULLIS_TEST_SOURCES=1 keeps every process on the sources.
 */
export async function mochaGlobalSetup(): Promise<void> {
  if (process.env.PORTCULLIS_TEST_SOURCES === '1') return;
  await buildDist();
  process.env.PORTCULLIS_TEST_COMPILED = '1';
}
