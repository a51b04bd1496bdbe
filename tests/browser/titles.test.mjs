// SPDX-License-Identifier: MIT
// browser.titles: panel titles of attn-plot's grids, measured as Chromium lays them out
// (getBBox of each title): every title inside the picture and apart from its neighbours, a title
// longer than 40 columns cut with '…' and whole in its tooltip. A user saw two 40-character titles
// drawn over each other and the first cut off at the picture's left edge.
// Usage: node titles.test.mjs WORK_DIR ATTN_PLOT
import { mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { run, openOffline, expectClean, assert, writeNpy } from './offline.mjs';

const work = process.argv[2] || '/tmp/attn_titles_test';
const plot = process.argv[3];
assert.ok(plot, 'usage: node titles.test.mjs WORK_DIR ATTN_PLOT');
mkdirSync(work, { recursive: true });

const uniform = (n, k) => new Array(n * k).fill(1 / k);
const long40 = 'encoder layer 0 head 0 (positional one)x';  // 40 characters
const long60 = 'encoder layer 0 head 1: the head that seeks the marker token';  // 60
writeNpy(join(work, 'heads.npy'), [2, 6, 6], uniform(12, 6));
writeNpy(join(work, 'narrow.npy'), [3, 5, 1], uniform(15, 1));  // maps one column wide
writeNpy(join(work, 'epoch_1.npy'), [2, 4, 4], uniform(8, 4));
writeNpy(join(work, 'epoch_10.npy'), [2, 4, 4], uniform(8, 4));
const pictures = {
  'two heads': ['heads.npy', '--panel-titles', `${long40},${long60}`],
  'narrow maps': ['narrow.npy', '--panel-titles', `${long60},${long40},short`],
  'animation grid': ['--animate', 'epoch_1.npy', 'epoch_10.npy', '--frames', '1,10', '--panel-titles',
    `${long40},${long60}`],
};

await run('titles', async (browser) => {
  for (const [name, args] of Object.entries(pictures)) {
    const file = join(work, name.replace(/ /g, '_') + '.svg');
    execFileSync(plot, [...args.map((a) => (a.endsWith('.npy') ? join(work, a) : a)), '-o', file], { stdio: 'ignore' });
    const { page, problems } = await openOffline(browser, file);
    const got = await page.evaluate(() => {
      const svg = document.querySelector('svg');
      const titles = Array.from(document.querySelectorAll('text.panel-title')).map((t) => {
        const b = t.getBBox();
        const tip = t.querySelector('title');
        return { x: b.x, y: b.y, w: b.width, h: b.height, text: t.firstChild.textContent, tip: tip ? tip.textContent : null };
      });
      return { width: svg.viewBox.baseVal.width, titles };
    });
    assert.ok(got.titles.length >= 2, `${name}: panel titles drawn (${got.titles.length})`);
    for (const t of got.titles) {
      assert.ok(t.x >= 0 && t.x + t.w <= got.width, `${name}: '${t.text}' spans ${t.x}..${t.x + t.w} of ${got.width}`);
      if (t.tip !== null) {
        assert.ok(t.text.endsWith('\u2026') && Array.from(t.text).length === 40, `${name}: '${t.text}' cut to 40 columns`);
        assert.ok(t.tip.startsWith(t.text.slice(0, -1)), `${name}: the tooltip '${t.tip}' has the whole title`);
      } else {
        assert.ok(Array.from(t.text).length <= 40, `${name}: '${t.text}' is whole only up to 40 columns`);
      }
    }
    // Titles of one row of panels (the same y) do not overlap.
    const rows = new Map();
    for (const t of got.titles) rows.set(Math.round(t.y), [...(rows.get(Math.round(t.y)) || []), t]);
    for (const row of rows.values()) {
      row.sort((a, b) => a.x - b.x);
      for (let k = 1; k < row.length; ++k) {
        assert.ok(row[k - 1].x + row[k - 1].w <= row[k].x, `${name}: '${row[k - 1].text}' ends at ` +
          `${row[k - 1].x + row[k - 1].w}, after '${row[k].text}' starts at ${row[k].x}`);
      }
    }
    await page.screenshot({ path: join(work, name.replace(/ /g, '_') + '.png') });
    expectClean(problems, name);
  }
});
