// SPDX-License-Identifier: MIT
// SVG heatmaps of attention weights: a `Tq×Tk` map (rows = queries, top to bottom; columns =
// keys, left to right) with token labels, a colour bar and a title; a grid of maps sharing one
// colour scale (heads × layers, epochs); a pair of maps (ground truth beside attention).
#pragma once

#include "../config.hpp"
#include "colormap.hpp"
#include "detail/map_source.hpp"
#include "detail/svg_draw.hpp"
#include "detail/svg_layout.hpp"

#include <Eigen/Core>

#include <filesystem>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

namespace attn::io {

/// The SVG document (UTF-8) of a heatmap of `m` (`rows×cols`, float or double; e.g. weights
/// `Tq×Tk`): row `i` is drawn top to bottom, column `j` left to right, with
/// `options.row_labels` on the left, `options.col_labels` above (rotated), a colour bar with
/// ticks on the right and `options.title` on top. Labels are any UTF-8 (escaped for XML;
/// malformed bytes become U+FFFD). Long sequences stay readable: the maps span at most
/// `options.max_map_size` px, labels shrink to 9 px and then only every k-th is shown, labels
/// wider than `max_label_length` are cut (full text in a tooltip), and big maps are drawn as
/// an embedded raster (see HeatmapRaster). Throws attn::invalid_argument when a non-empty
/// label list does not have one label per row / column, or for a bad option (vmin >= vmax,
/// non-finite ends, sizes <= 0, a lone vmin or vmax at the largest double). Any finite values
/// give a finite scale (a span wider than the largest double included) and colour-bar ticks
/// that read as numbers ("0" and "5e-324" for a [0, 5e-324] map, "1.5e+308", never "NaN").
/// \param m rows×cols
/// \param options look of the map (default: HeatmapOptions{})
/// \return the SVG text
template <typename Derived>
std::string heatmap_svg(const Eigen::DenseBase<Derived>& m, const HeatmapOptions& options = {}) {
  return detail::svg_single(m, options, "attn::io::heatmap_svg");
}

/// Writes heatmap_svg(m, options) to `os`. Throws as heatmap_svg() does, and
/// std::runtime_error when the stream is not good before the call or fails during it.
/// \param os the stream, written unformatted
/// \param m rows×cols
/// \param options look of the map
template <typename Derived>
void write_heatmap_svg(std::ostream& os, const Eigen::DenseBase<Derived>& m, const HeatmapOptions& options = {}) {
  detail::svg_write(os, detail::svg_single(m, options, "attn::io::write_heatmap_svg"), "attn::io::write_heatmap_svg");
}

/// Writes heatmap_svg(m, options) to the file `path`, atomically (temporary file + rename: a
/// failed write leaves no half-written file). I/O failures throw std::runtime_error naming the
/// path and the system's reason.
/// \param path the file to write
/// \param m rows×cols
/// \param options look of the map
/// \throws attn::invalid_argument as heatmap_svg() does (before the file is touched)
template <typename Derived>
void write_heatmap_svg(const std::filesystem::path& path, const Eigen::DenseBase<Derived>& m,
                       const HeatmapOptions& options = {}) {
  detail::svg_write(path, detail::svg_single(m, options, "attn::io::write_heatmap_svg"), "attn::io::write_heatmap_svg");
}

/// A grid of maps sharing one colour scale and one colour bar (heads × layers, epochs, ...):
/// `options.grid_columns` maps per row (0: the grid of cells closest to square), each with its title above it,
/// `options.title` above them all. All maps get the same cell size, so equal token counts
/// line up. Throws attn::invalid_argument when `panels` is empty or a panel's labels do not
/// fit its values (messages name `panels[k].row_labels`), and for bad options.
/// \param panels the maps, in reading order
/// \param options look of the grid; its labels serve panels without their own
/// \return the SVG text
inline std::string heatmap_grid_svg(const std::vector<HeatmapPanel>& panels, const HeatmapOptions& options = {}) {
  return detail::svg_grid(panels, options, "attn::io::heatmap_grid_svg");
}

/// Writes heatmap_grid_svg(panels, options) to `os` (std::runtime_error on stream failure).
/// \param os the stream, written unformatted
/// \param panels the maps, in reading order
/// \param options look of the grid
/// \throws attn::invalid_argument as heatmap_grid_svg() does
inline void write_heatmap_grid_svg(std::ostream& os, const std::vector<HeatmapPanel>& panels,
                                   const HeatmapOptions& options = {}) {
  detail::svg_write(os, detail::svg_grid(panels, options, "attn::io::write_heatmap_grid_svg"),
                    "attn::io::write_heatmap_grid_svg");
}

/// Writes heatmap_grid_svg(panels, options) to `path`, atomically.
/// \param path the file to write
/// \param panels the maps, in reading order
/// \param options look of the grid
/// \throws attn::invalid_argument as heatmap_grid_svg() does (before the file is touched),
///         std::runtime_error naming the path and the system's reason on I/O failure
inline void write_heatmap_grid_svg(const std::filesystem::path& path, const std::vector<HeatmapPanel>& panels,
                                   const HeatmapOptions& options = {}) {
  detail::svg_write(path, detail::svg_grid(panels, options, "attn::io::write_heatmap_grid_svg"),
                    "attn::io::write_heatmap_grid_svg");
}

namespace detail {

/// `options` for a pair whose first map is `first`: its grid_columns from `layout` (pair_columns).
inline HeatmapOptions pair_options(const HeatmapOptions& options, PairLayout layout, const HeatmapPanel& first) {
  HeatmapOptions pair = options;
  pair.grid_columns = pair_columns(layout, first.values.rows(), first.values.cols());
  return pair;
}

}  // namespace detail

/// Two maps on one scale, the second beside (PairLayout::beside) or under the first (under, and
/// by default under a wide first map such as a 1×T strip, beside others): e.g. the
/// ground-truth alignment and the attention learnt so far. Same rules as heatmap_grid_svg().
/// \param first the first map (left or top)
/// \param second the second map
/// \param options look of the pair; `grid_columns` is ignored
/// \param layout automatic (the default: under a wide first map, beside otherwise), beside or under
/// \return the SVG text
/// \throws attn::invalid_argument as heatmap_grid_svg() does
inline std::string heatmap_pair_svg(const HeatmapPanel& first, const HeatmapPanel& second,
                                    const HeatmapOptions& options = {}, PairLayout layout = PairLayout::automatic) {
  return detail::svg_grid({first, second}, detail::pair_options(options, layout, first),
                          "attn::io::heatmap_pair_svg");
}

/// Writes heatmap_pair_svg(first, second, options, layout) to `os` (std::runtime_error on
/// stream failure).
/// \param os the stream, written unformatted
/// \param first the first map (left or top)
/// \param second the second map
/// \param options look of the pair
/// \param layout automatic (the default: under a wide first map, beside otherwise), beside or under
/// \throws attn::invalid_argument as heatmap_grid_svg() does
inline void write_heatmap_pair_svg(std::ostream& os, const HeatmapPanel& first, const HeatmapPanel& second,
                                   const HeatmapOptions& options = {}, PairLayout layout = PairLayout::automatic) {
  constexpr const char* who = "attn::io::write_heatmap_pair_svg";
  detail::svg_write(os, detail::svg_grid({first, second}, detail::pair_options(options, layout, first), who), who);
}

/// Writes heatmap_pair_svg(first, second, options, layout) to the file `path`, atomically.
/// \param path the file to write
/// \param first the first map (left or top)
/// \param second the second map
/// \param options look of the pair
/// \param layout automatic (the default: under a wide first map, beside otherwise), beside or under
/// \throws attn::invalid_argument as heatmap_grid_svg() does (before the file is touched),
///         std::runtime_error naming the path and the system's reason on I/O failure
inline void write_heatmap_pair_svg(const std::filesystem::path& path, const HeatmapPanel& first,
                                   const HeatmapPanel& second, const HeatmapOptions& options = {},
                                   PairLayout layout = PairLayout::automatic) {
  constexpr const char* who = "attn::io::write_heatmap_pair_svg";
  detail::svg_write(path, detail::svg_grid({first, second}, detail::pair_options(options, layout, first), who), who);
}

/// One panel for heatmap_grid_svg() / heatmap_pair_svg() from any Eigen matrix expression, Map
/// or Ref (float or double), copied as double.
/// \param m rows×cols
/// \param title drawn above the map (default: none)
/// \param row_labels one per row, or empty (default: the options' labels when they fit)
/// \param col_labels one per column, or empty (default: the options' labels when they fit)
/// \return the panel
template <typename Derived>
HeatmapPanel heatmap_panel(const Eigen::DenseBase<Derived>& m, std::string title = {},
                           std::vector<std::string> row_labels = {}, std::vector<std::string> col_labels = {}) {
  static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
  HeatmapPanel panel;
  panel.values = m.template cast<double>();
  panel.title = std::move(title);
  panel.row_labels = std::move(row_labels);
  panel.col_labels = std::move(col_labels);
  return panel;
}

/// Panels for heatmap_grid_svg() from a list of maps of any shapes: a range of Eigen matrices
/// (`std::vector<attn::Matrix<S>>`, `attn::head_views(w)`, Maps, Refs, AlignmentHistory views)
/// or an attn::HeadWeights (one panel per head), titled `titles[k]`. A map past the end of
/// `titles` has no title, but for a HeadWeights' head k: "head k" (as attn-plot titles the maps
/// of a 3-D file).
/// \param maps the maps (float or double), copied as double
/// \param titles one title per map, or fewer (default: none; a HeadWeights' heads "head k")
/// \return one panel per map, without labels of their own
template <typename Maps, typename = std::enable_if_t<detail::is_map_list<Maps>>>
std::vector<HeatmapPanel> heatmap_panels(const Maps& maps, const std::vector<std::string>& titles = {}) {
  static_assert(::attn::detail::check_scalar<detail::map_list_scalar<Maps>>());
  std::vector<HeatmapPanel> panels(detail::map_list_size(maps));
  detail::for_each_map(maps, [&](std::size_t k, const auto& m) {
    panels[k].values = m.template cast<double>();
    if (k < titles.size()) {
      panels[k].title = titles[k];
    } else if constexpr (detail::is_head_weights<Maps>::value) {
      panels[k].title = "head " + std::to_string(k);
    }
  });
  return panels;
}

/// heatmap_grid_svg() of a list of maps (see heatmap_panels(): any range of Eigen matrices,
/// untitled, or a HeadWeights, titled "head 0", "head 1", ...): `heatmap_grid_svg(w, options)`.
/// \param maps the maps, in reading order
/// \param options look of the grid
/// \return the SVG text
/// \throws attn::invalid_argument as heatmap_grid_svg() does
template <typename Maps, typename = std::enable_if_t<detail::is_map_list<Maps>>>
std::string heatmap_grid_svg(const Maps& maps, const HeatmapOptions& options = {}) {
  return detail::svg_grid(heatmap_panels(maps), options, "attn::io::heatmap_grid_svg");
}

/// write_heatmap_grid_svg() of a list of maps (any range of Eigen matrices, or a HeadWeights).
/// \param os the stream, written unformatted
/// \param maps the maps, in reading order
/// \param options look of the grid
/// \throws attn::invalid_argument as heatmap_grid_svg() does
template <typename Maps, typename = std::enable_if_t<detail::is_map_list<Maps>>>
void write_heatmap_grid_svg(std::ostream& os, const Maps& maps, const HeatmapOptions& options = {}) {
  write_heatmap_grid_svg(os, heatmap_panels(maps), options);
}

/// write_heatmap_grid_svg() of a list of maps to the file `path`, atomically.
/// \param path the file to write
/// \param maps the maps, in reading order (any range of Eigen matrices, or a HeadWeights)
/// \param options look of the grid
/// \throws attn::invalid_argument as heatmap_grid_svg() does (before the file is touched),
///         std::runtime_error naming the path and the system's reason on I/O failure
template <typename Maps, typename = std::enable_if_t<detail::is_map_list<Maps>>>
void write_heatmap_grid_svg(const std::filesystem::path& path, const Maps& maps, const HeatmapOptions& options = {}) {
  write_heatmap_grid_svg(path, heatmap_panels(maps), options);
}

/// heatmap_pair_svg() of two matrices (any Eigen expressions, Maps or Refs, float or double),
/// untitled; use heatmap_panel(m, "title") and the HeatmapPanel form for panel titles.
/// \param first the first map (left or top)
/// \param second the second map
/// \param options look of the pair; `grid_columns` is ignored
/// \param layout automatic (the default: under a wide first map, beside otherwise), beside or under
/// \return the SVG text
/// \throws attn::invalid_argument as heatmap_grid_svg() does
template <typename DerivedA, typename DerivedB>
std::string heatmap_pair_svg(const Eigen::DenseBase<DerivedA>& first, const Eigen::DenseBase<DerivedB>& second,
                             const HeatmapOptions& options = {}, PairLayout layout = PairLayout::automatic) {
  return heatmap_pair_svg(heatmap_panel(first), heatmap_panel(second), options, layout);
}

/// write_heatmap_pair_svg() of two matrices to `os`.
/// \param os the stream, written unformatted
/// \param first the first map (left or top)
/// \param second the second map
/// \param options look of the pair
/// \param layout automatic (the default: under a wide first map, beside otherwise), beside or under
/// \throws attn::invalid_argument as heatmap_grid_svg() does
template <typename DerivedA, typename DerivedB>
void write_heatmap_pair_svg(std::ostream& os, const Eigen::DenseBase<DerivedA>& first,
                            const Eigen::DenseBase<DerivedB>& second, const HeatmapOptions& options = {},
                            PairLayout layout = PairLayout::automatic) {
  write_heatmap_pair_svg(os, heatmap_panel(first), heatmap_panel(second), options, layout);
}

/// write_heatmap_pair_svg() of two matrices to the file `path`, atomically:
/// `write_heatmap_pair_svg("pair.svg", truth, weights)`.
/// \param path the file to write
/// \param first the first map (left or top)
/// \param second the second map
/// \param options look of the pair
/// \param layout automatic (the default: under a wide first map, beside otherwise), beside or under
/// \throws attn::invalid_argument as heatmap_grid_svg() does (before the file is touched),
///         std::runtime_error naming the path and the system's reason on I/O failure
template <typename DerivedA, typename DerivedB>
void write_heatmap_pair_svg(const std::filesystem::path& path, const Eigen::DenseBase<DerivedA>& first,
                            const Eigen::DenseBase<DerivedB>& second, const HeatmapOptions& options = {},
                            PairLayout layout = PairLayout::automatic) {
  write_heatmap_pair_svg(path, heatmap_panel(first), heatmap_panel(second), options, layout);
}

}  // namespace attn::io
