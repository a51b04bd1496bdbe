// SPDX-License-Identifier: MIT
// Part of attn/io/animation.hpp (include that): the self-contained HTML page of a training
// animation (inline style and script, the maps drawn on canvases, no request of any kind) and
// the panels of its static SVG grid.
#pragma once

#include "animation_data.hpp"
#include "svg_layout.hpp"
#include "text.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace attn::io::detail {

/// The page's script (between CDATA markers: the page is polyglot HTML5/XHTML). It reads the
/// numbers from the JSON block and every text from the hidden, escaped lists, so no text is
/// ever parsed as markup or script. window.attnAnimation lets tests and users drive it.
inline const char* animation_script() {
  return R"JS(
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('attn-data').textContent);
  function texts(id) {
    var list = document.getElementById(id), out = [];
    if (list) for (var i = 0; i !== list.children.length; ++i) out.push(list.children[i].textContent);
    return out;
  }
  var frameTitles = texts('attn-frame-titles'), frameSteps = texts('attn-frame-steps');
  var sampleTitles = texts('attn-sample-titles'), rowLabels = texts('attn-row-labels');
  var colLabels = texts('attn-col-labels'), tickLabels = texts('attn-tick-labels');
  var caption = texts('attn-captions');
  var lutBytes = atob(data.lut), lut = [];
  for (var c = 0; c !== 256; ++c) {
    lut.push('rgb(' + lutBytes.charCodeAt(3 * c) + ',' + lutBytes.charCodeAt(3 * c + 1) + ',' +
             lutBytes.charCodeAt(3 * c + 2) + ')');
  }
  var dpr = window.devicePixelRatio || 1;
  function fraction(v) {  // where v lies on [vmin, vmax], as attn's scale_fraction
    if (v === data.vmin) return 0;
    if (v === data.vmax) return 1;
    var span = data.vmax - data.vmin;
    if (isFinite(span)) return (v - data.vmin) / span;
    return (0.5 * v - 0.5 * data.vmin) / (0.5 * data.vmax - 0.5 * data.vmin);
  }
  function color(v) {
    if (v !== v) return data.nan;
    var t = Math.min(1, Math.max(0, fraction(v)));
    return lut[Math.round(t * 255)];
  }
  function decode(map) {  // codes 0..top: lo..hi; top+1 NaN, top+2 -inf, top+3 +inf
    var raw = atob(map.q), b = data.bytes, n = raw.length / b, out = new Float64Array(n);
    var span = map.hi - map.lo;
    for (var i = 0; i !== n; ++i) {
      var code = raw.charCodeAt(i * b) + (b === 2 ? raw.charCodeAt(i * b + 1) * 256 : 0);
      if (code > data.top) {
        out[i] = code === data.top + 1 ? NaN : (code === data.top + 2 ? -Infinity : Infinity);
      } else {
        var f = code / data.top;
        out[i] = f === 1 ? map.hi : (isFinite(span) ? map.lo + f * span : map.lo * (1 - f) + map.hi * f);
      }
    }
    // How far a decoded value may be from the original: half a step of the codes (0 when the
    // map holds one value, decoded exactly). The tooltip shows only the decimals this resolves.
    out.res = isFinite(span) && span > 0 ? span / (2 * data.top) : (span > 0 ? Infinity : 0);
    return out;
  }
  // A value as the tooltip shows it: exact ones to 6 significant digits, quantised ones with
  // '\u2248' and the decimals their storage resolves (as the interactive viewer does).
  function fmt(v, res) {
    if (!isFinite(v) || !(res > 0)) return isFinite(v) ? String(+v.toPrecision(6)) : String(v);
    if (res === Infinity) return '\u2248' + v.toPrecision(2);
    // The decimals the storage resolves, and no more than a double holds (17 significant digits).
    var whole = v !== 0 ? Math.floor(Math.log10(Math.abs(v))) + 1 : 1;
    return '\u2248' + v.toFixed(Math.min(20, 17 - Math.min(17, whole), Math.max(0, Math.floor(-Math.log10(res)))));
  }
  var cache = {};
  function values(f, k) {
    var key = f + ':' + k;
    if (!cache[key]) cache[key] = decode(data.frames[f][k]);
    return cache[key];
  }
  // A label of at most 24 characters, cut between whole characters as the SVG pictures cut
  // labels: characters as a reader sees them (extended grapheme clusters: a flag, a joined emoji,
  // a conjunct is one), or code points in a browser without Intl.Segmenter.
  var graphemes = typeof Intl === 'object' && Intl.Segmenter
    ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;
  function cut(text) {
    var chars = graphemes ? Array.from(graphemes.segment(text), function (s) { return s.segment; }) : Array.from(text);
    return iso(chars.length > 24 ? chars.slice(0, 23).join('') + '\u2026' : text);
  }
  // A label in a first-strong isolate, as the SVG pictures write right-to-left labels: the
  // canvas and the tooltip lay text out left to right, which put the '!' of an Arabic "word!"
  // on its wrong side, and the number after a Hebrew label before it (Latin text is unchanged).
  function iso(text) { return '\u2068' + text + '\u2069'; }
  var tip = document.getElementById('attn-tip');
  var views = [];  // per sample: {map: view, truth: view or null}
  function makeView(canvas, s, k) {
    // Default: a map's cells cover about 240 x 240 px (240 / n for an n x n map), a long side at
    // most 720 px: a keras-attention 1 x 50 row gets 14 px cells, not a 4 px high strip.
    var cell = data.cell > 0 ? data.cell : Math.max(1, Math.min(24, Math.floor(Math.min(
        240 / Math.sqrt(Math.max(s.rows * s.cols, 1)), 720 / Math.max(s.rows, s.cols, 1)))));
    var font = Math.min(12, cell - 1), ctx = canvas.getContext('2d');
    var rows = s.row_labels && font >= 7 ? rowLabels : [], cols = s.col_labels && font >= 7 ? colLabels : [];
    ctx.font = font + 'px sans-serif';
    var left = 0, top = 0;
    rows.forEach(function (t) { left = Math.max(left, ctx.measureText(cut(t)).width); });
    cols.forEach(function (t) { top = Math.max(top, ctx.measureText(cut(t)).width); });
    // Without labels (none given, or cells too small for them), index ticks as the SVG draws:
    // every `step` rows or columns, the smallest of 1, 2, 5, 10, 20, ... leaving 24 px between.
    function tickStep() {
      for (var p = 1; ; p *= 10) for (var q = 0; q !== 3; ++q) if ([1, 2, 5][q] * p * cell >= 24) return [1, 2, 5][q] * p;
    }
    var rowStep = rows.length ? 0 : tickStep(), colStep = cols.length ? 0 : tickStep();
    ctx.font = '10px sans-serif';
    if (rowStep) left = ctx.measureText(String(s.rows - 1)).width;
    if (colStep) top = 10;
    left = Math.ceil(left ? left + 6 : 1); top = Math.ceil(top ? top + 6 : 1);
    var w = left + s.cols * cell + 1, h = top + s.rows * cell + 1;
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    canvas.style.width = w + 'px'; canvas.style.height = h + 'px';
    var view = {canvas: canvas, ctx: ctx, s: s, k: k, cell: cell, left: left, top: top, font: font,
                rows: rows, cols: cols, rowStep: rowStep, colStep: colStep, values: null};
    canvas.addEventListener('mousemove', function (e) {
      var r = canvas.getBoundingClientRect();
      var j = Math.floor((e.clientX - r.left - left) / cell), i = Math.floor((e.clientY - r.top - top) / cell);
      if (!view.values || i < 0 || j < 0 || i >= s.rows || j >= s.cols) { tip.hidden = true; return; }
      var v = view.values[i * s.cols + j];
      tip.textContent = (s.row_labels ? iso(rowLabels[i]) : 'row ' + i) + ' \u2192 ' +
                        (s.col_labels ? iso(colLabels[j]) : 'column ' + j) + ': ' + fmt(v, view.values.res);
      tip.style.left = (e.pageX + 12) + 'px'; tip.style.top = (e.pageY + 12) + 'px';
      tip.hidden = false;
    });
    canvas.addEventListener('mouseleave', function () { tip.hidden = true; });
    return view;
  }
  function draw(view, vals) {
    var ctx = view.ctx, s = view.s, cell = view.cell;
    view.values = vals;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, view.canvas.width, view.canvas.height);
    ctx.font = view.font + 'px sans-serif'; ctx.fillStyle = '#222';
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    view.rows.forEach(function (t, i) { ctx.fillText(cut(t), view.left - 4, view.top + (i + 0.5) * cell); });
    ctx.textAlign = 'left';
    view.cols.forEach(function (t, j) {
      ctx.save(); ctx.translate(view.left + (j + 0.5) * cell, view.top - 4); ctx.rotate(-Math.PI / 2);
      ctx.fillText(cut(t), 0, 0); ctx.restore();
    });
    ctx.font = '10px sans-serif'; ctx.fillStyle = '#404040';
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (var ti = 0; view.rowStep && ti < s.rows; ti += view.rowStep) {
      ctx.fillText(String(ti), view.left - 4, view.top + (ti + 0.5) * cell);
    }
    ctx.textAlign = 'center'; ctx.textBaseline = 'bottom';
    for (var tj = 0; view.colStep && tj < s.cols; tj += view.colStep) {
      ctx.fillText(String(tj), view.left + (tj + 0.5) * cell, view.top - 3);
    }
    for (var i = 0; i !== s.rows; ++i) {
      for (var j = 0; j !== s.cols; ++j) {
        var v = vals[i * s.cols + j], x = view.left + j * cell, y = view.top + i * cell;
        ctx.fillStyle = color(v);
        ctx.fillRect(x, y, cell, cell);
        if (v !== v && cell >= 6) {
          ctx.strokeStyle = '#808080'; ctx.beginPath();
          ctx.moveTo(x, y); ctx.lineTo(x + cell, y + cell); ctx.moveTo(x + cell, y); ctx.lineTo(x, y + cell);
          ctx.stroke();
        }
      }
    }
    ctx.strokeStyle = '#404040'; ctx.lineWidth = 1;
    ctx.strokeRect(view.left - 0.5, view.top - 0.5, s.cols * cell + 1, s.rows * cell + 1);
  }
  var box = document.getElementById('attn-samples');
  data.samples.forEach(function (s, k) {
    var figure = document.createElement('figure');
    figure.className = 'attn-sample';
    var title = document.createElement('figcaption');
    title.textContent = sampleTitles[k];
    figure.appendChild(title);
    var pair = document.createElement('div');
    pair.className = data.under ? 'attn-pair attn-under' : 'attn-pair';
    function add(id, label) {
      var part = document.createElement('div'), name = document.createElement('div'), canvas = document.createElement('canvas');
      part.className = 'attn-map'; name.className = 'attn-map-name'; name.textContent = label; canvas.id = id;
      part.appendChild(name); part.appendChild(canvas); pair.appendChild(part);
      return makeView(canvas, s, k);
    }
    var view = {map: add('attn-map-' + k, caption[0]), truth: null};
    if (s.truth) {
      view.truth = add('attn-truth-' + k, caption[1]);
      draw(view.truth, decode(s.truth));
    }
    figure.appendChild(pair);
    box.appendChild(figure);
    views.push(view);
  });
  (function legend() {
    var canvas = document.createElement('canvas'), ctx = canvas.getContext('2d');
    canvas.id = 'attn-legend';
    var box = document.getElementById('attn-legend-box');
    box.insertBefore(canvas, box.firstChild);
    var h = 44, bar = 256, font = '11px sans-serif';
    ctx.font = font;
    var half = tickLabels.map(function (text) { return ctx.measureText(text).width / 2; });
    var x0 = Math.max(20, Math.ceil(half[0] || 0) + 2);  // room for the first label left of the bar
    // The ticks as drawn, in one pass from the left: the scale's own ends (labelled where no nice
    // tick is near them, as the SVG colour bar) always; a nice tick only when its label clears
    // the labels drawn before it and the end labels after it (long labels, 123456789.01 …, on the
    // 256 px ramp would run together).
    var xs = data.ticks.map(function (t) { return x0 + Math.round(fraction(t) * (bar - 1)) + 0.5; });
    var ends = data.tick_ends || [];
    var lastRight = -Infinity;
    var shown = xs.map(function (x, k) {
      var clear = x - half[k] >= lastRight + 4 && !ends.some(function (end, e) {
        return end && e > k && xs[e] - half[e] < x + half[k] + 4;
      });
      if (!ends[k] && !clear) return false;
      lastRight = Math.max(lastRight, x + half[k]);
      return true;
    });
    // The NaN swatch beside the ramp (above the labels); the width also holds the last label.
    var right = 0, nx = x0 + bar + 14;
    xs.forEach(function (x, k) { if (shown[k]) right = Math.max(right, x + half[k]); });
    var w = Math.max(data.any_nan ? nx + 60 : x0 + 280, Math.ceil(right + 4));
    canvas.width = w * dpr; canvas.height = h * dpr; canvas.style.width = w + 'px'; canvas.style.height = h + 'px';
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    for (var k = 0; k !== bar; ++k) { ctx.fillStyle = lut[k]; ctx.fillRect(x0 + k, 4, 1, 16); }
    ctx.strokeStyle = '#404040'; ctx.strokeRect(x0 - 0.5, 3.5, bar + 1, 17);
    ctx.fillStyle = '#222'; ctx.font = font; ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    canvas.dataset.ticks = '';
    xs.forEach(function (x, k) {
      if (!shown[k]) return;
      ctx.beginPath(); ctx.moveTo(x, 20); ctx.lineTo(x, 25); ctx.stroke();
      ctx.fillText(tickLabels[k], x, 28);
      canvas.dataset.ticks += (canvas.dataset.ticks ? '|' : '') + tickLabels[k];
    });
    if (data.any_nan) {  // the NaN cells' grey, crossed as they are, and its name
      ctx.fillStyle = data.nan; ctx.fillRect(nx, 4, 16, 16);
      ctx.strokeStyle = '#808080'; ctx.beginPath();
      ctx.moveTo(nx, 4); ctx.lineTo(nx + 16, 20); ctx.moveTo(nx + 16, 4); ctx.lineTo(nx, 20); ctx.stroke();
      ctx.strokeStyle = '#404040'; ctx.strokeRect(nx - 0.5, 3.5, 17, 17);
      ctx.fillStyle = '#222'; ctx.textAlign = 'left'; ctx.textBaseline = 'middle'; ctx.fillText('NaN', nx + 21, 12);
    }
  })();
  var slider = document.getElementById('attn-slider'), play = document.getElementById('attn-play');
  var current = -1, timer = null;
  function show(f) {
    f = Math.max(0, Math.min(data.frames.length - 1, f | 0));
    current = f;
    slider.value = String(f);
    document.getElementById('attn-frame-title').textContent = frameTitles[f];
    document.getElementById('attn-frame-step').textContent = frameSteps[f];
    document.getElementById('attn-frame-count').textContent = (f + 1) + ' / ' + data.frames.length;
    views.forEach(function (v, k) { draw(v.map, values(f, k)); });
  }
  function stop() { if (timer !== null) clearInterval(timer); timer = null; play.textContent = 'Play'; }
  function start() {
    if (current === data.frames.length - 1) show(0);
    timer = setInterval(function () { show((current + 1) % data.frames.length); }, data.frame_ms);
    play.textContent = 'Pause';
  }
  slider.addEventListener('input', function () { stop(); show(+slider.value); });
  play.addEventListener('click', function () { if (timer === null) start(); else stop(); });
  show(data.frames.length - 1);
  window.attnAnimation = {
    frames: data.frames.length, show: show, playing: function () { return timer !== null; },
    frame: function () { return current; },
    // Where the centre of cell (i, j) of sample k is on its canvas, in canvas pixels.
    cellCenter: function (k, i, j, truth) {
      var v = truth ? views[k].truth : views[k].map;
      return {x: Math.floor((v.left + (j + 0.5) * v.cell) * dpr), y: Math.floor((v.top + (i + 0.5) * v.cell) * dpr)};
    },
    // The index ticks of sample k's map: every rowStep rows and colStep columns (0: labels instead).
    indexTicks: function (k) { return {rowStep: views[k].map.rowStep, colStep: views[k].map.colStep}; }
  };
})();
)JS";
}

inline void animation_list(std::string& out, const char* id, const std::vector<std::string>& items) {
  out += "<ol id=\"";
  out += id;
  out += "\">";
  for (const std::string& item : items) {
    out += "<li>";
    append_xml_escaped(out, item);
    out += "</li>";
  }
  out += "</ol>\n";
}

/// The whole page (polyglot HTML5/XHTML, UTF-8). Expects checked input.
inline std::string animation_page(const std::vector<AnimationFrame>& frames, const std::vector<Matrix<double>>& truth,
                                  const AnimationOptions& options, const std::string& who) {
  const HeatmapScale scale = animation_scale(frames, truth, options, who);
  const std::string title = options.title.empty() ? std::string("attention during training") : options.title;
  std::vector<std::string> frame_titles;
  std::vector<std::string> frame_steps;
  for (const AnimationFrame& frame : frames) {
    frame_titles.push_back(animation_frame_title(frame));
    frame_steps.push_back("step " + std::to_string(frame.step));
  }
  std::vector<std::string> sample_titles;
  for (std::size_t k = 0; k < frames.front().maps.size(); ++k) sample_titles.push_back(animation_sample_title(options, k));

  std::string page =
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
      "<meta name=\"generator\" content=\"attn::io::animation_html\"/>\n<title>";
  append_xml_escaped(page, title);
  page +=
      "</title>\n<style>\n"
      "body { font-family: sans-serif; margin: 16px; color: #222; }\n"
      "h1 { font-size: 1.3em; margin: 0 0 8px; }\n"
      ".attn-controls { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; margin-bottom: 8px; }\n"
      "#attn-slider { width: 320px; }\n#attn-play { min-width: 5em; }\n"
      "#attn-frame-title { font-weight: bold; unicode-bidi: isolate; }\n#attn-frame-step, #attn-frame-count { color: #555; }\n"
      "#attn-samples { display: flex; flex-wrap: wrap; gap: 16px; }\n"
      ".attn-sample { margin: 0; border: 1px solid #ddd; padding: 6px 8px; }\n"
      ".attn-sample figcaption { font-weight: bold; margin-bottom: 4px; unicode-bidi: isolate; }\n"
      ".attn-pair { display: flex; gap: 12px; align-items: flex-end; }\n.attn-under { flex-direction: column; align-items: flex-start; }\n"
      ".attn-map-name { font-size: 0.85em; color: #555; }\ncanvas { display: block; }\n"
      ".attn-legend { margin-top: 10px; display: flex; align-items: center; gap: 6px; }\n"
      "#attn-tip { position: absolute; background: #fff; border: 1px solid #888; padding: 2px 5px; font-size: 12px;"
      " pointer-events: none; unicode-bidi: isolate; }\n"
      "</style>\n</head>\n<body>\n<h1>";
  append_xml_escaped(page, title);
  page += "</h1>\n<div class=\"attn-controls\"><button id=\"attn-play\" type=\"button\">Play</button>"
          "<input id=\"attn-slider\" type=\"range\" min=\"0\" max=\"" +
          std::to_string(frames.size() - 1) + "\" step=\"1\" value=\"" + std::to_string(frames.size() - 1) +
          "\" aria-label=\"frame\"/><span id=\"attn-frame-title\">";
  append_xml_escaped(page, frame_titles.back());
  page += "</span><span id=\"attn-frame-step\">" + frame_steps.back() + "</span><span id=\"attn-frame-count\">" +
          std::to_string(frames.size()) + " / " + std::to_string(frames.size()) + "</span></div>\n";
  page += "<div id=\"attn-samples\"></div>\n<div class=\"attn-legend\" id=\"attn-legend-box\"><span>";
  append_xml_escaped(page, options.colorbar_label);
  page += "</span></div>\n<div id=\"attn-tip\" hidden=\"hidden\"></div>\n<noscript><p>This page draws the maps with "
          "JavaScript.</p></noscript>\n<div hidden=\"hidden\">\n";
  animation_list(page, "attn-frame-titles", frame_titles);
  animation_list(page, "attn-frame-steps", frame_steps);
  animation_list(page, "attn-sample-titles", sample_titles);
  animation_list(page, "attn-row-labels", options.row_labels);
  animation_list(page, "attn-col-labels", options.col_labels);
  animation_list(page, "attn-tick-labels", animation_tick_labels(scale));
  animation_list(page, "attn-captions", {"attention", options.truth_title});
  page += "</div>\n<script type=\"application/json\" id=\"attn-data\">";
  page += animation_json(frames, truth, options, scale);
  page += "</script>\n<script>//<![CDATA[";
  page += animation_script();
  page += "//]]></script>\n</body>\n</html>\n";
  return page;
}

/// The panels of the SVG grid: one row per sample, one column per chosen frame, then the
/// truth. Expects checked input; checks `chosen`.
inline std::vector<HeatmapPanel> animation_grid_panels(const std::vector<AnimationFrame>& frames,
                                                       const std::vector<Matrix<double>>& truth,
                                                       const std::vector<std::size_t>& chosen,
                                                       const AnimationOptions& options, const std::string& who) {
  ATTN_CHECK(!chosen.empty(), who + ": frames_shown must name at least one frame");
  for (std::size_t c = 0; c < chosen.size(); ++c) {
    ATTN_CHECK(chosen[c] < frames.size(), who + ": frames_shown[" + std::to_string(c) + "] (" +
                                              std::to_string(chosen[c]) + ") is out of range: there are " +
                                              std::to_string(frames.size()) + " frames");
  }
  const std::size_t samples = frames.front().maps.size();
  std::vector<HeatmapPanel> panels;
  for (std::size_t k = 0; k < samples; ++k) {
    const std::string prefix = samples > 1 ? animation_sample_title(options, k) + ": " : std::string();
    for (const std::size_t f : chosen) {
      panels.push_back({frames[f].maps[k], prefix + animation_frame_title(frames[f]), {}, {}});
    }
    if (!truth.empty()) panels.push_back({truth[k], prefix + options.truth_title, {}, {}});
  }
  return panels;
}

}  // namespace attn::io::detail
