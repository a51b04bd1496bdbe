// SPDX-License-Identifier: MIT
// Shared by the Playwright tests (tests/browser/*.test.mjs): opens attn's self-contained HTML
// pages in Debian's Chromium through playwright-core, offline. Every request other than the
// page's own file is aborted and recorded; console errors and uncaught exceptions are recorded
// too, and `expectClean` fails the test on any of them. Assertions are node:assert.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { existsSync, writeFileSync } from 'node:fs';

export { assert };

const candidates = [process.env.ATTN_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

export async function launch() {
  const executablePath = candidates.find((p) => p && existsSync(p));
  if (!executablePath) {
    throw new Error('chromium is not installed (Debian: apt-get install chromium); scripts/test.sh installs it');
  }
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
           '--no-first-run', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

// openOffline(browser, file, {width, height, init}) -> {page, problems}: loads FILE with every
// other request blocked; `problems` collects blocked requests, console errors and page errors.
// `init`, a function, runs in the page before its own scripts (Playwright's addInitScript).
export async function openOffline(browser, file, { width = 1200, height = 900, init = null } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  const problems = [];
  const own = pathToFileURL(file).href;
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url === own) return route.continue();
    problems.push(`request blocked: ${url}`);
    return route.abort();
  });
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`); });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.goto(own, { waitUntil: 'load' });
  return { page, problems };
}

// writeNpy(path, shape, flat): a float64 C-order .npy of the values `flat` (row-major), as NumPy
// writes it (version 1.0 header padded to 64 bytes).
export function writeNpy(path, shape, flat) {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(8 * flat.length);
  flat.forEach((v, k) => body.writeDoubleLE(v, 8 * k));
  writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

export function expectClean(problems, what) {
  assert.deepEqual(problems, [], `${what}: the page must make no request and log no error`);
}

// run(name, fn): runs one async test body, prints PASS/FAIL and sets the exit code.
export async function run(name, fn) {
  const browser = await launch();
  try {
    await fn(browser);
    console.log(`PASS ${name}`);
  } catch (err) {
    console.error(`FAIL ${name}\n${err.stack || err}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
