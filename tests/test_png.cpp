// SPDX-License-Identifier: MIT
// Tests of attn/io/png.hpp: heatmap PNGs decoded by the test's own reader (tests/format_readers.hpp:
// chunk CRCs, zlib header, deflate blocks and Adler-32 checked), pixel colours of known cells
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
  // At 1 px a cell, a smaller cell is no advice (a user at 1 px was told to lower it).
  options.cell_size = 1;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::heatmap_png(Eigen::MatrixXd::Zero(4000, 1500), options); }) ==
        "attn::io::heatmap_png: a 4000×1500 map at 1 px per cell is 1500·1 × 4000·1 px, more than "
        "options.max_pixels (4194304); raise options.max_pixels, or draw fewer cells (a block of the map, or the "
        "map pooled: attn-plot --pool on its .npy)");
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

/// `width×height` pixels from `pick(x, y)`.
template <typename Pick>
std::vector<attn::io::Rgb> image_of(std::uint32_t width, std::uint32_t height, Pick pick) {
  std::vector<attn::io::Rgb> pixels;
  for (std::uint32_t y = 0; y < height; ++y)
    for (std::uint32_t x = 0; x < width; ++x) pixels.push_back(pick(x, y));
  return pixels;
}

/// The decoded pixels of png_rgb(width, height, pixels) equal `pixels`; returns the PNG's size.
std::size_t round_trip(std::uint32_t width, std::uint32_t height, const std::vector<attn::io::Rgb>& pixels) {
  const std::string png = attn::io::detail::png_rgb(width, height, pixels);
  const test_formats::Image image = decode_png(png);
  REQUIRE(image.width == width);
  REQUIRE(image.height == height);
  std::vector<unsigned char> expected;
  for (const attn::io::Rgb& c : pixels) expected.insert(expected.end(), {c.r, c.g, c.b});
  CHECK(image.rgb == expected);
  return png.size();
}

TEST_CASE("png: the deflate data decodes to every pixel, compressed where pixels repeat, never much larger", "[png][io]") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> few(0, 3);
  const auto rgb_of = [](int r, int g, int b) {
    return attn::io::Rgb{static_cast<std::uint8_t>(r), static_cast<std::uint8_t>(g), static_cast<std::uint8_t>(b)};
  };
  // Noise does not compress: the stored blocks are kept (a zlib stream of 5 bytes per 65535 more).
  const std::uint32_t side = 200;  // 120 601 bytes of scanlines: two stored blocks
  const std::size_t noise = round_trip(side, side, image_of(side, side, [&](std::uint32_t, std::uint32_t) {
                                         return rgb_of(byte(rng), byte(rng), byte(rng));
                                       }));
  const std::size_t raw = side * (1 + 3 * side);
  CHECK(noise <= raw + 2 * 5 + 2 + 4 + 57);  // blocks, zlib header, Adler-32, PNG signature + chunks
  // Four colours at random: literals and short matches at every distance.
  round_trip(97, 61, image_of(97, 61, [&](std::uint32_t, std::uint32_t) { return rgb_of(few(rng) * 80, 0, 0); }));
  // One pixel; one colour everywhere (matches of the longest length, 258, and the remainders).
  round_trip(1, 1, {rgb_of(1, 2, 3)});
  for (const std::uint32_t w : {1u, 2u, 85u, 86u, 87u, 300u})
    round_trip(w, 3, image_of(w, 3, [&](std::uint32_t, std::uint32_t) { return rgb_of(9, 9, 9); }));
  // A heatmap's cells (9 px squares of random colours): runs of a colour and repeated scanlines.
  const auto cells = [&](std::uint32_t width, std::uint32_t height) {
    std::vector<attn::io::Rgb> colors(static_cast<std::size_t>(width / 9 + 1) * (height / 9 + 1));
    for (attn::io::Rgb& c : colors) c = rgb_of(byte(rng), byte(rng), byte(rng));
    return image_of(width, height, [&](std::uint32_t x, std::uint32_t y) { return colors[(y / 9) * (width / 9 + 1) + x / 9]; });
  };
  const std::size_t map = round_trip(450, 450, cells(450, 450));
  CHECK(map * 30 < std::size_t(450) * (1 + 3 * 450));  // 36 times smaller when written
  // Scanlines longer than deflate's 32 KiB window: the row above is out of reach, runs are not.
  round_trip(11000, 4, cells(11000, 4));
}

TEST_CASE("heatmap_png: a map's PNG is a small part of its pixels", "[png][io]") {
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd m = attn_test::random_matrix<double>(rng, 100, 100, 0.0, 1.0);
  PngHeatmapOptions options;
  options.cell_size = 16;
  const std::string png = attn::io::heatmap_png(m, options);
  const test_formats::Image image = decode_png(png);
  REQUIRE(image.width == 1600);
  CHECK(cell_pixel(image, 99, 99, 16) == rgb(attn::io::colormap_color(Colormap::viridis, (m(99, 99) - m.minCoeff()) /
                                                                                             (m.maxCoeff() - m.minCoeff()))));
  CHECK(png.size() * 50 < image.rgb.size());  // 7.7 MB of pixels in 98 KB when written
}

TEST_CASE("format_readers: the PNG reader rejects a flipped byte", "[png][io]") {
  std::string png = attn::io::heatmap_png(Eigen::MatrixXd::Identity(2, 2));
  REQUIRE_NOTHROW(decode_png(png));
  png[png.size() / 2] = static_cast<char>(png[png.size() / 2] ^ 1);
  CHECK_THROWS_AS(decode_png(png), std::runtime_error);
}

}  // namespace test_png
