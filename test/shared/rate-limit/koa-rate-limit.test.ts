import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Koa, { type Context } from 'koa';
import { createMemoryCache } from '#shared/cache/index.js';
import { koaErrorHandler } from '#shared/http/koa-error-handler.js';
import { createRateLimiter, koaRateLimit } from '#shared/rate-limit/index.js';
import { captureLogger } from '../../helpers/log-capture.js';

describe('koaRateLimit', () => {
  let server: Server;
  let base: string;
  const limited: string[] = [];

  before(async () => {
    const { logger } = captureLogger();
    const limiter = createRateLimiter({ cache: createMemoryCache(), logger });
    const app = new Koa();
    app.use(koaErrorHandler(logger));
    app.use(
      koaRateLimit(limiter, {
        bucket: 'sign-in:account',
        rule: { capacity: 2, refillPerSecond: 1 / 30 },
        key: (ctx: Context) => ctx.get('x-account') || undefined,
        onLimited: (ctx, bucket) => limited.push(`${bucket} ${ctx.path}`),
      }),
    );
    app.use((ctx) => {
      ctx.body = { ok: true };
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const call = (account?: string) => fetch(`${base}/sign-in`, { headers: account ? { 'x-account': account } : {} });

  it('passes while under the limit, then answers 429 RATE_LIMITED with Retry-After', async () => {
    expect((await call('frank@example.com')).status).to.equal(200);
    expect((await call('frank@example.com')).status).to.equal(200);
    const res = await call('frank@example.com');
    expect(res.status).to.equal(429);
    expect(res.headers.get('retry-after')).to.equal('30');
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error).to.include({ code: 'RATE_LIMITED', message: 'Too many requests. Try again later.' });
    expect(limited).to.deep.equal(['sign-in:account /sign-in']);
    expect((await call('grace@example.com')).status).to.equal(200);
  });

  it('passes every request whose key is undefined', async () => {
    for (let i = 0; i < 5; i++) expect((await call()).status).to.equal(200);
    expect(limited).to.have.length(1);
  });
});
