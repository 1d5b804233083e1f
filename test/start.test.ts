import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { freePort, ROOT, runNode, SOURCE_FLAGS } from './helpers/process.js';

/** `npm start` is `node --conditions=source --import tsx scripts/start.ts`. */
describe('npm start', function () {
  this.timeout(60_000);

  it('runs both services on a fresh data folder, prints their URLs and stops both on SIGTERM', async () => {
    const dataDir = path.join(await mkdtemp(path.join(os.tmpdir(), 'portcullis-start-')), 'not-yet-created');
    const [authz, api, ui] = [await freePort(), await freePort(), await freePort()];
    const proc = runNode([...SOURCE_FLAGS, 'scripts/start.ts'], { DATA_DIR: dataDir, AUTHZ_PORT: String(authz), API_PORT: String(api), FRONTEND_URL: `http://localhost:${ui}` });
    try {
      await proc.waitFor(/Portcullis is running/, 45_000);
      // The quick start ends at a working page: the example marketplace UI on FRONTEND_URL.
      expect(proc.output()).to.contain(`marketplace   http://localhost:${ui}`);
      const home = await fetch(`http://127.0.0.1:${ui}/`);
      expect([home.status, (await home.text()).includes('<h1>Agent marketplace</h1>')]).to.deep.equal([200, true]);
      expect(proc.output()).to.contain(`authz-server  http://localhost:${authz}`);
      expect(proc.output()).to.contain(`resource-api  http://localhost:${api}`);
      for (const port of [authz, api]) {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        expect(res.status, `port ${port}`).to.equal(200);
      }
      // A supported runtime: oidc-provider warns at start on anything older than its LTS floor.
      expect(proc.output()).not.to.contain('Unsupported runtime');
      // No provider notices either (an experimental feature left unacknowledged prints one).
      expect(proc.output()).not.to.contain('oidc-provider NOTICE');
      // Each service says it runs on generated development secrets (generated once, by the launcher).
      expect(proc.output().match(/development secrets in use/g)?.length).to.equal(2);
      proc.child.kill('SIGTERM');
      expect(await proc.exited).to.equal(0);
      expect(proc.output().match(/shutdown complete/g)?.length).to.equal(2);
      for (const port of [authz, api]) {
        const down = await fetch(`http://127.0.0.1:${port}/healthz`).then(() => 'up', () => 'down');
        expect(down).to.equal('down');
      }
    } finally {
      await proc.stop(3000);
      await rm(path.dirname(dataDir), { recursive: true, force: true });
    }
  });

  it('names a busy port and exits 1 before starting anything', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-start-busy-'));
    const [authz, api] = [await freePort(), await freePort()];
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(authz, '0.0.0.0', r));
    const proc = runNode([...SOURCE_FLAGS, 'scripts/start.ts'], { DATA_DIR: dataDir, AUTHZ_PORT: String(authz), API_PORT: String(api), DEMO_UI: 'false' });
    try {
      expect(await proc.exited).to.equal(1);
      expect(proc.output()).to.match(new RegExp(`Port ${authz} on \\S+ is already in use, so authz-server cannot start\\. Stop what runs there \\(another Portcullis\\?\\) or set AUTHZ_PORT\\.`));
      expect(proc.output()).not.to.contain('Portcullis is running');
      expect(await fetch(`http://127.0.0.1:${api}/healthz`).then(() => 'up', () => 'down'), 'the API was never started').to.equal('down');
    } finally {
      await proc.stop(3000);
      await new Promise((r) => squatter.close(r));
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('stops both services when its parent (npm and its shell) goes away without passing a signal on', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-start-orphan-'));
    const [authz, api] = [await freePort(), await freePort()];
    // The shape of `npm start`: a shell that forks the launcher (`; true` keeps sh from exec'ing it).
    const cmd = [process.execPath, ...SOURCE_FLAGS, 'scripts/start.ts'].map((a) => `'${a}'`).join(' ');
    const shell = spawn('sh', ['-c', `${cmd}; true`], { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir, AUTHZ_PORT: String(authz), API_PORT: String(api), LOG_LEVEL: 'warn', DEMO_UI: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    shell.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      for (let i = 0; i < 450 && !out.includes('Portcullis is running'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).to.contain('Portcullis is running');
      shell.kill('SIGKILL');
      const up = () => Promise.all([authz, api].map((p) => fetch(`http://127.0.0.1:${p}/healthz`).then(() => true, () => false)));
      let state = await up();
      for (let i = 0; i < 100 && state.some(Boolean); i++) {
        await new Promise((r) => setTimeout(r, 100));
        state = await up();
      }
      expect(state, 'authz-server and resource-api still answering').to.deep.equal([false, false]);
    } finally {
      shell.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
