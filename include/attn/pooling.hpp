// SPDX-License-Identifier: MIT
// Attention pooling of one sequence X (T×d) into one vector: e_t = x_t·w + b, or tanh of it,
// a = softmax over time, output = Σ_t a_t·x_t (1×d); weights 1×T. keras-self-attention's
// SeqWeightedAttention and the feed-forward attention `TimeDistributed(Dense(1, 'tanh'))`.
#pragma once

#include "config.hpp"
#include "detail/attend.hpp"
#include "mask.hpp"
#include "result.hpp"
#include "detail/scorers.hpp"
#include "workspace.hpp"

#include <string>
#include <utility>

namespace attn {

/// What is applied to `x_t·w + b` before the softmax over time.
enum class PoolingActivation { linear, tanh };

/// Parameters of attention pooling in Keras kernel layout; Keras names in brackets.
template <typename Scalar>
struct PoolingParams {
  Matrix<Scalar> w;      ///< d×1 [SeqWeightedAttention `<name>_W`; Dense(1) `kernel`]
  RowVector<Scalar> b;   ///< 1×1 or empty [SeqWeightedAttention `<name>_b`; Dense(1) `bias`]
  /// linear (SeqWeightedAttention) or tanh (feed-forward attention)
  PoolingActivation activation = PoolingActivation::linear;

  /// keras-self-attention SeqWeightedAttention: e_t = x_t·w + b.
  /// \param w d×1
  /// \param b 1×1, or empty (default) for no bias
  /// \return parameters with the linear activation
  static PoolingParams seq_weighted(Matrix<Scalar> w, RowVector<Scalar> b = {}) {
    return {std::move(w), std::move(b), PoolingActivation::linear};
  }
  /// Feed-forward attention (Raffel & Ellis 2015), ``TimeDistributed(Dense(1, activation='tanh'))``
  /// then softmax over time: e_t = tanh(x_t·w + b).
  /// \param w d×1
  /// \param b 1×1, or empty (default) for no bias
  /// \return parameters with the tanh activation
  static PoolingParams feed_forward(Matrix<Scalar> w, RowVector<Scalar> b = {}) {
    return {std::move(w), std::move(b), PoolingActivation::tanh};
  }
};

/// Attention pooling of `x` (T×d) into caller-owned `output` (1×d) and `weights` (1×T) with
/// scratch `ws`. `mask` applies to the one query row (row 0): `Mask::key_length(n)` hides
/// padded steps `>= n`, an explicit `1×T` matrix hides any steps. A sequence with no visible
/// step gives zero weights and a zero output (reported fully masked). Returns 1 in that case, else 0.
/// \param x the sequence, T×d
/// \param params w, b and the activation
/// \param output 1×d, written
/// \param weights 1×T, written
/// \param ws reusable scratch
/// \param mask which steps are visible to the one query row
/// \param options probability function, return_scores and the scale (a factor on the scores)
/// \return 1 when no step was visible, else 0
template <typename DerivedX>
Index attention_pooling_into(const Eigen::MatrixBase<DerivedX>& x, const PoolingParams<typename DerivedX::Scalar>& params,
                             Eigen::Ref<Matrix<typename DerivedX::Scalar>> output,
                             Eigen::Ref<Matrix<typename DerivedX::Scalar>> weights,
                             Workspace<typename DerivedX::Scalar>& ws, const Mask& mask = Mask(),
                             const Options& options = Options()) {
  using Scalar = typename DerivedX::Scalar;
  detail::check_scalar<Scalar>();
  constexpr const char* fn = "attn::attention_pooling";
  const detail::SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  const Index t = x.rows();
  detail::check_shape(fn, "params.w", params.w, x.cols(), 1);
  ATTN_CHECK(params.b.size() == 0 || params.b.cols() == 1,
             std::string(fn) + ": params.b " + detail::shape(params.b.rows(), params.b.cols()) +
                 " must be (1x1) or empty");
  detail::check_into<Scalar>(fn, 1, t, x.cols(), output, weights, mask, options);
  const Scalar scale = detail::score_scale<Scalar>(fn, options, Scalar(1));

  // A dot scorer whose one query is the constant 1: keys prepared as x·w, e = 1·(x·w)ᵀ + b;
  // the feed-forward layer's tanh follows.
  const detail::DotScorer<Scalar> scorer{detail::view(params.w), false, Scalar(1),
                                         params.b.size() != 0 ? params.b(0) : Scalar(0)};
  const Scalar one = 1;
  const Eigen::Map<const Matrix<Scalar>> query(&one, 1, 1);
  auto prepared = detail::buffers(ws).prepared.matrix(t, 1);
  scorer.prepare(x, prepared);
  scorer.scores(query, prepared, weights, ws);
  if (params.activation == PoolingActivation::tanh) weights.array() = weights.array().tanh();
  return detail::finish(weights, x, output, ws, mask, options, scale);
}

/// Attention pooling of `x` (T×d): output 1×d (the pooled vector), weights 1×T (what
/// `return_attention=True` returns), whether the sequence was fully masked, and with
/// `options.return_scores` the scores 1×T (after the activation, before the softmax).
/// \param x the sequence, T×d
/// \param params w, b and the activation
/// \param mask which steps are visible
/// \param options probability function and return_scores
/// \return output 1×d, weights 1×T, fully_masked (and scores when asked)
template <typename DerivedX>
AttentionResult<typename DerivedX::Scalar> attention_pooling(const Eigen::MatrixBase<DerivedX>& x,
                                                             const PoolingParams<typename DerivedX::Scalar>& params,
                                                             const Mask& mask = Mask(),
                                                             const Options& options = Options()) {
  using Scalar = typename DerivedX::Scalar;
  return detail::run<Scalar>(1, x.rows(), x.cols(), options, [&](auto& out, auto& w, auto& ws) {
    attention_pooling_into(x, params, out, w, ws, mask, options);
  });
}

}  // namespace attn
