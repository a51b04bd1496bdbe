// SPDX-License-Identifier: MIT
// browser.viewer_large: a 4096 × 4096 map in the interactive view stays usable: attn-plot
// --view stores it as uint8 (about 22 MB of page), Chromium opens it offline, the map view
// draws it, a wheel step redraws in well under a frame budget on average, and after zooming the
// tooltip gives the cell's value within the uint8 bound (max - min) / 504.
// Usage: node viewer_large.test.mjs WORK_DIR ATTN_PLOT
import { writeFileSync, mkdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { run, openOffline, expectClean, assert } from './offline.mjs';

const work = process.argv[2] || '/tmp/attn_viewer_large_test';
const plot = process.argv[3];
assert.ok(plot, 'usage: node viewer_large.test.mjs WORK_DIR ATTN_PLOT');
mkdirSync(work, { recursive: true });

// A band around the diagonal plus a small pattern, float32, 4096 × 4096.
const T = 4096;
const value = (i, j) => Math.fround(Math.exp(-((i - j) ** 2) / 200) + ((i * 7 + j * 13) % 17) / 1700);
let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${T}, ${T}), }`;
header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
const head = Buffer.alloc(10);
Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
head.writeUInt16LE(header.length, 8);
const body = Buffer.alloc(4 * T * T);
let lo = Infinity, hi = -Infinity;
for (let i = 0; i < T; ++i) for (let j = 0; j < T; ++j) {
  const v = value(i, j);
  lo = Math.min(lo, v);
  hi = Math.max(hi, v);
  body.writeFloatLE(v, 4 * (i * T + j));
}
writeFileSync(join(work, 'large.npy'), Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
const pagePath = join(work, 'large.html');
// No --view-start: a page of maps above 128 tokens opens on the map view by itself.
execFileSync(plot, ['--view', join(work, 'large.npy'), '--max-cells', String(T * T),
  '--max-bytes', '100000000', '-o', pagePath]);
const size = statSync(pagePath).size;
assert.ok(size < 24e6, `uint8 storage: ${size} bytes`);

await run('viewer large', async (browser) => {
  const { page, problems } = await openOffline(browser, pagePath);
  await page.waitForFunction(() => document.getElementById('attn-map-canvas').dataset.cell !== undefined, null, { timeout: 60000 });
  // Cells below a pixel: no labels, index numbers at a nice step at least 48 px apart, from 0.
  const ticks = await page.$eval('#attn-map-canvas', (c) => ({ ...c.dataset }));
  const step = Number(ticks.tickStep), cols = ticks.colTicks.split(',').map(Number), rows = ticks.rowTicks.split(',').map(Number);
  assert.ok([1, 2, 5].includes(step / 10 ** Math.floor(Math.log10(step))), `tick step ${step}`);
  assert.ok(step * Number(ticks.cell) >= 48 && step * Number(ticks.cell) < 48 * 2.5 + 1, `ticks ${step * Number(ticks.cell)} px apart`);
  for (const list of [cols, rows]) {
    assert.equal(list[0], 0, `ticks ${list}`);
    assert.ok(list.every((k, n) => k === n * step) && list.length >= 3 && list[list.length - 1] < T, `ticks ${list}`);
  }
  const box = await page.$eval('#attn-map-canvas', (c) => { const r = c.getBoundingClientRect(); return { left: r.left, top: r.top }; });
  await page.mouse.move(box.left + 400, box.top + 300);
  for (let k = 0; k < 20; ++k) await page.mouse.wheel(0, -100);
  await page.waitForFunction(() => Number(document.getElementById('attn-map-canvas').dataset.zoom) > 50);
  // Average time of 30 frames that each zoom in or out by one step (60 fps is 16.7 ms).
  const perFrame = await page.evaluate(() => new Promise((resolve) => {
    const c = document.getElementById('attn-map-canvas');
    const r = c.getBoundingClientRect();
    const start = performance.now();
    let n = 0;
    const step = () => {
      c.dispatchEvent(new WheelEvent('wheel', { deltaY: n % 2 ? 100 : -100, clientX: r.left + 400, clientY: r.top + 300, bubbles: true, cancelable: true }));
      if (++n < 30) requestAnimationFrame(step); else resolve((performance.now() - start) / 30);
    };
    requestAnimationFrame(step);
  }));
  console.log(`4096 x 4096 map: ${size} bytes, ${perFrame.toFixed(1)} ms per zoomed frame`);
  assert.ok(perFrame < 100, `a zoomed frame takes ${perFrame} ms`);
  // The tooltip of the cell under the pointer, after zooming, within the uint8 bound.
  const g = await page.$eval('#attn-map-canvas', (c) => ({ x0: Number(c.dataset.x0), y0: Number(c.dataset.y0), cell: Number(c.dataset.cell) }));
  const i = Math.floor((300 - g.y0) / g.cell), j = Math.floor((400 - g.x0) / g.cell);
  await page.mouse.move(box.left + g.x0 + (j + 0.5) * g.cell, box.top + g.y0 + (i + 0.5) * g.cell);
  const tip = await page.$eval('#attn-tooltip', (t) => ({ hidden: t.hidden, ...t.dataset }));
  assert.equal(tip.hidden, false);
  assert.deepEqual([Number(tip.query), Number(tip.key)], [i, j]);
  const bound = (hi - lo) / 504 + 1e-6;
  assert.ok(Math.abs(Number(tip.value) - value(i, j)) <= bound, `tooltip ${tip.value} vs ${value(i, j)} (bound ${bound})`);
  // The text says the value is approximate, with the decimals 8 bits resolve, and the page says
  // how far a value may be (a 2000 x 2000 user read "2.6e-11" for weights of 1e-4 before).
  const text = await page.$eval('#attn-tooltip', (t) => t.textContent);
  const shown = text.match(/: \u2248(-?[0-9.]+) /);
  assert.ok(shown, `tooltip text ${text}`);
  const decimals = Math.floor(-Math.log10((hi - lo) / 504));
  assert.equal(shown[1].split('.')[1]?.length ?? 0, decimals, `decimals of ${shown[1]}`);
  assert.ok(Math.abs(Number(shown[1]) - value(i, j)) <= bound + 0.5 * 10 ** -decimals, `tooltip text ${text}`);
  const info = await page.$eval('#attn-map-info', (e) => e.textContent);
  assert.ok(info.includes('Stored in 8 bits: each value within \u00b1'), `map info: ${info}`);
  expectClean(problems, 'large.html');
});
