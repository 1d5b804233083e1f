import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A relying party's loopback redirect URI as a real listener, so a browser that is sent there
 * lands on a page. By default it answers "callback reached"; `handler` records or answers
 * otherwise. `close()` stops it.
 */
export async function listenAt(url: string, handler: http.RequestListener = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('callback reached')): Promise<{ server: http.Server; close(): Promise<void> }> {
  const server = http.createServer(handler);
  const u = new URL(url);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(u.port), u.hostname, resolve);
  });
  return { server, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * A loopback redirect URI on a port of its own (the kernel picks it), for files that run beside
 * others in `npm test`'s parallel phase: `url` is what the client registers.
 */
export async function listenLoopback(path: string, handler?: http.RequestListener): Promise<{ url: string; server: http.Server; close(): Promise<void> }> {
  const listener = await listenAt('http://127.0.0.1:0', handler);
  const { port } = listener.server.address() as AddressInfo;
  return { ...listener, url: `http://127.0.0.1:${port}${path}` };
}
