/**
 * Baselines on a bare Koa app (no middleware of ours): `GET /json` answers a small JSON
 * object; `GET /user/:id` does the one primary-key SELECT every authenticated request of ours
 * needs (role and ban state) through a pg pool and answers it as JSON (the floor for a read
 * that consults the database); `GET /me/:id` does the same two SELECTs as our `GET /v1/me`
 * (the user's role and ban state, their active entitlements) with raw pg; `POST /insert` parses a JSON body and does one INSERT (the floor
 * for any write that must be durable before the answer); `POST /usage` sends the one statement of
 * a usage report (resource-api/features/usage/report-statement.ts: the same prepared statement,
 * text and values our route sends through knex) for `{ userId, clientReqId, listingId, units }`. Env: BENCH_PORT, DATABASE_URL.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import pg from 'pg';
import { reportStatement } from '#api/features/usage/report-statement.js';

const pool = process.env.DATABASE_URL ? new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 }) : undefined;
await pool?.query('CREATE TABLE IF NOT EXISTS bench_baseline_writes (id uuid PRIMARY KEY, body jsonb NOT NULL, created_at bigint NOT NULL)');

const app = new Koa();
app.use(bodyParser());
app.use(async (ctx) => {
  if (ctx.method === 'GET' && ctx.path === '/json') {
    ctx.body = { id: 'c0ffee00-0000-4000-8000-000000000000', email: 'bench@example.com', role: 'user', entitlements: [] };
    return;
  }
  if (ctx.method === 'GET' && ctx.path.startsWith('/user/') && pool) {
    const { rows } = await pool.query('SELECT id, email, name, role, banned, "banExpires" FROM "user" WHERE id = $1', [ctx.path.slice(6)]);
    ctx.body = rows[0] ?? {};
    return;
  }
  if (ctx.method === 'GET' && ctx.path.startsWith('/me/') && pool) {
    const id = ctx.path.slice(4);
    const { rows } = await pool.query('SELECT id, email, name, role, banned, "banExpires" FROM "user" WHERE id = $1', [id]);
    const ents = await pool.query("SELECT listing_id, granted_at FROM entitlements WHERE user_id = $1 AND status = 'active' ORDER BY granted_at DESC", [id]);
    ctx.body = { ...rows[0], entitlements: ents.rows.map((e) => ({ listingId: e.listing_id, grantedAt: new Date(Number(e.granted_at)).toISOString() })) };
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/insert' && pool) {
    await pool.query('INSERT INTO bench_baseline_writes (id, body, created_at) VALUES ($1, $2, $3)', [randomUUID(), JSON.stringify(ctx.request.body ?? {}), Date.now()]);
    ctx.status = 201;
    ctx.body = { ok: true };
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/usage' && pool) {
    const b = ctx.request.body as { userId: string; clientReqId: string; listingId: string; units: number };
    const { name, sql, bindings } = reportStatement({ id: randomUUID(), userId: b.userId, clientReqId: b.clientReqId, listingId: b.listingId, units: b.units, at: Date.now() });
    let n = 0; // knex's pg dialect numbers the placeholders the same way
    const { rows } = await pool.query({ name, text: sql.replace(/\?/g, () => `$${++n}`), values: bindings });
    ctx.status = rows[0]?.stored ? 201 : 409;
    ctx.body = rows[0]?.stored ? JSON.parse(rows[0].stored as string) : { stored: false };
    return;
  }
  ctx.status = 404;
});
const server = http.createServer(app.callback());
server.listen(Number(process.env.BENCH_PORT), '127.0.0.1', () => process.stdout.write('bare-koa listening\n'));
process.on('SIGTERM', () => server.close(() => void pool?.end().then(() => process.exit(0))));
