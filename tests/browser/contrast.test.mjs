// SPDX-License-Identifier: MIT
// browser.contrast: text drawn on a shade of the scale is readable, as Chromium renders it. In
// highlighted text with the weights printed (--values), every token and its printed weight must
// have a contrast of at least 4.5:1 with its token's shade (WCAG 2's level AA for text; the
// formula is WCAG's relative luminance, not attn's code), for weights across the whole scale
// and for both the default colour and a dark one. A paper author measured 2.6:1 for the grey
// printed weights on the strongest orange.
// Usage: node contrast.test.mjs WORK_DIR ATTN_PLOT
import { mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { run, openOffline, expectClean, assert, writeNpy } from './offline.mjs';

const work = process.argv[2] || '/tmp/attn_contrast_test';
const plot = process.argv[3];
assert.ok(plot, 'usage: node contrast.test.mjs WORK_DIR ATTN_PLOT');
mkdirSync(work, { recursive: true });

// WCAG 2.x: relative luminance of an sRGB colour and the contrast ratio of two.
const channel = (c) => { const s = c / 255; return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
const contrast = (a, b) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};
const rgb = (css) => {
  const m = css.match(/rgba?\((\d+), (\d+), (\d+)/);
  assert.ok(m, `a colour: ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
};

// 21 weights from 0 to 1 in one row: every shade from white to the full colour.
writeNpy(join(work, 'ramp.npy'), [1, 21], Array.from({ length: 21 }, (_, j) => j / 20));
writeFileSync(join(work, 'tokens.txt'), Array.from({ length: 21 }, (_, j) => `w${j}`).join('\n') + '\n');

await run('contrast', async (browser) => {
  for (const color of [null, '#08306b']) {
    const file = join(work, `ramp_${color ? 'dark' : 'default'}.html`);
    execFileSync(plot, [join(work, 'ramp.npy'), '--cols', join(work, 'tokens.txt'), '--values',
      ...(color ? ['--color', color] : []), '-o', file], { stdio: 'ignore' });
    const { page, problems } = await openOffline(browser, file);
    const got = await page.evaluate(() => Array.from(document.querySelectorAll('.attn-token')).map((t) => {
      const sub = t.querySelector('.attn-weight');
      return { text: t.firstChild.textContent, background: getComputedStyle(t).backgroundColor,
               ink: getComputedStyle(t).color, weight: sub ? getComputedStyle(sub).color : null };
    }));
    assert.equal(got.length, 21, `${file}: 21 tokens`);
    for (const t of got) {
      assert.ok(t.weight !== null, `${file}: '${t.text}' has its weight printed`);
      const shade = rgb(t.background);
      for (const [what, ink] of [['token', t.ink], ['printed weight', t.weight]]) {
        const ratio = contrast(rgb(ink), shade);
        assert.ok(ratio >= 4.5, `${file}: the ${what} of '${t.text}' (${ink} on ${t.background}) has contrast ` +
                                `${ratio.toFixed(2)}:1, below 4.5:1`);
      }
    }
    await page.screenshot({ path: file.replace(/\.html$/, '.png') });
    expectClean(problems, file);
  }
});
