import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT } from '../helpers/process.js';

/**
 * The security docs and the security suite mirror each other: every relative link in
 * docs/security/** and SECURITY.md resolves (files, folders and #anchors), every threat test in
 * test/security/ is linked from some security page, and every page the overview's table links
 * names both the code that enforces its concern and a test that proves it.
 */
const SECURITY_DOCS = path.join(ROOT, 'docs', 'security');
const LINK = /\[[^\]]*\]\(([^)\s]+)\)/g;

interface Doc { file: string; text: string }

async function docs(): Promise<Doc[]> {
  const names = (await readdir(SECURITY_DOCS, { recursive: true })).filter((n) => n.endsWith('.md'));
  const files = [...names.map((n) => path.join(SECURITY_DOCS, n)), path.join(ROOT, 'SECURITY.md')];
  return Promise.all(files.map(async (file) => ({ file, text: await readFile(file, 'utf8') })));
}

/** Markdown text outside fenced code blocks. */
const prose = (text: string) => text.replace(/^```[^]*?^```/gm, '');

/** Relative link targets of a document, resolved to absolute paths, with their #fragment. */
function links(doc: Doc): { raw: string; target: string; anchor: string | undefined }[] {
  return [...prose(doc.text).matchAll(LINK)]
    .map((m) => m[1]!)
    .filter((href) => !/^[a-z][a-z0-9+.-]*:/i.test(href))
    .map((href) => {
      const [p, anchor] = href.split('#') as [string, string | undefined];
      return { raw: href, target: p ? path.resolve(path.dirname(doc.file), decodeURIComponent(p)) : doc.file, anchor };
    });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  for (const m of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    slugs.add(m[1]!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  return slugs;
}

const rel = (p: string) => path.relative(ROOT, p);

describe('security docs: links', () => {
  let all: Doc[];
  before(async () => {
    all = await docs();
  });

  it('covers the overview, one page per row and SECURITY.md', () => {
    expect(all.map((d) => rel(d.file))).to.include.members(['docs/security/overview.md', 'SECURITY.md']);
    expect(all.length).to.be.at.least(12);
  });

  it('every relative link resolves to an existing file or folder, and every #anchor to a heading', async () => {
    const broken: string[] = [];
    for (const doc of all) {
      for (const l of links(doc)) {
        if (!existsSync(l.target)) {
          broken.push(`${rel(doc.file)}: ${l.raw} (no such file)`);
          continue;
        }
        if (l.anchor && l.target.endsWith('.md') && !headingSlugs(await readFile(l.target, 'utf8')).has(l.anchor)) {
          broken.push(`${rel(doc.file)}: ${l.raw} (no such heading)`);
        }
      }
    }
    expect(broken).to.deep.equal([]);
  });

  it('links every threat test of test/security/ from some security page', async () => {
    const tests = (await readdir(path.join(ROOT, 'test', 'security'))).filter((n) => n.endsWith('.test.ts')).map((n) => path.join(ROOT, 'test', 'security', n));
    expect(tests.length).to.be.at.least(10);
    const linked = new Set(all.flatMap((d) => links(d).map((l) => l.target)));
    expect(tests.filter((t) => !linked.has(t)).map(rel)).to.deep.equal([]);
  });

  it('every page of the overview\'s table names its enforcing code and its proving test', async () => {
    const overview = all.find((d) => rel(d.file) === 'docs/security/overview.md')!;
    const table = prose(overview.text).split('\n').filter((line) => /^\| [^|]+ \| [^|]+ \| \[[^\]]+\]\([^)]+\.md\) \|$/.test(line));
    // The ten concerns of the original security page, plus security round 2's three: sessions
    // end everywhere, cookie-authenticated writes, password and code checks; and the agents'
    // two (#16): clients that join by themselves, SSRF through client metadata documents; and
    // #17's two: leaked access or refresh tokens (DPoP), device-code phishing.
    expect(table, 'one row per concern of the security page').to.have.length(17);
    for (const row of table) {
      const page = path.resolve(SECURITY_DOCS, /\]\(([^)]+\.md)\)/.exec(row)![1]!);
      expect(path.dirname(page), row).to.equal(SECURITY_DOCS);
      const targets = links({ file: page, text: await readFile(page, 'utf8') }).map((l) => rel(l.target));
      expect(targets.filter((t) => /\.test\.ts$/.test(t)), `${rel(page)} links a test`).not.to.deep.equal([]);
      expect(targets.filter((t) => /\.ts$/.test(t) && !t.startsWith('test/')), `${rel(page)} links the code`).not.to.deep.equal([]);
    }
  });

  it('states the remaining trade-offs in "What we deliberately don\'t do"', () => {
    const overview = all.find((d) => rel(d.file) === 'docs/security/overview.md')!;
    expect(headingSlugs(overview.text)).to.include('what-we-deliberately-dont-do');
  });
});
