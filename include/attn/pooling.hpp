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
#include "mechanism.hpp"
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
  /// \throws attn::invalid_argument when `b` is not 1×1 or empty; `w` is checked by the call
  static PoolingParams seq_weighted(Matrix<Scalar> w, const Matrix<Scalar>& b = {}) {
    return {std::move(w),
            detail::factory_scalar<Scalar>("attn::PoolingParams::seq_weighted", "b", b,
                                           "the arguments follow get_weights(): W, b"),
            PoolingActivation::linear};
  }
  /// Feed-forward attention (Raffel & Ellis 2015), ``TimeDistributed(Dense(1, activation='tanh'))``
  /// then softmax over time: e_t = tanh(x_t·w + b).
  /// \param w d×1
  /// \param b 1×1, or empty (default) for no bias
  /// \return parameters with the tanh activation
  /// \throws attn::invalid_argument when `b` is not 1×1 or empty; `w` is checked by the call
  static PoolingParams feed_forward(Matrix<Scalar> w, const Matrix<Scalar>& b = {}) {
    return {std::move(w),
            detail::factory_scalar<Scalar>("attn::PoolingParams::feed_forward", "b", b,
                                           "the arguments follow get_weights(): kernel, bias"),
            PoolingActivation::tanh};
  }
};

namespace detail {

/// The attention-pooling layer (see detail::LayerOf): one query row.
template <typename S>
struct LayerOf<PoolingParams<S>> {
  using Scalar = S;

  static Index query_rows(Index) { return 1; }

  static void check(const char* fn, const PoolingParams<Scalar>& params, Index d) {
    check_shape(fn, "params.w", params.w, d, 1);
    ATTN_CHECK(params.b.size() == 0 || params.b.cols() == 1,
               std::string(fn) + ": params.b " + shape(params.b.rows(), params.b.cols()) + " must be (1x1) or empty");
  }

  // The one row is never padding: a key length hides steps from it.
  static Index padded_from(const Mask&, Index) { return 1; }

  template <typename F>
  static Index with_mask(const PoolingParams<Scalar>&, const Mask& mask, F&& f) {
    return f(mask);
  }

  template <typename DerivedX>
  static Index attend(const Eigen::MatrixBase<DerivedX>& x, const PoolingParams<Scalar>& params,
                      Eigen::Ref<Matrix<Scalar>> output, const Target<Scalar>& target, Workspace<Scalar>& ws,
                      const Mask& mask, const Options& options, Scalar scale) {
    // A dot scorer whose one query is the constant 1: keys prepared as x·w, e = 1·(x·w)ᵀ + b;
    // the feed-forward layer's tanh follows.
    const DotScorer<Scalar> scorer{view(params.w), false, Scalar(1), params.b.size() != 0 ? params.b(0) : Scalar(0)};
    const Scalar one = 1;
    const Eigen::Map<const Matrix<Scalar>> query(&one, 1, 1);
    auto prepared = buffers(ws).prepared.matrix(x.rows(), 1);
    scorer.prepare(x, prepared);
    // The keys transposed, 1×T: the same contiguous scalars as the T×1 prepared column, no copy.
    const Eigen::Map<const Matrix<Scalar>> keys_t(prepared.data(), 1, x.rows());
    const auto dot = one_row_scratch_scores(scorer, query, keys_t, ws);
    const bool tanh = params.activation == PoolingActivation::tanh;
    const auto scores = [&](Index i0, Index r, auto& block) {
      dot(i0, r, 0, block.cols(), block);  // every column (pooling's one row sees them all)
      if (tanh) block.array() = block.array().tanh();
    };
    return attend_blocks<Scalar>(scores, target, x, output, ws, mask, options, scale);
  }
};

}  // namespace detail

/// Attention pooling of `x` (T×d) into caller-owned `output` (1×d) and `weights` (1×T) with
/// scratch `ws`: `attn::attention_pooling_into(x, params, output, weights, ws [, mask,
/// options])`. `mask` applies to the one query row (row 0): `Mask::key_length(n)` hides padded
/// steps `>= n`, an explicit `1×T` matrix hides any steps. A sequence with no visible step gives
/// zero weights and a zero output (reported fully masked); the call returns 1 in that case, else
/// 0. In place of `weights`, attn::Sinks (or attn::no_weights: output only) take the 1×T
/// weights. Arguments and errors: attn::SequenceLayerIntoFn.
inline constexpr SequenceLayerIntoFn<PoolingParams> attention_pooling_into{"attn::attention_pooling"};

/// Attention pooling of `x` (T×d), value form: `attn::attention_pooling(x, params [, mask,
/// options])` returns output 1×d (the pooled vector), weights 1×T (what `return_attention=True`
/// returns), whether the sequence was fully masked, and with `options.return_scores` the scores
/// 1×T (after the activation, before the softmax). `attn::attention_pooling(x, params, sinks [,
/// mask, options])` sends the weights to sinks and returns the output and whether the sequence
/// was fully masked (attn::OutputResult). Arguments: attn::SequenceLayerFn.
inline constexpr SequenceLayerFn<PoolingParams> attention_pooling{"attn::attention_pooling"};

}  // namespace attn
