// SPDX-License-Identifier: MIT
// RMS normalisation of each head's projected queries or keys (the q_norm and k_norm of Qwen3,
// Gemma 3 and the other transformers decoders that normalise them before the rotary embedding).
// attn::apply_head_norm normalises rows of projected queries or keys in place, heads side by side.
#pragma once

#include "config.hpp"
#include "detail/checks.hpp"

#include <cmath>
#include <string>
#include <type_traits>

namespace attn {

/// RMS normalisation of each head of a row (Hugging Face's `Qwen3RMSNorm` over `head_dim`, as
/// `q_norm` and `k_norm`): the head's `dh` values `x` become `x / sqrt(mean(x²) + eps) · w`, with
/// `w = weight`, or `w = 1 + weight` when `one_plus` (Gemma 3's RMSNorm stores the offset from
/// 1). Every head of the row uses the same `weight`. Arithmetic in double, rounded once.
template <typename Scalar>
struct HeadNorm {
  /// The learnt scale, one per column of a head: 1×dh (`q_norm.weight`, `k_norm.weight`).
  RowVector<Scalar> weight;
  /// Added to the mean square before the square root (Hugging Face's `rms_norm_eps`): finite, >= 0.
  double eps = 1e-6;
  /// Scale by `1 + weight` instead of `weight` (Gemma 3).
  bool one_plus = false;
};

namespace detail {

template <typename Scalar>
void check_head_norm(const char* fn, const char* what, const HeadNorm<Scalar>& n, Index head_dim) {
  ATTN_CHECK(n.weight.size() == head_dim,
             std::string(fn) + ": " + what + ".weight " + shape(n.weight) + " must be " + shape(1, head_dim) +
                 ", one scale per column of a head");
  ATTN_CHECK(std::isfinite(n.eps) && n.eps >= 0,
             std::string(fn) + ": " + what + ".eps (" + number_text(n.eps) + ") must be finite and >= 0");
}

/// Normalises each head (`head_dim` columns) of every row of `x` in place (`n` checked).
template <typename X, typename Scalar>
void norm_rows(X&& x, Index head_dim, const HeadNorm<Scalar>& n) {
  using S = typename std::decay_t<X>::Scalar;
  const Index heads = x.cols() / head_dim;
  for (Index c = 0; c < heads; ++c) {
    const Index c0 = c * head_dim;
    for (Index r = 0; r < x.rows(); ++r) {
      double squares = 0.0;
      for (Index j = 0; j < head_dim; ++j) {
        const double v = static_cast<double>(x(r, c0 + j));
        squares += v * v;
      }
      const double inverse = 1.0 / std::sqrt(squares / static_cast<double>(head_dim) + n.eps);
      for (Index j = 0; j < head_dim; ++j) {
        const double w = static_cast<double>(n.weight(j)) + (n.one_plus ? 1.0 : 0.0);
        x(r, c0 + j) = static_cast<S>(static_cast<double>(x(r, c0 + j)) * inverse * w);
      }
    }
  }
}

template <typename Scalar>
void apply_head_norm(Eigen::Ref<Matrix<Scalar>> x, Index head_dim, const HeadNorm<Scalar>& norm) {
  constexpr const char* fn = "attn::apply_head_norm";
  ATTN_CHECK(head_dim >= 1 && x.cols() % head_dim == 0,
             std::string(fn) + ": head_dim (" + std::to_string(head_dim) + ") must be >= 1 and divide x.cols() (" +
                 std::to_string(x.cols()) + ")");
  check_head_norm(fn, "norm", norm, head_dim);
  norm_rows(x, head_dim, norm);
}

}  // namespace detail

/// Normalises each head of every row of `x` in place (HeadNorm): `x` holds heads side by side,
/// each `head_dim` columns wide (projected queries `x·Wq + bq` of h heads, or keys of g heads).
/// Hugging Face's Qwen3: `apply_head_norm(q, dh, q_norm)` and `apply_head_norm(k, dh, k_norm)`
/// after the projections, before `apply_rotary`.
/// \param x rows×(heads·head_dim), normalised in place
/// \param head_dim the width of one head, >= 1, dividing x.cols()
/// \param norm the scale (1×head_dim), eps and one_plus
/// \throws attn::invalid_argument when head_dim does not divide x.cols(), the weight is not
///         1×head_dim, or eps is negative or not finite
inline void apply_head_norm(Eigen::Ref<Matrix<float>> x, Index head_dim, const HeadNorm<float>& norm) {
  detail::apply_head_norm<float>(x, head_dim, norm);
}

/// apply_head_norm for double rows (documented at the float overload).
/// \param x rows×(heads·head_dim), normalised in place
/// \param head_dim the width of one head, >= 1, dividing x.cols()
/// \param norm the scale (1×head_dim), eps and one_plus
/// \throws attn::invalid_argument as the float overload
inline void apply_head_norm(Eigen::Ref<Matrix<double>> x, Index head_dim, const HeadNorm<double>& norm) {
  detail::apply_head_norm<double>(x, head_dim, norm);
}

}  // namespace attn
