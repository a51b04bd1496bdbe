// SPDX-License-Identifier: MIT
// Self-attention over one sequence X (T×d) as keras-self-attention's SeqSelfAttention:
// additive e_tt' = tanh(x_t·Wt + x_t'·Wx + bh)·Wa + ba, multiplicative e_tt' = x_t·Wa·x_t'ᵀ + ba,
// a local window or history-only mask; weights T×T, output = weights·X (T×d).
#pragma once

#include "config.hpp"
#include "detail/attend.hpp"
#include "mask.hpp"
#include "result.hpp"
#include "detail/scorers.hpp"
#include "mechanism.hpp"
#include "workspace.hpp"

#include <optional>
#include <string>
#include <utility>

namespace attn {

/// keras-self-attention's `attention_type`.
enum class SelfAttentionType { additive, multiplicative };

/// Parameters of SeqSelfAttention in Keras kernel layout (`x·W`); the Keras weight names are
/// in brackets (`<layer>_Add_Wt`, ...). Empty biases mean the layer was built without them
/// (`use_additive_bias=False`, `use_attention_bias=False`).
template <typename Scalar>
struct SeqSelfAttentionParams {
  /// Score function [attention_type]; default additive.
  SelfAttentionType type = SelfAttentionType::additive;
  Matrix<Scalar> wt;     ///< additive: d×units [Add_Wt]; multiplicative: empty
  Matrix<Scalar> wx;     ///< additive: d×units [Add_Wx]; multiplicative: empty
  RowVector<Scalar> bh;  ///< additive: 1×units or empty [Add_bh]; multiplicative: empty
  Matrix<Scalar> wa;     ///< additive: units×1 [Add_Wa]; multiplicative: d×d [Mul_Wa]
  RowVector<Scalar> ba;  ///< 1×1 or empty [Add_ba / Mul_ba]
  /// `attention_width`: unset for global attention. Row t sees keys
  /// ``t - width/2 <= t' < t - width/2 + width``, or ``t - width + 1 <= t' <= t`` when history only.
  std::optional<Index> width;
  /// `history_only`: row t sees no key after t (with no width: every key up to t).
  bool history_only = false;

  /// e_tt' = tanh(x_t·Wt + x_t'·Wx + bh)·Wa + ba. The arguments come in the order of the
  /// layer's `get_weights()` (`Add_Wt, Add_Wx, Add_bh, Add_Wa, Add_ba`), so unpacking that list
  /// in order is right; pass an empty `{}` for a bias the layer was built without.
  /// \param wt d×units [Add_Wt]
  /// \param wx d×units [Add_Wx]
  /// \param bh 1×units [Add_bh], or empty `{}` for none (`use_additive_bias=False`)
  /// \param wa units×1 [Add_Wa]
  /// \param ba 1×1 [Add_ba], or empty (default) for none (`use_attention_bias=False`)
  /// \return additive parameters with no width and history_only off
  /// \throws attn::invalid_argument when `bh` is not a vector (1×units or units×1) or empty, `wa`
  ///         not one column or `ba` not 1×1 or empty: most often the arguments out of order (the
  ///         call checks the sizes against x)
  static SeqSelfAttentionParams additive(Matrix<Scalar> wt, Matrix<Scalar> wx, const Matrix<Scalar>& bh,
                                         Matrix<Scalar> wa, const Matrix<Scalar>& ba = {}) {
    constexpr const char* fn = "attn::SeqSelfAttentionParams::additive";
    constexpr const char* order = "the arguments follow get_weights(): Wt, Wx, bh, Wa, ba";
    ATTN_CHECK(wa.cols() == 1, std::string(fn) + ": wa " + detail::shape(wa.rows(), wa.cols()) +
                                   " must be one column (units x 1); " + order);
    return {SelfAttentionType::additive, std::move(wt), std::move(wx),
            detail::factory_vector<Scalar>(fn, "bh", bh, order), std::move(wa),
            detail::factory_scalar<Scalar>(fn, "ba", ba, order), std::nullopt, false};
  }
  /// e_tt' = x_t·Wa·x_t'ᵀ + ba
  /// \param wa d×d
  /// \param ba 1×1, or empty (default) for none
  /// \return multiplicative parameters with no width and history_only off
  /// \throws attn::invalid_argument when `ba` is not 1×1 or empty
  static SeqSelfAttentionParams multiplicative(Matrix<Scalar> wa, const Matrix<Scalar>& ba = {}) {
    return {SelfAttentionType::multiplicative, {}, {}, {}, std::move(wa),
            detail::factory_scalar<Scalar>("attn::SeqSelfAttentionParams::multiplicative", "ba", ba,
                                           "the arguments follow get_weights(): Wa, ba"),
            std::nullopt, false};
  }
};

/// The mask of keras-self-attention's local attention: with a width, `Mask::window(width/2,
/// (width-1)/2)`, or `Mask::window(width-1, 0)` when history only; without a width,
/// `Mask::causal()` when history only, else the all-visible mask. Throws unless width > 0.
/// \param width `attention_width`; unset for global attention
/// \param history_only whether row t sees no key after t
/// \return the mask
/// \throws attn::invalid_argument when `width` is set and not > 0
inline Mask local_attention_mask(std::optional<Index> width, bool history_only) {
  if (width) {
    ATTN_CHECK(*width > 0, "attn::local_attention_mask: width (" + std::to_string(*width) + ") must be > 0");
    return history_only ? Mask::window(*width - 1, 0) : Mask::window(*width / 2, (*width - 1) / 2);
  }
  return history_only ? Mask::causal(0) : Mask();
}

namespace detail {

/// The SeqSelfAttention layer (see detail::LayerOf): one row per step.
template <typename S>
struct LayerOf<SeqSelfAttentionParams<S>> {
  using Scalar = S;

  static Index query_rows(Index t) { return t; }

  static void check(const char* fn, const SeqSelfAttentionParams<Scalar>& p, Index d) {
    const auto unused = [fn](Index size, const char* name) {
      ATTN_CHECK(size == 0, std::string(fn) + ": " + name + " is only used by the additive type");
    };
    if (p.width) {
      ATTN_CHECK(*p.width > 0, std::string(fn) + ": params.width (" + std::to_string(*p.width) + ") must be > 0");
    }
    // x is T×d; passed transposed (Keras' (batch, time, features) item read as features×time),
    // its width is T, which the kernels' rows then do not match.
    const char* x_layout = ", the input's depth (x is T×d, one row per time step: a transposed x shows T here)";
    if (p.type == SelfAttentionType::additive) {
      const Index units = p.wt.cols();
      ATTN_CHECK(p.wt.rows() == d, std::string(fn) + ": params.wt.rows() (" + std::to_string(p.wt.rows()) +
                                       ") must equal x.cols() (" + std::to_string(d) + ")" + x_layout);
      check_shape(fn, "params.wx", p.wx, d, units);
      check_shape(fn, "params.wa", p.wa, units, 1);
      ATTN_CHECK(p.bh.size() == 0 || p.bh.cols() == units,
                 std::string(fn) + ": params.bh " + shape(p.bh.rows(), p.bh.cols()) + " must be " + shape(1, units) +
                     " or empty" + column_hint("params.bh", p.bh.cols(), units));
    } else {
      ATTN_CHECK(p.wa.rows() == d && p.wa.cols() == d, std::string(fn) + ": params.wa " + shape(p.wa.rows(), p.wa.cols()) +
                                                           " must be " + shape(d, d) + ", d×d with d = x.cols()" +
                                                           x_layout);
      unused(p.wt.size(), "params.wt");
      unused(p.wx.size(), "params.wx");
      unused(p.bh.size(), "params.bh");
    }
    ATTN_CHECK(p.ba.size() == 0 || p.ba.cols() == 1,
               std::string(fn) + ": params.ba " + shape(p.ba.rows(), p.ba.cols()) + " must be (1x1) or empty");
  }

  // Rows past a key length n are padding, as the Keras mask makes them: they see no key.
  static Index padded_from(const Mask& mask, Index t) { return visible_prefix(mask, t); }

  // The window of the parameters intersected with the mask (a copy only then).
  template <typename F>
  static Index with_mask(const SeqSelfAttentionParams<Scalar>& params, const Mask& mask, F&& f) {
    if (params.width || params.history_only) return f(mask & local_attention_mask(params.width, params.history_only));
    return f(mask);
  }

  // The emissions of every pair (padded rows are scored too: the scores report them) through the
  // engine, the scale applied to e + ba before the probability function.
  template <typename DerivedX>
  static Index attend(const Eigen::MatrixBase<DerivedX>& x, const SeqSelfAttentionParams<Scalar>& params,
                      Eigen::Ref<Matrix<Scalar>> output, const Target<Scalar>& target, Workspace<Scalar>& ws,
                      const Mask& mask, const Options& options, Scalar scale) {
    const Scalar ba = params.ba.size() != 0 ? params.ba(0) : Scalar(0);
    const auto run = [&](const auto& scorer) {
      auto prepared = buffers(ws).prepared.matrix(x.rows(), scorer.prepared_size(x.cols()));
      scorer.prepare(x, prepared);
      return attend_prepared<Scalar>(scorer, x, prepared, x, output, target, ws, mask, options, std::nullopt, scale);
    };
    if (params.type == SelfAttentionType::additive) {
      const Index units = params.wt.cols();
      return run(AdditiveScorer<Scalar>{view(params.wt), view(params.wx), view(params.bh),
                                        RowView<Scalar>(units == 0 ? nullptr : params.wa.data(), units), ba});
    }
    return run(DotScorer<Scalar>{view(params.wa), true, Scalar(1), ba});
  }
};

}  // namespace detail

/// SeqSelfAttention over `x` (T×d) into caller-owned `output` (T×d) and `weights` (T×T), with
/// scratch `ws`: `attn::seq_self_attention_into(x, params, output, weights, ws [, mask,
/// options])`. The window of `params` is intersected with `mask`. A key length `n` in `mask`
/// marks steps `>= n` as padding on both axes, as the Keras mask does: no row sees them, and
/// their own rows of weights and output are zero and reported fully masked.
/// `options.probability` applies (softmax is the Keras layer); `options.scale`, when set,
/// multiplies the emissions before it (1 in the Keras layer). Returns the number of fully
/// masked rows. Allocates nothing once `ws` has seen these shapes, unless both a width and an
/// explicit matrix mask are given (the intersection copies the matrix). Also refused: a width
/// that is not > 0, a kernel set for the other type. In place of `weights`, attn::Sinks (or
/// attn::no_weights: output only) take the T×T weights block by block (sinks.hpp); the padded
/// steps' rows are zero there too, and reductions count them as seeing no key. Arguments and
/// errors: attn::SequenceLayerIntoFn.
inline constexpr SequenceLayerIntoFn<SeqSelfAttentionParams> seq_self_attention_into{"attn::seq_self_attention"};

/// SeqSelfAttention over `x` (T×d), value form: `attn::seq_self_attention(x, params [, mask,
/// options])` returns output T×d (keras `v`), weights T×T (keras `a`, what `return_attention=True`
/// returns), fully masked rows and, with `options.return_scores`, the emissions `e` (T×T, times
/// `options.scale` when set, before window, mask and softmax). `attn::seq_self_attention(x,
/// params, sinks [, mask, options])` sends the weights to sinks and returns the output and the
/// fully masked rows (attn::OutputResult). Arguments: attn::SequenceLayerFn.
inline constexpr SequenceLayerFn<SeqSelfAttentionParams> seq_self_attention{"attn::seq_self_attention"};

}  // namespace attn
