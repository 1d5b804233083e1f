import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import openapiTS from 'openapi-typescript';
import { apiFixture, type ApiFixture } from './fixture.js';

/**
 * A client generated from the live /openapi.json: openapi-typescript turns the document into
 * types, a small typed fetch wrapper uses them, and the TypeScript compiler judges the calls.
 * Good calls compile with no diagnostic; wrong ones do not; the compiled client then talks to the API.
 */
const CLIENT = `import type { components, paths } from './api.js';

type Method = 'get' | 'post' | 'patch' | 'delete';
type Op<P extends keyof paths, M extends Method> = M extends keyof paths[P] ? paths[P][M] : never;
type Json<R> = R extends { content: { 'application/json': infer B } } ? B : never;
type Responses<O> = O extends { responses: infer R } ? R : never;
type Ok<O> = { [S in keyof Responses<O>]: S extends 200 | 201 ? Json<Responses<O>[S]> : never }[keyof Responses<O>];
type Failure<O> = { [S in keyof Responses<O>]: S extends 200 | 201 | 204 ? never : { status: S; body: Json<Responses<O>[S]> } }[keyof Responses<O>];
type Input<O> = (O extends { parameters: { path: infer T } } ? { params: T } : { params?: never })
  & (O extends { parameters: { query?: infer Q } } ? { query?: Q } : { query?: never })
  & (O extends { requestBody: { content: { 'application/json': infer B } } } ? { body: B } : { body?: never })
  & { token?: string };
export type Result<O> = { ok: true; status: number; data: Ok<O> } | ({ ok: false } & Failure<O>);

export async function call<P extends keyof paths, M extends Method>(base: string, path: P, method: M, input: Input<Op<P, M>>): Promise<Result<Op<P, M>>> {
  const { params, query, body, token } = input as { params?: Record<string, string>; query?: Record<string, string | number>; body?: unknown; token?: string };
  const url = new URL(String(path).replace(/\\{(\\w+)\\}/g, (_, k: string) => encodeURIComponent(params?.[k] ?? '')), base);
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, String(v));
  const headers: Record<string, string> = {};
  if (token) headers.authorization = 'Bearer ' + token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method: method.toUpperCase(), headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const json: unknown = res.status === 204 ? null : await res.json();
  return (res.ok ? { ok: true, status: res.status, data: json } : { ok: false, status: res.status, body: json }) as Result<Op<P, M>>;
}

export const listListings = (base: string, query: NonNullable<Op<'/v1/listings', 'get'>['parameters']['query']>) => call(base, '/v1/listings', 'get', { query });
export const reportUsage = (base: string, token: string, body: components['schemas']['ReportUsageRequest']) => call(base, '/v1/usage', 'post', { token, body });

// The document's error codes reach the types: a 402 from reportUsage can only be QUOTA_EXCEEDED.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type QuotaCode = Extract<Failure<Op<'/v1/usage', 'post'>>, { status: 402 }>['body']['error']['code'];
export const quotaCodeIsExact: Equal<QuotaCode, 'QUOTA_EXCEEDED'> = true;

export async function titles(base: string, q: string): Promise<string[]> {
  const page = await listListings(base, { q, limit: 5 });
  if (!page.ok) throw new Error(page.body.error.code);
  return page.data.items.map((l) => l.title + ' ' + l.price.amountMinor + ' ' + l.price.currency);
}

export async function spend(base: string, token: string, listingId: string, units: number): Promise<{ remaining: number | null; code: string | null }> {
  const r = await reportUsage(base, token, { clientReqId: crypto.randomUUID(), listingId, units });
  if (r.ok) return { remaining: r.data.remaining, code: null };
  if (r.status === 402) {
    const code: 'QUOTA_EXCEEDED' = r.body.error.code;
    return { remaining: 0, code };
  }
  return { remaining: null, code: r.body.error.code };
}
`;

/** Each line must fail to compile; the line numbers are asserted. */
const WRONG = `import { call, listListings, reportUsage } from './client.js';
export const base = 'http://localhost';
export const misspelt = reportUsage(base, 't', { clientReqId: 'a', listingId: 'b', unit: 1 });
export const missing = call(base, '/v1/listings', 'post', { body: { title: 'An agent' } });
export const unknownQuery = listListings(base, { sort: 'newest' });
export const wrongType = call(base, '/v1/checkout/sessions', 'post', { body: { listingId: 'a', returnUrl: 42 } });
`;

const TSCONFIG = {
  compilerOptions: { target: 'es2022', lib: ['es2022', 'dom'], module: 'esnext', moduleResolution: 'bundler', strict: true, noUncheckedIndexedAccess: true, noEmit: true, types: [] },
};

const tscBin = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');

/** The repository's TypeScript (7, native: no JS API), run as a process on one project. */
function tsc(project: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [tscBin, '-p', project, '--pretty', 'false'], (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe('OpenAPI document: a generated client', function () {
  this.timeout(120_000);
  let f: ApiFixture;
  let dir: string;
  before(async () => {
    f = await apiFixture('sqlite');
    dir = await mkdtemp(join(tmpdir(), 'portcullis-openapi-client-'));
    const doc = (await f.request('GET', '/openapi.json')).body;
    await writeFile(join(dir, 'api.ts'), await openapiTS(doc));
    await writeFile(join(dir, 'client.ts'), CLIENT);
    await writeFile(join(dir, 'wrong.ts'), WRONG);
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ ...TSCONFIG, files: ['api.ts', 'client.ts'] }));
    await writeFile(join(dir, 'tsconfig.wrong.json'), JSON.stringify({ ...TSCONFIG, files: ['api.ts', 'client.ts', 'wrong.ts'] }));
  });
  after(async () => {
    await f?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('openapi-typescript types from the live document, and a typed client on them (listListings, reportUsage) compile with no diagnostic', async () => {
    const { code, output } = await tsc(join(dir, 'tsconfig.json'));
    expect(output.trim(), output).to.equal('');
    expect(code).to.equal(0);
  });

  it('a misspelt body field, a missing required field, an unknown query parameter and a wrong field type do not compile', async () => {
    const { code, output } = await tsc(join(dir, 'tsconfig.wrong.json'));
    expect(code).to.not.equal(0);
    const errors = output.split('\n').filter((l) => /error TS\d+/.test(l));
    const lines = [...new Set(errors.map((l) => Number(/wrong\.ts\((\d+),/.exec(l)?.[1])))].sort();
    expect(lines, output).to.deep.equal([3, 4, 5, 6]);
    expect(output).to.contain("'unit'").and.contain("'sort'");
  });

  it('the compiled client talks to the live API: finds a published listing, and reportUsage gets the documented 403 NOT_ENTITLED', async () => {
    const created = await f.request('POST', '/v1/listings', {
      as: 'pat',
      body: { title: 'Generated-client agent', summary: 'Found through the typed client', price: { type: 'one_time', currency: 'USD', amountMinor: 500 }, quota: { units: 10, period: 'once' } },
    });
    expect(created.status).to.equal(201);
    expect((await f.request('POST', `/v1/listings/${created.body.id}/publish`, { as: 'pat' })).status).to.equal(200);
    const client = (await import(pathToFileURL(join(dir, 'client.ts')).href)) as {
      titles: (base: string, q: string) => Promise<string[]>;
      spend: (base: string, token: string, listingId: string, units: number) => Promise<{ remaining: number | null; code: string | null }>;
    };
    expect(await client.titles(f.api.url, 'generated-client')).to.deep.equal(['Generated-client agent 500 USD']);
    expect(await client.spend(f.api.url, await f.token('alice'), created.body.id, 1)).to.deep.equal({ remaining: null, code: 'NOT_ENTITLED' });
  });
});
