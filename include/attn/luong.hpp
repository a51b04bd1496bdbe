// SPDX-License-Identifier: MIT
// Luong (multiplicative) attention, TF LuongAttention / Keras Attention: dot e = Q·Kᵀ,
// general e = Q·W·Kᵀ (W dq×dk; from a key-side kernel W_m with LuongParams::memory_layer), concat e_ij = v·tanh([q_i, k_j]·W) (W (dq+dk)×u, v 1×u);
// an optional scalar g multiplies the score (TF scale=True). Q Tq×dq, K Tk×dk, V Tk×dv.
#pragma once

#include "config.hpp"
#include "detail/attend.hpp"
#include "mask.hpp"
#include "result.hpp"
#include "detail/scorers.hpp"
#include "workspace.hpp"

#include <cmath>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace attn {

/// Luong score functions.
enum class LuongScore { dot, general, concat };

template <typename Scalar>
struct LuongParams;

namespace detail {
/// The score is one of the enumerators and `g`, when set, is finite.
template <typename Scalar>
void check_luong_params(const char* fn, const LuongParams<Scalar>& p) {
  ATTN_CHECK(p.score == LuongScore::dot || p.score == LuongScore::general || p.score == LuongScore::concat,
             std::string(fn) + ": params.score (" + std::to_string(static_cast<int>(p.score)) +
                 ") must be dot, general or concat");
  ATTN_CHECK(!p.g || std::isfinite(*p.g), std::string(fn) + ": params.g must be finite");
}
}  // namespace detail

/// Parameters of Luong attention (Keras kernel layout: `in×out`, applied as `x·W`).
template <typename Scalar>
struct LuongParams {
  LuongScore score = LuongScore::dot;  ///< which score function
  Matrix<Scalar> w;         ///< general: dq×dk; concat: (dq+dk)×units; dot: unused (empty)
  RowVector<Scalar> v;      ///< concat: 1×units; otherwise unused (empty)
  std::optional<Scalar> g;  ///< scalar multiplying the score (TF `scale=True`); unset = 1

  /// e = g·Q·Kᵀ
  /// \param g score factor (TF `scale=True`); unset: 1
  /// \return parameters of the dot score (dq must equal dk)
  static LuongParams dot(std::optional<Scalar> g = std::nullopt) { return {LuongScore::dot, {}, {}, g}; }
  /// e = g·Q·W·Kᵀ, W dq×dk
  /// \param w dq×dk
  /// \param g score factor; unset: 1
  /// \return parameters of the general score
  static LuongParams general(Matrix<Scalar> w, std::optional<Scalar> g = std::nullopt) {
    return {LuongScore::general, std::move(w), {}, g};
  }
  /// The general score from the kernel a framework applies to the keys, as it is: TF
  /// `LuongAttention`'s `memory_layer` kernel (keys = memory·W_m, e = g·q·keysᵀ) or
  /// keras-attention's `luong_w` (attn::many_to_one). e = g·Q·(K·W_m)ᵀ = g·Q·W_mᵀ·Kᵀ, so this is
  /// `general(W_m.transpose(), g)`: the prepared memory holds the keys `K·W_m`.
  /// \param memory_kernel dk×dq, Keras layout (applied as `K·W_m`)
  /// \param g score factor (TF `scale=True`); unset: 1
  /// \return parameters of the general score with `w` = memory_kernelᵀ (dq×dk)
  static LuongParams memory_layer(const Matrix<Scalar>& memory_kernel, std::optional<Scalar> g = std::nullopt) {
    return {LuongScore::general, memory_kernel.transpose(), {}, g};
  }
  /// e_ij = g·v·tanh([q_i, k_j]·W), W (dq+dk)×units, v 1×units
  /// \param w (dq+dk)×units: its first dq rows apply to the query, the rest to the key
  /// \param v 1×units
  /// \param g score factor; unset: 1
  /// \return parameters of the concat score
  static LuongParams concat(Matrix<Scalar> w, RowVector<Scalar> v, std::optional<Scalar> g = std::nullopt) {
    return {LuongScore::concat, std::move(w), std::move(v), g};
  }
};

/// Keys projected once per memory for Luong attention (prepare_keys): `g·K` (dot), `g·K·Wᵀ`
/// (general), or `K·W[dq:]` (concat; g rides on v then), Tk×(dk, dq or units).
template <typename Scalar>
struct LuongKeys {
  Matrix<Scalar> projected;              ///< Tk×(dk, dq or units)
  LuongScore score = LuongScore::dot;    ///< the score function they were prepared for
  Scalar g = Scalar(1);                  ///< the `g` they were prepared with (1 when unset)
};

namespace detail {

/// dq of a Luong memory of key width `dk`: dk (dot), `w.rows()` (general), `w.rows() - dk` (concat).
template <typename Scalar>
Index luong_query_size(const char* fn, const LuongParams<Scalar>& p, Index dk) {
  check_luong_params(fn, p);
  if (p.score == LuongScore::dot) return dk;
  if (p.score == LuongScore::general) return p.w.rows();
  ATTN_CHECK(p.w.rows() > dk, std::string(fn) + ": params.w.rows() (" + std::to_string(p.w.rows()) +
                                   ") must exceed k.cols() (" + std::to_string(dk) + ") for concat");
  return p.w.rows() - dk;
}

/// Calls `f(scorer)` with the scorer of `p` for queries of width `dq` and keys of width `dk`
/// (checked): dot and general are DotScorers with scale `g·scale`, concat an AdditiveScorer
/// whose `v` is `g·scale·v` (in `ws`'s vector buffer when that factor is not 1).
template <typename Scalar, typename F>
Index with_luong_scorer(const char* fn, const LuongParams<Scalar>& p, Index dq, Index dk, Scalar scale,
                        Workspace<Scalar>& ws, F&& f) {
  check_luong_params(fn, p);
  const Scalar g = (p.g ? *p.g : Scalar(1)) * scale;
  if (p.score == LuongScore::concat) {
    const Index units = p.v.cols();
    check_shape(fn, "params.w", p.w, dq + dk, units);
    const Scalar* v = p.v.size() == 0 ? nullptr : p.v.data();
    if (g != Scalar(1)) {
      auto gv = buffers(ws).vector.matrix(1, units);
      gv = g * p.v;
      v = gv.data();
    }
    const AdditiveScorer<Scalar> scorer{parameter_rows(p.w, 0, dq), parameter_rows(p.w, dq, dk),
                                        RowView<Scalar>(nullptr, 0), RowView<Scalar>(v, units), Scalar(0)};
    return f(scorer);
  }
  if (p.score == LuongScore::dot) {
    check_equal(fn, "q.cols()", dq, "k.cols()", dk);
  } else {
    check_shape(fn, "params.w", p.w, dq, dk);
  }
  const DotScorer<Scalar> scorer{p.score == LuongScore::general ? view(p.w) : no_parameter<Scalar>(), true, g, Scalar(0)};
  return f(scorer);
}

}  // namespace detail

/// Projects the memory's keys once for Luong attention (`g·K`, `g·K·Wᵀ`, or `K·W[dq:]`).
/// \param params the Luong score and its parameters
/// \param k keys, Tk×dk
/// \return the prepared keys, for luong() and luong_into() with the same `params`
/// \throws attn::invalid_argument when `params` does not fit dk
template <typename DerivedK>
LuongKeys<typename DerivedK::Scalar> prepare_keys(const LuongParams<typename DerivedK::Scalar>& params,
                                                  const Eigen::MatrixBase<DerivedK>& k) {
  using Scalar = typename DerivedK::Scalar;
  detail::check_scalar<Scalar>();
  constexpr const char* fn = "attn::prepare_keys";
  const detail::SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  const Index dk = k.cols();
  LuongKeys<Scalar> keys;
  keys.score = params.score;
  keys.g = params.g ? *params.g : Scalar(1);
  Workspace<Scalar> ws;
  detail::with_luong_scorer(fn, params, detail::luong_query_size(fn, params, dk), dk, Scalar(1), ws,
                            [&](const auto& scorer) {
                              keys.projected.resize(k.rows(), scorer.prepared_size(dk));
                              scorer.prepare(k, keys.projected);
                              return Index(0);
                            });
  return keys;
}

namespace detail {

/// luong_into with keys, the weights to a matrix or to sinks (`W`).
template <typename DerivedQ, typename DerivedK, typename DerivedV, typename W>
Index luong_keys_into(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                      const Eigen::MatrixBase<DerivedV>& v, const LuongParams<typename DerivedQ::Scalar>& params,
                      Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output, W& weights,
                      Workspace<typename DerivedQ::Scalar>& ws, const Mask& mask, const Options& options) {
  using Scalar = typename DerivedQ::Scalar;
  detail::check_scalar<Scalar>();
  static_assert(std::is_same<Scalar, typename DerivedK::Scalar>::value &&
                    std::is_same<Scalar, typename DerivedV::Scalar>::value,
                "attn::luong: q, k and v must share one scalar type; use .cast<T>()");
  constexpr const char* fn = "attn::luong";
  const detail::SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  detail::check_equal(fn, "v.rows()", v.rows(), "k.rows()", k.rows());
  detail::check_shape(fn, "output", output, q.rows(), v.cols());
  detail::check_weights<Scalar>(fn, weights, q.rows(), k.rows());
  mask.check(fn, q.rows(), k.rows());
  detail::check_probability(fn, options.probability);
  const Scalar scale = detail::score_scale<Scalar>(fn, options, Scalar(1));
  return detail::with_luong_scorer(fn, params, q.cols(), k.cols(), scale, ws, [&](const auto& scorer) {
    const auto target = detail::target_of<Scalar>(fn, weights, q.rows(), k.rows(), mask);
    return detail::attend_keys<Scalar>(scorer, q, k, v, output, target, ws, mask, options);
  });
}

}  // namespace detail

/// Luong attention into caller-owned `output` (Tq×dv) and `weights` (Tq×Tk) with scratch `ws`.
/// Returns the number of fully masked query rows.
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params score function (dot, general, concat) and its parameters
/// \param output Tq×dv, written
/// \param weights Tq×Tk, written
/// \param ws reusable scratch; reports the fully masked rows and the scores of the last call
/// \param mask which keys each query may see
/// \param options probability function, return_scores and the scale (a factor on g)
/// \return the number of queries that saw no key
template <typename DerivedQ, typename DerivedK, typename DerivedV>
Index luong_into(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                 const Eigen::MatrixBase<DerivedV>& v, const LuongParams<typename DerivedQ::Scalar>& params,
                 Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output,
                 Eigen::Ref<Matrix<typename DerivedQ::Scalar>> weights, Workspace<typename DerivedQ::Scalar>& ws,
                 const Mask& mask = Mask(), const Options& options = Options()) {
  return detail::luong_keys_into(q, k, v, params, output, weights, ws, mask, options);
}


namespace detail {

/// luong_into with prepared keys, the weights to a matrix or to sinks (`W`).
template <typename DerivedQ, typename DerivedV, typename W>
Index luong_prepared_into(const Eigen::MatrixBase<DerivedQ>& q, const LuongKeys<typename DerivedQ::Scalar>& keys,
                          const Eigen::MatrixBase<DerivedV>& v, const LuongParams<typename DerivedQ::Scalar>& params,
                          Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output, W& weights,
                          Workspace<typename DerivedQ::Scalar>& ws, const Mask& mask, const Options& options) {
  using Scalar = typename DerivedQ::Scalar;
  detail::check_scalar<Scalar>();
  static_assert(std::is_same<Scalar, typename DerivedV::Scalar>::value,
                "attn::luong: q and v must share one scalar type; use .cast<T>()");
  constexpr const char* fn = "attn::luong";
  const detail::SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  const Index tk = keys.projected.rows();
  ATTN_CHECK(keys.score == params.score && keys.g == (params.g ? *params.g : Scalar(1)),
             std::string(fn) + ": the keys were prepared for other parameters (score or g); prepare_keys(params, k) again");
  detail::check_equal(fn, "v.rows()", v.rows(), "keys.projected.rows()", tk);
  detail::check_shape(fn, "output", output, q.rows(), v.cols());
  detail::check_weights<Scalar>(fn, weights, q.rows(), tk);
  mask.check(fn, q.rows(), tk);
  detail::check_probability(fn, options.probability);
  const Scalar scale = detail::score_scale<Scalar>(fn, options, Scalar(1));
  // The key width the parameters imply (the prepared keys no longer show it).
  const Index dq = q.cols();
  const Index dk = params.score == LuongScore::dot       ? keys.projected.cols()
                   : params.score == LuongScore::general ? params.w.cols()
                                                         : params.w.rows() - dq;
  if (params.score != LuongScore::concat)
    detail::check_equal(fn, "q.cols()", dq, "keys.projected.cols()", keys.projected.cols());
  return detail::with_luong_scorer(fn, params, dq, dk, scale, ws, [&](const auto& scorer) {
    detail::check_equal(fn, "keys.projected.cols()", keys.projected.cols(), "the key width of params",
                        scorer.prepared_size(dk));
    // A DotScorer's keys carry g already: the options' scale is applied before the softmax.
    // An AdditiveScorer folds g and the scale into its v.
    const Scalar rest = std::decay_t<decltype(scorer)>::parallel_blocks ? scale : Scalar(1);
    const auto target = detail::target_of<Scalar>(fn, weights, q.rows(), tk, mask);
    return detail::attend_prepared<Scalar>(scorer, q, keys.projected, v, output, target, ws, mask, options,
                                           std::nullopt, rest);
  });
}

}  // namespace detail

/// Luong attention against keys prepared once (prepare_keys with the same `params`): the
/// decoder-step case. Same arithmetic as the other overload.
/// \param q queries, Tq×dq
/// \param keys keys prepared by prepare_keys() with the same `params`
/// \param v values, Tk×dv
/// \param params the Luong score and its parameters
/// \param output Tq×dv, written
/// \param weights Tq×Tk, written
/// \param ws reusable scratch
/// \param mask which keys each query may see
/// \param options probability function, return_scores and the scale (a factor on g)
/// \return the number of queries that saw no key
/// \throws attn::invalid_argument when the keys were prepared for another score or g, or a
///         shape does not fit
template <typename DerivedQ, typename DerivedV>
Index luong_into(const Eigen::MatrixBase<DerivedQ>& q, const LuongKeys<typename DerivedQ::Scalar>& keys,
                 const Eigen::MatrixBase<DerivedV>& v, const LuongParams<typename DerivedQ::Scalar>& params,
                 Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output,
                 Eigen::Ref<Matrix<typename DerivedQ::Scalar>> weights, Workspace<typename DerivedQ::Scalar>& ws,
                 const Mask& mask = Mask(), const Options& options = Options()) {
  return detail::luong_prepared_into(q, keys, v, params, output, weights, ws, mask, options);
}

/// luong_into with the weights going to `sinks` instead of a Tq×Tk matrix (attn::no_weights:
/// output only; see sinks.hpp). Output and reports are those of the form with `weights`.
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params score function (dot, general, concat) and its parameters
/// \param output Tq×dv, written
/// \param sinks where the weights go
/// \param ws reusable scratch
/// \param mask which keys each query may see
/// \param options probability function, return_scores and the scale (a factor on g)
/// \return the number of queries that saw no key
template <typename DerivedQ, typename DerivedK, typename DerivedV>
Index luong_into(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                 const Eigen::MatrixBase<DerivedV>& v, const LuongParams<typename DerivedQ::Scalar>& params,
                 Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output, const Sinks<typename DerivedQ::Scalar>& sinks,
                 Workspace<typename DerivedQ::Scalar>& ws, const Mask& mask = Mask(),
                 const Options& options = Options()) {
  return detail::luong_keys_into(q, k, v, params, output, sinks, ws, mask, options);
}

/// luong_into against prepared keys with the weights going to `sinks` (see the other forms).
/// \param q queries, Tq×dq
/// \param keys keys prepared by prepare_keys() with the same `params`
/// \param v values, Tk×dv
/// \param params the Luong score and its parameters
/// \param output Tq×dv, written
/// \param sinks where the weights go
/// \param ws reusable scratch
/// \param mask which keys each query may see
/// \param options probability function, return_scores and the scale (a factor on g)
/// \return the number of queries that saw no key
template <typename DerivedQ, typename DerivedV>
Index luong_into(const Eigen::MatrixBase<DerivedQ>& q, const LuongKeys<typename DerivedQ::Scalar>& keys,
                 const Eigen::MatrixBase<DerivedV>& v, const LuongParams<typename DerivedQ::Scalar>& params,
                 Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output, const Sinks<typename DerivedQ::Scalar>& sinks,
                 Workspace<typename DerivedQ::Scalar>& ws, const Mask& mask = Mask(),
                 const Options& options = Options()) {
  return detail::luong_prepared_into(q, keys, v, params, output, sinks, ws, mask, options);
}

/// Luong attention with the weights going to `sinks`: output, fully masked rows (and scores).
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params score function and its parameters
/// \param sinks where the weights go (attn::no_weights: output only)
/// \param mask which keys each query may see
/// \param options probability function, return_scores and the scale
/// \return output, fully_masked (and scores when asked)
template <typename DerivedQ, typename DerivedK, typename DerivedV>
OutputResult<typename DerivedQ::Scalar> luong(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                                              const Eigen::MatrixBase<DerivedV>& v,
                                              const LuongParams<typename DerivedQ::Scalar>& params,
                                              const Sinks<typename DerivedQ::Scalar>& sinks, const Mask& mask = Mask(),
                                              const Options& options = Options()) {
  using Scalar = typename DerivedQ::Scalar;
  return detail::run_sinks<Scalar>(q.rows(), v.cols(), options, [&](auto& out, auto& ws) {
    luong_into(q, k, v, params, out, sinks, ws, mask, options);
  });
}

/// Luong attention; defaults to the dot score. Returns output (Tq×dv), weights (Tq×Tk),
/// fully masked rows and, with `options.return_scores`, the scores.
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params score function and its parameters (default: dot)
/// \param mask which keys each query may see
/// \param options probability function, return_scores and the scale (a factor on g)
/// \return output, weights, fully_masked (and scores when asked)
template <typename DerivedQ, typename DerivedK, typename DerivedV>
AttentionResult<typename DerivedQ::Scalar> luong(const Eigen::MatrixBase<DerivedQ>& q,
                                                 const Eigen::MatrixBase<DerivedK>& k,
                                                 const Eigen::MatrixBase<DerivedV>& v,
                                                 const LuongParams<typename DerivedQ::Scalar>& params = {},
                                                 const Mask& mask = Mask(), const Options& options = Options()) {
  using Scalar = typename DerivedQ::Scalar;
  return detail::run<Scalar>(q.rows(), k.rows(), v.cols(), options, [&](auto& out, auto& w, auto& ws) {
    luong_into(q, k, v, params, out, w, ws, mask, options);
  });
}

/// Luong attention against prepared keys (value form of the prepared luong_into).
/// \param q queries, Tq×dq
/// \param keys keys prepared by prepare_keys() with the same `params`
/// \param v values, Tk×dv
/// \param params the Luong score and its parameters
/// \param mask which keys each query may see
/// \param options probability function, return_scores and the scale
/// \return output, weights, fully_masked (and scores when asked)
template <typename DerivedQ, typename DerivedV>
AttentionResult<typename DerivedQ::Scalar> luong(const Eigen::MatrixBase<DerivedQ>& q,
                                                 const LuongKeys<typename DerivedQ::Scalar>& keys,
                                                 const Eigen::MatrixBase<DerivedV>& v,
                                                 const LuongParams<typename DerivedQ::Scalar>& params,
                                                 const Mask& mask = Mask(), const Options& options = Options()) {
  using Scalar = typename DerivedQ::Scalar;
  return detail::run<Scalar>(q.rows(), keys.projected.rows(), v.cols(), options, [&](auto& out, auto& w, auto& ws) {
    luong_into(q, keys, v, params, out, w, ws, mask, options);
  });
}

}  // namespace attn
