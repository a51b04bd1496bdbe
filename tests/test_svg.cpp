// SPDX-License-Identifier: MIT
// Tests of attn/io/svg.hpp and attn/io/colormap.hpp: every SVG written here is checked by an
// independent XML parser (xmllint, Debian's libxml2-utils), labels with markup characters,
// quotes, non-ASCII and malformed UTF-8 included; colours, scale, thinning of labels on a
// 500×500 map, grids and pairs, argument checks and the atomic path overloads.
#include "attn/io/colormap.hpp"
#include "attn/io/svg.hpp"

#include "format_readers.hpp"
#include "helpers.hpp"

#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <regex>
#include <set>
#include <array>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_svg: the suite is a unity build.
namespace test_svg {

namespace fs = std::filesystem;
using attn::Index;
using attn_test::count;
using attn_test::message_of;
using attn_test::slurp;
using attn_test::TempDir;
using attn_test::xmllint_errors;

namespace {

const std::vector<std::string> kHostileRows{"le <b>", "chat & \"chien\"", "l'oiseau", "注意力 🙂",
                                            std::string("bad \xff\xfe utf8 \xc3")};
const std::vector<std::string> kHostileCols{"]]> &amp;", "tab\there", "new\nline", "ctrl \x01\x1f", "é è ê", "&#0;"};

Eigen::MatrixXd example(Index rows, Index cols) {
  Eigen::MatrixXd m(rows, cols);
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) m(i, j) = static_cast<double>((i * 7 + j * 3) % 11) / 10.0;
  return m;
}

/// Luminance of "#rrggbb".
double luminance(const std::string& hex) { return attn::io::relative_luminance(attn::io::parse_css_color(hex)); }

}  // namespace

TEST_CASE("colormap: viridis matches matplotlib's table and greys runs white to black", "[io][svg][colormap]") {
  using attn::io::Colormap;
  using attn::io::colormap_color;
  const auto near = [](attn::io::Rgb a, const char* hex) {
    const attn::io::Rgb b = attn::io::parse_css_color(hex);
    return std::abs(a.r - b.r) <= 1 && std::abs(a.g - b.g) <= 1 && std::abs(a.b - b.b) <= 1;
  };
  // matplotlib.cm.viridis at 0, 1/4, 1/2, 3/4, 1.
  CHECK(attn::io::css_color(colormap_color(Colormap::viridis, 0.0)) == "#440154");
  CHECK(near(colormap_color(Colormap::viridis, 0.25), "#3b528b"));
  CHECK(near(colormap_color(Colormap::viridis, 0.5), "#21918c"));
  CHECK(near(colormap_color(Colormap::viridis, 0.75), "#5ec962"));
  CHECK(attn::io::css_color(colormap_color(Colormap::viridis, 1.0)) == "#fde725");
  CHECK(colormap_color(Colormap::viridis, -3.0) == colormap_color(Colormap::viridis, 0.0));
  CHECK(colormap_color(Colormap::viridis, std::numeric_limits<double>::infinity()) ==
        colormap_color(Colormap::viridis, 1.0));
  CHECK(attn::io::css_color(colormap_color(Colormap::viridis, std::nan(""))) == "#d9d9d9");
  // Perceptual order: luminance grows monotonically along viridis and falls along greys.
  double previous = -1;
  for (int k = 0; k <= 100; ++k) {
    const double l = attn::io::relative_luminance(colormap_color(Colormap::viridis, k / 100.0));
    CHECK(l >= previous);
    previous = l;
  }
  CHECK(attn::io::css_color(colormap_color(Colormap::greys, 0.0)) == "#ffffff");
  CHECK(attn::io::css_color(colormap_color(Colormap::greys, 1.0)) == "#000000");
  CHECK(attn::io::parse_colormap("greys") == Colormap::greys);
  CHECK(message_of([] { (void)attn::io::parse_colormap("jet"); }) ==
        "attn::io::parse_colormap: unknown colour map 'jet' (known: viridis, greys)");
  CHECK(attn::io::parse_colormap("Greys") == Colormap::greys);  // matplotlib's name
  CHECK(message_of([] { (void)attn::io::parse_colormap("gray"); }) ==
        "attn::io::parse_colormap: unknown colour map 'gray' (known: viridis, greys; matplotlib's gray, white for "
        "the high weights, is greys reversed)");
  CHECK(attn::io::parse_css_color("#fA0") == attn::io::Rgb{0xff, 0xaa, 0x00});
  CHECK(message_of([] { (void)attn::io::parse_css_color("red"); }) ==
        "attn::io::parse_css_color: colour 'red' must be '#rrggbb' or '#rgb'");
  CHECK(attn::io::contrasting_text_color(attn::io::parse_css_color("#440154")) == attn::io::Rgb{255, 255, 255});
  CHECK(attn::io::contrasting_text_color(attn::io::parse_css_color("#fde725")) == attn::io::Rgb{0, 0, 0});
}

TEST_CASE("svg: hostile labels and titles give well-formed XML with every character escaped", "[io][svg][xmllint]") {
  attn::io::HeatmapOptions options;
  options.title = "Attention <script>alert('x')</script> & \"more\" — ünïcødé";
  options.row_labels = kHostileRows;
  options.col_labels = kHostileCols;
  options.row_axis_title = "target <&>";
  options.col_axis_title = "source \"'";
  options.colorbar_label = "weight & <more>";
  options.show_values = true;
  const Eigen::MatrixXd m = example(5, 6);
  const std::string svg = attn::io::heatmap_svg(m, options);
  ATTN_CHECK_WELL_FORMED(svg);
  CHECK(svg.find("<script>") == std::string::npos);
  CHECK(svg.find("le &lt;b&gt;") != std::string::npos);
  CHECK(svg.find("chat &amp; &quot;chien&quot;") != std::string::npos);
  CHECK(svg.find("l&#39;oiseau") != std::string::npos);
  CHECK(svg.find("注意力 🙂") != std::string::npos);
  CHECK(svg.find("bad \xEF\xBF\xBD\xEF\xBF\xBD utf8 \xEF\xBF\xBD") != std::string::npos);  // U+FFFD for bad bytes
  CHECK(svg.find("]]&gt; &amp;amp;") != std::string::npos);
  CHECK(svg.find("tab here") != std::string::npos);
  CHECK(svg.find("new line") != std::string::npos);
  CHECK(svg.find("&amp;#0;") != std::string::npos);
  CHECK(svg.find('\x01') == std::string::npos);
  // Tooltips name both tokens and the weight.
  CHECK(svg.find("<title>le &lt;b&gt; \xE2\x86\x92 ]]&gt; &amp;amp;: 0</title>") != std::string::npos);
  // One rect per cell, one printed value per cell.
  CHECK(count(svg, "\"><title>") == 30);
  CHECK(count(svg, "dy=\"0.35em\" fill=\"#") == 30);
}

TEST_CASE("svg: cells take the colour of their value on the scale, the colour bar shows the scale",
          "[io][svg]") {
  Eigen::MatrixXd m(2, 2);
  m << 0.0, 1.0, 0.5, 0.25;
  const std::string svg = attn::io::heatmap_svg(m);
  ATTN_CHECK_WELL_FORMED(svg);
  CHECK(count(svg, "fill=\"#440154\"><title>row 0, column 0: 0</title>") == 1);
  CHECK(count(svg, "fill=\"#fde725\"><title>row 0, column 1: 1</title>") == 1);
  CHECK(svg.find("<title>row 1, column 0: 0.5</title>") != std::string::npos);
  for (const char* tick : {">0.00<", ">0.25<", ">0.50<", ">0.75<", ">1.00<"}) CHECK(svg.find(tick) != std::string::npos);
  CHECK(count(svg, "<stop offset=") == 33);
  CHECK(svg.find("scale [0, 1]") != std::string::npos);

  attn::io::HeatmapOptions greys;
  greys.colormap = attn::io::Colormap::greys;
  greys.reverse_colormap = true;
  greys.vmin = 0.25;
  greys.vmax = 0.5;
  const std::string g = attn::io::heatmap_svg(m, greys);
  ATTN_CHECK_WELL_FORMED(g);
  CHECK(g.find("fill=\"#ffffff\"><title>row 0, column 1: 1</title>") != std::string::npos);  // clamped, reversed
  CHECK(g.find("fill=\"#000000\"><title>row 0, column 0: 0</title>") != std::string::npos);
  CHECK(g.find("colour map greys (reversed), scale [0.25, 0.5]") != std::string::npos);
}

TEST_CASE("svg: high weights are brighter than low weights with viridis, darker with greys", "[io][svg]") {
  Eigen::MatrixXd m(1, 2);
  m << 0.05, 0.95;
  for (const auto map : {attn::io::Colormap::viridis, attn::io::Colormap::greys}) {
    attn::io::HeatmapOptions options;
    options.colormap = map;
    const std::string svg = attn::io::heatmap_svg(m, options);
    const auto fill_of = [&](const std::string& title) {
      const auto at = svg.find("\"><title>" + title);
      REQUIRE(at != std::string::npos);
      return svg.substr(at - 7, 7);
    };
    const double low = luminance(fill_of("row 0, column 0"));
    const double high = luminance(fill_of("row 0, column 1"));
    if (map == attn::io::Colormap::viridis) {
      CHECK(high > low);
    } else {
      CHECK(high < low);
    }
  }
}

TEST_CASE("svg: default scale, constant maps, NaN and infinities", "[io][svg]") {
  Eigen::MatrixXd constant = Eigen::MatrixXd::Constant(2, 3, 0.25);
  CHECK(attn::io::heatmap_svg(constant).find("scale [0, 0.25]") != std::string::npos);
  CHECK(attn::io::heatmap_svg(Eigen::MatrixXd::Zero(2, 2)).find("scale [0, 1]") != std::string::npos);
  CHECK(attn::io::heatmap_svg(Eigen::MatrixXd::Constant(1, 1, -2.0)).find("scale [-2, 0]") != std::string::npos);

  Eigen::MatrixXd special(2, 2);
  special << std::nan(""), std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(), 0.5;
  const std::string svg = attn::io::heatmap_svg(special);
  ATTN_CHECK_WELL_FORMED(svg);
  CHECK(svg.find("fill=\"#d9d9d9\"><title>row 0, column 0: NaN</title>") != std::string::npos);
  CHECK(svg.find("stroke=\"#808080\"") != std::string::npos);  // NaN cell crossed out
  CHECK(svg.find("fill=\"#fde725\"><title>row 0, column 1: inf</title>") != std::string::npos);
  CHECK(svg.find("fill=\"#440154\"><title>row 1, column 0: -inf</title>") != std::string::npos);

  Eigen::MatrixXf all_nan = Eigen::MatrixXf::Constant(2, 2, std::numeric_limits<float>::quiet_NaN());
  ATTN_CHECK_WELL_FORMED(attn::io::heatmap_svg(all_nan));

  // Empty maps draw their frame, labels and colour bar, and stay valid.
  ATTN_CHECK_WELL_FORMED(attn::io::heatmap_svg(Eigen::MatrixXd(0, 0)));
  attn::io::HeatmapOptions labels;
  labels.col_labels = {"a", "b", "c"};
  ATTN_CHECK_WELL_FORMED(attn::io::heatmap_svg(Eigen::MatrixXd(0, 3), labels));
}

TEST_CASE("svg: a 500x500 map stays readable: size capped, labels thinned, cells rasterised",
          "[io][svg][xmllint][long]") {
  const Index n = 500;
  Eigen::MatrixXf m(n, n);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (Index k = 0; k < m.size(); ++k) m.data()[k] = u(rng);
  attn::io::HeatmapOptions options;
  for (Index i = 0; i < n; ++i) {
    options.row_labels.push_back("query_token_" + std::to_string(i));
    options.col_labels.push_back("key<" + std::to_string(i) + ">&");
  }
  options.row_labels[3] = "a very long label that goes on and on and on past the limit";
  options.title = "500 × 500";
  const std::string svg = attn::io::heatmap_svg(m, options);
  ATTN_CHECK_WELL_FORMED(svg);

  const auto attribute = [&](const std::string& name) {
    const auto at = svg.find(name + "=\"", svg.find("<svg "));
    return std::stod(svg.substr(at + name.size() + 2));
  };
  CHECK(attribute("width") <= 1100);  // 720 px of map plus labels and the colour bar
  CHECK(attribute("height") <= 1100);
  CHECK(svg.find("data:image/png;base64,iVBORw0KGgo") != std::string::npos);  // raster cells (PNG)
  CHECK(svg.find("image-rendering:pixelated") != std::string::npos);
  CHECK(count(svg, "\"><title>") == 0);
  CHECK(svg.size() < 2'000'000);

  // Labels thinned: each row label needs >= 7 px, a cell is 1.44 px: every 6th label or so.
  const auto group = [&](const std::string& cls) {
    const auto begin = svg.find("<g class=\"" + cls + "\"");
    return svg.substr(begin, svg.find("</g>", begin) - begin);
  };
  const std::size_t rows_shown = count(group("row-labels"), "<text ");
  const std::size_t cols_shown = count(group("col-labels"), "<text ");
  CHECK(rows_shown >= 50);
  CHECK(rows_shown <= 110);
  CHECK(cols_shown == rows_shown);
  CHECK(group("row-labels").find(">query_token_0<") != std::string::npos);
  CHECK(group("col-labels").find(">key&lt;0&gt;&amp;<") != std::string::npos);

  // Vector cells on request still work (and still parse) for a long map.
  attn::io::HeatmapOptions vector = options;
  vector.raster = attn::io::HeatmapRaster::never;
  vector.row_labels.clear();
  vector.col_labels.clear();
  const std::string big = attn::io::heatmap_svg(m.topLeftCorner(150, 150), vector);
  CHECK(count(big, "\"><title>") == 150 * 150);
  ATTN_CHECK_WELL_FORMED(big);
}

TEST_CASE("svg: long labels are cut with an ellipsis and keep the full text in a tooltip", "[io][svg]") {
  attn::io::HeatmapOptions options;
  options.row_labels = {"short", "an extraordinarily long token label indeed"};
  options.max_label_length = 10;
  const std::string svg = attn::io::heatmap_svg(Eigen::MatrixXd::Identity(2, 2), options);
  ATTN_CHECK_WELL_FORMED(svg);
  // 10 character cells, the ellipsis included.
  CHECK(svg.find(">an extrao\xE2\x80\xA6<title>an extraordinarily long token label indeed</title></text>") !=
        std::string::npos);
  CHECK(svg.find(">short</text>") != std::string::npos);
  // Cutting never splits a UTF-8 sequence.
  CHECK(attn::io::detail::truncated("ééééé", 3) == "éé\xE2\x80\xA6");
  CHECK(attn::io::detail::truncated("注意力注意力", 5) == "注意\xE2\x80\xA6");
  // Nor a character (an extended grapheme cluster, as utf8_characters cuts text): a flag is two
  // regional indicators (2 cells), a family three emoji joined by ZWJ (2 cells), a conjunct
  // consonant + virama + consonant, and a vowel sign stays with its consonant (1 cell each).
  const std::string fr = "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7";
  const std::string de = "\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA";
  CHECK(attn::io::detail::truncated(fr + de + fr, 4) == fr + "\xE2\x80\xA6");
  const std::string family = "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7";
  CHECK(attn::io::detail::truncated(family + " ok", 3) == family + "\xE2\x80\xA6");
  CHECK(attn::io::detail::display_width(family + fr) == 4);
  const std::string ksha = "\xE0\xA4\x95\xE0\xA5\x8D\xE0\xA4\xB7";   // क्ष
  const std::string tri = "\xE0\xA4\xA4\xE0\xA5\x8D\xE0\xA4\xB0\xE0\xA4\xBF";  // त्रि
  CHECK(attn::io::detail::truncated(ksha + tri + "\xE0\xA4\xAF" + "!!", 3) == ksha + tri + "\xE2\x80\xA6");
}

TEST_CASE("svg: font_family sets the text's font in every picture, escaped", "[io][svg][xmllint]") {
  const std::string family = "Times New Roman, \"Nimbus Roman\", serif";
  const std::string attribute = "font-family=\"Times New Roman, &quot;Nimbus Roman&quot;, serif\"";
  attn::io::HeatmapOptions heat;
  heat.font_family = family;
  const std::string heatmap = attn::io::heatmap_svg(Eigen::MatrixXd::Identity(2, 2), heat);
  ATTN_CHECK_WELL_FORMED(heatmap);
  CHECK(count(heatmap, attribute) == 1);
  attn::io::BarOptions bar;
  bar.font_family = family;
  CHECK(count(attn::io::bars_svg(Eigen::RowVector3d(0.2, 0.3, 0.5), bar), attribute) == 1);
  attn::io::HistogramOptions hist;
  hist.font_family = family;
  CHECK(count(attn::io::histogram_svg(Eigen::RowVector3d(0.2, 0.3, 0.5), hist), attribute) == 1);
  attn::io::AlignmentSvgOptions align;
  align.font_family = family;
  CHECK(count(attn::io::alignment_svg(attn::Alignment{{0, 0}, {1, 1}}, align), attribute) == 1);
  // The default: DejaVu Sans, whose widths the layout assumes.
  CHECK(count(attn::io::heatmap_svg(Eigen::MatrixXd::Identity(2, 2)),
              "font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\"") == 1);
}

TEST_CASE("svg: a label of white space only shows each of its characters as an open box", "[io][svg][xmllint]") {
  // A character model's space token would collapse to nothing in SVG; an empty label stays empty.
  attn::io::HeatmapOptions options;
  options.col_labels = {"a", " ", "\t", "  ", "", " b"};
  const std::string svg = attn::io::heatmap_svg(Eigen::MatrixXd::Constant(1, 6, 1.0 / 6.0), options);
  ATTN_CHECK_WELL_FORMED(svg);
  const std::string box = "\xE2\x90\xA3";  // U+2423
  CHECK(count(svg, "\">" + box + "</text>") == 2);               // " " and "\t"
  CHECK(count(svg, "\">" + box + box + "</text>") == 1);         // two spaces
  CHECK(count(svg, "\"></text>") == 1);                          // "": no label
  CHECK(count(svg, "\"> b</text>") == 1);                        // text with a space is left as it is
  CHECK(count(svg, "\">a</text>") == 1);
}

TEST_CASE("svg: shared_scale false gives each map of a grid or pair its own scale and colour bar", "[io][svg][xmllint]") {
  // Head h is example() times h + 1: on one scale only head 5 reaches the top colour; on a
  // scale per map every head does, where example() is 1.0.
  std::vector<Eigen::MatrixXd> heads;
  for (int h = 0; h < 6; ++h) heads.push_back(example(4, 5) * static_cast<double>(h + 1));
  attn::io::HeatmapOptions options;
  options.colorbar_label = "weight";
  options.shared_scale = false;
  const std::vector<attn::io::HeatmapPanel> panels = attn::io::heatmap_panels(heads);
  const std::string grid = attn::io::heatmap_grid_svg(panels, options);
  ATTN_CHECK_WELL_FORMED(grid);
  const auto top_cells = static_cast<std::size_t>((example(4, 5).array() == 1.0).count());
  CHECK(top_cells > 0);
  CHECK(count(grid, "fill=\"#fde725\"") == 6 * top_cells);
  CHECK(count(grid, "<g class=\"colorbar\">") == 6);
  CHECK(count(grid, "class=\"colorbar-label\"") == 6);
  CHECK(count(grid, "<linearGradient") == 1);  // one gradient, filling every bar
  CHECK(grid.find("a scale per map") != std::string::npos);
  CHECK(grid.find("scale [") == std::string::npos);
  // Each bar is labelled with its own map's range: head 0 tops at 1, head 5 at 6.
  CHECK(grid.find(">1.0</text>") != std::string::npos);
  CHECK(grid.find(">6</text>") != std::string::npos);
  // Every bar lies between its map's right edge and the next panel's left edge.
  const auto numbers_after = [&grid](const std::string& key) {
    std::vector<double> values;
    for (auto at = grid.find(key); at != std::string::npos; at = grid.find(key, at + 1)) {
      values.push_back(std::stod(grid.substr(at + key.size())));
    }
    return values;
  };
  const std::vector<double> bars = numbers_after("<g class=\"colorbar\">\n<rect x=\"");
  REQUIRE(bars.size() == 6);
  const double shared_width = [&] {
    attn::io::HeatmapOptions shared = options;
    shared.shared_scale = true;
    const std::string one = attn::io::heatmap_grid_svg(panels, shared);
    CHECK(count(one, "<g class=\"colorbar\">") == 1);
    return std::stod(one.substr(one.find("width=\"", one.find("<svg ")) + 7));
  }();
  const double width = std::stod(grid.substr(grid.find("width=\"", grid.find("<svg ")) + 7));
  CHECK(width > 0.5 * shared_width);
  for (const double x : bars) CHECK(x + 10 < width);
  // A lone vmin fixes that end of every map's scale: 0 to each map's largest value.
  options.vmin = 0.0;
  const std::string from_zero = attn::io::heatmap_grid_svg(panels, options);
  CHECK(count(from_zero, "fill=\"#fde725\"") == 6 * top_cells);
  CHECK(count(from_zero, ">0.0</text>") + count(from_zero, ">0</text>") >= 6);
  // A pair: the truth on 0..1, a soft alignment peaking at 0.1 on its own 0..0.1.
  attn::io::HeatmapPanel truth{Eigen::MatrixXd::Identity(3, 3), "truth", {}, {}};
  attn::io::HeatmapPanel soft{Eigen::MatrixXd::Identity(3, 3) * 0.1, "attention", {}, {}};
  attn::io::HeatmapOptions pair_options;
  pair_options.shared_scale = false;
  const std::string pair = attn::io::heatmap_pair_svg(truth, soft, pair_options);
  ATTN_CHECK_WELL_FORMED(pair);
  CHECK(count(pair, "fill=\"#fde725\"") == 6);  // both diagonals at the top of their scales
  CHECK(count(pair, "<g class=\"colorbar\">") == 2);
  CHECK(count(attn::io::heatmap_pair_svg(truth, soft), "fill=\"#fde725\"") == 3);  // shared: the truth's only
  // A single map has one scale either way.
  CHECK(attn::io::heatmap_svg(example(3, 3), pair_options) == attn::io::heatmap_svg(example(3, 3)));
}

TEST_CASE("svg: origin lower draws a map as its rows reversed are drawn from the top", "[io][svg][xmllint]") {
  // With labels on both axes no index tick is drawn and each tooltip names its labels, so the
  // picture of (m, labels) with row 0 at the bottom has, but for one phrase of its description,
  // the lines of the picture of (m and labels with the rows reversed) from the top, in another
  // order (rows are drawn in index order): cells, labels, values, mask hatching, leaked-mass bars
  // and the raster image.
  const auto sorted_lines = [](const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  const Eigen::MatrixXd m = example(5, 4);
  attn::BoolMatrix visible = attn::BoolMatrix::Constant(5, 4, true);
  visible(0, 3) = false;
  visible(4, 0) = false;
  Eigen::VectorXd leaked(5);
  leaked << 0.1, 0.2, 0.0, 0.4, 0.5;
  for (const auto raster : {attn::io::HeatmapRaster::never, attn::io::HeatmapRaster::always}) {
    attn::io::HeatmapOptions lower;
    lower.row_labels = {"r0", "r1", "r2", "r3", "r4"};
    lower.col_labels = {"a", "b", "c", "d"};
    lower.show_values = true;
    lower.mask = attn::Mask::matrix(visible);
    lower.leaked_mass = leaked;
    lower.raster = raster;
    lower.origin = attn::io::HeatmapOrigin::lower;
    attn::io::HeatmapOptions flipped = lower;
    flipped.origin = attn::io::HeatmapOrigin::upper;
    flipped.row_labels = {"r4", "r3", "r2", "r1", "r0"};
    flipped.mask = attn::Mask::matrix(attn::BoolMatrix(visible.colwise().reverse()));
    flipped.leaked_mass = leaked.reverse();
    std::string drawn = attn::io::heatmap_svg(m, lower);
    ATTN_CHECK_WELL_FORMED(drawn);
    const std::string phrase = ", row 0 at the bottom";
    REQUIRE(drawn.find(phrase) != std::string::npos);
    drawn.erase(drawn.find(phrase), phrase.size());
    // (The leaked bars' tooltips name their row: row k of the reversed map is row 4 - k.)
    std::string expected = attn::io::heatmap_svg(Eigen::MatrixXd(m.colwise().reverse()), flipped);
    for (int k = 0; k < 5; ++k) {
      const std::string from = "<title>row " + std::to_string(k) + ": leaked";
      const std::string to = "<title>ROW " + std::to_string(4 - k) + ": leaked";
      if (expected.find(from) != std::string::npos) expected.replace(expected.find(from), from.size(), to);
    }
    for (int k = 0; k < 5; ++k) {
      const std::string from = "<title>ROW ";
      if (expected.find(from) != std::string::npos) expected.replace(expected.find(from), from.size(), "<title>row ");
    }
    CHECK(drawn != expected);  // (the rows come in another order)
    CHECK(sorted_lines(drawn) == sorted_lines(expected));
  }
  // Without labels the index ticks go up: row 0's tick is below row 4's.
  attn::io::HeatmapOptions ticks;
  ticks.origin = attn::io::HeatmapOrigin::lower;
  const std::string svg = attn::io::heatmap_svg(example(5, 4), ticks);
  const auto tick_y = [&svg](const std::string& number) {
    const auto group = svg.find("class=\"row-ticks\"");
    const auto at = svg.rfind(" y=\"", svg.find("\">" + number + "</text>", group));
    return std::stod(svg.substr(at + 4));
  };
  CHECK(tick_y("0") > tick_y("4"));
  CHECK(tick_y("0") - tick_y("4") == Approx(4 * 32.0));
}

TEST_CASE("svg: printed values appear only when the cells can hold them", "[io][svg]") {
  attn::io::HeatmapOptions options;
  options.show_values = true;
  options.value_decimals = 3;
  const std::string small = attn::io::heatmap_svg(example(3, 3), options);
  CHECK(small.find(">0.300</text>") != std::string::npos);
  CHECK(count(small, "class=\"values\"") == 1);
  const std::string crowded = attn::io::heatmap_svg(example(100, 100), options);
  CHECK(count(crowded, "class=\"values\"") == 0);
}

TEST_CASE("svg: a grid of heads shares one scale, a pair puts the truth beside or under", "[io][svg][xmllint]") {
  std::vector<Eigen::MatrixXf> heads;
  for (int h = 0; h < 6; ++h) heads.push_back((example(4, 5) * static_cast<double>(h + 1)).cast<float>());
  attn::io::HeatmapOptions options;
  options.title = "layer 1 <heads>";
  options.row_labels = {"a", "b", "c", "d"};
  options.col_labels = {"v", "w", "x", "y", "z"};
  options.grid_columns = 3;
  const std::string grid =
      attn::io::heatmap_grid_svg(attn::io::heatmap_panels(heads, {"head 0", "head 1", "head <2>"}), options);
  ATTN_CHECK_WELL_FORMED(grid);
  CHECK(count(grid, "<g class=\"panel\">") == 6);
  CHECK(count(grid, "class=\"colorbar\"") == 1);
  CHECK(grid.find(">head &lt;2&gt;</text>") != std::string::npos);
  CHECK(grid.find("6 maps") != std::string::npos);
  CHECK(grid.find("scale [0, 6]") != std::string::npos);  // 6 × 1.0: one scale for all heads
  // Only head 5 reaches the top of the shared scale (where example() is 1.0).
  const auto top_cells = static_cast<std::size_t>((example(4, 5).array() == 1.0).count());
  CHECK(top_cells > 0);
  CHECK(count(grid, "fill=\"#fde725\"") == top_cells);
  // The one colour bar runs from the top of the first row of maps to the foot of the last (two
  // rows of three here), so that it reads as every map's scale, not the first row's.
  {
    const std::regex frame_re("<rect class=\"frame\" x=\"[-0-9.]+\" y=\"([-0-9.]+)\" width=\"[-0-9.]+\" height=\"([-0-9.]+)\"");
    const std::regex bar_re("<g class=\"colorbar\">\n<rect x=\"[-0-9.]+\" y=\"([-0-9.]+)\" width=\"[-0-9.]+\" height=\"([-0-9.]+)\"");
    double first_top = 1e300, last_foot = -1e300;
    for (auto it = std::sregex_iterator(grid.begin(), grid.end(), frame_re); it != std::sregex_iterator(); ++it) {
      first_top = std::min(first_top, std::stod((*it)[1]));
      last_foot = std::max(last_foot, std::stod((*it)[1]) + std::stod((*it)[2]));
    }
    std::smatch bar;
    REQUIRE(std::regex_search(grid, bar, bar_re));
    CHECK(std::stod(bar[1]) == Approx(first_top).margin(0.01));
    CHECK(std::stod(bar[1]) + std::stod(bar[2]) == Approx(last_foot).margin(0.02));
    CHECK(last_foot - first_top > 2 * 4 * 20);  // two rows of maps of 4 rows (cells of 20+ px)
  }

  attn::io::HeatmapPanel truth{Eigen::MatrixXd::Identity(3, 3), "truth & <gold>", {}, {}};
  attn::io::HeatmapPanel attention{example(3, 3), "epoch 9", {"x", "y", "z"}, {"p", "q", "r"}};
  const std::string beside = attn::io::heatmap_pair_svg(truth, attention);
  const std::string under = attn::io::heatmap_pair_svg(truth, attention, {}, attn::io::PairLayout::under);
  ATTN_CHECK_WELL_FORMED(beside);
  ATTN_CHECK_WELL_FORMED(under);
  const auto size_of = [](const std::string& svg, const char* name) {
    const auto at = svg.find(std::string(name) + "=\"", svg.find("<svg "));
    return std::stod(svg.substr(at + std::string(name).size() + 2));
  };
  CHECK(size_of(beside, "width") > size_of(under, "width"));
  CHECK(size_of(beside, "height") < size_of(under, "height"));
  CHECK(beside.find(">truth &amp; &lt;gold&gt;</text>") != std::string::npos);
  std::ostringstream os;
  attn::io::write_heatmap_pair_svg(os, truth, attention, {}, attn::io::PairLayout::under);
  CHECK(os.str() == under);
}

TEST_CASE("svg: the default grid is the one closest to square in cells", "[io][svg]") {
  // grid_columns = 0 must draw what the explicit count of the squarest grid draws: ceil(sqrt(n))
  // for square maps, 1xT maps one under another, Tx1 maps side by side.
  const auto grid_of = [](Index n, Index rows, Index cols, Index columns) {
    std::vector<Eigen::MatrixXd> maps;
    for (Index k = 0; k < n; ++k) maps.push_back(example(rows, cols) * static_cast<double>(k + 1));
    attn::io::HeatmapOptions options;
    options.grid_columns = columns;
    return attn::io::heatmap_grid_svg(attn::io::heatmap_panels(maps), options);
  };
  struct Case {
    Index n, rows, cols, columns;
  };
  for (const Case c : {Case{5, 3, 3, 3}, Case{2, 4, 4, 2}, Case{10, 6, 6, 4}, Case{4, 1, 10, 1}, Case{8, 20, 250, 1},
                       Case{3, 10, 1, 3}, Case{6, 2, 5, 2}}) {
    INFO(c.n << " maps of " << c.rows << "x" << c.cols << ": " << c.columns << " per row");
    const std::string by_default = grid_of(c.n, c.rows, c.cols, 0);
    CHECK(by_default == grid_of(c.n, c.rows, c.cols, c.columns));
    for (const Index other : {c.columns - 1, c.columns + 1}) {
      if (other >= 1 && other <= c.n) CHECK(by_default != grid_of(c.n, c.rows, c.cols, other));
    }
  }
}

TEST_CASE("svg: cells of a fractional size tile the map, each ending where the next begins", "[io][svg]") {
  // 7 columns in 180 px: cells of 25.714... px, positions written to 0.01 px. A cell's width must
  // reach the next cell's written x exactly, or a renderer snapping edges (crispEdges) shows a
  // hairline of background between them (seen between rows 3 and 4 of a 5x7 grid of heads).
  Eigen::MatrixXd m = Eigen::MatrixXd::Random(5, 7);
  m(2, 6) = std::numeric_limits<double>::quiet_NaN();
  attn::io::HeatmapOptions options;
  options.max_map_size = 180;
  options.mask = attn::Mask::causal(4);  // the hatched cells are cells too
  const std::string whole = attn::io::heatmap_svg(m, options);
  const std::size_t group = whole.find("<g class=\"cells\"");
  REQUIRE(group != std::string::npos);
  const std::string svg = whole.substr(group, whole.find("</g>", group) - group);
  const std::regex cell_re("<rect x=\"([0-9.]+)\" y=\"([0-9.]+)\" width=\"([0-9.]+)\" height=\"([0-9.]+)\" fill=");
  const auto hundredths = [](const std::string& text) { return std::llround(std::stod(text) * 100.0); };
  std::vector<std::array<long long, 4>> cells;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), cell_re); it != std::sregex_iterator(); ++it) {
    cells.push_back({hundredths((*it)[1]), hundredths((*it)[2]), hundredths((*it)[3]), hundredths((*it)[4])});
  }
  REQUIRE(cells.size() == 35);
  std::set<long long> xs, ys, widths;
  for (const auto& c : cells) {
    xs.insert(c[0]);
    ys.insert(c[1]);
    widths.insert(c[2]);
  }
  REQUIRE(xs.size() == 7);
  REQUIRE(ys.size() == 5);
  CHECK(widths.size() > 1);  // the size is fractional: some cells are 0.01 px wider than others
  for (const auto& c : cells) {
    INFO("cell at x " << c[0] << ", y " << c[1] << " (hundredths of a px), " << c[2] << " x " << c[3]);
    CHECK((c[0] == *xs.rbegin() || xs.count(c[0] + c[2]) == 1));
    CHECK((c[1] == *ys.rbegin() || ys.count(c[1] + c[3]) == 1));
  }
  // The last column and row end at the same edge in every row and column.
  std::set<long long> right, bottom;
  for (const auto& c : cells) {
    if (c[0] == *xs.rbegin()) right.insert(c[0] + c[2]);
    if (c[1] == *ys.rbegin()) bottom.insert(c[1] + c[3]);
  }
  CHECK(right.size() == 1);
  CHECK(bottom.size() == 1);
}

TEST_CASE("svg: the same input gives the same bytes", "[io][svg]") {
  attn::io::HeatmapOptions options;
  options.row_labels = kHostileRows;
  options.col_labels = kHostileCols;
  CHECK(attn::io::heatmap_svg(example(5, 6), options) == attn::io::heatmap_svg(example(5, 6), options));
  // float and double maps of the same values draw the same picture.
  CHECK(attn::io::heatmap_svg(example(5, 6).cast<float>().cast<double>(), options) ==
        attn::io::heatmap_svg(example(5, 6).cast<float>(), options));
}

TEST_CASE("svg: argument checks name the function, the argument and the sizes", "[io][svg][error]") {
  const Eigen::MatrixXd m = example(3, 4);
  attn::io::HeatmapOptions options;
  options.row_labels = {"a", "b"};
  CHECK(message_of([&] { (void)attn::io::heatmap_svg(m, options); }) ==
        "attn::io::heatmap_svg: options.row_labels.size() (2) must equal the number of rows (3)");
  options.row_labels.clear();
  options.col_labels = {"a"};
  std::ostringstream os;
  CHECK(message_of([&] { attn::io::write_heatmap_svg(os, m, options); }) ==
        "attn::io::write_heatmap_svg: options.col_labels.size() (1) must equal the number of columns (4)");
  options.col_labels.clear();
  options.vmin = 1.0;
  options.vmax = 0.0;
  CHECK(message_of([&] { (void)attn::io::heatmap_svg(m, options); }) ==
        "attn::io::heatmap_svg: options.vmin (1) must be less than options.vmax (0)");
  options.vmax = std::numeric_limits<double>::infinity();
  CHECK(message_of([&] { (void)attn::io::heatmap_svg(m, options); }) ==
        "attn::io::heatmap_svg: options.vmax (inf) must be finite");
  options = {};
  options.max_map_size = 0;
  CHECK(message_of([&] { (void)attn::io::heatmap_svg(m, options); }) ==
        "attn::io::heatmap_svg: options.max_map_size (0) must be > 0");
  options = {};
  options.value_decimals = 11;
  CHECK(message_of([&] { (void)attn::io::heatmap_svg(m, options); }) ==
        "attn::io::heatmap_svg: options.value_decimals (11) must be in [0, 10]");
  options = {};
  options.font_size = -1;
  CHECK(message_of([&] { (void)attn::io::heatmap_svg(m, options); }) ==
        "attn::io::heatmap_svg: options.font_size (-1) must be in (0, 200]");
  options = {};
  options.max_cell_size = std::nan("");
  CHECK(message_of([&] { (void)attn::io::heatmap_svg(m, options); }) ==
        "attn::io::heatmap_svg: options.max_cell_size (NaN) must be > 0");
  options = {};
  options.raster_threshold = -1;
  CHECK(message_of([&] { (void)attn::io::heatmap_svg(m, options); }) ==
        "attn::io::heatmap_svg: options.raster_threshold (-1) must be >= 0");
  options = {};
  options.grid_columns = -2;
  CHECK(message_of([&] { (void)attn::io::heatmap_svg(m, options); }) ==
        "attn::io::heatmap_svg: options.grid_columns (-2) must be >= 0");
  CHECK(message_of([] { (void)attn::io::heatmap_grid_svg({}); }) == "attn::io::heatmap_grid_svg: panels must not be empty");
  const std::vector<attn::io::HeatmapPanel> bad{{m, "", {}, {}}, {m, "", {"x"}, {}}};
  CHECK(message_of([&] { (void)attn::io::heatmap_grid_svg(bad); }) ==
        "attn::io::heatmap_grid_svg: panels[1].row_labels.size() (1) must equal the number of rows (3)");
  CHECK_THROWS_AS(attn::io::heatmap_grid_svg(bad), attn::invalid_argument);

  std::ostringstream broken;
  broken.setstate(std::ios::badbit);
  CHECK(message_of([&] { attn::io::write_heatmap_svg(broken, m); }) ==
        "attn::io::write_heatmap_svg: the output stream is not in a good state");
}

TEST_CASE("svg: path overloads replace files atomically and report I/O failures", "[io][svg]") {
  TempDir tmp;
  const fs::path path = tmp.path / "map.svg";
  attn::io::write_heatmap_svg(path, example(2, 2));
  attn::io::write_heatmap_svg(path, example(3, 3));
  CHECK(slurp(path) == attn::io::heatmap_svg(example(3, 3)));
  attn::io::write_heatmap_grid_svg(tmp.path / "grid.svg", attn::io::heatmap_panels(std::vector<Eigen::MatrixXd>{example(2, 2)}));
  attn::io::write_heatmap_pair_svg(tmp.path / "pair.svg", {example(2, 2), "a", {}, {}}, {example(2, 2), "b", {}, {}});
  ATTN_CHECK_WELL_FORMED(slurp(tmp.path / "grid.svg"));
  ATTN_CHECK_WELL_FORMED(slurp(tmp.path / "pair.svg"));
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(tmp.path)) {
    (void)entry;
    ++files;
  }
  CHECK(files == 3);  // no temporary file left behind

  const fs::path missing = tmp.path / "no" / "map.svg";
  const std::string what = message_of([&] { attn::io::write_heatmap_svg(missing, example(2, 2)); });
  CHECK_THAT(what, Catch::StartsWith("attn::io::write_heatmap_svg: cannot write '" + missing.string() + "'"));
  CHECK_THAT(what, Catch::EndsWith("No such file or directory"));
  // A bad argument throws before the file system is touched.
  attn::io::HeatmapOptions bad;
  bad.row_labels = {"x"};
  CHECK_THROWS_AS(attn::io::write_heatmap_svg(tmp.path / "never.svg", example(2, 2), bad), attn::invalid_argument);
  CHECK_FALSE(fs::exists(tmp.path / "never.svg"));
}

TEST_CASE("svg: nice ticks and locale-independent numbers", "[io][svg]") {
  int decimals = 0;
  CHECK(attn::io::detail::nice_ticks(0.0, 1.0, decimals) == std::vector<double>{0.0, 0.25, 0.5, 0.75, 1.0});
  CHECK(decimals == 2);
  const auto t = attn::io::detail::nice_ticks(0.013, 0.087, decimals);
  CHECK(t.front() >= 0.013);
  CHECK(t.back() <= 0.087);
  CHECK(t.size() >= 3);
  CHECK(attn::io::detail::nice_ticks(-3.0, 7.0, decimals) == std::vector<double>{-2.5, 0.0, 2.5, 5.0});
  CHECK(decimals == 1);
  CHECK(attn::io::detail::nice_ticks(0.0, 40.0, decimals) == std::vector<double>{0.0, 10.0, 20.0, 30.0, 40.0});
  CHECK(decimals == 0);
  // A span where the step of span/4 leaves two ticks (0.05, 0.1) and neither end: the next
  // smaller step, 0.025, labels the map's range (a self-attention map from 2.2e-5 to 0.136).
  const auto finer = attn::io::detail::nice_ticks(2.2e-5, 0.136, decimals);
  REQUIRE(finer.size() == 5);
  for (std::size_t k = 0; k < 5; ++k) CHECK(finer[k] == Approx(0.025 * static_cast<double>(k + 1)).margin(1e-15));
  CHECK(decimals == 3);
  // Every span from 1 to 100 in steps of 0.01 gets 3 to 7 ticks inside it.
  for (int hundredths = 100; hundredths <= 10000; ++hundredths) {
    const double hi = hundredths / 100.0;
    const auto ticks = attn::io::detail::nice_ticks(0.3, 0.3 + hi, decimals);
    INFO("span " << hi);
    CHECK(ticks.size() >= 3);
    CHECK(ticks.size() <= 7);
    CHECK(ticks.front() >= 0.3);
    CHECK(ticks.back() <= 0.3 + hi);
  }
  CHECK(attn::io::detail::format_coordinate(12.0) == "12");
  CHECK(attn::io::detail::format_coordinate(-0.004) == "0");
  CHECK(attn::io::detail::format_coordinate(3.14159) == "3.14");
  CHECK(attn::io::detail::format_coordinate(-2.5) == "-2.5");
  CHECK(attn::io::detail::format_number(-0.0001, 2) == "0.00");
  CHECK(attn::io::detail::format_number(0.5, -1) == "0.5");
}

// The colour bar's tick texts, bottom to top (the first "ticks" group of the picture).
std::vector<std::string> colorbar_tick_texts(const std::string& svg) {
  std::vector<std::string> texts;
  const auto bar = svg.find("<g class=\"colorbar\">");
  REQUIRE(bar != std::string::npos);
  const auto end = svg.find("</g>", svg.find("<g class=\"ticks\"", bar));
  for (auto at = svg.find("dy=\"0.35em\">", bar); at < end; at = svg.find("dy=\"0.35em\">", at + 1)) {
    const auto from = at + std::string("dy=\"0.35em\">").size();
    texts.push_back(svg.substr(from, svg.find('<', from) - from));
  }
  return texts;
}

TEST_CASE("svg: a colour bar labels an end of its scale that no nice tick is near", "[io][svg]") {
  Eigen::MatrixXd m(2, 2);
  SECTION("weights from 0.00197 to 0.408: the foot is labelled, the top is near 0.4") {
    m << 0.00197427, 0.1, 0.2, 0.40775;
    CHECK(colorbar_tick_texts(attn::io::heatmap_svg(m)) ==
          std::vector<std::string>{"0.00197", "0.1", "0.2", "0.3", "0.4"});
  }
  SECTION("an end that 3 significant digits do not show within 0.1 % of the span gets more") {
    m << 0.9990552, 0.9995, 0.9997, 0.9999803;  // "0.999" would lie past the first tick, 0.99925
    CHECK(colorbar_tick_texts(attn::io::heatmap_svg(m)) ==
          std::vector<std::string>{"0.999055", "0.99925", "0.99950", "0.99975", "0.99998"});
  }
  SECTION("an end that the ticks' own format shows within 0.1 % of the span is written in it") {
    m << 0.00001, 0.3, 0.6, 0.93;  // ticks 0.25, 0.50, 0.75: the foot reads 0.00, the top 0.93
    CHECK(colorbar_tick_texts(attn::io::heatmap_svg(m)) ==
          std::vector<std::string>{"0.00", "0.25", "0.50", "0.75", "0.93"});
  }
  SECTION("a scale from 0 to 1 has nice ticks at both ends: nothing added") {
    m << 0.0, 0.3, 0.6, 1.0;
    CHECK(colorbar_tick_texts(attn::io::heatmap_svg(m)) ==
          std::vector<std::string>{"0.00", "0.25", "0.50", "0.75", "1.00"});
  }
  SECTION("both ends; a nice tick whose text would overlap an end's is left out") {
    m << 0.17, 0.5, 0.6, 1.0;  // nice ticks 0.25 to 1: 0.25 is 9.6 px above the foot of a 100 px bar
    attn::io::HeatmapOptions options;
    options.vmax = 1.9;  // 1.9 - 1.5 is 0.23 of the span: labelled
    CHECK(colorbar_tick_texts(attn::io::heatmap_svg(m, options)) ==
          std::vector<std::string>{"0.17", "0.5", "1.0", "1.5", "1.9"});
    options.vmax = 1.0;
    CHECK(colorbar_tick_texts(attn::io::heatmap_svg(m, options)) ==
          std::vector<std::string>{"0.17", "0.50", "0.75", "1.00"});
  }
}

// Base64 (RFC 4648) decoded, for the PNG the raster cells embed.
std::string base64_decoded(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (const char c : text) {
    const auto at = alphabet.find(c);
    if (at == std::string::npos) break;  // '=' padding or the closing quote
    bits = (bits << 6) | static_cast<unsigned>(at);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xFF);
    }
  }
  return out;
}

// A persona's 800 decoder steps × 200 encoder frames: 0.9 px a cell. The PNG of a pixel per cell,
// scaled down by the browser, dropped every tenth row (the diagonal came out dashed); each pixel
// now shows the largest value of its block, so every pixel row holds the diagonal's 1.
TEST_CASE("svg: a map of more cells than pixels draws each pixel as its block's largest value",
          "[io][svg][raster]") {
  const Index steps = 800;
  const Index frames = 200;
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(steps, frames);
  for (Index i = 0; i < steps; ++i) m(i, i / 4) = 1.0;
  const std::string svg = attn::io::heatmap_svg(m);
  ATTN_CHECK_WELL_FORMED(svg);
  const std::string marker = "data:image/png;base64,";
  const auto at = svg.find(marker);
  REQUIRE(at != std::string::npos);
  const test_formats::Image png = test_formats::decode_png(base64_decoded(svg.substr(at + marker.size())));
  CHECK(png.width == 180);  // 200 frames × 0.9 px
  CHECK(png.height == 720);
  const std::vector<int> one = png.pixel(0, 0);  // block (0, 0) holds m(0, 0) = 1
  const std::vector<int> zero = png.pixel(png.width - 1, 0);
  REQUIRE(one != zero);
  Index rows_with_one = 0;
  for (std::uint32_t y = 0; y < png.height; ++y) {
    bool found = false;
    for (std::uint32_t x = 0; x < png.width && !found; ++x) found = png.pixel(x, y) == one;
    rows_with_one += found ? 1 : 0;
  }
  CHECK(rows_with_one == 720);
  CHECK(svg.find("<title>800\xC3\x97" "200 cells on 720\xC3\x97" "180 pixels: each pixel shows the largest value of its "
                 "block of cells</title></image>") != std::string::npos);
  // A map of fewer cells than pixels draws each cell as a block of k×k pixels of its colour (k =
  // 1024 / 300 = 3 here: a PDF viewer that smooths the image blurs 1/3 of a cell, not all of it),
  // without the note.
  const Eigen::MatrixXd part = m.topRows(300).leftCols(100);
  const std::string small = attn::io::heatmap_svg(part);
  const auto at_small = small.find(marker);
  REQUIRE(at_small != std::string::npos);
  const test_formats::Image cells = test_formats::decode_png(base64_decoded(small.substr(at_small + marker.size())));
  CHECK(cells.width == 300);
  CHECK(cells.height == 900);
  CHECK(small.find("each pixel shows") == std::string::npos);
  Index wrong = 0;
  for (std::uint32_t y = 0; y < cells.height; ++y)
    for (std::uint32_t x = 0; x < cells.width; ++x)
      wrong += cells.pixel(x, y) != (part(y / 3, x / 3) == 1.0 ? one : zero) ? 1 : 0;
  CHECK(wrong == 0);
  // At most 4 pixels a cell: a 20×30 map (raster always) is 120×80.
  attn::io::HeatmapOptions always;
  always.raster = attn::io::HeatmapRaster::always;
  const std::string tiny = attn::io::heatmap_svg(part.topLeftCorner(20, 30), always);
  const auto at_tiny = tiny.find(marker);
  REQUIRE(at_tiny != std::string::npos);
  const test_formats::Image few = test_formats::decode_png(base64_decoded(tiny.substr(at_tiny + marker.size())));
  CHECK(few.width == 120);
  CHECK(few.height == 80);
}

}  // namespace test_svg
