/**
 * `npm run build`: the services, the admin CLI and `npm start` as bundles in dist/, with the
 * same paths as their sources (dist/authz-server/main.js, dist/resource-api/main.js,
 * dist/scripts/admin.js, dist/scripts/start.js), run with plain `node`.
 *
 * esbuild bundles the TypeScript sources (the `source` condition of package.json `imports`)
 * with every pure-JavaScript dependency into a few files; code the entry points share goes to
 * dist/chunks/. A service then loads a handful of files instead of some 2,500 modules, which
 * halved the CPU a start takes (docs/testing.md). Left out of the bundle, and loaded from
 * node_modules at run time, are: native addons, knex's drivers we do not use, the AWS SDK
 * (loaded only when SECRETS_MANAGER_SECRET_ID is set) and what the code itself loads lazily
 * through `createRequire` (pino-pretty, nodemailer, posthog-node, undici, zxcvbn).
 *
 * Types are checked by `npm run typecheck`, not here: esbuild only strips them.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The entry points, each bundled to dist/<same path>.js. */
export const ENTRY_POINTS = ['authz-server/main.ts', 'resource-api/main.ts', 'scripts/admin.ts', 'scripts/start.ts'];

/** Packages loaded from node_modules at run time instead of bundled (see the header). */
export const EXTERNAL = [
  'better-sqlite3', // native addon
  'pg-native', // pg's optional native binding, never installed
  // knex's other dialects: required by name inside knex, never installed here.
  'mysql', 'mysql2', 'oracledb', 'tedious', 'sqlite3', 'pg-query-stream', 'mariadb', 'mariadb/*',
  '@aws-sdk/*',
  'openid-client', // dev dependency: `admin token` loads it on a developer's machine only
];

/** esbuild's options for dist/. */
export function buildOptions(outdir = path.join(ROOT, 'dist')): BuildOptions {
  return {
    absWorkingDir: ROOT,
    entryPoints: ENTRY_POINTS,
    outbase: '.',
    outdir,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node22',
    conditions: ['source'],
    external: EXTERNAL,
    // CommonJS dependencies inside an ES module bundle still call require() for Node's built-ins.
    banner: { js: "import { createRequire as __portcullisCreateRequire } from 'node:module';\nconst require = __portcullisCreateRequire(import.meta.url);" },
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
  };
}

/** Empties dist/ and writes the bundles. */
export async function buildDist(outdir = path.join(ROOT, 'dist')): Promise<void> {
  await rm(outdir, { recursive: true, force: true });
  await build(buildOptions(outdir));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildDist();
  process.stdout.write(`built ${ENTRY_POINTS.map((e) => 'dist/' + e.replace(/\.ts$/, '.js')).join(', ')}\n`);
}
