// SPDX-License-Identifier: MIT
// Tests of attn/io/bars.hpp: bar heights against the y axis, small multiples, hostile labels
// escaped, histogram counts against numpy.histogram's rules (hand-counted), NaN/inf left out and
// reported, every argument check. (tools/test_attn_plot.sh runs xmllint on bars and histograms.)
#include "attn/io/bars.hpp"

#include "helpers.hpp"

#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_bars: the suite is a unity build.
namespace test_bars {

using attn::Index;
using attn_test::message_of;

namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

/// Heights of the `<rect class="bar" ...>` elements, in document order.
std::vector<double> bar_heights(const std::string& svg) {
  std::vector<double> heights;
  const std::regex bar("<rect class=\"bar\" x=\"[^\"]*\" y=\"[^\"]*\" width=\"[^\"]*\" height=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), bar); it != std::sregex_iterator(); ++it) {
    heights.push_back(std::stod((*it)[1]));
  }
  return heights;
}

}  // namespace

TEMPLATE_TEST_CASE("bars: one row gives bars proportional to the weights, labels escaped", "[io][bars]", float, double) {
  Eigen::Matrix<TestType, 1, Eigen::Dynamic> w(4);
  w << TestType(0.1), TestType(0.6), TestType(0.3), TestType(0.1);
  attn::io::BarOptions options;
  options.labels = {"le <b>", "chat & \"chien\"", "\xE2\x80\xAE" "evil", "\xFF"};
  options.title = "pooling";
  const std::string svg = attn::io::bars_svg(w, options);
  const std::vector<double> h = bar_heights(svg);
  REQUIRE(h.size() == 4);
  CHECK(h[1] == Approx(6 * h[0]).epsilon(0.01));
  CHECK(h[2] == Approx(3 * h[0]).epsilon(0.01));
  CHECK(h[1] == Approx(200));  // the y axis ends at 0.6, a nice tick: the tallest bar fills it
  CHECK(svg.find("le &lt;b&gt;") != std::string::npos);
  CHECK(svg.find("chat &amp; &quot;chien&quot;") != std::string::npos);
  CHECK(svg.find("\xE2\x80\xAE" "evil\xE2\x80\xAC") != std::string::npos);  // the override is closed
  CHECK(svg.find("\xEF\xBF\xBD") != std::string::npos);                    // malformed byte: U+FFFD
  CHECK(svg.find("\xFF") == std::string::npos);
  CHECK(count_of(svg, "class=\"panel\"") == 1);
  CHECK(svg.rfind("</svg>\n") == svg.size() - 7);
  // A column vector is one row of bars too, and an expression needs no copy by the caller.
  CHECK(bar_heights(attn::io::bars_svg(w.transpose() * TestType(2), options)).size() == 4);
}

TEST_CASE("bars: several rows give one titled panel each on one y scale", "[io][bars]") {
  Eigen::MatrixXd w(3, 2);
  w << 0.2, 0.8, 0.5, 0.5, 1.0, 0.0;
  attn::io::BarOptions options;
  options.row_labels = {"step <0>", "step 1", "step 2"};
  const std::string svg = attn::io::bars_svg(w, options);
  CHECK(count_of(svg, "class=\"panel\"") == 3);
  CHECK(count_of(svg, "class=\"panel-title\"") == 3);
  CHECK(svg.find(">step &lt;0&gt;<") != std::string::npos);
  const std::vector<double> h = bar_heights(svg);
  REQUIRE(h.size() == 6);
  CHECK(h[4] == Approx(100));  // weight 1 fills a 100 px panel
  CHECK(h[0] == Approx(20));   // one scale for all panels
  CHECK(h[5] == Approx(0));
  // Without labels the x axis shows indices.
  CHECK(svg.find("column 1: 0.8") != std::string::npos);
}

namespace {

/// The extent of the axis titles of `svg` as laid out (0.6 em a character, at most: DejaVu Sans,
/// the default font, averages 0.55 em on Latin text; browser.titles measures the alignment's in
/// Chromium) against the picture's size: every title starts and ends inside it.
void check_axis_titles_inside(const std::string& svg, double font) {
  std::smatch size;
  REQUIRE(std::regex_search(svg, size, std::regex("<svg [^>]*width=\"([0-9.]+)\" height=\"([0-9.]+)\"")));
  const double width = std::stod(size[1]);
  const double height = std::stod(size[2]);
  // A rotated title runs along y (its centre the translate's second number), a level one along
  // x (its x attribute, the first number).
  const std::regex rotated("class=\"axis-title\" transform=\"translate\\(([0-9.]+),([0-9.]+)\\) rotate\\(-90\\)\"[^>]*>([^<]*)<");
  const std::regex level("class=\"axis-title\" x=\"([0-9.]+)\" y=\"([0-9.]+)\"[^>]*>([^<]*)<");
  int titles = 0;
  const auto check_titles = [&](const std::regex& title, std::size_t along, double extent) {
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), title); it != std::sregex_iterator(); ++it, ++titles) {
      const double half = static_cast<double>((*it)[3].length()) * 0.6 * font / 2;
      const double centre = std::stod((*it)[along]);
      INFO((*it)[3] << " from " << centre - half << " to " << centre + half << " of " << extent);
      CHECK(centre - half >= 0);
      CHECK(centre + half <= extent);
    }
  };
  check_titles(rotated, 2, height);
  check_titles(level, 1, width);
  CHECK(titles == 2);
}

}  // namespace

TEST_CASE("bars and histograms: axis titles longer than the plot stay inside the picture", "[io][bars][histogram]") {
  // A paper's y title ran off the top and bottom of a one-row chart, its x title off the right.
  const std::string y_title = "attention weight after the softmax over every key";
  const std::string x_title = "source tokens of the English sentence, after SentencePiece tokenisation";
  Eigen::MatrixXd w(2, 3);
  w << 0.2, 0.3, 0.5, 0.6, 0.3, 0.1;
  for (const double font : {12.0, 20.0}) {
    INFO("font " << font);
    attn::io::BarOptions bars;
    bars.font_size = font;
    bars.y_axis_title = y_title;
    bars.x_axis_title = x_title;
    check_axis_titles_inside(attn::io::bars_svg(w.row(0), bars), font);
    check_axis_titles_inside(attn::io::bars_svg(w, bars), font);
    attn::io::HistogramOptions histogram;
    histogram.font_size = font;
    histogram.y_axis_title = y_title;
    histogram.x_axis_title = x_title;
    check_axis_titles_inside(attn::io::histogram_svg(w, histogram), font);
    attn::io::AlignmentSvgOptions alignment;
    alignment.font_size = font;
    alignment.row_axis_title = y_title;
    alignment.col_axis_title = x_title;
    check_axis_titles_inside(attn::io::alignment_svg(attn::Alignment{{0, 1}, {1, 2}}, alignment), font);
  }
}

TEST_CASE("bars: NaN and inf are marked, negative bars go down", "[io][bars]") {
  Eigen::RowVectorXd w(4);
  w << -0.5, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(), 1.0;
  const std::string svg = attn::io::bars_svg(w);
  CHECK(count_of(svg, "class=\"non-finite\"") == 2);
  CHECK(svg.find(">NaN</text>") != std::string::npos);
  CHECK(svg.find(">inf</text>") != std::string::npos);
  const std::vector<double> h = bar_heights(svg);
  REQUIRE(h.size() == 4);
  CHECK(h[0] > 0);
  CHECK(h[0] == Approx(h[3] / 2).margin(0.01));
  CHECK(h[1] == 0);
  CHECK(h[2] == Approx(h[3]));  // inf reaches the end of the axis
}

TEST_CASE("bars: bad arguments name the option", "[io][bars][errors]") {
  const Eigen::RowVectorXd w = Eigen::RowVectorXd::Constant(3, 0.25);
  using E = attn::invalid_argument;
  attn::io::BarOptions o;
  o.labels = {"a", "b"};
  CHECK(message_of<E>([&] { attn::io::bars_svg(w, o); }) ==
        "attn::io::bars_svg: options.labels.size() (2) must equal the number of bars, weights.cols() (3)");
  o = {};
  o.row_labels = {"a", "b"};
  CHECK(message_of<E>([&] { attn::io::bars_svg(w, o); }) ==
        "attn::io::bars_svg: options.row_labels.size() (2) must equal the number of panels, weights.rows() (1)");
  o = {};
  o.ymin = 1;
  o.ymax = 0;
  CHECK(message_of<E>([&] { attn::io::bars_svg(w, o); }) ==
        "attn::io::bars_svg: options.ymin (1) must be less than options.ymax (0)");
  o = {};
  o.ymax = std::numeric_limits<double>::infinity();
  CHECK(message_of<E>([&] { attn::io::bars_svg(w, o); }) == "attn::io::bars_svg: options.ymax (inf) must be finite");
  o = {};
  o.ymin = std::numeric_limits<double>::quiet_NaN();
  CHECK(message_of<E>([&] { attn::io::bars_svg(w, o); }) == "attn::io::bars_svg: options.ymin (NaN) must be finite");
  o = {};
  o.max_plot_width = 0;
  CHECK(message_of<E>([&] { attn::io::bars_svg(w, o); }) ==
        "attn::io::bars_svg: options.max_plot_width (0) must be > 0 and finite");
  o = {};
  o.max_bar_slot = -1;
  CHECK(message_of<E>([&] { attn::io::bars_svg(w, o); }) ==
        "attn::io::bars_svg: options.max_bar_slot (-1) must be > 0 and finite");
  o = {};
  o.plot_height = -1;
  CHECK(message_of<E>([&] { attn::io::bars_svg(w, o); }) == "attn::io::bars_svg: options.plot_height (-1) must be >= 0");
  o = {};
  o.font_size = 0;
  CHECK(message_of<E>([&] { attn::io::bars_svg(w, o); }) == "attn::io::bars_svg: options.font_size (0) must be in (0, 200]");
  o = {};
  o.color = "blue";
  CHECK(message_of<E>([&] { attn::io::bars_svg(w, o); }).find("'blue' must be '#rrggbb' or '#rgb'") != std::string::npos);
  CHECK(message_of<E>([&] { attn::io::bars_svg(Eigen::MatrixXd(0, 3)); }) ==
        "attn::io::bars_svg: weights has no rows (0x3): nothing to draw");
  std::ostringstream os;
  CHECK(message_of<E>([&] { attn::io::write_bars_svg(os, Eigen::MatrixXd(0, 3)); }) ==
        "attn::io::write_bars_svg: weights has no rows (0x3): nothing to draw");
}

TEST_CASE("histogram: counts follow numpy.histogram, NaN, inf and outside values are left out", "[io][histogram]") {
  Eigen::MatrixXd v(2, 5);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  v << 0.0, 0.1, 0.25, 0.5, 1.0, 0.75, 0.99, nan, inf, -inf;
  attn::io::HistogramOptions o;
  o.bins = 4;
  // numpy.histogram([0, .1, .25, .5, 1, .75, .99], bins=4) -> [2, 1, 0... ] hand-counted:
  // [0, .25): 0, .1 | [.25, .5): .25 | [.5, .75): .5 | [.75, 1]: .75, .99, 1
  const attn::io::Histogram h = attn::io::histogram(v, o);
  CHECK(h.counts == std::vector<Index>{2, 1, 1, 3});
  CHECK(h.edges == std::vector<double>{0, 0.25, 0.5, 0.75, 1});
  CHECK(h.nan == 1);
  CHECK(h.infinite == 2);
  CHECK(h.outside == 0);
  o.range_min = 0.2;
  o.range_max = 0.6;
  o.bins = 2;
  const attn::io::Histogram r = attn::io::histogram(v, o);
  CHECK(r.counts == std::vector<Index>{1, 1});  // [.2, .4): .25 | [.4, .6]: .5
  CHECK(r.outside == 5);
  const std::string svg = attn::io::histogram_svg(v, o);
  CHECK(svg.find("left out: 1 NaN, 2 infinite, 5 outside the range") != std::string::npos);
  CHECK(bar_heights(svg).size() == 2);
  CHECK(svg.find("<title>[0.4, 0.6]: 1</title>") != std::string::npos);
}

TEST_CASE("histogram: constant and empty input", "[io][histogram]") {
  const attn::io::Histogram c = attn::io::histogram(Eigen::RowVector3f::Constant(2.0f));
  CHECK(c.edges.front() == 1.5);  // numpy: [v - 0.5, v + 0.5]
  CHECK(c.edges.back() == 2.5);
  CHECK(c.counts[10] == 3);
  const Eigen::MatrixXd empty(0, 0);
  const attn::io::Histogram e = attn::io::histogram(empty);
  CHECK(e.edges.front() == 0);
  CHECK(e.edges.back() == 1);
  CHECK(e.counts == std::vector<Index>(20, 0));
  CHECK(attn::io::histogram_svg(empty).find(">no values<") != std::string::npos);
}

TEST_CASE("histogram: bad options name the option", "[io][histogram][errors]") {
  const Eigen::RowVectorXd v = Eigen::RowVectorXd::LinSpaced(5, 0, 1);
  using E = attn::invalid_argument;
  attn::io::HistogramOptions o;
  o.bins = 0;
  CHECK(message_of<E>([&] { attn::io::histogram_svg(v, o); }) ==
        "attn::io::histogram_svg: options.bins (0) must be in [1, 100000]");
  o.bins = -3;
  CHECK(message_of<E>([&] { attn::io::histogram(v, o); }) == "attn::io::histogram: options.bins (-3) must be in [1, 100000]");
  o = {};
  o.range_min = 0;
  CHECK(message_of<E>([&] { attn::io::histogram(v, o); }) ==
        "attn::io::histogram: options.range_min and options.range_max must be given together");
  o.range_max = 0;
  CHECK(message_of<E>([&] { attn::io::histogram(v, o); }) ==
        "attn::io::histogram: options.range_min (0) must be less than options.range_max (0), both finite");
  o = {};
  o.plot_width = std::numeric_limits<double>::infinity();
  std::ostringstream os;
  CHECK(message_of<E>([&] { attn::io::write_histogram_svg(os, v, o); }) ==
        "attn::io::write_histogram_svg: options.plot_width (inf) must be > 0 and finite");
  CHECK(os.str().empty());
}

}  // namespace test_bars
