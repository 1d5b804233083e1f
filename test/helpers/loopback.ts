import http from 'node:http';

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
