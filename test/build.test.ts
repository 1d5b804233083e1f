import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, ROOT, runNode, type Proc } from './helpers/process.js';

const exec = promisify(execFile);

/**
 * `npm run build` output must run with plain `node` (no tsx, no source condition), and
 * agree with the sources about migration names: a database migrated by one is up to date
 * for the other.
 */
describe('compiled build', function () {
  this.timeout(120_000);
  let dataDir: string;
  const procs: Proc[] = [];
  const env = () => ({ NODE_ENV: 'development', DATA_DIR: dataDir, LOG_LEVEL: 'info' });

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-build-'));
    // A whole-suite run compiled dist/ already in its global setup (test/setup/compiled-services.ts),
    // with the very command `npm run build` runs; rebuilding would rewrite files that running
    // services load from. Run alone, this file builds.
    const { scripts } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(scripts.build).to.equal('node --conditions=source --import tsx scripts/build.ts');
    if (process.env.PORTCULLIS_TEST_COMPILED !== '1') await exec('npm', ['run', 'build'], { cwd: ROOT });
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.stop(3000)));
    await rm(dataDir, { recursive: true, force: true });
  });

  async function admin(args: string[], compiled: boolean) {
    // The sources, always: `--import=tsx` is not the spelling process.ts maps to dist/.
    const proc = runNode(compiled ? ['dist/scripts/admin.js', ...args] : ['--conditions=source', '--import=tsx', 'scripts/admin.ts', ...args], env());
    const code = await proc.exited;
    return { code, out: proc.output() };
  }

  it('emits every service and the admin CLI as bundles, at the paths of their sources', async () => {
    for (const f of ['dist/authz-server/main.js', 'dist/resource-api/main.js', 'dist/scripts/admin.js', 'dist/scripts/start.js']) {
      expect((await stat(path.join(ROOT, f))).isFile(), f).to.equal(true);
    }
    // Bundled: no per-module output beside the entry points (what tsc would emit).
    for (const f of ['dist/shared/config/load.js', 'dist/authz-server/oidc/configuration.js']) {
      expect(await stat(path.join(ROOT, f)).then(() => f, () => undefined), f).to.equal(undefined);
    }
  });

  it('migrates from sources, then the build finds nothing pending (and the reverse)', async () => {
    const fromSource = await admin(['db:migrate'], false);
    expect(fromSource.code, fromSource.out).to.equal(0);
    const compiledStatus = await admin(['db:status'], true);
    expect(compiledStatus.code, compiledStatus.out).to.equal(0);
    expect(compiledStatus.out).to.match(/sqlite: \d+ applied, 0 pending/);
    const sourceStatus = await admin(['db:status'], false);
    expect(sourceStatus.out.split('\n')[0]).to.equal(compiledStatus.out.split('\n')[0]);
  });

  for (const [service, portVar] of [['authz-server', 'AUTHZ_PORT'], ['resource-api', 'API_PORT']] as const) {
    it(`starts the compiled ${service} with plain node and serves /readyz`, async () => {
      const port = await freePort();
      const proc = runNode([`dist/${service}/main.js`], { ...env(), [portVar]: String(port) });
      procs.push(proc);
      await proc.waitFor(/listening/);
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(res.status).to.equal(200);
    });
  }
});
