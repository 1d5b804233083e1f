import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, runNode, SOURCE_FLAGS } from './helpers/process.js';

/** `npm start` is `node --conditions=source --import tsx scripts/start.ts`. */
describe('npm start', function () {
  this.timeout(60_000);

  it('runs both services on a fresh data folder, prints their URLs and stops both on SIGTERM', async () => {
    const dataDir = path.join(await mkdtemp(path.join(os.tmpdir(), 'portcullis-start-')), 'not-yet-created');
    const [authz, api] = [await freePort(), await freePort()];
    const proc = runNode([...SOURCE_FLAGS, 'scripts/start.ts'], { DATA_DIR: dataDir, AUTHZ_PORT: String(authz), API_PORT: String(api) });
    try {
      await proc.waitFor(/Portcullis is running/, 45_000);
      expect(proc.output()).to.contain(`authz-server  http://localhost:${authz}`);
      expect(proc.output()).to.contain(`resource-api  http://localhost:${api}`);
      for (const port of [authz, api]) {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        expect(res.status, `port ${port}`).to.equal(200);
      }
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
});
