// SPDX-License-Identifier: MIT
// browser.rtl: right-to-left labels and text, measured as Chromium lays them out. A Hebrew or
// Arabic label cut to its first letters must show its '…' at its left end, where a reader of
// right-to-left text stops (it showed at the right, where the reader starts), and a highlighted
// Hebrew sentence must read right to left, its first token rightmost and the query label at the
// right (its words came out left to right, in reverse reading order); a Hebrew phrase inside an
// English line reads right to left; Arabic highlighted letter by letter stays joined (each token
// was isolated, which drew the letters apart); the viewer's text view reads like highlighted
// text, its arrow pointing at the keys; the labels the viewer's map view and the training
// animation draw on canvases, and the animation's tooltip, lay out as the SVG pictures' (the
// canvas drew them left to right: the '!' of a Hebrew "word!" at its right). Latin text keeps
// its layout. A highlighted line that wraps goes on under its first token (a hanging indent).
// Usage: node rtl.test.mjs WORK_DIR ATTN_PLOT
import { mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { run, openOffline, expectClean, assert, writeNpy } from './offline.mjs';

const work = process.argv[2] || '/tmp/attn_rtl_test';
const plot = process.argv[3];
assert.ok(plot, 'usage: node rtl.test.mjs WORK_DIR ATTN_PLOT');
mkdirSync(work, { recursive: true });

const longHebrew = 'בראשית'.repeat(6);  // 36 letters: cut to 23 and '…' (24 columns)
const longLatin = 'abcdef'.repeat(6);
const hebrew = ['הילד', 'אכל', 'תפוח', 'אדום'];  // "the boy ate a red apple"
const latin = ['the', 'boy', 'ate', 'apples'];
writeNpy(join(work, 'map.npy'), [2, 4], [0.1, 0.6, 0.2, 0.1, 0.4, 0.3, 0.2, 0.1]);
const lines = (name, tokens) => {
  writeFileSync(join(work, name), tokens.join('\n') + '\n');
  return join(work, name);
};
const rowsFile = lines('rows.txt', [longHebrew, longLatin]);
const hebrewFile = lines('hebrew.txt', hebrew);
const latinFile = lines('latin.txt', latin);
const queriesFile = lines('queries.txt', ['שאלה', 'query']);
const draw = (args, out) => {
  execFileSync(plot, [join(work, 'map.npy'), ...args, '-o', join(work, out)], { stdio: 'ignore' });
  return join(work, out);
};

await run('rtl', async (browser) => {
  // SVG heatmap: row labels of 36 letters, cut to 24 columns.
  {
    const file = draw(['--rows', rowsFile, '--cols', hebrewFile], 'heatmap.svg');
    const { page, problems } = await openOffline(browser, file);
    const labels = await page.evaluate(() => Array.from(document.querySelectorAll('text'))
      .filter((t) => t.querySelector('title')).map((t) => t.firstChild.textContent));
    assert.equal(labels.length, 2, `two cut labels (${JSON.stringify(labels)})`);
    // The box of each character (UTF-16 unit) of each cut label, from ranges over its text.
    const cut = await page.evaluate(() => Array.from(document.querySelectorAll('text'))
      .filter((t) => t.querySelector('title')).map((t) => {
        const node = t.firstChild;
        const range = document.createRange();
        const boxes = [];
        for (let k = 0; k < node.data.length; ++k) {
          range.setStart(node, k);
          range.setEnd(node, k + 1);
          const r = range.getBoundingClientRect();
          boxes.push({ ch: node.data[k], left: r.left, right: r.right, width: r.width });
        }
        return boxes;
      }));
    for (const selector of [0, 1]) {
      const edges = cut[selector];
      const visible = edges.filter((e) => e.width > 0);
      const ellipsis = visible.find((e) => e.ch === '\u2026');
      assert.ok(ellipsis, `label ${selector}: '…' drawn`);
      const letters = visible.filter((e) => e.ch !== '\u2026');
      const leftmost = Math.min(...letters.map((e) => e.left));
      const rightmost = Math.max(...letters.map((e) => e.right));
      if (selector === 0) {  // Hebrew: the ellipsis left of every letter
        assert.ok(ellipsis.right <= leftmost + 0.5, `Hebrew label: '…' (${ellipsis.left}..${ellipsis.right}) ` +
          `is left of its letters (${leftmost}..${rightmost})`);
      } else {  // Latin: right of every letter, as before
        assert.ok(ellipsis.left >= rightmost - 0.5, `Latin label: '…' (${ellipsis.left}..${ellipsis.right}) ` +
          `is right of its letters (${leftmost}..${rightmost})`);
      }
    }
    await page.screenshot({ path: join(work, 'heatmap.png') });
    expectClean(problems, 'heatmap.svg');
  }
  // HTML highlight: Hebrew tokens read right to left; Latin tokens left to right; the query
  // label at the start of the line, whatever its own script.
  for (const [name, tokens] of [['hebrew', hebrewFile], ['latin', latinFile]]) {
    const file = draw(['--rows', queriesFile, '--cols', tokens], `${name}.html`);
    const { page, problems } = await openOffline(browser, file);
    const got = await page.evaluate(() => Array.from(document.querySelectorAll('.attn-line')).map((line) => ({
      label: line.querySelector('.attn-query').getBoundingClientRect().toJSON(),
      tokens: Array.from(line.querySelectorAll('.attn-token')).map((t) => t.getBoundingClientRect().toJSON()),
    })));
    assert.equal(got.length, 2, `${name}: two lines`);
    for (const [k, line] of got.entries()) {
      assert.equal(line.tokens.length, 4, `${name} line ${k}: four tokens`);
      for (let j = 1; j < 4; ++j) {
        const [a, b] = [line.tokens[j - 1], line.tokens[j]];
        if (name === 'hebrew') {
          assert.ok(b.right <= a.left + 0.5, `${name} line ${k}: token ${j} (${b.left}..${b.right}) left of token ${j - 1} (${a.left}..${a.right})`);
        } else {
          assert.ok(b.left >= a.right - 0.5, `${name} line ${k}: token ${j} (${b.left}..${b.right}) right of token ${j - 1} (${a.left}..${a.right})`);
        }
      }
      const first = line.tokens[0];
      if (name === 'hebrew') {
        assert.ok(line.label.left >= first.right, `${name} line ${k}: the label (${line.label.left}) right of the first token (${first.right})`);
      } else {
        assert.ok(line.label.right <= first.left, `${name} line ${k}: the label (${line.label.right}) left of the first token (${first.left})`);
      }
    }
    await page.screenshot({ path: join(work, `${name}.png`) });
    expectClean(problems, `${name}.html`);
  }
  // A line too long for the window wraps under its first token, not under the query label (a
  // hanging indent), in either direction: the tokens of one query read as one block.
  for (const [name, word] of [['latin', 'token'], ['hebrew', 'מילה']]) {
    writeNpy(join(work, 'long.npy'), [2, 40], new Array(80).fill(1 / 40));
    const file = join(work, `wrap_${name}.html`);
    execFileSync(plot, [join(work, 'long.npy'), '--rows', queriesFile,
      '--cols', lines(`wrap_${name}.txt`, Array.from({ length: 40 }, (_, j) => `${word}${j}`)), '-o', file], { stdio: 'ignore' });
    const { page, problems } = await openOffline(browser, file, { width: 600, height: 700 });
    const got = await page.evaluate(() => Array.from(document.querySelectorAll('.attn-line')).map((line) => ({
      label: line.querySelector('.attn-query').getBoundingClientRect().toJSON(),
      tokens: Array.from(line.querySelectorAll('.attn-token')).map((t) => t.getBoundingClientRect().toJSON()),
    })));
    assert.equal(got.length, 2, `wrap ${name}: two lines`);
    for (const [k, line] of got.entries()) {
      const first = line.tokens[0];
      const wrapped = line.tokens.filter((t) => t.top > first.bottom);
      assert.ok(wrapped.length > 0, `wrap ${name} line ${k}: the 40 tokens wrap in a 600 px window`);
      if (name === 'hebrew') {
        const start = Math.max(...wrapped.map((t) => t.right));
        assert.ok(Math.abs(start - first.right) <= 1 && start < line.label.left,
                  `wrap ${name} line ${k}: wrapped lines start at ${start}, under the first token (right edge ${first.right}), not under the label (${line.label.left}..${line.label.right})`);
      } else {
        const start = Math.min(...wrapped.map((t) => t.left));
        assert.ok(Math.abs(start - first.left) <= 1 && start > line.label.right,
                  `wrap ${name} line ${k}: wrapped lines start at ${start}, under the first token (${first.left}), not under the label (${line.label.left}..${line.label.right})`);
      }
    }
    await page.screenshot({ path: join(work, `wrap_${name}.png`) });
    expectClean(problems, `wrap_${name}.html`);
  }
  // A Hebrew phrase inside an English line reads right to left: its first word right of its
  // second, the phrase between the English words around it.
  {
    writeNpy(join(work, 'mixed.npy'), [1, 5], [0.1, 0.2, 0.3, 0.2, 0.2]);
    const file = join(work, 'mixed.html');
    execFileSync(plot, [join(work, 'mixed.npy'), '--cols', lines('mixed.txt', ['I', 'said', 'שלום', 'עולם', 'today']),
      '-o', file], { stdio: 'ignore' });
    const { page, problems } = await openOffline(browser, file);
    const t = await page.evaluate(() => Array.from(document.querySelectorAll('.attn-token'))
      .map((e) => e.getBoundingClientRect().toJSON()));
    assert.ok(t[0].right <= t[1].left + 0.5 && t[1].right <= t[3].left + 0.5 && t[3].right <= t[2].left + 0.5 &&
      t[2].right <= t[4].left + 0.5, `mixed: I, said, then עולם left of שלום, then today (${JSON.stringify(t.map((r) => r.left))})`);
    expectClean(problems, 'mixed.html');
  }
  // Item titles (a recommender's history) with --isolate-tokens: each title whole, in the line's
  // order, its printed weight at its right end. Without it, "2 הסנדק" and "3 Fauda פאודה
  // (2015)" ran together right to left and a weight landed inside a title.
  {
    writeNpy(join(work, 'items.npy'), [1, 5], [0.1, 0.3, 0.15, 0.35, 0.1]);
    const items = lines('items.txt', ['1 Inception', '2 הסנדק', '3 Fauda פאודה (2015)', '4 الرسالة', '5 Up']);
    const boxes = async (extra) => {
      const file = join(work, `items${extra.length}.html`);
      execFileSync(plot, [join(work, 'items.npy'), '--cols', items, '--values', ...extra, '-o', file], { stdio: 'ignore' });
      const { page, problems } = await openOffline(browser, file);
      const got = await page.evaluate(() => Array.from(document.querySelectorAll('.attn-token')).map((e) => {
        const text = document.createRange();
        text.selectNodeContents(e.querySelector('span') || e.firstChild);
        return { token: e.getBoundingClientRect().toJSON(), text: text.getBoundingClientRect().toJSON(),
                 weight: e.querySelector('.attn-weight').getBoundingClientRect().toJSON(),
                 rects: e.getClientRects().length };
      }));
      expectClean(problems, file);
      return got;
    };
    const isolated = await boxes(['--isolate-tokens']);
    for (let k = 0; k < isolated.length; ++k) {
      const b = isolated[k];
      assert.equal(b.rects, 1, `isolated item ${k + 1}: one box`);
      if (k > 0) assert.ok(isolated[k - 1].token.right <= b.token.left + 0.5, `isolated item ${k + 1} right of item ${k}`);
      assert.ok(b.weight.left >= b.text.right - 0.5 && b.weight.right <= b.token.right + 0.5,
                `isolated item ${k + 1}: its weight after its title (${JSON.stringify(b)})`);
    }
    const plain = await boxes([]);
    assert.ok(plain.some((b, k) => b.rects > 1 || (k > 0 && plain[k - 1].token.right > b.token.left + 0.5)),
              'without --isolate-tokens the titles run together (what the option is for)');
  }
  // Arabic highlighted character by character: the letters stay joined. Each character's glyph
  // width (a range over its text, padding left out) must add up to the width of the same text
  // drawn whole in the same font; unjoined letters take their wider isolated forms.
  {
    const text = 'الكتاب جميل';
    writeFileSync(join(work, 'arabic.txt'), text);
    const n = Array.from(text).length;
    writeNpy(join(work, 'arabic.npy'), [1, n], Array.from({ length: n }, (_, k) => (k + 1) / (n * (n + 1) / 2)));
    const file = join(work, 'arabic.html');
    execFileSync(plot, [join(work, 'arabic.npy'), '--chars', join(work, 'arabic.txt'), '-o', file], { stdio: 'ignore' });
    const { page, problems } = await openOffline(browser, file);
    await page.screenshot({ path: join(work, 'arabic.png') });
    const got = await page.evaluate(() => {
      const spans = Array.from(document.querySelectorAll('.attn-token'));
      const range = document.createRange();
      let sum = 0;
      for (const s of spans) {
        range.selectNodeContents(s);
        sum += range.getBoundingClientRect().width;
      }
      const whole = document.createElement('span');
      whole.textContent = spans.map((s) => s.textContent).join('');
      spans[0].parentElement.append(whole);
      const width = whole.getBoundingClientRect().width;
      return { count: spans.length, sum, width };
    });
    assert.equal(got.count, n, 'arabic: one span per character');
    assert.ok(Math.abs(got.sum - got.width) < 1.5, `arabic: the characters' widths add up to ${got.sum} px, ` +
      `the whole text's is ${got.width} px: the letters were not joined`);
    expectClean(problems, 'arabic.html');
  }
  // The viewer's text view (attn-plot --view): Hebrew keys run right to left from the query
  // label, its arrow pointing left at them; Latin keys left to right, the arrow pointing right.
  for (const [name, tokens] of [['hebrew', hebrewFile], ['latin', latinFile]]) {
    const file = join(work, `view_${name}.html`);
    execFileSync(plot, ['--view', join(work, 'map.npy'), '--rows', queriesFile, '--cols', tokens, '-o', file],
      { stdio: 'ignore' });
    const { page, problems } = await openOffline(browser, file);
    await page.click('.attn-tab[data-view="text"]');
    const got = await page.evaluate(() => ({
      label: document.querySelector('#attn-text .attn-query').getBoundingClientRect().toJSON(),
      arrow: document.querySelector('#attn-text .attn-query').textContent.slice(-1),
      tokens: Array.from(document.querySelectorAll('#attn-text .attn-tok')).map((t) => t.getBoundingClientRect().toJSON()),
    }));
    assert.equal(got.tokens.length, 4, `view ${name}: four keys`);
    for (let j = 1; j < 4; ++j) {
      const [a, b] = [got.tokens[j - 1], got.tokens[j]];
      assert.ok(name === 'hebrew' ? b.right <= a.left + 0.5 : b.left >= a.right - 0.5,
        `view ${name}: key ${j} (${b.left}..${b.right}) after key ${j - 1} (${a.left}..${a.right}) in reading order`);
    }
    if (name === 'hebrew') {
      assert.ok(got.label.left >= got.tokens[0].right, `view hebrew: the query label right of the first key`);
      assert.equal(got.arrow, '\u2190', 'view hebrew: the arrow points left, at the keys');
    } else {
      assert.ok(got.label.right <= got.tokens[0].left, `view latin: the query label left of the first key`);
      assert.equal(got.arrow, '\u2192', 'view latin: the arrow points right, at the keys');
    }
    await page.screenshot({ path: join(work, `view_${name}.png`) });
    expectClean(problems, `view_${name}.html`);
  }

  // Canvas labels: the viewer's map view and the training animation draw their labels on a
  // canvas, whose text runs left to right. Every label drawn must look as the label laid out in
  // its own direction does: the text as drawn, on a scratch canvas in the page's direction, gives
  // the same pixels as the label alone on a right-to-left canvas (a Hebrew label) or a
  // left-to-right one (Latin). The Hebrew labels with a number or a '!' look different drawn
  // plain, left to right: that is what the check catches. The animation's tooltip keeps the
  // value after a Hebrew key (it went left of it).
  {
    const keys = ['2024 שנה', 'תפוח!', 'apple!', '(אדום)'];
    const keysFile = lines('canvas_keys.txt', keys);
    const record = () => {
      const fill = CanvasRenderingContext2D.prototype.fillText;
      window.drawnLabels = [];
      CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
        window.drawnLabels.push({ text: String(text), font: this.font });
        return fill.call(this, text, ...rest);
      };
    };
    const hebrewLetter = /[\u0590-\u05FF]/;
    const check = async (page, what, labels) => {
      const got = await page.evaluate((wanted) => {
        const drawn = window.drawnLabels.slice();
        const pixels = (text, font, direction) => {
          const c = document.createElement('canvas');
          c.width = 300; c.height = 40;
          const ctx = c.getContext('2d');
          ctx.font = font; ctx.direction = direction; ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
          ctx.fillText(text, 290, 20);
          return Array.from(ctx.getImageData(0, 0, 300, 40).data).join(',');
        };
        return wanted.map(([label, rtl]) => {
          const d = drawn.find((e) => e.text.replace(/[\u2068\u2069]/g, '') === label);
          if (!d) return { label, found: false };
          const own = pixels(label, d.font, rtl ? 'rtl' : 'ltr');
          return { label, found: true, text: d.text, same: pixels(d.text, d.font, 'ltr') === own,
                   plainSame: pixels(label, d.font, 'ltr') === own };
        });
      }, labels.map((t) => [t, hebrewLetter.test(t)]));
      for (const g of got) {
        assert.ok(g.found, `${what}: the label ${g.label} is drawn`);
        assert.ok(g.same, `${what}: ${JSON.stringify(g.text)} must look like ${g.label} in its own direction`);
      }
      for (const label of ['2024 שנה', 'תפוח!']) {
        assert.equal(got.find((g) => g.label === label).plainSame, false,
          `${what}: ${label} drawn plain, left to right, looks different (else this check checks nothing)`);
      }
    };
    const view = join(work, 'view_canvas.html');
    execFileSync(plot, ['--view', join(work, 'map.npy'), '--rows', queriesFile, '--cols', keysFile,
      '--view-start', 'map', '-o', view], { stdio: 'ignore' });
    {
      const { page, problems } = await openOffline(browser, view, { init: record });
      await check(page, 'viewer map view', [...keys, 'שאלה', 'query']);
      await page.screenshot({ path: join(work, 'view_canvas.png') });
      expectClean(problems, 'view_canvas.html');
    }
    writeNpy(join(work, 'epoch_1.npy'), [2, 4], [0.1, 0.6, 0.2, 0.1, 0.4, 0.3, 0.2, 0.1]);
    writeNpy(join(work, 'epoch_2.npy'), [2, 4], [0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.7]);
    const anim = join(work, 'animation_canvas.html');
    execFileSync(plot, ['--animate', join(work, 'epoch_1.npy'), join(work, 'epoch_2.npy'), '--rows', queriesFile,
      '--cols', keysFile, '-o', anim], { stdio: 'ignore' });
    {
      const { page, problems } = await openOffline(browser, anim, { init: record });
      await check(page, 'training animation', [...keys, 'שאלה', 'query']);
      // Row 'query', key '2024 שנה' (row 1, column 0): the value reads after the key.
      const box = await page.locator('#attn-map-0').boundingBox();
      const at = await page.evaluate(() => window.attnAnimation.cellCenter(0, 1, 0, false));
      await page.mouse.move(box.x + at.x, box.y + at.y);
      const tip = await page.evaluate(() => {
        const node = document.getElementById('attn-tip').firstChild;
        const range = document.createRange();
        const boxOf = (k) => { range.setStart(node, k); range.setEnd(node, k + 1); return range.getBoundingClientRect().toJSON(); };
        const text = node.data;
        const letter = text.indexOf('\u05E9'), digit = text.length - 1;  // the value's last digit
        return { text, letter: boxOf(letter), digit: boxOf(digit), digitChar: text[digit] };
      });
      assert.match(tip.digitChar, /[0-9]/, `animation tooltip: ${JSON.stringify(tip.text)} ends with a value`);
      assert.ok(tip.digit.left >= tip.letter.right,
        `animation tooltip ${JSON.stringify(tip.text)}: the value (${tip.digit.left}) right of the Hebrew key (${tip.letter.right})`);
      await page.screenshot({ path: join(work, 'animation_canvas.png') });
      expectClean(problems, 'animation_canvas.html');
    }
  }
});
