// SPDX-License-Identifier: MIT
// Makes the screenshots of the interactive view in docs/ (not a test): the date demo's page
// (scripts/demo.sh writes alignments.html) for the head, map and text views, and a synthetic
// 4-layer × 6-head self-attention (typical head patterns) for the model view, and a causal
// self-attention with --mask causal for the masked map.
// Usage: node viewer_screenshots.mjs OUT_DIR ATTN_PLOT ALIGNMENTS_HTML
import { writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { run, openOffline, expectClean, writeNpy } from './offline.mjs';

const [out, plot, dates] = process.argv.slice(2);
if (!out || !plot || !dates) throw new Error('usage: node viewer_screenshots.mjs OUT_DIR ATTN_PLOT ALIGNMENTS_HTML');
mkdirSync(out, { recursive: true });
const scratch = mkdtempSync(join(tmpdir(), 'attn_viewer_shots_'));  // the synthetic page's files

// Synthetic heads: attend to self, previous, next, first token, the end of the phrase, broadly.
const tokens = '[CLS] the cat sat on the mat because it was warm . [SEP]'.split(' ');
const T = tokens.length, L = 4, H = 6;
const flat = [];
for (let l = 0; l < L; ++l) for (let h = 0; h < H; ++h) for (let i = 0; i < T; ++i) {
  const row = tokens.map((_, j) => {
    const kind = (h + l) % H;
    const target = kind === 0 ? i : kind === 1 ? Math.max(0, i - 1) : kind === 2 ? Math.min(T - 1, i + 1) : kind === 3 ? 0 : kind === 4 ? T - 1 : -1;
    const sharp = 1.5 + l;
    return target < 0 ? Math.exp(-Math.abs(i - j) / 3) : Math.exp(-sharp * Math.abs(j - target)) + (j === 6 && i === 8 ? 0.8 : 0);
  });
  const s = row.reduce((a, b) => a + b, 0);
  flat.push(...row.map((x) => x / s));
}
writeNpy(join(scratch, 'synthetic.npy'), [L, H, T, T], flat);
writeFileSync(join(scratch, 'tokens.txt'), tokens.join('\n') + '\n');
const synthetic = join(scratch, 'synthetic.html');
execFileSync(plot, ['--view', join(scratch, 'synthetic.npy'), '-r', join(scratch, 'tokens.txt'), '-c', join(scratch, 'tokens.txt'),
  '-t', 'self-attention, 4 layers x 6 heads (synthetic)', '--view-start', 'model', '-o', synthetic]);

// The same tokens as a causal decoder's self-attention (each row over keys j <= i), --mask causal.
const causalFlat = [];
for (let i = 0; i < T; ++i) {
  const row = tokens.map((_, j) => (j <= i ? Math.exp(-Math.abs(i - 1 - j) / 2) + (j === 0 ? 0.6 : 0) : 0));
  const s = row.reduce((a, b) => a + b, 0);
  causalFlat.push(...row.map((x) => x / s));
}
writeNpy(join(scratch, 'causal.npy'), [T, T], causalFlat);
const causal = join(scratch, 'causal.html');
execFileSync(plot, ['--view', join(scratch, 'causal.npy'), '-r', join(scratch, 'tokens.txt'), '-c', join(scratch, 'tokens.txt'),
  '-t', 'causal self-attention (synthetic), --mask causal', '--mask', 'causal', '--view-start', 'map', '-o', causal]);

await run('viewer screenshots', async (browser) => {
  const d = await openOffline(browser, dates, { width: 900, height: 760 });
  await d.page.selectOption('#attn-item', '2');
  await d.page.hover('#attn-head-svg text.attn-q[data-index="2"]');
  await d.page.screenshot({ path: join(out, 'viewer_head.png') });
  await d.page.click('.attn-tab[data-view="map"]');
  const g = await d.page.$eval('#attn-map-canvas', (c) => {
    const r = c.getBoundingClientRect();
    return { left: r.left, top: r.top, x0: Number(c.dataset.x0), y0: Number(c.dataset.y0), cell: Number(c.dataset.cell) };
  });
  await d.page.mouse.move(g.left + g.x0 + 23.5 * g.cell, g.top + g.y0 + 2.5 * g.cell);
  await d.page.screenshot({ path: join(out, 'viewer_map.png'), clip: { x: 0, y: 0, width: 900, height: 520 } });
  await d.page.click('.attn-tab[data-view="text"]');
  await d.page.selectOption('#attn-query', '3');
  await d.page.screenshot({ path: join(out, 'viewer_text.png'), clip: { x: 0, y: 0, width: 900, height: 220 } });
  expectClean(d.problems, dates);
  const s = await openOffline(browser, synthetic, { width: 900, height: 560 });
  await s.page.screenshot({ path: join(out, 'viewer_model.png') });
  expectClean(s.problems, synthetic);
  const c = await openOffline(browser, causal, { width: 900, height: 700 });
  const cg = await c.page.$eval('#attn-map-canvas', (e) => {
    const r = e.getBoundingClientRect();
    return { left: r.left, top: r.top, x0: Number(e.dataset.x0), y0: Number(e.dataset.y0), cell: Number(e.dataset.cell) };
  });
  await c.page.mouse.move(cg.left + cg.x0 + 7.5 * cg.cell, cg.top + cg.y0 + 3.5 * cg.cell);  // a masked cell
  await c.page.screenshot({ path: join(out, 'viewer_masked.png') });
  expectClean(c.problems, causal);
});
rmSync(scratch, { recursive: true, force: true });
