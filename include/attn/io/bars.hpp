// SPDX-License-Identifier: MIT
// SVG bar charts and histograms of attention weights: a weights row `1×T` (pooling,
// SeqWeightedAttention, one decoder step) as T bars with the tokens on the x axis, several rows
// as small multiples (one panel per row, one y scale); the histogram of any set of weights.
#pragma once

#include "../config.hpp"
#include "colormap.hpp"
#include "detail/bars_draw.hpp"
#include "detail/histogram_draw.hpp"
#include "detail/svg_draw.hpp"

#include <Eigen/Core>

#include <filesystem>
#include <ostream>
#include <string>

namespace attn::io {

namespace detail {

template <typename Derived>
std::string bars_single(const Eigen::DenseBase<Derived>& weights, const BarOptions& options, const char* who) {
  static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
  Matrix<double> m = weights.template cast<double>();
  if (m.cols() == 1 && m.rows() > 1) m.transposeInPlace();  // a column vector is one row of bars
  return bars_render(m, options, who);
}

}  // namespace detail

/// The SVG document (UTF-8) of `weights` as bars: a row `1×T` (or a column `T×1`) gives one
/// panel of T bars, bar j labelled `options.labels[j]` on the x axis (rotated when the labels
/// are wider than their bars; every k-th label only when the bars are narrower than a 7 px
/// label; without labels the x axis shows indices at nice steps); a matrix `R×T` gives R
/// panels one under the other (small multiples), titled by `options.row_labels` ("row i"
/// without), sharing one y axis and the x labels under the last panel. The y axis runs from
/// min(0, smallest) to the largest value, out to the next nice tick (or `ymin`/`ymax`); each
/// bar has a tooltip "row → label: weight". NaN bars are not drawn and infinite ones reach the
/// end of the axis; both are marked "NaN"/"inf" at their place. Labels are any UTF-8, escaped
/// like the heatmap's (bidi controls balanced, malformed bytes become U+FFFD).
/// \param weights `1×T`, `T×1` or `R×T` (float or double), any Eigen expression
/// \param options look of the chart (default: BarOptions{})
/// \return the SVG text
/// \throws attn::invalid_argument when weights has no rows, labels / row_labels do not have
///         one label per bar / row, ymin >= ymax or one is not finite, a size is not positive,
///         the font size is outside (0, 200] or `color` is not "#rrggbb" / "#rgb"
template <typename Derived>
std::string bars_svg(const Eigen::DenseBase<Derived>& weights, const BarOptions& options = {}) {
  return detail::bars_single(weights, options, "attn::io::bars_svg");
}

/// Writes bars_svg(weights, options) to `os` (std::runtime_error when the stream is not good
/// before the call or fails during it).
/// \param os the stream, written unformatted
/// \param weights `1×T`, `T×1` or `R×T`
/// \param options look of the chart
/// \throws attn::invalid_argument as bars_svg() does
template <typename Derived>
void write_bars_svg(std::ostream& os, const Eigen::DenseBase<Derived>& weights, const BarOptions& options = {}) {
  detail::svg_write(os, detail::bars_single(weights, options, "attn::io::write_bars_svg"), "attn::io::write_bars_svg");
}

/// Writes bars_svg(weights, options) to the file `path`, atomically (temporary file + rename).
/// \param path the file to write
/// \param weights `1×T`, `T×1` or `R×T`
/// \param options look of the chart
/// \throws attn::invalid_argument as bars_svg() does (before the file is touched),
///         std::runtime_error naming the path and the system's reason on I/O failure
template <typename Derived>
void write_bars_svg(const std::filesystem::path& path, const Eigen::DenseBase<Derived>& weights,
                    const BarOptions& options = {}) {
  detail::svg_write(path, detail::bars_single(weights, options, "attn::io::write_bars_svg"), "attn::io::write_bars_svg");
}

/// The histogram of all values of `values` (any shape), counted as numpy.histogram does:
/// `options.bins` equal bins over the range (by default the smallest to the largest finite
/// value), each closed on the left, the last closed on both sides. NaN, infinite values and
/// values outside a given range are left out and counted. Empty input is not an error (as in
/// NumPy): every count is 0 over [0, 1] (or the given range).
/// \param values any Eigen expression of float or double
/// \param options bins and range (the look is ignored here)
/// \return the edges, the counts and what was left out
/// \throws attn::invalid_argument when bins is outside [1, 100000], only one of range_min /
///         range_max is given, or range_min >= range_max or one of them is not finite
template <typename Derived>
Histogram histogram(const Eigen::DenseBase<Derived>& values, const HistogramOptions& options = {}) {
  return detail::histogram_count(values, options, "attn::io::histogram");
}

/// The SVG document (UTF-8) of histogram(values, options): one bar per bin (tooltip
/// "[a, b): count"), nice ticks on both axes (whole numbers of values on the y axis), axis
/// titles, and a note under the chart counting what was left out ("left out: 2 NaN,
/// 1 infinite, 3 outside the range") or saying "no values" for empty input.
/// \param values any Eigen expression of float or double (e.g. a weights matrix)
/// \param options bins, range and look (default: HistogramOptions{}, 20 bins)
/// \return the SVG text
/// \throws attn::invalid_argument as histogram() does, and when a size is not positive, the
///         font size is outside (0, 200] or `color` is not "#rrggbb" / "#rgb"
template <typename Derived>
std::string histogram_svg(const Eigen::DenseBase<Derived>& values, const HistogramOptions& options = {}) {
  const char* who = "attn::io::histogram_svg";
  return detail::histogram_render(detail::histogram_count(values, options, who), options, who);
}

/// Writes histogram_svg(values, options) to `os` (std::runtime_error on stream failure).
/// \param os the stream, written unformatted
/// \param values any Eigen expression of float or double
/// \param options bins, range and look
/// \throws attn::invalid_argument as histogram_svg() does
template <typename Derived>
void write_histogram_svg(std::ostream& os, const Eigen::DenseBase<Derived>& values, const HistogramOptions& options = {}) {
  const char* who = "attn::io::write_histogram_svg";
  detail::svg_write(os, detail::histogram_render(detail::histogram_count(values, options, who), options, who), who);
}

/// Writes histogram_svg(values, options) to the file `path`, atomically.
/// \param path the file to write
/// \param values any Eigen expression of float or double
/// \param options bins, range and look
/// \throws attn::invalid_argument as histogram_svg() does (before the file is touched),
///         std::runtime_error naming the path and the system's reason on I/O failure
template <typename Derived>
void write_histogram_svg(const std::filesystem::path& path, const Eigen::DenseBase<Derived>& values,
                         const HistogramOptions& options = {}) {
  const char* who = "attn::io::write_histogram_svg";
  detail::svg_write(path, detail::histogram_render(detail::histogram_count(values, options, who), options, who), who);
}

}  // namespace attn::io
