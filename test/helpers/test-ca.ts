import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A throwaway certificate authority and a server certificate for 127.0.0.1 and localhost, made
 * with openssl at test time (never committed). Processes under test trust it through
 * NODE_EXTRA_CA_CERTS=`caFile`, exactly as a production server trusts a public CA.
 */
export interface TestCa {
  caFile: string;
  key: Buffer;
  cert: Buffer;
  close(): void;
}

export function createTestCa(): TestCa {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-ca-'));
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=Portcullis test CA');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('ext.cnf'));
  return {
    caFile: f('ca.pem'),
    key: readFileSync(f('server.key')),
    cert: readFileSync(f('server.pem')),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export type DocumentHandler = (req: IncomingMessage, res: ServerResponse, origin: string) => void;

/**
 * An https server on loopback whose routes the test sets: `serve(path, handler)`. Counts
 * requests per path, so a test can see whether the authorization server fetched (or cached).
 */
export async function httpsDocumentServer(ca: TestCa) {
  const routes = new Map<string, DocumentHandler>();
  const hits = new Map<string, number>();
  const server = https.createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
    const p = new URL(req.url ?? '/', 'https://x').pathname;
    hits.set(p, (hits.get(p) ?? 0) + 1);
    const route = routes.get(p);
    if (!route) return void res.writeHead(404).end();
    route(req, res, origin);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    /** `https://127.0.0.1:PORT` + path. */
    url: (p: string) => `${origin}${p}`,
    serve(p: string, handler: DocumentHandler) {
      routes.set(p, handler);
    },
    /** A JSON document, with `Cache-Control` when given. */
    json(p: string, body: unknown, headers: Record<string, string> = {}) {
      routes.set(p, (_req, res) => res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body)));
    },
    hits: (p: string) => hits.get(p) ?? 0,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
