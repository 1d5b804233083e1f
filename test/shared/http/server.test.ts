import { expect } from 'chai';
import http from 'node:http';
import { createDrain, createHttpApp, startServer, type RunningServer } from '#shared/http/index.js';
import type { Config } from '#shared/config/index.js';
import { testConfig } from '../../helpers/config.js';
import { captureLogger } from '../../helpers/log-capture.js';

/** GET over a fresh keep-alive agent so we can reuse one socket after shutdown starts. */
function get(url: string, agent: http.Agent | false = false): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
      })
      .on('error', reject);
  });
}

describe('shared/http graceful shutdown', () => {
  let config: Config;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ config, cleanup } = await testConfig());
  });
  after(() => cleanup());

  async function start(opts: { holdMs: number; shutdownTimeoutMs: number }) {
    const events: string[] = [];
    const drain = createDrain();
    const { logger } = captureLogger();
    const app = createHttpApp({ config, logger, publicUrl: 'http://localhost', readiness: {}, drain });
    app.use(async (ctx) => {
      if (ctx.path === '/slow') {
        events.push('slow:start');
        await new Promise((r) => setTimeout(r, opts.holdMs));
        events.push('slow:end');
      }
      ctx.body = { ok: true };
    });
    const running: RunningServer = await startServer(app, {
      host: '127.0.0.1',
      port: 0,
      logger,
      drain,
      shutdownTimeoutMs: opts.shutdownTimeoutMs,
      onClose: async () => {
        events.push('onClose');
      },
    });
    return { running, events };
  }

  it('lets in-flight requests finish, refuses new ones, then closes resources', async () => {
    const { running, events } = await start({ holdMs: 400, shutdownTimeoutMs: 5000 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect((await get(`${running.url}/fast`, agent)).status).to.equal(200);
    const inFlight = get(`${running.url}/slow`);
    while (!events.includes('slow:start')) await new Promise((r) => setTimeout(r, 10));
    const done = running.shutdown('test');
    const res = await inFlight;
    expect(res.status).to.equal(200);
    expect(JSON.parse(res.body)).to.deep.equal({ ok: true });
    let refused: unknown;
    await get(`${running.url}/fast`).catch((err: NodeJS.ErrnoException) => (refused = err.code));
    expect(refused).to.equal('ECONNREFUSED');
    await done;
    expect(events).to.deep.equal(['slow:start', 'slow:end', 'onClose']);
    agent.destroy();
  });

  it('answers a request arriving on a kept-alive socket during drain with 503 SHUTTING_DOWN', async () => {
    const { running, events } = await start({ holdMs: 300, shutdownTimeoutMs: 5000 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    await Promise.all([get(`${running.url}/a`, agent), get(`${running.url}/b`, agent)]); // two warm sockets
    const inFlight = get(`${running.url}/slow`, agent);
    while (!events.includes('slow:start')) await new Promise((r) => setTimeout(r, 10));
    const done = running.shutdown('test');
    const late = await get(`${running.url}/late`, agent).catch((err: NodeJS.ErrnoException) => ({ status: 0, body: err.code ?? '', headers: {} as http.IncomingHttpHeaders }));
    // Either the idle socket was already closed (connection reset) or it was answered 503: never a 200.
    if (late.status !== 0) {
      expect(late.status).to.equal(503);
      expect(JSON.parse(late.body).error.code).to.equal('SHUTTING_DOWN');
      expect(late.headers.connection).to.equal('close');
    } else {
      expect(late.body).to.be.oneOf(['ECONNRESET', 'ECONNREFUSED', 'EPIPE']);
    }
    expect((await inFlight).status).to.equal(200);
    await done;
    agent.destroy();
  });

  it('gives up on a request that outlives the shutdown timeout and still closes resources', async function () {
    this.timeout(5000);
    const { running, events } = await start({ holdMs: 3000, shutdownTimeoutMs: 300 });
    const inFlight = get(`${running.url}/slow`).catch((err: NodeJS.ErrnoException) => err.code);
    while (!events.includes('slow:start')) await new Promise((r) => setTimeout(r, 10));
    const t0 = Date.now();
    await running.shutdown('test');
    expect(Date.now() - t0).to.be.lessThan(2500);
    expect(await inFlight).to.equal('ECONNRESET');
    expect(events).to.include('onClose');
    expect(events).not.to.include('slow:end');
  });

  it('is idempotent: a second shutdown call returns the same promise', async () => {
    const { running } = await start({ holdMs: 0, shutdownTimeoutMs: 1000 });
    const a = running.shutdown('first');
    const b = running.shutdown('second');
    expect(a).to.equal(b);
    await a;
  });
});
