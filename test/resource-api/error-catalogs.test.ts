import { expect } from 'chai';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ErrorCatalog } from '#shared/errors/index.js';
import { FEATURES } from '#api/app.js';
import { ROOT } from '../helpers/process.js';

/**
 * Error codes are the API's stable contract: one code means one thing, so it lives in exactly one
 * catalog, the one of the feature (or shared package) that owns the concept, and a catalog lives
 * in that feature's errors.ts. Catalogs are found by their entries, not from a list, so a new one
 * anywhere in the services is checked without being registered here.
 */
const SOURCES = ['shared', 'authz-server', 'resource-api'];
/** A catalog entry as written: `CODE: { status: 404, …`. */
const ENTRY = /\b[A-Z][A-Z0-9_]*: \{ status: \d{3},/;
/** Where catalogs may live: a feature's (or package's) errors.ts, and the shared catalog itself. */
const CATALOG_FILE = /(^|\/)errors\.ts$|^shared\/errors\/catalog\.ts$/;

const isCatalog = (value: unknown): value is ErrorCatalog =>
  !!value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0 &&
  Object.values(value).every((e) => !!e && typeof e === 'object' && typeof (e as { status?: unknown }).status === 'number' && typeof (e as { message?: unknown }).message === 'string');

async function catalogFiles(): Promise<string[]> {
  const files: string[] = [];
  for (const dir of SOURCES) {
    for (const name of await readdir(path.join(ROOT, dir), { recursive: true })) {
      if (!name.endsWith('.ts') || name.endsWith('.d.ts')) continue;
      const file = path.join(dir, name);
      if (ENTRY.test(await readFile(path.join(ROOT, file), 'utf8'))) files.push(file.split(path.sep).join('/'));
    }
  }
  return files.sort();
}

/** `file#Export` → catalog, for every catalog-shaped export of the files. */
async function loadCatalogs(files: string[]): Promise<Map<string, ErrorCatalog>> {
  const found = new Map<string, ErrorCatalog>();
  for (const file of files) {
    const mod = (await import(pathToFileURL(path.join(ROOT, file)).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) if (isCatalog(value)) found.set(`${file}#${name}`, value);
  }
  return found;
}

/** Codes that appear in more than one catalog, with the catalogs that define them. */
export function duplicateCodes(catalogs: ReadonlyMap<string, ErrorCatalog>): Record<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const [name, catalog] of catalogs) for (const code of Object.keys(catalog)) owners.set(code, [...(owners.get(code) ?? []), name]);
  return Object.fromEntries([...owners].filter(([, names]) => names.length > 1));
}

describe('error catalogs', () => {
  let files: string[];
  let catalogs: Map<string, ErrorCatalog>;
  before(async () => {
    files = await catalogFiles();
    catalogs = await loadCatalogs(files);
  });

  it('finds the catalogs of both services and the shared package, each in an errors.ts (or the shared catalog)', () => {
    expect(files.filter((f) => !CATALOG_FILE.test(f)), 'catalog entries outside an errors.ts').to.deep.equal([]);
    expect([...catalogs.keys()]).to.include.members([
      'shared/errors/catalog.ts#HttpErrors', 'shared/errors/catalog.ts#StorageErrors', 'shared/rate-limit/errors.ts#RateLimitErrors',
      'authz-server/clients/errors.ts#ClientErrors', 'resource-api/auth/errors.ts#AuthErrors',
      'resource-api/features/listings/errors.ts#ListingErrors', 'resource-api/features/reviews/errors.ts#ReviewErrors',
      'resource-api/features/billing/errors.ts#BillingErrors', 'resource-api/features/usage/errors.ts#UsageErrors',
    ]);
    // Every file with entries exported at least one catalog: none was missed by the shape check.
    expect(files.filter((f) => ![...catalogs.keys()].some((k) => k.startsWith(`${f}#`)))).to.deep.equal([]);
  });

  it('no code is in two catalogs (LISTING_NOT_FOUND is the listings\', NOT_ENTITLED billing\'s)', () => {
    expect(duplicateCodes(catalogs)).to.deep.equal({});
    const owner = (code: string) => [...catalogs].filter(([, c]) => code in c).map(([name]) => name);
    expect(owner('LISTING_NOT_FOUND')).to.deep.equal(['resource-api/features/listings/errors.ts#ListingErrors']);
    expect(owner('NOT_ENTITLED')).to.deep.equal(['resource-api/features/billing/errors.ts#BillingErrors']);
  });

  it('each resource-api feature declares exactly the catalogs of its own errors.ts', () => {
    // Compared by content: a file loaded by its path and by its #api/ specifier may be two module instances.
    for (const f of FEATURES) {
      const own = [...catalogs].filter(([name]) => name.startsWith(`resource-api/features/${f.name}/errors.ts#`)).map(([, c]) => c);
      expect(Object.values(f.errors ?? {}), f.name).to.have.deep.members(own);
    }
    const declared = FEATURES.flatMap((f) => Object.values(f.errors ?? {}));
    const featureCatalogs = [...catalogs].filter(([name]) => name.startsWith('resource-api/features/')).map(([, c]) => c);
    expect(declared).to.have.deep.members(featureCatalogs);
  });

  it('the duplicate check names the code and both catalogs', () => {
    const found = duplicateCodes(new Map<string, ErrorCatalog>([['a#A', { X: { status: 404, message: 'x' } }], ['b#B', { X: { status: 404, message: 'x' }, Y: { status: 400, message: 'y' } }]]));
    expect(found).to.deep.equal({ X: ['a#A', 'b#B'] });
  });
});
