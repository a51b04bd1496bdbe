// SPDX-License-Identifier: MIT
// SVG heatmaps of attention weights: a `Tq×Tk` map (rows = queries, top to bottom; columns =
// keys, left to right) with token labels, a colour bar and a title; a grid of maps sharing one
// colour scale (heads × layers, epochs); a pair of maps (ground truth beside attention).
#pragma once

#include "../config.hpp"
#include "colormap.hpp"
#include "detail/png.hpp"
#include "detail/text.hpp"
#include "detail/write_file.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <ostream>
#include <stdexcept>
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

/// Where the second map of write_heatmap_pair_svg() goes.
enum class PairLayout { beside, under };

/// How a heatmap looks. Defaults fit a sentence-sized map; every size is in SVG pixels.
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
  /// and crossed out.
  std::optional<double> vmin;
  /// Upper end of the colour scale (see vmin).
  std::optional<double> vmax;
  bool colorbar = true;                 ///< draw the colour bar with its ticks
  std::string colorbar_label;           ///< e.g. "weight", beside the colour bar; empty: none
  bool show_values = false;             ///< print each value in its cell (vector cells big enough)
  int value_decimals = 2;               ///< decimals of printed values, 0..10
  double max_map_size = 720;            ///< the maps together span at most this along each axis
  double max_cell_size = 32;            ///< cells are squares of at most this side
  double font_size = 12;                ///< labels and ticks; the title is 1.4 times larger
  /// Labels wider than this many character cells are cut with "…" (the full label stays in
  /// its tooltip); 0: never cut.
  std::size_t max_label_length = 24;
  /// Vector or raster cells (default: raster above raster_threshold cells).
  HeatmapRaster raster = HeatmapRaster::automatic;
  Index raster_threshold = 16384;       ///< automatic: raster above this many cells per map
  Index grid_columns = 0;               ///< maps per row of a grid; 0: ceil(sqrt(number of maps))
  std::string id_prefix = "attn";       ///< prefix of element ids (distinct SVGs inlined in one page)
};

/// One map of a grid: its values (`rows×cols`), its title, and its labels (empty: the grid's
/// HeatmapOptions::row_labels / col_labels when their sizes fit this map, else none).
struct HeatmapPanel {
  /// rows×cols values, e.g. weights Tq×Tk.
  Matrix<double> values;
  /// Drawn above this map; empty: none.
  std::string title;
  /// One per row, or empty.
  std::vector<std::string> row_labels;
  /// One per column, or empty.
  std::vector<std::string> col_labels;
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
};

inline double svg_char_width(double font) { return 0.6 * font; }

/// Tick values of a colour bar over [lo, hi] (finite, lo < hi), and the decimals of their
/// labels (-1: the shortest "%g" form that tells them apart, see tick_labels). The ticks step by
/// 1, 2, 2.5 or 5 × 10^k, two to six of them, in fixed notation while that stays short (up to 6
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
  double step = magnitude;
  for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  // step <= 2·raw = span/2: at least two ticks. lo/step is finite: the span is at least an ulp of lo.
  std::vector<double> ticks;
  const double first = std::ceil(lo / step - 1e-9);  // in steps
  for (int k = 0; k < 8; ++k) {
    double t = (first + k) * step;  // (not first·step + k·step: k·step may overflow on its own)
    if (!std::isfinite(t) || t - hi > step * 1e-9) break;  // (hi + step·1e-9 may overflow)
    if (std::abs(t) < step * 1e-9) t = 0.0;
    if (!ticks.empty() && !(t > ticks.back())) {  // the step is lost in rounding
      decimals = -1;
      return ends;
    }
    ticks.push_back(t);
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

inline HeatmapScale heatmap_scale(const std::vector<PanelView>& panels, const HeatmapOptions& options, const char* who) {
  ATTN_CHECK(!options.vmin || std::isfinite(*options.vmin),
             std::string(who) + ": options.vmin (" + format_number(*options.vmin, -1) + ") must be finite");
  ATTN_CHECK(!options.vmax || std::isfinite(*options.vmax),
             std::string(who) + ": options.vmax (" + format_number(*options.vmax, -1) + ") must be finite");
  if (options.vmin && options.vmax) {
    ATTN_CHECK(*options.vmin < *options.vmax, std::string(who) + ": options.vmin (" +
                                                  format_number(*options.vmin, -1) +
                                                  ") must be less than options.vmax (" +
                                                  format_number(*options.vmax, -1) + ")");
    return {*options.vmin, *options.vmax};
  }
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  for (const PanelView& panel : panels) {
    const Matrix<double>& m = *panel.values;
    for (Index k = 0; k < m.size(); ++k) {
      const double v = m.data()[k];
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
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
};

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

inline HeatmapLayout heatmap_layout(const std::vector<PanelView>& panels, const HeatmapOptions& options) {
  HeatmapLayout layout;
  layout.font = options.font_size;
  const auto n = static_cast<Index>(panels.size());
  layout.grid_columns = options.grid_columns > 0 ? std::min(options.grid_columns, n)
                                                 : static_cast<Index>(std::ceil(std::sqrt(static_cast<double>(n))));
  layout.grid_columns = std::max<Index>(layout.grid_columns, 1);
  layout.grid_rows = std::max<Index>(1, (n + layout.grid_columns - 1) / layout.grid_columns);

  Index max_rows = 1;
  Index max_cols = 1;
  for (const PanelView& p : panels) {
    max_rows = std::max(max_rows, p.values->rows());
    max_cols = std::max(max_cols, p.values->cols());
  }
  const double across = static_cast<double>(max_cols * layout.grid_columns);
  const double down = static_cast<double>(max_rows * layout.grid_rows);
  layout.cell = std::min({options.max_cell_size, options.max_map_size / across, options.max_map_size / down});

  // Labels: as large as the font allows, but never larger than a cell; when a cell is smaller
  // than a 7 px label, show every `label_step`-th label only.
  const double min_label_font = std::min(7.0, layout.font);
  layout.label_font = std::clamp(layout.cell / 1.15, min_label_font, layout.font);
  layout.label_step = std::max<Index>(1, static_cast<Index>(std::ceil(layout.label_font * 1.15 / layout.cell - 1e-9)));

  std::size_t row_width = 0;
  std::size_t col_width = 0;
  bool any_title = false;
  for (const PanelView& p : panels) {
    row_width = std::max(row_width, max_shown_label_width(*p.row_labels, layout.label_step, options.max_label_length));
    col_width = std::max(col_width, max_shown_label_width(*p.col_labels, layout.label_step, options.max_label_length));
    any_title = any_title || !p.title->empty();
  }
  const double cw = svg_char_width(layout.label_font);
  layout.row_label_width = row_width > 0 ? static_cast<double>(row_width) * cw + 6 : 0;
  layout.col_label_height = col_width > 0 ? static_cast<double>(col_width) * cw + 6 : 0;
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
  layout.box_width = layout.row_axis_width + layout.row_label_width + layout.map_width + gap;
  layout.box_height = layout.panel_title_height + layout.col_axis_height + layout.col_label_height + layout.map_height + gap;
  return layout;
}

inline std::string svg_num(double v) { return format_coordinate(v, 2); }

/// Appends `<text ...>label<title>full label</title></text>` for a label cut to the limit.
inline void svg_label(std::string& out, const std::string& attributes, const std::string& label, std::size_t max_length) {
  const std::string shown = truncated(label, max_length);
  out += "<text " + attributes + ">";
  append_xml_escaped(out, shown);
  if (shown != label) {
    out += "<title>";
    append_xml_escaped(out, label);
    out += "</title>";
  }
  out += "</text>\n";
}

inline void svg_panel(std::string& out, const PanelView& panel, const HeatmapOptions& options,
                      const HeatmapLayout& layout, const HeatmapScale& scale, double x0, double y0) {
  const Matrix<double>& m = *panel.values;
  const Index rows = m.rows();
  const Index cols = m.cols();
  const double cell = layout.cell;
  const double left = x0 + layout.row_axis_width + layout.row_label_width;
  const double top = y0 + layout.panel_title_height + layout.col_axis_height + layout.col_label_height;
  const double width = cell * static_cast<double>(cols);
  const double height = cell * static_cast<double>(rows);
  const std::vector<std::string>& row_labels = *panel.row_labels;
  const std::vector<std::string>& col_labels = *panel.col_labels;

  out += "<g class=\"panel\">\n";
  if (!panel.title->empty()) {
    std::string attributes = "class=\"panel-title\" x=\"" + svg_num(left + width / 2) + "\" y=\"" +
                             svg_num(y0 + layout.font * 1.1) + "\" text-anchor=\"middle\" font-size=\"" +
                             svg_num(layout.font * 1.1) + "\" font-weight=\"bold\"";
    svg_label(out, attributes, *panel.title, 0);
  }
  if (!options.col_axis_title.empty()) {
    svg_label(out,
              "class=\"axis-title\" x=\"" + svg_num(left + width / 2) + "\" y=\"" +
                  svg_num(y0 + layout.panel_title_height + layout.font) + "\" text-anchor=\"middle\"",
              options.col_axis_title, 0);
  }
  if (!options.row_axis_title.empty()) {
    const double x = x0 + layout.font;
    const double y = top + height / 2;
    svg_label(out,
              "class=\"axis-title\" transform=\"translate(" + svg_num(x) + "," + svg_num(y) +
                  ") rotate(-90)\" text-anchor=\"middle\"",
              options.row_axis_title, 0);
  }
  const std::string label_font = svg_num(layout.label_font);
  const auto step = static_cast<std::size_t>(layout.label_step);
  if (!col_labels.empty()) {
    out += "<g class=\"col-labels\" font-size=\"" + label_font + "\">\n";
    for (std::size_t j = 0; j < col_labels.size(); j += step) {
      const double x = left + (static_cast<double>(j) + 0.5) * cell;
      svg_label(out, "transform=\"translate(" + svg_num(x) + "," + svg_num(top - 4) + ") rotate(-90)\" dy=\"0.35em\"",
                col_labels[j], options.max_label_length);
    }
    out += "</g>\n";
  }
  if (!row_labels.empty()) {
    out += "<g class=\"row-labels\" font-size=\"" + label_font + "\" text-anchor=\"end\">\n";
    for (std::size_t i = 0; i < row_labels.size(); i += step) {
      const double y = top + (static_cast<double>(i) + 0.5) * cell;
      svg_label(out, "x=\"" + svg_num(left - 4) + "\" y=\"" + svg_num(y) + "\" dy=\"0.35em\"", row_labels[i],
                options.max_label_length);
    }
    out += "</g>\n";
  }

  const bool raster = options.raster == HeatmapRaster::always ||
                      (options.raster == HeatmapRaster::automatic && rows * cols > options.raster_threshold);
  if (rows > 0 && cols > 0 && raster) {
    std::vector<Rgb> pixels(static_cast<std::size_t>(rows * cols));
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < cols; ++j)
        pixels[static_cast<std::size_t>(i * cols + j)] = heatmap_color(m(i, j), scale, options);
    out += "<image class=\"cells\" x=\"" + svg_num(left) + "\" y=\"" + svg_num(top) + "\" width=\"" +
           svg_num(width) + "\" height=\"" + svg_num(height) +
           "\" preserveAspectRatio=\"none\" image-rendering=\"optimizeSpeed\" "
           "style=\"image-rendering:crisp-edges;image-rendering:pixelated\" xlink:href=\"data:image/png;base64,";
    out += base64(png_rgb(static_cast<std::uint32_t>(cols), static_cast<std::uint32_t>(rows), pixels));
    out += "\"/>\n";
  } else if (rows > 0 && cols > 0) {
    out += "<g class=\"cells\" shape-rendering=\"crispEdges\">\n";
    const std::string size = svg_num(cell);
    for (Index i = 0; i < rows; ++i) {
      for (Index j = 0; j < cols; ++j) {
        const double v = m(i, j);
        const double x = left + static_cast<double>(j) * cell;
        const double y = top + static_cast<double>(i) * cell;
        out += "<rect x=\"" + svg_num(x) + "\" y=\"" + svg_num(y) + "\" width=\"" + size + "\" height=\"" + size +
               "\" fill=\"" + css_color(heatmap_color(v, scale, options)) + "\"><title>";
        if (!row_labels.empty() && !col_labels.empty()) {
          append_xml_escaped(out, row_labels[static_cast<std::size_t>(i)]);
          out += " \xE2\x86\x92 ";  // →
          append_xml_escaped(out, col_labels[static_cast<std::size_t>(j)]);
        } else {
          out += "row " + std::to_string(i) + ", column " + std::to_string(j);
        }
        out += ": " + format_number(v, -1) + "</title></rect>\n";
        if (std::isnan(v)) {
          out += "<path d=\"M" + svg_num(x) + " " + svg_num(y) + "l" + size + " " + size + "M" + svg_num(x + cell) +
                 " " + svg_num(y) + "l-" + size + " " + size + "\" stroke=\"#808080\" stroke-width=\"0.75\"/>\n";
        }
      }
    }
    out += "</g>\n";
    if (layout.value_font > 0) {
      out += "<g class=\"values\" font-size=\"" + svg_num(layout.value_font) +
             "\" text-anchor=\"middle\" pointer-events=\"none\">\n";
      for (Index i = 0; i < rows; ++i) {
        for (Index j = 0; j < cols; ++j) {
          const double v = m(i, j);
          const Rgb ink = contrasting_text_color(heatmap_color(v, scale, options));
          out += "<text x=\"" + svg_num(left + (static_cast<double>(j) + 0.5) * cell) + "\" y=\"" +
                 svg_num(top + (static_cast<double>(i) + 0.5) * cell) + "\" dy=\"0.35em\" fill=\"" + css_color(ink) +
                 "\">" + format_number(v, options.value_decimals) + "</text>\n";
        }
      }
      out += "</g>\n";
    }
  }
  out += "<rect class=\"frame\" x=\"" + svg_num(left) + "\" y=\"" + svg_num(top) + "\" width=\"" + svg_num(width) +
         "\" height=\"" + svg_num(height) + "\" fill=\"none\" stroke=\"#404040\" stroke-width=\"0.5\"/>\n";
  out += "</g>\n";
}

inline std::string svg_render(const std::vector<PanelView>& panels, const HeatmapOptions& options, const char* who) {
  ATTN_CHECK(options.max_map_size > 0 && std::isfinite(options.max_map_size),
             std::string(who) + ": options.max_map_size (" + format_number(options.max_map_size, -1) + ") must be > 0");
  ATTN_CHECK(options.max_cell_size > 0 && std::isfinite(options.max_cell_size),
             std::string(who) + ": options.max_cell_size (" + format_number(options.max_cell_size, -1) + ") must be > 0");
  ATTN_CHECK(options.font_size > 0 && options.font_size <= 200,
             std::string(who) + ": options.font_size (" + format_number(options.font_size, -1) + ") must be in (0, 200]");
  ATTN_CHECK(options.value_decimals >= 0 && options.value_decimals <= 10,
             std::string(who) + ": options.value_decimals (" + std::to_string(options.value_decimals) +
                 ") must be in [0, 10]");
  ATTN_CHECK(options.raster_threshold >= 0,
             std::string(who) + ": options.raster_threshold (" + std::to_string(options.raster_threshold) + ") must be >= 0");
  ATTN_CHECK(options.grid_columns >= 0,
             std::string(who) + ": options.grid_columns (" + std::to_string(options.grid_columns) + ") must be >= 0");

  const HeatmapScale scale = heatmap_scale(panels, options, who);
  const HeatmapLayout layout = heatmap_layout(panels, options);
  const double font = layout.font;
  const double margin = 8;
  const double title_height = options.title.empty() ? 0 : font * 1.4 * 1.3 + 8;
  const double grid_width = layout.box_width * static_cast<double>(layout.grid_columns);
  const double grid_height = layout.box_height * static_cast<double>(layout.grid_rows);
  const double first_map_top =
      margin + title_height + layout.panel_title_height + layout.col_axis_height + layout.col_label_height;

  // Colour bar: beside the first row of maps, at least 100 px tall.
  int tick_decimals = 0;
  const std::vector<double> ticks = nice_ticks(scale.vmin, scale.vmax, tick_decimals);
  const std::vector<std::string> tick_texts = tick_labels(ticks, tick_decimals);
  std::size_t tick_chars = 1;
  for (const std::string& t : tick_texts) tick_chars = std::max(tick_chars, t.size());
  const double bar_x = margin + grid_width + (panels.size() > 1 ? 4 : 16);
  const double bar_width = 14;
  const double bar_height = std::max(100.0, layout.map_height);
  const double bar_top = first_map_top;
  const double bar_block = options.colorbar ? (bar_x - margin - grid_width) + bar_width + 6 +
                                                  static_cast<double>(tick_chars) * svg_char_width(font) +
                                                  (options.colorbar_label.empty() ? 0 : font * 1.6)
                                            : 0;
  double height = margin + title_height + grid_height + margin;
  if (options.colorbar) height = std::max(height, bar_top + bar_height + font + margin);
  height = std::ceil(height);
  const double title_width = static_cast<double>(display_width(options.title)) * svg_char_width(font * 1.4);
  const double width = std::ceil(std::max(margin + grid_width + bar_block + margin, title_width + 2 * margin));

  std::string out;
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" version=\"1.1\" width=\"" +
         svg_num(width) + "\" height=\"" + svg_num(height) + "\" viewBox=\"0 0 " + svg_num(width) + " " +
         svg_num(height) + "\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\" font-size=\"" + svg_num(font) +
         "\">\n";
  out += "<title>";
  append_xml_escaped(out, options.title.empty() ? std::string("attention heatmap") : options.title);
  out += "</title>\n";
  out += "<desc>attn heatmap: " + std::to_string(panels.size()) + (panels.size() == 1 ? " map" : " maps") +
         ", colour map " + colormap_name(options.colormap) + (options.reverse_colormap ? " (reversed)" : "") +
         ", scale [" + format_number(scale.vmin, -1) + ", " + format_number(scale.vmax, -1) + "]</desc>\n";
  out += "<rect class=\"background\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  if (!options.title.empty()) {
    svg_label(out,
              "class=\"title\" x=\"" + svg_num(std::max(margin + grid_width / 2, margin + title_width / 2)) +
                  "\" y=\"" + svg_num(margin + font * 1.4) +
                  "\" text-anchor=\"middle\" font-size=\"" + svg_num(font * 1.4) + "\" font-weight=\"bold\"",
              options.title, 0);
  }
  for (std::size_t k = 0; k < panels.size(); ++k) {
    const auto column = static_cast<Index>(k) % layout.grid_columns;
    const auto row = static_cast<Index>(k) / layout.grid_columns;
    svg_panel(out, panels[k], options, layout, scale, margin + layout.box_width * static_cast<double>(column),
              margin + title_height + layout.box_height * static_cast<double>(row));
  }

  if (options.colorbar) {
    const std::string id = options.id_prefix + "-colorbar";
    out += "<g class=\"colorbar\">\n<defs><linearGradient id=\"";
    append_xml_escaped(out, id);
    out += "\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n";
    for (int k = 0; k <= 32; ++k) {
      const double t = k / 32.0;
      const Rgb c = colormap_color(options.colormap, options.reverse_colormap ? 1.0 - t : t);
      out += "<stop offset=\"" + format_coordinate(t, 4) + "\" stop-color=\"" + css_color(c) + "\"/>\n";
    }
    out += "</linearGradient></defs>\n";
    out += "<rect x=\"" + svg_num(bar_x) + "\" y=\"" + svg_num(bar_top) + "\" width=\"" + svg_num(bar_width) +
           "\" height=\"" + svg_num(bar_height) + "\" fill=\"url(#";
    append_xml_escaped(out, id);
    out += ")\" stroke=\"#404040\" stroke-width=\"0.5\"/>\n";
    out += "<g class=\"ticks\" font-size=\"" + svg_num(font * 0.9) + "\">\n";
    for (std::size_t k = 0; k < ticks.size(); ++k) {
      const double y = bar_top + bar_height - scale_fraction(ticks[k], scale.vmin, scale.vmax) * bar_height;
      out += "<path d=\"M" + svg_num(bar_x + bar_width) + " " + svg_num(y) + "h4\" stroke=\"#404040\"/>";
      out += "<text x=\"" + svg_num(bar_x + bar_width + 6) + "\" y=\"" + svg_num(y) + "\" dy=\"0.35em\">" +
             tick_texts[k] + "</text>\n";
    }
    out += "</g>\n";
    if (!options.colorbar_label.empty()) {
      const double x = bar_x + bar_width + 6 + static_cast<double>(tick_chars) * svg_char_width(font) + font;
      svg_label(out,
                "class=\"colorbar-label\" transform=\"translate(" + svg_num(x) + "," +
                    svg_num(bar_top + bar_height / 2) + ") rotate(-90)\" text-anchor=\"middle\"",
                options.colorbar_label, 0);
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  return out;
}

inline void svg_check_labels(const char* who, const char* name, Index rows, Index cols,
                             const std::vector<std::string>& row_labels, const std::vector<std::string>& col_labels) {
  ATTN_CHECK(row_labels.empty() || static_cast<Index>(row_labels.size()) == rows,
             std::string(who) + ": " + name + "row_labels.size() (" + std::to_string(row_labels.size()) +
                 ") must equal the number of rows (" + std::to_string(rows) + ")");
  ATTN_CHECK(col_labels.empty() || static_cast<Index>(col_labels.size()) == cols,
             std::string(who) + ": " + name + "col_labels.size() (" + std::to_string(col_labels.size()) +
                 ") must equal the number of columns (" + std::to_string(cols) + ")");
}

inline std::string svg_grid(const std::vector<HeatmapPanel>& panels, const HeatmapOptions& options, const char* who) {
  ATTN_CHECK(!panels.empty(), std::string(who) + ": panels must not be empty");
  std::vector<PanelView> views;
  views.reserve(panels.size());
  for (std::size_t k = 0; k < panels.size(); ++k) {
    const HeatmapPanel& p = panels[k];
    const std::string name = "panels[" + std::to_string(k) + "].";
    svg_check_labels(who, name.c_str(), p.values.rows(), p.values.cols(), p.row_labels, p.col_labels);
    views.push_back({&p.values, &p.title, &panel_labels(p.row_labels, options.row_labels, p.values.rows()),
                     &panel_labels(p.col_labels, options.col_labels, p.values.cols())});
  }
  return svg_render(views, options, who);
}

template <typename Derived>
std::string svg_single(const Eigen::DenseBase<Derived>& m, const HeatmapOptions& options, const char* who) {
  ::attn::detail::check_scalar<typename Derived::Scalar>();
  svg_check_labels(who, "options.", m.rows(), m.cols(), options.row_labels, options.col_labels);
  const Matrix<double> values = m.template cast<double>();
  static const std::string no_title;
  const std::vector<PanelView> views{{&values, &no_title, &options.row_labels, &options.col_labels}};
  return svg_render(views, options, who);
}

inline void svg_write(std::ostream& os, const std::string& text, const char* who) {
  if (!os) throw std::runtime_error(std::string(who) + ": the output stream is not in a good state");
  os.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!os) throw std::runtime_error(std::string(who) + ": writing to the output stream failed");
}

inline void svg_write(const std::filesystem::path& path, const std::string& text, const char* who) {
  write_file_atomically(path, who, [&](std::ostream& os) { os.write(text.data(), static_cast<std::streamsize>(text.size())); });
}

}  // namespace detail

/// The SVG document (UTF-8) of a heatmap of `m` (`rows×cols`, float or double; e.g. weights
/// `Tq×Tk`): row `i` is drawn top to bottom, column `j` left to right, with
/// `options.row_labels` on the left, `options.col_labels` above (rotated), a colour bar with
/// ticks on the right and `options.title` on top. Labels are any UTF-8 (escaped for XML;
/// malformed bytes become U+FFFD). Long sequences stay readable: the maps span at most
/// `options.max_map_size` px, labels shrink to 7 px and then only every k-th is shown, labels
/// wider than `max_label_length` are cut (full text in a tooltip), and big maps are drawn as
/// an embedded raster (see HeatmapRaster). Throws attn::invalid_argument when a non-empty
/// label list does not have one label per row / column, or for a bad option (vmin >= vmax,
/// non-finite ends, sizes <= 0, a lone vmin or vmax at the largest double). Any finite values
/// give a finite scale (a span wider than the largest double included) and colour-bar ticks
/// that read as numbers ("0" and "5e-324" for a [0, 5e-324] map, "1.5e+308", never "NaN").
/// \param m rows×cols
/// \param options look of the map (default: HeatmapOptions{})
/// \return the SVG text
template <typename Derived>
std::string heatmap_svg(const Eigen::DenseBase<Derived>& m, const HeatmapOptions& options = {}) {
  return detail::svg_single(m, options, "attn::io::heatmap_svg");
}

/// Writes heatmap_svg(m, options) to `os`. Throws as heatmap_svg() does, and
/// std::runtime_error when the stream is not good before the call or fails during it.
/// \param os the stream, written unformatted
/// \param m rows×cols
/// \param options look of the map
template <typename Derived>
void write_heatmap_svg(std::ostream& os, const Eigen::DenseBase<Derived>& m, const HeatmapOptions& options = {}) {
  detail::svg_write(os, detail::svg_single(m, options, "attn::io::write_heatmap_svg"), "attn::io::write_heatmap_svg");
}

/// Writes heatmap_svg(m, options) to the file `path`, atomically (temporary file + rename: a
/// failed write leaves no half-written file). I/O failures throw std::runtime_error naming the
/// path and the system's reason.
/// \param path the file to write
/// \param m rows×cols
/// \param options look of the map
/// \throws attn::invalid_argument as heatmap_svg() does (before the file is touched)
template <typename Derived>
void write_heatmap_svg(const std::filesystem::path& path, const Eigen::DenseBase<Derived>& m,
                       const HeatmapOptions& options = {}) {
  detail::svg_write(path, detail::svg_single(m, options, "attn::io::write_heatmap_svg"), "attn::io::write_heatmap_svg");
}

/// A grid of maps sharing one colour scale and one colour bar (heads × layers, epochs, ...):
/// `options.grid_columns` maps per row (0: about square), each with its title above it,
/// `options.title` above them all. All maps get the same cell size, so equal token counts
/// line up. Throws attn::invalid_argument when `panels` is empty or a panel's labels do not
/// fit its values (messages name `panels[k].row_labels`), and for bad options.
/// \param panels the maps, in reading order
/// \param options look of the grid; its labels serve panels without their own
/// \return the SVG text
inline std::string heatmap_grid_svg(const std::vector<HeatmapPanel>& panels, const HeatmapOptions& options = {}) {
  return detail::svg_grid(panels, options, "attn::io::heatmap_grid_svg");
}

/// Writes heatmap_grid_svg(panels, options) to `os` (std::runtime_error on stream failure).
/// \param os the stream, written unformatted
/// \param panels the maps, in reading order
/// \param options look of the grid
/// \throws attn::invalid_argument as heatmap_grid_svg() does
inline void write_heatmap_grid_svg(std::ostream& os, const std::vector<HeatmapPanel>& panels,
                                   const HeatmapOptions& options = {}) {
  detail::svg_write(os, detail::svg_grid(panels, options, "attn::io::write_heatmap_grid_svg"),
                    "attn::io::write_heatmap_grid_svg");
}

/// Writes heatmap_grid_svg(panels, options) to `path`, atomically.
/// \param path the file to write
/// \param panels the maps, in reading order
/// \param options look of the grid
/// \throws attn::invalid_argument as heatmap_grid_svg() does (before the file is touched),
///         std::runtime_error naming the path and the system's reason on I/O failure
inline void write_heatmap_grid_svg(const std::filesystem::path& path, const std::vector<HeatmapPanel>& panels,
                                   const HeatmapOptions& options = {}) {
  detail::svg_write(path, detail::svg_grid(panels, options, "attn::io::write_heatmap_grid_svg"),
                    "attn::io::write_heatmap_grid_svg");
}

/// Two maps on one scale, the second beside (PairLayout::beside) or under the first: e.g. the
/// ground-truth alignment and the attention learnt so far. Same rules as heatmap_grid_svg().
/// \param first the first map (left or top)
/// \param second the second map
/// \param options look of the pair; `grid_columns` is ignored
/// \param layout beside (default) or under
/// \return the SVG text
/// \throws attn::invalid_argument as heatmap_grid_svg() does
inline std::string heatmap_pair_svg(const HeatmapPanel& first, const HeatmapPanel& second,
                                    const HeatmapOptions& options = {}, PairLayout layout = PairLayout::beside) {
  HeatmapOptions pair = options;
  pair.grid_columns = layout == PairLayout::beside ? 2 : 1;
  return detail::svg_grid({first, second}, pair, "attn::io::heatmap_pair_svg");
}

/// Writes heatmap_pair_svg(first, second, options, layout) to `os` (std::runtime_error on
/// stream failure).
/// \param os the stream, written unformatted
/// \param first the first map (left or top)
/// \param second the second map
/// \param options look of the pair
/// \param layout beside (default) or under
/// \throws attn::invalid_argument as heatmap_grid_svg() does
inline void write_heatmap_pair_svg(std::ostream& os, const HeatmapPanel& first, const HeatmapPanel& second,
                                   const HeatmapOptions& options = {}, PairLayout layout = PairLayout::beside) {
  HeatmapOptions pair = options;
  pair.grid_columns = layout == PairLayout::beside ? 2 : 1;
  detail::svg_write(os, detail::svg_grid({first, second}, pair, "attn::io::write_heatmap_pair_svg"),
                    "attn::io::write_heatmap_pair_svg");
}

/// Writes heatmap_pair_svg(first, second, options, layout) to the file `path`, atomically.
/// \param path the file to write
/// \param first the first map (left or top)
/// \param second the second map
/// \param options look of the pair
/// \param layout beside (default) or under
/// \throws attn::invalid_argument as heatmap_grid_svg() does (before the file is touched),
///         std::runtime_error naming the path and the system's reason on I/O failure
inline void write_heatmap_pair_svg(const std::filesystem::path& path, const HeatmapPanel& first,
                                   const HeatmapPanel& second, const HeatmapOptions& options = {},
                                   PairLayout layout = PairLayout::beside) {
  HeatmapOptions pair = options;
  pair.grid_columns = layout == PairLayout::beside ? 2 : 1;
  detail::svg_write(path, detail::svg_grid({first, second}, pair, "attn::io::write_heatmap_pair_svg"),
                    "attn::io::write_heatmap_pair_svg");
}

/// Panels for heatmap_grid_svg() from equally or differently shaped maps (float or double),
/// titled `titles[k]` (or none when `titles` is shorter).
/// \param maps the maps, converted to double
/// \param titles one title per map, or fewer (default: none)
/// \return one panel per map, without labels of their own
template <typename Scalar>
std::vector<HeatmapPanel> heatmap_panels(const std::vector<Matrix<Scalar>>& maps,
                                         const std::vector<std::string>& titles = {}) {
  ::attn::detail::check_scalar<Scalar>();
  std::vector<HeatmapPanel> panels(maps.size());
  for (std::size_t k = 0; k < maps.size(); ++k) {
    panels[k].values = maps[k].template cast<double>();
    if (k < titles.size()) panels[k].title = titles[k];
  }
  return panels;
}

}  // namespace attn::io
