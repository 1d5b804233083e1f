import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ARTIFACTS, unlabelledInputs, watch } from '../helpers/browser.js';

/** The two widths every page is checked at: a desktop window and a phone (iPhone 12–15). */
export const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 900 },
  { name: 'phone', width: 390, height: 844 },
] as const;
export type Viewport = (typeof VIEWPORTS)[number];

/** A fresh context at `vp`; the page's console and script errors go to `errors` when it closes. */
export async function openPage(browser: Browser, vp: Viewport, errors: string[]): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: vp.width, height: vp.height } });
  const page = await context.newPage();
  const w = watch(page);
  page.on('close', () => errors.push(...w.errors));
  return { context, page };
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * axe-core's serious and critical violations (WCAG 2.x A/AA and best practices). The pages'
 * CSP allows no script: axe is evaluated through the DevTools protocol, which CSP does not
 * govern, so the page under test keeps its real policy.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  // Expressions as strings: they run in the page (no DOM types here, no tsx helpers there).
  const violations = (await page.evaluate('axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations)')) as AxeViolation[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')})`);
}

const fontSizes = (page: Page, selector: string) => page.evaluate(`[...document.querySelectorAll('${selector}')].map((e) => parseFloat(getComputedStyle(e).fontSize))`) as Promise<number[]>;

/** Where the card sits and whether anything overflows the viewport sideways. */
async function layout(page: Page) {
  const main = (await page.locator('main').boundingBox())!;
  return {
    left: main.x,
    right: main.x + main.width,
    width: page.viewportSize()!.width,
    scrollWidth: (await page.evaluate('document.documentElement.scrollWidth')) as number,
    h1: await fontSizes(page, 'h1'),
    h2: await fontSizes(page, 'h2'),
  };
}

/**
 * Everything a page must pass at the viewport it is shown in: a screenshot in test-artifacts/,
 * no serious or critical axe-core violation, a label for every input, one h1 larger than every
 * h2, and the card inside the viewport with a margin on each side (no sideways scrolling).
 */
export async function checkPage(page: Page, vp: Viewport, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `pages-${name}-${vp.name}.png`), fullPage: true });
  const where = `${name} at ${vp.width} px (${page.url()})`;
  expect(await axeViolations(page), `axe: ${where}`).to.deep.equal([]);
  expect(await unlabelledInputs(page), `labels: ${where}`).to.deep.equal([]);
  const l = await layout(page);
  expect(l.h1, `one h1: ${where}`).to.have.length(1);
  for (const h2 of l.h2) expect(h2, `h2 smaller than the h1: ${where}`).to.be.lessThan(l.h1[0]!);
  expect(l.scrollWidth, `no sideways scrolling: ${where}`).to.be.at.most(l.width);
  expect(l.left, `margin left of the card: ${where}`).to.be.at.least(8);
  expect(l.width - l.right, `margin right of the card: ${where}`).to.be.at.least(8);
}
