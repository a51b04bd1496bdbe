// SPDX-License-Identifier: MIT
// Part of attn/io/viewer.hpp (include that): the viewer page around its data: HTML skeleton,
// inline style, the JSON data block and the inline script (viewer_script*.hpp). The page is
// polyglot HTML5/XHTML, like the other HTML exporters: XML tools can parse it.
#pragma once

#include "text.hpp"
#include "viewer_data.hpp"
#include "viewer_script.hpp"
#include "viewer_script_maps.hpp"

#include <string>

namespace attn::io::detail {

inline constexpr const char* viewer_style = R"(
body { font-family: 'DejaVu Sans', Verdana, Arial, sans-serif; margin: 1em 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 0.5em 0; }
.attn-bar { display: flex; flex-wrap: wrap; gap: 0.4em 1em; align-items: center; margin: 0.4em 0; }
.attn-bar select { max-width: 22em; }
.attn-tab { border: 1px solid #999; background: #f4f4f4; padding: 0.25em 0.8em; cursor: pointer; border-radius: 3px; }
.attn-tab[aria-pressed="true"] { background: #31688e; color: #fff; border-color: #31688e; }
.attn-head-toggle { display: inline-flex; align-items: center; gap: 0.25em; cursor: pointer; user-select: none; }
.attn-swatch { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 2px; }
.attn-note { color: #555; font-size: 0.9em; min-height: 1.2em; margin: 0.3em 0; }
/* One line whatever its text: the head view below must not move while a token is hovered. */
#attn-head-note { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#attn-head-svg text { font-size: 13px; cursor: pointer; unicode-bidi: isolate; }
#attn-head-svg text:focus { outline: none; }
#attn-head-svg text:focus-visible { fill: #31688e; text-decoration: underline; }
#attn-head-svg text.attn-selected { fill: #e6550d; text-decoration: underline; }
#attn-head-svg .attn-colhead { font-size: 11px; fill: #666; cursor: default; }
#attn-model-grid { display: grid; gap: 4px; align-items: center; justify-content: start; }
#attn-model-grid canvas { cursor: pointer; border: 1px solid #ccc; image-rendering: auto; }
#attn-model-grid canvas:hover, #attn-model-grid canvas:focus-visible { outline: 2px solid #31688e; }
#attn-model-grid .attn-label { font-size: 11px; color: #555; text-align: center; }
#attn-map-box { position: relative; display: inline-block; }
#attn-map-canvas { border: 1px solid #ccc; cursor: crosshair; touch-action: none; }
#attn-map-canvas:focus-visible { outline: 2px solid #31688e; }
#attn-tooltip { position: absolute; pointer-events: none; background: rgba(255,255,255,0.95); border: 1px solid #888;
  padding: 0.2em 0.45em; font-size: 12px; white-space: nowrap; border-radius: 3px; unicode-bidi: isolate; }
#attn-colorbar { display: flex; align-items: center; gap: 0.5em; font-size: 12px; color: #444; margin-top: 0.3em; }
#attn-colorbar .attn-ramp { width: 16em; height: 0.9em; border: 1px solid #888; }
#attn-colorbar .attn-masked-swatch { background: repeating-linear-gradient(135deg, #8c8c8c 0 1.5px, #f4f4f4 1.5px 4.2px); }
.attn-tok.attn-masked { background: repeating-linear-gradient(135deg, #d2d2d2 0 1px, #f4f4f4 1px 4px); color: #555555; }
#attn-colorbar .attn-masked-swatch, #attn-colorbar .attn-nan-swatch { width: 1.2em; height: 0.9em; border: 1px solid #888; margin-left: 1em; }
#attn-colorbar .attn-nan-swatch { background: #d9d9d9; }
#attn-text { line-height: 2.2; max-width: 60em; }
#attn-text .attn-query { font-weight: bold; margin-inline-end: 0.8em; unicode-bidi: isolate; }
#attn-text .attn-tok { border-radius: 0.2em; padding: 0.15em 0.1em; white-space: pre-wrap; }
[hidden] { display: none !important; }
)";

inline constexpr const char* viewer_body = R"(<div id="attn-root" data-view="head">
<div class="attn-bar">
<label id="attn-item-box">item <select id="attn-item"></select></label>
<label id="attn-attention-box">attention <select id="attn-attention"></select></label>
<label id="attn-layer-box">layer <select id="attn-layer"></select></label>
<span>
<button type="button" class="attn-tab" data-view="head">head view</button>
<button type="button" class="attn-tab" data-view="model">model view</button>
<button type="button" class="attn-tab" data-view="map">map view</button>
<button type="button" class="attn-tab" data-view="text">text view</button>
</span>
</div>
<div class="attn-bar" id="attn-heads"></div>
<div class="attn-bar" id="attn-head-pick-box">head <select id="attn-head-pick"></select></div>
<div id="attn-view-head">
<p class="attn-note" id="attn-head-note"></p>
<div id="attn-head-box"></div>
</div>
<div id="attn-view-model">
<p class="attn-note">Rows are layers, columns are heads; click a map (or Tab to it, Enter) to open it. Each map has a colour
scale of its own, from 0 to its largest weight (the map view shows it), and is drawn square.</p>
<div id="attn-model-grid"></div>
</div>
<div id="attn-view-map">
<div class="attn-bar">
<button type="button" id="attn-zoom-in" title="zoom in">+</button>
<button type="button" id="attn-zoom-out" title="zoom out">&#x2212;</button>
<button type="button" id="attn-zoom-reset">reset</button>
<span class="attn-note" id="attn-map-info"></span>
</div>
<div id="attn-map-box"><div id="attn-tooltip" hidden="hidden"></div></div>
<div id="attn-colorbar"></div>
</div>
<div id="attn-view-text">
<div class="attn-bar"><label>query <select id="attn-query"></select></label></div>
<div id="attn-text" dir="auto"></div>
<div id="attn-text-legend" class="attn-note"></div>
</div>
</div>
)";

/// The whole page: `json` is the data block (viewer_json), `options.title` the title.
inline std::string viewer_page(const std::string& json, const ViewOptions& options) {
  const std::string title = options.title.empty() ? std::string("attention") : options.title;
  std::string page =
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>";
  append_xml_escaped(page, title);
  page += "</title>\n<style>";
  page += viewer_style;
  page += "</style>\n</head>\n<body>\n<h1 id=\"attn-title\">";
  append_xml_escaped(page, title);
  page += "</h1>\n";
  page += viewer_body;
  page += "<script type=\"application/json\" id=\"attn-data\">";
  page += json;
  page += "</script>\n<script>//<![CDATA[\n";  // (CDATA: the page also parses as XML)
  page += viewer_script;
  page += viewer_script_maps;
  page += "//]]>\n</script>\n</body>\n</html>\n";
  return page;
}

}  // namespace attn::io::detail
