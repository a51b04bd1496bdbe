// SPDX-License-Identifier: MIT
// Hard alignments of an attention map (weights Tq×Tk, rows = queries/targets, columns =
// keys/sources) as (row, column) links, and their precision, recall and alignment error rate
// against gold sure/possible links. Light: needs only the mask, no attention kernel.
#pragma once

#include "config.hpp"
#include "mask.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <vector>

namespace attn {

// --- hard alignments ---------------------------------------------------------------------------

/// One alignment link: row `i` (query / target token) aligned to column `j` (key / source token).
struct AlignmentLink {
  /// Row: the query / target token.
  Index i = 0;
  /// Column: the key / source token.
  Index j = 0;
  /// \param a first link \param b second link \return true when `i` and `j` are equal
  friend bool operator==(const AlignmentLink& a, const AlignmentLink& b) { return a.i == b.i && a.j == b.j; }
  /// \param a first link \param b second link \return `!(a == b)`
  friend bool operator!=(const AlignmentLink& a, const AlignmentLink& b) { return !(a == b); }
  /// Order by `(i, j)`. \param a first link \param b second link \return true when `a` sorts first
  friend bool operator<(const AlignmentLink& a, const AlignmentLink& b) {
    return a.i < b.i || (a.i == b.i && a.j < b.j);
  }
};

/// A hard alignment: links sorted by (i, j).
using Alignment = std::vector<AlignmentLink>;

/// One link per row of `weights` (Tq×Tk): the column of the row's largest visible weight
/// (ties: the first). Rows with no visible positive weight (fully masked rows) get no link;
/// NaN weights are skipped.
/// \param weights Tq×Tk
/// \param mask which entries may be chosen (default: all)
/// \return at most Tq links, sorted by (i, j)
/// \throws attn::invalid_argument when the mask does not fit Tq×Tk
template <typename Derived>
Alignment argmax_alignment(const Eigen::MatrixBase<Derived>& weights, const Mask& mask = Mask()) {
  using Scalar = typename Derived::Scalar;
  static_assert(detail::check_scalar<Scalar>());
  const Index tq = weights.rows();
  const Index tk = weights.cols();
  mask.check("attn::argmax_alignment", tq, tk);
  Alignment links;
  for (Index i = 0; i < tq; ++i) {
    Index best = -1;
    Scalar max = Scalar(0);
    const auto [first, last] = mask.band(i, tk);
    for (Index j = first; j < last; ++j) {
      if (mask.explicit_matrix() && !(*mask.explicit_matrix())(i, j)) continue;
      if (weights(i, j) > max) {
        max = weights(i, j);
        best = j;
      }
    }
    if (best >= 0) links.push_back({i, best});
  }
  return links;
}

/// Every visible (i, j) of `weights` with weight strictly above `threshold`, sorted by (i, j).
/// A row may get several links or none.
/// \param weights Tq×Tk
/// \param threshold links need a weight strictly above it
/// \param mask which entries may be chosen (default: all)
/// \return the links, sorted by (i, j)
/// \throws attn::invalid_argument when `threshold` is NaN or the mask does not fit Tq×Tk
template <typename Derived>
Alignment threshold_alignment(const Eigen::MatrixBase<Derived>& weights, double threshold, const Mask& mask = Mask()) {
  using Scalar = typename Derived::Scalar;
  static_assert(detail::check_scalar<Scalar>());
  const Index tq = weights.rows();
  const Index tk = weights.cols();
  mask.check("attn::threshold_alignment", tq, tk);
  ATTN_CHECK(!std::isnan(threshold), "attn::threshold_alignment: threshold must not be NaN");
  Alignment links;
  for (Index i = 0; i < tq; ++i) {
    const auto [first, last] = mask.band(i, tk);
    for (Index j = first; j < last; ++j) {
      if (mask.explicit_matrix() && !(*mask.explicit_matrix())(i, j)) continue;
      if (static_cast<double>(weights(i, j)) > threshold) links.push_back({i, j});
    }
  }
  return links;
}

// --- alignment error rate ----------------------------------------------------------------------

/// Precision, recall and alignment error rate (Och & Ney 2003) of a hypothesis alignment A
/// against gold sure links S and possible links P (P is taken as P ∪ S, so S ⊆ P always holds):
/// precision = |A∩P|/|A|, recall = |A∩S|/|S|, AER = 1 − (|A∩S| + |A∩P|)/(|A| + |S|).
/// Links are sets: duplicates count once. An empty A has precision 1, an empty S recall 1, and
/// AER is 0 when A and S are both empty.
struct AlignmentScores {
  /// |A∩P|/|A|; 1 when A is empty.
  double precision = 1.0;
  /// |A∩S|/|S|; 1 when S is empty.
  double recall = 1.0;
  /// Alignment error rate, in [0, 1]; 0 when A and S are both empty.
  double aer = 0.0;
  Index hypothesis = 0;      ///< |A|
  Index sure = 0;            ///< |S|
  Index possible = 0;        ///< |P ∪ S|
  Index hits_sure = 0;       ///< |A∩S|
  Index hits_possible = 0;   ///< |A∩P|
};

namespace detail {

inline Alignment link_set(Alignment links) {
  std::sort(links.begin(), links.end());
  links.erase(std::unique(links.begin(), links.end()), links.end());
  return links;
}

inline Index count_common(const Alignment& a, const Alignment& b) {  // both sorted and unique
  Alignment common;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
  return static_cast<Index>(common.size());
}

}  // namespace detail

/// Precision, recall and AER of `hypothesis` against gold `sure` and `possible` links.
/// \param hypothesis A, the links to score
/// \param sure S, the gold sure links
/// \param possible P, the gold possible links (S is added to them)
/// \return the scores and the set sizes they come from
inline AlignmentScores alignment_scores(const Alignment& hypothesis, const Alignment& sure,
                                        const Alignment& possible) {
  const Alignment a = detail::link_set(hypothesis);
  const Alignment s = detail::link_set(sure);
  Alignment p = possible;
  p.insert(p.end(), s.begin(), s.end());
  p = detail::link_set(std::move(p));

  AlignmentScores r;
  r.hypothesis = static_cast<Index>(a.size());
  r.sure = static_cast<Index>(s.size());
  r.possible = static_cast<Index>(p.size());
  r.hits_sure = detail::count_common(a, s);
  r.hits_possible = detail::count_common(a, p);
  if (r.hypothesis > 0) r.precision = static_cast<double>(r.hits_possible) / static_cast<double>(r.hypothesis);
  if (r.sure > 0) r.recall = static_cast<double>(r.hits_sure) / static_cast<double>(r.sure);
  if (r.hypothesis + r.sure > 0) {
    r.aer = 1.0 - static_cast<double>(r.hits_sure + r.hits_possible) / static_cast<double>(r.hypothesis + r.sure);
  }
  return r;
}

/// AER = 1 − (|A∩S| + |A∩P|)/(|A| + |S|); see alignment_scores.
/// \param hypothesis A, the links to score
/// \param sure S, the gold sure links
/// \param possible P, the gold possible links (S is added to them)
/// \return the AER, in [0, 1]
inline double alignment_error_rate(const Alignment& hypothesis, const Alignment& sure, const Alignment& possible) {
  return alignment_scores(hypothesis, sure, possible).aer;
}

}  // namespace attn
