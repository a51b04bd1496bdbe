// SPDX-License-Identifier: MIT
// Analysis of attention maps (weights Tq×Tk, rows = queries/targets, columns = keys/sources):
// row entropy, alignment diagnostics (focus rate, guided attention loss), reductions over heads
// and attention rollout (Abnar & Zuidema 2020). Hard
// alignments and the alignment error rate are in alignment.hpp, included here.
#pragma once

#include "alignment.hpp"
#include "config.hpp"
#include "detail/row_entropy.hpp"
#include "detail/threads.hpp"
#include "head_weights.hpp"
#include "mask.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace attn {

// --- entropy -----------------------------------------------------------------------------------

/// Entropy of each row of `weights` (Tq×Tk) in nats: H_i = -Σ_j w_ij·log(w_ij) over the keys
/// that `mask` lets row i see (masked entries are excluded whatever they hold), with
/// 0·log 0 = 0. A uniform row over n visible keys gives log(n), a one-hot row 0, a fully masked
/// row 0. Returns a Tq vector. Divide by log(n) for a normalised entropy. Vectorised over rows
/// (Eigen's packet log); the attn::RowStats sink gives the same bits.
/// \param weights Tq×Tk
/// \param mask which entries count (default: all)
/// \return Tq entropies, >= 0 for weights in [0, 1]
/// \throws attn::invalid_argument when the mask does not fit Tq×Tk
template <typename Derived>
Vector<typename Derived::Scalar> row_entropy(const Eigen::MatrixBase<Derived>& weights, const Mask& mask = Mask()) {
  using Scalar = typename Derived::Scalar;
  static_assert(detail::check_scalar<Scalar>());
  const Index tq = weights.rows();
  const Index tk = weights.cols();
  mask.check("attn::row_entropy", tq, tk);
  constexpr Index B = detail::chunk_rows<Scalar>();
  Vector<Scalar> h(tq);
  for (Index i0 = 0; i0 < tq; i0 += B) {
    const Index n = std::min(B, tq - i0);
    const auto load = [&](Index j, detail::Lanes<Scalar>& x) {
      for (Index l = 0; l < n; ++l) x(l) = weights(i0 + l, j);
    };
    detail::entropy_chunk<Scalar>(i0, n, tq, tk, mask, load, h.data() + i0, nullptr);
  }
  return h;
}

// --- alignment diagnostics (speech, translation) -------------------------------------------------

/// Focus rate (FastSpeech, Ren et al. 2019; ESPnet's attention focus rate): how sharply the
/// queries attend, the mean over query rows of each row's largest visible weight. 1 for a hard
/// alignment, 1/n for rows uniform over n keys. Rows that see no key are left out; NaN when no
/// row sees one. Computed in double.
/// \param weights Tq×Tk (rows = decoder steps, columns = encoder steps)
/// \param mask which entries count (default: all)
/// \return the focus rate, in [0, 1] for weights in [0, 1]
/// \throws attn::invalid_argument when the mask does not fit Tq×Tk
template <typename Derived>
double focus_rate(const Eigen::MatrixBase<Derived>& weights, const Mask& mask = Mask()) {
  static_assert(detail::check_scalar<typename Derived::Scalar>());
  const Index tq = weights.rows();
  const Index tk = weights.cols();
  mask.check("attn::focus_rate", tq, tk);
  double sum = 0;
  Index rows = 0;
  for (Index i = 0; i < tq; ++i) {
    bool seen = false;
    double best = 0;
    const auto [first, last] = mask.band(i, tk);
    const auto& m = mask.explicit_matrix();
    for (Index j = first; j < last; ++j) {
      if (m && !(*m)(i, j)) continue;
      const auto w = static_cast<double>(weights(i, j));
      if (!seen || w > best) best = w;
      seen = true;
    }
    if (!seen) continue;
    sum += best;
    ++rows;
  }
  return rows > 0 ? sum / static_cast<double>(rows) : std::numeric_limits<double>::quiet_NaN();
}

/// Guided attention loss (Tachibana et al. 2018, "Efficiently trainable text-to-speech system
/// based on deep convolutional networks with guided attention"; ESPnet's GuidedAttentionLoss):
/// how far the weights lie from the diagonal, the mean over visible entries of
/// `w_ij · (1 − exp(−(j/n − i/Tq)² / (2g²)))`, i and j from 0, `n` the keys of the sequence
/// (mask.length() under a key-length mask, else Tk) and Tq the query rows. 0 for weights on the
/// diagonal band; for weights far from it, up to the mean visible weight (about 1/n when rows
/// sum to 1: the mean is over every visible entry, as ESPnet takes it). Compare runs of one
/// shape. `g` is the band's width (0.2 in the paper, 0.4 ESPnet's default). Computed in double;
/// NaN when no entry is visible.
/// \param weights Tq×Tk (rows = decoder steps, columns = encoder steps)
/// \param g the width of the diagonal band, > 0 and finite (default 0.2)
/// \param mask which entries count (default: all)
/// \return the loss, in [0, 1] for weights in [0, 1]
/// \throws attn::invalid_argument when g is not > 0 and finite or the mask does not fit Tq×Tk
template <typename Derived>
double guided_attention_loss(const Eigen::MatrixBase<Derived>& weights, double g = 0.2, const Mask& mask = Mask()) {
  static_assert(detail::check_scalar<typename Derived::Scalar>());
  constexpr const char* fn = "attn::guided_attention_loss";
  const Index tq = weights.rows();
  const Index tk = weights.cols();
  ATTN_CHECK(g > 0 && std::isfinite(g), std::string(fn) + ": g (" + detail::number_text(g) + ") must be > 0 and finite");
  mask.check(fn, tq, tk);
  const double n = static_cast<double>(mask.length() ? *mask.length() : tk);
  double sum = 0;
  double count = 0;
  const auto& m = mask.explicit_matrix();
  for (Index i = 0; i < tq; ++i) {
    const auto [first, last] = mask.band(i, tk);
    const double y = static_cast<double>(i) / static_cast<double>(tq);
    for (Index j = first; j < last; ++j) {
      if (m && !(*m)(i, j)) continue;
      const double d = static_cast<double>(j) / n - y;
      sum += static_cast<double>(weights(i, j)) * (1.0 - std::exp(-d * d / (2 * g * g)));
      count += 1;
    }
  }
  return count > 0 ? sum / count : std::numeric_limits<double>::quiet_NaN();
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
  static_assert(detail::check_scalar<Scalar>());
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
  static_assert(detail::check_scalar<Scalar>());
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
  constexpr const char* fn = "attn::attention_rollout";
  const detail::SerialCall<Scalar> serial;  // Eigen's products single-threaded (bit-identical results)
  const auto [t, tk] = detail::check_same_shapes(fn, "layers", layers);
  ATTN_CHECK(t == tk, std::string(fn) + ": layers[0] " + detail::shape(t, tk) + " must be square");
  ATTN_CHECK(identity_weight >= 0.0 && identity_weight <= 1.0,
             std::string(fn) + ": identity_weight (" + detail::number_text(identity_weight) + ") must be in [0, 1]");
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

}  // namespace attn
