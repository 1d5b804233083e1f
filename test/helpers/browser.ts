import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './process.js';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/** Debian's Chromium, headless, with the background traffic a closed network refuses turned off. */
export async function launch(): Promise<Browser> {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}

/**
 * Collects console errors and script errors so a test can assert there were none. Chromium
 * also reports every 4xx document as "Failed to load resource"; those are the deliberate
 * statuses of error pages (401 on a wrong code, 400 on an expired link), not page defects.
 */
export function watch(page: Page): { errors: string[] } {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) return;
    errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return { errors };
}

/** Every input on the page has a <label for> (screen readers and automation use them). */
export async function unlabelledInputs(page: Page): Promise<string[]> {
  const labelled = new Set(await page.$$eval('label[for]', (labels) => labels.map((l) => l.getAttribute('for'))));
  const inputs = await page.$$eval('input:not([type=hidden])', (els) => els.map((i) => ({ id: i.id, html: i.outerHTML })));
  return inputs.filter((i) => !i.id || !labelled.has(i.id)).map((i) => i.html);
}
