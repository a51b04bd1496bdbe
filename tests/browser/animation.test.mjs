// SPDX-License-Identifier: MIT
// browser.animation: the training animation page that `attn-plot --animate` writes, driven in
// Debian's Chromium with every request blocked. The slider moves between frames (sorted
// epoch_1, epoch_2, epoch_10 by the number in their names) and the title, the step and the
// colour of a known cell follow; that colour is matplotlib's viridis for the cell's value
// (the published table, not attn's code); the truth is drawn on the same scale; the legend
// labels an end of the scale no nice tick is near, as the SVG colour bar; play advances
// the frames and pause stops them; hostile titles and labels stay text.
// Usage: node animation.test.mjs WORK_DIR ATTN_PLOT
import { writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { run, openOffline, expectClean, assert } from './offline.mjs';

const work = process.argv[2] || '/tmp/attn_playwright_animation';
const plot = process.argv[3];
if (!plot) throw new Error('usage: node animation.test.mjs WORK_DIR ATTN_PLOT');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// matplotlib's _viridis_data, entries 0, 128 and 255, times 255 and rounded.
const viridis = {
  0: [68, 1, 84],        // (0.267004, 0.004874, 0.329415)
  128: [33, 145, 140],   // (0.127568, 0.566949, 0.550556)
  255: [253, 231, 37],   // (0.993248, 0.906157, 0.143936)
};

// Three 3x4 frames; every map holds 0 and 1. Cell (1, 2) is 128/255, then 1, then 0: on the
// scale [0, 1] those are viridis entries 128, 255 and 0.
const frame = (v) => [[0, 0.25, 0.5, 1], [0.1, 0.2, v, 0.3], [0.4, 0.6, 0.7, 0.8]];
const csv = (rows) => rows.map((r) => r.map((x) => x.toPrecision(17)).join(',')).join('\n') + '\n';
writeFileSync(join(work, 'epoch_1.csv'), csv(frame(128 / 255)));
writeFileSync(join(work, 'epoch_2.csv'), csv(frame(1)));
writeFileSync(join(work, 'epoch_10.csv'), csv(frame(0)));
writeFileSync(join(work, 'truth.csv'), csv([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]));
writeFileSync(join(work, 'rows.txt'), '</script><script>window.pwned = 1</script>\n"quoted" & \'single\'\n\u202Eevil\n');
writeFileSync(join(work, 'cols.txt'), 'a\nb\nc\n<img src=x onerror="window.pwned = 2">\n');
const page = join(work, 'animation.html');
execFileSync(plot, ['--animate', join(work, 'epoch_10.csv'), join(work, 'epoch_1.csv'), join(work, 'epoch_2.csv'),
  '--truth', join(work, 'truth.csv'), '--vmin', '0', '--vmax', '1', '--frame-ms', '200', '--cell', '20',
  '--rows', join(work, 'rows.txt'), '--cols', join(work, 'cols.txt'),
  '-t', 'Training </script><b>bold</b>', '-o', page]);

// A run with a NaN weight (cell (0, 1) of the second frame): the legend names the NaN grey.
writeFileSync(join(work, 'nan_1.csv'), csv(frame(0.5)));
writeFileSync(join(work, 'nan_2.csv'), csv(frame(0.5)).replace(/^([^,]*),[^,]*/, '$1,nan'));
const nanPage = join(work, 'nan.html');
execFileSync(plot, ['--animate', join(work, 'nan_1.csv'), join(work, 'nan_2.csv'), '-o', nanPage]);

// A 1 x 50 row per frame (a keras-attention layer's weights), no --cell: the page's default cells.
writeFileSync(join(work, 'row_1.csv'), csv([Array.from({ length: 50 }, (_, j) => j / 49)]));
writeFileSync(join(work, 'row_2.csv'), csv([Array.from({ length: 50 }, (_, j) => 1 - j / 49)]));
const rowPage = join(work, 'row.html');
execFileSync(plot, ['--animate', join(work, 'row_1.csv'), join(work, 'row_2.csv'), '-o', rowPage]);

// Weights from 0.19 to 1: the legend labels its foot "0.19" (no nice tick is within 5 % of the
// span of it), as the SVG colour bar, and leaves out the tick 0.25, whose label would overlap it.
writeFileSync(join(work, 'end_1.csv'), csv([[0.19, 0.5, 1]]));
const endPage = join(work, 'end.html');
execFileSync(plot, ['--animate', join(work, 'end_1.csv'), '-o', endPage]);
// Weights from 0 to 0.65: the top labelled "0.65", the tick 0.6 before it, 8 % of the span away,
// left out (its label would overlap the end's, drawn after it).
writeFileSync(join(work, 'top_1.csv'), csv([[0, 0.2, 0.65]]));
const topPage = join(work, 'top.html');
execFileSync(plot, ['--animate', join(work, 'top_1.csv'), '-o', topPage]);
// Long tick labels (123456789.01 to 123456789.05): every other one is left out, none overlap.
writeFileSync(join(work, 'long_1.csv'), csv([[123456789.01, 123456789.03, 123456789.05]]));
const longPage = join(work, 'long.html');
execFileSync(plot, ['--animate', join(work, 'long_1.csv'), '--vmin', '123456789.01', '--vmax', '123456789.05', '-o', longPage]);

async function pixel(p, id, k, i, j, truth) {
  return p.evaluate(({ id, k, i, j, truth }) => {
    const at = window.attnAnimation.cellCenter(k, i, j, truth);
    return Array.from(document.getElementById(id).getContext('2d').getImageData(at.x, at.y, 1, 1).data);
  }, { id, k, i, j, truth });
}

function expectColor(got, want, what) {
  const close = got.length === 4 && got[3] === 255 && want.every((c, n) => Math.abs(got[n] - c) <= 1);
  assert.ok(close, `${what}: pixel ${JSON.stringify(got)}, expected ${JSON.stringify(want)} (±1)`);
}

async function shown(p) {
  return {
    title: await p.textContent('#attn-frame-title'),
    step: await p.textContent('#attn-frame-step'),
    count: await p.textContent('#attn-frame-count'),
  };
}

await run('animation page', async (browser) => {
  const { page: p, problems } = await openOffline(browser, page, { width: 1000, height: 700 });
  // The last frame is shown first.
  assert.deepEqual(await shown(p), { title: 'epoch 10', step: 'step 10', count: '3 / 3' });
  expectColor(await pixel(p, 'attn-map-0', 0, 1, 2, false), viridis[0], 'epoch 10, cell (1, 2) = 0');

  // Move the slider as a user does: focus it, Home, then the arrow keys.
  await p.focus('#attn-slider');
  await p.keyboard.press('Home');
  assert.deepEqual(await shown(p), { title: 'epoch 1', step: 'step 1', count: '1 / 3' });
  expectColor(await pixel(p, 'attn-map-0', 0, 1, 2, false), viridis[128], 'epoch 1, cell (1, 2) = 128/255');
  await p.keyboard.press('ArrowRight');
  assert.deepEqual(await shown(p), { title: 'epoch 2', step: 'step 2', count: '2 / 3' });
  expectColor(await pixel(p, 'attn-map-0', 0, 1, 2, false), viridis[255], 'epoch 2, cell (1, 2) = 1');
  expectColor(await pixel(p, 'attn-map-0', 0, 0, 0, false), viridis[0], 'epoch 2, cell (0, 0) = 0');

  // The truth, on the same scale, beside the map.
  expectColor(await pixel(p, 'attn-truth-0', 0, 2, 2, true), viridis[255], 'truth (2, 2) = 1');
  expectColor(await pixel(p, 'attn-truth-0', 0, 2, 3, true), viridis[0], 'truth (2, 3) = 0');
  const boxes = await p.evaluate(() => ['attn-map-0', 'attn-truth-0'].map((id) => document.getElementById(id).getBoundingClientRect().x));
  assert.ok(boxes[1] > boxes[0], `the truth is beside the map: x ${boxes}`);

  // Play advances the frames (200 ms each), wrapping after the last; pause stops them.
  await p.keyboard.press('Home');
  await p.click('#attn-play');
  assert.equal(await p.textContent('#attn-play'), 'Pause');
  // The frame and its title are read in one page call: read apart, the next 200 ms tick could
  // come between them on a loaded machine (a CI run read 'epoch 10').
  const atFrame1 = await p.waitForFunction(() => window.attnAnimation.frame() === 1 &&
    { title: document.getElementById('attn-frame-title').textContent }, null, { timeout: 5000 });
  assert.equal((await atFrame1.jsonValue()).title, 'epoch 2');
  await p.waitForFunction(() => window.attnAnimation.frame() === 2, null, { timeout: 5000 });
  await p.waitForFunction(() => window.attnAnimation.frame() === 0, null, { timeout: 5000 });
  await p.click('#attn-play');
  assert.equal(await p.textContent('#attn-play'), 'Play');
  const stopped = await p.evaluate(() => window.attnAnimation.frame());
  await p.waitForTimeout(700);
  assert.equal(await p.evaluate(() => window.attnAnimation.frame()), stopped, 'pause stops the frames');

  // Hostile title and labels: shown as text, never run.
  assert.equal(await p.evaluate(() => window.pwned), undefined, 'no label ran as script');
  assert.equal(await p.textContent('h1'), 'Training </script><b>bold</b>');
  assert.equal(await p.title(), 'Training </script><b>bold</b>');
  assert.equal(await p.locator('h1 b').count(), 0);
  assert.equal(await p.locator('img').count(), 0);
  const labels = await p.evaluate(() => Array.from(document.querySelectorAll('#attn-row-labels li')).map((li) => li.textContent));
  assert.deepEqual(labels, ['</script><script>window.pwned = 1</script>', '"quoted" & \'single\'', '\u202Eevil\u202C']);

  // Hovering a cell shows its labels and value (frame 1: 128/255 = 0.50196...), as stored: uint16
  // codes over the map's [0, 1] keep it within 1/131064, so the tooltip says '≈' and gives the
  // 5 decimals that resolves (a user saw 4 significant digits of a value below one step).
  await p.focus('#attn-slider');
  await p.keyboard.press('Home');
  const box = await p.locator('#attn-map-0').boundingBox();
  const at = await p.evaluate(() => window.attnAnimation.cellCenter(0, 1, 2, false));
  await p.mouse.move(box.x + at.x, box.y + at.y);
  const stored = Math.round((128 / 255) * 65532) / 65532;
  // Each label in a first-strong isolate (U+2068 … U+2069), as the viewer's tooltips (browser.rtl).
  assert.equal(await p.textContent('#attn-tip'), '\u2068"quoted" & \'single\'\u2069 \u2192 \u2068c\u2069: \u2248' + stored.toFixed(5));
  assert.equal(await p.isVisible('#attn-tip'), true);
  await p.screenshot({ path: join(work, 'animation.png') });
  expectClean(problems, 'animation.html');

  // The legend: no NaN, no NaN swatch (300 px); with a NaN in any frame, a grey swatch right of
  // the colour ramp (x 290 to 306, y 4 to 20) and 350 px.
  const legendOf = (pg) => pg.evaluate(() => {
    const c = document.getElementById('attn-legend');
    const dpr = c.width / parseFloat(c.style.width);
    return { width: c.style.width, swatch: Array.from(c.getContext('2d').getImageData(Math.round(293 * dpr), Math.round(12 * dpr), 1, 1).data) };
  });
  assert.equal((await legendOf(p)).width, '300px', 'no NaN: the legend has no NaN swatch');
  const nn = await openOffline(browser, nanPage, { width: 1000, height: 700 });
  const nanLegend = await legendOf(nn.page);
  assert.equal(nanLegend.width, '350px', 'a NaN weight: the legend widens for its swatch');
  expectColor(nanLegend.swatch, [217, 217, 217], 'the NaN swatch is the NaN cells\' grey');
  await nn.page.screenshot({ path: join(work, 'animation_nan.png') });
  const ends = await openOffline(browser, endPage, { width: 1000, height: 700 });
  assert.equal(await ends.page.$eval('#attn-legend', (c) => c.dataset.ticks), '0.19|0.50|0.75|1.00',
               'the foot of the scale labelled, the overlapping tick 0.25 left out');
  await ends.page.screenshot({ path: join(work, 'animation_ends.png') });
  expectClean(ends.problems, 'end.html');
  const top = await openOffline(browser, topPage, { width: 1000, height: 700 });
  assert.equal(await top.page.$eval('#attn-legend', (c) => c.dataset.ticks), '0.0|0.2|0.4|0.65',
               'the top of the scale labelled, the overlapping tick 0.6 before it left out');
  expectClean(top.problems, 'top.html');
  const lg = await openOffline(browser, longPage, { width: 1000, height: 700 });
  const longTicks = await lg.page.evaluate(() => {
    const c = document.getElementById('attn-legend'), ctx = c.getContext('2d');
    ctx.font = '11px sans-serif';
    return c.dataset.ticks.split('|').map((t) => ({ t, w: ctx.measureText(t).width }));
  });
  assert.ok(longTicks.length >= 2, `long labels: at least the two ends shown (${JSON.stringify(longTicks)})`);
  const longWidth = longTicks.reduce((sum, b) => sum + b.w, 0);
  assert.ok(longWidth + 4 * (longTicks.length - 1) <= 256 + longTicks[0].w / 2 + longTicks[longTicks.length - 1].w / 2,
            `long labels fit the ramp side by side: ${JSON.stringify(longTicks)}`);
  await lg.page.screenshot({ path: join(work, 'animation_long.png') });
  expectClean(lg.problems, 'long.html');
  expectClean(nn.problems, 'nan.html');

  // The 1 x 50 row: 14 px cells (its cells cover about 240 x 240 px, its long side at most
  // 720 px), not the 4 px high strip of 240 px that a readable 50 x 50 map's cells would give.
  const row = await openOffline(browser, rowPage, { width: 1000, height: 700 });
  const cell = await row.page.evaluate(() => {
    const a = window.attnAnimation.cellCenter(0, 0, 0, false), b = window.attnAnimation.cellCenter(0, 0, 40, false);
    return (b.x - a.x) / 40 / (window.devicePixelRatio || 1);
  });
  assert.ok(Math.abs(cell - 14) < 0.1, `a 1x50 row: cells of ${cell} px, expected 14`);
  // Unlabelled, its columns are numbered every 2 (14 px cells: the first step leaving 24 px),
  // and the numbers are drawn above the map (dark pixels over column 0, none over column 1).
  const ticks = await row.page.evaluate(() => window.attnAnimation.indexTicks(0));
  assert.deepEqual(ticks, { rowStep: 2, colStep: 2 }, 'a 1x50 row: index ticks every 2 rows and columns');
  const darkAbove = await row.page.evaluate(() => {
    const c = document.getElementById('attn-map-0'), dpr = c.width / parseFloat(c.style.width);
    const dark = (j) => {
      const at = window.attnAnimation.cellCenter(0, 0, j, false);
      const data = c.getContext('2d').getImageData(at.x - Math.round(3 * dpr), Math.round(2 * dpr),
                                                   Math.round(6 * dpr), Math.round(10 * dpr)).data;
      let n = 0;
      for (let q = 0; q < data.length; q += 4) if (data[q + 3] > 0 && data[q] < 160) ++n;
      return n;
    };
    return { zero: dark(0), one: dark(1) };
  });
  assert.ok(darkAbove.zero > 0, 'a 1x50 row: the index 0 drawn above column 0');
  assert.equal(darkAbove.one, 0, 'a 1x50 row: no index above column 1');
  await row.page.screenshot({ path: join(work, 'animation_row.png') });
  expectClean(row.problems, 'row.html');
});
