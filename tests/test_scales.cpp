// SPDX-License-Identifier: MIT
// Colour scales and colour-bar ticks from extreme values (issue 13, item 8): {0, 5e-324},
// ±1.8e308, NaN and all-equal maps give ticks that read as numbers and distinct colours for
// distinct values, with no undefined behaviour (the ASan + UBSan build runs these); and empty
// products (Tk = 0 keys, 0 additive units) compute without pointer arithmetic on null (Eigen's
// blocks of a matrix without storage offset a null pointer: clang's UBSan, which the sanitizer
// build of scripts/test.sh uses, reports it; GCC's does not).
#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)
#include "attn/io/colormap.hpp"
#include "attn/io/html.hpp"
#include "attn/io/svg.hpp"

#include <attn/additive.hpp>
#include <attn/luong.hpp>
#include <attn/many_to_one.hpp>
#include <attn/memory.hpp>
#include <attn/monotonic.hpp>
#include <attn/scaled_dot_product.hpp>
#include <attn/softmax.hpp>

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

namespace test_scales {

constexpr double big = std::numeric_limits<double>::max();
constexpr double tiny = std::numeric_limits<double>::denorm_min();
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

/// The texts of the colour-bar ticks of an SVG heatmap.
std::vector<std::string> tick_texts(const std::string& svg) {
  std::vector<std::string> texts;
  const std::size_t group = svg.find("<g class=\"ticks\"");
  const std::size_t end = svg.find("</g>", group);
  for (std::size_t at = svg.find("<text", group); at < end; at = svg.find("<text", at + 1)) {
    const std::size_t open = svg.find('>', at) + 1;
    texts.push_back(svg.substr(open, svg.find("</text>", open) - open));
  }
  return texts;
}

/// The fill colours of the vector cells, in order.
std::vector<std::string> cell_fills(const std::string& svg) {
  std::vector<std::string> fills;
  const std::size_t cells = svg.find("<g class=\"cells\"");
  const std::size_t end = svg.find("</g>", cells);
  for (std::size_t at = svg.find("<rect ", cells); at < end; at = svg.find("<rect ", at + 1)) {
    const std::size_t fill = svg.find("fill=\"", at);
    fills.push_back(svg.substr(fill + 6, 7));
  }
  return fills;
}

/// Whether `text` is a whole finite number, short enough to read.
bool reads_as_number(const std::string& text) {
  char* rest = nullptr;
  const double v = std::strtod(text.c_str(), &rest);
  return !text.empty() && *rest == '\0' && std::isfinite(v) && text.size() <= 12;
}

attn::io::HeatmapOptions vector_cells() {
  attn::io::HeatmapOptions options;
  options.raster = attn::io::HeatmapRaster::never;
  return options;
}

TEST_CASE("scales: ticks of a {0, 5e-324} map are two numbers", "[io][svg][scales]") {
  int decimals = 0;
  const std::vector<double> ticks = attn::io::detail::nice_ticks(0.0, tiny, decimals);
  CHECK(ticks == std::vector<double>{0.0, tiny});
  CHECK(attn::io::detail::tick_labels(ticks, decimals) == std::vector<std::string>{"0", "5e-324"});

  Eigen::MatrixXd m(1, 2);
  m << 0.0, tiny;
  const std::string svg = attn::io::heatmap_svg(m, vector_cells());
  CHECK(tick_texts(svg) == std::vector<std::string>{"0", "5e-324"});
  const auto fills = cell_fills(svg);
  REQUIRE(fills.size() == 2);
  CHECK(fills[0] != fills[1]);
  CHECK(svg.find("NaN") == std::string::npos);
}

TEST_CASE("scales: ±1.8e308 keep distinct values apart and ticks short", "[io][svg][scales]") {
  Eigen::MatrixXd m(1, 3);
  m << -big, 0.0, big;
  const std::string svg = attn::io::heatmap_svg(m, vector_cells());
  const auto fills = cell_fills(svg);
  REQUIRE(fills.size() == 3);
  CHECK(fills[0] == attn::io::css_color(attn::io::colormap_color(attn::io::Colormap::viridis, 0.0)));
  CHECK(fills[1] == attn::io::css_color(attn::io::colormap_color(attn::io::Colormap::viridis, 0.5)));
  CHECK(fills[2] == attn::io::css_color(attn::io::colormap_color(attn::io::Colormap::viridis, 1.0)));
  const auto ticks = tick_texts(svg);
  CHECK(ticks.size() >= 2);
  CHECK(ticks.size() <= 6);
  for (const auto& t : ticks) CHECK(reads_as_number(t));
  CHECK(ticks == std::vector<std::string>{"-1e+308", "0", "1e+308"});
  CHECK(attn::io::detail::scale_fraction(0.0, -big, big) == 0.5);
  CHECK(attn::io::detail::scale_fraction(big, -big, big) == 1.0);

  // A positive range up to the largest double: scientific ticks, not 309 digits.
  Eigen::MatrixXd up(1, 2);
  up << 0.0, big;
  const auto up_ticks = tick_texts(attn::io::heatmap_svg(up, vector_cells()));
  CHECK(up_ticks == std::vector<std::string>{"0", "5e+307", "1e+308", "1.5e+308"});
  // A narrow range far from zero: as many digits as tell the ticks apart.
  Eigen::MatrixXd narrow(1, 2);
  narrow << 1.0, std::nextafter(1.0, 2.0);
  const auto narrow_ticks = tick_texts(attn::io::heatmap_svg(narrow, vector_cells()));
  CHECK(narrow_ticks == std::vector<std::string>{"1", "1.0000000000000002"});
}

TEST_CASE("scales: NaN and all-equal maps", "[io][svg][scales]") {
  const std::string all_nan = attn::io::heatmap_svg(Eigen::MatrixXd::Constant(2, 2, nan), vector_cells());
  CHECK(all_nan.find("scale [0, 1]") != std::string::npos);
  CHECK(tick_texts(all_nan) == std::vector<std::string>{"0.00", "0.25", "0.50", "0.75", "1.00"});
  Eigen::MatrixXd equal(1, 3);
  equal << nan, big, big;
  const std::string top = attn::io::heatmap_svg(equal, vector_cells());
  CHECK(top.find("scale [0, 1.79769e+308]") != std::string::npos);
  for (const auto& t : tick_texts(top)) CHECK(reads_as_number(t));

  // A lone scale end near the largest double: the other end stays finite, or the call says why.
  attn::io::HeatmapOptions options = vector_cells();
  options.vmin = 1e308;
  CHECK(attn::io::heatmap_svg(Eigen::MatrixXd::Constant(1, 1, 1e308), options).find("scale [1e+308, 1.79769e+308]") !=
        std::string::npos);
  options.vmin = big;
  CHECK_THROWS_WITH(attn::io::heatmap_svg(Eigen::MatrixXd::Constant(1, 1, big), options),
                    "attn::io::heatmap_svg: options.vmin (1.79769e+308) leaves no room for a scale above it; "
                    "set options.vmax too");
  options.vmin.reset();
  options.vmax = -big;
  CHECK_THROWS_WITH(attn::io::heatmap_svg(Eigen::MatrixXd::Constant(1, 1, -big), options),
                    "attn::io::heatmap_svg: options.vmax (-1.79769e+308) leaves no room for a scale below it; "
                    "set options.vmin too");
}

TEST_CASE("scales: HTML shading of ±1.8e308, and a legend that tells its ends apart", "[io][html][scales]") {
  Eigen::MatrixXd w(1, 3);
  w << -big, 0.0, big;
  attn::io::HighlightOptions options;
  options.legend = false;
  const std::string html = attn::io::highlight_html({"a", "b", "c"}, w, options);
  // White, half way, full colour (#e6550d): three different backgrounds.
  CHECK(html.find("background-color:#ffffff;") != std::string::npos);
  CHECK(html.find("background-color:#f3aa86;") != std::string::npos);
  CHECK(html.find("background-color:#e6550d;") != std::string::npos);

  Eigen::MatrixXd sub(1, 2);
  sub << 0.0, tiny;
  const std::string legend = attn::io::highlight_html({"a", "b"}, sub);
  CHECK(legend.find("weight 0 <span") != std::string::npos);
  CHECK(legend.find("</span> 5e-324 (white: weight 0)</div>") != std::string::npos);

  attn::io::HighlightOptions top;
  top.vmin = big;
  CHECK_THROWS_WITH(attn::io::highlight_html({"a"}, Eigen::MatrixXd::Constant(1, 1, big), top),
                    "attn::io::highlight_html: options.vmin (1.79769e+308) leaves no room for a scale above it; "
                    "set options.vmax too");
}

TEMPLATE_TEST_CASE("scales: no keys (Tk = 0) and no additive units compute on empty storage", "[softmax][scales]",
                   float, double) {
  using S = TestType;
  using M = attn::Matrix<S>;
  for (const attn::Index tq : {attn::Index(3), attn::Index(40)}) {  // short rows and the blocked sweep
    INFO("tq " << tq);
    const M empty(tq, 0);
    for (const auto p : {attn::Probability::softmax, attn::Probability::sparsemax, attn::Probability::hardmax}) {
      const M w = attn::normalize(empty, attn::Mask::causal(0), p);
      CHECK(w.rows() == tq);
      CHECK(w.cols() == 0);
    }
    const M q = M::Ones(tq, 4);
    const auto r = attn::scaled_dot_product(q, M(0, 4), M(0, 2));
    CHECK(r.output.isZero(0));
    CHECK(r.weights.cols() == 0);
    CHECK(r.fully_masked.all());

    // units = 0: every score is the empty sum 0, so the weights are uniform.
    attn::BahdanauParams<S> params;
    params.wq = M(4, 0);
    params.wk = M(3, 0);
    params.v = attn::RowVector<S>(0);
    const M k = M::Ones(5, 3);
    M v(5, 2);
    v << 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
    const auto b = attn::bahdanau(q, k, v, params);
    CHECK(b.weights.isConstant(S(0.2)));
    const auto c = attn::luong(q, k, v, attn::LuongParams<S>::concat(M(7, 0), attn::RowVector<S>(0)));
    CHECK(c.weights.isConstant(S(0.2)));
    CHECK(c.output == b.output);

    // The prepared-memory, monotonic and Keras forms of the same empty products.
    const auto concat = attn::LuongParams<S>::concat(M(7, 0), attn::RowVector<S>(0));
    CHECK(attn::attend(attn::prepare_memory(M(0, 4), M(0, 2), attn::ScaledDotProductParams{}), q).output.isZero(0));
    CHECK(attn::attend(attn::prepare_memory(k, v, concat), q).weights.isConstant(S(0.2)));
    CHECK(attn::attend(attn::prepare_memory(k, v, params), q).weights.isConstant(S(0.2)));
    M previous = M::Zero(tq, 5);
    previous.col(0).setOnes();
    CHECK(attn::luong_monotonic(q, k, v, previous, concat).weights.allFinite());
    const auto many =
        attn::many_to_one(k, attn::ManyToOneParams<S>::bahdanau(M(3, 0), M(3, 0), M(0, 1), M::Ones(6, 2)));
    CHECK(many.weights.isConstant(S(0.2)));
  }
}

}  // namespace test_scales
