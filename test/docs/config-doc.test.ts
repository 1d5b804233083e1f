import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { settings, settingNames } from '#shared/config/index.js';
import { ROOT } from '../helpers/process.js';

/** Rows of the settings table in docs/config.md, keyed by setting name. */
async function documentedRows(): Promise<Map<string, { default: string; secret: string; production: string }>> {
  const text = await readFile(path.join(ROOT, 'docs/config.md'), 'utf8');
  const rows = new Map<string, { default: string; secret: string; production: string }>();
  for (const line of text.split('\n')) {
    const m = /^\| `([A-Z0-9_]+)` \|/.exec(line);
    if (!m) continue;
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    rows.set(m[1]!, { default: cells[2]!.replace(/`/g, ''), secret: cells[3]!, production: cells[4]! });
  }
  return rows;
}

describe('docs/config.md matches the config schema', () => {
  it('documents every setting, and only settings that exist', async () => {
    const rows = await documentedRows();
    expect([...rows.keys()].sort()).to.deep.equal([...settingNames].sort());
  });

  it('states each default, secret flag and production rule as the schema does', async () => {
    const rows = await documentedRows();
    for (const name of settingNames) {
      const s = settings[name];
      const row = rows.get(name)!;
      expect(row.default, `${name} default`).to.equal(s.default);
      expect(row.secret, `${name} secret`).to.equal(s.secret ? 'yes' : 'no');
      expect(row.production, `${name} production`).to.equal(s.production === true ? 'yes' : s.production === false ? 'no' : s.production);
    }
  });
});
