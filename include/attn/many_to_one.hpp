// SPDX-License-Identifier: MIT
// Many-to-one attention as philipperemy/keras-attention's `Attention` layer: the hidden states
// H (T×d) of an RNN attend from their last state h_T. Luong score_s = h_T·(h_s·W)ᵀ (W the
// key-side kernel, as attn::LuongParams::memory_layer(W) scores with q = h_T, K = H), Bahdanau
// score_s = tanh(h_T·W1 + h_s·W2)·v; context = a·H (1×d); output tanh([context, h_T]·Wc) (1×units).
#pragma once

#include "config.hpp"
#include "detail/binding.hpp"
#include "detail/scorers.hpp"
#include "detail/attend.hpp"
#include "mask.hpp"
#include "result.hpp"
#include "sinks.hpp"
#include "workspace.hpp"

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace attn {

/// keras-attention's `score` argument.
// GCC 12's -Wshadow takes these scoped enumerators for redeclarations of attn::luong and
// attn::bahdanau (the callable objects) when both are visible; they are not.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#endif
enum class ManyToOneScore { luong, bahdanau };
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/// Parameters of the many-to-one layer in Keras kernel layout (all Dense layers have no bias).
/// Keras layer names in brackets (keras-attention 5.x; 3.x/4.x names after the slash).
template <typename Scalar>
struct ManyToOneParams {
  /// Score function [score]; default luong.
  ManyToOneScore score = ManyToOneScore::luong;
  Matrix<Scalar> w;   ///< luong: d×d [luong_w / attention_score_vec]; bahdanau: empty
  Matrix<Scalar> w1;  ///< bahdanau: d×units, applied to h_T [bahdanau_w1]; luong: empty
  Matrix<Scalar> w2;  ///< bahdanau: d×units, applied to every h_s [bahdanau_w2]; luong: empty
  Matrix<Scalar> v;   ///< bahdanau: units×1 [bahdanau_v]; luong: empty
  Matrix<Scalar> wc;  ///< 2d×out, rows [context; h_T] [attention_vector]

  /// score_s = h_T·(h_s·W)ᵀ: W is applied to the hidden states (the keys), as keras-attention's
  /// `luong_w` Dense layer is; the same score as `LuongParams::memory_layer(W)` with q = h_T.
  /// \param w d×d [luong_w], as Keras holds it
  /// \param wc 2d×out
  /// \return parameters of the luong score
  static ManyToOneParams luong(Matrix<Scalar> w, Matrix<Scalar> wc) {
    return {ManyToOneScore::luong, std::move(w), {}, {}, {}, std::move(wc)};
  }
  /// score_s = tanh(h_T·W1 + h_s·W2)·v
  /// \param w1 d×units
  /// \param w2 d×units
  /// \param v units×1
  /// \param wc 2d×out
  /// \return parameters of the bahdanau score
  static ManyToOneParams bahdanau(Matrix<Scalar> w1, Matrix<Scalar> w2, Matrix<Scalar> v, Matrix<Scalar> wc) {
    return {ManyToOneScore::bahdanau, {}, std::move(w1), std::move(w2), std::move(v), std::move(wc)};
  }
};

/// What the many-to-one layer computes for one sequence. `auto [output, weights] = ...` binds
/// the first two members.
template <typename Scalar>
struct ManyToOneResult : detail::BindOutputWeights<ManyToOneResult<Scalar>> {
  Matrix<Scalar> output;   ///< 1×out: tanh([context, h_T]·Wc), what the Keras layer returns
  Matrix<Scalar> weights;  ///< 1×T: softmax of the scores [attention_weight]
  Matrix<Scalar> context;  ///< 1×d: weights·H [context_vector]
  Matrix<Scalar> scores;   ///< 1×T with Options::return_scores [attention_score], else 0×0
  RowFlags fully_masked;   ///< 1 flag: true when no step was visible (everything above is zero)

  /// 1 when no step was visible, else 0.
  /// \return the number of true entries of fully_masked
  Index num_fully_masked() const { return fully_masked.count(); }
};

namespace detail {

template <typename Scalar>
void check_many_to_one_params(const char* fn, const ManyToOneParams<Scalar>& p, Index d) {
  if (p.score == ManyToOneScore::luong) {
    check_shape(fn, "params.w", p.w, d, d);
    ATTN_CHECK(p.w1.size() == 0 && p.w2.size() == 0 && p.v.size() == 0,
               std::string(fn) + ": params.w1, params.w2 and params.v are only used by the bahdanau score");
  } else {
    const Index units = p.w1.cols();
    check_equal(fn, "params.w1.rows()", p.w1.rows(), "h.cols()", d);
    check_shape(fn, "params.w2", p.w2, d, units);
    check_shape(fn, "params.v", p.v, units, 1);
    ATTN_CHECK(p.w.size() == 0, std::string(fn) + ": params.w is only used by the luong score");
  }
  check_equal(fn, "params.wc.rows()", p.wc.rows(), "2 * h.cols()", 2 * d);
}

}  // namespace detail

namespace detail {

/// The `_into` form of many-to-one attention, its weights going to `weights`: a 1×T matrix
/// (Eigen::Ref) or attn::Sinks (begun after every other check). With sinks the scores are
/// computed into the storage of a FullWeights among them, else the workspace's block buffer
/// (1×T), and the engine normalises them there and hands the row to the sinks.
template <typename DerivedH, typename W>
Index many_to_one_with(const Eigen::MatrixBase<DerivedH>& h, const ManyToOneParams<typename DerivedH::Scalar>& params,
                       Eigen::Ref<Matrix<typename DerivedH::Scalar>> output, W& weights,
                       Eigen::Ref<Matrix<typename DerivedH::Scalar>> context, Workspace<typename DerivedH::Scalar>& ws,
                       const Mask& mask, const Options& options) {
  using Scalar = typename DerivedH::Scalar;
  constexpr const char* fn = "attn::many_to_one";
  const SerialCall<Scalar> serial;  // Eigen's products single-threaded (bit-identical results)
  const Index t = h.rows();
  const Index d = h.cols();
  check_many_to_one_params(fn, params, d);
  check_into<Scalar>(fn, 1, t, params.wc.cols(), output, weights, mask, options);
  check_shape(fn, "context", context, 1, d);
  {  // outputs apart from h and from each other (check_outputs_apart)
    const Storage<Scalar> hs = storage_of(h);
    const Storage<Scalar> out = storage_of(output);
    const Storage<Scalar> ctx = storage_of(context);
    check_apart(fn, "context", ctx, "h", hs);
    check_apart(fn, "output", out, "h", hs);
    check_apart(fn, "output", out, "context", ctx);
    if constexpr (!std::is_same<std::decay_t<W>, Sinks<Scalar>>::value) {
      const Storage<Scalar> w = storage_of(weights);
      check_apart(fn, "weights", w, "h", hs);
      check_apart(fn, "weights", w, "output", out);
      check_apart(fn, "weights", w, "context", ctx);
    }
  }
  const Scalar scale = score_scale<Scalar>(fn, options, Scalar(1));
  Target<Scalar> target;
  if constexpr (std::is_same<std::decay_t<W>, Sinks<Scalar>>::value) {
    target = begin_sinks(fn, weights, 1, t, mask);
    if (!target.full) {
      target.full = buffers(ws).block.matrix(1, t).data();
      target.stride = 1;
    }
  } else {
    target = full_target<Scalar>(weights);
  }
  Eigen::Map<Matrix<Scalar>, 0, Eigen::OuterStride<>> storage(target.full, 1, t, Eigen::OuterStride<>(target.stride));
  const Eigen::Ref<Matrix<Scalar>> scores(storage);  // the scores, normalised in place into the weights

  // The query is the last step the mask lets the one query row see (h_{n-1} under
  // Mask::key_length(n)); a masked step is never read, not even as the query.
  Index last_visible = -1;
  for (Index j = t - 1; j >= 0 && last_visible < 0; --j)
    if (mask.visible(0, j, t)) last_visible = j;
  auto query = buffers(ws).vector.matrix(1, d);  // zero when no step is visible
  if (last_visible >= 0) {
    query = h.row(last_visible);
  } else {
    query.setZero();
  }

  // The scores of the one query against every step (the scorer of params).
  if (params.score == ManyToOneScore::luong) {
    const DotScorer<Scalar> scorer{view(params.w), false, Scalar(1), Scalar(0)};  // keys h_s·W
    score_keys(scorer, query, h, scores, ws);
  } else {
    const Index units = params.w1.cols();
    const AdditiveScorer<Scalar> scorer{view(params.w1), view(params.w2), RowView<Scalar>(nullptr, 0),
                                        RowView<Scalar>(units == 0 ? nullptr : params.v.data(), units), Scalar(0)};
    score_keys(scorer, query, h, scores, ws);
  }
  const Index count = attend_blocks<Scalar>(InPlaceScores{}, target, h, context, ws, mask, options, scale);

  if (last_visible < 0) {
    output.setZero();
    return count;
  }
  output.noalias() = context * params.wc.topRows(d);
  output.noalias() += query * params.wc.bottomRows(d);
  output.array() = output.array().tanh();
  return count;
}

}  // namespace detail

/// Many-to-one attention over hidden states `h` (T×d) into caller-owned `output` (1×out),
/// `weights` (1×T) and `context` (1×d), with scratch `ws`. The query is the last state h_T;
/// under a mask it is the last step that query row 0 sees: with `Mask::key_length(n)` h_{n-1},
/// the last real step (a masked Keras RNN repeats it into the padding); with a window, causal
/// or matrix mask the last visible step. A masked step is never read, not even as the query.
/// With no visible step (e.g. `Mask::causal(-1)`, an all-false matrix) weights, context and
/// output are all zero, the row is flagged fully masked and 1 is returned, else 0.
/// \param h hidden states, T×d
/// \param params score and Dense kernels
/// \param output 1×out, written
/// \param weights 1×T, written
/// \param context 1×d, written
/// \param ws reusable scratch; reports the fully masked row and the scores of the last call
/// \param mask which steps are visible (default: all)
/// \param options probability function, return_scores and the scale (a factor on the scores)
/// \return 1 when no step was visible, else 0
/// \throws attn::invalid_argument when a kernel of `params` does not fit d (or is set for the
///         other score), an output has another shape, the mask does not fit, or `options.scale` is not finite
template <typename DerivedH>
Index many_to_one_into(const Eigen::MatrixBase<DerivedH>& h, const ManyToOneParams<typename DerivedH::Scalar>& params,
                       Eigen::Ref<Matrix<typename DerivedH::Scalar>> output,
                       Eigen::Ref<Matrix<typename DerivedH::Scalar>> weights,
                       Eigen::Ref<Matrix<typename DerivedH::Scalar>> context, Workspace<typename DerivedH::Scalar>& ws,
                       const Mask& mask = Mask(), const Options& options = Options()) {
  return detail::many_to_one_with(h, params, output, weights, context, ws, mask, options);
}

/// many_to_one_into with the weights (1×T) going to `sinks` instead of a matrix (attn::no_weights:
/// the layer's output and context only, as the Keras layer returns them). Output, context and
/// reports are those of the form with `weights`, bit for bit, and the sinks see its row.
/// \param h hidden states, T×d
/// \param params score and Dense kernels
/// \param output 1×out, written
/// \param sinks where the 1×T weights go (one sink, attn::Sinks<Scalar>(a, b, ...), or attn::no_weights)
/// \param context 1×d, written
/// \param ws reusable scratch; reports the fully masked row and the scores of the last call
/// \param mask which steps are visible (default: all)
/// \param options probability function, return_scores and the scale (a factor on the scores)
/// \return 1 when no step was visible, else 0
/// \throws attn::invalid_argument as the form with `weights`, or when a sink does not fit
template <typename DerivedH>
Index many_to_one_into(const Eigen::MatrixBase<DerivedH>& h, const ManyToOneParams<typename DerivedH::Scalar>& params,
                       Eigen::Ref<Matrix<typename DerivedH::Scalar>> output,
                       const Sinks<typename DerivedH::Scalar>& sinks,
                       Eigen::Ref<Matrix<typename DerivedH::Scalar>> context, Workspace<typename DerivedH::Scalar>& ws,
                       const Mask& mask = Mask(), const Options& options = Options()) {
  return detail::many_to_one_with(h, params, output, sinks, context, ws, mask, options);
}

/// Many-to-one attention over hidden states `h` (T×d): the attention vector (1×out), the
/// weights (1×T), the context (1×d) and, with `options.return_scores`, the scores (1×T).
/// See many_to_one_into.
/// \param h hidden states, T×d
/// \param params score and Dense kernels
/// \param mask which steps are visible (default: all)
/// \param options probability function, return_scores and the scale (a factor on the scores)
/// \return output 1×out, weights 1×T, context 1×d, fully_masked (and scores when asked)
/// \throws attn::invalid_argument as many_to_one_into does
template <typename DerivedH>
ManyToOneResult<typename DerivedH::Scalar> many_to_one(const Eigen::MatrixBase<DerivedH>& h,
                                                       const ManyToOneParams<typename DerivedH::Scalar>& params,
                                                       const Mask& mask = Mask(), const Options& options = Options()) {
  using Scalar = typename DerivedH::Scalar;
  ManyToOneResult<Scalar> r;
  r.output.resize(1, params.wc.cols());
  r.weights.resize(1, h.rows());
  r.context.resize(1, h.cols());
  Workspace<Scalar> ws;
  many_to_one_into(h, params, r.output, r.weights, r.context, ws, mask, options);
  r.fully_masked = ws.fully_masked();
  if (options.return_scores) r.scores = ws.scores();
  return r;
}

/// Many-to-one attention over hidden states `h` (T×d), the weights going to `sinks` instead of a
/// matrix (attn::no_weights: the layer's output only, as Keras returns it): the output (1×out),
/// the fully masked flag and, with `options.return_scores`, the scores (an attn::OutputResult, as
/// the other Keras layers' sink forms; many_to_one_into gives the context too).
/// \param h hidden states, T×d
/// \param params score and Dense kernels
/// \param sinks where the 1×T weights go (see sinks.hpp)
/// \param mask which steps are visible (default: all)
/// \param options probability function, return_scores and the scale (a factor on the scores)
/// \return output 1×out, fully_masked (and scores when asked)
/// \throws attn::invalid_argument as many_to_one_into does
template <typename DerivedH>
OutputResult<typename DerivedH::Scalar> many_to_one(const Eigen::MatrixBase<DerivedH>& h,
                                                    const ManyToOneParams<typename DerivedH::Scalar>& params,
                                                    const Sinks<typename DerivedH::Scalar>& sinks,
                                                    const Mask& mask = Mask(), const Options& options = Options()) {
  using Scalar = typename DerivedH::Scalar;
  return detail::run_sinks<Scalar>(1, params.wc.cols(), options, [&](auto& output, auto& ws) {
    Matrix<Scalar> context(1, h.cols());
    many_to_one_into(h, params, output, sinks, context, ws, mask, options);
  });
}

}  // namespace attn

ATTN_BIND_OUTPUT_WEIGHTS(ManyToOneResult)
