import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import type Provider from 'oidc-provider';
import type { Knex } from 'knex';
import { createStorageFailures, type StorageFailures } from '#shared/db/storage-failures.js';
import { koaStorageOutage } from '#authz/middleware/koa-storage-outage.js';
import { serveBaseApp } from '../base-app.js';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const nul = () => Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
const HTML = { accept: 'text/html' };

/**
 * The authz-server's one storage-outage translator, in front of stand-ins: a "provider" that
 * answers 500 server_error after emitting the cause (as oidc-provider does) and a "better-auth"
 * under /api/auth that answers a bare 500.
 */
describe('authz-server koa-storage-outage', () => {
  let base: string;
  let close: () => Promise<void>;
  let dbDown: boolean;
  let failures: StorageFailures;
  let cause: Error | undefined;

  beforeEach(async () => {
    dbDown = false;
    cause = undefined;
    failures = createStorageFailures();
    const provider = new EventEmitter();
    const db = { raw: () => (dbDown ? Promise.reject(refused()) : Promise.resolve([])) } as unknown as Knex;
    ({ base, close } = await serveBaseApp((app) => {
      app.use(koaStorageOutage(provider as unknown as Provider, { db, storageFailures: failures }));
      app.use(async (ctx) => {
        if (ctx.path === '/fine') return void (ctx.body = { ok: true });
        if (!ctx.path.startsWith('/api/auth/')) provider.emit('server_error', ctx, cause ?? new Error('a bug'));
        ctx.status = 500;
        ctx.body = ctx.path.startsWith('/api/auth/') ? '' : { error: 'server_error', error_description: 'oops. something went wrong' };
      });
    }));
  });
  afterEach(() => close());

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, { headers });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), type: res.headers.get('content-type'), text: await res.text() };
  };

  it('answers a provider request the database failed under with 503 temporarily_unavailable and Retry-After, JSON or the page', async () => {
    cause = refused();
    const json = await get('/token');
    expect([json.status, json.retryAfter, JSON.parse(json.text)]).to.deep.equal([503, '1', { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable. Try again in a moment.' }]);
    const page = await get('/auth', HTML);
    expect([page.status, page.retryAfter, page.type]).to.deep.equal([503, '1', 'text/html; charset=utf-8']);
    expect(page.text).to.contain('<h1>Temporarily unavailable</h1>').and.contain('The service is temporarily unavailable. Try again in a moment.');
  });

  it('answers a parameter PostgreSQL cannot compare (a NUL) with 400 invalid_request, JSON or the page', async () => {
    cause = nul();
    const json = await get('/token');
    expect([json.status, json.retryAfter, JSON.parse(json.text)]).to.deep.equal([400, null, { error: 'invalid_request', error_description: 'A parameter contains a character that is not allowed.' }]);
    const page = await get('/auth', HTML);
    expect([page.status, page.retryAfter]).to.deep.equal([400, null]);
    expect(page.text).to.contain('<h1>Sign-in error</h1>').and.contain('A parameter contains a character that is not allowed.');
  });

  it('leaves the provider\'s other 500s and every other answer as they are', async () => {
    const bug = await get('/token');
    expect([bug.status, JSON.parse(bug.text)]).to.deep.equal([500, { error: 'server_error', error_description: 'oops. something went wrong' }]);
    expect((await get('/fine')).status).to.equal(200);
  });

  it('turns better-auth\'s 500 into 503 DATABASE_UNAVAILABLE while the database does not answer, and a moment after', async () => {
    dbDown = true;
    const down = await get('/api/auth/sign-in/email');
    expect([down.status, JSON.parse(down.text).error.code]).to.deep.equal([503, 'DATABASE_UNAVAILABLE']);
    dbDown = false;
    // Caught by the restart itself: the ping answers again, the failure was the outage's.
    const after = await get('/api/auth/sign-in/email');
    expect([after.status, JSON.parse(after.text).error.code]).to.deep.equal([503, 'DATABASE_UNAVAILABLE']);
  });

  it('turns better-auth\'s 500 into 503 when its error hook just saw a connection failure, and leaves a bug a 500', async () => {
    const bug = await get('/api/auth/sign-in/email');
    expect(bug.status).to.equal(500);
    expect(failures.note(refused())).to.equal(true);
    const outage = await get('/api/auth/sign-in/email');
    expect([outage.status, JSON.parse(outage.text).error.code]).to.deep.equal([503, 'DATABASE_UNAVAILABLE']);
  });
});
