// SPDX-License-Identifier: MIT
// browser.titles: panel titles of attn-plot's grids, measured as Chromium lays them out
// (getBBox of each title): every title inside the picture and apart from its neighbours, a title
// longer than 40 columns cut with '…' and whole in its tooltip. A user saw two 40-character titles
// drawn over each other and the first cut off at the picture's left edge. Labels too long for
// a heatmap (SVG) or the viewer's head view are cut between whole characters as the browser's
// Intl.Segmenter cuts text: never half a flag or part of a joined emoji. Axis titles and colour
// bar labels longer than the map is tall stay inside the picture.
// Usage: node titles.test.mjs WORK_DIR ATTN_PLOT
import { mkdirSync, writeFileSync } from 'node:fs';
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
  // Axis titles and colour bar labels longer than the map is tall (a 3x3 map is 356 px high):
  // each stays whole inside the picture (a user saw "ens (German, after SentencePiece)").
  {
    const rowTitle = 'target tokens (German, after SentencePiece), decoder layer 3, beam 4 of 4';
    const barLabel = 'attention weight (softmax over the source tokens)';
    const shapes = {
      'long titles': [join(work, 'heads.npy'), '--index', '0'],
      'long titles small': [join(work, 'small.npy')],
      'long titles per map': [join(work, 'heads.npy'), '--color-scale', 'per-map', '--grid-columns', '1'],
    };
    writeNpy(join(work, 'small.npy'), [3, 3], [0.2, 0.3, 0.5, 0.1, 0.8, 0.1, 0.6, 0.2, 0.2]);
    for (const [name, args] of Object.entries(shapes)) {
      const file = join(work, name.replace(/ /g, '_') + '.svg');
      execFileSync(plot, [...args, '--row-title', rowTitle, '--col-title', 'source', '--colorbar-label', barLabel,
        '-o', file], { stdio: 'ignore' });
      const { page, problems } = await openOffline(browser, file);
      const got = await page.evaluate(() => {
        const box = document.querySelector('svg').getBoundingClientRect();
        return Array.from(document.querySelectorAll('text.axis-title, text.colorbar-label')).map((t) => {
          const b = t.getBoundingClientRect();
          return { text: t.textContent, top: b.top - box.top, bottom: b.bottom - box.top, left: b.left - box.left,
                   right: b.right - box.left, height: box.height, width: box.width };
        });
      });
      assert.ok(got.length >= 3, `${name}: axis titles and colour bar labels drawn (${got.length})`);
      for (const t of got) {
        assert.ok(t.top >= 0 && t.bottom <= t.height && t.left >= 0 && t.right <= t.width,
                  `${name}: '${t.text}' spans x ${t.left}..${t.right}, y ${t.top}..${t.bottom} of ${t.width}x${t.height}`);
      }
      await page.screenshot({ path: file.replace(/\.svg$/, '.png') });
      expectClean(problems, name);
    }
  }
  // Row labels of 30 flags (60 code points) and of 30 families (three emoji joined by ZWJ, 150
  // code points). The heatmap cuts them to 24 columns, an emoji taking 2: 11 whole characters and
  // '…'; the viewer's head view to 22 characters: its first 11, '…', its last 10.
  {
    const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
    const family = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}';
    const labels = ['\u{1F1EB}\u{1F1F7}\u{1F1E9}\u{1F1EA}'.repeat(15), family.repeat(30)];
    const characters = labels.map((l) => Array.from(segmenter.segment(l), (x) => x.segment));
    assert.deepEqual(characters.map((c) => c.length), [30, 30], 'the labels are 30 characters each');
    writeFileSync(join(work, 'emoji_rows.txt'), labels.join('\n') + '\n');
    writeFileSync(join(work, 'emoji_cols.txt'), 'a\nb\n');
    writeNpy(join(work, 'emoji.npy'), [2, 2], [0.5, 0.5, 0.25, 0.75]);
    const args = [join(work, 'emoji.npy'), '--rows', join(work, 'emoji_rows.txt'), '--cols', join(work, 'emoji_cols.txt')];
    const svg = join(work, 'emoji.svg');
    execFileSync(plot, [...args, '-o', svg], { stdio: 'ignore' });
    const view = join(work, 'emoji_view.html');
    execFileSync(plot, ['--view', ...args, '-o', view], { stdio: 'ignore' });
    for (const [file, selector, want] of [
      [svg, 'text', (c) => c.slice(0, 11).join('') + '\u2026'],
      [view, '#attn-head-svg text.attn-q', (c) => c.slice(0, 11).join('') + '\u2026' + c.slice(-10).join('')]]) {
      const { page, problems } = await openOffline(browser, file);
      const shown = await page.evaluate((sel) => Array.from(document.querySelectorAll(sel))
        .filter((t) => t.querySelector('title')).map((t) => t.firstChild.textContent), selector);
      assert.deepEqual(shown, characters.map(want), `${file}: labels cut between whole characters`);
      await page.screenshot({ path: file.replace(/\.\w+$/, '.png') });
      expectClean(problems, file);
    }
  }
});
