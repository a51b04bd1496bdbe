// SPDX-License-Identifier: MIT
// Part of attn/io/bars.hpp (include that): counting values into equal bins (numpy.histogram's
// rules) and drawing the histogram with nice ticks on both axes (sizes in SVG pixels).
#pragma once

#include "../../config.hpp"
#include "../colormap.hpp"
#include "bars_draw.hpp"
#include "svg_draw.hpp"
#include "text.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace attn::io::detail {

template <typename Derived>
Histogram histogram_count(const Eigen::DenseBase<Derived>& values, const HistogramOptions& o, const char* who) {
  static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
  ATTN_CHECK(o.bins >= 1 && o.bins <= 100000,
             std::string(who) + ": options.bins (" + std::to_string(o.bins) + ") must be in [1, 100000]");
  ATTN_CHECK(o.range_min.has_value() == o.range_max.has_value(),
             std::string(who) + ": options.range_min and options.range_max must be given together");
  if (o.range_min) {
    ATTN_CHECK(std::isfinite(*o.range_min) && std::isfinite(*o.range_max) && *o.range_min < *o.range_max,
               std::string(who) + ": options.range_min (" + format_number(*o.range_min, -1) +
                   ") must be less than options.range_max (" + format_number(*o.range_max, -1) + "), both finite");
  }
  Histogram h;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (Index i = 0; i < values.rows(); ++i) {
    for (Index j = 0; j < values.cols(); ++j) {
      const auto v = static_cast<double>(values.derived().coeff(i, j));
      if (std::isnan(v)) ++h.nan;
      else if (std::isinf(v)) ++h.infinite;
      else lo = std::min(lo, v), hi = std::max(hi, v);
    }
  }
  if (o.range_min) {
    lo = *o.range_min;
    hi = *o.range_max;
  } else if (!(lo <= hi)) {  // no finite value
    lo = 0;
    hi = 1;
  } else if (lo == hi) {
    const double v = lo;
    lo = v - 0.5;
    hi = v + 0.5;
    if (!(lo < hi)) {  // |v| so large that ±0.5 is lost in rounding
      lo = v;
      hi = scale_other_end(v, true, who, "the only value");
    }
  }
  const auto bins = static_cast<std::size_t>(o.bins);
  h.counts.assign(bins, 0);
  h.edges.resize(bins + 1);
  for (std::size_t k = 0; k <= bins; ++k) {
    const double t = static_cast<double>(k) / static_cast<double>(bins);
    h.edges[k] = k == bins ? hi : lo + t * (hi / 2 - lo / 2) * 2;  // (hi - lo may overflow)
  }
  for (Index i = 0; i < values.rows(); ++i) {
    for (Index j = 0; j < values.cols(); ++j) {
      const auto v = static_cast<double>(values.derived().coeff(i, j));
      if (!std::isfinite(v)) continue;
      if (v < lo || v > hi) {
        ++h.outside;
        continue;
      }
      auto k = static_cast<std::size_t>(std::floor(scale_fraction(v, lo, hi) * static_cast<double>(bins)));
      k = std::min(k, bins - 1);
      while (k > 0 && v < h.edges[k]) --k;  // (rounding: the edges decide)
      while (k + 1 < bins && v >= h.edges[k + 1]) ++k;
      ++h.counts[k];
    }
  }
  return h;
}

inline std::string histogram_render(const Histogram& h, const HistogramOptions& o, const char* who) {
  check_positive(o.plot_width, who, "plot_width");
  check_positive(o.plot_height, who, "plot_height");
  check_font(o.font_size, who);
  const Rgb fill = parse_css_color(o.color, who);
  Index most = 0;
  for (const Index c : h.counts) most = std::max(most, c);
  const ValueAxis y_axis = value_axis(0, static_cast<double>(std::max<Index>(most, 1)), false, true, true);
  const double lo = h.edges.front();
  const double hi = h.edges.back();
  const ValueAxis x_axis = value_axis(lo, hi, false, false, false);

  std::string note;
  const auto add = [&note](Index n, const std::string& what) {
    if (n == 0) return;
    note += (note.empty() ? "left out: " : ", ") + std::to_string(n) + " " + what;
  };
  add(h.nan, "NaN");
  add(h.infinite, "infinite");
  add(h.outside, "outside the range");
  if (h.nan + h.infinite + h.outside == 0 && most == 0) note = "no values";

  const double font = o.font_size;
  const double margin = 8;
  const double title_h = o.title.empty() ? 0 : font * 1.4 * 1.3 + 8;
  const double y_title_w = o.y_axis_title.empty() ? 0 : font * 1.2 + 4;
  const double left = margin + y_title_w + static_cast<double>(y_axis.widest) * svg_char_width(font * 0.9) + 10;
  const double top = margin + title_h + font * 0.5;
  const double bottom = top + o.plot_height;
  const double x_title_h = o.x_axis_title.empty() ? 0 : font * 1.3 + 4;
  const double note_h = note.empty() ? 0 : font * 1.3 + 4;
  // The first and last x tick labels are centred on the ends: leave room for half of them.
  const double x_overhang = static_cast<double>(x_axis.widest) * svg_char_width(font * 0.9) / 2;
  const double title_w = bold_title_width(o.title, font * 1.4);
  const double note_w = static_cast<double>(display_width(note)) * svg_char_width(font * 0.9);
  const AxisTitles titles =
      place_axis_titles(o.y_axis_title, top, bottom, o.x_axis_title, left, left + o.plot_width, font, margin);
  const double width = std::ceil(std::max({left + o.plot_width + x_overhang + margin, title_w + 2 * margin,
                                           left + note_w + margin, titles.reach_right + margin}));
  const double height = std::ceil(std::max(bottom + font * 1.3 + 8 + x_title_h + note_h, titles.reach_down) + margin);
  const auto x_of = [&](double v) { return left + o.plot_width * std::clamp(scale_fraction(v, lo, hi), 0.0, 1.0); };

  std::string out;
  svg_open(out, width, height, font, o.title.empty() ? std::string("histogram of attention weights") : o.title, o.font_family);
  out += "<desc>attn histogram: " + std::to_string(h.counts.size()) + " bins over [" + format_number(lo, -1) + ", " +
         format_number(hi, -1) + "]" + (note.empty() ? std::string() : "; " + note) + "</desc>\n";
  out += "<rect class=\"background\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  if (!o.title.empty()) {
    svg_label(out,
              "class=\"title\" x=\"" + svg_num(std::max(left + o.plot_width / 2, margin + title_w / 2)) + "\" y=\"" +
                  svg_num(margin + font * 1.4) + "\" text-anchor=\"middle\" font-size=\"" + svg_num(font * 1.4) +
                  "\" font-weight=\"bold\"",
              o.title, 0);
  }
  svg_y_axis(out, y_axis, left, o.plot_width, top, o.plot_height, font);
  out += "<g class=\"bars\" stroke=\"#ffffff\" stroke-width=\"0.5\">\n";
  for (std::size_t k = 0; k < h.counts.size(); ++k) {
    const double x0 = x_of(h.edges[k]);
    const double x1 = x_of(h.edges[k + 1]);
    const double y = axis_y(static_cast<double>(h.counts[k]), y_axis, top, o.plot_height);
    out += "<rect class=\"bar\" x=\"" + svg_num(x0) + "\" y=\"" + svg_num(y) + "\" width=\"" + svg_num(x1 - x0) +
           "\" height=\"" + svg_num(bottom - y) + "\" fill=\"" + css_color(fill) + "\"><title>[" +
           format_number(h.edges[k], -1) + ", " + format_number(h.edges[k + 1], -1) +
           (k + 1 == h.counts.size() ? "]" : ")") + ": " + std::to_string(h.counts[k]) + "</title></rect>\n";
  }
  out += "</g>\n<path d=\"M" + svg_num(left) + " " + svg_num(top) + "v" + svg_num(o.plot_height) +
         "\" stroke=\"#404040\"/>\n";  // the y axis line again, over the first bar
  out += "<g class=\"x-axis\" font-size=\"" + svg_num(font * 0.9) + "\" text-anchor=\"middle\">\n";
  out += "<path d=\"M" + svg_num(left) + " " + svg_num(bottom) + "h" + svg_num(o.plot_width) + "\" stroke=\"#404040\"/>\n";
  for (std::size_t k = 0; k < x_axis.ticks.size(); ++k) {
    const std::string x = svg_num(x_of(x_axis.ticks[k]));
    out += "<path d=\"M" + x + " " + svg_num(bottom) + "v4\" stroke=\"#404040\"/><text x=\"" + x + "\" y=\"" +
           svg_num(bottom + 6) + "\" dy=\"0.8em\">" + x_axis.labels[k] + "</text>\n";
  }
  out += "</g>\n";
  const double below = bottom + font * 1.3 + 8;
  svg_axis_titles(out, o.y_axis_title, margin + font, o.x_axis_title, below + font, titles);
  if (!note.empty()) {
    svg_label(out,
              "class=\"note\" x=\"" + svg_num(left) + "\" y=\"" + svg_num(below + x_title_h + font) +
                  "\" font-size=\"" + svg_num(font * 0.9) + "\" fill=\"#606060\"",
              note, 0);
  }
  out += "</svg>\n";
  return out;
}

}  // namespace attn::io::detail
