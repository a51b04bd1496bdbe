// SPDX-License-Identifier: MIT
// Bahdanau (additive) attention, TF BahdanauAttention: e_ij = v·tanh(q_i·Wq + k_j·Wk);
// normalized: e_ij = (g·v/‖v‖)·tanh(q_i·Wq + k_j·Wk + b). Q Tq×dq, K Tk×dk, V Tk×dv.
// K·Wk (+ b) depends on the memory only: prepare it once with prepare_keys, reuse it per query.
#pragma once

#include "config.hpp"
#include "detail/attend.hpp"
#include "mask.hpp"
#include "result.hpp"
#include "detail/scorers.hpp"
#include "workspace.hpp"

#include <cmath>
#include <string>
#include <type_traits>

namespace attn {

/// Parameters of Bahdanau attention (Keras kernel layout, `x·W`). TF names in brackets.
template <typename Scalar>
struct BahdanauParams {
  Matrix<Scalar> wq;        ///< dq×units  [query_layer kernel]
  Matrix<Scalar> wk;        ///< dk×units  [memory_layer kernel]
  RowVector<Scalar> v;      ///< 1×units   [attention_v]
  bool normalize = false;   ///< weight normalization (TF `normalize=True`)
  Scalar g = Scalar(1);     ///< normalized only [attention_g]
  RowVector<Scalar> b;      ///< normalized only, 1×units or empty for zeros [attention_b]

  /// \return the number of hidden units, `v.cols()`
  Index units() const { return v.cols(); }
};

/// Keys projected once per memory: `K·Wk (+ b when normalized)`, Tk×units.
template <typename Scalar>
struct BahdanauKeys {
  Matrix<Scalar> projected;  ///< Tk×units
  bool normalized = false;  ///< whether `b` is folded in
};

namespace detail {

template <typename Scalar>
void check_params(const char* fn, const BahdanauParams<Scalar>& p) {
  const Index u = p.units();
  check_equal(fn, "params.wq.cols()", p.wq.cols(), "params.v.cols()", u);
  check_equal(fn, "params.wk.cols()", p.wk.cols(), "params.v.cols()", u);
  if (p.normalize) {
    ATTN_CHECK(p.b.size() == 0 || p.b.cols() == u,
               std::string(fn) + ": params.b " + shape(p.b.rows(), p.b.cols()) + " must be " + shape(1, u) +
                   " or empty");
    ATTN_CHECK(p.v.squaredNorm() > Scalar(0), std::string(fn) + ": params.v must be non-zero when normalize is set");
    ATTN_CHECK(std::isfinite(p.g), std::string(fn) + ": params.g must be finite");
  } else {
    ATTN_CHECK(p.b.size() == 0, std::string(fn) + ": params.b is only used when normalize is set");
    ATTN_CHECK(p.g == Scalar(1), std::string(fn) + ": params.g is only used when normalize is set");
  }
}

}  // namespace detail

namespace detail {

/// The scorer of `p` (checked): an AdditiveScorer with keys `K·Wk (+ b when normalized)` and the
/// effective `v` (`scale·v`, or `scale·g·v/‖v‖` when normalized) in `ws`'s vector buffer when it
/// differs from `p.v`.
template <typename Scalar>
AdditiveScorer<Scalar> bahdanau_scorer(const char* fn, const BahdanauParams<Scalar>& p, Scalar scale,
                                       Workspace<Scalar>& ws) {
  check_params(fn, p);
  const Index units = p.units();
  const Scalar* v = p.v.size() == 0 ? nullptr : p.v.data();
  if (p.normalize || scale != Scalar(1)) {
    auto effective = buffers(ws).vector.matrix(1, units);
    if (p.normalize) {
      effective = (scale * p.g / p.v.norm()) * p.v;  // g·v/‖v‖
    } else {
      effective = scale * p.v;
    }
    v = effective.data();
  }
  const bool with_b = p.normalize && p.b.size() != 0;
  return {view(p.wq), view(p.wk), with_b ? view(p.b) : RowView<Scalar>(nullptr, 0), RowView<Scalar>(v, units), Scalar(0)};
}

template <typename DerivedK>
BahdanauKeys<typename DerivedK::Scalar> prepare_keys(const char* fn,
                                                     const BahdanauParams<typename DerivedK::Scalar>& params,
                                                     const Eigen::MatrixBase<DerivedK>& k) {
  using Scalar = typename DerivedK::Scalar;
  check_scalar<Scalar>();
  Workspace<Scalar> ws;
  const auto scorer = bahdanau_scorer(fn, params, Scalar(1), ws);
  scorer.check(fn, k.cols());
  const SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  BahdanauKeys<Scalar> keys;
  keys.projected.resize(k.rows(), params.units());
  scorer.prepare(k, keys.projected);
  keys.normalized = params.normalize;
  return keys;
}

}  // namespace detail

/// Projects the memory's keys once (`K·Wk`, plus `b` when normalized). K is Tk×dk.
/// \param params the Bahdanau parameters (wk, and b when normalized)
/// \param k keys, Tk×dk
/// \return the projected keys, Tk×units
template <typename DerivedK>
BahdanauKeys<typename DerivedK::Scalar> prepare_keys(const BahdanauParams<typename DerivedK::Scalar>& params,
                                                     const Eigen::MatrixBase<DerivedK>& k) {
  return detail::prepare_keys("attn::prepare_keys", params, k);
}

namespace detail {

/// bahdanau_into, the weights to a matrix or to sinks (`W`).
template <typename DerivedQ, typename DerivedV, typename W>
Index bahdanau_prepared_into(const Eigen::MatrixBase<DerivedQ>& q, const BahdanauKeys<typename DerivedQ::Scalar>& keys,
                             const Eigen::MatrixBase<DerivedV>& v, const BahdanauParams<typename DerivedQ::Scalar>& params,
                             Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output, W& weights,
                             Workspace<typename DerivedQ::Scalar>& ws, const Mask& mask, const Options& options) {
  using Scalar = typename DerivedQ::Scalar;
  detail::check_scalar<Scalar>();
  static_assert(std::is_same<Scalar, typename DerivedV::Scalar>::value,
                "attn::bahdanau: q and v must share one scalar type; use .cast<T>()");
  constexpr const char* fn = "attn::bahdanau";
  const detail::SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  detail::check_params(fn, params);
  const Index tk = keys.projected.rows();
  detail::check_equal(fn, "q.cols()", q.cols(), "params.wq.rows()", params.wq.rows());
  detail::check_equal(fn, "keys.projected.cols()", keys.projected.cols(), "params.v.cols()", params.units());
  ATTN_CHECK(keys.normalized == params.normalize,
             std::string(fn) + ": keys were prepared with normalize = " + (keys.normalized ? "true" : "false") +
                 " but params.normalize is " + (params.normalize ? "true" : "false"));
  detail::check_equal(fn, "v.rows()", v.rows(), "keys.projected.rows()", tk);
  detail::check_shape(fn, "output", output, q.rows(), v.cols());
  detail::check_weights<Scalar>(fn, weights, q.rows(), tk);
  mask.check(fn, q.rows(), tk);
  detail::check_probability(fn, options.probability);
  const auto scorer = detail::bahdanau_scorer(fn, params, detail::score_scale<Scalar>(fn, options, Scalar(1)), ws);
  const auto target = detail::target_of<Scalar>(fn, weights, q.rows(), tk, mask);
  return detail::attend_prepared<Scalar>(scorer, q, keys.projected, v, output, target, ws, mask, options);
}

}  // namespace detail

/// Bahdanau attention against prepared keys, into caller-owned `output` (Tq×dv) and
/// `weights` (Tq×Tk) with scratch `ws`. Returns the number of fully masked query rows.
/// \param q queries, Tq×dq
/// \param keys keys prepared by prepare_keys() with the same `params`
/// \param v values, Tk×dv
/// \param params the Bahdanau parameters
/// \param output Tq×dv, written
/// \param weights Tq×Tk, written
/// \param ws reusable scratch; reports the fully masked rows and the scores of the last call
/// \param mask which keys each query may see
/// \param options probability function, return_scores and the scale (a factor on the scores)
/// \return the number of queries that saw no key
template <typename DerivedQ, typename DerivedV>
Index bahdanau_into(const Eigen::MatrixBase<DerivedQ>& q, const BahdanauKeys<typename DerivedQ::Scalar>& keys,
                    const Eigen::MatrixBase<DerivedV>& v, const BahdanauParams<typename DerivedQ::Scalar>& params,
                    Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output,
                    Eigen::Ref<Matrix<typename DerivedQ::Scalar>> weights, Workspace<typename DerivedQ::Scalar>& ws,
                    const Mask& mask = Mask(), const Options& options = Options()) {
  return detail::bahdanau_prepared_into(q, keys, v, params, output, weights, ws, mask, options);
}

/// bahdanau_into with the weights going to `sinks` instead of a Tq×Tk matrix (attn::no_weights:
/// output only; see sinks.hpp). The scores are computed block by block on one thread (the
/// additive score uses workspace buffers), the same arithmetic per row as the form with `weights`.
/// \param q queries, Tq×dq
/// \param keys keys prepared by prepare_keys() with the same `params`
/// \param v values, Tk×dv
/// \param params the Bahdanau parameters
/// \param output Tq×dv, written
/// \param sinks where the weights go
/// \param ws reusable scratch
/// \param mask which keys each query may see
/// \param options probability function, return_scores and the scale (a factor on the scores)
/// \return the number of queries that saw no key
template <typename DerivedQ, typename DerivedV>
Index bahdanau_into(const Eigen::MatrixBase<DerivedQ>& q, const BahdanauKeys<typename DerivedQ::Scalar>& keys,
                    const Eigen::MatrixBase<DerivedV>& v, const BahdanauParams<typename DerivedQ::Scalar>& params,
                    Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output, const Sinks<typename DerivedQ::Scalar>& sinks,
                    Workspace<typename DerivedQ::Scalar>& ws, const Mask& mask = Mask(),
                    const Options& options = Options()) {
  return detail::bahdanau_prepared_into(q, keys, v, params, output, sinks, ws, mask, options);
}

/// Bahdanau attention with the weights going to `sinks`: output, fully masked rows (and scores).
/// \param q queries, Tq×dq
/// \param keys keys prepared by prepare_keys() with the same `params`
/// \param v values, Tk×dv
/// \param params the Bahdanau parameters
/// \param sinks where the weights go (attn::no_weights: output only)
/// \param mask which keys each query may see
/// \param options probability function and return_scores
/// \return output, fully_masked (and scores when asked)
template <typename DerivedQ, typename DerivedV>
OutputResult<typename DerivedQ::Scalar> bahdanau(const Eigen::MatrixBase<DerivedQ>& q,
                                                 const BahdanauKeys<typename DerivedQ::Scalar>& keys,
                                                 const Eigen::MatrixBase<DerivedV>& v,
                                                 const BahdanauParams<typename DerivedQ::Scalar>& params,
                                                 const Sinks<typename DerivedQ::Scalar>& sinks,
                                                 const Mask& mask = Mask(), const Options& options = Options()) {
  using Scalar = typename DerivedQ::Scalar;
  return detail::run_sinks<Scalar>(q.rows(), v.cols(), options, [&](auto& out, auto& ws) {
    bahdanau_into(q, keys, v, params, out, sinks, ws, mask, options);
  });
}

/// Bahdanau attention with the weights going to `sinks`, preparing the keys `k` (Tk×dk) first.
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params the Bahdanau parameters (Keras kernel layout)
/// \param sinks where the weights go (attn::no_weights: output only)
/// \param mask which keys each query may see
/// \param options probability function and return_scores
/// \return output, fully_masked (and scores when asked)
template <typename DerivedQ, typename DerivedK, typename DerivedV>
OutputResult<typename DerivedQ::Scalar> bahdanau(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                                                 const Eigen::MatrixBase<DerivedV>& v,
                                                 const BahdanauParams<typename DerivedQ::Scalar>& params,
                                                 const Sinks<typename DerivedQ::Scalar>& sinks,
                                                 const Mask& mask = Mask(), const Options& options = Options()) {
  static_assert(std::is_same<typename DerivedQ::Scalar, typename DerivedK::Scalar>::value,
                "attn::bahdanau: q and k must share one scalar type; use .cast<T>()");
  detail::check_equal("attn::bahdanau", "v.rows()", v.rows(), "k.rows()", k.rows());
  return bahdanau(q, detail::prepare_keys("attn::bahdanau", params, k), v, params, sinks, mask, options);
}

/// Bahdanau attention against prepared keys (the decoder-step case: prepare once, call per step).
/// \param q queries, Tq×dq
/// \param keys keys prepared by prepare_keys() with the same `params`
/// \param v values, Tk×dv
/// \param params the Bahdanau parameters
/// \param mask which keys each query may see
/// \param options probability function and return_scores
/// \return output, weights, fully_masked (and scores when asked)
template <typename DerivedQ, typename DerivedV>
AttentionResult<typename DerivedQ::Scalar> bahdanau(const Eigen::MatrixBase<DerivedQ>& q,
                                                    const BahdanauKeys<typename DerivedQ::Scalar>& keys,
                                                    const Eigen::MatrixBase<DerivedV>& v,
                                                    const BahdanauParams<typename DerivedQ::Scalar>& params,
                                                    const Mask& mask = Mask(), const Options& options = Options()) {
  using Scalar = typename DerivedQ::Scalar;
  return detail::run<Scalar>(q.rows(), keys.projected.rows(), v.cols(), options, [&](auto& out, auto& w, auto& ws) {
    bahdanau_into(q, keys, v, params, out, w, ws, mask, options);
  });
}

/// Bahdanau attention. Returns output (Tq×dv), weights (Tq×Tk), fully masked rows and,
/// with `options.return_scores`, the scores.
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params the Bahdanau parameters (Keras kernel layout)
/// \param mask which keys each query may see
/// \param options probability function and return_scores
/// \return output, weights, fully_masked (and scores when asked)
template <typename DerivedQ, typename DerivedK, typename DerivedV>
AttentionResult<typename DerivedQ::Scalar> bahdanau(const Eigen::MatrixBase<DerivedQ>& q,
                                                    const Eigen::MatrixBase<DerivedK>& k,
                                                    const Eigen::MatrixBase<DerivedV>& v,
                                                    const BahdanauParams<typename DerivedQ::Scalar>& params,
                                                    const Mask& mask = Mask(), const Options& options = Options()) {
  static_assert(std::is_same<typename DerivedQ::Scalar, typename DerivedK::Scalar>::value,
                "attn::bahdanau: q and k must share one scalar type; use .cast<T>()");
  detail::check_equal("attn::bahdanau", "v.rows()", v.rows(), "k.rows()", k.rows());
  return bahdanau(q, detail::prepare_keys("attn::bahdanau", params, k), v, params, mask, options);
}

}  // namespace attn
