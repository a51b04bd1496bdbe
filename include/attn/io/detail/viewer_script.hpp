// SPDX-License-Identifier: MIT
// Part of attn/io/viewer.hpp (include that): the first half of the viewer's inline script:
// the data (decoded lazily from base64), the state, the selectors and the head view. The page
// exposes its state in DOM attributes (data-view, data-layer, data-selected on #attn-root;
// data-head, data-query, data-key, data-weight on each line) for readers and tests alike.
#pragma once

namespace attn::io::detail {

inline constexpr const char* viewer_script = R"JS((function () {
'use strict';
const D = JSON.parse(document.getElementById('attn-data').textContent);
const $ = (id) => document.getElementById(id);
const root = $('attn-root');
const NS = 'http://www.w3.org/2000/svg';
const S = { item: 0, att: 0, layer: 0, view: D.view, heads: [], sel: null, locked: false, pick: 0, query: 0 };
// The drawing surfaces (made here, so the markup stays HTML 4 and XML tools read the page).
const headSvg = document.createElementNS(NS, 'svg');
headSvg.id = 'attn-head-svg';
$('attn-head-box').appendChild(headSvg);
const mapCanvas = document.createElement('canvas');
mapCanvas.id = 'attn-map-canvas';
mapCanvas.width = 800;
mapCanvas.height = 640;
$('attn-map-box').prepend(mapCanvas);
const LUT = new Uint8Array(768);
for (let k = 0; k < 768; ++k) LUT[k] = parseInt(D.colormap.substr(2 * k, 2), 16);

function att() { return D.items[S.item].attentions[S.att]; }
function qLabel(a, i) { return a.q.length ? a.q[i] : String(i); }
function kLabel(a, j) { return a.k.length ? a.k[j] : String(j); }
// The characters of t as a reader sees them: extended grapheme clusters (Intl.Segmenter, as
// attn's utf8_characters and its SVG labels cut text: a flag, a joined emoji, a conjunct is
// one), or code points (never half a surrogate pair) in a browser without Intl.Segmenter.
const GRAPHEMES = typeof Intl === 'object' && Intl.Segmenter
  ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;
function chars(t) { return GRAPHEMES ? Array.from(GRAPHEMES.segment(t), (s) => s.segment) : Array.from(t); }
// At most n characters: a longer label keeps its start and its end (labels that differ only at
// the end, "..._token_12", stay apart), an ellipsis between.
function short(t, n) {
  const cs = chars(t);
  if (cs.length <= n) return t;
  const head = Math.ceil((n - 1) / 2);
  return cs.slice(0, head).join('') + '\u2026' + cs.slice(cs.length - (n - 1 - head)).join('');
}
// A label inside other text: a first-strong isolate, so its bidi controls stay inside it.
function iso(t) { return '\u2068' + t + '\u2069'; }
// A value as text. `res`: how far a stored value may be from the file's (half a quantisation
// step; 0 or absent: exact, float32): then '≈' and only the decimals the storage resolves.
function fmt(v, res) {
  if (v !== v) return 'NaN';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (!(res > 0)) return String(Number(v.toPrecision(6)));
  const decimals = Math.min(20, Math.max(0, Math.floor(-Math.log10(res))));
  return '\u2248' + v.toFixed(decimals);
}
// The largest code of a finite value: top + 1 is -inf, top + 2 +inf, top + 3 NaN.
const CODE_TOP = D.encoding === 'uint16' ? 65532 : 252;
// How far the values of map (layer, head) may be from the file's: half a step of its storage
// (the mean over heads: the largest of its heads'), 0 when stored as float32.
function resolution(layer, head) {
  if (D.encoding === 'float32') return 0;
  const L = att().layers[layer];
  let res = 0;
  for (const [h, m] of L.heads.entries()) if (head < 0 || h === head) res = Math.max(res, (m.hi - m.lo) / (2 * CODE_TOP));
  return res;
}
// One colour per head: the given ones, then hues spread by the golden angle (never a repeat).
function headColor(h) {
  if (h < D.headColors.length) return D.headColors[h];
  return 'hsl(' + ((h - D.headColors.length) * 137.508 + 20) % 360 + ', 70%, 42%)';
}
function heads() { return att().layers[0].heads.length; }

// A quantised code of map m as its value.
function decode(c, m) {
  if (c <= CODE_TOP) return m.lo + c * ((m.hi - m.lo) / CODE_TOP);
  return c === CODE_TOP + 1 ? -Infinity : c === CODE_TOP + 2 ? Infinity : NaN;
}
// The values of one map, row-major (query i, key j at i*tk + j), decoded once.
function values(m) {
  if (m.v) return m.v;
  const bin = atob(m.d);
  const n = bin.length;
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; ++i) bytes[i] = bin.charCodeAt(i);
  const dv = new DataView(bytes.buffer);
  let v;
  if (D.encoding === 'float32') {
    v = new Float32Array(n >> 2);
    for (let i = 0; i < v.length; ++i) v[i] = dv.getFloat32(4 * i, true);
  } else if (D.encoding === 'uint16') {
    v = new Float32Array(n >> 1);
    for (let i = 0; i < v.length; ++i) v[i] = decode(dv.getUint16(2 * i, true), m);
  } else {
    v = new Float32Array(n);
    for (let i = 0; i < n; ++i) v[i] = decode(bytes[i], m);
  }
  m.v = v;
  return v;
}
// Whether attention a's mask hid cell (i, j): its "mask" holds one bit per cell, row-major.
function masked(a, i, j) {
  if (!a.mask) return false;
  if (!a.maskBits) {
    const bin = atob(a.mask);
    a.maskBits = new Uint8Array(bin.length);
    for (let k = 0; k < bin.length; ++k) a.maskBits[k] = bin.charCodeAt(k);
  }
  const n = i * a.tk + j;
  return ((a.maskBits[n >> 3] >> (n & 7)) & 1) === 1;
}
// The mean over the heads of a layer (head -1 of the head selector).
function meanValues(L) {
  if (L.mean) return L.mean;
  const n = values(L.heads[0]).length;
  const out = new Float32Array(n);
  for (const m of L.heads) {
    const v = values(m);
    for (let i = 0; i < n; ++i) out[i] += v[i] / L.heads.length;
  }
  L.mean = out;
  return out;
}
function mapValues(layer, head) {
  const L = att().layers[layer];
  return head < 0 ? meanValues(L) : values(L.heads[head]);
}
// The largest finite value of an attention: the head view's full opacity.
function attentionMax(a) {
  if (a.top === undefined) {
    a.top = 0;
    for (const L of a.layers) for (const m of L.heads) a.top = Math.max(a.top, m.hi);
  }
  return a.top;
}

function fill(select, labels) {
  select.textContent = '';
  labels.forEach((t, i) => {
    const o = document.createElement('option');
    o.value = String(i);
    o.textContent = t;
    select.appendChild(o);
  });
}
function setupItem() {
  fill($('attn-item'), D.items.map((it) => it.name));
  $('attn-item').value = String(S.item);
  $('attn-item-box').hidden = D.items.length < 2;
}
function setupAttention() {
  const it = D.items[S.item];
  if (S.att >= it.attentions.length) S.att = 0;
  fill($('attn-attention'), it.attentions.map((a) => a.name));
  $('attn-attention').value = String(S.att);
  $('attn-attention-box').hidden = it.attentions.length < 2;
  const a = att();
  fill($('attn-layer'), a.layers.map((L) => L.name));
  if (S.layer >= a.layers.length) S.layer = 0;
  $('attn-layer').value = String(S.layer);
  const H = heads();
  if (S.heads.length !== H) S.heads = new Array(H).fill(true);
  if (S.pick >= H) S.pick = 0;
  const pick = [];
  for (let h = 0; h < H; ++h) pick.push('head ' + h);
  fill($('attn-head-pick'), pick);
  if (H > 1) {
    const o = document.createElement('option');
    o.value = '-1';
    o.textContent = 'mean of the heads';
    $('attn-head-pick').appendChild(o);
  }
  $('attn-head-pick').value = String(S.pick);
  if (S.query >= a.tq) S.query = 0;
  const qs = [];
  for (let i = 0; i < a.tq; ++i) qs.push(i + ': ' + iso(short(qLabel(a, i), 40)));
  fill($('attn-query'), qs);
  $('attn-query').value = String(S.query);
  S.sel = null;
  S.locked = false;
  buildToggles();
}
function buildToggles() {
  const box = $('attn-heads');
  box.textContent = '';
  const title = document.createElement('span');
  title.textContent = 'heads (double-click: only that one):';
  box.appendChild(title);
  for (let h = 0; h < heads(); ++h) {
    const label = document.createElement('label');
    label.className = 'attn-head-toggle';
    const box1 = document.createElement('input');
    box1.type = 'checkbox';
    box1.id = 'attn-head-' + h;
    box1.dataset.head = String(h);
    box1.checked = S.heads[h];
    box1.addEventListener('change', () => { S.heads[h] = box1.checked; render(); });
    label.addEventListener('dblclick', (e) => {
      e.preventDefault();
      S.heads = S.heads.map((_, k) => k === h);
      buildToggles();
      render();
    });
    const swatch = document.createElement('span');
    swatch.className = 'attn-swatch';
    swatch.style.background = headColor(h);
    label.append(box1, swatch, document.createTextNode('head ' + h));
    box.appendChild(label);
  }
}

// ---- head view: query tokens on the left, key tokens on the right ----
const ROW = 20, TOP = 34, COLW = 190, GAP = 230;
function svgEl(name, attrs) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}
function renderHead() {
  const a = att();
  const svg = $('attn-head-svg');
  svg.textContent = '';
  svg.setAttribute('width', String(2 * COLW + GAP));
  svg.setAttribute('height', String(TOP + Math.max(a.tq, a.tk) * ROW + 8));
  const h1 = svgEl('text', { x: COLW - 8, y: 16, 'text-anchor': 'end', class: 'attn-colhead' });
  h1.textContent = 'queries';
  const h2 = svgEl('text', { x: COLW + GAP + 8, y: 16, class: 'attn-colhead' });
  h2.textContent = 'keys';
  svg.append(h1, h2, svgEl('g', { id: 'attn-lines' }));
  const side = (n, label, cls, x, anchor) => {
    for (let i = 0; i < n; ++i) {
      const t = svgEl('text', { x: x, y: TOP + i * ROW + ROW / 2, 'text-anchor': anchor,
        'dominant-baseline': 'middle', class: cls, 'data-index': i });
      t.textContent = short(label(a, i), 22);
      const tip = svgEl('title', {});
      tip.textContent = label(a, i);
      t.appendChild(tip);
      const s = cls === 'attn-q' ? 'q' : 'k';
      // The keyboard does what the pointer does: Tab to a token selects it as hovering does,
      // Enter or Space keeps it as a click does (headKey).
      t.setAttribute('tabindex', '0');
      t.setAttribute('role', 'button');
      t.setAttribute('aria-label', (s === 'q' ? 'query ' : 'key ') + i + ': ' + label(a, i));
      const hover = () => { if (!S.locked) { S.sel = { side: s, index: i }; drawLines(); } };
      const leave = () => { if (!S.locked) { S.sel = null; drawLines(); } };
      t.addEventListener('mouseenter', hover);
      t.addEventListener('mouseleave', leave);
      t.addEventListener('focus', hover);
      t.addEventListener('blur', leave);
      t.addEventListener('click', () => keep(s, i));
      t.addEventListener('keydown', (e) => headKey(e, s, i));
      svg.appendChild(t);
    }
  };
  side(a.tq, qLabel, 'attn-q', COLW - 8, 'end');
  side(a.tk, kLabel, 'attn-k', COLW + GAP + 8, 'start');
  drawLines();
}
// A click on token (s, i): keep it selected when the pointer leaves; on the kept token, release it.
function keep(s, i) {
  const same = S.locked && S.sel && S.sel.side === s && S.sel.index === i;
  S.locked = !same;
  S.sel = same ? null : { side: s, index: i };
  drawLines();
}
// Keys on token (s, i): Enter or Space as a click; Escape releases a kept token; up and down
// (Home, End) move along the side, left and right to the other side.
function headKey(e, s, i) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;  // the browser's own (history, page zoom)
  const a = att();
  const size = (side) => (side === 'q' ? a.tq : a.tk);
  const n = size(s);
  let side = s, to = -1;
  if (e.key === 'Enter' || e.key === ' ') keep(s, i);
  else if (e.key === 'Escape') { S.locked = false; S.sel = { side: s, index: i }; drawLines(); }
  else if (e.key === 'ArrowDown') to = Math.min(n - 1, i + 1);
  else if (e.key === 'ArrowUp') to = Math.max(0, i - 1);
  else if (e.key === 'Home') to = 0;
  else if (e.key === 'End') to = n - 1;
  else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
    side = e.key === 'ArrowLeft' ? 'q' : 'k';
    if (size(side) > 0) to = Math.min(size(side) - 1, i);
  } else return;
  e.preventDefault();  // no scrolling, no click from Space
  if (to < 0) return;
  const t = $('attn-head-svg').querySelector('text.attn-' + side + '[data-index="' + to + '"]');
  if (t) t.focus();
}
// The lines of the shown heads: a selected token's lines, or every line of weight >= minLine.
function drawLines() {
  const a = att();
  const g = $('attn-lines');
  if (!g) return;
  g.textContent = '';
  const L = a.layers[S.layer];
  const scale = Math.max(1, attentionMax(a));
  const shown = [];
  S.heads.forEach((on, h) => { if (on) shown.push(h); });
  const frag = document.createDocumentFragment();
  // `top`: the weight drawn fully opaque.
  const add = (h, i, j, w, top) => {
    if (!(w > 0) || masked(a, i, j)) return;  // a masked pair is not attention, whatever its value
    frag.appendChild(svgEl('line', { x1: COLW - 4, y1: TOP + i * ROW + ROW / 2, x2: COLW + GAP + 4,
      y2: TOP + j * ROW + ROW / 2, stroke: headColor(h), 'stroke-width': 2,
      'stroke-opacity': Math.min(1, w / top), class: 'attn-line', 'data-head': h, 'data-query': i,
      'data-key': j, 'data-weight': String(w) }));
  };
  const sel = S.sel;
  let note;
  if (sel) {
    // A selected token's lines: opacity relative to the largest of them, so that a query
    // spread over many keys still shows which it prefers.
    const pairs = [];
    for (const h of shown) {
      const v = values(L.heads[h]);
      if (sel.side === 'q') for (let j = 0; j < a.tk; ++j) pairs.push([h, sel.index, j, v[sel.index * a.tk + j]]);
      else for (let i = 0; i < a.tq; ++i) pairs.push([h, i, sel.index, v[i * a.tk + sel.index]]);
    }
    let top = 0;
    for (const p of pairs) if (p[3] > top) top = p[3];
    for (const p of pairs) add(p[0], p[1], p[2], p[3], top);
    const label = sel.side === 'q' ? qLabel(a, sel.index) : kLabel(a, sel.index);
    note = (sel.side === 'q' ? 'What query \u201c' : 'What attends to key \u201c') + iso(short(label, 40)) +
      (sel.side === 'q' ? '\u201d attends to' : '\u201d') +
      (top > 0 ? ' (darkest line: ' + fmt(top, resolution(S.layer, shown.length === 1 ? shown[0] : -1)) + ')' : '') +
      (S.locked ? '; click it again to release.' : '.');
  } else {
    const min = D.minLine * scale;
    let total = 0;
    for (const h of shown) for (const w of values(L.heads[h])) if (w >= min && w > 0) ++total;
    if (total > D.maxLines) {
      note = total + ' lines are too many to draw: hover or click a token to see its lines.';
    } else {
      for (const h of shown) {
        const v = values(L.heads[h]);
        for (let i = 0; i < a.tq; ++i) for (let j = 0; j < a.tk; ++j) {
          const w = v[i * a.tk + j];
          if (w >= min) add(h, i, j, w, scale);
        }
      }
      note = total === 0 && shown.length > 0 ?
        'No weight reaches ' + fmt(min) + ' (the lightest line drawn without a selection): hover or click a ' +
          'token to see its lines.' :
        'Line opacity is the weight. Hover a token (or Tab to it) to see only its lines; click (Enter) to keep them.';
    }
  }
  g.appendChild(frag);
  for (const t of $('attn-head-svg').querySelectorAll('text[data-index]')) {
    const s = t.classList.contains('attn-q') ? 'q' : 'k';
    t.classList.toggle('attn-selected', !!sel && sel.side === s && sel.index === Number(t.dataset.index));
  }
  root.dataset.selected = sel ? sel.side + sel.index : '';
  $('attn-head-note').textContent = note;
  $('attn-head-note').title = note;
}
)JS";

}  // namespace attn::io::detail
