// SPDX-License-Identifier: MIT
// Part of attn/io/animation.hpp (include that): the frames and options of a training animation,
// their checks, the shared colour scale, and the compact embedding of the maps in the page
// (each map quantised to uint16 or uint8 codes over its own [lo, hi], then base64).
#pragma once

#include "../../config.hpp"
#include "../colormap.hpp"
#include "json.hpp"
#include "png.hpp"
#include "svg_layout.hpp"
#include "text.hpp"

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attn::io {

/// One frame of a training animation: the maps of the watched samples after one epoch or step.
/// \headerfile animation.hpp <attn/io/animation.hpp>
struct AnimationFrame {
  /// The epoch or step number, shown beside the title ("step 300").
  long long step = 0;
  /// Shown above the maps while this frame is on screen (e.g. "epoch 3"); empty: "step N".
  std::string title;
  /// One map per sample (e.g. `Tq×Tk` weights of test sentence k), in the same order in every
  /// frame; sample k has the same shape in every frame (samples may differ from each other).
  std::vector<Matrix<double>> maps;
};

/// How the embedded maps are stored in the page. Each map is quantised over its own
/// [lo, hi] (its smallest and largest finite value): uint16 keeps every value within
/// (hi − lo) / 131064 of the original (65532 steps; 2 bytes a cell, about 2.7 in base64),
/// uint8 within (hi − lo) / 504 (252 steps; 1 byte a cell). NaN, +inf and −inf have codes of
/// their own and come back exactly.
enum class AnimationPrecision { uint16, uint8 };

/// How a training animation looks (the HTML page, and the SVG grid of chosen frames).
/// \headerfile animation.hpp <attn/io/animation.hpp>
struct AnimationOptions {
  std::string title;                       ///< page title and heading; empty: "attention during training"
  std::vector<std::string> sample_titles;  ///< one per sample, or fewer (the rest: "sample k")
  std::vector<std::string> row_labels;     ///< query tokens, for the samples with that many rows
  std::vector<std::string> col_labels;     ///< key tokens, for the samples with that many columns
  std::string truth_title = "truth";       ///< the label of the ground-truth maps
  /// page: the truth beside or under each sample's map (automatic: under a wide map, 1×T)
  PairLayout truth_layout = PairLayout::automatic;
  Colormap colormap = Colormap::viridis;   ///< colour map of every map, truth included
  bool reverse_colormap = false;           ///< high values get the low end of the map
  /// One colour scale for every frame and the truth. Unset: the smallest / largest finite value
  /// of all frames and truth maps (the scale follows as frames are added); the rules of
  /// HeatmapOptions::vmin apply (equal ends, a lone vmin or vmax).
  std::optional<double> vmin;
  /// Upper end of the colour scale (see vmin).
  std::optional<double> vmax;
  std::string colorbar_label = "weight";   ///< the legend's caption; empty: none
  /// Page: pixels per cell, 1..64; 0: cells covering about 240×240 px per map (240/n for n×n),
  /// its long side at most 720 px (a 1×50 row: 14 px cells), 1..24 a cell.
  int cell_size = 0;
  int frame_ms = 600;                      ///< page: milliseconds per frame when playing, 20..60000
  AnimationPrecision precision = AnimationPrecision::uint16;  ///< page: how the maps are embedded
  /// AnimationWriter: write the page again after every add_frame() (so the file always holds
  /// the frames so far, each write atomic), not only on write(). Each write costs the whole page.
  bool write_each_frame = false;
};

namespace detail {

inline std::string animation_shape(const Matrix<double>& m) {
  return std::to_string(m.rows()) + "x" + std::to_string(m.cols());
}

/// Checks one frame against the first frame (`first`, null for the first frame itself) and the
/// truth maps (empty: none).
inline void animation_check_frame(const AnimationFrame& frame, const AnimationFrame* first,
                                  const std::vector<Matrix<double>>& truth, const std::string& who,
                                  const std::string& name) {
  ATTN_CHECK(!frame.maps.empty(), who + ": " + name + ".maps must hold at least one map (one per sample)");
  if (first != nullptr) {
    ATTN_CHECK(frame.maps.size() == first->maps.size(),
               who + ": " + name + " has " + std::to_string(frame.maps.size()) + " maps but the first frame has " +
                   std::to_string(first->maps.size()) + " (one per sample)");
  }
  for (std::size_t k = 0; k < frame.maps.size(); ++k) {
    const Matrix<double>& m = frame.maps[k];
    if (first != nullptr) {
      const Matrix<double>& f = first->maps[k];
      ATTN_CHECK(m.rows() == f.rows() && m.cols() == f.cols(),
                 who + ": " + name + ".maps[" + std::to_string(k) + "] is " + animation_shape(m) + " but sample " +
                     std::to_string(k) + " of the first frame is " + animation_shape(f));
    }
    if (!truth.empty()) {
      ATTN_CHECK(truth.size() == frame.maps.size(),
                 who + ": truth has " + std::to_string(truth.size()) + " maps but the frames have " +
                     std::to_string(frame.maps.size()) + " samples (one truth map per sample, or none)");
      ATTN_CHECK(truth[k].rows() == m.rows() && truth[k].cols() == m.cols(),
                 who + ": truth[" + std::to_string(k) + "] is " + animation_shape(truth[k]) + " but sample " +
                     std::to_string(k) + "'s maps are " + animation_shape(m));
    }
  }
}

/// Labels go on the samples whose maps they fit; labels that fit no sample of `frame` (any frame:
/// every frame has the samples' shapes) are a mistake, not a choice: they would not be drawn.
/// AnimationWriter::add_frame runs this on the first frame, so it fails before training goes on.
inline void animation_check_labels(const AnimationFrame& frame, const AnimationOptions& options, const std::string& who) {
  const auto fits_some = [&](std::size_t n, bool rows) {
    for (const Matrix<double>& m : frame.maps)
      if (static_cast<std::size_t>(rows ? m.rows() : m.cols()) == n) return true;
    return false;
  };
  ATTN_CHECK(options.row_labels.empty() || fits_some(options.row_labels.size(), true),
             who + ": options.row_labels has " + std::to_string(options.row_labels.size()) +
                 " labels but no sample's maps have that many rows (labels go on the samples they fit)");
  ATTN_CHECK(options.col_labels.empty() || fits_some(options.col_labels.size(), false),
             who + ": options.col_labels has " + std::to_string(options.col_labels.size()) +
                 " labels but no sample's maps have that many columns (labels go on the samples they fit)");
}

/// The checks of `options` on their own (AnimationWriter's constructor runs them too, so that
/// a bad setting fails before a training run, not at its first write).
inline void animation_check_options(const AnimationOptions& options, const std::string& who) {
  ATTN_CHECK(options.cell_size >= 0 && options.cell_size <= 64,
             who + ": options.cell_size (" + std::to_string(options.cell_size) + ") must be in [0, 64]");
  ATTN_CHECK(options.frame_ms >= 20 && options.frame_ms <= 60000,
             who + ": options.frame_ms (" + std::to_string(options.frame_ms) + ") must be in [20, 60000]");
  check_scale_ends(options.vmin, options.vmax, who);
}

/// Checks frames, truth and options together (what a page or a grid needs).
inline void animation_check(const std::vector<AnimationFrame>& frames, const std::vector<Matrix<double>>& truth,
                            const AnimationOptions& options, const std::string& who) {
  ATTN_CHECK(!frames.empty(), who + ": there is no frame to show (add one first)");
  for (std::size_t f = 0; f < frames.size(); ++f) {
    animation_check_frame(frames[f], f == 0 ? nullptr : &frames.front(), truth, who,
                          "frames[" + std::to_string(f) + "]");
  }
  animation_check_options(options, who);
  animation_check_labels(frames.front(), options, who);
}

/// The colour scale shared by every frame and truth map (HeatmapOptions' rules).
inline HeatmapScale animation_scale(const std::vector<AnimationFrame>& frames, const std::vector<Matrix<double>>& truth,
                                    const AnimationOptions& options, const std::string& who) {
  static const std::string none;
  static const std::vector<std::string> no_labels;
  std::vector<PanelView> views;
  for (const AnimationFrame& frame : frames)
    for (const Matrix<double>& m : frame.maps) views.push_back({&m, &none, &no_labels, &no_labels});
  for (const Matrix<double>& m : truth) views.push_back({&m, &none, &no_labels, &no_labels});
  HeatmapOptions heatmap;
  heatmap.vmin = options.vmin;
  heatmap.vmax = options.vmax;
  return heatmap_scale(views, heatmap, who.c_str());
}

/// The title of sample `k`.
inline std::string animation_sample_title(const AnimationOptions& options, std::size_t k) {
  return k < options.sample_titles.size() ? options.sample_titles[k] : "sample " + std::to_string(k);
}

/// The title of a frame ("step N" when it has none).
inline std::string animation_frame_title(const AnimationFrame& frame) {
  return frame.title.empty() ? "step " + std::to_string(frame.step) : frame.title;
}

/// The JSON object of one quantised map: {"lo":..,"hi":..,"q":"base64"}. Codes 0..top are
/// lo + code / top · (hi − lo); top + 1 is NaN, top + 2 is −inf, top + 3 is +inf (top = 65532
/// for uint16, little-endian; 252 for uint8).
inline std::string animation_encode(const Matrix<double>& m, AnimationPrecision precision) {
  const bool wide = precision == AnimationPrecision::uint16;
  const double top = wide ? 65532.0 : 252.0;
  const auto code_top = static_cast<unsigned>(top);
  double lo = 0;
  double hi = 0;
  bool any = false;
  for (Index k = 0; k < m.size(); ++k) {
    const double v = m.data()[k];
    if (!std::isfinite(v)) continue;
    lo = any ? std::min(lo, v) : v;
    hi = any ? std::max(hi, v) : v;
    any = true;
  }
  std::string bytes;
  bytes.reserve(static_cast<std::size_t>(m.size()) * (wide ? 2 : 1));
  for (Index i = 0; i < m.rows(); ++i) {
    for (Index j = 0; j < m.cols(); ++j) {  // row-major, whatever the storage order
      const double v = m(i, j);
      unsigned code = 0;
      if (std::isnan(v)) {
        code = code_top + 1;
      } else if (std::isinf(v)) {
        code = v < 0 ? code_top + 2 : code_top + 3;
      } else if (hi > lo) {
        code = static_cast<unsigned>(std::lround(scale_fraction(v, lo, hi) * top));
      }
      bytes.push_back(static_cast<char>(code & 0xFFu));
      if (wide) bytes.push_back(static_cast<char>((code >> 8) & 0xFFu));
    }
  }
  return "{\"lo\":" + json_number(lo) + ",\"hi\":" + json_number(hi) + ",\"q\":\"" + base64(bytes) + "\"}";
}

/// The page's data: everything but text (titles and labels go into escaped HTML elements), as
/// JSON of numbers and base64 only, so it needs no escaping inside the page.
inline std::string animation_json(const std::vector<AnimationFrame>& frames, const std::vector<Matrix<double>>& truth,
                                  const AnimationOptions& options, const HeatmapScale& scale) {
  std::string lut;  // 256 colours of the map, as the SVG heatmap computes them
  for (int k = 0; k < 256; ++k) {
    const double t = k / 255.0;
    const Rgb c = colormap_color(options.colormap, options.reverse_colormap ? 1.0 - t : t);
    lut.push_back(static_cast<char>(c.r));
    lut.push_back(static_cast<char>(c.g));
    lut.push_back(static_cast<char>(c.b));
  }
  const Rgb nan = colormap_color(options.colormap, std::nan(""));
  const ColorbarTicks ticks = colorbar_ticks(scale);  // the SVG colour bar's, ends included
  std::string json = "{\"version\":1,\"vmin\":" + json_number(scale.vmin) + ",\"vmax\":" + json_number(scale.vmax);
  json += ",\"top\":" + std::string(options.precision == AnimationPrecision::uint16 ? "65532" : "252");
  json += ",\"bytes\":" + std::string(options.precision == AnimationPrecision::uint16 ? "2" : "1");
  json += ",\"lut\":\"" + base64(lut) + "\",\"nan\":\"" + css_color(nan) + "\"";
  // Whether a map or truth holds NaN: the legend then names the NaN cells' grey.
  bool any_nan = false;
  for (const AnimationFrame& frame : frames)
    for (const Matrix<double>& m : frame.maps) any_nan = any_nan || m.hasNaN();
  for (const Matrix<double>& m : truth) any_nan = any_nan || m.hasNaN();
  json += ",\"any_nan\":" + std::string(any_nan ? "true" : "false");
  json += ",\"frame_ms\":" + std::to_string(options.frame_ms) + ",\"cell\":" + std::to_string(options.cell_size);
  const Matrix<double>& shape = frames.front().maps.front();
  json += ",\"under\":" + std::string(pair_columns(options.truth_layout, shape.rows(), shape.cols()) == 1 ? "true" : "false");
  json += ",\"ticks\":[";
  for (std::size_t k = 0; k < ticks.values.size(); ++k) json += (k ? "," : "") + json_number(ticks.values[k]);
  json += "],\"tick_ends\":[";
  for (std::size_t k = 0; k < ticks.ends.size(); ++k) json += (k ? "," : "") + std::string(ticks.ends[k] ? "true" : "false");
  json += "],\"samples\":[";
  const AnimationFrame& first = frames.front();
  for (std::size_t k = 0; k < first.maps.size(); ++k) {
    const Matrix<double>& m = first.maps[k];
    json += std::string(k ? "," : "") + "{\"rows\":" + std::to_string(m.rows()) + ",\"cols\":" + std::to_string(m.cols()) +
            ",\"row_labels\":" + (static_cast<Index>(options.row_labels.size()) == m.rows() ? "true" : "false") +
            ",\"col_labels\":" + (static_cast<Index>(options.col_labels.size()) == m.cols() ? "true" : "false") +
            ",\"truth\":" + (truth.empty() ? std::string("null") : animation_encode(truth[k], options.precision)) + "}";
  }
  json += "],\"frames\":[";
  for (std::size_t f = 0; f < frames.size(); ++f) {
    json += f ? ",[" : "[";
    for (std::size_t k = 0; k < frames[f].maps.size(); ++k) {
      json += (k ? "," : "") + animation_encode(frames[f].maps[k], options.precision);
    }
    json += "]";
  }
  json += "]}";
  return json;
}

/// The labels of the legend's ticks (as the SVG colour bar writes them, ends included).
inline std::vector<std::string> animation_tick_labels(const HeatmapScale& scale) { return colorbar_ticks(scale).texts; }

}  // namespace detail
}  // namespace attn::io
