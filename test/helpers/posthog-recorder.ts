import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface PostHogBatchEvent {
  event: string;
  distinct_id: string;
  properties: Record<string, unknown>;
}

export interface PostHogRecorder {
  url: string;
  /** Every request body as received, decompressed when posthog-node gzipped it. */
  bodies: string[];
  events(): PostHogBatchEvent[];
  close(): Promise<void>;
}

/**
 * A loopback stand-in for PostHog's capture API that records every batch real posthog-node
 * sends. `mode`: answer at once, answer after `delayMs`, or never answer (a black hole).
 */
export async function startPostHogRecorder(mode: { kind: 'ok' } | { kind: 'slow'; delayMs: number } | { kind: 'never' } = { kind: 'ok' }): Promise<PostHogRecorder> {
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      bodies.push((req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8'));
      if (mode.kind === 'never') return;
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":1}');
      if (mode.kind === 'slow') setTimeout(answer, mode.delayMs).unref();
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    events: () => bodies.flatMap((b) => (JSON.parse(b) as { batch?: PostHogBatchEvent[] }).batch ?? []),
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** A loopback URL where nothing listens (connection refused). */
export async function closedPortUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
