// SPDX-License-Identifier: MIT
// SVG picture of a word alignment over a gold standard: rows are target tokens, columns source
// tokens; gold links are squares (solid outline: sure, dashed: possible), filled where the
// hypothesis has them (hits, with a dot), left hollow where it misses them; hypothesis links
// outside the gold are red crosses (false alarms). Precision, recall and AER under the title,
// a legend with the counts of each mark; soft weights may be shaded under the marks.
#pragma once

#include "../alignment.hpp"
#include "../config.hpp"
#include "detail/alignment_draw.hpp"
#include "detail/svg_draw.hpp"
#include "pharaoh.hpp"

#include <Eigen/Core>

#include <filesystem>
#include <ostream>
#include <string>

namespace attn::io {

namespace detail {

template <typename Derived>
std::string alignment_weights_svg(const Eigen::DenseBase<Derived>& weights, const GoldAlignment& gold,
                                  const AlignmentSvgOptions& options, const char* who) {
  static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
  const Matrix<double> w = weights.template cast<double>();
  if (options.threshold) {
    ATTN_CHECK(std::isfinite(*options.threshold), std::string(who) + ": options.threshold must be finite");
  }
  const Alignment hypothesis = options.threshold ? threshold_alignment(w, *options.threshold) : argmax_alignment(w);
  return alignment_render(hypothesis, &gold, w, options, who);
}

}  // namespace detail

/// The SVG document (UTF-8) of `hypothesis` over `gold` (links: i = target row, j = source
/// column; read them with attn::io::read_alignments / read_pharaoh, or take them from
/// argmax_alignment). The picture is `options.rows × options.cols` cells (0: the label counts,
/// else the largest index + 1); labels are any UTF-8, escaped (rows/columns numbered without).
/// \param hypothesis A, the links to score and draw
/// \param gold S (sure) and P (possible) links
/// \param options look of the picture
/// \return the SVG text
/// \throws attn::invalid_argument when a link lies outside the picture (the message names
///         it: "hypothesis[2] (5, 1) is outside the 4x6 picture"), labels do not have one per
///         row / column, a size option is not positive, or the picture would be more than
///         2^26 cells (8192×8192: a link index far beyond any sentence, such as "0-999999999")
inline std::string alignment_svg(const Alignment& hypothesis, const GoldAlignment& gold, const AlignmentSvgOptions& options = {}) {
  return detail::alignment_render(hypothesis, &gold, Matrix<double>(), options, "attn::io::alignment_svg");
}

/// The same picture for attention weights (`targets×sources`, e.g. a decoder's cross-attention
/// or a soft alignment): the hypothesis is each row's largest weight (argmax_alignment), or
/// with `options.threshold` every weight above it; the weights are shaded under the marks.
/// \param weights targets×sources (float or double), any Eigen expression
/// \param gold S (sure) and P (possible) links
/// \param options look of the picture (rows / cols must be 0 or the weights' shape)
/// \return the SVG text
/// \throws attn::invalid_argument as alignment_svg(hypothesis, gold, options) does
template <typename Derived>
std::string alignment_svg(const Eigen::DenseBase<Derived>& weights, const GoldAlignment& gold,
                          const AlignmentSvgOptions& options = {}) {
  return detail::alignment_weights_svg(weights, gold, options, "attn::io::alignment_svg");
}

/// The links alone (no gold, no scores): a dot per link.
/// \param links the links (i = target row, j = source column)
/// \param options look of the picture
/// \return the SVG text
/// \throws attn::invalid_argument as alignment_svg(hypothesis, gold, options) does
inline std::string alignment_svg(const Alignment& links, const AlignmentSvgOptions& options = {}) {
  return detail::alignment_render(links, nullptr, Matrix<double>(), options, "attn::io::alignment_svg");
}

/// Writes alignment_svg(hypothesis, gold, options) to `os` (std::runtime_error on stream failure).
/// \param os the stream \param hypothesis A \param gold S and P \param options look of the picture
inline void write_alignment_svg(std::ostream& os, const Alignment& hypothesis, const GoldAlignment& gold,
                                const AlignmentSvgOptions& options = {}) {
  detail::svg_write(os, detail::alignment_render(hypothesis, &gold, Matrix<double>(), options, "attn::io::write_alignment_svg"),
                    "attn::io::write_alignment_svg");
}

/// Writes alignment_svg(hypothesis, gold, options) to the file `path`, atomically (a failed
/// write leaves no half-written file; std::runtime_error names the path and the reason).
/// \param path the file \param hypothesis A \param gold S and P \param options look of the picture
inline void write_alignment_svg(const std::filesystem::path& path, const Alignment& hypothesis, const GoldAlignment& gold,
                                const AlignmentSvgOptions& options = {}) {
  detail::svg_write(path, detail::alignment_render(hypothesis, &gold, Matrix<double>(), options, "attn::io::write_alignment_svg"),
                    "attn::io::write_alignment_svg");
}

/// Writes alignment_svg(weights, gold, options) to the file `path`, atomically.
/// \param path the file \param weights targets×sources \param gold S and P \param options look of the picture
template <typename Derived>
void write_alignment_svg(const std::filesystem::path& path, const Eigen::DenseBase<Derived>& weights, const GoldAlignment& gold,
                         const AlignmentSvgOptions& options = {}) {
  detail::svg_write(path, detail::alignment_weights_svg(weights, gold, options, "attn::io::write_alignment_svg"),
                    "attn::io::write_alignment_svg");
}

}  // namespace attn::io
