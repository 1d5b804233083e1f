import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Logger } from '../logging/logger.js';
import type { Drain } from './koa-drain.js';

export interface ServerOptions {
  host: string;
  port: number;
  logger: Logger;
  drain: Drain;
  shutdownTimeoutMs: number;
  /** Closes pools, flushes telemetry; runs after the last request finished (or the timeout). */
  onClose: () => Promise<void>;
}

export interface RunningServer {
  server: http.Server;
  url: string;
  /** Idempotent: stop accepting, drain in-flight requests, close resources. */
  shutdown(reason: string): Promise<void>;
}

export async function startServer(app: Koa, opts: ServerOptions): Promise<RunningServer> {
  const handle = app.callback();
  const server = http.createServer((req, res) => {
    res.once('finish', () => discardUnreadBody(req));
    return handle(req, res);
  });
  // Slow-loris bounds; keep-alive must outlive a typical load balancer idle timeout (60 s).
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;

  let closing: Promise<void> | undefined;
  const shutdown = (reason: string) =>
    (closing ??= (async () => {
      opts.logger.info({ reason, inFlight: opts.drain.inFlight }, 'shutting down');
      opts.drain.draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), opts.shutdownTimeoutMs);
      });
      const outcome = await Promise.race([waitForDrain(opts.drain, server), timedOut]);
      if (outcome === 'timeout') {
        opts.logger.warn({ inFlight: opts.drain.inFlight }, 'shutdown timeout: closing remaining connections');
      }
      server.closeAllConnections();
      await closed;
      clearTimeout(timer);
      await opts.onClose();
      opts.logger.info('shutdown complete');
    })());
  return { server, url, shutdown };
}

/**
 * A response sent before its request body was read — a 413 from a bounded reader, a 415 from
 * better-auth after it started streaming the body — leaves the rest of the body on the kept-alive
 * connection, paused by the reader that gave up, and the client's next request on that
 * connection hangs until the socket times out (found by test/reliability/fuzz.test.ts). Node
 * discards an untouched body itself; one that a reader started and abandoned is discarded here
 * the same way (what IncomingMessage#_dump does), so the connection moves on.
 */
function discardUnreadBody(req: http.IncomingMessage): void {
  if (req.complete) return;
  if (req.destroyed) {
    // A reader that destroyed the stream (async iteration stopped early) left nothing to
    // resume: the connection cannot be reused, so it ends after the response.
    req.socket?.end();
    return;
  }
  // A 'readable' listener (async iteration) would keep resume() from flowing the stream.
  req.removeAllListeners('readable');
  req.removeAllListeners('data');
  req.resume();
}

/** Resolves once no request is in flight; idle keep-alive sockets are closed as they free up. */
async function waitForDrain(drain: Drain, server: http.Server): Promise<'drained'> {
  while (drain.inFlight > 0) {
    await new Promise((r) => setTimeout(r, 25));
    server.closeIdleConnections();
  }
  return 'drained';
}

/** SIGTERM (orchestrators) and SIGINT (Ctrl-C) both drain; a second signal exits at once. */
export function installSignalHandlers(shutdown: (reason: string) => Promise<void>, logger: Logger): void {
  let received = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (received) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      received = true;
      shutdown(signal).then(
        () => logger.flush(() => process.exit(0)),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          logger.flush(() => process.exit(1));
        },
      );
    });
  }
}
