// SPDX-License-Identifier: MIT
// Analysis of attention maps (weights Tq×Tk, rows = queries/targets, columns = keys/sources):
// row entropy, reductions over heads, attention rollout (Abnar & Zuidema 2020), hard
// alignments as (row, column) links, and alignment error rate against gold sure/possible links.
#pragma once

#include "config.hpp"
#include "detail/threads.hpp"
#include "head_weights.hpp"
#include "mask.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <locale>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace attn {

// --- entropy -----------------------------------------------------------------------------------

/// Entropy of each row of `weights` (Tq×Tk) in nats: H_i = -Σ_j w_ij·log(w_ij) over the keys
/// that `mask` lets row i see (masked entries are excluded whatever they hold), with
/// 0·log 0 = 0. A uniform row over n visible keys gives log(n), a one-hot row 0, a fully masked
/// row 0. Returns a Tq vector. Divide by log(n) for a normalised entropy.
/// \param weights Tq×Tk
/// \param mask which entries count (default: all)
/// \return Tq entropies, >= 0 for weights in [0, 1]
/// \throws attn::invalid_argument when the mask does not fit Tq×Tk
template <typename Derived>
Vector<typename Derived::Scalar> row_entropy(const Eigen::MatrixBase<Derived>& weights, const Mask& mask = Mask()) {
  using Scalar = typename Derived::Scalar;
  detail::check_scalar<Scalar>();
  const Index tq = weights.rows();
  const Index tk = weights.cols();
  mask.check("attn::row_entropy", tq, tk);
  Vector<Scalar> h(tq);
  for (Index i = 0; i < tq; ++i) {
    Scalar sum = 0;
    const auto [first, last] = mask.band(i, tk);
    for (Index j = first; j < last; ++j) {
      if (mask.explicit_matrix() && !(*mask.explicit_matrix())(i, j)) continue;
      const Scalar w = weights(i, j);
      if (w != Scalar(0)) sum -= w * std::log(w);
    }
    h(i) = sum + Scalar(0);  // never -0
  }
  return h;
}

// --- reductions over heads ---------------------------------------------------------------------

namespace detail {

template <typename Heads>
using head_type = std::decay_t<decltype(*std::begin(std::declval<const Heads&>()))>;

template <typename Heads>
using head_scalar = typename head_type<Heads>::Scalar;

/// Throws unless `list` is non-empty and every entry has the shape of the first.
template <typename Heads>
std::pair<Index, Index> check_same_shapes(const char* fn, const char* what, const Heads& list) {
  const auto count = static_cast<std::size_t>(std::distance(std::begin(list), std::end(list)));
  ATTN_CHECK(count > 0, std::string(fn) + ": " + what + " is empty");
  const auto& first = *std::begin(list);
  std::size_t k = 0;
  for (const auto& m : list) {
    ATTN_CHECK(m.rows() == first.rows() && m.cols() == first.cols(),
               std::string(fn) + ": " + what + "[" + std::to_string(k) + "] " + shape(m.rows(), m.cols()) +
                   " must be " + shape(first.rows(), first.cols()));
    ++k;
  }
  return {first.rows(), first.cols()};
}

}  // namespace detail

/// Views of `heads` column-major `tq×tk` matrices laid one after another in `data`
/// (head k starts at `data + k·tq·tk`), for reduce_heads and attention_rollout.
/// \param data the first entry of head 0
/// \param heads number of heads, >= 0
/// \param tq rows of each head, >= 0
/// \param tk columns of each head, >= 0
/// \return `heads` read-only maps into `data` (no copy; `data` must outlive them)
/// \throws attn::invalid_argument when a count is negative
template <typename Scalar>
std::vector<Eigen::Map<const Matrix<Scalar>>> head_views(const Scalar* data, Index heads, Index tq, Index tk) {
  detail::check_scalar<Scalar>();
  ATTN_CHECK(heads >= 0 && tq >= 0 && tk >= 0, "attn::head_views: heads (" + std::to_string(heads) + "), tq (" +
                                                   std::to_string(tq) + ") and tk (" + std::to_string(tk) +
                                                   ") must be >= 0");
  std::vector<Eigen::Map<const Matrix<Scalar>>> views;
  views.reserve(static_cast<std::size_t>(heads));
  for (Index k = 0; k < heads; ++k) views.emplace_back(data + k * tq * tk, tq, tk);
  return views;
}

/// Views of every head of a multi-head result's weights (`HeadWeights::head(i)` for each i).
/// \param weights per-head weights, h×Tq×Tk
/// \return h read-only `Tq×Tk` maps into `weights`, valid until it is resized or destroyed
template <typename Scalar>
std::vector<Eigen::Map<const Matrix<Scalar>>> head_views(const HeadWeights<Scalar>& weights) {
  return head_views(weights.data(), weights.heads(), weights.rows(), weights.cols());
}

/// Combines per-head weights (any range of Eigen matrices of one shape Tq×Tk: a
/// `std::vector<attn::Matrix<S>>`, the `Eigen::Map`s of head_views, `Eigen::Ref`s, ...) entry
/// by entry: their mean, sum, maximum or minimum (attn::HeadReduction, shared with
/// HeadWeights::reduce). The mean of softmax rows is again a distribution; the others are not.
/// Throws on an empty range or heads of different shapes.
/// \tparam Heads a range with begin() and end() over Eigen matrices of float or double
/// \param heads the per-head weights, Tq×Tk each
/// \param how mean, sum, max or min
/// \return Tq×Tk
/// \throws attn::invalid_argument when `heads` is empty or the shapes differ
template <typename Heads>
Matrix<detail::head_scalar<Heads>> reduce_heads(const Heads& heads, HeadReduction how) {
  using Scalar = detail::head_scalar<Heads>;
  detail::check_scalar<Scalar>();
  detail::check_same_shapes("attn::reduce_heads", "heads", heads);
  Matrix<Scalar> r = *std::begin(heads);
  Index count = 0;
  for (const auto& m : heads) {
    if (count++ == 0) continue;
    switch (how) {
      case HeadReduction::mean:
      case HeadReduction::sum: r += m; break;
      case HeadReduction::max: r = r.cwiseMax(m); break;
      case HeadReduction::min: r = r.cwiseMin(m); break;
    }
  }
  if (how == HeadReduction::mean) r /= static_cast<Scalar>(count);
  return r;
}

/// reduce_heads over the heads listed in `subset` only (indices into `heads`, repeats allowed).
/// Throws on an empty subset or an index outside `[0, number of heads)`.
/// \param heads the per-head weights, Tq×Tk each
/// \param how mean, sum, max or min
/// \param subset indices into `heads`
/// \return Tq×Tk
/// \throws attn::invalid_argument when `heads` or `subset` is empty, the shapes differ, or an
///         index is out of range
template <typename Heads>
Matrix<detail::head_scalar<Heads>> reduce_heads(const Heads& heads, HeadReduction how,
                                                const std::vector<Index>& subset) {
  using Item = detail::head_type<Heads>;
  constexpr const char* fn = "attn::reduce_heads";
  detail::check_same_shapes(fn, "heads", heads);
  ATTN_CHECK(!subset.empty(), std::string(fn) + ": subset is empty");
  const auto count = static_cast<Index>(std::distance(std::begin(heads), std::end(heads)));
  std::vector<const Item*> all;
  all.reserve(static_cast<std::size_t>(count));
  for (const auto& m : heads) all.push_back(&m);
  std::vector<Eigen::Ref<const Matrix<detail::head_scalar<Heads>>>> chosen;
  chosen.reserve(subset.size());
  for (std::size_t k = 0; k < subset.size(); ++k) {
    const Index h = subset[k];
    ATTN_CHECK(h >= 0 && h < count, std::string(fn) + ": subset[" + std::to_string(k) + "] (" + std::to_string(h) +
                                        ") must be in [0, " + std::to_string(count) + ")");
    chosen.emplace_back(*all[static_cast<std::size_t>(h)]);
  }
  return reduce_heads(chosen, how);
}

// --- attention rollout -------------------------------------------------------------------------

/// Attention rollout and the rollout after each layer.
template <typename Scalar>
struct RolloutResult {
  Matrix<Scalar> rollout;             ///< T×T, R_L = Â_L···Â_1: top-layer tokens × input tokens
  std::vector<Matrix<Scalar>> steps;  ///< steps[l] = Â_l···Â_1 (steps.back() == rollout)
};

/// Attention rollout (Abnar & Zuidema 2020) of per-layer weights `layers` (first layer first;
/// any range of square T×T Eigen matrices, e.g. each layer's head mean from reduce_heads):
/// Â_l = (1 - identity_weight)·A_l + identity_weight·I with every row rescaled to sum to 1
/// (a row summing to 0 stays 0), then R_l = Â_l·R_{l-1}, R_1 = Â_1. Rows of R are the top
/// layer's tokens, columns the input tokens. `identity_weight` (0.5 in the paper) accounts
/// for the residual connections and must lie in [0, 1].
/// \tparam Layers a range with begin() and end() over Eigen matrices of float or double
/// \param layers per-layer weights, T×T each, first layer first
/// \param identity_weight weight of the identity, in [0, 1] (default 0.5)
/// \return the rollout (T×T) and the rollout after each layer
/// \throws attn::invalid_argument when `layers` is empty, the shapes differ or are not square,
///         or `identity_weight` is outside [0, 1] (or NaN)
template <typename Layers>
RolloutResult<detail::head_scalar<Layers>> attention_rollout(const Layers& layers, double identity_weight = 0.5) {
  using Scalar = detail::head_scalar<Layers>;
  detail::check_scalar<Scalar>();
  constexpr const char* fn = "attn::attention_rollout";
  const detail::SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  const auto [t, tk] = detail::check_same_shapes(fn, "layers", layers);
  ATTN_CHECK(t == tk, std::string(fn) + ": layers[0] " + detail::shape(t, tk) + " must be square");
  if (!(identity_weight >= 0.0 && identity_weight <= 1.0)) {
    std::ostringstream os;
    os.imbue(std::locale::classic());
    os << fn << ": identity_weight (" << identity_weight << ") must be in [0, 1]";
    throw invalid_argument(os.str());
  }
  const Scalar keep = static_cast<Scalar>(1.0 - identity_weight);
  const Scalar self = static_cast<Scalar>(identity_weight);

  RolloutResult<Scalar> r;
  Matrix<Scalar> a(t, t);
  for (const auto& layer : layers) {
    a = keep * layer;
    a.diagonal().array() += self;
    for (Index i = 0; i < t; ++i) {
      const Scalar s = a.row(i).sum();
      if (s != Scalar(0)) a.row(i) /= s;
    }
    if (r.steps.empty()) {
      r.steps.push_back(a);
    } else {
      Matrix<Scalar> next(t, t);
      next.noalias() = a * r.steps.back();
      r.steps.push_back(std::move(next));
    }
  }
  r.rollout = r.steps.back();
  return r;
}

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
  detail::check_scalar<Scalar>();
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
  detail::check_scalar<Scalar>();
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
