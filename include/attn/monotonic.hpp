// SPDX-License-Identifier: MIT
// Monotonic attention mechanisms (TF BahdanauMonotonicAttention, LuongMonotonicAttention): their
// scores, then the monotonic normaliser of monotonic_attention.hpp. Q Tq×dq, K Tk×dk, V Tk×dv.
#pragma once

#include "additive.hpp"
#include "config.hpp"
#include "detail/additive_scores.hpp"
#include "detail/attend.hpp"
#include "detail/binding.hpp"
#include "luong.hpp"
#include "mask.hpp"
#include "monotonic_attention.hpp"
#include "workspace.hpp"

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

namespace attn {

/// Result of a monotonic mechanism: like AttentionResult, plus the leaked mass and the expected
/// position per query row. `auto [output, weights] = attn::bahdanau_monotonic(...)` works.
template <typename Scalar>
struct MonotonicResult : detail::BindOutputWeights<MonotonicResult<Scalar>> {
  Matrix<Scalar> output;              ///< Tq×dv: weights·V (no renormalisation of the leaked mass)
  Matrix<Scalar> weights;             ///< Tq×Tk: the monotonic alignment, masked entries exactly 0
  Matrix<Scalar> scores;              ///< Tq×Tk: the energies `e + r` (score bias included, as TF's score), before noise and sigmoid; -inf on masked keys
  Matrix<Scalar> p_choose;            ///< Tq×Tk: the choosing probabilities `sigmoid(e + r + noise)` (0/1 in hard mode), 0 on masked keys
  RowFlags fully_masked;              ///< Tq: rows that saw no key (all-zero weights and output)
  Vector<Scalar> leaked;              ///< Tq: 1 − Σ_j weights(i, j)
  Vector<Scalar> expected_position;   ///< Tq: Σ_j j·w_ij / Σ_j w_ij, NaN for a zero row

  /// Number of queries that saw no key.
  /// \return the number of true entries of fully_masked
  Index num_fully_masked() const { return fully_masked.count(); }
};

namespace detail {

/// Luong energies into `scores` (Tq×Tk): dot g·Q·Kᵀ, general g·Q·W·Kᵀ, concat g·v·tanh([q,k]·W).
template <typename Scalar, typename DerivedQ, typename DerivedK>
void luong_scores(const char* fn, const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                  const LuongParams<Scalar>& params, Eigen::Ref<Matrix<Scalar>> scores, Workspace<Scalar>& ws) {
  const Index dq = q.cols();
  const Index dk = k.cols();
  const Scalar g = params.g ? *params.g : Scalar(1);
  switch (params.score) {
    case LuongScore::dot:
      check_equal(fn, "q.cols()", dq, "k.cols()", dk);
      scores.noalias() = g * q * k.transpose();
      break;
    case LuongScore::general: {
      check_shape(fn, "params.w", params.w, dq, dk);
      auto qw = detail::buffers(ws).queries.matrix(q.rows(), dk);
      qw.noalias() = g * q * params.w;
      scores.noalias() = qw * k.transpose();
      break;
    }
    case LuongScore::concat: {
      const Index units = params.v.cols();
      check_shape(fn, "params.w", params.w, dq + dk, units);
      auto pq = detail::buffers(ws).queries.matrix(q.rows(), units);
      pq.noalias() = q * parameter_rows(params.w, 0, dq);
      auto pk = detail::buffers(ws).keys.matrix(k.rows(), units);
      pk.noalias() = k * parameter_rows(params.w, dq, dk);
      additive_scores<Scalar>(pq, pk, params.v, scores, ws);
      if (params.g) scores *= g;
      break;
    }
  }
}

/// Shared tail of the value forms: scores are in `r.scores`; fills weights, output and stats.
template <typename Scalar, typename DerivedA, typename DerivedV, typename Noise>
void monotonic_finish(const char* fn, MonotonicResult<Scalar>& r, const Eigen::MatrixBase<DerivedA>& previous,
                      const Eigen::MatrixBase<DerivedV>& v, const MonotonicParams<Scalar>& m, const Mask& mask,
                      Noise& noise, Workspace<Scalar>& ws);

}  // namespace detail

namespace detail {

template <typename Scalar, typename DerivedA, typename DerivedV, typename Noise>
void monotonic_finish(const char* fn, MonotonicResult<Scalar>& r, const Eigen::MatrixBase<DerivedA>& previous,
                      const Eigen::MatrixBase<DerivedV>& v, const MonotonicParams<Scalar>& m, const Mask& mask,
                      Noise& noise, Workspace<Scalar>& ws) {
  const Index tq = r.scores.rows();
  const Index tk = r.scores.cols();
  check_shape(fn, "previous", previous, tq, tk);
  r.weights.resize(tq, tk);
  auto p = detail::buffers(ws).probabilities.matrix(tq, tk);
  if constexpr (is_no_noise<Noise>()) {
    monotonic_probability<Scalar>(r.scores, previous, m, mask, noise, p, r.weights);
  } else {
    StandardNormal<std::remove_reference_t<Noise>> normal(noise);
    monotonic_probability<Scalar>(r.scores, previous, m, mask, normal, p, r.weights);
  }
  r.p_choose = p;
  r.fully_masked.resize(tq);
  mask_fully_masked(mask, tq, tk, r.fully_masked);
  r.output.resize(tq, v.cols());
  monotonic_output<Scalar>(r.weights, v, r.output, ws, mask);
  for (Index i = 0; i < tq; ++i)
    if (r.fully_masked(i)) r.output.row(i).setZero();
  r.leaked.resize(tq);
  r.expected_position.resize(tq);
  alignment_stats_into(r.weights, r.leaked, r.expected_position);
}

}  // namespace detail

/// Bahdanau-monotonic attention (TF `BahdanauMonotonicAttention`): energies
/// `e_ij = v·tanh(q_i·Wq + k_j·Wk)` (normalized form as in attn::bahdanau), then
/// `p = sigmoid(e + r (+ noise))` and the monotonic recurrence from `previous` (Tq×Tk; use
/// monotonic_initial_alignment for the first step). Keys hidden by `mask` get `p = 0`.
/// `noise`: attn::NoNoise, a std::mt19937-like engine or a callable returning N(0,1) samples;
/// required when `monotonic.sigmoid_noise > 0`. Q Tq×dq, K Tk×dk, V Tk×dv.
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param previous previous alignment, Tq×Tk
/// \param params the Bahdanau parameters
/// \param monotonic mode, score bias and noise scale (default: parallel, 0, 0)
/// \param mask which keys each query may see (default: all)
/// \param noise the pre-sigmoid noise source (default: none)
/// \return output Tq×dv, weights Tq×Tk, the energies, fully_masked, leaked and expected_position
/// \throws attn::invalid_argument when a shape or parameter does not fit, or noise is needed but
///         not given
template <typename DerivedQ, typename DerivedK, typename DerivedV, typename DerivedA, typename Noise = NoNoise>
MonotonicResult<typename DerivedQ::Scalar> bahdanau_monotonic(
    const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k, const Eigen::MatrixBase<DerivedV>& v,
    const Eigen::MatrixBase<DerivedA>& previous, const BahdanauParams<typename DerivedQ::Scalar>& params,
    const MonotonicParams<typename DerivedQ::Scalar>& monotonic = {}, const Mask& mask = Mask(),
    Noise&& noise = Noise()) {
  using Scalar = typename DerivedQ::Scalar;
  detail::check_scalar<Scalar>();
  static_assert(std::is_same<Scalar, typename DerivedK::Scalar>::value &&
                    std::is_same<Scalar, typename DerivedV::Scalar>::value &&
                    std::is_same<Scalar, typename DerivedA::Scalar>::value,
                "attn::bahdanau_monotonic: q, k, v and previous must share one scalar type; use .cast<T>()");
  constexpr const char* fn = "attn::bahdanau_monotonic";
  const detail::SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  detail::check_params(fn, params);
  detail::check_monotonic_params(fn, monotonic, !detail::is_no_noise<Noise>());
  detail::check_equal(fn, "q.cols()", q.cols(), "params.wq.rows()", params.wq.rows());
  detail::check_equal(fn, "k.cols()", k.cols(), "params.wk.rows()", params.wk.rows());
  detail::check_equal(fn, "v.rows()", v.rows(), "k.rows()", k.rows());
  mask.check(fn, q.rows(), k.rows());

  MonotonicResult<Scalar> r;
  Workspace<Scalar> ws;
  auto pk = detail::buffers(ws).keys.matrix(k.rows(), params.units());
  pk.noalias() = k * params.wk;
  if (params.normalize && params.b.size() != 0) pk.rowwise() += params.b;
  auto pq = detail::buffers(ws).queries.matrix(q.rows(), params.units());
  pq.noalias() = q * params.wq;
  r.scores.resize(q.rows(), k.rows());
  if (params.normalize) {
    RowVector<Scalar> vv = (params.g / params.v.norm()) * params.v;
    detail::additive_scores<Scalar>(pq, pk, vv, r.scores, ws);
  } else {
    detail::additive_scores<Scalar>(pq, pk, params.v, r.scores, ws);
  }
  detail::monotonic_finish(fn, r, previous, v, monotonic, mask, noise, ws);
  return r;
}

/// Luong-monotonic attention (TF `LuongMonotonicAttention`): energies from attn::LuongParams
/// (dot `g·Q·Kᵀ`, general `g·Q·W·Kᵀ`, concat), then `p = sigmoid(e + r (+ noise))` and the
/// monotonic recurrence from `previous` (Tq×Tk). TF's form is `general` with `W` = the memory
/// layer's kernel transposed (keys = memory·W_m, e = g·q·keysᵀ). Keys hidden by `mask` get p = 0.
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param previous previous alignment, Tq×Tk
/// \param params the Luong score and its parameters (default: dot)
/// \param monotonic mode, score bias and noise scale (default: parallel, 0, 0)
/// \param mask which keys each query may see (default: all)
/// \param noise the pre-sigmoid noise source: attn::NoNoise (default), a std::mt19937-like
///        engine or a callable returning N(0,1) samples
/// \return output Tq×dv, weights Tq×Tk, the energies, fully_masked, leaked and expected_position
/// \throws attn::invalid_argument when a shape or parameter does not fit, or noise is needed but
///         not given
template <typename DerivedQ, typename DerivedK, typename DerivedV, typename DerivedA, typename Noise = NoNoise>
MonotonicResult<typename DerivedQ::Scalar> luong_monotonic(
    const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k, const Eigen::MatrixBase<DerivedV>& v,
    const Eigen::MatrixBase<DerivedA>& previous, const LuongParams<typename DerivedQ::Scalar>& params = {},
    const MonotonicParams<typename DerivedQ::Scalar>& monotonic = {}, const Mask& mask = Mask(),
    Noise&& noise = Noise()) {
  using Scalar = typename DerivedQ::Scalar;
  detail::check_scalar<Scalar>();
  static_assert(std::is_same<Scalar, typename DerivedK::Scalar>::value &&
                    std::is_same<Scalar, typename DerivedV::Scalar>::value &&
                    std::is_same<Scalar, typename DerivedA::Scalar>::value,
                "attn::luong_monotonic: q, k, v and previous must share one scalar type; use .cast<T>()");
  constexpr const char* fn = "attn::luong_monotonic";
  const detail::SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  detail::check_monotonic_params(fn, monotonic, !detail::is_no_noise<Noise>());
  detail::check_equal(fn, "v.rows()", v.rows(), "k.rows()", k.rows());
  mask.check(fn, q.rows(), k.rows());

  MonotonicResult<Scalar> r;
  Workspace<Scalar> ws;
  r.scores.resize(q.rows(), k.rows());
  detail::luong_scores<Scalar>(fn, q, k, params, r.scores, ws);
  detail::monotonic_finish(fn, r, previous, v, monotonic, mask, noise, ws);
  return r;
}

}  // namespace attn

ATTN_BIND_OUTPUT_WEIGHTS(MonotonicResult)
