// SPDX-License-Identifier: MIT
// browser.playwright_smoke: the Playwright set-up itself works offline. A page that asks for a
// network script must be reported; a clean page must not. Usage: node smoke.test.mjs WORK_DIR
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { run, openOffline, expectClean, assert } from './offline.mjs';

const work = process.argv[2] || '/tmp/attn_playwright_smoke';
mkdirSync(work, { recursive: true });
const clean = join(work, 'clean.html');
const leaky = join(work, 'leaky.html');
writeFileSync(clean, '<!doctype html><title>t</title><p id="p">ok</p><script>document.getElementById("p").textContent = "ran";</script>');
writeFileSync(leaky, '<!doctype html><title>t</title><script src="https://cdn.example.org/d3.js"></script><p>x</p>');

await run('playwright smoke', async (browser) => {
  const a = await openOffline(browser, clean);
  assert.equal(await a.page.textContent('#p'), 'ran', 'inline script runs');
  expectClean(a.problems, 'clean.html');
  const b = await openOffline(browser, leaky);
  assert.ok(b.problems.some((p) => p.includes('cdn.example.org')), `the CDN request is caught: ${b.problems}`);
});
