// SPDX-License-Identifier: MIT
// Tests of attn/io/animation.hpp: the page's structure (parsed by xmllint), its embedded maps
// decoded here independently (base64 + quantisation codes) and compared with the inputs within
// the documented bound, hostile titles and labels, atomic writes (planted temporary files left
// alone, a failed write leaving the last complete page), shape errors with their messages, and
// the SVG grid of chosen frames.
#include "attn/io/animation.hpp"

#include "helpers.hpp"

#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <regex>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_animation: the suite is a unity build.
namespace test_animation {

namespace fs = std::filesystem;
using attn::Index;
using attn::io::AnimationFrame;
using attn::io::AnimationOptions;
using attn::io::AnimationWriter;
using attn_test::count;
using attn_test::message_of;
using attn_test::slurp;
using attn_test::xmllint_errors;

namespace {

/// A scratch directory that also clears the write-fault hook at scope exit.
struct AnimTempDir : attn_test::TempDir {
  AnimTempDir() : attn_test::TempDir("attn_test_animation") {}
  ~AnimTempDir() { attn::io::detail::write_fault_hook() = nullptr; }
};


/// Standard base64 (RFC 4648), written here independently of the library.
std::vector<unsigned char> unbase64(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<unsigned char> out;
  unsigned bits = 0;
  int have = 0;
  for (const char c : text) {
    if (c == '=') break;
    const auto at = alphabet.find(c);
    REQUIRE(at != std::string::npos);
    bits = (bits << 6) | static_cast<unsigned>(at);
    have += 6;
    if (have >= 8) {
      have -= 8;
      out.push_back(static_cast<unsigned char>((bits >> have) & 0xFFu));
    }
  }
  return out;
}

/// The embedded maps of a page, in the order they appear (truth maps first, then frame by
/// frame), decoded: codes 0..top map linearly onto [lo, hi]; top+1 NaN, top+2 -inf, top+3 +inf.
std::vector<std::vector<double>> embedded_maps(const std::string& page, int bytes, double top) {
  std::vector<std::vector<double>> maps;
  const std::regex map_re(R"re(\{"lo":([^,]+),"hi":([^,]+),"q":"([^"]*)"\})re");
  for (auto it = std::sregex_iterator(page.begin(), page.end(), map_re); it != std::sregex_iterator(); ++it) {
    const double lo = std::stod((*it)[1]);
    const double hi = std::stod((*it)[2]);
    const std::vector<unsigned char> raw = unbase64((*it)[3]);
    std::vector<double> values;
    for (std::size_t k = 0; k + static_cast<std::size_t>(bytes) <= raw.size(); k += static_cast<std::size_t>(bytes)) {
      const unsigned code = raw[k] + (bytes == 2 ? 256u * raw[k + 1] : 0u);
      const double t = static_cast<double>(code) / top;
      if (code == static_cast<unsigned>(top) + 1) {
        values.push_back(std::numeric_limits<double>::quiet_NaN());
      } else if (code == static_cast<unsigned>(top) + 2) {
        values.push_back(-std::numeric_limits<double>::infinity());
      } else if (code == static_cast<unsigned>(top) + 3) {
        values.push_back(std::numeric_limits<double>::infinity());
      } else {
        values.push_back(lo + t * (hi - lo));
      }
    }
    maps.push_back(values);
  }
  return maps;
}

Eigen::MatrixXd ramp(Index rows, Index cols, double shift) {
  Eigen::MatrixXd m(rows, cols);
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) m(i, j) = std::sin(0.7 * static_cast<double>(i * cols + j) + shift) * 0.5 + 0.5;
  return m;
}

std::vector<AnimationFrame> three_frames() {
  std::vector<AnimationFrame> frames;
  for (int f = 0; f < 3; ++f) {
    frames.push_back({(f + 1) * 100LL, "epoch " + std::to_string(f + 1), {ramp(3, 4, f), ramp(2, 5, 10.0 + f)}});
  }
  return frames;
}

}  // namespace

TEST_CASE("animation: the page holds every frame, title and step, and parses as XML", "[io][animation]") {
  const std::vector<AnimationFrame> frames = three_frames();
  const std::vector<Eigen::MatrixXd> truth{Eigen::MatrixXd::Identity(3, 4), Eigen::MatrixXd::Zero(2, 5)};
  AnimationOptions options;
  options.title = "Training";
  const std::string page = attn::io::animation_html(frames, truth, options);
  const std::string complaint = xmllint_errors(page);
  INFO(complaint);
  CHECK(complaint.empty());
  CHECK(page.find("<title>Training</title>") != std::string::npos);
  CHECK(page.find("<ol id=\"attn-frame-titles\"><li>epoch 1</li><li>epoch 2</li><li>epoch 3</li></ol>") !=
        std::string::npos);
  CHECK(page.find("<ol id=\"attn-frame-steps\"><li>step 100</li><li>step 200</li><li>step 300</li></ol>") !=
        std::string::npos);
  CHECK(page.find("<ol id=\"attn-sample-titles\"><li>sample 0</li><li>sample 1</li></ol>") != std::string::npos);
  CHECK(page.find("id=\"attn-slider\" type=\"range\" min=\"0\" max=\"2\" step=\"1\" value=\"2\"") != std::string::npos);
  // Self-contained: no URL, no external script or style.
  CHECK(page.find("http://www.w3.org/1999/xhtml") != std::string::npos);
  CHECK(count(page, "http") == 1);
  CHECK(page.find("src=") == std::string::npos);
  CHECK(page.find("href=") == std::string::npos);

  // 2 truth maps and 3 frames × 2 samples, each within (hi - lo) / 131064 of its input.
  const std::vector<std::vector<double>> maps = embedded_maps(page, 2, 65532.0);
  REQUIRE(maps.size() == 2 + 6);
  const auto check_map = [](const std::vector<double>& got, const Eigen::MatrixXd& want) {
    REQUIRE(static_cast<Index>(got.size()) == want.size());
    const double bound = (want.maxCoeff() - want.minCoeff()) / 131064.0 * (1 + 1e-9) + 1e-15;
    for (Index i = 0; i < want.rows(); ++i)
      for (Index j = 0; j < want.cols(); ++j) CHECK(std::abs(got[static_cast<std::size_t>(i * want.cols() + j)] - want(i, j)) <= bound);
  };
  check_map(maps[0], truth[0]);
  check_map(maps[1], truth[1]);
  for (std::size_t f = 0; f < 3; ++f)
    for (std::size_t k = 0; k < 2; ++k) check_map(maps[2 + 2 * f + k], frames[f].maps[k]);

  // uint8: half the bytes, within (hi - lo) / 504; non-finite values have codes of their own.
  AnimationOptions small;
  small.precision = attn::io::AnimationPrecision::uint8;
  Eigen::MatrixXd odd = ramp(2, 3, 0.0);
  odd(0, 0) = std::numeric_limits<double>::quiet_NaN();
  odd(0, 1) = -std::numeric_limits<double>::infinity();
  odd(0, 2) = std::numeric_limits<double>::infinity();
  const std::vector<std::vector<double>> coarse =
      embedded_maps(attn::io::animation_html({{7, "", {odd}}}, {}, small), 1, 252.0);
  REQUIRE(coarse.size() == 1);
  REQUIRE(coarse[0].size() == 6);
  CHECK(std::isnan(coarse[0][0]));
  CHECK(coarse[0][1] == -std::numeric_limits<double>::infinity());
  CHECK(coarse[0][2] == std::numeric_limits<double>::infinity());
  const double lo = odd.bottomRows(1).minCoeff();
  const double hi = odd.bottomRows(1).maxCoeff();
  for (Index j = 0; j < 3; ++j) CHECK(std::abs(coarse[0][static_cast<std::size_t>(3 + j)] - odd(1, j)) <= (hi - lo) / 504.0 * (1 + 1e-9));
  // A frame without a title is called by its step.
  CHECK(attn::io::animation_html({{7, "", {odd}}}).find("<li>step 7</li>") != std::string::npos);
  // The page flags a NaN in any map or truth, for its legend's NaN swatch; ±inf is no NaN.
  CHECK(attn::io::animation_html({{7, "", {odd}}}).find("\"any_nan\":true") != std::string::npos);
  Eigen::MatrixXd infinite = ramp(2, 3, 0.0);
  infinite(0, 0) = std::numeric_limits<double>::infinity();
  CHECK(attn::io::animation_html({{7, "", {infinite}}}).find("\"any_nan\":false") != std::string::npos);
  CHECK(attn::io::animation_html({{7, "", {infinite}}}, {odd}).find("\"any_nan\":true") != std::string::npos);
}

TEST_CASE("animation: the colour table is the colour map's and the scale spans every frame and truth", "[io][animation]") {
  const std::string page = attn::io::animation_html({{1, "a", {Eigen::MatrixXd::Constant(2, 2, 0.25)}},
                                                     {2, "b", {Eigen::MatrixXd::Constant(2, 2, 0.5)}}},
                                                    {Eigen::MatrixXd::Constant(2, 2, 2.0)});
  CHECK(page.find("\"vmin\":0.25,\"vmax\":2,") != std::string::npos);
  std::smatch lut;
  REQUIRE(std::regex_search(page, lut, std::regex("\"lut\":\"([^\"]*)\"")));
  const std::vector<unsigned char> rgb = unbase64(lut[1]);
  REQUIRE(rgb.size() == 768);
  // matplotlib's viridis: entry 0 is (0.267004, 0.004874, 0.329415), entry 255 (0.993248, 0.906157, 0.143936).
  CHECK(std::vector<int>{rgb[0], rgb[1], rgb[2]} == std::vector<int>{68, 1, 84});
  CHECK(std::vector<int>{rgb[765], rgb[766], rgb[767]} == std::vector<int>{253, 231, 37});
  AnimationOptions greys;
  greys.colormap = attn::io::Colormap::greys;
  greys.reverse_colormap = true;  // reversed greys: black at the low end
  greys.vmin = 0;
  greys.vmax = 4;
  const std::string dark = attn::io::animation_html({{1, "a", {Eigen::MatrixXd::Constant(2, 2, 0.25)}}}, {}, greys);
  REQUIRE(std::regex_search(dark, lut, std::regex("\"lut\":\"([^\"]*)\"")));
  const std::vector<unsigned char> grey = unbase64(lut[1]);
  CHECK(std::vector<int>{grey[0], grey[1], grey[2]} == std::vector<int>{0, 0, 0});
  CHECK(std::vector<int>{grey[765], grey[766], grey[767]} == std::vector<int>{255, 255, 255});
  CHECK(dark.find("\"vmin\":0,\"vmax\":4,") != std::string::npos);
  CHECK(dark.find("<ol id=\"attn-tick-labels\"><li>0</li><li>1</li><li>2</li><li>3</li><li>4</li></ol>") !=
        std::string::npos);
  CHECK(dark.find("\"ticks\":[0,1,2,3,4],\"tick_ends\":[false,false,false,false,false]") != std::string::npos);
  // An end of the scale that no nice tick is near is labelled, as on the SVG colour bar:
  // weights from 0.00197 to 0.408 read "0.00197" at the legend's foot, not an unlabelled stretch.
  Eigen::MatrixXd spread(1, 2);
  spread << 0.00197, 0.408;
  const std::string ends = attn::io::animation_html({{1, "a", {spread}}});
  CHECK(ends.find("<ol id=\"attn-tick-labels\"><li>0.00197</li><li>0.1</li><li>0.2</li><li>0.3</li><li>0.4</li></ol>") !=
        std::string::npos);
  CHECK(std::regex_search(ends, std::regex("\"ticks\":\\[0\\.00197(,[0-9.]+){4}\\],\"tick_ends\":\\[true,false,false,false,false\\]")));
}

TEST_CASE("animation: hostile titles and labels are escaped", "[io][animation]") {
  AnimationOptions options;
  options.title = "</script><script>alert(1)</script>";
  options.sample_titles = {"\"quoted\" & 'single'", std::string("bad \xff\xfe utf8 \xc3")};
  options.row_labels = {"</script>", "\xE2\x80\xAE" "evil", "]]>"};  // U+202E RIGHT-TO-LEFT OVERRIDE, unclosed
  options.col_labels = {"<b>", "a\nb", "c", "d"};
  options.truth_title = "<!-- truth -->";
  options.colorbar_label = "</style>";
  std::vector<AnimationFrame> frames = three_frames();
  frames[1].title = "</script>\xE2\x80\xAE" "epoch";
  const std::string page = attn::io::animation_html(frames, {}, options);
  const std::string complaint = xmllint_errors(page);
  INFO(complaint);
  CHECK(complaint.empty());
  CHECK(count(page, "</script>") == 2);  // only the two script elements' own end tags
  CHECK(count(page, "<script") == 2);
  CHECK(count(page, "</style>") == 1);
  CHECK(count(page, "]]>") == 1);        // the script's own CDATA end
  CHECK(page.find("<!-- truth") == std::string::npos);
  CHECK(page.find("\xff") == std::string::npos);
  CHECK(page.find("<li>&lt;/script&gt;&lt;script&gt;") == std::string::npos);  // the title is not a list item
  CHECK(page.find("<title>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>") != std::string::npos);
  CHECK(page.find("<li>&quot;quoted&quot; &amp; &#39;single&#39;</li>") != std::string::npos);
  CHECK(page.find("<li>bad \xEF\xBF\xBD\xEF\xBF\xBD utf8 \xEF\xBF\xBD</li>") != std::string::npos);
  // The override is closed (U+202C) inside its own item, so it cannot reorder what follows.
  CHECK(page.find("<li>\xE2\x80\xAE" "evil\xE2\x80\xAC</li>") != std::string::npos);
  CHECK(page.find("<li>&lt;/script&gt;\xE2\x80\xAE" "epoch\xE2\x80\xAC</li>") != std::string::npos);
}

TEST_CASE("AnimationWriter: atomic writes, planted files left alone, the last complete page kept", "[io][animation]") {
  AnimTempDir tmp;
  const fs::path path = tmp.path / "training.html";
  AnimationOptions options;
  options.write_each_frame = true;
  AnimationWriter anim(path, options);
  anim.set_truth(Eigen::MatrixXf::Identity(3, 3));  // float input is converted
  // A file planted at the temporary name the writer picks is not touched: another name is used.
  std::vector<fs::path> planted;
  attn::io::detail::write_fault_hook() = [&](attn::io::detail::WriteStep step, const fs::path& temporary) {
    if (step == attn::io::detail::WriteStep::open && planted.empty()) {
      planted.push_back(temporary);
      std::ofstream(temporary, std::ios::binary) << "keep me";
    }
    return 0;
  };
  anim.add_frame(1, "epoch 1", Eigen::MatrixXf::Constant(3, 3, 0.5f));
  REQUIRE(planted.size() == 1);
  CHECK(slurp(planted[0]) == "keep me");
  const std::string one = slurp(path);
  CHECK(one == anim.html());
  anim.add_frame(2, "epoch 2", Eigen::MatrixXf(Eigen::MatrixXf::Identity(3, 3)));
  const std::string two = slurp(path);
  CHECK(two == anim.html());
  CHECK(two.find("<li>epoch 2</li>") != std::string::npos);
  CHECK(tmp.files() == 2);  // the page and the planted file, no temporary left

  // A crash in the middle of writing the third page leaves the second one whole.
  attn::io::detail::write_fault_hook() = [](attn::io::detail::WriteStep step, const fs::path&) {
    return step == attn::io::detail::WriteStep::write ? EIO : 0;
  };
  const std::string what = message_of<std::runtime_error>([&] { anim.add_frame(3, "epoch 3", Eigen::MatrixXd::Zero(3, 3)); });
  CHECK_THAT(what, Catch::StartsWith("attn::io::AnimationWriter::write: cannot write '" + path.string() + "'"));
  CHECK(slurp(path) == two);
  CHECK(tmp.files() == 2);
  attn::io::detail::write_fault_hook() = nullptr;
  CHECK(anim.frames().size() == 3);  // the frame was added; the next write has it
  anim.write();
  CHECK(slurp(path).find("<li>epoch 3</li>") != std::string::npos);

  // Only a regular file is replaced; a bad argument throws before the file system is touched.
  fs::create_directories(tmp.path / "dir.html");
  AnimationWriter into_dir(tmp.path / "dir.html");
  into_dir.add_frame(1, "x", Eigen::MatrixXd::Zero(2, 2));
  CHECK_THAT(message_of<std::runtime_error>([&] { into_dir.write(); }),
             Catch::EndsWith("it is a directory, and only a regular file is replaced"));
  CHECK(fs::is_directory(tmp.path / "dir.html"));
  AnimationWriter never(tmp.path / "never.html");
  CHECK(message_of<attn::invalid_argument>([&] { never.write(); }) ==
        "attn::io::AnimationWriter::write: there is no frame to show (add one first)");
  CHECK_FALSE(fs::exists(tmp.path / "never.html"));
  attn::io::write_animation_html(tmp.path / "free.html", anim.frames(), anim.truth());
  CHECK(slurp(tmp.path / "free.html") == anim.html());
}

TEST_CASE("animation: bad shapes and options give clear errors", "[io][animation]") {
  AnimationWriter anim("unused.html");
  anim.add_frame(1, "a", std::vector<Eigen::MatrixXd>{Eigen::MatrixXd::Zero(3, 4), Eigen::MatrixXd::Zero(2, 2)});
  CHECK(message_of<attn::invalid_argument>([&] {
          anim.add_frame(2, "b", std::vector<Eigen::MatrixXd>{Eigen::MatrixXd::Zero(3, 4), Eigen::MatrixXd::Zero(2, 3)});
        }) == "attn::io::AnimationWriter::add_frame: the frame.maps[1] is 2x3 but sample 1 of the first frame is 2x2");
  CHECK(message_of<attn::invalid_argument>([&] { anim.add_frame(2, "b", Eigen::MatrixXd::Zero(3, 4)); }) ==
        "attn::io::AnimationWriter::add_frame: the frame has 1 maps but the first frame has 2 (one per sample)");
  CHECK(message_of<attn::invalid_argument>([&] { anim.add_frame(2, "b", std::vector<Eigen::MatrixXd>{}); }) ==
        "attn::io::AnimationWriter::add_frame: the frame.maps must hold at least one map (one per sample)");
  CHECK(anim.frames().size() == 1);  // rejected frames are not added
  CHECK(message_of<attn::invalid_argument>([&] {
          anim.set_truth(std::vector<Eigen::MatrixXd>{Eigen::MatrixXd::Zero(3, 4), Eigen::MatrixXd::Zero(2, 1)});
        }) == "attn::io::AnimationWriter::set_truth: truth[1] is 2x1 but sample 1's maps are 2x2");
  CHECK(message_of<attn::invalid_argument>([&] { anim.set_truth(Eigen::MatrixXd::Zero(3, 4)); }) ==
        "attn::io::AnimationWriter::set_truth: truth has 1 maps but the frames have 2 samples (one truth map per "
        "sample, or none)");
  CHECK(anim.truth().empty());

  AnimationWriter truth_first("unused.html");
  truth_first.set_truth(Eigen::MatrixXd::Zero(2, 2));
  CHECK(message_of<attn::invalid_argument>([&] { truth_first.add_frame(1, "a", Eigen::MatrixXd::Zero(2, 3)); }) ==
        "attn::io::AnimationWriter::add_frame: truth[0] is 2x2 but sample 0's maps are 2x3");

  const std::vector<AnimationFrame> frames = three_frames();
  AnimationOptions bad;
  bad.cell_size = 65;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::animation_html(frames, {}, bad); }) ==
        "attn::io::animation_html: options.cell_size (65) must be in [0, 64]");
  bad = {};
  bad.frame_ms = 0;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::animation_html(frames, {}, bad); }) ==
        "attn::io::animation_html: options.frame_ms (0) must be in [20, 60000]");
  bad = {};
  bad.vmin = 1;
  bad.vmax = 1;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::animation_html(frames, {}, bad); }) ==
        "attn::io::animation_html: options.vmin (1) must be less than options.vmax (1)");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::animation_html({}); }) ==
        "attn::io::animation_html: there is no frame to show (add one first)");
  // Labels that fit no sample are refused (a user's were dropped without a word).
  bad = {};
  bad.row_labels = {"a", "b", "c", "d", "e"};
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::animation_html(frames, {}, bad); }) ==
        "attn::io::animation_html: options.row_labels has 5 labels but no sample's maps have that many rows "
        "(labels go on the samples they fit)");
  bad = {};
  bad.col_labels = {"a"};
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::animation_grid_svg(frames, {}, {0}, bad); }) ==
        "attn::io::animation_grid_svg: options.col_labels has 1 labels but no sample's maps have that many columns "
        "(labels go on the samples they fit)");
  bad.col_labels = {"a", "b", "c", "d"};
  CHECK_NOTHROW(attn::io::animation_html(frames, {}, bad));
  // A writer checks them on its first frame, before the training run goes on.
  bad.col_labels = {"a"};
  AnimationWriter labelled("unused.html", bad);
  CHECK(message_of<attn::invalid_argument>([&] { labelled.add_frame(1, "a", frames[0].maps); }) ==
        "attn::io::AnimationWriter::add_frame: options.col_labels has 1 labels but no sample's maps have that many "
        "columns (labels go on the samples they fit)");
  CHECK(labelled.frames().empty());
  bad = {};
  bad.vmin = 1;
  bad.vmax = 1;
  // A writer checks its options and the page's directory when made, not at the end of training.
  CHECK(message_of<attn::invalid_argument>([&] { AnimationWriter early("unused.html", bad); }) ==
        "attn::io::AnimationWriter: options.vmin (1) must be less than options.vmax (1)");
  bad = {};
  bad.frame_ms = 10;
  CHECK(message_of<attn::invalid_argument>([&] { AnimationWriter early("unused.html", bad); }) ==
        "attn::io::AnimationWriter: options.frame_ms (10) must be in [20, 60000]");
  bad = {};
  bad.vmax = std::numeric_limits<double>::infinity();
  CHECK(message_of<attn::invalid_argument>([&] { AnimationWriter early("unused.html", bad); }) ==
        "attn::io::AnimationWriter: options.vmax (inf) must be finite");
  AnimTempDir tmp;
  CHECK(message_of<std::runtime_error>([&] { AnimationWriter early(tmp.path / "no_such_dir" / "page.html"); }) ==
        "attn::io::AnimationWriter: the directory '" + (tmp.path / "no_such_dir").string() + "' of '" +
            (tmp.path / "no_such_dir" / "page.html").string() + "' does not exist (create it first)");
  CHECK(tmp.files() == 0);
  std::vector<AnimationFrame> mixed = frames;
  mixed[2].maps[0] = Eigen::MatrixXd::Zero(4, 3);
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::animation_html(mixed); }) ==
        "attn::io::animation_html: frames[2].maps[0] is 4x3 but sample 0 of the first frame is 3x4");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::animation_grid_svg(frames, {}, {0, 3}); }) ==
        "attn::io::animation_grid_svg: frames_shown[1] (3) is out of range: there are 3 frames");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::animation_grid_svg(frames, {}, {}); }) ==
        "attn::io::animation_grid_svg: frames_shown must name at least one frame");
}

TEST_CASE("animation: the SVG grid has one row per sample, the chosen frames and the truth", "[io][animation]") {
  const std::vector<AnimationFrame> frames = three_frames();
  const std::vector<Eigen::MatrixXd> truth{Eigen::MatrixXd::Constant(3, 4, 3.0), Eigen::MatrixXd::Zero(2, 5)};
  AnimationOptions options;
  options.title = "Grid <&>";
  options.sample_titles = {"first", "second"};
  const std::string svg = attn::io::animation_grid_svg(frames, truth, {2, 0}, options);
  const std::string complaint = xmllint_errors(svg);
  INFO(complaint);
  CHECK(complaint.empty());
  CHECK(count(svg, "<g class=\"panel\">") == 6);
  const std::vector<std::string> titles{"first: epoch 3", "first: epoch 1", "first: truth",
                                        "second: epoch 3", "second: epoch 1", "second: truth"};
  std::size_t at = 0;
  for (const std::string& title : titles) {  // in reading order: row by row
    const std::size_t found = svg.find(">" + title + "</text>", at);
    CHECK(found != std::string::npos);
    at = found == std::string::npos ? at : found;
  }
  // The scale is the page's: over every frame (frame 1 included, though not shown) and the truth.
  double lo = truth[1].minCoeff();
  for (const AnimationFrame& f : frames)
    for (const Eigen::MatrixXd& m : f.maps) lo = std::min(lo, m.minCoeff());
  CHECK(svg.find("scale [" + attn::io::detail::format_number(lo, -1) + ", 3]") != std::string::npos);
  CHECK(svg.find("Grid &lt;&amp;&gt;") != std::string::npos);
  // Long titles get cells wide enough to fit over their maps (neighbours do not overlap).
  AnimationOptions wordy;
  wordy.sample_titles = {"a long sample title", "b"};
  const std::string wide = attn::io::animation_grid_svg(frames, {}, {0}, wordy);
  std::smatch frame;
  REQUIRE(std::regex_search(wide, frame, std::regex("<rect class=\"frame\" x=\"[^\"]+\" y=\"[^\"]+\" width=\"([^\"]+)\"")));
  CHECK(std::stod(frame[1]) >= 0.6 * 12 * 1.1 * static_cast<double>(std::string("a long sample title: epoch 1").size()));
  // One sample: titles without the sample's name; no truth: no truth column.
  const std::string single = attn::io::animation_grid_svg({{5, "epoch 5", {ramp(2, 2, 0)}}}, {}, {0});
  CHECK(count(single, "<g class=\"panel\">") == 1);
  CHECK(single.find(">epoch 5</text>") != std::string::npos);

  AnimTempDir tmp;
  AnimationWriter anim(tmp.path / "page.html");
  for (const AnimationFrame& f : frames) anim.add_frame(f.step, f.title, f.maps);
  anim.write_grid_svg(tmp.path / "grid.svg", {0, 1});
  CHECK(slurp(tmp.path / "grid.svg") == anim.grid_svg({0, 1}));
  CHECK(slurp(tmp.path / "grid.svg") == attn::io::animation_grid_svg(frames, {}, {0, 1}));
  CHECK(tmp.files() == 1);
}

TEST_CASE("animation: wide maps go one under another in the SVG grid", "[io][animation]") {
  // Wide maps (1×T: a many-to-one layer's weights) side by side were strips a few pixels high: a column
  // per sample, a row per frame, the truth last.
  const auto row = [](Index n, double shift) {
    Eigen::MatrixXd m(1, n);
    for (Index j = 0; j < n; ++j) m(0, j) = std::fmod(static_cast<double>(j) * 0.37 + shift, 1.0);
    return m;
  };
  const std::vector<AnimationFrame> two{{1, "epoch 1", {row(6, 0.0), row(6, 0.5)}}, {2, "epoch 2", {row(6, 0.2), row(6, 0.7)}}};
  const std::vector<Eigen::MatrixXd> truth{row(6, 0.1), row(6, 0.3)};
  AnimationOptions options;
  options.sample_titles = {"first", "second"};
  const std::string svg = attn::io::animation_grid_svg(two, truth, {0, 1}, options);
  CHECK(xmllint_errors(svg).empty());
  std::size_t at = 0;
  for (const std::string title : {"first: epoch 1", "second: epoch 1", "first: epoch 2", "second: epoch 2",
                                  "first: truth", "second: truth"}) {  // in reading order: row by row
    const std::size_t found = svg.find(">" + title + "</text>", at);
    INFO(title);
    CHECK(found != std::string::npos);
    at = found == std::string::npos ? at : found;
  }
  // One sample of 1×50 maps, three frames and the truth: cells of 720 / 50 px, not 720 / 200.
  const std::vector<AnimationFrame> three{{1, "epoch 1", {row(50, 0.0)}}, {2, "epoch 2", {row(50, 0.4)}},
                                          {3, "epoch 3", {row(50, 0.8)}}};
  const std::string strips = attn::io::animation_grid_svg(three, {row(50, 0.2)}, {0, 1, 2});
  std::smatch frame;
  REQUIRE(std::regex_search(strips, frame, std::regex("<rect class=\"frame\" x=\"[^\"]+\" y=\"[^\"]+\" width=\"([^\"]+)\" height=\"([^\"]+)\"")));
  CHECK(std::stod(frame[1]) >= 50 * 14.0);
  CHECK(std::stod(frame[2]) >= 14.0);
  // A 2×8 map is wide too; a 3×4 map keeps a row per sample (the test above).
  const std::vector<AnimationFrame> two_rows{{1, "epoch 1", {Eigen::MatrixXd::Constant(2, 8, 0.5)}},
                                             {2, "epoch 2", {Eigen::MatrixXd::Constant(2, 8, 0.25)}}};
  const std::string stacked = attn::io::animation_grid_svg(two_rows, {}, {0, 1});
  REQUIRE(std::regex_search(stacked, frame, std::regex("<rect class=\"frame\" x=\"([^\"]+)\"")));
  const std::string first_x = frame[1];
  const std::string after = frame.suffix();
  REQUIRE(std::regex_search(after, frame, std::regex("<rect class=\"frame\" x=\"([^\"]+)\"")));
  CHECK(frame[1] == first_x);  // the second frame's map under the first one, at the same x
}

TEST_CASE("animation page: the truth goes under wide maps by default, beside others", "[io][animation]") {
  // A keras-attention 1×20 row beside its truth made a page about 1000 px wide, cut off with a
  // scroll bar: PairLayout::automatic (the default) puts it under; set layouts are kept.
  const std::vector<AnimationFrame> strips{{1, "epoch 1", {Eigen::MatrixXd::Constant(1, 20, 0.05)}}};
  const std::vector<AnimationFrame> squares{{1, "epoch 1", {Eigen::MatrixXd::Constant(3, 3, 0.5)}}};
  const std::vector<Eigen::MatrixXd> strip_truth{Eigen::MatrixXd::Constant(1, 20, 0.05)};
  const std::vector<Eigen::MatrixXd> square_truth{Eigen::MatrixXd::Constant(3, 3, 0.5)};
  AnimationOptions beside;
  beside.truth_layout = attn::io::PairLayout::beside;
  CHECK(attn::io::animation_html(strips, strip_truth).find("\"under\":true") != std::string::npos);
  CHECK(attn::io::animation_html(strips, strip_truth, beside).find("\"under\":false") != std::string::npos);
  CHECK(attn::io::animation_html(squares, square_truth).find("\"under\":false") != std::string::npos);
}

TEST_CASE("animation: frames are found by their epoch or step for the SVG grid", "[io][animation]") {
  // Epochs 1, 2, 5, 10 at positions 0 to 3: the grid of epochs 10 and 1 is the grid at 3 and 0.
  std::vector<AnimationFrame> frames;
  for (const long long epoch : {1, 2, 5, 10}) {
    frames.push_back({epoch, "epoch " + std::to_string(epoch), {ramp(2, 3, static_cast<double>(epoch))}});
  }
  CHECK(attn::io::animation_frame_positions(frames, {10, 1}) == std::vector<std::size_t>{3, 0});
  CHECK(attn::io::animation_frame_positions(frames, {5}) == std::vector<std::size_t>{2});

  AnimTempDir tmp;
  AnimationWriter anim(tmp.path / "page.html");
  for (const AnimationFrame& f : frames) anim.add_frame(f.step, f.title, f.maps);
  CHECK(anim.frame_positions({2, 10, 2}) == std::vector<std::size_t>{1, 3, 1});
  anim.write_grid_svg(tmp.path / "grid.svg", anim.frame_positions({10, 1}));
  const std::string svg = slurp(tmp.path / "grid.svg");
  CHECK(svg == attn::io::animation_grid_svg(frames, {}, {3, 0}));
  CHECK(svg.find(">epoch 10</text>") < svg.find(">epoch 1</text>"));

  const auto error = [&](const std::vector<AnimationFrame>& f, const std::vector<long long>& steps) {
    return message_of<attn::invalid_argument>([&] { attn::io::animation_frame_positions(f, steps); });
  };
  CHECK(error(frames, {1, 3}) ==
        "attn::io::animation_frame_positions: no frame is of step 3 (the frames' steps: 1, 2, 5, 10)");
  CHECK(error({}, {1}) == "attn::io::animation_frame_positions: no frame is of step 1 (there is no frame)");
  CHECK(error(frames, {}) == "attn::io::animation_frame_positions: no step given (name at least one)");
  // A step that two frames have (a resumed run that logged epoch 5 again) is ambiguous.
  frames.push_back({5, "epoch 5 again", {ramp(2, 3, 0)}});
  CHECK(error(frames, {5}) ==
        "attn::io::animation_frame_positions: 2 frames are of step 5 (positions 2 and 4); pass positions to choose one");
  frames.push_back({5, "epoch 5 once more", {ramp(2, 3, 1)}});
  CHECK(error(frames, {1, 5}) ==
        "attn::io::animation_frame_positions: 3 frames are of step 5 (positions 2, 4 and 5); pass positions to choose one");
  CHECK(message_of<attn::invalid_argument>([&] { (void)anim.frame_positions({7}); }) ==
        "attn::io::animation_frame_positions: no frame is of step 7 (the frames' steps: 1, 2, 5, 10)");
}

}  // namespace test_animation
