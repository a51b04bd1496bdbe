// SPDX-License-Identifier: MIT
// browser.viewer: the interactive attention view (attn::io::write_attention_view, attn-plot
// --view) in Chromium, offline. Weights are made here (seeded), written as .npy and tidy CSV,
// turned into pages by attn-plot, and every check compares the page with these numbers:
// hovering a token draws only its lines and the most opaque one goes to its largest weight;
// a head toggled off loses its lines; the model view opens the clicked map; the map view's
// tooltip gives the cell's value, also after zooming; the text view shades the chosen query;
// batch items switch; hostile labels stay text; cells a mask hid are hatched, say so in their
// tooltips and leave the colour scale alone; long labels stay on the map's canvas. Screenshots
// of each view go to WORK_DIR.
// Usage: node viewer.test.mjs WORK_DIR ATTN_PLOT
import { writeFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { run, openOffline, expectClean, assert, writeNpy } from './offline.mjs';

const work = process.argv[2] || '/tmp/attn_viewer_test';
const plot = process.argv[3];
assert.ok(plot, 'usage: node viewer.test.mjs WORK_DIR ATTN_PLOT');
mkdirSync(work, { recursive: true });

// A seeded generator (mulberry32) and softmax rows with distinct values.
let seed = 12345;
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function softmaxRow(n) {
  const e = Array.from({ length: n }, () => Math.exp(4 * random()));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}
// w[l][h][i][j], L layers × H heads × Tq × Tk
function weights(L, H, Tq, Tk) {
  return Array.from({ length: L }, () => Array.from({ length: H }, () => Array.from({ length: Tq }, () => softmaxRow(Tk))));
}
const argmax = (row) => row.reduce((best, v, j) => (v > row[best] ? j : best), 0);
const close = (a, b, tol, what) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

// Cross-attention: 4 target tokens (queries) attend to 6 source tokens (keys), 2 layers × 3 heads.
const [L, H, Tq, Tk] = [2, 3, 4, 6];
const W = weights(L, H, Tq, Tk);
writeNpy(join(work, 'cross.npy'), [L, H, Tq, Tk], W.flat(3));
const hostile = '</script><img src=x onerror="alert(1)">';
const source = ['the', 'cat', hostile, '"quoted" & \'single\'', '\u202Eevil', 'mat'];
const target = ['le', 'chat', 'tapis', 'fin'];
writeFileSync(join(work, 'source.txt'), Buffer.concat([Buffer.from(source.join('\n')), Buffer.from([0xff, 0xfe, 0x0a])]));
writeFileSync(join(work, 'target.txt'), target.join('\n') + '\n');
const crossPage = join(work, 'cross.html');
execFileSync(plot, ['--view', join(work, 'cross.npy'), '-r', join(work, 'target.txt'), '-c', join(work, 'source.txt'),
  '-t', 'cross <b>attention</b>', '-o', crossPage]);

// Tidy CSV with two steps (batch items) of different tokens; step 0 has a cross-attention and an
// encoder self-attention (the attention column), step 1 a cross-attention; one layer, one head.
const tidy = ['step,attention,query,key,query_token,key_token,weight'];
const T2 = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]];
const E3 = [[0.1, 0.2, 0.7], [0.5, 0.4, 0.1], [0.3, 0.3, 0.4]];
const T3 = [[0.25, 0.75], [0.9, 0.1]];
T2.forEach((row, i) => row.forEach((w, j) => tidy.push(`0,cross,${i},${j},q${i},k${j},${w}`)));
E3.forEach((row, i) => row.forEach((w, j) => tidy.push(`0,encoder,${i},${j},k${i},k${j},${w}`)));
T3.forEach((row, i) => row.forEach((w, j) => tidy.push(`1,cross,${i},${j},"Q,${i}",K${j},${w}`)));
writeFileSync(join(work, 'tidy.csv'), tidy.join('\n') + '\n');
const tidyPage = join(work, 'tidy.html');
execFileSync(plot, ['--view', join(work, 'tidy.csv'), '-o', tidyPage]);

// A map whose weights all stay below the lightest line drawn without a selection (0.01): no
// line, and the note says why (a user saw an empty head view of T = 2000 with no word).
const U = 120;
writeNpy(join(work, 'uniform.npy'), [U, U], new Array(U * U).fill(1 / U));
const uniformPage = join(work, 'uniform.html');
execFileSync(plot, ['--view', join(work, 'uniform.npy'), '-o', uniformPage]);

// Long labels (a persona's words): the map view's margins fit the widest label drawn, so no
// label runs off the canvas (fixed margins of 120 and 96 px cut "incomprehensibly" and the key
// labels' starts).
const longWords = ['counterrevolutionaries', 'incomprehensibly', 'internationalization', 'WWWWWWWWWWWWWWWWWWWW', 'a'];
writeNpy(join(work, 'long.npy'), [5, 5], weights(1, 1, 5, 5).flat(3));
writeFileSync(join(work, 'long.txt'), longWords.join('\n') + '\n');
const longPage = join(work, 'long.html');
execFileSync(plot, ['--view', join(work, 'long.npy'), '-r', join(work, 'long.txt'), '-c', join(work, 'long.txt'),
  '--view-start', 'map', '-o', longPage]);

// One strong weight among 1500 × 1500 cells (2.6 cells a pixel in the map view): drawn from
// block maxima, it shows (nearest-neighbour scaling skipped it, and a user saw nothing).
const P = 1500, peak = [700, 900];
const sparse = new Array(P * P).fill(0);
sparse[peak[0] * P + peak[1]] = 1;
writeNpy(join(work, 'peak.npy'), [P, P], sparse);
const peakPage = join(work, 'peak.html');
execFileSync(plot, ['--view', join(work, 'peak.npy'), '--view-start', 'map', '-o', peakPage], { stdio: 'ignore' });

// Masks (--mask): a causal self-attention of 5 tokens, 1 layer × 2 heads, whose masked cells
// hold 5 (above every visible weight: a masked value must not set the colour scale); and a
// batch of 2 items with a 3-D mask file, one padding mask per item (item 1: keys 3 and 4 hidden).
const M = 5;
const causal = (i, j) => j <= i;
const MW = [0, 1].map(() => Array.from({ length: M }, (_, i) => {
  const row = softmaxRow(i + 1);
  return Array.from({ length: M }, (_, j) => (causal(i, j) ? row[j] : 5));
}));
writeNpy(join(work, 'causal.npy'), [2, M, M], MW.flat(2));
const causalPage = join(work, 'causal.html');
execFileSync(plot, ['--view', join(work, 'causal.npy'), '--mask', 'causal', '--view-start', 'map', '-o', causalPage]);
const padded = (b, j) => b === 0 || j < 3;
writeNpy(join(work, 'pad_mask.npy'), [2, M, M], [0, 1].flatMap((b) => Array.from({ length: M * M }, (_, n) => (padded(b, n % M) ? 1 : 0))));
writeNpy(join(work, 'batch.npy'), [2, 1, M, M], [0, 1].flatMap((b) => Array.from({ length: M * M }, (_, n) => (padded(b, n % M) ? 0.2 : 0))));
const paddedPage = join(work, 'padded.html');
execFileSync(plot, ['--view', '--batch', join(work, 'batch.npy'), '--mask', join(work, 'pad_mask.npy'), '--view-start', 'map', '-o', paddedPage]);
// NaN weights under the causal mask: nan.npy has one in a visible cell (2, 1) and one in a
// masked cell (0, 3); nan_hidden.npy only the masked one.
const NW = MW[0].map((r) => r.slice());
NW[2][1] = NaN;
NW[0][3] = NaN;
writeNpy(join(work, 'nan.npy'), [M, M], NW.flat());
const nanPage = join(work, 'nan.html');
execFileSync(plot, ['--view', join(work, 'nan.npy'), '--mask', 'causal', '--view-start', 'map', '-o', nanPage]);
NW[2][1] = MW[0][2][1];
writeNpy(join(work, 'nan_hidden.npy'), [M, M], NW.flat());
const nanHiddenPage = join(work, 'nan_hidden.html');
execFileSync(plot, ['--view', join(work, 'nan_hidden.npy'), '--mask', 'causal', '--view-start', 'map', '-o', nanHiddenPage]);

async function shownLines(page) {
  return page.$$eval('#attn-lines line', (ls) => ls.map((l) => ({
    head: Number(l.dataset.head), query: Number(l.dataset.query), key: Number(l.dataset.key),
    weight: Number(l.dataset.weight), opacity: Number(l.getAttribute('stroke-opacity')) })));
}

await run('viewer', async (browser) => {
  const { page, problems } = await openOffline(browser, crossPage, { width: 1200, height: 900 });
  assert.equal(await page.getAttribute('#attn-root', 'data-view'), 'head', 'opens with the head view');
  assert.equal(await page.title(), 'cross <b>attention</b>', 'the title is text');
  // Hostile labels are text: no <img> element, the label reads back as given, bad bytes are U+FFFD.
  assert.equal(await page.$$eval('img', (x) => x.length), 0, 'no element from a label');
  const keys = await page.$$eval('#attn-head-svg text.attn-k title', (ts) => ts.map((t) => t.textContent));
  assert.equal(keys[2], hostile);
  assert.equal(keys[3], source[3]);
  assert.equal(keys[4], '\u202Eevil\u202C', 'the override is closed inside its label');
  assert.equal(keys[5], 'mat\uFFFD\uFFFD', 'malformed UTF-8 becomes U+FFFD');
  await page.screenshot({ path: join(work, 'viewer_head.png') });

  // Hover query 2: only its lines, one per head and key with weight > 0; the most opaque goes to
  // the key with the largest weight over the shown heads.
  for (const layer of [0, 1]) {
    await page.selectOption('#attn-layer', String(layer));
    for (const q of [0, 2]) {
      await page.hover(`#attn-head-svg text.attn-q[data-index="${q}"]`);
      const lines = await shownLines(page);
      assert.equal(lines.length, H * Tk, `layer ${layer} query ${q}: ${H}·${Tk} lines`);
      const colours = await page.$$eval('#attn-lines line', (ls) => [...new Set(ls.map((l) => `${l.dataset.head} ${l.getAttribute('stroke')}`))]);
      assert.equal(colours.length, H, 'one colour per head');
      assert.equal(new Set(colours.map((c) => c.split(' ')[1])).size, H, 'no two heads share a colour');
      assert.ok(lines.every((l) => l.query === q), 'every line is the hovered token\'s');
      for (const l of lines) close(l.weight, W[layer][l.head][q][l.key], 1e-6, `line ${l.head}/${l.key}`);
      const top = lines.reduce((a, b) => (b.opacity > a.opacity ? b : a));
      let best = { h: 0, j: 0 };
      for (let h = 0; h < H; ++h) for (let j = 0; j < Tk; ++j) if (W[layer][h][q][j] > W[layer][best.h][q][best.j]) best = { h, j };
      assert.deepEqual([top.head, top.key], [best.h, best.j], 'the most opaque line goes to the largest weight');
      // Opacity relative to the largest of the token's lines: that one is opaque, the others in proportion.
      const wmax = W[layer][best.h][q][best.j];
      for (const l of lines) close(l.opacity, l.weight / wmax, 1e-6, `opacity of line ${l.head}/${l.key}`);
      const note = await page.$eval('#attn-head-note', (e) => e.textContent);
      assert.ok(note.includes('(darkest line: ' + String(Number(wmax.toPrecision(6))) + ')'), `head note: ${note}`);
    }
  }
  // A key token shows the lines into it.
  await page.hover('#attn-head-svg text.attn-k[data-index="1"]');
  assert.ok((await shownLines(page)).every((l) => l.key === 1), 'hovering a key shows the lines into it');
  assert.equal(await page.getAttribute('#attn-root', 'data-selected'), 'k1');

  // Toggle head 1 off: its lines go, the others stay; the strongest line is now among heads 0 and 2.
  await page.hover('#attn-head-svg text.attn-q[data-index="2"]');
  await page.uncheck('#attn-head-1');
  await page.hover('#attn-head-svg text.attn-q[data-index="2"]');
  let lines = await shownLines(page);
  assert.ok(lines.length > 0 && lines.every((l) => l.head !== 1), 'head 1 is gone');
  assert.deepEqual([...new Set(lines.map((l) => l.head))].sort(), [0, 2]);
  const top = lines.reduce((a, b) => (b.opacity > a.opacity ? b : a));
  const layer1 = W[1];
  const want = [0, 2].map((h) => ({ h, j: argmax(layer1[h][2]), w: Math.max(...layer1[h][2]) })).reduce((a, b) => (b.w > a.w ? b : a));
  assert.deepEqual([top.head, top.key], [want.h, want.j]);
  // Click keeps a selection when the pointer leaves; clicking again releases it.
  await page.click('#attn-head-svg text.attn-q[data-index="3"]');
  await page.mouse.move(900, 800);
  assert.ok((await shownLines(page)).every((l) => l.query === 3), 'the clicked token stays selected');
  await page.click('#attn-head-svg text.attn-q[data-index="3"]');
  await page.mouse.move(900, 800);
  assert.equal(await page.getAttribute('#attn-root', 'data-selected'), '');
  await page.check('#attn-head-1');

  // The keyboard does what the pointer does: Tab reaches the tokens, focus selects as hovering
  // does, arrows move along a side (left and right: to the other side), Enter keeps, Escape releases.
  await page.selectOption('#attn-layer', '0');
  await page.focus('#attn-head-svg text.attn-q[data-index="0"]');
  assert.equal(await page.getAttribute('#attn-root', 'data-selected'), 'q0', 'a focused query is selected');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.getAttribute('#attn-root', 'data-selected'), 'q2', 'ArrowDown moves to the next query');
  lines = await shownLines(page);
  assert.equal(lines.length, H * Tk, 'the focused query\'s lines');
  assert.ok(lines.every((l) => l.query === 2), 'only the focused query\'s lines');
  await page.keyboard.press('Enter');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('class') + ' ' + document.activeElement.dataset.index),
    'attn-k 2', 'ArrowRight goes to the key of the same index');
  assert.equal(await page.getAttribute('#attn-root', 'data-selected'), 'q2', 'Enter kept query 2 while the focus moves');
  await page.keyboard.press('End');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.index), String(Tk - 1), 'End: the last key');
  await page.keyboard.press('Escape');
  assert.equal(await page.getAttribute('#attn-root', 'data-selected'), 'k' + (Tk - 1), 'Escape releases; the focused key is selected');
  assert.ok((await shownLines(page)).every((l) => l.key === Tk - 1), 'the focused key\'s lines');
  await page.keyboard.press('Shift+Tab');  // the page's tab order: the key before
  assert.equal(await page.getAttribute('#attn-root', 'data-selected'), 'k' + (Tk - 2), 'Shift+Tab: the key before');
  await page.evaluate(() => document.activeElement.blur());
  assert.equal(await page.getAttribute('#attn-root', 'data-selected'), '', 'leaving the tokens clears the selection');

  // Model view: L × H thumbnails; a click opens that map in the map view.
  await page.click('.attn-tab[data-view="model"]');
  assert.equal(await page.$$eval('#attn-model-grid canvas', (c) => c.length), L * H);
  await page.screenshot({ path: join(work, 'viewer_model.png') });
  await page.click('#attn-model-grid canvas[data-layer="1"][data-head="2"]');
  assert.equal(await page.getAttribute('#attn-root', 'data-view'), 'map');
  assert.ok(await page.isVisible('#attn-map-canvas'), 'the map is shown');
  // The whole map and its colour bar fit the window (a user saw the bar below the fold).
  const fold = await page.evaluate(() => ({ bar: document.getElementById('attn-colorbar').getBoundingClientRect().bottom +
    window.scrollY, window: window.innerHeight }));
  assert.ok(fold.bar <= fold.window, `the colour bar ends at ${fold.bar}, in a window ${fold.window} tall`);
  assert.equal(await page.getAttribute('#attn-map-canvas', 'data-layer'), '1');
  assert.equal(await page.getAttribute('#attn-map-canvas', 'data-head'), '2');

  // Map view: the tooltip over cell (i, j) gives W[1][2][i][j], before and after zooming.
  const hoverCell = async (i, j) => {
    const g = await page.$eval('#attn-map-canvas', (c) => {
      const r = c.getBoundingClientRect();
      return { left: r.left, top: r.top, x0: Number(c.dataset.x0), y0: Number(c.dataset.y0), cell: Number(c.dataset.cell) };
    });
    await page.mouse.move(g.left + g.x0 + (j + 0.5) * g.cell, g.top + g.y0 + (i + 0.5) * g.cell);
    const tip = await page.$eval('#attn-tooltip', (t) => ({ hidden: t.hidden, text: t.textContent, ...t.dataset }));
    assert.equal(tip.hidden, false, 'the tooltip shows');
    assert.deepEqual([Number(tip.query), Number(tip.key)], [i, j], 'the tooltip is the hovered cell\'s');
    close(Number(tip.value), W[1][2][i][j], 1e-6, `tooltip value of (${i}, ${j})`);
    assert.ok(tip.text.includes(String(Number(W[1][2][i][j].toPrecision(6)))), `tooltip text ${tip.text}`);
    return tip;
  };
  await hoverCell(0, 0);
  const tip = await hoverCell(2, 4);
  assert.ok(tip.text.startsWith('\u2068tapis\u2069 \u2192 \u2068\u202Eevil\u202C\u2069: '), `tooltip labels: ${tip.text}`);
  await page.screenshot({ path: join(work, 'viewer_map.png') });
  const box = await page.$eval('#attn-map-canvas', (c) => { const r = c.getBoundingClientRect(); return { x: r.left + 300, y: r.top + 300 }; });
  await page.mouse.move(box.x, box.y);
  await page.mouse.wheel(0, -300);
  await page.waitForFunction(() => Number(document.getElementById('attn-map-canvas').dataset.zoom) > 1);
  // The cell under canvas point (200, 200) after zooming (one wheel step: cells of 1.25 times the size).
  const z = await page.$eval('#attn-map-canvas', (c) => ({ x0: Number(c.dataset.x0), y0: Number(c.dataset.y0), cell: Number(c.dataset.cell) }));
  assert.ok(z.cell > 100, `zoomed cells are larger: ${z.cell}`);
  await hoverCell(Math.floor((200 - z.y0) / z.cell), Math.floor((200 - z.x0) / z.cell));
  await page.dblclick('#attn-map-canvas');
  await page.waitForFunction(() => document.getElementById('attn-map-canvas').dataset.zoom === '1');

  // The map by keyboard: focus puts a cell on the chosen query's first key, arrows move it (the
  // tooltip follows, with the cell's value), Enter chooses its query, + zooms, 0 resets.
  await page.mouse.move(5, 5);
  const keyTip = async (i, j) => {
    const t = await page.$eval('#attn-tooltip', (x) => ({ hidden: x.hidden, ...x.dataset }));
    assert.equal(t.hidden, false, `the keyboard's tooltip shows (${i}, ${j})`);
    assert.deepEqual([Number(t.query), Number(t.key)], [i, j], 'the tooltip is the keyboard cell\'s');
    close(Number(t.value), W[1][2][i][j], 1e-6, `keyboard tooltip value of (${i}, ${j})`);
  };
  await page.evaluate(() => document.activeElement.blur());  // the clicks above focused the map
  await page.click('.attn-tab[data-view="text"]');  // the text view's query is the map's too
  await page.selectOption('#attn-query', '2');
  await page.click('.attn-tab[data-view="map"]');
  await page.focus('#attn-map-canvas');
  await keyTip(2, 0);
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowUp');
  await keyTip(1, 2);
  await page.keyboard.press('Shift+ArrowRight');
  await keyTip(1, Tk - 1);
  await page.keyboard.press('Home');
  await keyTip(1, 0);
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute('#attn-root', 'data-query'), '1', 'Enter chooses the cell\'s query');
  await page.keyboard.press('+');
  await page.waitForFunction(() => document.getElementById('attn-map-canvas').dataset.zoom === '2');
  await keyTip(1, 0);
  await page.keyboard.press('0');
  await page.waitForFunction(() => document.getElementById('attn-map-canvas').dataset.zoom === '1');
  // The browser's own shortcuts stay the browser's: Ctrl with + is not the map's zoom.
  await page.keyboard.press('Control+=');
  await page.keyboard.press('ArrowRight');  // (a frame for a zoom that should not happen)
  assert.equal(await page.getAttribute('#attn-map-canvas', 'data-zoom'), '1', 'Ctrl+= leaves the map\'s zoom');
  await keyTip(1, 1);
  await page.screenshot({ path: join(work, 'viewer_map_keyboard.png') });
  await page.evaluate(() => document.activeElement.blur());
  assert.equal(await page.$eval('#attn-tooltip', (x) => x.hidden), true, 'the tooltip goes with the focus');
  // Another query chosen: the keyboard's cell starts again on its first key.
  await page.click('.attn-tab[data-view="text"]');
  await page.selectOption('#attn-query', '3');
  await page.click('.attn-tab[data-view="map"]');
  await page.focus('#attn-map-canvas');
  await keyTip(3, 0);
  await page.evaluate(() => document.activeElement.blur());
  await page.click('.attn-tab[data-view="model"]');
  await page.focus('#attn-model-grid canvas[data-layer="1"][data-head="2"]');
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute('#attn-root', 'data-view'), 'map', 'Enter on a thumbnail opens its map');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'attn-map-canvas', 'and the keyboard is in the map');
  await keyTip(3, 0);
  await page.evaluate(() => document.activeElement.blur());

  // Text view: query 1 of layer 1, head 2 (the map chose it; chosen again here); each key's data-weight is its weight.
  await page.click('.attn-tab[data-view="text"]');
  await page.selectOption('#attn-query', '1');
  const spans = await page.$$eval('#attn-text .attn-tok', (s) => s.map((x) => ({ key: Number(x.dataset.key), w: Number(x.dataset.weight), bg: x.style.background })));
  assert.equal(spans.length, Tk);
  spans.forEach((s) => close(s.w, W[1][2][1][s.key], 1e-6, `text weight ${s.key}`));
  const strongest = argmax(W[1][2][1]);
  assert.equal(spans[strongest].bg, 'rgb(230, 85, 13)', 'the largest weight has the full colour');
  await page.screenshot({ path: join(work, 'viewer_text.png') });
  expectClean(problems, 'cross.html');

  // Batch items from the tidy CSV's steps: a selector, and each item its own tokens and weights.
  const t = await openOffline(browser, tidyPage);
  assert.equal(await t.page.isVisible('#attn-item'), true, 'two items: the item selector shows');
  assert.deepEqual(await t.page.$$eval('#attn-item option', (o) => o.map((x) => x.textContent)), ['step 0', 'step 1']);
  await t.page.hover('#attn-head-svg text.attn-q[data-index="1"]');
  let l2 = await shownLines(t.page);
  assert.equal(l2.reduce((a, b) => (b.opacity > a.opacity ? b : a)).key, 2);
  // The attention selector: step 0's encoder self-attention has its own tokens and weights.
  assert.deepEqual(await t.page.$$eval('#attn-attention option', (o) => o.map((x) => x.textContent)), ['cross', 'encoder']);
  await t.page.selectOption('#attn-attention', '1');
  assert.deepEqual(await t.page.$$eval('#attn-head-svg text.attn-q title', (x) => x.map((e) => e.textContent)), ['k0', 'k1', 'k2']);
  await t.page.hover('#attn-head-svg text.attn-q[data-index="1"]');
  l2 = await shownLines(t.page);
  assert.equal(l2.length, 3);
  assert.equal(l2.reduce((a, b) => (b.opacity > a.opacity ? b : a)).key, 0, 'encoder query 1 attends most to key 0');
  await t.page.selectOption('#attn-item', '1');
  assert.deepEqual(await t.page.$$eval('#attn-head-svg text.attn-q title', (x) => x.map((e) => e.textContent)), ['Q,0', 'Q,1']);
  await t.page.hover('#attn-head-svg text.attn-q[data-index="0"]');
  l2 = await shownLines(t.page);
  assert.equal(l2.length, 2);
  assert.equal(l2.reduce((a, b) => (b.opacity > a.opacity ? b : a)).key, 1);
  expectClean(t.problems, 'tidy.html');

  const u = await openOffline(browser, uniformPage);
  assert.equal((await shownLines(u.page)).length, 0);
  const note = await u.page.$eval('#attn-head-note', (e) => e.textContent);
  assert.ok(note.startsWith('No weight reaches 0.01'), `head note: ${note}`);
  await u.page.hover('#attn-head-svg text.attn-q[data-index="3"]');
  assert.equal((await shownLines(u.page)).length, U, 'a hovered query shows all its lines');
  expectClean(u.problems, 'uniform.html');

  const pk = await openOffline(browser, peakPage);
  await pk.page.waitForFunction(() => document.getElementById('attn-map-canvas').dataset.cell !== undefined);
  const bright = await pk.page.evaluate(([i, j]) => {
    const c = document.getElementById('attn-map-canvas');
    const x = Number(c.dataset.x0) + (j + 0.5) * Number(c.dataset.cell);
    const y = Number(c.dataset.y0) + (i + 0.5) * Number(c.dataset.cell);
    const px = c.getContext('2d').getImageData(Math.floor(x) - 2, Math.floor(y) - 2, 5, 5).data;
    let n = 0;
    for (let k = 0; k < px.length; k += 4) if (px[k] > 200 && px[k + 1] > 200) ++n;  // viridis' top
    return { n: n, cell: Number(c.dataset.cell) };
  }, peak);
  assert.ok(bright.cell < 1, `cells smaller than a pixel: ${bright.cell}`);
  assert.ok(bright.n >= 1, 'the one strong weight shows at zoom 1');
  expectClean(pk.problems, 'peak.html');

  // Masked cells: hatched in greys (the hatch's lines and its background both in the cell, no
  // colour), visible cells in colour; the tooltip says "masked (value)"; the colour bar ends at
  // the largest visible weight (not the masked 5) and has the "masked" legend.
  const mk = await openOffline(browser, causalPage, { width: 1000, height: 800 });
  await mk.page.waitForFunction(() => document.getElementById('attn-map-canvas').dataset.cell !== undefined);
  const cellPixels = (pg, i, j) => pg.evaluate(([ci, cj]) => {
    const c = document.getElementById('attn-map-canvas');
    const cell = Number(c.dataset.cell);
    // inside the cell, clear of the chosen query's 2 px frame
    const x = Math.ceil(Number(c.dataset.x0) + cj * cell) + 3, y = Math.ceil(Number(c.dataset.y0) + ci * cell) + 3;
    const n = Math.floor(cell) - 6;
    const px = c.getContext('2d').getImageData(x, y, n, n).data;
    const out = [];
    for (let k = 0; k < px.length; k += 4) out.push([px[k], px[k + 1], px[k + 2]]);
    return out;
  }, [i, j]);
  const grey = (p) => p[0] === p[1] && p[1] === p[2];
  for (let i = 0; i < M; ++i) {
    for (let j = 0; j < M; ++j) {
      const px = await cellPixels(mk.page, i, j);
      if (causal(i, j)) {
        assert.ok(px.every((p) => !grey(p)), `visible cell (${i}, ${j}) is in the scale's colours`);
      } else {
        assert.ok(px.every(grey), `masked cell (${i}, ${j}) is grey: ${JSON.stringify(px.filter((p) => !grey(p)).slice(0, 5))} of ${px.length}`);
        assert.ok(px.some((p) => p[0] === 244) && px.some((p) => p[0] < 180), `masked cell (${i}, ${j}) is hatched`);
      }
    }
  }
  const tipAt = async (pg, i, j) => {
    const g = await pg.$eval('#attn-map-canvas', (c) => {
      const r = c.getBoundingClientRect();
      return { left: r.left, top: r.top, x0: Number(c.dataset.x0), y0: Number(c.dataset.y0), cell: Number(c.dataset.cell) };
    });
    await pg.mouse.move(g.left + g.x0 + (j + 0.5) * g.cell, g.top + g.y0 + (i + 0.5) * g.cell);
    return pg.$eval('#attn-tooltip', (t) => ({ text: t.textContent, ...t.dataset }));
  };
  let mt = await tipAt(mk.page, 1, 3);
  assert.equal(mt.masked, 'true');
  assert.ok(mt.text.startsWith('\u20681\u2069 \u2192 \u20683\u2069: masked (5)'), `masked tooltip: ${mt.text}`);
  mt = await tipAt(mk.page, 3, 1);
  assert.equal(mt.masked, 'false');
  assert.ok(!mt.text.includes('masked'), `visible tooltip: ${mt.text}`);
  const bar = await mk.page.$eval('#attn-colorbar', (b) => b.textContent);
  assert.equal(bar, `0${Number(Math.max(...MW[0].flatMap((r, i) => r.filter((_, j) => causal(i, j)))).toPrecision(6))}masked`,
    `colour bar: the largest visible weight, and the legend: ${bar}`);
  await mk.page.screenshot({ path: join(work, 'viewer_masked_map.png') });
  // Text view, query 1: keys 2..4 hatched (class, tooltip), the legend counts them, and the
  // full colour goes to the largest visible weight.
  await mk.page.click('.attn-tab[data-view="text"]');
  await mk.page.selectOption('#attn-query', '1');
  const toks = await mk.page.$$eval('#attn-text .attn-tok', (s) => s.map((x) => ({ masked: x.classList.contains('attn-masked'), title: x.title, bg: x.style.background })));
  assert.deepEqual(toks.map((t) => t.masked), [false, false, true, true, true]);
  assert.ok(toks[2].title.endsWith(': masked (5)'), `masked key's tooltip: ${toks[2].title}`);
  assert.equal(toks[argmax(MW[0][1].slice(0, 2))].bg, 'rgb(230, 85, 13)', 'the largest visible weight has the full colour');
  const legend = await mk.page.$eval('#attn-text-legend', (e) => e.textContent);
  assert.ok(legend.includes('Hatched: 3 keys the mask hid from this query.'), `text legend: ${legend}`);
  await mk.page.screenshot({ path: join(work, 'viewer_masked_text.png') });
  expectClean(mk.problems, 'causal.html');

  // One mask per batch item: item 0 hides nothing (no legend), item 1 hides keys 3 and 4.
  const pd = await openOffline(browser, paddedPage, { width: 1000, height: 800 });
  await pd.page.waitForFunction(() => document.getElementById('attn-map-canvas').dataset.cell !== undefined);
  assert.equal((await tipAt(pd.page, 0, 4)).masked, 'false', 'item 0: key 4 is seen');
  assert.ok(!(await pd.page.$eval('#attn-colorbar', (b) => b.textContent)).includes('masked'), 'item 0: no masked legend');
  await pd.page.selectOption('#attn-item', '1');
  await pd.page.waitForFunction(() => document.getElementById('attn-root').dataset.item === '1');
  assert.equal((await tipAt(pd.page, 0, 4)).masked, 'true', 'item 1: key 4 is padding');
  assert.equal((await tipAt(pd.page, 4, 2)).masked, 'false', 'item 1: key 2 is seen');
  expectClean(pd.problems, 'padded.html');

  // A visible NaN cell is light grey (as the SVG heatmaps' NaN cells), its tooltip says NaN, and
  // the colour bar's legend names it after "masked"; a NaN the mask hides is hatched and named
  // by neither.
  const nn = await openOffline(browser, nanPage, { width: 1000, height: 800 });
  await nn.page.waitForFunction(() => document.getElementById('attn-map-canvas').dataset.cell !== undefined);
  const nanPx = await cellPixels(nn.page, 2, 1);
  assert.ok(nanPx.every((p) => p[0] === 217 && grey(p)), `NaN cell is #d9d9d9: ${JSON.stringify(nanPx.slice(0, 3))}`);
  assert.ok((await tipAt(nn.page, 2, 1)).text.includes('NaN'), 'NaN tooltip');
  const nanBar = await nn.page.$eval('#attn-colorbar', (b) => b.textContent);
  assert.ok(nanBar.endsWith('maskedNaN'), `colour bar legend with NaN: ${nanBar}`);
  const swatch = await nn.page.$eval('#attn-colorbar .attn-nan-swatch', (e) => getComputedStyle(e).backgroundColor);
  assert.equal(swatch, 'rgb(217, 217, 217)', 'the NaN swatch has the NaN cells\' grey');
  await nn.page.screenshot({ path: join(work, 'viewer_nan_map.png') });
  expectClean(nn.problems, 'nan.html');
  const nh = await openOffline(browser, nanHiddenPage, { width: 1000, height: 800 });
  await nh.page.waitForFunction(() => document.getElementById('attn-map-canvas').dataset.cell !== undefined);
  const hiddenBar = await nh.page.$eval('#attn-colorbar', (b) => b.textContent);
  assert.ok(hiddenBar.endsWith('masked'), `a masked NaN is not named: ${hiddenBar}`);
  expectClean(nh.problems, 'nan_hidden.html');

  // Every label the map view draws lies inside its canvas: each fillText's text, from its anchor
  // along its (rotated) direction by its measured width, transformed to canvas pixels.
  const recordExtents = () => {
    const fill = CanvasRenderingContext2D.prototype.fillText;
    window.labelExtents = [];
    CanvasRenderingContext2D.prototype.fillText = function (text, x, y, ...rest) {
      if (this.canvas.id === 'attn-map-canvas') {
        const w = this.measureText(String(text)).width;
        const from = this.textAlign === 'right' ? x - w : this.textAlign === 'center' ? x - w / 2 : x;
        const m = this.getTransform();
        const at = (px) => [m.a * px + m.c * y + m.e, m.b * px + m.d * y + m.f];
        window.labelExtents.push({ text: String(text), ends: [at(from), at(from + w)],
                                   size: [this.canvas.width, this.canvas.height] });
      }
      return fill.call(this, text, x, y, ...rest);
    };
  };
  for (const width of [1200, 700]) {
    const lg = await openOffline(browser, longPage, { width, height: 900, init: recordExtents });
    await lg.page.waitForFunction(() => document.getElementById('attn-map-canvas').dataset.cell !== undefined);
    const extents = await lg.page.evaluate(() => window.labelExtents);
    const drawn = extents.filter((e) => e.text.replace(/[\u2068\u2069]/g, '').length > 1);
    assert.ok(drawn.length >= 8, `window ${width}: the long labels are drawn (${drawn.length})`);
    for (const e of drawn) {
      for (const [px, py] of e.ends) {
        assert.ok(px >= 0 && px <= e.size[0] && py >= 0 && py <= e.size[1],
          `window ${width}: ${JSON.stringify(e.text)} reaches (${px.toFixed(1)}, ${py.toFixed(1)}), outside the ${e.size[0]}×${e.size[1]} canvas`);
      }
    }
    await lg.page.screenshot({ path: join(work, `viewer_long_labels_${width}.png`) });
    expectClean(lg.problems, 'long.html');
  }
});
