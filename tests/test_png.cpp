// SPDX-License-Identifier: MIT
// Tests of attn/io/png.hpp: heatmap PNGs decoded by the test's own reader (tests/format_readers.hpp:
// chunk CRCs, zlib header, stored blocks and Adler-32 checked), pixel colours of known cells
// against viridis' published end colours and the colour map, the pixel size rules and the errors.
#include "attn/io/png.hpp"

#include "format_readers.hpp"
#include "helpers.hpp"

#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_png: the suite is a unity build.
namespace test_png {

namespace fs = std::filesystem;
using attn::Index;
using attn::io::Colormap;
using attn::io::PngHeatmapOptions;
using attn_test::message_of;
using test_formats::decode_png;

std::vector<int> rgb(attn::io::Rgb c) { return {c.r, c.g, c.b}; }

/// The colour of the centre pixel of cell (i, j) of a map drawn with `cell` px cells.
std::vector<int> cell_pixel(const test_formats::Image& image, Index i, Index j, Index cell) {
  return image.pixel(static_cast<std::uint32_t>(j * cell + cell / 2), static_cast<std::uint32_t>(i * cell + cell / 2));
}

TEST_CASE("heatmap_png: cells take the colour map's colours, rows top to bottom, columns left to right", "[png][io]") {
  Eigen::MatrixXd m(2, 3);
  m << 0.0, 0.5, 1.0,
       0.25, std::nan(""), 2.0;  // 2 lies above vmax: the top colour
  PngHeatmapOptions options;
  options.vmin = 0.0;
  options.vmax = 1.0;
  options.cell_size = 5;
  const test_formats::Image image = decode_png(attn::io::heatmap_png(m, options));
  REQUIRE(image.width == 15);
  REQUIRE(image.height == 10);
  // matplotlib's viridis ends: #440154 and #fde725; NaN is light grey #d9d9d9.
  CHECK(cell_pixel(image, 0, 0, 5) == std::vector<int>{0x44, 0x01, 0x54});
  CHECK(cell_pixel(image, 0, 2, 5) == std::vector<int>{0xfd, 0xe7, 0x25});
  CHECK(cell_pixel(image, 1, 2, 5) == std::vector<int>{0xfd, 0xe7, 0x25});
  CHECK(cell_pixel(image, 1, 1, 5) == std::vector<int>{0xd9, 0xd9, 0xd9});
  CHECK(cell_pixel(image, 0, 1, 5) == rgb(attn::io::colormap_color(Colormap::viridis, 0.5)));
  CHECK(cell_pixel(image, 1, 0, 5) == rgb(attn::io::colormap_color(Colormap::viridis, 0.25)));
  // Every pixel of a cell has the cell's colour: the first and last pixel of cell (0, 1).
  CHECK(image.pixel(5, 0) == cell_pixel(image, 0, 1, 5));
  CHECK(image.pixel(9, 4) == cell_pixel(image, 0, 1, 5));
  CHECK(image.pixel(4, 4) == cell_pixel(image, 0, 0, 5));
  CHECK(image.pixel(10, 5) == cell_pixel(image, 1, 2, 5));
}

TEST_CASE("heatmap_png: the scale defaults to the map's range, greys and reversed maps", "[png][io]") {
  Eigen::MatrixXf m(1, 2);
  m << 3.0f, 7.0f;
  PngHeatmapOptions options;
  options.cell_size = 2;
  test_formats::Image image = decode_png(attn::io::heatmap_png(m, options));
  CHECK(cell_pixel(image, 0, 0, 2) == std::vector<int>{0x44, 0x01, 0x54});
  CHECK(cell_pixel(image, 0, 1, 2) == std::vector<int>{0xfd, 0xe7, 0x25});
  options.colormap = Colormap::greys;
  image = decode_png(attn::io::heatmap_png(m, options));
  CHECK(cell_pixel(image, 0, 0, 2) == std::vector<int>{255, 255, 255});
  CHECK(cell_pixel(image, 0, 1, 2) == std::vector<int>{0, 0, 0});
  options.reverse_colormap = true;
  image = decode_png(attn::io::heatmap_png(m, options));
  CHECK(cell_pixel(image, 0, 0, 2) == std::vector<int>{0, 0, 0});
}

TEST_CASE("heatmap_png: automatic cell size makes small maps readable and leaves big ones at 1 px", "[png][io]") {
  const auto size = [](Index rows, Index cols, PngHeatmapOptions options = {}) {
    const test_formats::Image image = decode_png(attn::io::heatmap_png(Eigen::MatrixXd::Zero(rows, cols), options));
    return std::vector<Index>{static_cast<Index>(image.width), static_cast<Index>(image.height)};
  };
  CHECK(size(20, 20) == std::vector<Index>{260, 260});  // 13 px cells
  CHECK(size(1, 1) == std::vector<Index>{256, 256});
  CHECK(size(4, 30) == std::vector<Index>{270, 36});    // 9 px: the longer side decides
  CHECK(size(300, 2) == std::vector<Index>{2, 300});
  PngHeatmapOptions options;
  options.min_image_size = 0;
  CHECK(size(3, 2, options) == std::vector<Index>{2, 3});
  options.cell_size = 7;
  CHECK(size(3, 2, options) == std::vector<Index>{14, 21});
}

TEST_CASE("heatmap_png: errors name the function, the option and the sizes", "[png][io][errors]") {
  PngHeatmapOptions options;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::heatmap_png(Eigen::MatrixXd(0, 3), options); }) ==
        "attn::io::heatmap_png: the map is 0×3; a PNG needs at least one row and one column");
  options.cell_size = -1;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::heatmap_png(Eigen::MatrixXd::Zero(2, 2), options); }) ==
        "attn::io::heatmap_png: options.cell_size (-1) must be >= 0 (0: automatic)");
  options.cell_size = 0;
  options.min_image_size = -5;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::heatmap_png(Eigen::MatrixXd::Zero(2, 2), options); }) ==
        "attn::io::heatmap_png: options.min_image_size (-5) must be >= 0");
  options.min_image_size = 256;
  options.max_pixels = 0;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::heatmap_png(Eigen::MatrixXd::Zero(2, 2), options); }) ==
        "attn::io::heatmap_png: options.max_pixels (0) must be > 0");
  options = {};
  options.cell_size = 2;
  // The size check comes before any pixel is made (the expression is never evaluated).
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::heatmap_png(Eigen::MatrixXd::Zero(2000, 1500), options); }) ==
        "attn::io::heatmap_png: a 2000×1500 map at 2 px per cell is 1500·2 × 2000·2 px, more than "
        "options.max_pixels (4194304); lower options.cell_size or raise options.max_pixels");
  options.cell_size = std::numeric_limits<Index>::max() / 2;  // no overflow on the way
  CHECK_THROWS_AS(attn::io::heatmap_png(Eigen::MatrixXd::Zero(3, 3), options), attn::invalid_argument);
  options = {};
  options.vmin = 1.0;
  options.vmax = 1.0;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::heatmap_png(Eigen::MatrixXd::Zero(2, 2), options); }) ==
        "attn::io::heatmap_png: options.vmin (1) must be less than options.vmax (1)");
}

TEST_CASE("write_heatmap_png: stream and path forms write the bytes of heatmap_png", "[png][io]") {
  const Eigen::MatrixXd m = Eigen::MatrixXd::Random(3, 4);
  const std::string expected = attn::io::heatmap_png(m);
  std::ostringstream os;
  attn::io::write_heatmap_png(os, m);
  CHECK(os.str() == expected);

  const fs::path dir = fs::temp_directory_path() / ("attn_test_png_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  attn::io::write_heatmap_png(dir / "map.png", m);
  std::ifstream in(dir / "map.png", std::ios::binary);
  CHECK(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()) == expected);
  const std::string message = message_of<std::runtime_error>(
      [&] { attn::io::write_heatmap_png(dir / "missing" / "map.png", m); });
  CHECK(message.find("attn::io::write_heatmap_png: cannot write '" + (dir / "missing" / "map.png").string()) == 0);
  CHECK(message.find("No such file or directory") != std::string::npos);
  std::error_code ignored;
  fs::remove_all(dir, ignored);

  std::ostringstream bad;
  bad.setstate(std::ios::badbit);
  CHECK(message_of<std::runtime_error>([&] { attn::io::write_heatmap_png(bad, m); }) ==
        "attn::io::write_heatmap_png: the output stream is not in a good state");
}

TEST_CASE("format_readers: the PNG reader rejects a flipped byte", "[png][io]") {
  std::string png = attn::io::heatmap_png(Eigen::MatrixXd::Identity(2, 2));
  REQUIRE_NOTHROW(decode_png(png));
  png[png.size() / 2] = static_cast<char>(png[png.size() / 2] ^ 1);
  CHECK_THROWS_AS(decode_png(png), std::runtime_error);
}

}  // namespace test_png
