// SPDX-License-Identifier: MIT
// Part of attn/io/alignment_svg.hpp (include that): the options of the alignment-vs-gold
// picture and its drawing. Rows are target tokens (top to bottom), columns source tokens.
#pragma once

#include "../../alignment.hpp"
#include "../../config.hpp"
#include "../colormap.hpp"
#include "../pharaoh.hpp"
#include "svg_draw.hpp"
#include "text.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace attn::io {

/// How the alignment-vs-gold picture looks; sizes in SVG pixels.
/// \headerfile alignment_svg.hpp <attn/io/alignment_svg.hpp>
struct AlignmentSvgOptions {
  std::string title;                    ///< above the picture; empty: none
  std::vector<std::string> row_labels;  ///< target tokens, one per row; empty: row numbers
  std::vector<std::string> col_labels;  ///< source tokens, one per column; empty: column numbers
  std::string row_axis_title;           ///< e.g. "target"; empty: none
  std::string col_axis_title;           ///< e.g. "source"; empty: none
  Index rows = 0;                       ///< 0: from row_labels, the weights, or the largest row index + 1
  Index cols = 0;                       ///< 0: from col_labels, the weights, or the largest column index + 1
  /// Weights given: the hypothesis is every link above this weight (threshold_alignment);
  /// unset: each row's largest weight (argmax_alignment).
  std::optional<double> threshold;
  bool scores = true;                   ///< print precision, recall and AER under the title
  bool legend = true;                   ///< the legend of the marks, with their counts
  double max_map_size = 720;            ///< the grid spans at most this along each axis
  double max_cell_size = 24;            ///< cells are squares of at most this side
  double font_size = 12;                ///< labels; the title is 1.4 times larger
  /// Font family of the picture's text, a CSS font-family list, e.g. "Times New Roman, serif"
  /// to match a paper. Text is laid out for DejaVu Sans' widths: a narrower font leaves more room.
  std::string font_family = "DejaVu Sans, Verdana, Arial, sans-serif";
  std::size_t max_label_length = 24;    ///< labels wider are cut with "…" (full text in a tooltip); 0: never
};

namespace detail {

// The marks' colours (ColorBrewer Dark2 / RdBu, told apart by shape as well).
inline constexpr const char* align_hit_color = "#1b9e77";
inline constexpr const char* align_possible_hit_color = "#a6dba0";
inline constexpr const char* align_miss_color = "#d95f02";
inline constexpr const char* align_possible_color = "#808080";
inline constexpr const char* align_false_color = "#d7191c";
inline constexpr const char* align_link_color = "#202020";

enum AlignCell : unsigned char { cell_none = 0, cell_sure = 1, cell_possible = 2, cell_hypothesis = 4 };

inline void align_check_link(const char* who, const char* name, const AlignmentLink& l, std::size_t k, Index rows, Index cols) {
  ATTN_CHECK(l.i >= 0 && l.j >= 0 && l.i < rows && l.j < cols,
             std::string(who) + ": " + name + "[" + std::to_string(k) + "] (" + std::to_string(l.i) + ", " +
                 std::to_string(l.j) + ") is outside the " + std::to_string(rows) + "x" + std::to_string(cols) +
                 " picture (rows are target tokens, columns source tokens)");
}

inline Index align_extent(const std::vector<const Alignment*>& sets, bool rows) {
  Index n = 0;
  for (const Alignment* set : sets)
    for (const AlignmentLink& l : *set) n = std::max(n, (rows ? l.i : l.j) + 1);
  return n;
}

/// Draws the picture. `weights` (rows×cols, or empty) is shaded under the marks; `gold`
/// null: the hypothesis alone, as dots.
inline std::string alignment_render(const Alignment& hypothesis, const GoldAlignment* gold, const Matrix<double>& weights,
                                    const AlignmentSvgOptions& o, const char* who) {
  ATTN_CHECK(o.max_map_size > 0 && std::isfinite(o.max_map_size),
             std::string(who) + ": options.max_map_size (" + format_number(o.max_map_size, -1) + ") must be > 0");
  ATTN_CHECK(o.max_cell_size > 0 && std::isfinite(o.max_cell_size),
             std::string(who) + ": options.max_cell_size (" + format_number(o.max_cell_size, -1) + ") must be > 0");
  ATTN_CHECK(o.font_size > 0 && o.font_size <= 200,
             std::string(who) + ": options.font_size (" + format_number(o.font_size, -1) + ") must be in (0, 200]");
  ATTN_CHECK(o.rows >= 0 && o.cols >= 0, std::string(who) + ": options.rows and options.cols must be >= 0");
  static const Alignment none;
  const Alignment& sure = gold ? gold->sure : none;
  const Alignment& possible = gold ? gold->possible : none;
  const std::vector<const Alignment*> sets{&hypothesis, &sure, &possible};
  const auto extent = [&](Index given, const std::vector<std::string>& labels, Index from_weights, bool rows) {
    if (given > 0) return given;
    if (!labels.empty()) return static_cast<Index>(labels.size());
    if (weights.size() > 0 || from_weights > 0) return from_weights;
    return align_extent(sets, rows);
  };
  const Index rows = extent(o.rows, o.row_labels, weights.rows(), true);
  const Index cols = extent(o.cols, o.col_labels, weights.cols(), false);
  // A link index far beyond any sentence ("0-999999999") would make a picture of a billion
  // cells, built for minutes before running out of memory: refused at 2^26 cells (8192×8192).
  constexpr Index max_cells = Index(1) << 26;
  ATTN_CHECK(rows == 0 || cols <= max_cells / rows,
             std::string(who) + ": a picture of " + std::to_string(rows) + "x" + std::to_string(cols) +
                 " cells is more than 2^26; is a link index out of place?");
  svg_check_labels(who, "options.", rows, cols, o.row_labels, o.col_labels);
  ATTN_CHECK(weights.size() == 0 || (weights.rows() == rows && weights.cols() == cols),
             std::string(who) + ": the weights are " + std::to_string(weights.rows()) + "x" +
                 std::to_string(weights.cols()) + " but the picture is " + std::to_string(rows) + "x" + std::to_string(cols));
  const char* names[] = {"hypothesis", "gold.sure", "gold.possible"};
  for (std::size_t s = 0; s < sets.size(); ++s)
    for (std::size_t k = 0; k < sets[s]->size(); ++k) align_check_link(who, names[s], (*sets[s])[k], k, rows, cols);

  std::vector<unsigned char> cell(static_cast<std::size_t>(rows * cols), cell_none);
  const auto at = [&](const AlignmentLink& l) -> unsigned char& { return cell[static_cast<std::size_t>(l.i * cols + l.j)]; };
  for (const AlignmentLink& l : possible) at(l) |= cell_possible;
  for (const AlignmentLink& l : sure) at(l) |= cell_sure;
  for (const AlignmentLink& l : hypothesis) at(l) |= cell_hypothesis;

  // Layout: labels (numbers when none are given), the grid, the legend on the right.
  std::vector<std::string> row_text = o.row_labels;
  std::vector<std::string> col_text = o.col_labels;
  if (row_text.empty())
    for (Index i = 0; i < rows; ++i) row_text.push_back(std::to_string(i));
  if (col_text.empty())
    for (Index j = 0; j < cols; ++j) col_text.push_back(std::to_string(j));
  const double font = o.font_size;
  const double c = std::min({o.max_cell_size, o.max_map_size / static_cast<double>(std::max<Index>(cols, 1)),
                             o.max_map_size / static_cast<double>(std::max<Index>(rows, 1))});
  const double label_font = std::clamp(c / 1.15, std::min(7.0, font), font);
  const auto step = static_cast<std::size_t>(std::max(1.0, std::ceil(label_font * 1.15 / c - 1e-9)));
  const double cw = svg_char_width(label_font);
  const double row_label_width = static_cast<double>(max_shown_label_width(row_text, static_cast<Index>(step), o.max_label_length)) * cw + 6;
  const double col_label_height = static_cast<double>(max_shown_label_width(col_text, static_cast<Index>(step), o.max_label_length)) * cw + 6;
  const double margin = 8;
  const double title_height = o.title.empty() ? 0 : font * 1.4 * 1.3 + 4;
  const bool show_scores = gold != nullptr && o.scores;
  const double scores_height = show_scores ? font * 1.4 + 4 : 0;
  const double row_axis = o.row_axis_title.empty() ? 0 : font * 1.2 + 4;
  const double col_axis = o.col_axis_title.empty() ? 0 : font * 1.2 + 4;
  const double left = margin + row_axis + row_label_width;
  const double top = margin + title_height + scores_height + col_axis + col_label_height;
  const double grid_w = c * static_cast<double>(cols);
  const double grid_h = c * static_cast<double>(rows);

  Index counts[5] = {0, 0, 0, 0, 0};  // hit, possible hit, miss, possible, false alarm / link
  for (const unsigned char v : cell) {
    const bool h = (v & cell_hypothesis) != 0;
    if (v & cell_sure) ++counts[h ? 0 : 2];
    else if (v & cell_possible) ++counts[h ? 1 : 3];
    else if (h) ++counts[4];
  }
  struct Entry { const char* kind; std::string text; };
  std::vector<Entry> entries;
  if (gold) {
    entries = {{"hit", "hit (sure)"}, {"possible-hit", "hit (possible)"}, {"miss", "miss (sure, not found)"},
               {"possible", "possible, not found"}, {"false-alarm", "false alarm"}};
    for (std::size_t k = 0; k < entries.size(); ++k) entries[k].text += ": " + std::to_string(counts[k]);
  } else {
    entries = {{"link", "link: " + std::to_string(counts[4])}};
  }
  const bool shaded = weights.size() > 0;
  double legend_w = 0;
  if (o.legend) {
    for (const Entry& e : entries) legend_w = std::max(legend_w, static_cast<double>(display_width(e.text)));
    if (shaded) legend_w = std::max(legend_w, 22.0);
    legend_w = 16 + 22 + legend_w * svg_char_width(font);
  }
  const double legend_h = o.legend ? static_cast<double>(entries.size() + (shaded ? 2 : 0)) * (font * 1.6) : 0;
  std::string scores_text;
  if (show_scores) {
    const AlignmentScores s = ::attn::alignment_scores(hypothesis, sure, possible);
    scores_text = "precision " + format_number(s.precision, 3) + " \xC2\xB7 recall " + format_number(s.recall, 3) +
                  " \xC2\xB7 AER " + format_number(s.aer, 3);
  }
  const double title_w = std::max(static_cast<double>(display_width(o.title)) * svg_char_width(font * 1.4),
                                  static_cast<double>(display_width(scores_text)) * svg_char_width(font));
  const double centre = std::max(left + grid_w / 2, margin + title_w / 2);
  // Axis titles: the source's over the source labels, the target's left of the target labels.
  const AxisTitles titles =
      place_axis_titles(o.row_axis_title, top, top + grid_h, o.col_axis_title, left, left + grid_w, font, margin);
  const double width =
      std::ceil(std::max({left + grid_w + legend_w + margin, title_w + 2 * margin, titles.reach_right + margin}));
  const double height = std::ceil(std::max({top + grid_h, top + legend_h, titles.reach_down}) + margin);

  std::string out;
  svg_open(out, width, height, font, o.title.empty() ? std::string("alignment") : o.title, o.font_family);
  out += "<desc>attn alignment: " + std::to_string(rows) + " target x " + std::to_string(cols) + " source tokens, " +
         std::to_string(hypothesis.size()) + " hypothesis links" +
         (gold ? ", " + std::to_string(sure.size()) + " sure and " + std::to_string(possible.size()) + " possible gold links" : "") +
         "</desc>\n<rect class=\"background\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  if (!o.title.empty()) {
    svg_label(out, "class=\"title\" x=\"" + svg_num(centre) + "\" y=\"" +
                       svg_num(margin + font * 1.4) + "\" text-anchor=\"middle\" font-size=\"" + svg_num(font * 1.4) +
                       "\" font-weight=\"bold\"", o.title, 0);
  }
  if (show_scores) {
    out += "<text class=\"scores\" x=\"" + svg_num(centre) + "\" y=\"" + svg_num(margin + title_height + font * 1.1) +
           "\" text-anchor=\"middle\">" + scores_text + "</text>\n";
  }
  if (!o.col_axis_title.empty()) {
    svg_label(out, "class=\"axis-title\" x=\"" + svg_num(titles.x_centre) + "\" y=\"" +
                       svg_num(top - col_label_height - 4) + "\" text-anchor=\"middle\"", o.col_axis_title, 0);
  }
  if (!o.row_axis_title.empty()) {
    svg_label(out, "class=\"axis-title\" transform=\"translate(" + svg_num(margin + font) + "," + svg_num(titles.y_centre) +
                       ") rotate(-90)\" text-anchor=\"middle\"", o.row_axis_title, 0);
  }
  out += "<g class=\"col-labels\" font-size=\"" + svg_num(label_font) + "\">\n";
  for (std::size_t j = 0; j < col_text.size(); j += step) {
    svg_label(out, "transform=\"translate(" + svg_num(left + (static_cast<double>(j) + 0.5) * c) + "," + svg_num(top - 4) +
                       ") rotate(-90)\" dy=\"0.35em\"", col_text[j], o.max_label_length);
  }
  out += "</g>\n<g class=\"row-labels\" font-size=\"" + svg_num(label_font) + "\" text-anchor=\"end\">\n";
  for (std::size_t i = 0; i < row_text.size(); i += step) {
    svg_label(out, "x=\"" + svg_num(left - 4) + "\" y=\"" + svg_num(top + (static_cast<double>(i) + 0.5) * c) +
                       "\" dy=\"0.35em\"", row_text[i], o.max_label_length);
  }
  out += "</g>\n";

  // The grid: weights shaded in light greys (0 white, the largest weight 45 % grey), lines.
  out += "<g class=\"alignment\" data-left=\"" + svg_num(left) + "\" data-top=\"" + svg_num(top) + "\" data-cell=\"" +
         svg_num(c) + "\" data-rows=\"" + std::to_string(rows) + "\" data-cols=\"" + std::to_string(cols) + "\">\n";
  double wmax = 0;
  for (Index k = 0; k < weights.size(); ++k)
    if (std::isfinite(weights.data()[k])) wmax = std::max(wmax, weights.data()[k]);
  const auto shade = [&](double v) {
    const double t = wmax > 0 && std::isfinite(v) ? std::clamp(v / wmax, 0.0, 1.0) * 0.45 : 0.0;
    return css_color(colormap_color(Colormap::greys, t));
  };
  if (shaded) {
    out += "<g class=\"weights\" shape-rendering=\"crispEdges\">\n";
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < cols; ++j)
        out += "<rect x=\"" + svg_num(left + static_cast<double>(j) * c) + "\" y=\"" + svg_num(top + static_cast<double>(i) * c) +
               "\" width=\"" + svg_span(left + static_cast<double>(j) * c, left + static_cast<double>(j + 1) * c) +
               "\" height=\"" + svg_span(top + static_cast<double>(i) * c, top + static_cast<double>(i + 1) * c) +
               "\" fill=\"" + shade(weights(i, j)) + "\"><title>" +
               xml_escaped(row_text[static_cast<std::size_t>(i)]) + " \xE2\x86\x92 " + xml_escaped(col_text[static_cast<std::size_t>(j)]) +
               ": " + format_number(weights(i, j), -1) + "</title></rect>\n";
    out += "</g>\n";
  }
  out += "<g class=\"grid\" stroke=\"#d0d0d0\" stroke-width=\"0.5\">\n";
  for (Index i = 0; i <= rows; ++i)
    out += "<path d=\"M" + svg_num(left) + " " + svg_num(top + static_cast<double>(i) * c) + "h" + svg_num(grid_w) + "\"/>";
  for (Index j = 0; j <= cols; ++j)
    out += "<path d=\"M" + svg_num(left + static_cast<double>(j) * c) + " " + svg_num(top) + "v" + svg_num(grid_h) + "\"/>";
  out += "\n</g>\n";

  // A mark, centred at (x, y) for a cell of side s: squares are gold links (solid outline:
  // sure, dashed: possible; filled when the hypothesis has them), a dot marks a hypothesis link
  // on gold (or any link without gold), a cross a hypothesis link outside the gold.
  const auto mark = [](std::string& svg, const std::string& kind, double x, double y, double s) {
    const double inset = s * 0.14;
    const std::string square = "x=\"" + svg_num(x - s / 2 + inset) + "\" y=\"" + svg_num(y - s / 2 + inset) + "\" width=\"" +
                               svg_num(s - 2 * inset) + "\" height=\"" + svg_num(s - 2 * inset) + "\"";
    const std::string stroke = svg_num(std::max(1.0, s * 0.09));
    const std::string dot = "<circle cx=\"" + svg_num(x) + "\" cy=\"" + svg_num(y) + "\" r=\"" + svg_num(s * 0.13) +
                            "\" fill=\"" + align_link_color + "\"/>";
    if (kind == "hit") {
      svg += "<rect " + square + " fill=\"" + align_hit_color + "\" stroke=\"#0b5e45\" stroke-width=\"" + stroke + "\"/>" + dot;
    } else if (kind == "possible-hit") {
      svg += "<rect " + square + " fill=\"" + align_possible_hit_color + "\" stroke=\"" + align_possible_color +
             "\" stroke-width=\"" + stroke + "\" stroke-dasharray=\"" + svg_num(s * 0.12) + "\"/>" + dot;
    } else if (kind == "miss") {
      svg += "<rect " + square + " fill=\"none\" stroke=\"" + align_miss_color + "\" stroke-width=\"" +
             svg_num(std::max(1.5, s * 0.14)) + "\"/>";
    } else if (kind == "possible") {
      svg += "<rect " + square + " fill=\"none\" stroke=\"" + align_possible_color + "\" stroke-width=\"" + stroke +
             "\" stroke-dasharray=\"" + svg_num(s * 0.12) + "\"/>";
    } else if (kind == "false-alarm") {
      const double r = s / 2 - inset;
      svg += "<path d=\"M" + svg_num(x - r) + " " + svg_num(y - r) + "L" + svg_num(x + r) + " " + svg_num(y + r) + "M" +
             svg_num(x + r) + " " + svg_num(y - r) + "L" + svg_num(x - r) + " " + svg_num(y + r) + "\" stroke=\"" +
             align_false_color + "\" stroke-width=\"" + svg_num(std::max(1.5, s * 0.14)) + "\" stroke-linecap=\"round\"/>";
    } else {
      svg += "<circle cx=\"" + svg_num(x) + "\" cy=\"" + svg_num(y) + "\" r=\"" + svg_num(s * 0.22) + "\" fill=\"" +
             align_link_color + "\"/>";
    }
  };
  const auto kind_of = [&](unsigned char v) -> const char* {
    const bool h = (v & cell_hypothesis) != 0;
    if (!gold) return h ? "link" : nullptr;
    if (v & cell_sure) return h ? "hit" : "miss";
    if (v & cell_possible) return h ? "possible-hit" : "possible";
    return h ? "false-alarm" : nullptr;
  };
  const auto entry_text = [&](const char* kind) {
    for (const Entry& e : entries)
      if (std::string(e.kind) == kind) return e.text.substr(0, e.text.find(':'));
    return std::string();
  };
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) {
      const char* kind = kind_of(cell[static_cast<std::size_t>(i * cols + j)]);
      if (!kind) continue;
      out += "<g class=\"mark " + std::string(kind) + "\" data-i=\"" + std::to_string(i) + "\" data-j=\"" + std::to_string(j) +
             "\"><title>" + xml_escaped(row_text[static_cast<std::size_t>(i)]) + " \xE2\x86\x92 " +
             xml_escaped(col_text[static_cast<std::size_t>(j)]) + ": " + entry_text(kind) + "</title>";
      mark(out, kind, left + (static_cast<double>(j) + 0.5) * c, top + (static_cast<double>(i) + 0.5) * c, c);
      out += "</g>\n";
    }
  }
  out += "<rect class=\"frame\" x=\"" + svg_num(left) + "\" y=\"" + svg_num(top) + "\" width=\"" + svg_num(grid_w) +
         "\" height=\"" + svg_num(grid_h) + "\" fill=\"none\" stroke=\"#404040\" stroke-width=\"0.5\"/>\n</g>\n";

  if (o.legend) {
    const double x = left + grid_w + 16;
    const double line = font * 1.6;
    out += "<g class=\"legend\">\n";
    double y = top;
    for (const Entry& e : entries) {
      out += "<g class=\"legend-entry " + std::string(e.kind) + "\">";
      mark(out, e.kind, x + 9, y + line / 2, 18);
      out += "<text x=\"" + svg_num(x + 22) + "\" y=\"" + svg_num(y + line / 2) + "\" dy=\"0.35em\">";
      append_xml_escaped(out, e.text);
      out += "</text></g>\n";
      y += line;
    }
    if (shaded) {
      out += "<g class=\"legend-weights\"><rect x=\"" + svg_num(x) + "\" y=\"" + svg_num(y + 4) + "\" width=\"18\" height=\"" +
             svg_num(line - 8) + "\" fill=\"" + shade(wmax) + "\" stroke=\"#808080\" stroke-width=\"0.5\"/><text x=\"" +
             svg_num(x + 22) + "\" y=\"" + svg_num(y + line / 2) + "\" dy=\"0.35em\">shade: weight, 0 to " +
             format_number(wmax, 3) + "</text></g>\n";
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  return out;
}

}  // namespace detail
}  // namespace attn::io
