import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { createDb, type Knex } from '#shared/db/index.js';
import { createDrain, createHttpApp, mountRouter } from '#shared/http/index.js';
import { billingWebhookRouter } from '#api/features/billing/index.js';
import { startSystem, type System, type Backend } from '../../helpers/system.js';
import { captureLogger } from '../../helpers/log-capture.js';
import { signedEvent } from '../../helpers/fake-stripe.js';
import { PG_SKIP_REASON, PG_URL } from '../../helpers/services.js';
import { objects, stripeEvent } from './billing.fixture.js';

const WEBHOOK_SECRET = 'whsec_storage_outage_secret';

/**
 * No 2xx unless the event is stored: with the database out of reach the webhook answers 503
 * DATABASE_UNAVAILABLE (Stripe delivers again), and the next delivery once it is back is the
 * one that stores it. PostgreSQL: the API reaches it through a TCP proxy that the test cuts
 * (connections reset, new ones refused). SQLite: another process holds the write lock past
 * busy_timeout.
 */
function suite(backend: Backend) {
  describe(`POST /v1/webhooks/stripe with the database unavailable (${backend})`, function () {
    this.timeout(60_000);
    let env: System;
    let db: Knex;
    let url: string;
    let server: http.Server;
    let outage: { begin(): Promise<void>; end(): Promise<void>; close(): Promise<void> };

    before(async () => {
      env = await startSystem({ backend, env: { STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET }, authz: 0 });
      const { logger } = captureLogger('resource-api');
      if (env.config.db.client === 'pg') {
        const proxy = await tcpProxy(new URL(env.config.db.url));
        outage = proxy;
        const through = new URL(env.config.db.url);
        through.port = String(proxy.port);
        through.hostname = '127.0.0.1';
        db = createDb({ ...env.config.db, url: through.toString(), acquireTimeoutMs: 1000 }, logger);
      } else {
        db = createDb({ ...env.config.db, acquireTimeoutMs: 300 }, logger);
        const other = new Database(path.join(env.env.DATA_DIR!, 'portcullis.sqlite'));
        outage = {
          begin: async () => void other.exec('BEGIN IMMEDIATE'),
          end: async () => void other.exec('ROLLBACK'),
          close: async () => void other.close(),
        };
      }
      const app = createHttpApp({ config: env.config, logger, publicUrl: env.config.api.audience, readiness: {}, drain: createDrain() });
      mountRouter(app, billingWebhookRouter({ db, config: env.config }));
      server = http.createServer(app.callback());
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/webhooks/stripe`;
    });
    after(async () => {
      await new Promise((r) => server?.close(r));
      await db?.destroy();
      await outage?.close();
      await env?.close();
    });

    const deliver = async (event: Record<string, unknown>) => {
      const { payload, signature } = signedEvent(WEBHOOK_SECRET, event);
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload });
      return [res.status, (await res.json()) as { error?: { code: string } }] as const;
    };

    it('answers 503 DATABASE_UNAVAILABLE and stores nothing; the delivery after the outage stores the event once', async () => {
      const event = stripeEvent('checkout.session.completed', objects.checkoutSession({ userId: 'u_1', listingId: 'l_1', customer: 'cus_outage' }));
      expect(await deliver(stripeEvent('product.created', { id: 'prod_1', object: 'product' }))).to.deep.equal([200, { received: true, outcome: 'ignored' }]);
      await outage.begin();
      try {
        const [status, body] = await deliver(event);
        expect(status).to.equal(503);
        expect(body.error?.code).to.equal('DATABASE_UNAVAILABLE');
        expect(JSON.stringify(body)).not.to.match(/ECONN|SQLITE|stack|select|insert/i);
      } finally {
        await outage.end();
      }
      expect(await env.db('stripe_events').where({ id: event.id })).to.deep.equal([]);
      expect(await deliver(event)).to.deep.equal([200, { received: true, outcome: 'queued' }]);
      expect(await deliver(event)).to.deep.equal([200, { received: true, outcome: 'duplicate' }]);
      expect((await env.db('stripe_events').where({ id: event.id })).map((r: { status: string }) => r.status)).to.deep.equal(['pending']);
    });
  });
}

/** A TCP proxy to `target` that can be cut: open connections reset, new ones refused until it is back. */
async function tcpProxy(target: URL) {
  const sockets = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) return client.destroy();
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const resetAll = () => {
    for (const s of sockets) s.resetAndDestroy();
  };
  return {
    port,
    async begin() {
      cut = true;
      resetAll();
    },
    async end() {
      cut = false;
    },
    async close() {
      resetAll();
      await new Promise((r) => server.close(r));
    },
  };
}

suite('sqlite');
if (PG_URL) suite('pg');
else describe.skip(`POST /v1/webhooks/stripe with the database unavailable (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
