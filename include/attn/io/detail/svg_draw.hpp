// SPDX-License-Identifier: MIT
// Part of attn/io/svg.hpp (include that): drawing heatmap panels (vector or raster cells, labels,
// colour bar) into one SVG document, the single map and the grid, and writing the document.
#pragma once

#include "../../config.hpp"
#include "../colormap.hpp"
#include "png.hpp"
#include "svg_layout.hpp"
#include "text.hpp"
#include "write_file.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace attn::io::detail {

inline std::string svg_num(double v) { return format_coordinate(v, 2); }

/// The length from `a` to `b` as the file writes it: svg_num(b) minus svg_num(a), in the file's
/// hundredths, so that a cell drawn at svg_num(a) with this length ends exactly where the next
/// one begins. (`svg_num(b - a)` can leave 0.01 between neighbours, which a renderer snapping
/// edges to pixels, as crispEdges asks, shows as a hairline of background across the map.)
inline std::string svg_span(double a, double b) {
  return svg_num(static_cast<double>(std::llround(b * 100.0) - std::llround(a * 100.0)) / 100.0);
}

/// Appends `<text ...>label<title>full label</title></text>` for a label cut to the limit (the
/// shown label through append_label: right-to-left text in an isolate of its own, so the "…" of
/// a cut Hebrew or Arabic label is at its left end).
inline void svg_label(std::string& out, const std::string& attributes, const std::string& label, std::size_t max_length) {
  // A label of white space only (a character model's space token, "\t", "\n") would collapse
  // to nothing in SVG: each of its characters is shown as U+2423 (␣) instead, so the token can
  // be told from a missing label. (An empty label stays empty: the way to leave one out.)
  if (!label.empty() && label.find_first_not_of(" \t\n\r\v\f") == std::string::npos) {
    std::string visible;
    for (std::size_t k = 0; k < label.size(); ++k) visible += "\xE2\x90\xA3";
    return svg_label(out, attributes, visible, max_length);
  }
  const std::string shown = truncated(label, max_length);
  out += "<text " + attributes + ">";
  append_label(out, shown);
  if (shown != label) {
    out += "<title>";
    append_xml_escaped(out, label);
    out += "</title>";
  }
  out += "</text>\n";
}

/// Appends the XML prolog (unless `fragment`), the `<svg>` root element (`width×height` px,
/// `font` px text) and its `<title>`; the caller adds a `<desc>`, the drawing and `</svg>`.
inline void svg_open(std::string& out, double width, double height, double font, const std::string& title,
                     const std::string& font_family, bool fragment = false) {
  if (!fragment) out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" version=\"1.1\" width=\"" +
         svg_num(width) + "\" height=\"" + svg_num(height) + "\" viewBox=\"0 0 " + svg_num(width) + " " +
         svg_num(height) + "\" font-family=\"";
  append_xml_escaped(out, font_family.empty() ? std::string("DejaVu Sans, Verdana, Arial, sans-serif") : font_family);
  out += "\" font-size=\"" + svg_num(font) + "\">\n";
  out += "<title>";
  append_xml_escaped(out, title);
  out += "</title>\n";
}

/// Fill of masked cells (under the hatching) and colour of the hatch lines.
inline constexpr Rgb masked_background{0xf4, 0xf4, 0xf4};
inline constexpr const char* masked_stroke = "#8c8c8c";
/// Bars of the leaked-mass column.
inline constexpr const char* leaked_color = "#d95f02";

/// The `<pattern>` that hatches masked cells (id `<id_prefix>-masked`).
inline void svg_masked_pattern(std::string& out, const std::string& id) {
  out += "<defs><pattern id=\"";
  append_xml_escaped(out, id);
  out += "\" patternUnits=\"userSpaceOnUse\" width=\"6\" height=\"6\" patternTransform=\"rotate(45)\">"
         "<rect width=\"6\" height=\"6\" fill=\"" + css_color(masked_background) + "\"/>"
         "<path d=\"M0 0v6\" stroke=\"" + masked_stroke + "\" stroke-width=\"1.5\"/></pattern></defs>\n";
}

/// Index numbers along an unlabelled axis: rows left of the map, columns above it.
/// `extent` > 0 (rows only): the rows go up from the bottom of a map `extent` px tall
/// (HeatmapOrigin::lower).
inline void svg_index_ticks(std::string& out, Index count, bool rows, double left, double top, double cell,
                            double font, Index block = 1, double extent = 0) {
  out += std::string("<g class=\"") + (rows ? "row-ticks" : "col-ticks") + "\" font-size=\"" + svg_num(font) + "\"" +
         (rows ? " text-anchor=\"end\"" : " text-anchor=\"middle\"") + ">\n";
  // A tick whose number would touch the previous one's is left out (a map of a few pixels: the
  // ticks of index_ticks then lie closer than their numbers are wide, or tall).
  double last_at = 0;
  std::size_t last_digits = 0;
  // With blocks, tick t counts the larger map's rows: it sits at the middle of its own row there,
  // (t + 0.5) / block cells along (the drawn cell that holds it).
  const auto b = static_cast<double>(block);
  for (const Index t : index_ticks(count, block)) {
    const double at = (static_cast<double>(t) + 0.5) / b * cell;
    const std::size_t digits = std::to_string(t).size();
    const double room = rows ? font + 1
                             : 0.5 * static_cast<double>(digits + last_digits) * svg_char_width(font) + 3;
    if (last_digits > 0 && at - last_at < room) continue;
    last_at = at;
    last_digits = digits;
    if (rows) {
      const double y = extent > 0 ? top + extent - at : top + at;
      out += "<path d=\"M" + svg_num(left - 3) + " " + svg_num(y) + "h3\" stroke=\"#404040\"/>";
      out += "<text x=\"" + svg_num(left - 5) + "\" y=\"" + svg_num(y) + "\" dy=\"0.35em\">" +
             std::to_string(t) + "</text>\n";
    } else {
      out += "<path d=\"M" + svg_num(left + at) + " " + svg_num(top - 3) + "v3\" stroke=\"#404040\"/>";
      out += "<text x=\"" + svg_num(left + at) + "\" y=\"" + svg_num(top - 5) + "\">" + std::to_string(t) + "</text>\n";
    }
  }
  out += "</g>\n";
}

/// The leaked-mass column right of a map: one bar per row, 0 to 1 across `width` px; `lower`:
/// row 0 at the bottom (HeatmapOrigin::lower).
inline void svg_leaked_column(std::string& out, const Eigen::VectorXd& leaked, double x, double top, double cell,
                              double width, double font, bool lower = false) {
  const double height = cell * static_cast<double>(leaked.size());
  out += "<g class=\"leaked\">\n";
  out += "<text class=\"leaked-label\" transform=\"translate(" + svg_num(x + width / 2) + "," + svg_num(top - 4) +
         ") rotate(-90)\" dy=\"0.35em\" font-size=\"" + svg_num(font) + "\">leaked<title>mass that ran past the last key "
         "(1 \xE2\x88\x92 row sum), bar from 0 to 1</title></text>\n";
  for (Index i = 0; i < leaked.size(); ++i) {
    const double v = leaked(i);
    if (!(v > 0)) continue;  // 0, negative rounding noise and NaN: no bar
    const Index drawn = lower ? leaked.size() - 1 - i : i;
    out += "<rect x=\"" + svg_num(x) + "\" y=\"" + svg_num(top + static_cast<double>(drawn) * cell) + "\" width=\"" +
           svg_num(std::min(v, 1.0) * width) + "\" height=\"" + svg_num(cell) + "\" fill=\"" + leaked_color +
           "\"><title>row " + std::to_string(i) + ": leaked mass " + format_number(v, -1) + "</title></rect>\n";
  }
  out += "<rect class=\"frame\" x=\"" + svg_num(x) + "\" y=\"" + svg_num(top) + "\" width=\"" + svg_num(width) +
         "\" height=\"" + svg_num(height) + "\" fill=\"none\" stroke=\"#404040\" stroke-width=\"0.5\"/>\n";
  const std::string below = svg_num(top + height + font);
  out += "<text x=\"" + svg_num(x) + "\" y=\"" + below + "\" font-size=\"" + svg_num(font) + "\">0</text><text x=\"" +
         svg_num(x + width) + "\" y=\"" + below + "\" font-size=\"" + svg_num(font) +
         "\" text-anchor=\"end\">1</text>\n</g>\n";
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
  // Row i is drawn as the drawn_row(i)-th from the top: i, or from the bottom (origin lower).
  const bool lower = options.origin == HeatmapOrigin::lower;
  const auto drawn_row = [lower, rows](Index i) { return static_cast<double>(lower ? rows - 1 - i : i); };

  // Where a title `title_width` wide is centred: over the map, or as far right as keeps it inside
  // the panel when it is the wider (heatmap_layout widens the panel to hold it).
  const auto title_centre = [&](double title_width) { return std::max(left + width / 2, x0 + title_width / 2); };
  out += "<g class=\"panel\">\n";
  if (!panel.title->empty()) {
    // Cut to panel_title_chars.
    std::string attributes = "class=\"panel-title\" x=\"" +
                             svg_num(title_centre(panel_title_width(*panel.title, layout.font))) + "\" y=\"" +
                             svg_num(y0 + layout.font * 1.1) + "\" text-anchor=\"middle\" font-size=\"" +
                             svg_num(layout.font * 1.1) + "\" font-weight=\"bold\"";
    svg_label(out, attributes, *panel.title, panel_title_chars);
  }
  if (!options.col_axis_title.empty()) {
    svg_label(out,
              "class=\"axis-title\" x=\"" +
                  svg_num(title_centre(layout.col_title_length)) + "\" y=\"" +
                  svg_num(y0 + layout.panel_title_height + layout.font) + "\" text-anchor=\"middle\"",
              options.col_axis_title, 0);
  }
  if (!options.row_axis_title.empty()) {
    // Centred beside the map, or, when longer than the map is tall, moved down as far as keeps
    // it below the panel's title (heatmap_layout makes the panel tall enough to hold it).
    const double x = x0 + layout.font;
    const double y = std::max(top + height / 2, y0 + layout.panel_title_height + layout.row_title_length / 2);
    svg_label(out,
              "class=\"axis-title\" transform=\"translate(" + svg_num(x) + "," + svg_num(y) +
                  ") rotate(-90)\" text-anchor=\"middle\"",
              options.row_axis_title, 0);
  }
  const std::string label_font = svg_num(layout.label_font);
  const auto step = static_cast<std::size_t>(layout.label_step);
  if (options.index_ticks && col_labels.empty() && cols > 0) {
    svg_index_ticks(out, cols, false, left, top, cell, layout.tick_font, options.index_block_cols);
  }
  if (options.index_ticks && row_labels.empty() && rows > 0) {
    svg_index_ticks(out, rows, true, left, top, cell, layout.tick_font, options.index_block_rows, lower ? height : 0);
  }
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
      const double y = top + (drawn_row(static_cast<Index>(i)) + 0.5) * cell;
      svg_label(out, "x=\"" + svg_num(left - 4) + "\" y=\"" + svg_num(y) + "\" dy=\"0.35em\"", row_labels[i],
                options.max_label_length);
    }
    out += "</g>\n";
  }

  static const Mask all_visible;
  const Mask& mask = panel.mask != nullptr ? *panel.mask : all_visible;
  const bool masked = layout.any_masked && !mask.is_all_visible();
  const std::string hatch = "url(#" + xml_escaped(options.id_prefix) + "-masked)";
  const bool raster = heatmap_raster(rows, cols, options);
  if (rows > 0 && cols > 0 && raster) {
    // A pixel per cell, or, where cells are smaller than a pixel (a map of more than
    // max_map_size cells along an axis), a pixel per block of cells showing the block's largest
    // visible value: scaled down by the browser, a pixel per cell dropped whole rows and columns
    // (800 decoder steps on 720 px lost every tenth step of a diagonal alignment). Every cell
    // belongs to one block; a block whose visible cells are all NaN is NaN, one with none masked.
    const Index px_rows = std::clamp<Index>(static_cast<Index>(std::ceil(height - 1e-9)), 1, rows);
    const Index px_cols = std::clamp<Index>(static_cast<Index>(std::ceil(width - 1e-9)), 1, cols);
    const bool pooled = px_rows < rows || px_cols < cols;
    std::vector<Rgb> pixels(static_cast<std::size_t>(px_rows * px_cols));
    for (Index y = 0; y < px_rows; ++y) {
      const Index i0 = y * rows / px_rows;
      const Index i1 = (y + 1) * rows / px_rows;
      for (Index x = 0; x < px_cols; ++x) {
        const Index j0 = x * cols / px_cols;
        const Index j1 = (x + 1) * cols / px_cols;
        bool seen = false;
        double best = std::numeric_limits<double>::quiet_NaN();
        for (Index i = i0; i < i1; ++i)
          for (Index j = j0; j < j1; ++j) {
            if (masked && !mask.visible(i, j, cols)) continue;
            const double v = m(i, j);
            if (!seen || v > best || (std::isnan(best) && !std::isnan(v))) best = v;
            seen = true;
          }
        const Index px_row = lower ? px_rows - 1 - y : y;  // the image's rows go down
        pixels[static_cast<std::size_t>(px_row * px_cols + x)] = seen ? heatmap_color(best, scale, options) : masked_background;
      }
    }
    out += "<image class=\"cells\" x=\"" + svg_num(left) + "\" y=\"" + svg_num(top) + "\" width=\"" +
           svg_num(width) + "\" height=\"" + svg_num(height) +
           "\" preserveAspectRatio=\"none\" image-rendering=\"optimizeSpeed\" "
           "style=\"image-rendering:crisp-edges;image-rendering:pixelated\" xlink:href=\"data:image/png;base64,";
    // A cell of k×k image pixels (k up to 4, the image up to 1024 pixels a side: more cost 8
    // times the time for a grid of 64 maps, for little): browsers draw
    // the image pixelated, but rsvg-convert, Inkscape and PDF viewers smooth an embedded image
    // when they scale it, which blurred each cell into its neighbours over a whole cell; with k
    // pixels a cell, only 1/k of it. (Runs of one colour and repeated rows deflate to little.)
    const Index k = pooled ? 1 : std::clamp<Index>(1024 / std::max(px_rows, px_cols), 1, 4);
    if (k > 1) {
      std::vector<Rgb> big(static_cast<std::size_t>(px_rows * k * px_cols * k));
      for (Index y = 0; y < px_rows * k; ++y)
        for (Index x = 0; x < px_cols * k; ++x)
          big[static_cast<std::size_t>(y * px_cols * k + x)] = pixels[static_cast<std::size_t>((y / k) * px_cols + x / k)];
      pixels = std::move(big);
    }
    out += base64(png_rgb(static_cast<std::uint32_t>(px_cols * k), static_cast<std::uint32_t>(px_rows * k), pixels));
    if (pooled) {
      out += "\"><title>" + std::to_string(rows) + "\xC3\x97" + std::to_string(cols) + " cells on " +
             std::to_string(px_rows) + "\xC3\x97" + std::to_string(px_cols) +
             " pixels: each pixel shows the largest value of its block of cells</title></image>\n";
    } else {
      out += "\"/>\n";
    }
    if (masked) {  // the hatching over each run of masked cells of a row
      out += "<g class=\"masked\" fill=\"" + hatch + "\" shape-rendering=\"crispEdges\">\n";
      for (Index i = 0; i < rows; ++i) {
        for (Index j = 0; j < cols;) {
          if (mask.visible(i, j, cols)) {
            ++j;
            continue;
          }
          Index end = j;
          while (end < cols && !mask.visible(i, end, cols)) ++end;
          const double x = left + static_cast<double>(j) * cell;
          const double y = top + drawn_row(i) * cell;
          out += "<rect x=\"" + svg_num(x) + "\" y=\"" + svg_num(y) + "\" width=\"" +
                 svg_span(x, left + static_cast<double>(end) * cell) + "\" height=\"" + svg_span(y, y + cell) + "\"/>\n";
          j = end;
        }
      }
      out += "</g>\n";
    }
  } else if (rows > 0 && cols > 0) {
    out += "<g class=\"cells\" shape-rendering=\"crispEdges\">\n";
    for (Index i = 0; i < rows; ++i) {
      const double y = top + drawn_row(i) * cell;
      const std::string cell_height = svg_span(y, top + (drawn_row(i) + 1) * cell);
      for (Index j = 0; j < cols; ++j) {
        const double v = m(i, j);
        const double x = left + static_cast<double>(j) * cell;
        const std::string cell_width = svg_span(x, left + static_cast<double>(j + 1) * cell);
        const bool hidden = masked && !mask.visible(i, j, cols);
        out += "<rect x=\"" + svg_num(x) + "\" y=\"" + svg_num(y) + "\" width=\"" + cell_width + "\" height=\"" + cell_height +
               "\" fill=\"" + (hidden ? hatch : css_color(heatmap_color(v, scale, options))) + "\"><title>";
        if (!row_labels.empty() && !col_labels.empty()) {
          append_label(out, row_labels[static_cast<std::size_t>(i)]);
          out += " \xE2\x86\x92 ";  // →
          append_label(out, col_labels[static_cast<std::size_t>(j)]);
        } else {
          out += "row " + std::to_string(i) + ", column " + std::to_string(j);
        }
        out += std::string(hidden ? ": masked (" : ": ") + format_number(v, -1) + (hidden ? ")" : "") + "</title></rect>\n";
        if (std::isnan(v) && !hidden) {
          const std::string size = svg_num(cell);
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
          if (masked && !mask.visible(i, j, cols)) continue;
          const Rgb ink = contrasting_text_color(heatmap_color(v, scale, options));
          out += "<text x=\"" + svg_num(left + (static_cast<double>(j) + 0.5) * cell) + "\" y=\"" +
                 svg_num(top + (drawn_row(i) + 0.5) * cell) + "\" dy=\"0.35em\" fill=\"" + css_color(ink) +
                 "\">" + format_number(v, options.value_decimals) + "</text>\n";
        }
      }
      out += "</g>\n";
    }
  }
  out += "<rect class=\"frame\" x=\"" + svg_num(left) + "\" y=\"" + svg_num(top) + "\" width=\"" + svg_num(width) +
         "\" height=\"" + svg_num(height) + "\" fill=\"none\" stroke=\"#404040\" stroke-width=\"0.5\"/>\n";
  if (panel.leaked != nullptr && panel.leaked->size() > 0) {
    svg_leaked_column(out, *panel.leaked, left + width + 6, top, cell, layout.leak_width - 6, layout.tick_font, lower);
  }
  out += "</g>\n";
}

/// The colour map's gradient, `id` (the colour bars fill with it; defined once per picture).
inline void svg_colorbar_gradient(std::string& out, const std::string& id, const HeatmapOptions& options) {
  out += "<defs><linearGradient id=\"";
  append_xml_escaped(out, id);
  out += "\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n";
  for (int k = 0; k <= 32; ++k) {
    const double t = k / 32.0;
    const Rgb c = colormap_color(options.colormap, options.reverse_colormap ? 1.0 - t : t);
    out += "<stop offset=\"" + format_coordinate(t, 4) + "\" stop-color=\"" + css_color(c) + "\"/>\n";
  }
  out += "</linearGradient></defs>\n";
}

/// A colour bar: the gradient `id` over `scale`, `width`×`height` at (x, top), its ticks (in
/// layout.tick_font) on the right and options.colorbar_label beyond them, `tick_chars` character
/// cells of the picture's font further right.
inline void svg_colorbar(std::string& out, const std::string& id, double x, double top, double width, double height,
                         const HeatmapScale& scale, const ColorbarTicks& ticks, std::size_t tick_chars,
                         const HeatmapLayout& layout, const HeatmapOptions& options) {
  const double tick_font = layout.tick_font;
  out += "<g class=\"colorbar\">\n";
  out += "<rect x=\"" + svg_num(x) + "\" y=\"" + svg_num(top) + "\" width=\"" + svg_num(width) + "\" height=\"" +
         svg_num(height) + "\" fill=\"url(#";
  append_xml_escaped(out, id);
  out += ")\" stroke=\"#404040\" stroke-width=\"0.5\"/>\n";
  out += "<g class=\"ticks\" font-size=\"" + svg_num(tick_font) + "\">\n";
  const auto y_of = [&](std::size_t k) {
    return top + height - scale_fraction(ticks.values[k], scale.vmin, scale.vmax) * height;
  };
  for (std::size_t k = 0; k < ticks.values.size(); ++k) {
    const double y = y_of(k);
    const auto overlaps_end = [&](std::size_t e) {
      return e < ticks.values.size() && ticks.ends[e] && std::abs(y_of(e) - y) < tick_font * 1.2;
    };
    if (!ticks.ends[k] && (overlaps_end(0) || overlaps_end(ticks.values.size() - 1))) continue;
    out += "<path d=\"M" + svg_num(x + width) + " " + svg_num(y) + "h4\" stroke=\"#404040\"/>";
    out += "<text x=\"" + svg_num(x + width + 6) + "\" y=\"" + svg_num(y) + "\" dy=\"0.35em\">" + ticks.texts[k] +
           "</text>\n";
  }
  out += "</g>\n";
  if (!options.colorbar_label.empty()) {
    // Centred beside the bar, or starting at its top when longer than the bar (svg_render makes
    // the picture tall enough to hold it).
    const double label_x = x + width + 6 + static_cast<double>(tick_chars) * svg_char_width(layout.font) + layout.font;
    const double label_y = top + std::max(height, layout.colorbar_label_length) / 2;
    svg_label(out,
              "class=\"colorbar-label\" transform=\"translate(" + svg_num(label_x) + "," + svg_num(label_y) +
                  ") rotate(-90)\" text-anchor=\"middle\"",
              options.colorbar_label, 0);
  }
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
  ATTN_CHECK(options.index_block_rows >= 1 && options.index_block_cols >= 1,
             std::string(who) + ": options.index_block_rows (" + std::to_string(options.index_block_rows) +
                 ") and index_block_cols (" + std::to_string(options.index_block_cols) + ") must be >= 1");

  // One colour scale for every map, or with options.shared_scale false one per map, each with
  // a colour bar of its own right of the map (inside its panel) instead of the picture's one.
  const bool per_map = !options.shared_scale && panels.size() > 1;
  const HeatmapScale scale = heatmap_scale(panels, options, who);
  std::vector<HeatmapScale> scales;
  std::vector<ColorbarTicks> map_ticks;
  std::size_t map_tick_chars = 1;
  if (per_map) {
    for (const PanelView& panel : panels) {
      scales.push_back(heatmap_scale({panel}, options, who));
      map_ticks.push_back(colorbar_ticks(scales.back()));
      map_tick_chars = std::max(map_tick_chars, map_ticks.back().chars);
    }
  }
  HeatmapLayout layout = heatmap_layout(panels, options);
  const double font = layout.font;
  const double map_bar_width = 10;
  const double map_bar_block = per_map && options.colorbar
                                   ? 8 + map_bar_width + 6 + static_cast<double>(map_tick_chars) * svg_char_width(font) +
                                         (options.colorbar_label.empty() ? 0 : font * 1.6)
                                   : 0;
  layout.box_width += map_bar_block;  // (after the map and its leaked column, before the gap)
  const double margin = 8;
  const double title_height = options.title.empty() ? 0 : font * 1.4 * 1.3 + 8;
  const double grid_width = layout.box_width * static_cast<double>(layout.grid_columns);
  const double grid_height = layout.box_height * static_cast<double>(layout.grid_rows);
  const double first_map_top =
      margin + title_height + layout.panel_title_height + layout.col_axis_height + layout.col_label_height;

  // Colour bar: beside the maps, from the top of the first row of maps to the foot of the last
  // (a grid's one scale then reads as every map's, not the first row's; matplotlib's
  // fig.colorbar(ax=axes) does the same), at least 100 px tall.
  const ColorbarTicks bar_ticks = colorbar_ticks(scale);
  const std::size_t tick_chars = bar_ticks.chars;
  const double bar_x = margin + grid_width + (panels.size() > 1 ? 4 : 16);
  const double bar_width = 14;
  double last_row_height = 0;  // of the tallest map of the last row (maps of a grid may differ)
  for (std::size_t k = static_cast<std::size_t>((layout.grid_rows - 1) * layout.grid_columns); k < panels.size(); ++k)
    last_row_height = std::max(last_row_height, layout.cell * static_cast<double>(panels[k].values->rows()));
  const double bar_height =
      std::max(100.0, layout.box_height * static_cast<double>(layout.grid_rows - 1) + last_row_height);
  const double bar_top = first_map_top;
  const bool shared_bar = options.colorbar && !per_map;
  const double bar_block = shared_bar ? (bar_x - margin - grid_width) + bar_width + 6 +
                                                  static_cast<double>(tick_chars) * svg_char_width(font) +
                                                  (options.colorbar_label.empty() ? 0 : font * 1.6)
                                            : 0;
  // The legend under the colour bar (or right of the maps): a hatched swatch for masked cells,
  // then a light grey one (crossed, as the cells of maps drawn as vectors) for NaN cells, each
  // only when some map has such a cell.
  const double legend_x = shared_bar ? bar_x : margin + grid_width + 8;
  const double legend_y = shared_bar ? bar_top + bar_height + font + 6 : first_map_top;
  const double nan_legend_y = legend_y + (layout.any_masked ? 20 : 0);
  const double legend_chars = layout.any_masked ? 6 : layout.any_nan ? 3 : 0;  // "masked", "NaN"
  const double legend_width =
      legend_chars > 0 ? legend_x + 14 + 6 + legend_chars * svg_char_width(font) - margin - grid_width : 0;
  double height = margin + title_height + grid_height + margin;
  if (shared_bar) height = std::max(height, bar_top + bar_height + font + margin);
  if (shared_bar)  // a label longer than the bar (svg_colorbar)
    height = std::max(height, bar_top + layout.colorbar_label_length + margin);
  if (layout.any_masked) height = std::max(height, legend_y + 14 + margin);
  if (layout.any_nan) height = std::max(height, nan_legend_y + 14 + margin);
  height = std::ceil(height);
  // The title is centred over the maps (from the left edge of the first column of maps to the
  // right edge of the last), moved right only as far as it must to stay in the picture.
  const double title_width = bold_title_width(options.title, font * 1.4);
  const double maps_left = margin + layout.row_axis_width + layout.row_label_width;
  const double maps_right = margin + layout.box_width * static_cast<double>(layout.grid_columns - 1) +
                            layout.row_axis_width + layout.row_label_width + layout.map_width;
  const double title_x = std::max((maps_left + maps_right) / 2, margin + title_width / 2);
  const double width = std::ceil(std::max({margin + grid_width + std::max(bar_block, legend_width) + margin,
                                           title_x + title_width / 2 + margin}));

  std::string out;
  svg_open(out, width, height, font, options.title.empty() ? std::string("attention heatmap") : options.title,
           options.font_family, options.fragment);
  out += "<desc>attn heatmap: " + std::to_string(panels.size()) + (panels.size() == 1 ? " map" : " maps") +
         ", colour map " + colormap_name(options.colormap) + (options.reverse_colormap ? " (reversed)" : "") +
         (options.origin == HeatmapOrigin::lower ? ", row 0 at the bottom" : "") +
         (per_map ? std::string(", a scale per map")
                  : ", scale [" + format_number(scale.vmin, -1) + ", " + format_number(scale.vmax, -1) + "]") +
         "</desc>\n";
  out += "<rect class=\"background\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  if (layout.any_masked) svg_masked_pattern(out, options.id_prefix + "-masked");
  if (!options.title.empty()) {
    svg_label(out,
              "class=\"title\" x=\"" + svg_num(title_x) +
                  "\" y=\"" + svg_num(margin + font * 1.4) +
                  "\" text-anchor=\"middle\" font-size=\"" + svg_num(font * 1.4) + "\" font-weight=\"bold\"",
              options.title, 0);
  }
  const std::string gradient = options.id_prefix + "-colorbar";
  if (options.colorbar) svg_colorbar_gradient(out, gradient, options);
  for (std::size_t k = 0; k < panels.size(); ++k) {
    const auto column = static_cast<Index>(k) % layout.grid_columns;
    const auto row = static_cast<Index>(k) / layout.grid_columns;
    const double x0 = margin + layout.box_width * static_cast<double>(column);
    const double y0 = margin + title_height + layout.box_height * static_cast<double>(row);
    svg_panel(out, panels[k], options, layout, per_map ? scales[k] : scale, x0, y0);
    if (per_map && options.colorbar) {  // the map's own colour bar, as tall as its map (at least 40 px)
      const double map_top = y0 + layout.panel_title_height + layout.col_axis_height + layout.col_label_height;
      const double map_x = x0 + layout.row_axis_width + layout.row_label_width + layout.map_width + layout.leak_width;
      svg_colorbar(out, gradient, map_x + 8, map_top, map_bar_width,
                   std::max(40.0, layout.cell * static_cast<double>(panels[k].values->rows())), scales[k], map_ticks[k],
                   map_tick_chars, layout, options);
    }
  }
  if (shared_bar) {
    svg_colorbar(out, gradient, bar_x, bar_top, bar_width, bar_height, scale, bar_ticks, tick_chars, layout, options);
  }
  if (layout.any_masked) {
    out += "<g class=\"legend\"><rect x=\"" + svg_num(legend_x) + "\" y=\"" + svg_num(legend_y) +
           "\" width=\"14\" height=\"14\" fill=\"url(#";
    append_xml_escaped(out, options.id_prefix + "-masked");
    out += ")\" stroke=\"#404040\" stroke-width=\"0.5\"/><text x=\"" + svg_num(legend_x + 20) + "\" y=\"" +
           svg_num(legend_y + 7) + "\" dy=\"0.35em\" font-size=\"" + svg_num(font * 0.9) + "\">masked</text></g>\n";
  }
  if (layout.any_nan) {
    const std::string x = svg_num(legend_x);
    const std::string y = svg_num(nan_legend_y);
    out += "<g class=\"legend\"><rect x=\"" + x + "\" y=\"" + y + "\" width=\"14\" height=\"14\" fill=\"" +
           css_color(colormap_color(options.colormap, std::numeric_limits<double>::quiet_NaN())) +
           "\" stroke=\"#404040\" stroke-width=\"0.5\"/>";
    if (layout.any_crossed_nan)
      out += "<path d=\"M" + x + " " + y + "l14 14M" + svg_num(legend_x + 14) + " " + y +
             "l-14 14\" stroke=\"#808080\" stroke-width=\"0.75\"/>";
    out += "<text x=\"" + svg_num(legend_x + 20) + "\" y=\"" + svg_num(nan_legend_y + 7) + "\" dy=\"0.35em\" font-size=\"" +
           svg_num(font * 0.9) + "\">NaN</text></g>\n";
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

/// Checks a map's mask and leaked mass against its `rows×cols` (`name` prefixes the fields).
inline void svg_check_extras(const char* who, const std::string& name, Index rows, Index cols, const Mask& mask,
                             const Eigen::VectorXd& leaked) {
  mask.check((std::string(who) + ": " + name.substr(0, name.size() - 1)).c_str(), rows, cols,  // "...: options: mask ..."
             "the map");
  ATTN_CHECK(leaked.size() == 0 || leaked.size() == rows,
             std::string(who) + ": " + name + "leaked_mass.size() (" + std::to_string(leaked.size()) +
                 ") must equal the number of rows (" + std::to_string(rows) + ")");
}

inline std::string svg_grid(const std::vector<HeatmapPanel>& panels, const HeatmapOptions& options, const char* who) {
  ATTN_CHECK(!panels.empty(), std::string(who) + ": panels must not be empty");
  std::vector<PanelView> views;
  views.reserve(panels.size());
  for (std::size_t k = 0; k < panels.size(); ++k) {
    const HeatmapPanel& p = panels[k];
    const std::string name = "panels[" + std::to_string(k) + "].";
    svg_check_labels(who, name.c_str(), p.values.rows(), p.values.cols(), p.row_labels, p.col_labels);
    const Mask& mask = p.mask ? *p.mask : options.mask;
    svg_check_extras(who, p.mask ? name : std::string("options."), p.values.rows(), p.values.cols(), mask,
                     p.leaked_mass);
    views.push_back({&p.values, &p.title, &panel_labels(p.row_labels, options.row_labels, p.values.rows()),
                     &panel_labels(p.col_labels, options.col_labels, p.values.cols()), &mask, &p.leaked_mass});
  }
  return svg_render(views, options, who);
}

template <typename Derived>
std::string svg_single(const Eigen::DenseBase<Derived>& m, const HeatmapOptions& options, const char* who) {
  static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
  svg_check_labels(who, "options.", m.rows(), m.cols(), options.row_labels, options.col_labels);
  svg_check_extras(who, "options.", m.rows(), m.cols(), options.mask, options.leaked_mass);
  const Matrix<double> values = m.template cast<double>();
  static const std::string no_title;
  const std::vector<PanelView> views{
      {&values, &no_title, &options.row_labels, &options.col_labels, &options.mask, &options.leaked_mass}};
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

}  // namespace attn::io::detail
