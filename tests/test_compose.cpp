// SPDX-License-Identifier: MIT
// Tests of the exporters' composition and default readability: every list-of-maps form (ranges
// of Eigen matrices, head_views, HeadWeights, AlignmentHistory views, Maps, Refs, expressions)
// compiles and draws/stacks/writes the right values; TidyCsvWriter appends under ONE header
// (read back by attn's reader and by Python's csv module); the SVG fragment; index ticks,
// hatched masked cells, the leaked-mass column, 9 px labels in grids and the centred title.
// Every SVG is parsed by xmllint.
#include "attn/attn.hpp"

#include "helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_compose: the suite is a unity build.
namespace test_compose {

namespace fs = std::filesystem;
using attn::Index;
using attn_test::count;
using attn_test::message_of;
using attn_test::slurp;
using attn_test::TempDir;
using attn_test::xmllint_errors;

namespace {

/// The texts of the `<text>` elements inside the first `<g class="cls" ...>` group.
std::vector<std::string> group_texts(const std::string& svg, const std::string& cls) {
  std::vector<std::string> texts;
  const std::size_t start = svg.find("<g class=\"" + cls + "\"");
  if (start == std::string::npos) return texts;
  const std::string group = svg.substr(start, svg.find("</g>", start) - start);
  const std::regex text_re("<text[^>]*>([^<]*)");
  for (std::sregex_iterator it(group.begin(), group.end(), text_re), end; it != end; ++it) texts.push_back((*it)[1]);
  return texts;
}

attn::HeadWeights<double> make_heads(Index heads, Index rows, Index cols) {
  attn::HeadWeights<double> w(heads, rows, cols);
  for (Index k = 0; k < w.size(); ++k) w.data()[k] = static_cast<double>(k) / static_cast<double>(w.size());
  return w;
}

/// The values of the panels' cells, in reading order, back from their tooltips.
std::vector<double> tooltip_values(const std::string& svg) {
  std::vector<double> values;
  const std::regex tip_re("<title>row \\d+, column \\d+: ([^<]*)</title>");
  for (std::sregex_iterator it(svg.begin(), svg.end(), tip_re), end; it != end; ++it) {
    values.push_back(std::stod((*it)[1]));
  }
  return values;
}

}  // namespace

// --- compositions: one test each --------------------------------------------------------------

TEST_CASE("heatmap_panels(head_views(w), titles) compiles and copies every head", "[compose][svg]") {
  const attn::HeadWeights<double> w = make_heads(3, 2, 4);
  const std::vector<attn::io::HeatmapPanel> panels = attn::io::heatmap_panels(attn::head_views(w), {"h0", "h1"});
  REQUIRE(panels.size() == 3);
  for (Index h = 0; h < 3; ++h) CHECK(panels[static_cast<std::size_t>(h)].values == w.head(h));
  CHECK(panels[1].title == "h1");
  CHECK(panels[2].title.empty());
}

TEST_CASE("heatmap_panels(HeadWeights) and heatmap_grid_svg(HeadWeights) draw every head", "[compose][svg]") {
  attn::HeadWeights<float> w(2, 2, 3);
  for (Index k = 0; k < w.size(); ++k) w.data()[k] = static_cast<float>(k);
  CHECK(attn::io::heatmap_panels(w)[1].values == w.head(1).cast<double>());
  // A HeadWeights' panels are titled by head unless titles are given; a range of maps is not.
  CHECK(attn::io::heatmap_panels(w)[0].title == "head 0");
  CHECK(attn::io::heatmap_panels(w)[1].title == "head 1");
  CHECK(attn::io::heatmap_panels(w, {"self"})[0].title == "self");
  CHECK(attn::io::heatmap_panels(w, {"self"})[1].title == "head 1");
  CHECK(attn::io::heatmap_panels(attn::head_views(w))[1].title.empty());
  attn::io::HeatmapOptions options;
  options.raster = attn::io::HeatmapRaster::never;
  const std::string svg = attn::io::heatmap_grid_svg(w, options);
  ATTN_CHECK_WELL_FORMED(svg);
  CHECK(svg.find(">head 1</text>") != std::string::npos);
  std::vector<double> want;
  for (Index h = 0; h < 2; ++h)
    for (Index i = 0; i < 2; ++i)
      for (Index j = 0; j < 3; ++j) want.push_back(static_cast<double>(w.head(h)(i, j)));
  CHECK(tooltip_values(svg) == want);
}

TEST_CASE("heatmap_grid_svg takes head_views and Refs, write_heatmap_grid_svg a HeadWeights", "[compose][svg]") {
  const attn::HeadWeights<double> w = make_heads(2, 3, 3);
  ATTN_CHECK_WELL_FORMED(attn::io::heatmap_grid_svg(attn::head_views(w)));
  const Eigen::MatrixXd a = Eigen::MatrixXd::Random(4, 6);
  const std::vector<Eigen::Ref<const Eigen::MatrixXd>> refs{a.leftCols(3), a.rightCols(3)};
  const std::vector<attn::io::HeatmapPanel> panels = attn::io::heatmap_panels(refs);
  CHECK(panels[1].values == a.rightCols(3));
  TempDir dir;
  attn::io::write_heatmap_grid_svg(dir.path / "grid.svg", w);
  ATTN_CHECK_WELL_FORMED(slurp(dir.path / "grid.svg"));
  std::ostringstream os;
  attn::io::write_heatmap_grid_svg(os, w);
  CHECK(os.str() == slurp(dir.path / "grid.svg"));
  // The same maps as head_views, which are untitled: the HeadWeights' grid titles its heads.
  const std::string views = attn::io::heatmap_grid_svg(attn::head_views(w));
  CHECK(views.find(">head 0</text>") == std::string::npos);
  CHECK(os.str().find(">head 0</text>") != std::string::npos);
  std::vector<attn::io::HeatmapPanel> untitled = attn::io::heatmap_panels(w);
  for (attn::io::HeatmapPanel& panel : untitled) panel.title.clear();
  CHECK(attn::io::heatmap_grid_svg(untitled) == views);
}

TEST_CASE("heatmap_panels(history.views()) gives one panel per sequence", "[compose][svg][history]") {
  attn::AlignmentHistory<float> history(std::vector<Index>{3, 2});
  Eigen::MatrixXf step(2, 3);
  step << 0.5f, 0.25f, 0.25f, 0.75f, 0.25f, 0.0f;
  history.record(step);
  step << 0.25f, 0.25f, 0.5f, 0.25f, 0.75f, 0.0f;  // sequence 1's third column is padding
  history.record(step);
  const auto panels = attn::io::heatmap_panels(history.views(), {"first", "second"});
  REQUIRE(panels.size() == 2);
  CHECK(panels[0].values == history.matrix(0).cast<double>());
  CHECK(panels[1].values.cols() == 2);
  CHECK(panels[1].values == history.matrix(1).cast<double>());
  ATTN_CHECK_WELL_FORMED(attn::io::heatmap_grid_svg(panels));
}

TEST_CASE("heatmap_panel takes any expression, heatmap_pair_svg two matrices", "[compose][svg]") {
  const Eigen::MatrixXd truth = Eigen::MatrixXd::Identity(3, 3);
  Eigen::MatrixXf weights(3, 3);
  weights << 0.7f, 0.2f, 0.1f, 0.1f, 0.8f, 0.1f, 0.3f, 0.3f, 0.4f;
  const attn::io::HeatmapPanel p = attn::io::heatmap_panel(2.0 * weights.transpose(), "doubled");
  CHECK(p.values.isApprox(2.0 * weights.transpose().cast<double>()));
  CHECK(p.title == "doubled");

  attn::io::HeatmapOptions options;
  options.raster = attn::io::HeatmapRaster::never;
  const std::string pair = attn::io::heatmap_pair_svg(truth, weights, options);
  CHECK(pair == attn::io::heatmap_pair_svg(attn::io::heatmap_panel(truth), attn::io::heatmap_panel(weights), options));
  ATTN_CHECK_WELL_FORMED(pair);
  TempDir dir;
  attn::io::write_heatmap_pair_svg(dir.path / "pair.svg", truth, weights.block(0, 0, 3, 3), options,
                                   attn::io::PairLayout::under);
  const std::string under = slurp(dir.path / "pair.svg");
  ATTN_CHECK_WELL_FORMED(under);
  std::ostringstream os;
  attn::io::write_heatmap_pair_svg(os, truth, weights, options, attn::io::PairLayout::under);
  CHECK(os.str() == under);
  CHECK(under != pair);
  // The default layout (automatic): square maps side by side, wide ones (1×T strips, 4+ times as
  // wide as tall) one under the other.
  CHECK(pair == attn::io::heatmap_pair_svg(truth, weights, options, attn::io::PairLayout::beside));
  const Eigen::MatrixXd strip = Eigen::MatrixXd::Constant(1, 8, 0.125);
  const Eigen::MatrixXd tall_enough = Eigen::MatrixXd::Constant(3, 11, 0.125);
  CHECK(attn::io::heatmap_pair_svg(strip, strip, options) ==
        attn::io::heatmap_pair_svg(strip, strip, options, attn::io::PairLayout::under));
  CHECK(attn::io::heatmap_pair_svg(strip, strip, options) !=
        attn::io::heatmap_pair_svg(strip, strip, options, attn::io::PairLayout::beside));
  CHECK(attn::io::heatmap_pair_svg(tall_enough, tall_enough, options) ==
        attn::io::heatmap_pair_svg(tall_enough, tall_enough, options, attn::io::PairLayout::beside));
}

TEST_CASE("npy_stack takes HeadWeights, head_views, history views and Refs", "[compose][npy]") {
  const attn::HeadWeights<double> w = make_heads(2, 2, 3);
  const attn::io::NpyArray<double> a = attn::io::npy_stack(w);
  const attn::io::NpyArray<double> b = attn::io::npy_stack(attn::head_views(w));
  CHECK(a.shape == std::vector<Index>{2, 2, 3});
  CHECK(a.data == b.data);
  CHECK(a.data[(1 * 2 + 1) * 3 + 2] == w.head(1)(1, 2));  // C order: (k, i, j)

  attn::AlignmentHistory<float> history(2, 3);
  history.record(Eigen::MatrixXf::Constant(2, 3, 0.25f));
  const attn::io::NpyArray<float> h = attn::io::npy_stack(history.views());
  CHECK(h.shape == std::vector<Index>{2, 1, 3});
  CHECK(h.data == std::vector<float>(6, 0.25f));

  const Eigen::MatrixXd m = Eigen::MatrixXd::Random(2, 4);
  const std::vector<Eigen::Ref<const Eigen::MatrixXd>> refs{m.leftCols(2), m.rightCols(2)};
  CHECK(attn::io::npy_stack(refs).data[4] == m(0, 2));
  const std::vector<Eigen::Ref<const Eigen::MatrixXd>> uneven{m.leftCols(1), m.rightCols(2)};
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::npy_stack(uneven); }) ==
        "attn::io::npy_stack: maps[1] (2x2) must match maps[0] (2x1)");
}

TEST_CASE("TidyCsvWriter appends expressions, Maps, Refs, history views and heads", "[compose][csv]") {
  std::ostringstream os;
  attn::io::TidyCsvWriter writer(os);
  Eigen::MatrixXd m(1, 2);
  m << 0.25, 0.75;
  writer.append_heads(attn::head_views(make_heads(2, 1, 2)), attn::io::CsvKey().with_step(0));
  writer.append_heads(make_heads(1, 1, 2), attn::io::CsvKey().with_step(1));
  writer.append(m.reverse(), attn::io::CsvKey().with_step(2).with_head(0));
  const Eigen::Ref<const Eigen::MatrixXd> ref = m;
  writer.append(ref, attn::io::CsvKey().with_step(3).with_head(0));
  attn::AlignmentHistory<double> history(1, 2);
  history.record(m);
  writer.append(history.view(0), attn::io::CsvKey().with_step(4).with_head(0));
  CHECK(writer.records() == 4 + 2 + 2 + 2 + 2);
  CHECK(writer.header() == "head,step,query,key,weight");
  const std::string text = os.str();
  CHECK(count(text, "head,step") == 1);
  CHECK(text.find("0,2,0,0,0.75\n0,2,0,1,0.25\n") != std::string::npos);
  CHECK(text.find("1,0,0,1,") != std::string::npos);  // head 1 of step 0

  CHECK(message_of<attn::invalid_argument>([&] { writer.append(m); }) ==
        "attn::io::TidyCsvWriter::append: key.head is unset but the header 'head,step,query,key,weight' (fixed by "
        "the first append) has a head column");
  CHECK(message_of<attn::invalid_argument>([&] { writer.append_heads(make_heads(1, 1, 2), attn::io::CsvKey().with_head(1)); }) ==
        "attn::io::TidyCsvWriter::append_heads: key.head must be unset (each map's head is its index)");
  CHECK(os.str() == text);  // nothing written by the calls that threw

  std::ostringstream all;
  attn::io::write_csv_long(all, make_heads(2, 1, 2), {"q"}, {"a", "b"});
  CHECK(all.str().rfind("head,query,key,query_token,key_token,weight\n0,0,0,q,a,0\n", 0) == 0);
}

// --- the tidy CSV appended three times ----------------------------------------------------------

TEST_CASE("TidyCsvWriter: three appends to a file read back with ONE header", "[compose][csv][fixture]") {
  // steps.csv: three 2×3 maps, written by tests/fixtures/make_tidy_fixtures.py (float64).
  const attn::io::CsvMatrix<double> steps =
      attn::io::read_csv(attn_test::fixture_path("tidy/steps.csv"), attn::io::CsvLabels::none);
  REQUIRE(steps.values.rows() == 6);
  TempDir dir;
  const fs::path file = dir.path / "log.csv";
  {
    attn::io::TidyCsvWriter writer(file);
    writer.append(steps.values.middleRows(0, 2), attn::io::CsvKey().with_step(0));
    writer.append(steps.values.middleRows(2, 2), attn::io::CsvKey().with_step(1));
  }
  attn::io::TidyCsvWriter later(file);  // a new run continues the log: no second header
  later.append(steps.values.middleRows(4, 2), attn::io::CsvKey().with_step(2));

  const std::string text = slurp(file);
  CHECK(count(text, "step,query,key,weight") == 1);
  // attn's reader: a repeated header would be a record that is not a number, and throw.
  const attn::io::CsvMatrix<double> back = attn::io::read_csv(file);
  CHECK(back.col_labels == std::vector<std::string>{"step", "query", "key", "weight"});
  REQUIRE(back.values.rows() == 18);
  const attn::io::CsvMatrix<double> expected = attn::io::read_csv(attn_test::fixture_path("tidy/expected.csv"));
  CHECK(back.values == expected.values);

  // Python's csv module, in the fixture script.
  if (std::system("/usr/bin/python3 --version >/dev/null 2>&1") != 0) FAIL("/usr/bin/python3 is missing");
  const std::string command = "/usr/bin/python3 '" + std::string(ATTN_FIXTURE_DIR) +
                              "/make_tidy_fixtures.py' check '" + file.string() + "'";
  CHECK(std::system(command.c_str()) == 0);
}

TEST_CASE("TidyCsvWriter: a file with another header or a cut last line is left alone", "[compose][csv]") {
  TempDir dir;
  const fs::path file = dir.path / "other.csv";
  std::ofstream(file, std::ios::binary) << "layer,query,key,weight\n0,0,0,1\n";
  attn::io::TidyCsvWriter writer(file);
  const Eigen::MatrixXd m = Eigen::MatrixXd::Constant(1, 1, 0.5);
  const std::string why = message_of<std::runtime_error>([&] { writer.append(m, attn::io::CsvKey().with_step(0)); });
  CHECK(why == "attn::io::TidyCsvWriter::append: cannot append to '" + file.string() +
                   "': its header 'layer,query,key,weight' is not this writer's 'step,query,key,weight' (another kind of "
                   "table): append to a new file, or move this one away");
  CHECK(slurp(file) == "layer,query,key,weight\n0,0,0,1\n");
  std::ofstream(file, std::ios::binary | std::ios::trunc) << "step,query,key,weight\n0,0,0,0.";
  CHECK(message_of<std::runtime_error>([&] { writer.append(m, attn::io::CsvKey().with_step(1)); })
            .find("it does not end with a line break") != std::string::npos);
  CHECK(slurp(file) == "step,query,key,weight\n0,0,0,0.");
  fs::create_directory(dir.path / "dir.csv");
  attn::io::TidyCsvWriter into_directory(dir.path / "dir.csv");
  CHECK(message_of<std::runtime_error>([&] { into_directory.append(m); }).find("it is not a regular file") !=
        std::string::npos);
}

// --- the SVG fragment ---------------------------------------------------------------------------

TEST_CASE("fragment: the <svg> element without the XML prolog", "[compose][svg]") {
  const Eigen::MatrixXd m = Eigen::MatrixXd::Identity(2, 2);
  attn::io::HeatmapOptions options;
  CHECK(attn::io::heatmap_svg(m, options).rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 0) == 0);
  options.fragment = true;
  options.id_prefix = "second";
  const std::string fragment = attn::io::heatmap_svg(m, options);
  CHECK(fragment.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(fragment.find("<?xml") == std::string::npos);
  CHECK(fragment.find("id=\"second-colorbar\"") != std::string::npos);
  ATTN_CHECK_WELL_FORMED(fragment);
  CHECK(attn::io::heatmap_grid_svg(std::vector<Eigen::MatrixXd>{m, m}, options).rfind("<svg ", 0) == 0);
}

// --- readable by default ------------------------------------------------------------------------

TEST_CASE("index ticks at nice steps when there are no labels", "[compose][svg][ticks]") {
  CHECK(attn::io::detail::index_ticks(1) == std::vector<Index>{0});
  CHECK(attn::io::detail::index_ticks(4) == std::vector<Index>{0, 1, 2, 3});
  CHECK(attn::io::detail::index_ticks(24) == std::vector<Index>{0, 5, 10, 15, 20});
  CHECK(attn::io::detail::index_ticks(120) == std::vector<Index>{0, 50, 100});
  CHECK(attn::io::detail::index_ticks(500) == std::vector<Index>{0, 100, 200, 300, 400});
  CHECK(attn::io::detail::index_ticks(1001) == std::vector<Index>{0, 200, 400, 600, 800, 1000});

  const std::string svg = attn::io::heatmap_svg(Eigen::MatrixXd::Random(120, 24));
  ATTN_CHECK_WELL_FORMED(svg);
  CHECK(group_texts(svg, "row-ticks") == std::vector<std::string>{"0", "50", "100"});
  CHECK(group_texts(svg, "col-ticks") == std::vector<std::string>{"0", "5", "10", "15", "20"});
  attn::io::HeatmapOptions labelled;
  labelled.col_labels = std::vector<std::string>(24, "k");
  const std::string half = attn::io::heatmap_svg(Eigen::MatrixXd::Random(120, 24), labelled);
  CHECK(group_texts(half, "row-ticks").size() == 3);
  CHECK(half.find("col-ticks") == std::string::npos);
  labelled.index_ticks = false;
  CHECK(attn::io::heatmap_svg(Eigen::MatrixXd::Random(120, 24), labelled).find("row-ticks") == std::string::npos);
}

TEST_CASE("index ticks of a pooled map count the larger map's rows and columns", "[compose][svg][ticks]") {
  // A 7×12 map whose cells each pool 3 rows and 4 columns of a 21×48 (or 19×45: the last blocks
  // partial) map: the ticks are the larger map's indices, each at the drawn cell holding it, and
  // stop at the last block's first index (which the larger map surely has: row 18, not 20).
  attn::io::HeatmapOptions options;
  options.index_block_rows = 3;
  options.index_block_cols = 4;
  options.raster = attn::io::HeatmapRaster::never;
  const std::string svg = attn::io::heatmap_svg(Eigen::MatrixXd::Random(7, 12), options);
  ATTN_CHECK_WELL_FORMED(svg);
  CHECK(group_texts(svg, "row-ticks") == std::vector<std::string>{"0", "5", "10", "15"});  // rows up to 18
  CHECK(group_texts(svg, "col-ticks") == std::vector<std::string>{"0", "10", "20", "30", "40"});  // up to 44
  // Where: tick t at (t + 0.5) / block cells from the map's edge.
  const std::regex cell_re("<rect x=\"([-0-9.]+)\" y=\"[-0-9.]+\" width=\"([-0-9.]+)\"");
  std::smatch cell;
  REQUIRE(std::regex_search(svg, cell, cell_re));
  const double left = std::stod(cell[1]), size = std::stod(cell[2]);
  const std::size_t group = svg.find("<g class=\"col-ticks\"");
  const std::string ticks = svg.substr(group, svg.find("</g>", group) - group);
  const std::regex text_re("<text x=\"([-0-9.]+)\"[^>]*>([0-9]+)<");
  int seen = 0;
  for (std::sregex_iterator it(ticks.begin(), ticks.end(), text_re), end; it != end; ++it, ++seen) {
    const double t = std::stod((*it)[2]);
    CHECK(std::stod((*it)[1]) == Approx(left + (t + 0.5) / 4.0 * size).margin(0.02));
  }
  CHECK(seen == 5);
  options.index_block_rows = 0;
  CHECK(message_of([&] { (void)attn::io::heatmap_svg(Eigen::MatrixXd::Random(2, 2), options); }) ==
        "attn::io::heatmap_svg: options.index_block_rows (0) and index_block_cols (4) must be >= 1");
}

// A map of a few pixels (attn-plot --max-size 16 on a pooled map): index ticks whose numbers would
// touch are left out, and the column axis title, wider than the map, stays inside the picture.
TEST_CASE("a map of a few pixels: ticks apart, the axis title inside the picture", "[compose][svg][ticks]") {
  attn::io::HeatmapOptions options;
  options.max_map_size = 16;
  options.font_size = 12;
  options.col_axis_title = "column (blocks of 2)";
  options.row_axis_title = "row";
  const std::string svg = attn::io::heatmap_svg(Eigen::MatrixXd::Random(10, 15), options);
  ATTN_CHECK_WELL_FORMED(svg);
  const auto xs = [&svg](const std::string& cls) {
    std::vector<std::pair<double, std::string>> at;
    const std::size_t start = svg.find("<g class=\"" + cls + "\"");
    if (start == std::string::npos) return at;
    const std::string group = svg.substr(start, svg.find("</g>", start) - start);
    const std::regex text_re("<text x=\"([-0-9.]+)\"[^>]*>([^<]*)");
    for (std::sregex_iterator it(group.begin(), group.end(), text_re), end; it != end; ++it)
      at.emplace_back(std::stod((*it)[1]), (*it)[2]);
    return at;
  };
  const auto ticks = xs("col-ticks");
  REQUIRE(!ticks.empty());
  CHECK(ticks.front().second == "0");
  for (std::size_t k = 1; k < ticks.size(); ++k) {  // numbers drawn 0.6 em per digit, centred
    const double half_widths = 0.3 * 12 * static_cast<double>(ticks[k].second.size() + ticks[k - 1].second.size());
    CHECK(ticks[k].first - ticks[k - 1].first >= half_widths);
  }
  std::smatch title, width;
  REQUIRE(std::regex_search(svg, title, std::regex("class=\"axis-title\" x=\"([-0-9.]+)\"[^>]*>column \\(blocks")));
  REQUIRE(std::regex_search(svg, width, std::regex("<svg [^>]*width=\"([0-9.]+)\"")));
  const double half_title = 0.3 * 12 * static_cast<double>(options.col_axis_title.size());
  CHECK(std::stod(title[1]) - half_title >= 0);
  CHECK(std::stod(title[1]) + half_title <= std::stod(width[1]));
}

TEST_CASE("masked cells are hatched, named in the legend, and do not set the scale", "[compose][svg][mask]") {
  Eigen::MatrixXd m(3, 3);
  m << 0.2, 9, 9, 0.4, 0.6, 9, 0.1, 0.3, 0.6;  // 9: what a caller left in the masked cells
  attn::io::HeatmapOptions options;
  options.mask = attn::Mask::causal();
  options.raster = attn::io::HeatmapRaster::never;
  options.id_prefix = "p1";
  const std::string svg = attn::io::heatmap_svg(m, options);
  ATTN_CHECK_WELL_FORMED(svg);
  CHECK(count(svg, "fill=\"url(#p1-masked)\"") == 3 + 1);  // three cells and the legend swatch
  CHECK(count(svg, "<pattern id=\"p1-masked\"") == 1);
  CHECK(group_texts(svg, "legend") == std::vector<std::string>{"masked"});
  CHECK(svg.find("row 0, column 1: masked (9)") != std::string::npos);
  CHECK(svg.find("scale [0.1, 0.6]") != std::string::npos);

  options.raster = attn::io::HeatmapRaster::always;
  const std::string raster = attn::io::heatmap_svg(m, options);
  ATTN_CHECK_WELL_FORMED(raster);
  CHECK(raster.find("<g class=\"masked\" fill=\"url(#p1-masked)\"") != std::string::npos);
  CHECK(count(raster, "<rect x=") >= 2);  // runs: row 0 (2 cells), row 1 (1 cell)

  options.mask = attn::Mask();
  CHECK(attn::io::heatmap_svg(m, options).find("masked") == std::string::npos);
  options.mask = attn::Mask::key_length(5);
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::heatmap_svg(m, options); }) ==
        "attn::io::heatmap_svg: options: mask key length (5) exceeds the number of keys (3)");

  attn::io::HeatmapPanel own = attn::io::heatmap_panel(m);
  own.mask = attn::Mask::matrix(Eigen::MatrixXi::Ones(2, 2));
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::heatmap_grid_svg({own, own}); }) ==
        "attn::io::heatmap_grid_svg: panels[0]: mask matrix (2x2) must match the map (3x3)");
}

TEST_CASE("NaN cells are named in the legend, under the masked swatch, when a map shows one", "[compose][svg][mask]") {
  // Every <g class="legend"> group: its text, whether it crosses its swatch, and its swatch's bottom.
  struct Entry {
    std::string text;
    bool crossed;
    double bottom;
  };
  const auto legend = [](const std::string& svg) {
    std::vector<Entry> entries;
    const std::regex entry_re("<g class=\"legend\"><rect x=\"[0-9.]+\" y=\"([0-9.]+)\" width=\"14\" height=\"14\" "
                              "fill=\"([^\"]+)\"[^>]*/>(<path [^>]*/>)?<text[^>]*>([^<]*)</text></g>");
    for (std::sregex_iterator it(svg.begin(), svg.end(), entry_re), end; it != end; ++it)
      entries.push_back({(*it)[4], (*it)[3].matched, std::stod((*it)[1]) + 14});
    return entries;
  };
  const auto height = [](const std::string& svg) {
    std::smatch h;
    REQUIRE(std::regex_search(svg, h, std::regex("<svg [^>]*height=\"([0-9.]+)\"")));
    return std::stod(h[1]);
  };
  Eigen::MatrixXd m(3, 3);
  m << 0.2, 0.3, 0.5, 0.4, std::nan(""), 0.6, 0.1, 0.3, 0.6;
  attn::io::HeatmapOptions options;
  options.raster = attn::io::HeatmapRaster::never;
  std::string svg = attn::io::heatmap_svg(m, options);
  ATTN_CHECK_WELL_FORMED(svg);
  std::vector<Entry> entries = legend(svg);
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].text == "NaN");
  CHECK(entries[0].crossed);  // as the NaN cell drawn as a rectangle
  CHECK(svg.find("fill=\"#d9d9d9\" stroke=\"#404040\"") != std::string::npos);  // the cells' grey
  CHECK(entries[0].bottom + 8 <= height(svg));

  // Under the masked swatch, 20 px lower, inside the picture; a taller bar moves both down.
  options.mask = attn::Mask::causal();
  svg = attn::io::heatmap_svg(m, options);
  ATTN_CHECK_WELL_FORMED(svg);
  entries = legend(svg);
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].text == "masked");
  CHECK(entries[1].text == "NaN");
  CHECK(entries[1].bottom - entries[0].bottom == 20);
  CHECK(entries[1].bottom + 8 <= height(svg));

  // Raster cells are grey without a cross: so is the swatch.
  options.raster = attn::io::HeatmapRaster::always;
  entries = legend(attn::io::heatmap_svg(m, options));
  REQUIRE(entries.size() == 2);
  CHECK_FALSE(entries[1].crossed);

  // A NaN hidden by the mask is drawn hatched, not grey: no NaN entry. Nor without NaN.
  options.raster = attn::io::HeatmapRaster::never;
  Eigen::MatrixXd hidden = m;
  hidden(1, 1) = 0.5;
  hidden(0, 2) = std::nan("");
  entries = legend(attn::io::heatmap_svg(hidden, options));
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].text == "masked");
  options.mask = attn::Mask();
  CHECK(legend(attn::io::heatmap_svg(hidden.bottomRows(2), options)).empty());

  // A grid names it when any of its maps has one, without a colour bar too (right of the maps).
  options.colorbar = false;
  svg = attn::io::heatmap_grid_svg({attn::io::heatmap_panel(hidden.bottomRows(2)), attn::io::heatmap_panel(m)}, options);
  ATTN_CHECK_WELL_FORMED(svg);
  entries = legend(svg);
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].text == "NaN");
  std::smatch width, x;
  REQUIRE(std::regex_search(svg, width, std::regex("<svg [^>]*width=\"([0-9.]+)\"")));
  REQUIRE(std::regex_search(svg, x, std::regex("<g class=\"legend\"><rect x=\"([0-9.]+)\"")));
  CHECK(std::stod(x[1]) + 20 + 3 * 0.6 * 12 * 0.9 <= std::stod(width[1]));  // "NaN" inside the picture
}

TEST_CASE("leaked mass: a bar per row in a column beside the map", "[compose][svg][monotonic]") {
  Eigen::MatrixXd w(3, 2);
  w << 0.9, 0.1, 0.2, 0.5, 0.0, 0.1;
  attn::io::HeatmapOptions options;
  options.leaked_mass = Eigen::VectorXd::Ones(3) - w.rowwise().sum();
  const std::string svg = attn::io::heatmap_svg(w, options);
  ATTN_CHECK_WELL_FORMED(svg);
  CHECK(svg.find("<g class=\"leaked\">") != std::string::npos);
  CHECK(count(svg, ": leaked mass ") == 2);  // row 0 leaks nothing: no bar
  CHECK(svg.find("row 2: leaked mass 0.9") != std::string::npos);
  const std::regex bar_re("<rect x=\"[^\"]+\" y=\"[^\"]+\" width=\"([^\"]+)\" height=\"[^\"]+\" fill=\"#d95f02\">");
  std::vector<double> widths;
  for (std::sregex_iterator it(svg.begin(), svg.end(), bar_re), end; it != end; ++it) widths.push_back(std::stod((*it)[1]));
  REQUIRE(widths.size() == 2);
  CHECK(widths[1] / widths[0] == Approx(0.9 / 0.3).epsilon(0.01));
  options.leaked_mass = Eigen::VectorXd::Zero(2);
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::heatmap_svg(w, options); }) ==
        "attn::io::heatmap_svg: options.leaked_mass.size() (2) must equal the number of rows (3)");
}

TEST_CASE("a 5×2 grid keeps its labels at 9 px or more and grows instead", "[compose][svg][grid]") {
  std::vector<Eigen::MatrixXd> maps(10, Eigen::MatrixXd::Constant(20, 20, 0.05));
  attn::io::HeatmapOptions options;
  options.grid_columns = 5;
  for (int k = 0; k < 20; ++k) options.row_labels.push_back("t" + std::to_string(k));
  options.col_labels = options.row_labels;
  const std::string svg = attn::io::heatmap_grid_svg(attn::io::heatmap_panels(maps), options);
  ATTN_CHECK_WELL_FORMED(svg);
  const std::regex font_re("<g class=\"col-labels\" font-size=\"([^\"]+)\"");
  std::smatch font;
  REQUIRE(std::regex_search(svg, font, font_re));
  CHECK(std::stod(font[1]) >= 9.0);
  CHECK(group_texts(svg, "col-labels").size() == 20);  // every label shown
  const std::regex width_re("<svg [^>]*width=\"([^\"]+)\"");
  std::smatch width;
  REQUIRE(std::regex_search(svg, width, width_re));
  CHECK(std::stod(width[1]) > 720.0);

  // One map of 500 tokens still fits max_map_size, its labels thinned out at 9 px.
  attn::io::HeatmapOptions one;
  one.row_labels = std::vector<std::string>(500, "x");
  const std::string big = attn::io::heatmap_svg(Eigen::MatrixXd::Zero(500, 500), one);
  REQUIRE(std::regex_search(big, width, width_re));
  CHECK(std::stod(width[1]) < 900.0);
  CHECK(big.find("<g class=\"row-labels\" font-size=\"9\"") != std::string::npos);
}

TEST_CASE("the title is centred on the maps", "[compose][svg][title]") {
  attn::io::HeatmapOptions options;
  options.title = "T";
  options.row_labels = {"a long row label", "b"};
  const std::string svg = attn::io::heatmap_svg(Eigen::MatrixXd::Identity(2, 6), options);
  const std::regex frame_re("<rect class=\"frame\" x=\"([^\"]+)\" y=\"[^\"]+\" width=\"([^\"]+)\"");
  const std::regex title_re("class=\"title\" x=\"([^\"]+)\"");
  std::smatch frame, title;
  REQUIRE(std::regex_search(svg, frame, frame_re));
  REQUIRE(std::regex_search(svg, title, title_re));
  CHECK(std::stod(title[1]) == Approx(std::stod(frame[1]) + std::stod(frame[2]) / 2).margin(0.01));
}

}  // namespace test_compose
