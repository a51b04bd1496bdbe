// SPDX-License-Identifier: MIT
// libFuzzer target for the SVG and HTML writers (attn/io/svg.hpp, attn/io/html.hpp) with fuzzed
// labels, values and options. Input: byte 0 = rows (0..8), byte 1 = cols (0..8), bytes 2-3 =
// option bits, then an 8-byte double per cell (row by row; missing bytes read as 0), then two
// optional 8-byte scale ends, then labels separated by NUL (rows, then columns, then the
// title). Every document is checked in-process (markup_check.hpp): valid UTF-8, balanced tags,
// no label escaping into markup; colour-bar ticks must read as finite numbers. The only
// exception allowed is attn::invalid_argument from the option checks. Build and run: fuzz/run.sh.
#include "markup_check.hpp"

#include <attn/io/html.hpp>
#include <attn/io/svg.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace writers_fuzzer {

void require(bool condition, const std::string& what, const std::string& doc) {
  if (condition) return;
  std::fprintf(stderr, "writers_fuzzer: %s\n--- document (first 4000 bytes) ---\n%.4000s\n", what.c_str(), doc.c_str());
  std::abort();
}

void check_document(const std::string& doc) {
  const std::string problem = attn_fuzz::markup_problem(doc);
  require(problem.empty(), problem, doc);
}

/// The colour-bar tick labels must be numbers (no "NaN", no 300-digit strings), at most 8.
void check_ticks(const std::string& svg) {
  const std::size_t group = svg.find("<g class=\"ticks\"");
  if (group == std::string::npos) return;
  const std::size_t end = svg.find("</g>", group);
  int count = 0;
  for (std::size_t at = svg.find("<text", group); at < end; at = svg.find("<text", at + 1)) {
    const std::size_t open = svg.find('>', at) + 1;
    const std::size_t close = svg.find("</text>", open);
    const std::string label = svg.substr(open, close - open);
    char* rest = nullptr;
    const double value = std::strtod(label.c_str(), &rest);
    require(!label.empty() && rest != nullptr && *rest == '\0' && std::isfinite(value) && label.size() <= 24,
            "tick label '" + label + "' is not a short finite number", svg);
    ++count;
  }
  require(count >= 1 && count <= 8, "tick count " + std::to_string(count), svg);
}

struct Input {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t at = 0;
  std::uint8_t byte() { return at < size ? data[at++] : 0; }
  double number() {
    std::uint8_t bytes[8] = {};
    for (auto& b : bytes) b = byte();
    double v = 0;
    std::memcpy(&v, bytes, sizeof v);
    return v;
  }
};

}  // namespace writers_fuzzer

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using writers_fuzzer::require;
  writers_fuzzer::Input in{data, size};
  const attn::Index rows = in.byte() % 9;
  const attn::Index cols = in.byte() % 9;
  const unsigned bits = static_cast<unsigned>(in.byte()) | (static_cast<unsigned>(in.byte()) << 8);
  Eigen::MatrixXd m(rows, cols);
  for (attn::Index i = 0; i < rows; ++i)
    for (attn::Index j = 0; j < cols; ++j) m(i, j) = in.number();
  const double vmin = (bits & 0x10u) ? in.number() : 0.0;
  const double vmax = (bits & 0x20u) ? in.number() : 0.0;
  std::vector<std::string> labels(1);
  for (; in.at < in.size; ++in.at) {
    if (in.data[in.at] == 0) {
      labels.emplace_back();
    } else {
      labels.back().push_back(static_cast<char>(in.data[in.at]));
    }
  }
  const auto take = [&](std::size_t first, attn::Index count) {
    std::vector<std::string> out;
    if (first + static_cast<std::size_t>(count) <= labels.size()) {
      out.assign(labels.begin() + static_cast<std::ptrdiff_t>(first),
                 labels.begin() + static_cast<std::ptrdiff_t>(first + static_cast<std::size_t>(count)));
    }
    return out;
  };
  const std::vector<std::string> row_labels = take(0, rows);
  const std::vector<std::string> col_labels = take(row_labels.size(), cols);
  const std::string title = labels.size() > row_labels.size() + col_labels.size()
                                ? labels[row_labels.size() + col_labels.size()]
                                : std::string();

  const unsigned kind = bits & 3u;
  try {
    if (kind == 3) {  // HTML highlighting: one line per row, a token per column
      attn::io::HighlightOptions options;
      options.title = title;
      options.row_labels = (bits & 0x40u) ? row_labels : std::vector<std::string>{};
      if (bits & 0x10u) options.vmin = vmin;
      if (bits & 0x20u) options.vmax = vmax;
      options.show_weights = (bits & 0x80u) != 0;
      options.fragment = (bits & 0x100u) != 0;
      options.separator = (bits & 0x200u) ? std::string("") : title;
      options.decimals = static_cast<int>((bits >> 12) % 11);
      std::vector<std::string> tokens = col_labels;
      tokens.resize(static_cast<std::size_t>(cols));
      const std::string html = attn::io::highlight_html(tokens, m, options);
      writers_fuzzer::check_document(html);
      return 0;
    }
    attn::io::HeatmapOptions options;
    options.title = title;
    options.row_labels = row_labels;
    options.col_labels = col_labels;
    options.row_axis_title = (bits & 0x40u) ? title : std::string();
    options.colorbar_label = (bits & 0x40u) ? title : std::string();
    if (bits & 0x10u) options.vmin = vmin;
    if (bits & 0x20u) options.vmax = vmax;
    options.show_values = (bits & 0x80u) != 0;
    options.raster = (bits & 0x100u) ? attn::io::HeatmapRaster::always : attn::io::HeatmapRaster::never;
    options.reverse_colormap = (bits & 0x200u) != 0;
    options.colormap = (bits & 0x400u) ? attn::io::Colormap::greys : attn::io::Colormap::viridis;
    options.max_label_length = (bits & 0x800u) ? 3 : 24;
    options.value_decimals = static_cast<int>((bits >> 12) % 11);
    // The readability options, chosen by the title's length (the 16 bits are all taken).
    const std::size_t extra = title.size() % 4;
    if (extra & 1u) options.mask = attn::Mask::causal();                                 // hatched cells
    if ((extra & 2u) && m.cols() > 0) options.leaked_mass = (1.0 - m.rowwise().sum().array()).matrix();  // (Eigen: no rowwise sum of r×0)
    options.fragment = extra == 3;
    std::string svg;
    if (kind == 0) {
      svg = attn::io::heatmap_svg(m, options);
    } else if (kind == 1) {
      std::vector<attn::io::HeatmapPanel> panels{{m, title, {}, {}}, {-m, row_labels.empty() ? "" : row_labels[0], {}, {}}};
      svg = attn::io::heatmap_grid_svg(panels, options);
    } else {
      svg = attn::io::heatmap_pair_svg({m, "truth", row_labels, col_labels}, {m.transpose().transpose(), title, {}, {}},
                                       options, (bits & 0x1000u) ? attn::io::PairLayout::under : attn::io::PairLayout::beside);
    }
    writers_fuzzer::check_document(svg);
    writers_fuzzer::check_ticks(svg);
  } catch (const attn::invalid_argument& e) {
    // Only the option checks may refuse: a scale end that is not finite, or vmin >= vmax.
    const std::string what = e.what();
    const bool ends = ((bits & 0x10u) && !std::isfinite(vmin)) || ((bits & 0x20u) && !std::isfinite(vmax)) ||
                      ((bits & 0x30u) == 0x30u && !(vmin < vmax));
    const bool extreme = ((bits & 0x10u) && !(bits & 0x20u) && vmin == std::numeric_limits<double>::max()) ||
                         ((bits & 0x20u) && !(bits & 0x10u) && vmax == -std::numeric_limits<double>::max());
    require(ends || extreme, "unexpected attn::invalid_argument: " + what, "");
    require(what.rfind("attn::io::", 0) == 0, "message without the function name: " + what, "");
  }
  return 0;
}
