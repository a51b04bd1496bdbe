// SPDX-License-Identifier: MIT
// Luong (multiplicative) attention, TF LuongAttention / Keras Attention: dot e = Q·Kᵀ,
// general e = Q·W·Kᵀ (W dq×dk; from a key-side kernel W_m with LuongParams::memory_layer), concat e_ij = v·tanh([q_i, k_j]·W) (W (dq+dk)×u, v 1×u);
// an optional scalar g multiplies the score (TF scale=True). Q Tq×dq, K Tk×dk, V Tk×dv.
#pragma once

#include "config.hpp"
#include "detail/additive_scores.hpp"
#include "detail/attend.hpp"
#include "mask.hpp"
#include "result.hpp"
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
/// \param options probability function and return_scores
/// \return the number of queries that saw no key
template <typename DerivedQ, typename DerivedK, typename DerivedV>
Index luong_into(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                 const Eigen::MatrixBase<DerivedV>& v, const LuongParams<typename DerivedQ::Scalar>& params,
                 Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output,
                 Eigen::Ref<Matrix<typename DerivedQ::Scalar>> weights, Workspace<typename DerivedQ::Scalar>& ws,
                 const Mask& mask = Mask(), const Options& options = Options()) {
  using Scalar = typename DerivedQ::Scalar;
  detail::check_scalar<Scalar>();
  static_assert(std::is_same<Scalar, typename DerivedK::Scalar>::value &&
                    std::is_same<Scalar, typename DerivedV::Scalar>::value,
                "attn::luong: q, k and v must share one scalar type; use .cast<T>()");
  constexpr const char* fn = "attn::luong";
  const detail::SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  const Index dq = q.cols();
  const Index dk = k.cols();
  detail::check_equal(fn, "v.rows()", v.rows(), "k.rows()", k.rows());
  detail::check_shape(fn, "output", output, q.rows(), v.cols());
  detail::check_shape(fn, "weights", weights, q.rows(), k.rows());
  mask.check(fn, q.rows(), k.rows());
  ATTN_CHECK(!options.scale, std::string(fn) + ": options.scale is for scaled_dot_product; use params.g");
  detail::check_luong_params(fn, params);
  const Scalar g = params.g ? *params.g : Scalar(1);

  switch (params.score) {
    case LuongScore::dot:
      detail::check_equal(fn, "q.cols()", dq, "k.cols()", dk);
      weights.noalias() = q * k.transpose();  // g is applied in finish()
      break;
    case LuongScore::general: {
      detail::check_shape(fn, "params.w", params.w, dq, dk);
      auto qw = detail::buffers(ws).queries.matrix(q.rows(), dk);
      qw.noalias() = q * params.w;
      weights.noalias() = qw * k.transpose();
      break;
    }
    case LuongScore::concat: {
      const Index units = params.v.cols();
      detail::check_shape(fn, "params.w", params.w, dq + dk, units);
      auto pq = detail::buffers(ws).queries.matrix(q.rows(), units);
      pq.noalias() = q * detail::parameter_rows(params.w, 0, dq);
      auto pk = detail::buffers(ws).keys.matrix(k.rows(), units);
      pk.noalias() = k * detail::parameter_rows(params.w, dq, dk);
      detail::additive_scores(pq, pk, params.v, weights, ws);
      break;
    }
  }
  return detail::finish(weights, v, output, ws, mask, options, g);
}

/// Luong attention; defaults to the dot score. Returns output (Tq×dv), weights (Tq×Tk),
/// fully masked rows and, with `options.return_scores`, the scores.
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params score function and its parameters (default: dot)
/// \param mask which keys each query may see
/// \param options probability function and return_scores
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

}  // namespace attn
