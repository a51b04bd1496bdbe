// SPDX-License-Identifier: MIT
// Part of attn/io/viewer.hpp (include that): the second half of the viewer's inline script:
// heatmap images, the model view (layers × heads thumbnails), the map view (a canvas with
// zoom, pan and tooltips; cells smaller than a pixel are drawn from their block maxima), the
// text view, and the start-up code.
#pragma once

namespace attn::io::detail {

inline constexpr const char* viewer_script_maps = R"JS(
// ---- heatmap images: offscreen canvases of a map, at most 4096 pixels a side ----
// `want`: cells per pixel along each axis the drawing can show (a map view zoomed out, a
// thumbnail): each pixel is then the maximum of a block of cells, so that one strong weight
// among many cells still shows (nearest-neighbour scaling would skip most cells). One canvas
// per block size, made when first drawn. Cells the attention's mask hid are drawn in a
// neutral grey (hatched in the map view when cells are large enough) and do not set the scale;
// a block is grey only when its every cell is masked.
const images = new Map();
const MASKED_FILL = 244, MASKED_STROKE = '#8c8c8c';  // as the SVG heatmaps'
let hatchTile = null;
// The hatching of masked cells: diagonal lines 6 px apart on the masked grey, tiling seamlessly.
function hatch(ctx) {
  if (!hatchTile) {
    hatchTile = document.createElement('canvas');
    hatchTile.width = hatchTile.height = 6;
    const t = hatchTile.getContext('2d');
    t.fillStyle = 'rgb(244,244,244)';
    t.fillRect(0, 0, 6, 6);
    t.strokeStyle = MASKED_STROKE;
    t.lineWidth = 1.5;
    t.beginPath();
    for (const o of [-6, 0, 6]) { t.moveTo(o, 6); t.lineTo(o + 6, 0); }
    t.stroke();
  }
  return ctx.createPattern(hatchTile, 'repeat');
}
function mapImage(layer, head, want) {
  const a = att();
  const step = Math.max(1, Math.ceil(Math.max(a.tq, a.tk) / 4096), Math.ceil((want || 1) - 1e-9));
  const key = S.item + '/' + S.att + '/' + layer + '/' + head + '/' + step;
  if (images.has(key)) return images.get(key);
  const v = mapValues(layer, head);
  if (!v.scale) {  // the colour scale of the map, the same for each of its block sizes: once
    let lo = Infinity, hi = -Infinity;
    v.nan = false;  // a visible NaN: grey cells, which the colour bar's legend names
    for (let n = 0; n < v.length; ++n) {
      const x = v[n];
      if (a.mask && masked(a, Math.floor(n / a.tk), n % a.tk)) continue;
      if (x !== x) v.nan = true;
      else if (Math.abs(x) !== Infinity) {
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
    }
    const low = Math.min(0, lo === Infinity ? 0 : lo);
    const high = hi === -Infinity ? 0 : hi;
    v.scale = [low, high > low ? high : low + 1];
  }
  const [vmin, vmax] = v.scale;
  const w = Math.max(1, Math.ceil(a.tk / step)), h = Math.max(1, Math.ceil(a.tq / step));
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  const px = img.data;
  for (let y = 0; y < h; ++y) {
    for (let x = 0; x < w; ++x) {
      let val = NaN, hidden = !!a.mask;
      for (let i = y * step; i < Math.min(a.tq, (y + 1) * step); ++i)
        for (let j = x * step; j < Math.min(a.tk, (x + 1) * step); ++j) {
          if (a.mask && masked(a, i, j)) continue;
          hidden = false;
          const c = v[i * a.tk + j];
          if (!(val >= c)) val = c;
        }
      const o = 4 * (y * w + x);
      if (hidden) {
        px[o] = px[o + 1] = px[o + 2] = MASKED_FILL;
      } else if (val !== val) {
        px[o] = px[o + 1] = px[o + 2] = 217;
      } else {
        const t = Math.min(1, Math.max(0, (val - vmin) / (vmax - vmin)));
        const c = 3 * Math.round(t * 255);
        px[o] = LUT[c]; px[o + 1] = LUT[c + 1]; px[o + 2] = LUT[c + 2];
      }
      px[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  const out = { canvas: canvas, values: v, vmin: vmin, vmax: vmax, step: step };
  images.set(key, out);
  return out;
}

// ---- model view: a grid of layers × heads; a click opens the map ----
function renderModel() {
  const a = att();
  const grid = $('attn-model-grid');
  grid.textContent = '';
  const H = heads();
  const size = Math.max(40, Math.min(110, Math.floor(900 / H)));
  grid.style.gridTemplateColumns = 'auto repeat(' + H + ', ' + size + 'px)';
  const label = (text) => {
    const d = document.createElement('div');
    d.className = 'attn-label';
    d.textContent = text;
    grid.appendChild(d);
  };
  label('');
  for (let h = 0; h < H; ++h) label('head ' + h);
  a.layers.forEach((L, l) => {
    label(L.name);
    for (let h = 0; h < H; ++h) {
      const c = document.createElement('canvas');
      c.width = size;
      c.height = size;
      c.dataset.layer = String(l);
      c.dataset.head = String(h);
      c.title = L.name + ', head ' + h + ': click to open';
      const ctx = c.getContext('2d');
      const im = mapImage(l, h, Math.max(a.tq, a.tk) / size);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(im.canvas, 0, 0, size * im.canvas.width * im.step / Math.max(1, a.tk),
        size * im.canvas.height * im.step / Math.max(1, a.tq));
      const open = () => {
        S.layer = l;
        S.pick = h;
        $('attn-layer').value = String(l);
        $('attn-head-pick').value = String(h);
        resetZoom();
        show('map');
      };
      c.tabIndex = 0;  // Tab reaches each map, Enter or Space opens it
      c.setAttribute('role', 'button');
      c.setAttribute('aria-label', c.title);
      c.addEventListener('click', open);
      c.addEventListener('keydown', (e) => {
        if (e.ctrlKey || e.metaKey || e.altKey || (e.key !== 'Enter' && e.key !== ' ')) return;
        e.preventDefault();
        open();
        $('attn-map-canvas').focus();  // the thumbnail is hidden now: the keyboard goes on in the map
      });
      grid.appendChild(c);
    }
  });
}

// ---- map view: the map on a canvas; wheel zooms at the pointer, drag pans ----
const MV = { zoom: 1, px: 0, py: 0, drag: null, ml: 120, mt: 96, pending: false, maxH: 600, top: null, cur: null, keys: false };
// cur: the keyboard's cell ({i, j}, or null: a query's first key); keys: drawn and followed while
// the map has the focus from the keyboard (Tab or a key), not from a click.
// The map area follows the window, fitted at each drawing: the canvas as wide as the page
// allows (360 to 1800 pixels), the map at most as tall as the window less what is above the
// canvas, the key labels and the colour bar below it (200 to 1400 pixels), so that the page
// scrolled to its top shows the whole map and its colour bar; the canvas is as tall as the map needs.
function fitCanvas() {
  const c = $('attn-map-canvas');
  const w = Math.max(360, Math.min(1800, document.documentElement.clientWidth - 60));
  if (c.width !== w) c.width = w;
  fitMargins(att(), c);
  // Where the canvas starts on the page: measured once per window size and view, so that a
  // zoom whose text wraps the line above differently does not resize the cells under the pointer.
  if (MV.top === null) MV.top = c.getBoundingClientRect().top + window.scrollY;
  MV.maxH = Math.max(200, Math.min(1400, window.innerHeight - MV.top - MV.mt - 8 - 48));
}
// The map's margins: as wide as the widest query label and as tall as the longest key label
// drawn beside the cells (cut to 16 and 14 characters, measured in the larger of the two fonts,
// once per attention), at least 120 and 96 pixels (the index ticks and the axes' names), at most
// 45 % of the canvas and 300 pixels (fixed margins of 120 and 96 cut the start of labels such
// as "incomprehensibly" off the canvas). Without labels, the widest index is the last.
function fitMargins(a, c) {
  if (!a.labelWidths) {
    const ctx = c.getContext('2d');
    ctx.font = '14px sans-serif';
    const widest = (n, named, label, cut) => {
      if (!named) return ctx.measureText(String(Math.max(0, n - 1))).width;
      let w = 0;
      for (let i = 0; i < n; ++i) w = Math.max(w, ctx.measureText(iso(short(label(a, i), cut))).width);
      return w;
    };
    a.labelWidths = { q: widest(a.tq, a.q.length > 0, qLabel, 16), k: widest(a.tk, a.k.length > 0, kLabel, 14) };
  }
  MV.ml = Math.ceil(Math.min(Math.max(120, a.labelWidths.q + 12), 0.45 * c.width));
  MV.mt = Math.ceil(Math.min(Math.max(96, a.labelWidths.k + 12), 300));
}
function geometry() {
  const a = att(), c = $('attn-map-canvas');
  const W = c.width - MV.ml - 8;
  const base = Math.min(W / Math.max(1, a.tk), MV.maxH / Math.max(1, a.tq));
  const H = Math.max(120, Math.ceil(base * a.tq));
  return { a: a, c: c, W: W, H: H, base: base, cell: base * MV.zoom };
}
function resetZoom() { MV.zoom = 1; MV.px = 0; MV.py = 0; }
function clampPan() {
  const g = geometry();
  const w = g.a.tk * g.cell, h = g.a.tq * g.cell;
  MV.px = w <= g.W ? 0 : Math.min(0, Math.max(g.W - w, MV.px));
  MV.py = h <= g.H ? 0 : Math.min(0, Math.max(g.H - h, MV.py));
}
function zoomAt(f, x, y) {
  const g = geometry();
  const z = Math.min(Math.max(8, 80 / g.base), Math.max(1, MV.zoom * f));  // up to 80 px a cell
  const k = z / MV.zoom;
  MV.px = x - (x - MV.px) * k;
  MV.py = y - (y - MV.py) * k;
  MV.zoom = z;
  clampPan();
  scheduleMap();
}
function scheduleMap() {
  if (MV.pending) return;
  MV.pending = true;
  requestAnimationFrame(() => { MV.pending = false; if (S.view === 'map') renderMap(); });
}
function renderMap() {
  const a0 = att();  // the text above the canvas first: fitCanvas measures where the canvas starts
  $('attn-map-info').textContent = a0.tq + '\u00d7' + a0.tk + ', zoom \u00d7' + MV.zoom.toFixed(1) +
    '. Wheel: zoom; drag: pan; double-click: reset; click: choose the query of the text view. ' +
    'Keyboard (Tab to the map): arrows move a cell, Shift+arrows 10; Enter chooses the query; +, \u2212, 0: zoom.' +
    storageNote(S.layer, S.pick);
  fitCanvas();
  clampPan();
  const g = geometry(), a = g.a, c = g.c;
  if (c.height !== MV.mt + g.H + 8) c.height = MV.mt + g.H + 8;
  const im = mapImage(S.layer, S.pick, 1 / g.cell);
  c.dataset.layer = String(S.layer);
  c.dataset.head = String(S.pick);
  const x0 = MV.ml + MV.px, y0 = MV.mt + MV.py;
  c.dataset.zoom = String(MV.zoom);  // where cell (i, j) is: x0 + j·cell, y0 + i·cell
  c.dataset.x0 = String(x0);
  c.dataset.y0 = String(y0);
  c.dataset.cell = String(g.cell);
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.save();
  ctx.beginPath();
  ctx.rect(MV.ml, MV.mt, g.W, g.H);
  ctx.clip();
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(im.canvas, x0, y0, im.canvas.width * im.step * g.cell, im.canvas.height * im.step * g.cell);
  if (a.mask && g.cell >= 4) {  // hatch the masked runs of the rows on screen
    ctx.fillStyle = hatch(ctx);
    const i0 = Math.max(0, Math.floor((MV.mt - y0) / g.cell)), i1 = Math.min(a.tq, Math.ceil((MV.mt + g.H - y0) / g.cell));
    const j0 = Math.max(0, Math.floor((MV.ml - x0) / g.cell)), j1 = Math.min(a.tk, Math.ceil((MV.ml + g.W - x0) / g.cell));
    for (let i = i0; i < i1; ++i) {
      for (let j = j0; j < j1; ++j) {
        if (!masked(a, i, j)) continue;
        let end = j + 1;
        while (end < j1 && masked(a, i, end)) ++end;
        ctx.fillRect(x0 + j * g.cell, y0 + i * g.cell, (end - j) * g.cell, g.cell);
        j = end;
      }
    }
  }
  if (S.query < a.tq) {
    ctx.strokeStyle = '#e6550d';
    ctx.lineWidth = 2;
    ctx.strokeRect(x0, y0 + S.query * g.cell, a.tk * g.cell, g.cell);
  }
  const cur = cursor();
  if (cur && MV.keys && document.activeElement === c) {  // the keyboard's cell: black and white, on any colour
    const s = Math.max(g.cell, 3);
    const cx = x0 + cur.j * g.cell + (g.cell - s) / 2, cy = y0 + cur.i * g.cell + (g.cell - s) / 2;
    ctx.lineWidth = 2;
    ctx.strokeStyle = '#000000';
    ctx.strokeRect(cx - 1, cy - 1, s + 2, s + 2);
    ctx.strokeStyle = '#ffffff';
    ctx.strokeRect(cx + 1, cy + 1, s - 2, s - 2);
  }
  ctx.restore();
  ctx.fillStyle = '#333333';
  ctx.font = (g.cell >= 40 ? 14 : 11) + 'px sans-serif';  // larger beside large cells
  if (g.cell >= 9) {
    // Each label in a first-strong isolate, as the SVG pictures write right-to-left labels: the
    // canvas lays its text out left to right, which put the '!' of an Arabic "word!" at its
    // right and the number of "2024 שנה" left of the word (a Latin label is unchanged).
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let i = 0; i < a.tq; ++i) {
      const y = y0 + (i + 0.5) * g.cell;
      if (y >= MV.mt && y <= MV.mt + g.H) ctx.fillText(iso(short(qLabel(a, i), 16)), MV.ml - 4, y);
    }
    ctx.textAlign = 'left';
    for (let j = 0; j < a.tk; ++j) {
      const x = x0 + (j + 0.5) * g.cell;
      if (x < MV.ml || x > MV.ml + g.W) continue;
      ctx.save();
      ctx.translate(x, MV.mt - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(iso(short(kLabel(a, j), 14)), 0, 0);
      ctx.restore();
    }
    c.dataset.rowTicks = c.dataset.colTicks = '';
  } else {
    // Cells too small for labels: index numbers at nice steps (1, 2 or 5 × 10^k, at least 48 px
    // apart), following zoom and pan, as the SVG heatmaps' index ticks; the axes' names above them.
    const raw = 48 / g.cell, magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = Math.max(1, [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw));
    const ticks = (n, from, along, limit) => {
      const out = [];
      for (let k = Math.max(0, Math.ceil(((limit[0] - from) / g.cell - 0.5) / step)) * step; k < n; k += step) {
        const at = from + (k + 0.5) * g.cell;
        if (at > limit[1]) break;
        out.push(k);
        along(k, at);
      }
      return out.join(',');
    };
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    c.dataset.colTicks = ticks(a.tk, x0, (k, x) => { ctx.fillText(String(k), x, MV.mt - 7); ctx.fillRect(x - 0.5, MV.mt - 5, 1, 5); },
                               [MV.ml, MV.ml + g.W]);
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    c.dataset.rowTicks = ticks(a.tq, y0, (k, y) => { ctx.fillText(String(k), MV.ml - 8, y); ctx.fillRect(MV.ml - 5, y - 0.5, 5, 1); },
                               [MV.mt, MV.mt + g.H]);
    c.dataset.tickStep = String(step);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'alphabetic';
    ctx.fillText('keys (columns) \u2192', MV.ml + Math.min(g.W, a.tk * g.cell) / 2, MV.mt - 30);  // over the map
    ctx.save();
    ctx.translate(MV.ml - 60, MV.mt + Math.min(g.H, a.tq * g.cell) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText('\u2190 queries (rows)', 0, 0);
    ctx.restore();
  }
  const bar = $('attn-colorbar');
  bar.textContent = '';
  const stops = [];
  for (let k = 0; k <= 8; ++k) stops.push('#' + D.colormap.substr(6 * Math.round(k * 255 / 8), 6));
  const ramp = document.createElement('span');
  ramp.className = 'attn-ramp';
  ramp.style.background = 'linear-gradient(to right, ' + stops.join(', ') + ')';
  const lo = document.createElement('span');
  lo.textContent = fmt(im.vmin);
  const hi = document.createElement('span');
  hi.textContent = fmt(im.vmax);
  bar.append(lo, ramp, hi);
  if (a.mask) {  // the legend of masked cells, as the SVG heatmaps' (the tooltips say which)
    const swatch = document.createElement('span');
    swatch.className = 'attn-masked-swatch';
    const label = document.createElement('span');
    label.textContent = 'masked';
    bar.append(swatch, label);
  }
  if (im.values.nan) {  // NaN cells are light grey, as the SVG heatmaps' (the tooltips say NaN)
    const swatch = document.createElement('span');
    swatch.className = 'attn-nan-swatch';
    const label = document.createElement('span');
    label.textContent = 'NaN';
    bar.append(swatch, label);
  }
}
// What the page's storage does to the values of map (layer, head), when it is not exact.
function storageNote(layer, head) {
  const res = resolution(layer, head);
  if (!(res > 0)) return '';
  return ' Stored in ' + (D.encoding === 'uint16' ? 16 : 8) + ' bits: each value within \u00b1' +
    Number(res.toPrecision(2)) + ' of the file\u2019s (attn-plot --view-precision float32 keeps them exactly).';
}
function cellAt(e) {
  const g = geometry();
  const r = g.c.getBoundingClientRect();
  const x = e.clientX - r.left - MV.ml, y = e.clientY - r.top - MV.mt;
  if (x < 0 || y < 0 || x >= g.W || y >= g.H) return null;
  const i = Math.floor((y - MV.py) / g.cell), j = Math.floor((x - MV.px) / g.cell);
  if (i < 0 || j < 0 || i >= g.a.tq || j >= g.a.tk) return null;
  return { i: i, j: j, x: e.clientX - r.left, y: e.clientY - r.top };
}
function tooltip(e) {
  const cell = cellAt(e);
  if (!cell) { $('attn-tooltip').hidden = true; return; }
  showTip(cell);
}
// The tooltip of cell {i, j}, beside canvas point {x, y}.
function showTip(cell) {
  const tip = $('attn-tooltip');
  const a = att();
  const v = mapImage(S.layer, S.pick).values[cell.i * a.tk + cell.j];
  const hidden = masked(a, cell.i, cell.j);
  tip.textContent = iso(qLabel(a, cell.i)) + ' \u2192 ' + iso(kLabel(a, cell.j)) + ': ' +
    (hidden ? 'masked (' : '') + fmt(v, resolution(S.layer, S.pick)) + (hidden ? ')' : '') +
    '  (query ' + cell.i + ', key ' + cell.j + ')';
  tip.dataset.masked = String(hidden);
  tip.dataset.query = String(cell.i);
  tip.dataset.key = String(cell.j);
  tip.dataset.value = String(v);
  tip.hidden = false;
  const right = cell.x + 14 + tip.offsetWidth > $('attn-map-canvas').width;  // keep it on the canvas
  tip.style.left = (right ? Math.max(0, cell.x - 14 - tip.offsetWidth) : cell.x + 14) + 'px';
  tip.style.top = (cell.y + 14) + 'px';
}
function setupMapEvents() {
  const c = $('attn-map-canvas');
  c.addEventListener('wheel', (e) => {
    e.preventDefault();
    const r = c.getBoundingClientRect();
    zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left - MV.ml, e.clientY - r.top - MV.mt);
    tooltip(e);
  }, { passive: false });
  c.addEventListener('mousedown', (e) => { MV.keys = false; MV.drag = { x: e.clientX, y: e.clientY, px: MV.px, py: MV.py, moved: false }; });
  window.addEventListener('mouseup', (e) => {
    const d = MV.drag;
    MV.drag = null;
    if (d && !d.moved && e.target === c) {
      const cell = cellAt(e);
      if (cell) { MV.cur = null; chooseQuery(cell.i); }
    }
  });
  c.addEventListener('mousemove', (e) => {
    const d = MV.drag;
    if (d) {
      const dx = e.clientX - d.x, dy = e.clientY - d.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) d.moved = true;
      if (d.moved) { MV.px = d.px + dx; MV.py = d.py + dy; clampPan(); scheduleMap(); }
    }
    tooltip(e);
  });
  c.addEventListener('mouseleave', () => {
    if (MV.keys && document.activeElement === c) keyCell(0, 0); else $('attn-tooltip').hidden = true;
  });
  c.tabIndex = 0;
  c.setAttribute('aria-label', 'attention map: arrows move a cell, Enter chooses its query, plus and minus zoom');
  c.addEventListener('focus', () => { if (!MV.drag) { MV.keys = true; keyCell(0, 0); } });  // not a click's
  c.addEventListener('blur', () => { $('attn-tooltip').hidden = true; scheduleMap(); });
  c.addEventListener('keydown', mapKey);
  c.addEventListener('dblclick', () => { resetZoom(); scheduleMap(); });
  window.addEventListener('resize', () => { MV.top = null; scheduleMap(); });
  const centre = (f) => { const g = geometry(); zoomAt(f, g.W / 2, g.H / 2); };
  $('attn-zoom-in').addEventListener('click', () => centre(2));
  $('attn-zoom-out').addEventListener('click', () => centre(0.5));
  $('attn-zoom-reset').addEventListener('click', () => { resetZoom(); scheduleMap(); });
}

// Query i becomes the one the map outlines and the text view shows (a click or Enter on the map).
function chooseQuery(i) {
  S.query = i;
  root.dataset.query = String(i);
  $('attn-query').value = String(i);
  scheduleMap();
}
// The keyboard's cell of the map view: where it was, within the map shown (a query's row first).
function cursor() {
  const a = att();
  if (a.tq === 0 || a.tk === 0) return null;
  const c = MV.cur || { i: S.query, j: 0 };
  return { i: Math.min(a.tq - 1, Math.max(0, c.i)), j: Math.min(a.tk - 1, Math.max(0, c.j)) };
}
// Move the keyboard's cell by (di, dj), pan until it shows, give its tooltip.
function keyCell(di, dj) {
  const c = cursor();
  if (!c) return;
  const a = att();
  MV.cur = { i: Math.min(a.tq - 1, Math.max(0, c.i + di)), j: Math.min(a.tk - 1, Math.max(0, c.j + dj)) };
  const g = geometry();
  const x = MV.px + MV.cur.j * g.cell, y = MV.py + MV.cur.i * g.cell;
  if (x < 0) MV.px -= x; else if (x + g.cell > g.W) MV.px -= x + g.cell - g.W;
  if (y < 0) MV.py -= y; else if (y + g.cell > g.H) MV.py -= y + g.cell - g.H;
  clampPan();
  showTip({ i: MV.cur.i, j: MV.cur.j, x: MV.ml + MV.px + (MV.cur.j + 0.5) * g.cell,
    y: MV.mt + MV.py + (MV.cur.i + 0.5) * g.cell });
  scheduleMap();
}
function mapKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;  // the browser's own (page zoom, history)
  const n = e.shiftKey ? 10 : 1;
  const moves = { ArrowUp: [-n, 0], ArrowDown: [n, 0], ArrowLeft: [0, -n], ArrowRight: [0, n] };
  const c = cursor();
  if (!c) return;
  MV.keys = true;
  if (moves[e.key]) keyCell(moves[e.key][0], moves[e.key][1]);
  else if (e.key === 'Home') keyCell(0, -c.j);
  else if (e.key === 'End') keyCell(0, att().tk);
  else if (e.key === 'Enter' || e.key === ' ') chooseQuery(c.i);
  else if (e.key === '+' || e.key === '=' || e.key === '-' || e.key === '0') {
    if (e.key === '0') resetZoom();
    else {
      const g = geometry();  // zoom about the keyboard's cell
      zoomAt(e.key === '-' ? 0.5 : 2, MV.px + (c.j + 0.5) * g.cell, MV.py + (c.i + 0.5) * g.cell);
    }
    keyCell(0, 0);
  } else return;
  e.preventDefault();
}

// ---- text view: the keys of one query shaded by weight (white 0, full colour its largest) ----
function renderText() {
  const a = att();
  const box = $('attn-text');
  box.textContent = '';
  $('attn-text-legend').textContent = '';
  if (a.tq === 0) return;
  const v = mapImage(S.layer, S.pick).values;
  const res = resolution(S.layer, S.pick);
  const rgb = [1, 3, 5].map((k) => parseInt(D.highlight.substr(k, 2), 16));
  let top = 0;
  let hid = 0;  // keys the mask hid from this query: hatched, and left out of `top`
  for (let j = 0; j < a.tk; ++j) {
    if (masked(a, S.query, j)) ++hid;
    else if (v[S.query * a.tk + j] > top) top = v[S.query * a.tk + j];
  }
  // The text reads in its tokens' direction (#attn-text is dir="auto", the tokens are not
  // isolated: Hebrew runs from the right, Arabic letters shaded one by one stay joined); the query
  // label, in its own dir="auto", is left out of that choice, and its arrow points at the text.
  const q = document.createElement('span');
  q.className = 'attn-query';
  const ql = document.createElement('span');
  ql.dir = 'auto';
  ql.textContent = qLabel(a, S.query);
  q.append(ql, ' \u2192');
  box.appendChild(q);
  for (let j = 0; j < a.tk; ++j) {
    const w = v[S.query * a.tk + j];
    const t = top > 0 && w > 0 ? Math.min(1, w / top) : 0;
    const c = rgb.map((x) => Math.round(255 + t * (x - 255)));
    const lum = (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255;
    const s = document.createElement('span');
    s.className = 'attn-tok';
    s.style.background = 'rgb(' + c.join(',') + ')';
    s.style.color = lum < 0.5 ? '#ffffff' : '#000000';
    s.dataset.key = String(j);
    s.dataset.weight = String(w);
    s.title = iso(kLabel(a, j)) + ': ' + fmt(w, res);
    if (masked(a, S.query, j)) {
      s.classList.add('attn-masked');
      s.style.background = '';  // the page's style: light hatching, grey text
      s.style.color = '';
      s.title = iso(kLabel(a, j)) + ': masked (' + fmt(w, res) + ')';
    }
    s.textContent = kLabel(a, j);
    if (j > 0 && D.separator) box.appendChild(document.createTextNode(D.separator));
    box.appendChild(s);
  }
  if (getComputedStyle(box).direction === 'rtl') q.lastChild.textContent = ' \u2190';
  $('attn-text-legend').textContent = 'White is weight 0, full colour the largest weight of this query (' +
    fmt(top, res) + '); the tooltips give each weight.' +
    (hid ? ' Hatched: ' + hid + (hid === 1 ? ' key' : ' keys') + ' the mask hid from this query.' : '') +
    storageNote(S.layer, S.pick);
}

// ---- start-up ----
function show(view) {
  S.view = view;
  MV.top = null;  // the controls above the map differ by view
  MV.cur = null;  // the keyboard's cell starts again on the chosen query's first key
  root.dataset.view = view;
  for (const v of ['head', 'model', 'map', 'text']) $('attn-view-' + v).hidden = v !== view;
  for (const b of document.querySelectorAll('.attn-tab')) b.setAttribute('aria-pressed', String(b.dataset.view === view));
  $('attn-heads').hidden = view !== 'head';
  $('attn-head-pick-box').hidden = view !== 'map' && view !== 'text';
  $('attn-layer-box').hidden = view === 'model';
  render();
}
function render() {
  root.dataset.item = String(S.item);
  root.dataset.attention = String(S.att);
  root.dataset.layer = String(S.layer);
  root.dataset.query = String(S.query);
  if (S.view === 'head') renderHead();
  else if (S.view === 'model') renderModel();
  else if (S.view === 'map') renderMap();
  else renderText();
}
// Any choice of map or query puts the keyboard's cell back on the chosen query's first key.
const change = (id, f) => $(id).addEventListener('change', (e) => { MV.cur = null; f(Number(e.target.value)); render(); });
change('attn-item', (v) => { S.item = v; S.att = 0; S.layer = 0; S.heads = []; resetZoom(); setupAttention(); });
change('attn-attention', (v) => { S.att = v; S.layer = 0; S.heads = []; resetZoom(); setupAttention(); });
change('attn-layer', (v) => { S.layer = v; S.sel = null; S.locked = false; });
change('attn-head-pick', (v) => { S.pick = v; });
change('attn-query', (v) => { S.query = v; });
for (const b of document.querySelectorAll('.attn-tab')) b.addEventListener('click', () => show(b.dataset.view));
setupMapEvents();
setupItem();
setupAttention();
show(S.view);
})();
)JS";

}  // namespace attn::io::detail
