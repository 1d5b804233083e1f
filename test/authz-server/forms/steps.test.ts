import { expect } from 'chai';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { AppError, type ErrorCatalog } from '#shared/errors/index.js';
import { koaBody } from '#shared/http/index.js';
import { refusal } from '#authz/forms/refusal.js';
import { form, formText, parseForm, rateLimit } from '#authz/forms/steps.js';
import type { AuthzLimits } from '#authz/rate-limits.js';
import { serveBaseApp } from '../base-app.js';

const Catalog = {
  FORM_EMPTY: { status: 401, message: 'Fill in the form.' },
  FORM_LIMITED: { status: 429, message: 'Wait {wait} seconds.' },
  FORM_GONE: { status: 400, title: 'Gone', message: 'This form is gone.' },
} as const satisfies ErrorCatalog;

const schema = z.object({ name: formText() }).refine((f) => f.name !== '', { message: 'FORM_EMPTY' });
const shape = z.object({ n: z.string().regex(/^\d+$/) });

/** The named steps of server-rendered forms (authz-server/forms/steps.ts), in front of a throwaway form. */
describe('authz-server form steps', () => {
  let base: string;
  let close: () => Promise<void>;
  let wait = 0;
  const charged: unknown[] = [];
  const limits = { check: async (_ctx: unknown, buckets: unknown) => (charged.push(buckets), wait) } as unknown as AuthzLimits;
  const page = (ctx: Parameters<Middleware>[0], r: AppError) => void (ctx.status = r.status, ctx.body = `page: ${r.message}`);
  const act: Middleware = async (ctx) => void (ctx.body = `hello ${(ctx.state.form as { name: string }).name}`);

  before(async () => {
    const steps: Record<string, Middleware> = {
      '/greet': form(page, [parseForm(schema, Catalog), rateLimit(limits, (ctx) => [['sign-in:ip', ctx.ip]], Catalog, 'FORM_LIMITED'), act]),
      '/gone': form(page, [async () => { throw refusal(Catalog, 'FORM_GONE'); }]),
      '/no-page': form(undefined, [parseForm(schema, Catalog), act]),
      '/shape': form(page, [parseForm(shape, Catalog), act]),
      '/bug': form(page, [async () => { throw new Error('a bug'); }]),
    };
    ({ base, close } = await serveBaseApp((app) => {
      app.use(koaBody({ limitBytes: 1024 }));
      app.use((ctx, next) => (steps[ctx.path] ?? next)(ctx, next));
    }));
  });
  after(() => close());

  const post = async (path: string, body: Record<string, string>) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', body: new URLSearchParams(body) });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
  };

  it('runs the steps in order: the parsed form reaches the form\'s own step after the rate limit charged its buckets', async () => {
    wait = 0;
    charged.length = 0;
    expect(await post('/greet', { name: 'Ada', extra: 'ignored' })).to.deep.equal({ status: 200, retryAfter: null, text: 'hello Ada' });
    expect(charged).to.deep.equal([[['sign-in:ip', '127.0.0.1']]]);
  });

  it('shows a refusal on the form\'s page: the refinement naming a code, then a refused bucket with its wait', async () => {
    charged.length = 0;
    expect(await post('/greet', {})).to.deep.include({ status: 401, text: 'page: Fill in the form.' });
    expect(charged, 'bad input charges no bucket').to.deep.equal([]);
    wait = 7;
    expect(await post('/greet', { name: 'Ada' })).to.deep.include({ status: 429, text: 'page: Wait 7 seconds.' });
  });

  it('shows a refusal with a title as a message page of its own', async () => {
    const gone = await post('/gone', {});
    expect(gone.status).to.equal(400);
    expect(gone.text).to.contain('<h1>Gone</h1>').and.contain('This form is gone.');
  });

  it('lets a refusal with no page to show it, a failed shape and any other error reach the error handler', async () => {
    const unshown = await post('/no-page', {});
    expect([unshown.status, JSON.parse(unshown.text).error.code]).to.deep.equal([401, 'FORM_EMPTY']);
    const shaped = await post('/shape', { n: 'x' });
    expect([shaped.status, JSON.parse(shaped.text).error.code]).to.deep.equal([400, 'VALIDATION_FAILED']);
    const bug = await post('/bug', {});
    expect([bug.status, JSON.parse(bug.text).error.code]).to.deep.equal([500, 'INTERNAL_ERROR']);
  });

  it('builds a refusal from its catalog entry: status, code, message with its parameters, title', () => {
    const limited = refusal(Catalog, 'FORM_LIMITED', { wait: 3 });
    expect([limited instanceof AppError, limited.status, limited.code, limited.message, limited.title]).to.deep.equal([true, 429, 'FORM_LIMITED', 'Wait 3 seconds.', undefined]);
    expect(refusal(Catalog, 'FORM_GONE').title).to.equal('Gone');
  });
});
