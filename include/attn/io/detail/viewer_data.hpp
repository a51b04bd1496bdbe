// SPDX-License-Identifier: MIT
// Part of attn/io/viewer.hpp (include that): ViewOptions and the page's data as JSON: each
// map quantised or stored as float32 (ViewPrecision), little-endian, base64, with its range.
#pragma once

#include "../../config.hpp"
#include "../../mask.hpp"
#include "../colormap.hpp"
#include "json.hpp"
#include "png.hpp"
#include "text.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace attn::io {

/// How the viewer stores each map in the page. Quantised maps keep, per map, the smallest
/// and largest finite value `lo`, `hi`; a finite value reads back within `(hi - lo) / 504`
/// (uint8) or `(hi - lo) / 131064` (uint16) of the float32 it came from, and the page prints
/// it with `≈` and no more decimals than that resolves (the map view says the bound). NaN,
/// +inf and -inf read back as themselves in every precision.
enum class ViewPrecision {
  automatic,  ///< automatic_view_precision(): float32 up to 2^20 cells in all, uint16 up to 4·2^20, uint8 above
  float32,    ///< exact (float32): 4 bytes per cell before base64 (which adds a third)
  uint16,     ///< 2 bytes per cell, error ≤ (hi - lo) / 131064
  uint8       ///< 1 byte per cell, error ≤ (hi - lo) / 504
};

/// The precision ViewPrecision::automatic stores a view in: float32 up to 2^20 cells (all maps
/// together), uint16 up to 4·2^20 (attn-plot's default --max-cells), uint8 above (pages of about
/// 5.3, 2.7 and 1.3 bytes a cell).
/// \param cells the number of cells of every map of the view \return float32, uint16 or uint8
inline ViewPrecision automatic_view_precision(double cells) {
  return cells <= 1048576.0 ? ViewPrecision::float32 : cells <= 4194304.0 ? ViewPrecision::uint16 : ViewPrecision::uint8;
}

/// The view a page opens with.
enum class ViewKind {
  head,   ///< tokens left and right, one line per query–key pair
  model,  ///< layers × heads thumbnails
  map,    ///< one map as a zoomable heatmap
  text,   ///< one query's keys highlighted by weight
  /// head while every map has at most 128 queries and keys (the head view lists every token and
  /// draws a line per pair), map above (a 4096-token page opened on a list of 4096 tokens)
  automatic
};

/// How the viewer page looks and stores its data.
struct ViewOptions {
  std::string title;                            ///< page title and heading; empty: "attention"
  ViewKind view = ViewKind::automatic;          ///< the view shown first (see ViewKind::automatic)
  ViewPrecision precision = ViewPrecision::automatic;  ///< how maps are stored (see ViewPrecision)
  Colormap colormap = Colormap::viridis;        ///< colours of the model and map views
  /// Head view: one colour per head ("#rrggbb"); heads beyond the list get hues spread by the
  /// golden angle, so no two heads share a colour. Empty: a built-in palette of 10 colours.
  std::vector<std::string> head_colors;
  /// Head view with no token selected: lines of weight below this are not drawn (a selected
  /// token shows all its lines). In [0, 1].
  double min_line_weight = 0.01;
  /// Head view with no token selected: when more lines than this would be drawn, none are
  /// (the page says to hover a token). >= 1.
  Index max_lines = 20000;
  std::string highlight_color = "#e6550d";      ///< text view: the shade of the highest weight
  std::string separator = " ";                  ///< text view: between key tokens ("" for characters)
};

namespace detail {

/// What the JSON writer reads of one ViewAttention (pointers into it).
struct ViewAttentionRef {
  const std::string* name;
  const std::vector<std::string>* query_tokens;
  const std::vector<std::string>* key_tokens;
  std::vector<const std::string*> layer_names;
  std::vector<const std::vector<Eigen::MatrixXf>*> layers;
  const Mask* mask;  ///< the cells the weights' call hid (nothing hidden: no "mask" in the JSON)
};

/// What the JSON writer reads of one ViewItem.
struct ViewItemRef {
  std::string name;
  std::vector<ViewAttentionRef> attentions;
};

/// Tableau's 10 categorical colours: one per head in the head view.
inline const char* const viewer_head_palette[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

inline void viewer_put_u16(std::string& bytes, std::uint16_t v) {
  bytes.push_back(static_cast<char>(v & 0xFF));
  bytes.push_back(static_cast<char>(v >> 8));
}

/// `map` (Tq×Tk) as little-endian bytes in row-major order (query by query) in `precision`,
/// and its smallest and largest finite value (0, 0 when it has none).
inline std::string viewer_encode(const Eigen::MatrixXf& map, ViewPrecision precision, double& lo, double& hi) {
  lo = std::numeric_limits<double>::infinity();
  hi = -std::numeric_limits<double>::infinity();
  for (Index k = 0; k < map.size(); ++k) {
    const double v = map.data()[k];
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (!(lo <= hi)) lo = hi = 0;
  std::string bytes;
  const auto n = static_cast<std::size_t>(map.size());
  if (precision == ViewPrecision::float32) {
    bytes.reserve(4 * n);
    for (Index i = 0; i < map.rows(); ++i) {
      for (Index j = 0; j < map.cols(); ++j) {
        const float v = map(i, j);  // NaN and ±inf as they are
        std::uint32_t u = 0;
        std::memcpy(&u, &v, 4);
        for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<char>((u >> (8 * b)) & 0xFF));
      }
    }
    return bytes;
  }
  const bool wide = precision == ViewPrecision::uint16;
  // Codes 0..top are values from lo to hi; top + 1 is -inf, top + 2 +inf, top + 3 NaN.
  const double top = wide ? 65532.0 : 252.0;
  const double span = hi - lo;
  bytes.reserve((wide ? 2 : 1) * n);
  for (Index i = 0; i < map.rows(); ++i) {
    for (Index j = 0; j < map.cols(); ++j) {
      const double v = map(i, j);
      double code = std::isnan(v) ? top + 3 : v < 0 ? top + 1 : top + 2;
      if (std::isfinite(v)) code = span > 0 ? std::round(std::clamp((v - lo) / span, 0.0, 1.0) * top) : 0.0;
      if (wide) {
        viewer_put_u16(bytes, static_cast<std::uint16_t>(code));
      } else {
        bytes.push_back(static_cast<char>(static_cast<std::uint8_t>(code)));
      }
    }
  }
  return bytes;
}

/// The cells `mask` hides in a `tq×tk` map, one bit per cell in row-major order (bit `n % 8`
/// of byte `n / 8` for cell `n = i·tk + j`; 1: hidden). Checks that the mask fits the maps.
inline std::string viewer_mask_bits(const Mask& mask, Index tq, Index tk, const std::string& at) {
  if (mask.length()) {
    ATTN_CHECK(*mask.length() <= tk, at + ": the mask's key length (" + std::to_string(*mask.length()) +
                                         ") exceeds the maps' " + std::to_string(tk) + " keys");
  }
  if (mask.explicit_matrix()) {
    const auto& m = *mask.explicit_matrix();
    ATTN_CHECK(m.rows() == tq && m.cols() == tk, at + ": the mask is " + ::attn::detail::shape(m.rows(), m.cols()) +
                                                     " but the maps are " + ::attn::detail::shape(tq, tk));
  }
  std::string bits(static_cast<std::size_t>((tq * tk + 7) / 8), '\0');
  for (Index i = 0; i < tq; ++i) {
    for (Index j = 0; j < tk; ++j) {
      if (mask.visible(i, j, tk)) continue;
      const auto n = static_cast<std::size_t>(i * tk + j);
      bits[n / 8] = static_cast<char>(static_cast<unsigned char>(bits[n / 8]) | (1u << (n % 8)));
    }
  }
  return bits;
}

inline void viewer_put_labels(std::string& out, const std::vector<std::string>& labels) {
  out += '[';
  for (std::size_t k = 0; k < labels.size(); ++k) {
    if (k > 0) out += ',';
    append_json_string(out, labels[k]);
  }
  out += ']';
}

inline std::string viewer_precision_name(ViewPrecision p) {
  return p == ViewPrecision::float32 ? "float32" : p == ViewPrecision::uint16 ? "uint16" : "uint8";
}

/// The page's data as JSON (safe inside <script>): options, colour table, items → attentions →
/// layers → heads with each map encoded. Checks the view and the options.
inline std::string viewer_json(const std::vector<ViewItemRef>& items, const ViewOptions& options, const char* who) {
  ATTN_CHECK(!items.empty(), std::string(who) + ": the view has no item (add_attention or add_item first)");
  double cells = 0;
  Index longest = 0;  // the most queries or keys of a map: the automatic view
  for (std::size_t b = 0; b < items.size(); ++b) {
    ATTN_CHECK(!items[b].attentions.empty(), std::string(who) + ": item " + std::to_string(b) + " has no attention");
    for (const ViewAttentionRef& a : items[b].attentions) {
      ATTN_CHECK(!a.layers.empty(), std::string(who) + ": item " + std::to_string(b) + " attention '" + *a.name +
                                        "' has no layer");
      for (const auto* heads : a.layers)
        for (const Eigen::MatrixXf& m : *heads) {
          cells += static_cast<double>(m.size());
          longest = std::max({longest, m.rows(), m.cols()});
        }
    }
  }
  ATTN_CHECK(options.min_line_weight >= 0 && options.min_line_weight <= 1,
             std::string(who) + ": options.min_line_weight (" + format_number(options.min_line_weight, -1) +
                 ") must be in [0, 1]");
  ATTN_CHECK(options.max_lines >= 1,
             std::string(who) + ": options.max_lines (" + std::to_string(options.max_lines) + ") must be >= 1");
  std::vector<std::string> head_colors;
  for (const std::string& c : options.head_colors) head_colors.push_back(css_color(parse_css_color(c, who)));
  if (head_colors.empty()) head_colors.assign(std::begin(viewer_head_palette), std::end(viewer_head_palette));
  const std::string highlight = css_color(parse_css_color(options.highlight_color, who));

  ViewPrecision precision = options.precision;
  if (precision == ViewPrecision::automatic) precision = automatic_view_precision(cells);
  static const char* const views[] = {"head", "model", "map", "text"};
  std::string out = "{\"title\":";
  append_json_string(out, options.title.empty() ? std::string("attention") : options.title);
  const ViewKind view = options.view != ViewKind::automatic ? options.view
                        : longest <= 128                    ? ViewKind::head
                                                            : ViewKind::map;
  out += ",\"view\":\"" + std::string(views[static_cast<int>(view)]) + "\"";
  out += ",\"encoding\":\"" + viewer_precision_name(precision) + "\"";
  out += ",\"minLine\":" + json_number(options.min_line_weight) + ",\"maxLines\":" + std::to_string(options.max_lines);
  out += ",\"separator\":";
  append_json_string(out, options.separator);
  out += ",\"highlight\":\"" + highlight + "\",\"headColors\":[";
  for (std::size_t k = 0; k < head_colors.size(); ++k) out += (k > 0 ? ",\"" : "\"") + head_colors[k] + "\"";
  out += "],\"colormap\":\"";
  for (int k = 0; k < 256; ++k) out += css_color(colormap_color(options.colormap, k / 255.0)).substr(1);
  out += "\",\"items\":[";
  for (std::size_t b = 0; b < items.size(); ++b) {
    if (b > 0) out += ',';
    out += "{\"name\":";
    append_json_string(out, items[b].name.empty() ? "item " + std::to_string(b) : items[b].name);
    out += ",\"attentions\":[";
    for (std::size_t k = 0; k < items[b].attentions.size(); ++k) {
      const ViewAttentionRef& a = items[b].attentions[k];
      const Eigen::MatrixXf& first = a.layers.front()->front();
      if (k > 0) out += ',';
      out += "{\"name\":";
      append_json_string(out, a.name->empty() ? "attention " + std::to_string(k) : *a.name);
      out += ",\"tq\":" + std::to_string(first.rows()) + ",\"tk\":" + std::to_string(first.cols()) + ",\"q\":";
      viewer_put_labels(out, *a.query_tokens);
      out += ",\"k\":";
      viewer_put_labels(out, *a.key_tokens);
      if (a.mask && !a.mask->is_all_visible()) {  // "mask": the hidden cells, base64 bits (none hidden: none)
        const std::string at = std::string(who) + ": item " + std::to_string(b) + " attention '" +
                               (a.name->empty() ? "attention " + std::to_string(k) : *a.name) + "'";
        const std::string bits = viewer_mask_bits(*a.mask, first.rows(), first.cols(), at);
        if (bits.find_first_not_of('\0') != std::string::npos) out += ",\"mask\":\"" + base64(bits) + "\"";
      }
      out += ",\"layers\":[";
      for (std::size_t l = 0; l < a.layers.size(); ++l) {
        if (l > 0) out += ',';
        out += "{\"name\":";
        append_json_string(out, a.layer_names[l]->empty() ? "layer " + std::to_string(l) : *a.layer_names[l]);
        out += ",\"heads\":[";
        for (std::size_t h = 0; h < a.layers[l]->size(); ++h) {
          double lo = 0;
          double hi = 0;
          const std::string bytes = viewer_encode((*a.layers[l])[h], precision, lo, hi);
          if (h > 0) out += ',';
          out += "{\"lo\":" + json_number(lo) + ",\"hi\":" + json_number(hi) + ",\"d\":\"" + base64(bytes) + "\"}";
        }
        out += "]}";
      }
      out += "]}";
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace detail
}  // namespace attn::io
