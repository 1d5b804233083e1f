import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { freePort, hostInProcess } from '../helpers/process.js';

/**
 * The in-process hosting of test/helpers/process.ts (`hostInProcess`), where it must differ from
 * a process: settings that only a process start reads are refused, naming the fix, and a failed
 * start looks like a process that exited 1 after logging why.
 */
describe('hosted services (test/helpers/process.ts hostInProcess)', function () {
  this.timeout(30_000);
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-hosting-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  for (const name of ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS']) {
    it(`refuses ${name}, which takes effect only when a process starts`, () => {
      expect(() => hostInProcess('authz-server', { DATA_DIR: dir, [name]: '/etc/ssl/test-ca.pem' })).to.throw(
        `${name} takes effect when a process starts: start authz-server with hosting 'process'`,
      );
    });
  }

  it('a start that fails: exit code 1, the reason logged as fatal, no container, and a child that cannot be signalled', async () => {
    const port = await freePort();
    const hosted = hostInProcess('resource-api', { DATA_DIR: dir, NODE_ENV: 'development', API_PORT: String(port), ISSUER_URL: 'not a url' });
    expect(await hosted.exited).to.equal(1);
    const lines = hosted.output().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: string; service: string; msg: string });
    expect(lines.map((l) => [l.level, l.service, l.msg])).to.deep.equal([['fatal', 'resource-api', 'Invalid configuration:\n  ISSUER_URL: expected an http(s) URL']]);
    await hosted.container().then(
      () => expect.fail('a failed start has no container'),
      (err: Error) => expect(err.message).to.match(/^resource-api did not start:/),
    );
    expect(() => hosted.child).to.throw("resource-api is hosted in the test process: it has no child process to signal (start it with hosting 'process')");
    expect(await hosted.stop()).to.equal(1);
    // Nothing listens on its port: the failed start opened no server.
    const reached = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).then(() => true, () => false);
    expect(reached).to.equal(false);
  });
});
