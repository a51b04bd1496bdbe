// SPDX-License-Identifier: MIT
// Part of attn/io/bars.hpp (include that): bar chart and histogram options, value axes with nice
// ticks, and drawing bars (one panel per row, small multiples) and histograms (SVG pixels).
#pragma once

#include "../../config.hpp"
#include "../colormap.hpp"
#include "svg_draw.hpp"
#include "svg_layout.hpp"
#include "text.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace attn::io {

/// How a bar chart looks. Every size is in SVG pixels.
/// \headerfile bars.hpp <attn/io/bars.hpp>
struct BarOptions {
  std::string title;                    ///< above the chart; empty: none
  std::vector<std::string> labels;      ///< one per column (key tokens, x axis), or empty: indices
  std::vector<std::string> row_labels;  ///< one per row: the titles of the panels, or empty: "row i"
  std::string x_axis_title;             ///< e.g. "source token"; empty: none
  std::string y_axis_title = "weight";  ///< beside the y axis; empty: none
  std::string color = "#31688e";        ///< fill of the bars ("#rrggbb" or "#rgb")
  /// When set, each bar is filled with the colour of its value on this map (over [ymin, ymax])
  /// instead of `color`.
  std::optional<Colormap> colormap;
  /// Lower end of the y axis. Unset: min(0, smallest finite value), grown to the next tick.
  std::optional<double> ymin;
  /// Upper end of the y axis. Unset: the largest finite value (at least 0), grown to the next tick.
  std::optional<double> ymax;
  double max_plot_width = 720;          ///< the bars of a panel span at most this
  double max_bar_slot = 32;             ///< room of one bar (the bar is 80 % of it) at most
  double plot_height = 0;               ///< height of a panel; 0: 200 for one row, 100 for several
  double font_size = 12;                ///< labels and ticks; the title is 1.4 times larger
  /// Font family of the picture's text, a CSS font-family list, e.g. "Times New Roman, serif"
  /// to match a paper. Text is laid out for DejaVu Sans' widths: a narrower font leaves more room.
  std::string font_family = "DejaVu Sans, Verdana, Arial, sans-serif";
  /// Labels wider than this many character cells are cut with "…" (full text in the tooltip).
  std::size_t max_label_length = 24;
};

/// How a histogram is counted and drawn (numpy.histogram's rules: `bins` equal bins over the
/// range, each closed on the left, the last one closed on both sides).
/// \headerfile bars.hpp <attn/io/bars.hpp>
struct HistogramOptions {
  Index bins = 20;                      ///< number of bins, 1 to 100000
  /// Range of the bins (give both ends or neither). Unset: the smallest and largest finite
  /// value; [v - 0.5, v + 0.5] when they are equal (v), [0, 1] without finite values. Values
  /// outside the range are left out and counted in the note under the chart.
  std::optional<double> range_min;
  /// Upper end of the range (see range_min).
  std::optional<double> range_max;
  std::string title;                    ///< above the chart; empty: none
  std::string x_axis_title = "weight";  ///< under the x axis; empty: none
  std::string y_axis_title = "count";   ///< beside the y axis; empty: none
  std::string color = "#31688e";        ///< fill of the bars ("#rrggbb" or "#rgb")
  double plot_width = 480;              ///< width of the plotting area
  double plot_height = 240;             ///< height of the plotting area
  double font_size = 12;                ///< labels and ticks; the title is 1.4 times larger
  /// Font family of the picture's text, a CSS font-family list, e.g. "Times New Roman, serif"
  /// to match a paper. Text is laid out for DejaVu Sans' widths: a narrower font leaves more room.
  std::string font_family = "DejaVu Sans, Verdana, Arial, sans-serif";
};

/// The counts of a histogram: `counts[k]` values lie in [edges[k], edges[k+1]) (the last bin
/// includes its right edge).
/// \headerfile bars.hpp <attn/io/bars.hpp>
struct Histogram {
  std::vector<double> edges;  ///< bins + 1 increasing edges
  std::vector<Index> counts;  ///< values per bin
  Index nan = 0;              ///< NaN values (left out)
  Index infinite = 0;         ///< +inf and -inf values (left out)
  Index outside = 0;          ///< finite values outside the range (left out)
};

namespace detail {

/// A value axis [lo, hi] with its ticks and their labels.
struct ValueAxis {
  double lo = 0;
  double hi = 1;
  std::vector<double> ticks;
  std::vector<std::string> labels;
  std::size_t widest = 1;  // characters of the widest label
};

/// Ticks over [lo, hi] (nice_ticks); `grow_lo` / `grow_hi` move that end out to the next tick,
/// as matplotlib's axes do; `whole` keeps steps of at least 1 (counts, indices).
inline ValueAxis value_axis(double lo, double hi, bool grow_lo, bool grow_hi, bool whole) {
  ValueAxis axis{lo, hi, {}, {}, 1};
  int decimals = 0;
  axis.ticks = nice_ticks(lo, hi, decimals);
  if (axis.ticks.size() >= 2 && decimals >= 0) {
    const double step = axis.ticks[1] - axis.ticks[0];
    if (whole && step < 1) {  // span below 4: every whole number
      axis.ticks.clear();
      for (double t = std::ceil(lo); t <= hi; t += 1) axis.ticks.push_back(t);
      decimals = 0;
    } else {
      const double up = axis.ticks.back() + step;
      if (grow_hi && axis.ticks.back() < hi - step * 1e-6 && std::isfinite(up)) axis.ticks.push_back(axis.hi = up);
      const double down = axis.ticks.front() - step;
      if (grow_lo && axis.ticks.front() > lo + step * 1e-6 && std::isfinite(down)) {
        axis.ticks.insert(axis.ticks.begin(), axis.lo = down);
      }
    }
  }
  axis.labels = tick_labels(axis.ticks, decimals);
  for (const std::string& label : axis.labels) axis.widest = std::max(axis.widest, label.size());
  return axis;
}

/// y of `v` on `axis` in a plot from `top` to `top + height` (clamped; NaN: the bottom).
inline double axis_y(double v, const ValueAxis& axis, double top, double height) {
  double t = scale_fraction(v, axis.lo, axis.hi);
  t = std::isnan(t) ? 0.0 : std::clamp(t, 0.0, 1.0);
  return top + height * (1.0 - t);
}

/// Grid lines, tick marks and labels of a y axis left of the plot at `left`.
inline void svg_y_axis(std::string& out, const ValueAxis& axis, double left, double width, double top, double height,
                       double font) {
  out += "<g class=\"y-axis\" font-size=\"" + svg_num(font * 0.9) + "\" text-anchor=\"end\">\n";
  for (std::size_t k = 0; k < axis.ticks.size(); ++k) {
    const std::string y = svg_num(axis_y(axis.ticks[k], axis, top, height));
    out += "<path d=\"M" + svg_num(left) + " " + y + "h" + svg_num(width) + "\" stroke=\"#e0e0e0\"/>";
    out += "<path d=\"M" + svg_num(left - 4) + " " + y + "h4\" stroke=\"#404040\"/>";
    out += "<text x=\"" + svg_num(left - 6) + "\" y=\"" + y + "\" dy=\"0.35em\">" + axis.labels[k] + "</text>\n";
  }
  out += "<path d=\"M" + svg_num(left) + " " + svg_num(top) + "v" + svg_num(height) +
         "\" stroke=\"#404040\" fill=\"none\"/>\n</g>\n";
}

/// The rotated title of a y axis centred at (x, placed.y_centre), and the title of an x axis
/// centred at (placed.x_centre, y2).
inline void svg_axis_titles(std::string& out, const std::string& y_title, double x, const std::string& x_title, double y2,
                            const AxisTitles& placed) {
  if (!y_title.empty()) {
    svg_label(out,
              "class=\"axis-title\" transform=\"translate(" + svg_num(x) + "," + svg_num(placed.y_centre) +
                  ") rotate(-90)\" text-anchor=\"middle\"",
              y_title, 0);
  }
  if (!x_title.empty()) {
    svg_label(out,
              "class=\"axis-title\" x=\"" + svg_num(placed.x_centre) + "\" y=\"" + svg_num(y2) +
                  "\" text-anchor=\"middle\"",
              x_title, 0);
  }
}

inline void check_font(double font, const char* who) {
  ATTN_CHECK(font > 0 && font <= 200,
             std::string(who) + ": options.font_size (" + format_number(font, -1) + ") must be in (0, 200]");
}

inline void check_positive(double v, const char* who, const char* name) {
  ATTN_CHECK(v > 0 && std::isfinite(v),
             std::string(who) + ": options." + name + " (" + format_number(v, -1) + ") must be > 0 and finite");
}

/// The SVG of the bar chart of `m` (rows×cols, one panel per row).
inline std::string bars_render(const Matrix<double>& m, const BarOptions& o, const char* who) {
  const Index rows = m.rows();
  const Index cols = m.cols();
  ATTN_CHECK(rows > 0, std::string(who) + ": weights has no rows (0x" + std::to_string(cols) + "): nothing to draw");
  ATTN_CHECK(o.labels.empty() || static_cast<Index>(o.labels.size()) == cols,
             std::string(who) + ": options.labels.size() (" + std::to_string(o.labels.size()) +
                 ") must equal the number of bars, weights.cols() (" + std::to_string(cols) + ")");
  ATTN_CHECK(o.row_labels.empty() || static_cast<Index>(o.row_labels.size()) == rows,
             std::string(who) + ": options.row_labels.size() (" + std::to_string(o.row_labels.size()) +
                 ") must equal the number of panels, weights.rows() (" + std::to_string(rows) + ")");
  check_scale_ends(o.ymin, o.ymax, who, "ymin", "ymax");
  check_positive(o.max_plot_width, who, "max_plot_width");
  check_positive(o.max_bar_slot, who, "max_bar_slot");
  ATTN_CHECK(o.plot_height >= 0 && std::isfinite(o.plot_height),
             std::string(who) + ": options.plot_height (" + format_number(o.plot_height, -1) + ") must be >= 0");
  check_font(o.font_size, who);
  const Rgb fill = parse_css_color(o.color, who);

  // The y scale, shared by all panels.
  double lo = 0;
  double hi = 0;
  for (Index k = 0; k < m.size(); ++k) {
    const double v = m.data()[k];
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (o.ymin) lo = *o.ymin;
  if (o.ymax) hi = *o.ymax;
  if (!(lo < hi)) {
    if (o.ymax) lo = scale_other_end(hi, false, who, "options.ymax");
    else hi = scale_other_end(lo, true, who, "options.ymin");
  }
  const ValueAxis axis = value_axis(lo, hi, !o.ymin, !o.ymax, false);

  const double font = o.font_size;
  const double margin = 8;
  const double title_h = o.title.empty() ? 0 : font * 1.4 * 1.3 + 8;
  const bool multiples = rows > 1 || !o.row_labels.empty();
  const double panel_title_h = multiples ? font * 1.1 * 1.3 + 4 : 0;
  const double plot_h = o.plot_height > 0 ? o.plot_height : (rows > 1 ? 100.0 : 200.0);
  const double gap = 10;
  const double slot = std::min(o.max_bar_slot, o.max_plot_width / static_cast<double>(std::max<Index>(cols, 1)));
  const double plot_w = std::max(60.0, slot * static_cast<double>(cols));

  // x labels: tokens (every step-th when the slots are small), rotated when wider than the room
  // they have; without tokens, the indices at nice steps.
  std::vector<Index> shown;
  std::vector<std::string> texts;
  double label_font = font * 0.9;
  bool rotated = false;
  if (!o.labels.empty()) {
    label_font = std::clamp(slot / 1.15, std::min(7.0, font), font);
    const Index step = std::max<Index>(1, static_cast<Index>(std::ceil(label_font * 1.15 / slot - 1e-9)));
    for (Index j = 0; j < cols; j += step) shown.push_back(j);
    const std::size_t widest = max_shown_label_width(o.labels, step, o.max_label_length);
    rotated = static_cast<double>(widest) * svg_char_width(label_font) > slot * static_cast<double>(step) - 4;
  } else if (cols > 0) {
    const ValueAxis index = value_axis(0, static_cast<double>(cols - 1), false, false, true);
    for (std::size_t k = 0; k < index.ticks.size(); ++k) shown.push_back(static_cast<Index>(index.ticks[k]));
    texts = index.labels;
  }
  std::size_t widest_shown = 1;
  for (const Index j : shown) {
    widest_shown = std::max(widest_shown, o.labels.empty() ? std::to_string(j).size()
                                                           : display_width(truncated(o.labels[static_cast<std::size_t>(j)],
                                                                                     o.max_label_length)));
  }
  const double x_labels_h =
      rotated ? static_cast<double>(widest_shown) * svg_char_width(label_font) + 10 : label_font * 1.3 + 8;
  const double x_title_h = o.x_axis_title.empty() ? 0 : font * 1.3 + 4;
  const double y_title_w = o.y_axis_title.empty() ? 0 : font * 1.2 + 4;
  const double left = margin + y_title_w + static_cast<double>(axis.widest) * svg_char_width(font * 0.9) + 10;
  const double plots_top = margin + title_h;
  const double panel_h = panel_title_h + plot_h + gap;
  const double plots_bottom = plots_top + panel_h * static_cast<double>(rows) - gap;
  const double title_w = bold_title_width(o.title, font * 1.4);
  const AxisTitles titles =
      place_axis_titles(o.y_axis_title, plots_top, plots_bottom, o.x_axis_title, left, left + plot_w, font, margin);
  const double width =
      std::ceil(std::max({left + plot_w + margin + 4, title_w + 2 * margin, titles.reach_right + margin}));
  const double height = std::ceil(std::max(plots_bottom + x_labels_h + x_title_h, titles.reach_down) + margin);

  std::string out;
  svg_open(out, width, height, font, o.title.empty() ? std::string("attention weights") : o.title, o.font_family);
  out += "<desc>attn bar chart: " + std::to_string(rows) + (rows == 1 ? " row" : " rows") + " of " +
         std::to_string(cols) + " bars, y axis [" + format_number(axis.lo, -1) + ", " + format_number(axis.hi, -1) +
         "]</desc>\n";
  out += "<rect class=\"background\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  if (!o.title.empty()) {
    svg_label(out,
              "class=\"title\" x=\"" + svg_num(std::max(left + plot_w / 2, margin + title_w / 2)) + "\" y=\"" +
                  svg_num(margin + font * 1.4) + "\" text-anchor=\"middle\" font-size=\"" + svg_num(font * 1.4) +
                  "\" font-weight=\"bold\"",
              o.title, 0);
  }
  const std::string bar_w = svg_num(slot * 0.8);
  for (Index i = 0; i < rows; ++i) {
    const double top = plots_top + panel_h * static_cast<double>(i) + panel_title_h;
    const std::string row_name = o.row_labels.empty() ? "row " + std::to_string(i) : o.row_labels[static_cast<std::size_t>(i)];
    out += "<g class=\"panel\">\n";
    if (multiples) {
      svg_label(out,
                "class=\"panel-title\" x=\"" + svg_num(left + plot_w / 2) + "\" y=\"" + svg_num(top - 6) +
                    "\" text-anchor=\"middle\" font-size=\"" + svg_num(font * 1.1) + "\" font-weight=\"bold\"",
                row_name, o.max_label_length);
    }
    svg_y_axis(out, axis, left, plot_w, top, plot_h, font);
    const double base = axis_y(std::clamp(0.0, axis.lo, axis.hi), axis, top, plot_h);
    out += "<g class=\"bars\">\n";
    for (Index j = 0; j < cols; ++j) {
      const double v = m(i, j);
      const double x = left + (static_cast<double>(j) + 0.1) * slot;
      const double y = axis_y(v, axis, top, plot_h);
      Rgb c = fill;
      if (o.colormap) {
        const double t = scale_fraction(v, axis.lo, axis.hi);
        c = colormap_color(*o.colormap, std::isnan(t) ? 0.0 : std::clamp(t, 0.0, 1.0));
      }
      out += "<rect class=\"bar\" x=\"" + svg_num(x) + "\" y=\"" + svg_num(std::min(y, base)) + "\" width=\"" + bar_w +
             "\" height=\"" + svg_num(std::isnan(v) ? 0.0 : std::abs(base - y)) + "\" fill=\"" + css_color(c) +
             "\"><title>";
      if (rows > 1 || !o.row_labels.empty()) {
        append_label(out, row_name);
        out += " \xE2\x86\x92 ";  // →
      }
      append_label(out, o.labels.empty() ? "column " + std::to_string(j) : o.labels[static_cast<std::size_t>(j)]);
      out += ": " + format_number(v, -1) + "</title></rect>\n";
      if (!std::isfinite(v)) {  // say what is not drawn (inf bars reach the end of the axis)
        out += "<text class=\"non-finite\" x=\"" + svg_num(x + slot * 0.4) + "\" y=\"" + svg_num(base - 3) +
               "\" text-anchor=\"middle\" font-size=\"" + svg_num(std::min(font * 0.8, slot * 0.5)) +
               "\" fill=\"#808080\">" + format_number(v, -1) + "</text>\n";
      }
    }
    out += "</g>\n<path d=\"M" + svg_num(left) + " " + svg_num(base) + "h" + svg_num(plot_w) +
           "\" stroke=\"#404040\"/>\n</g>\n";
  }
  // x labels under the last panel (the panels share them).
  out += "<g class=\"x-labels\" font-size=\"" + svg_num(label_font) + "\"" + (rotated ? " text-anchor=\"end\"" : " text-anchor=\"middle\"") + ">\n";
  for (std::size_t k = 0; k < shown.size(); ++k) {
    const Index j = shown[k];
    const double x = left + (static_cast<double>(j) + 0.5) * slot;
    out += "<path d=\"M" + svg_num(x) + " " + svg_num(plots_bottom) + "v4\" stroke=\"#404040\"/>";
    if (o.labels.empty()) {
      out += "<text x=\"" + svg_num(x) + "\" y=\"" + svg_num(plots_bottom + 6) + "\" dy=\"0.8em\">" + texts[k] + "</text>\n";
    } else if (rotated) {
      svg_label(out, "transform=\"translate(" + svg_num(x) + "," + svg_num(plots_bottom + 6) + ") rotate(-90)\" dy=\"0.35em\"",
                o.labels[static_cast<std::size_t>(j)], o.max_label_length);
    } else {
      svg_label(out, "x=\"" + svg_num(x) + "\" y=\"" + svg_num(plots_bottom + 6) + "\" dy=\"0.8em\"",
                o.labels[static_cast<std::size_t>(j)], o.max_label_length);
    }
  }
  out += "</g>\n";
  svg_axis_titles(out, o.y_axis_title, margin + font, o.x_axis_title, plots_bottom + x_labels_h + font, titles);
  out += "</svg>\n";
  return out;
}

}  // namespace detail
}  // namespace attn::io
