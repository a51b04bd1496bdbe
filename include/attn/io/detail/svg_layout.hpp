// SPDX-License-Identifier: MIT
// Part of attn/io/svg.hpp (include that): heatmap options and panels, the shared colour scale
// with its ticks, and the layout of maps, labels and colour bar (sizes in SVG pixels).
#pragma once

#include "../../config.hpp"
#include "../../mask.hpp"
#include "../colormap.hpp"
#include "text.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attn::io {

/// How the cells of a heatmap are drawn. Vector cells are one `<rect>` each, with a tooltip
/// (`<title>`: row label → column label: weight) and optional printed values; raster cells are
/// one embedded PNG with a pixel per cell, drawn unsmoothed (`image-rendering: pixelated`),
/// which keeps a 500×500 map near 1 MB instead of tens of MB. `automatic` rasterises maps with
/// more than HeatmapOptions::raster_threshold cells.
enum class HeatmapRaster { automatic, never, always };

/// Where a heatmap's row 0 is drawn: at the top (`upper`, a matrix as printed, matplotlib's
/// `imshow` default) or at the bottom (`lower`, `imshow(origin='lower')`: the speech community's
/// alignment plots, `imshow(alignment.T, origin='lower')`, with the encoder steps going up).
enum class HeatmapOrigin { upper, lower };

/// Where the second map of write_heatmap_pair_svg() (or an animation's truth) goes.
enum class PairLayout {
  beside,
  under,
  /// under a wide map (at least 4 times as many columns as rows: a 1×T strip, which side by side
  /// makes a picture far wider than tall), beside the others
  automatic,
};

namespace detail {

/// Whether a rows×cols map is wide: at least 4 times as many columns as rows (a 1×T strip).
/// Wide maps go one under another in pairs (PairLayout::automatic) and animation grids.
inline bool is_wide_map(Index rows, Index cols) { return cols > 1 && cols >= 4 * rows; }

/// Maps per row of a pair whose first map is rows×cols under `layout`: 2 beside, 1 under.
inline Index pair_columns(PairLayout layout, Index rows, Index cols) {
  if (layout == PairLayout::automatic) return is_wide_map(rows, cols) ? 1 : 2;
  return layout == PairLayout::beside ? 2 : 1;
}

}  // namespace detail

/// How a heatmap looks. Defaults fit a sentence-sized map; every size is in SVG pixels.
/// \headerfile svg.hpp <attn/io/svg.hpp>
struct HeatmapOptions {
  std::string title;                    ///< above the map(s); empty: none
  std::vector<std::string> row_labels;  ///< one per row (query tokens, left side), or empty
  std::vector<std::string> col_labels;  ///< one per column (key tokens, top, rotated), or empty
  std::string row_axis_title;           ///< e.g. "target" (left of the row labels); empty: none
  std::string col_axis_title;           ///< e.g. "source" (above the column labels); empty: none
  /// Colour map of the cells and the colour bar (default viridis).
  Colormap colormap = Colormap::viridis;
  bool reverse_colormap = false;        ///< high values get the low end of the map
  /// Colour scale ends. Unset: the smallest / largest finite value of all maps drawn; when
  /// they are equal, the scale becomes [0, v] (or [v, 0], or [0, 1] for 0). A lone vmin at or
  /// above every value gives [vmin, vmin + |vmin|] (a lone vmax likewise), capped at the
  /// largest double. Values outside the scale take the end colours; NaN cells are light grey
  /// (crossed out where the map is drawn as vectors), and the legend under the colour bar then
  /// shows a "NaN" swatch (as it shows a "masked" one for hatched cells).
  std::optional<double> vmin;
  /// Upper end of the colour scale (see vmin).
  std::optional<double> vmax;
  bool colorbar = true;                 ///< draw the colour bar with its ticks
  std::string colorbar_label;           ///< e.g. "weight", beside the colour bar; empty: none
  /// One colour scale for every map of a grid or pair (true, the default: colours compare across
  /// maps), or false: each map its own, from its own smallest to largest value (vmin / vmax,
  /// where set, still fix that end of every map's scale: vmin = 0 gives each map 0 to its
  /// largest weight, prompt-to-prompt's per-token maps), with a colour bar of its own right of
  /// the map. A single map has one scale either way; the shared scale's colour bar runs beside
  /// the grid from the first row of maps' top to the last row's foot.
  bool shared_scale = true;
  bool show_values = false;             ///< print each value in its cell (vector cells big enough)
  int value_decimals = 2;               ///< decimals of printed values, 0..10
  double max_map_size = 720;            ///< the maps together span at most this along each axis
  double max_cell_size = 32;            ///< cells are squares of at most this side
  double font_size = 12;                ///< labels and ticks; the title is 1.4 times larger
  /// Font family of the picture's text, a CSS font-family list, e.g. "Times New Roman, serif"
  /// to match a paper. Text is laid out for DejaVu Sans' widths: a narrower font leaves more room.
  std::string font_family = "DejaVu Sans, Verdana, Arial, sans-serif";
  /// Labels wider than this many character cells are cut with "…" (the full label stays in
  /// its tooltip); 0: never cut.
  std::size_t max_label_length = 24;
  /// Vector or raster cells (default: raster above raster_threshold cells).
  HeatmapRaster raster = HeatmapRaster::automatic;
  Index raster_threshold = 16384;       ///< automatic: raster above this many cells per map
  Index grid_columns = 0;               ///< maps per row of a grid; 0: the grid closest to square
  /// Row 0 at the top (the default) or at the bottom (HeatmapOrigin::lower): rows, their labels,
  /// index ticks, printed values and leaked-mass bars go up from the bottom; columns are
  /// unchanged. For the speech convention (decoder steps along x, encoder steps up the y axis),
  /// draw the transposed weights (`w.transpose()`, an Eigen expression) with `lower`.
  HeatmapOrigin origin = HeatmapOrigin::upper;
  /// Prefix of the element ids (colour-bar gradient, hatch pattern): give each SVG inlined in
  /// one HTML page its own, or the second picture's colour bar points at the first one's.
  std::string id_prefix = "attn";
  /// Index numbers (nice steps: 0, 5, 10 … or 0, 50, 100 …) along an axis that has no labels,
  /// as matplotlib's imshow shows them.
  bool index_ticks = true;
  /// Each drawn row (column) stands for this many rows (columns) of a larger map, as a pooled
  /// map's cells do (attn-plot --pool): the index ticks then count the larger map's rows and
  /// columns (0, 1000, 2000 …), each at the drawn cell that holds it. >= 1.
  Index index_block_rows = 1;
  Index index_block_cols = 1;  ///< as index_block_rows, for columns
  /// Which cells were masked: cells the mask hides are drawn hatched (not in a colour of the
  /// scale) and the legend says "masked". Default: nothing hidden, nothing hatched. Must fit
  /// every map drawn (attn::invalid_argument otherwise); a grid panel's own mask overrides it.
  Mask mask;
  /// Mass that ran past the last key, one value per row (monotonic attention's `leaked`, in
  /// [0, 1]), or empty: drawn as a bar per row in a "leaked" column right of the map.
  Eigen::VectorXd leaked_mass;
  /// Only the `<svg>` element, without the `<?xml …?>` prolog: to paste into an HTML page.
  bool fragment = false;
};

/// One map of a grid: its values (`rows×cols`), its title, and its labels (empty: the grid's
/// HeatmapOptions::row_labels / col_labels when their sizes fit this map, else none).
/// \headerfile svg.hpp <attn/io/svg.hpp>
struct HeatmapPanel {
  /// rows×cols values, e.g. weights Tq×Tk.
  Matrix<double> values;
  /// Drawn above this map (cut to 40 columns with "…", whole in its tooltip; the panel widens
  /// to hold it); empty: none.
  std::string title;
  /// One per row, or empty.
  std::vector<std::string> row_labels;
  /// One per column, or empty.
  std::vector<std::string> col_labels;
  // (Default member initializers: `HeatmapPanel{values, title, {}, {}}` stays warning-free.)
  /// Masked cells of this map (drawn hatched); unset: HeatmapOptions::mask.
  std::optional<Mask> mask = std::nullopt;
  /// Leaked mass per row of this map (see HeatmapOptions::leaked_mass); empty: none.
  Eigen::VectorXd leaked_mass = Eigen::VectorXd();
};

namespace detail {

struct HeatmapScale {
  double vmin = 0;
  double vmax = 1;
};

struct PanelView {
  const Matrix<double>* values;
  const std::string* title;
  const std::vector<std::string>* row_labels;  // empty vector: none
  const std::vector<std::string>* col_labels;
  const Mask* mask = nullptr;               // null or all visible: nothing hatched
  const Eigen::VectorXd* leaked = nullptr;  // null or empty: no leaked-mass column
};

inline double svg_char_width(double font) { return 0.6 * font; }

/// Width of a bold title of `font` px: bold glyphs are about 0.7 em wide, not 0.6.
inline double bold_title_width(const std::string& title, double font) {
  return static_cast<double>(display_width(title)) * 0.7 * font;
}

/// Tick values of a colour bar over [lo, hi] (finite, lo < hi), and the decimals of their
/// labels (-1: the shortest "%g" form that tells them apart, see tick_labels). The ticks step by
/// 1, 2, 2.5 or 5 × 10^k, three to seven of them (two when the smaller step is lost in
/// rounding), in fixed notation while that stays short (up to 6
/// decimals, below 1e9). When no such step works (a span in the subnormal range such as
/// [0, 5e-324], or one so narrow that adding the step leaves the value unchanged), the ticks are
/// the two ends. Spans wider than the largest double (±1.8e308) are fine.
inline std::vector<double> nice_ticks(double lo, double hi, int& decimals) {
  decimals = 0;
  if (!(lo < hi) || !std::isfinite(lo) || !std::isfinite(hi)) return {std::isfinite(lo) ? lo : 0.0};
  const std::vector<double> ends{lo, hi};
  const double span = hi - lo;
  const double raw = std::isfinite(span) ? span / 4.0 : hi / 4.0 - lo / 4.0;
  if (!(raw >= 1e-300)) {
    decimals = -1;
    return ends;
  }
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));  // 1e-300 to 1e307
  static constexpr double multiples[] = {0.5, 1.0, 2.0, 2.5, 5.0, 10.0};  // × magnitude
  int chosen = 1;
  while (chosen < 5 && multiples[chosen] * magnitude < raw) ++chosen;
  // step <= 2·raw = span/2: at least two ticks. lo/step is finite: the span is at least an ulp of lo.
  // The multiples of `step` in [lo, hi], at most 8; false when the step is lost in rounding.
  const auto ticks_of = [lo, hi](double step, std::vector<double>& ticks) {
    ticks.clear();
    const double first = std::ceil(lo / step - 1e-9);  // in steps
    for (int k = 0; k < 8; ++k) {
      double t = (first + k) * step;  // (not first·step + k·step: k·step may overflow on its own)
      if (!std::isfinite(t) || t - hi > step * 1e-9) break;  // (hi + step·1e-9 may overflow)
      if (std::abs(t) < step * 1e-9) t = 0.0;
      if (!ticks.empty() && !(t > ticks.back())) return false;
      ticks.push_back(t);
    }
    return true;
  };
  double step = multiples[chosen] * magnitude;
  std::vector<double> ticks;
  if (!ticks_of(step, ticks)) {
    decimals = -1;
    return ends;
  }
  // Two ticks inside the span leave its ends unread (0.05 and 0.10 on [2e-5, 0.136]): then the
  // next smaller step, which gives 3 to 7 (span < 3·step, and the steps shrink by 2.5 at most).
  std::vector<double> finer;
  if (ticks.size() == 2 && ticks_of(multiples[chosen - 1] * magnitude, finer) && finer.size() >= 3) {
    step = multiples[chosen - 1] * magnitude;
    ticks = std::move(finer);
  }
  if (ticks.size() < 2) {
    decimals = -1;
    return ends;
  }
  int fixed = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  if (std::abs(step / std::pow(10.0, -fixed) - std::round(step / std::pow(10.0, -fixed))) > 1e-6) ++fixed;
  const double largest = std::max(std::abs(ticks.front()), std::abs(ticks.back()));
  decimals = fixed <= 6 && largest < 1e9 ? fixed : -1;
  return ticks;
}

/// The ticks of a colour bar over a scale, as drawn.
struct ColorbarTicks {
  std::vector<double> values;
  std::vector<std::string> texts;
  std::vector<bool> ends;  // a tick at an end of the scale that is no nice number (drawn in any case)
  std::size_t chars = 1;   // of the widest text
};
/// Nice ticks over the scale and, at an end that no nice tick is near (within 5 % of the span),
/// that end itself (in the ticks' format, or to 3 or more significant digits, as few as read
/// back within 0.1 % of the span): a bar over weights from 0.00197 to 0.408 reads
/// "0.00197" at its foot, not an unlabelled stretch below "0.1" (matplotlib leaves the ends
/// unlabelled; three users of attn-plot asked where the scale began). svg_colorbar leaves out the
/// nice ticks that would overlap an end's text.
inline ColorbarTicks colorbar_ticks(const HeatmapScale& scale) {
  ColorbarTicks ticks;
  int decimals = 0;
  ticks.values = nice_ticks(scale.vmin, scale.vmax, decimals);
  ticks.texts = tick_labels(ticks.values, decimals);
  ticks.ends.assign(ticks.values.size(), false);
  const double span = scale.vmax - scale.vmin;
  if (decimals >= 0 && std::isfinite(span) && span > 0 && ticks.values.size() >= 2) {
    const auto add_end = [&](double end, bool foot) {
      const double nearest = foot ? ticks.values.front() : ticks.values.back();
      if (!(std::abs(nearest - end) > 0.05 * span)) return;
      // In the ticks' own format where it reads back within 0.1 % of the span ("1.0" beside
      // "0.8", "0.0" for 1.02e-05 on a scale to 1), else to 3 significant digits ("0.00197").
      std::string text = format_number(end, decimals);
      // (More digits where 3 do not read back either: 0.9990552 on [0.9990552, 0.9999803] is
      // "0.9990552", not "0.999", which lies beyond the first nice tick.)
      for (int digits = 3; !reads_back(text, end, 0.001 * span) && digits <= 17; ++digits)
        text = format_significant(end, digits);
      if (text == (foot ? ticks.texts.front() : ticks.texts.back())) return;
      const auto at = static_cast<std::ptrdiff_t>(foot ? 0 : ticks.values.size());
      ticks.values.insert(ticks.values.begin() + at, end);
      ticks.texts.insert(ticks.texts.begin() + at, text);
      ticks.ends.insert(ticks.ends.begin() + at, true);
    };
    add_end(scale.vmin, true);
    add_end(scale.vmax, false);
  }
  for (const std::string& t : ticks.texts) ticks.chars = std::max(ticks.chars, t.size());
  return ticks;
}

inline HeatmapScale heatmap_scale(const std::vector<PanelView>& panels, const HeatmapOptions& options, const char* who) {
  check_scale_ends(options.vmin, options.vmax, who);
  if (options.vmin && options.vmax) return {*options.vmin, *options.vmax};
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  for (const PanelView& panel : panels) {
    const Matrix<double>& m = *panel.values;
    const bool masked = panel.mask != nullptr && !panel.mask->is_all_visible();  // masked cells do not set the scale (seaborn)
    for (Index j = 0; j < m.cols(); ++j) {
      for (Index i = 0; i < m.rows(); ++i) {
        const double v = m(i, j);
        if (std::isfinite(v) && (!masked || panel.mask->visible(i, j, m.cols()))) {
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
      }
    }
  }
  if (options.vmin) lo = *options.vmin;
  if (options.vmax) hi = *options.vmax;
  if (!std::isfinite(lo) && !std::isfinite(hi)) return {0.0, 1.0};
  if (!std::isfinite(lo)) lo = std::min(0.0, hi - 1.0);
  if (!std::isfinite(hi)) hi = std::max(1.0, lo + 1.0);
  if (lo < hi) return {lo, hi};
  if (options.vmin) return {lo, scale_other_end(lo, true, who, "options.vmin")};
  if (options.vmax) return {scale_other_end(hi, false, who, "options.vmax"), hi};
  if (lo > 0) return {0.0, lo};
  if (lo < 0) return {lo, 0.0};
  return {0.0, 1.0};
}

inline Rgb heatmap_color(double v, const HeatmapScale& scale, const HeatmapOptions& options) {
  if (std::isnan(v)) return colormap_color(options.colormap, v);
  double t = scale_fraction(v, scale.vmin, scale.vmax);  // ±inf for ±inf: clamped by colormap_color
  if (options.reverse_colormap) t = 1.0 - t;
  return colormap_color(options.colormap, t);
}

/// Geometry shared by all panels of one picture (they use one cell size and one panel box).
struct HeatmapLayout {
  double font = 12;
  double cell = 32;
  double label_font = 12;
  Index label_step = 1;
  double value_font = 0;  // 0: values not printed
  double row_axis_width = 0;
  double col_axis_height = 0;
  double panel_title_height = 0;
  double row_label_width = 0;
  double col_label_height = 0;
  double box_width = 0;
  double box_height = 0;
  double map_width = 0;   // of the largest panel
  double map_height = 0;
  Index grid_columns = 1;
  Index grid_rows = 1;
  double tick_font = 10.8;  // index numbers
  // The drawn lengths (along the text) of the axis titles and the colour bar's label, 0 when
  // there is none: the layout sizes the panels and the picture by them, the drawing places the
  // texts by them (one source for both).
  double col_title_length = 0;
  double row_title_length = 0;
  double colorbar_label_length = 0;
  double leak_width = 0;    // the leaked-mass column, 0: none
  bool any_masked = false;
  bool any_nan = false;          // a cell its mask shows holds NaN: the legend explains the grey
  bool any_crossed_nan = false;  // ... in a map drawn as vectors, where NaN cells are also crossed
};

/// Most display columns of a panel title: a longer one is cut (start and "…"; its tooltip has it
/// whole), and each panel is widened to hold its title, so that titles never overlap their
/// neighbours' nor leave the picture.
constexpr std::size_t panel_title_chars = 40;

/// The width of panel title `title` as drawn (cut to panel_title_chars, bold, 1.1 × `font`).
inline double panel_title_width(const std::string& title, double font) {
  return title.empty() ? 0 : bold_title_width(truncated(title, panel_title_chars), font * 1.1) + 4;
}

/// Smallest font of token labels: below it, labels are thinned out (every k-th), not shrunk.
inline double min_label_font(double font) { return std::min(9.0, font); }

/// Length along its baseline of an axis title or colour bar label in `font` pixels
/// (svg_char_width per character cell), plus a little room at either end; 0 for none.
inline double axis_title_length(const std::string& title, double font) {
  return title.empty() ? 0 : static_cast<double>(display_width(title)) * svg_char_width(font) + 4;
}

/// Where the axis titles of a bar chart, histogram or alignment go: the y title (rotated)
/// centred beside the plots [top, bottom], or, longer than they are tall, running down from
/// their top; the x title centred under [left, right], or, longer than they are wide, starting
/// at the margin. `reach_right` and `reach_down`: how far they reach, which the picture must
/// hold (a paper's long titles were cut).
struct AxisTitles {
  double y_centre = 0;
  double x_centre = 0;
  double reach_right = 0;
  double reach_down = 0;
};
inline AxisTitles place_axis_titles(const std::string& y_title, double top, double bottom, const std::string& x_title,
                                    double left, double right, double font, double margin) {
  const double y_length = axis_title_length(y_title, font);
  const double x_length = axis_title_length(x_title, font);
  AxisTitles t;
  t.y_centre = std::max((top + bottom) / 2, top + y_length / 2);
  t.reach_down = t.y_centre + y_length / 2;
  t.x_centre = std::max((left + right) / 2, margin + x_length / 2);
  t.reach_right = t.x_centre + x_length / 2;
  return t;
}

/// Without labels, each map of a grid is at least this many pixels along its longer side.
inline constexpr double min_panel_map_size = 160;

/// Index ticks for `count` rows or columns, matplotlib-like: whole steps of 1, 2 or 5 × 10^k,
/// at most six ticks, starting at 0.
inline std::vector<Index> index_ticks(Index count) {
  std::vector<Index> ticks;
  if (count <= 0) return ticks;
  const Index raw = (count - 1 + 4) / 5;  // ceil((count - 1) / 5): at most six ticks
  Index step = 1;
  for (Index magnitude = 1; step < raw; magnitude *= 10) {
    for (const Index m : {1, 2, 5, 10}) {
      step = m * magnitude;
      if (step >= raw) break;
    }
  }
  for (Index t = 0; t < count; t += step) ticks.push_back(t);
  return ticks;
}

/// Index ticks for `count` drawn rows or columns that each stand for `block` of a larger map
/// (HeatmapOptions::index_block_rows): the larger map's indices, up to the last block's first
/// (the last block may be partial; its first index the larger map surely has).
inline std::vector<Index> index_ticks(Index count, Index block) { return index_ticks((count - 1) * block + 1); }

/// True when the panel has a mask that hides at least one of its cells.
inline bool panel_has_masked_cell(const PanelView& p) {
  if (p.mask == nullptr || p.mask->is_all_visible()) return false;
  const Mask& mask = *p.mask;
  const Matrix<double>& m = *p.values;
  for (Index i = 0; i < m.rows(); ++i)
    for (Index j = 0; j < m.cols(); ++j)
      if (!mask.visible(i, j, m.cols())) return true;
  return false;
}

/// True when a cell of the panel that its mask shows holds NaN (drawn light grey, crossed when
/// the map is drawn as vectors).
inline bool panel_has_nan_cell(const PanelView& p) {
  const Matrix<double>& m = *p.values;
  const bool all_visible = p.mask == nullptr || p.mask->is_all_visible();
  for (Index j = 0; j < m.cols(); ++j)
    for (Index i = 0; i < m.rows(); ++i)
      if (std::isnan(m(i, j)) && (all_visible || p.mask->visible(i, j, m.cols()))) return true;
  return false;
}

/// Whether a map of `rows×cols` cells is drawn as one embedded image rather than a rectangle a cell.
inline bool heatmap_raster(Index rows, Index cols, const HeatmapOptions& options) {
  return options.raster == HeatmapRaster::always ||
         (options.raster == HeatmapRaster::automatic && rows * cols > options.raster_threshold);
}

inline const std::vector<std::string>& panel_labels(const std::vector<std::string>& own,
                                                    const std::vector<std::string>& shared, Index count) {
  static const std::vector<std::string> none;
  if (!own.empty()) return own;
  if (static_cast<Index>(shared.size()) == count) return shared;
  return none;
}

inline std::size_t max_shown_label_width(const std::vector<std::string>& labels, Index step, std::size_t max_length) {
  std::size_t widest = 0;
  for (std::size_t i = 0; i < labels.size(); i += static_cast<std::size_t>(step)) {
    widest = std::max(widest, display_width(truncated(labels[i], max_length)));
  }
  return widest;
}

// The default number of maps per row of a grid: the one whose grid of cells (n maps of
// map_rows x map_cols cells each) is closest to square, ties to more columns (screens are wider
// than tall). For square maps that is ceil(sqrt(n)), as before 0.15.0; 1xT maps (a many-to-one
// layer's weights, one per epoch) go one under another, Tx1 maps side by side.
inline Index squarest_grid_columns(Index n, Index map_rows, Index map_cols) {
  Index best = 1;
  double best_long = 0;  // the best grid's longer side over its shorter, as best_long / best_short
  double best_short = 1;
  for (Index c = 1; c <= n; ++c) {
    const Index r = (n + c - 1) / c;
    const double across = static_cast<double>(c) * static_cast<double>(map_cols);
    const double down = static_cast<double>(r) * static_cast<double>(map_rows);
    const double longer = std::max(across, down);
    const double shorter = std::min(across, down);
    // longer / shorter <= best_long / best_short, compared without dividing (exact for the
    // integers here, so equal shapes tie)
    if (c == 1 || longer * best_short <= best_long * shorter) {
      best = c;
      best_long = longer;
      best_short = shorter;
    }
  }
  return best;
}

inline HeatmapLayout heatmap_layout(const std::vector<PanelView>& panels, const HeatmapOptions& options) {
  HeatmapLayout layout;
  layout.font = options.font_size;
  layout.tick_font = options.font_size * 0.9;
  const auto n = static_cast<Index>(panels.size());
  Index max_rows = 1;
  Index max_cols = 1;
  for (const PanelView& p : panels) {
    max_rows = std::max(max_rows, p.values->rows());
    max_cols = std::max(max_cols, p.values->cols());
  }
  layout.grid_columns = options.grid_columns > 0 ? std::min(options.grid_columns, n)
                                                 : squarest_grid_columns(n, max_rows, max_cols);
  layout.grid_columns = std::max<Index>(layout.grid_columns, 1);
  layout.grid_rows = std::max<Index>(1, (n + layout.grid_columns - 1) / layout.grid_columns);

  bool any_labels = false;
  bool any_leak = false;
  for (const PanelView& p : panels) {
    any_labels = any_labels || !p.row_labels->empty() || !p.col_labels->empty();
    any_leak = any_leak || (p.leaked != nullptr && p.leaked->size() > 0);
    layout.any_masked = layout.any_masked || panel_has_masked_cell(p);
    if (panel_has_nan_cell(p)) {
      layout.any_nan = true;
      layout.any_crossed_nan = layout.any_crossed_nan || !heatmap_raster(p.values->rows(), p.values->cols(), options);
    }
  }
  const double across = static_cast<double>(max_cols * layout.grid_columns);
  const double down = static_cast<double>(max_rows * layout.grid_rows);
  const double longest = static_cast<double>(std::max(max_rows, max_cols));
  layout.cell = std::min({options.max_cell_size, options.max_map_size / across, options.max_map_size / down});
  if (n > 1) {
    // A grid grows past max_map_size rather than shrink its labels below min_label_font (or,
    // without labels, its maps below min_panel_map_size); one map never exceeds max_map_size.
    const double per_panel = std::min({options.max_cell_size, options.max_map_size / static_cast<double>(max_cols),
                                       options.max_map_size / static_cast<double>(max_rows)});
    const double wanted = any_labels ? min_label_font(layout.font) * 1.15 : min_panel_map_size / longest;
    layout.cell = std::max(layout.cell, std::min(wanted, per_panel));
  }

  // Labels: as large as the font allows, but never larger than a cell; when a cell is smaller
  // than a min_label_font label, show every `label_step`-th label only.
  layout.label_font = std::clamp(layout.cell / 1.15, min_label_font(layout.font), layout.font);
  layout.label_step = std::max<Index>(1, static_cast<Index>(std::ceil(layout.label_font * 1.15 / layout.cell - 1e-9)));

  std::size_t row_width = 0;
  std::size_t col_width = 0;
  std::size_t row_tick_chars = 0;
  bool col_ticks = false;
  bool any_title = false;
  double title_width = 0;  // the widest panel title as drawn
  for (const PanelView& p : panels) {
    row_width = std::max(row_width, max_shown_label_width(*p.row_labels, layout.label_step, options.max_label_length));
    col_width = std::max(col_width, max_shown_label_width(*p.col_labels, layout.label_step, options.max_label_length));
    if (options.index_ticks && p.row_labels->empty() && p.values->rows() > 0) {
      row_tick_chars = std::max(
          row_tick_chars,
          std::to_string(index_ticks(p.values->rows(), options.index_block_rows).back()).size());
    }
    col_ticks = col_ticks || (options.index_ticks && p.col_labels->empty() && p.values->cols() > 0);
    any_title = any_title || !p.title->empty();
    title_width = std::max(title_width, panel_title_width(*p.title, layout.font));
  }
  const double cw = svg_char_width(layout.label_font);
  layout.row_label_width = row_width > 0 ? static_cast<double>(row_width) * cw + 6 : 0;
  layout.row_label_width = std::max(layout.row_label_width,
                                    row_tick_chars > 0 ? static_cast<double>(row_tick_chars) * svg_char_width(layout.tick_font) + 8 : 0.0);
  layout.col_label_height = col_width > 0 ? static_cast<double>(col_width) * cw + 6 : 0;
  if (col_ticks) layout.col_label_height = std::max(layout.col_label_height, layout.tick_font + 8);
  if (any_leak) {
    layout.leak_width = std::clamp(3 * layout.cell, 24.0, 48.0) + 6;
    layout.col_label_height = std::max(layout.col_label_height, 6 * svg_char_width(layout.tick_font) + 6);  // "leaked"
  }
  layout.row_axis_width = options.row_axis_title.empty() ? 0 : layout.font * 1.2 + 4;
  layout.col_axis_height = options.col_axis_title.empty() ? 0 : layout.font * 1.2 + 4;
  layout.panel_title_height = any_title ? layout.font * 1.1 * 1.3 + 6 : 0;

  // Printed values: the widest value must fit a cell; the font shrinks down to 6 px, below that
  // values are left out (the tooltips still have them).
  if (options.show_values) {
    std::size_t widest = 1;
    for (const PanelView& p : panels) {
      const Matrix<double>& m = *p.values;
      for (Index k = 0; k < m.size(); ++k) {
        widest = std::max(widest, format_number(m.data()[k], options.value_decimals).size());
      }
    }
    const double fit = (layout.cell - 3) / (0.6 * static_cast<double>(widest));
    const double value_font = std::min({layout.font, layout.cell * 0.45, fit});
    layout.value_font = value_font >= 6 ? value_font : 0;
  }

  layout.map_width = layout.cell * static_cast<double>(max_cols);
  layout.map_height = layout.cell * static_cast<double>(max_rows);
  const double gap = n > 1 ? 18 : 0;
  layout.box_width = layout.row_axis_width + layout.row_label_width + layout.map_width + layout.leak_width + gap;
  // A title centred over the map (or moved right to start at the panel's left edge: a map of a
  // few pixels is narrower than its title) must end inside the panel (svg_panel places it so):
  // the column axis title and the widest panel title.
  const auto hold_title = [&](double title) {
    const double left = layout.row_axis_width + layout.row_label_width;
    layout.box_width = std::max(layout.box_width, std::max(title, left + layout.map_width / 2 + title / 2) + gap);
  };
  layout.col_title_length = axis_title_length(options.col_axis_title, layout.font);
  layout.row_title_length = axis_title_length(options.row_axis_title, layout.font);
  layout.colorbar_label_length = options.colorbar ? axis_title_length(options.colorbar_label, layout.font) : 0;
  if (layout.col_title_length > 0) hold_title(layout.col_title_length);
  if (title_width > 0) hold_title(title_width);
  layout.box_height = layout.panel_title_height + layout.col_axis_height + layout.col_label_height + layout.map_height +
                      (any_leak ? layout.tick_font + 4 : 0) + gap;  // (the leaked column's "0" and "1" under it)
  // A row axis title longer than the map is tall runs down from under the panel's title (svg_panel
  // places it so); a map's own colour bar's label, longer than its bar, down from the bar's top.
  layout.box_height = std::max(layout.box_height, layout.panel_title_height + layout.row_title_length + gap);
  if (!options.shared_scale && n > 1)  // (each map has its own bar)
    layout.box_height = std::max(layout.box_height, layout.panel_title_height + layout.col_axis_height +
                                                        layout.col_label_height + layout.colorbar_label_length + gap);
  return layout;
}
}  // namespace detail
}  // namespace attn::io
