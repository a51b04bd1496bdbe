// SPDX-License-Identifier: MIT
// PNG heatmaps of attention weights: a `rows×cols` map (rows = queries, top to bottom; columns =
// keys, left to right) as a colour-mapped 8-bit RGB image, each cell an integer-sized square of
// pixels, for image viewers and TensorBoard. No labels, no colour bar: use the SVG heatmap for those.
#pragma once

#include "../config.hpp"
#include "colormap.hpp"
#include "detail/png.hpp"
#include "detail/write_file.hpp"
#include "svg.hpp"  // HeatmapOptions' colour scale conventions (detail::heatmap_scale, heatmap_color)

#include <Eigen/Core>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace attn::io {

/// How a PNG heatmap looks: the colour scale (as in HeatmapOptions) and the pixel size.
struct PngHeatmapOptions {
  /// Colour map of the cells (default viridis).
  Colormap colormap = Colormap::viridis;
  bool reverse_colormap = false;  ///< high values get the low end of the map
  /// Colour scale ends, with the conventions of HeatmapOptions::vmin: unset, the smallest /
  /// largest finite value of the map (equal ones: [0, v], [v, 0] or [0, 1]); values outside
  /// the scale take the end colours; NaN cells are light grey (`#d9d9d9`).
  std::optional<double> vmin;
  /// Upper end of the colour scale (see vmin).
  std::optional<double> vmax;
  /// Side of a cell in pixels; 0: automatic, the smallest factor (at least 1) that makes the
  /// longer side of the image at least min_image_size pixels (a 20×20 map: 13 px cells).
  Index cell_size = 0;
  Index min_image_size = 256;  ///< automatic cell_size: the longer side reaches at least this
  /// Largest image, in pixels (width·height); larger ones throw. The pixels are made in memory
  /// before they are compressed: 3 bytes each (the default, 2048×2048, is 12 MiB).
  Index max_pixels = Index(1) << 22;
};

namespace detail {

/// Image size of a `rows×cols` map under `options`: `scale` pixels per cell side.
struct PngLayout {
  Index scale = 1;
  Index width = 0;
  Index height = 0;
};

/// Pixels per cell side of a `rows×cols` map (at least 1×1) under `options`: `cell_size`, or
/// automatic, the smallest factor (at least 1) making the longer side >= min_image_size.
inline Index png_cell_side(Index rows, Index cols, const PngHeatmapOptions& options) {
  const Index longer = std::max(rows, cols);
  return options.cell_size > 0 ? options.cell_size : std::max<Index>(1, (options.min_image_size + longer - 1) / longer);
}

inline PngLayout png_layout(Index rows, Index cols, const PngHeatmapOptions& options, const char* who) {
  const std::string fn(who);
  ATTN_CHECK(rows > 0 && cols > 0, fn + ": the map is " + std::to_string(rows) + "×" + std::to_string(cols) +
                                       "; a PNG needs at least one row and one column");
  ATTN_CHECK(options.cell_size >= 0,
             fn + ": options.cell_size (" + std::to_string(options.cell_size) + ") must be >= 0 (0: automatic)");
  ATTN_CHECK(options.min_image_size >= 0,
             fn + ": options.min_image_size (" + std::to_string(options.min_image_size) + ") must be >= 0");
  ATTN_CHECK(options.max_pixels > 0, fn + ": options.max_pixels (" + std::to_string(options.max_pixels) + ") must be > 0");
  PngLayout layout;
  layout.scale = png_cell_side(rows, cols, options);
  // width·height <= max_pixels, checked without overflow; PNG sides are at most 2^31 - 1.
  const Index limit = std::min<Index>(options.max_pixels, std::numeric_limits<std::int32_t>::max());
  const bool fits = cols <= limit / layout.scale && rows <= limit / layout.scale &&
                    (rows * layout.scale) <= options.max_pixels / (cols * layout.scale);
  ATTN_CHECK(fits, fn + ": a " + std::to_string(rows) + "×" + std::to_string(cols) + " map at " +
                       std::to_string(layout.scale) + " px per cell is " + std::to_string(cols) + "·" +
                       std::to_string(layout.scale) + " × " + std::to_string(rows) + "·" +
                       std::to_string(layout.scale) + " px, more than options.max_pixels (" +
                       std::to_string(options.max_pixels) + ")" +
                       // At 1 px a cell, no smaller cell helps: only a larger bound, or fewer cells.
                       (layout.scale > 1 ? std::string("; lower options.cell_size or raise options.max_pixels")
                                         : std::string("; raise options.max_pixels, or draw fewer cells (a block of "
                                                       "the map, or the map pooled: attn-plot --pool on its .npy)")));
  layout.width = cols * layout.scale;
  layout.height = rows * layout.scale;
  return layout;
}

/// The colour of every cell of `values` under `options`, row by row from the top.
inline std::vector<Rgb> png_cell_colors(const Matrix<double>& values, const PngHeatmapOptions& options,
                                        const char* who) {
  HeatmapOptions look;
  look.colormap = options.colormap;
  look.reverse_colormap = options.reverse_colormap;
  look.vmin = options.vmin;
  look.vmax = options.vmax;
  static const std::string no_title;
  static const std::vector<std::string> no_labels;
  const HeatmapScale scale = heatmap_scale({{&values, &no_title, &no_labels, &no_labels}}, look, who);
  std::vector<Rgb> colors(static_cast<std::size_t>(values.size()));
  for (Index i = 0; i < values.rows(); ++i) {
    for (Index j = 0; j < values.cols(); ++j) {
      colors[static_cast<std::size_t>(i * values.cols() + j)] = heatmap_color(values(i, j), scale, look);
    }
  }
  return colors;
}

template <typename Derived>
std::string png_heatmap(const Eigen::DenseBase<Derived>& m, const PngHeatmapOptions& options, const char* who) {
  static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
  const PngLayout layout = png_layout(m.rows(), m.cols(), options, who);
  const Matrix<double> values = m.template cast<double>();
  const std::vector<Rgb> cells = png_cell_colors(values, options, who);
  std::vector<Rgb> pixels(static_cast<std::size_t>(layout.width * layout.height));
  for (Index y = 0; y < layout.height; ++y) {
    const Rgb* row = cells.data() + (y / layout.scale) * values.cols();
    Rgb* out = pixels.data() + y * layout.width;
    for (Index x = 0; x < layout.width; ++x) out[x] = row[x / layout.scale];
  }
  return png_rgb(static_cast<std::uint32_t>(layout.width), static_cast<std::uint32_t>(layout.height), pixels);
}

}  // namespace detail

/// The PNG file bytes of a heatmap of `m` (`rows×cols`, float or double; e.g. weights
/// `Tq×Tk`): 8-bit RGB, cell `(i, j)` a square of `cell_size` pixels at row `i` from the top,
/// column `j` from the left, coloured on the scale of `options` (see PngHeatmapOptions).
/// \param m rows×cols, at least 1×1
/// \param options colours and pixel size (default: PngHeatmapOptions{})
/// \return the PNG bytes
/// \throws attn::invalid_argument for an empty map, a bad option (vmin >= vmax, non-finite
///         ends, negative sizes) or an image larger than `options.max_pixels` (the message
///         names the map's and the image's sizes)
template <typename Derived>
std::string heatmap_png(const Eigen::DenseBase<Derived>& m, const PngHeatmapOptions& options = {}) {
  return detail::png_heatmap(m, options, "attn::io::heatmap_png");
}

/// Writes heatmap_png(m, options) to `os`. Throws as heatmap_png() does, and
/// std::runtime_error when the stream is not good before the call or fails during it.
/// \param os the stream (open it in binary mode), written unformatted
/// \param m rows×cols, at least 1×1
/// \param options colours and pixel size
template <typename Derived>
void write_heatmap_png(std::ostream& os, const Eigen::DenseBase<Derived>& m, const PngHeatmapOptions& options = {}) {
  detail::svg_write(os, detail::png_heatmap(m, options, "attn::io::write_heatmap_png"), "attn::io::write_heatmap_png");
}

/// Writes heatmap_png(m, options) to the file `path`, atomically (temporary file + rename: a
/// failed write leaves no half-written file). I/O failures throw std::runtime_error naming the
/// path and the system's reason.
/// \param path the file to write (e.g. "weights.png")
/// \param m rows×cols, at least 1×1
/// \param options colours and pixel size
/// \throws attn::invalid_argument as heatmap_png() does (before the file is touched)
template <typename Derived>
void write_heatmap_png(const std::filesystem::path& path, const Eigen::DenseBase<Derived>& m,
                       const PngHeatmapOptions& options = {}) {
  detail::svg_write(path, detail::png_heatmap(m, options, "attn::io::write_heatmap_png"), "attn::io::write_heatmap_png");
}

}  // namespace attn::io
