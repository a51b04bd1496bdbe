// SPDX-License-Identifier: MIT
// RMS normalisation of each head's projected queries or keys (the q_norm and k_norm of Qwen3,
// Gemma 3 and the other transformers decoders that normalise them before the rotary embedding),
// or of all heads at once (OLMo 2). attn::apply_head_norm normalises rows of projected queries
// or keys in place, heads side by side.
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
/// 1). Every head of the row uses the same `weight`. With `all_heads` (OLMo 2's `q_norm` and
/// `k_norm`, an `Olmo2RMSNorm` over `num_heads·head_dim`) the mean square is over the whole row,
/// every head at once, and `weight` has one scale per column of the row. Arithmetic in double,
/// rounded once.
template <typename Scalar>
struct HeadNorm {
  /// The learnt scale: one per column of a head, 1×dh (Qwen3's `q_norm.weight`, `k_norm.weight`);
  /// with `all_heads`, one per column of the row, 1×(heads·dh) (OLMo 2's).
  RowVector<Scalar> weight;
  /// Added to the mean square before the square root (Hugging Face's `rms_norm_eps`): finite, >= 0.
  double eps = 1e-6;
  /// Scale by `1 + weight` instead of `weight` (Gemma 3).
  bool one_plus = false;
  /// One mean square over the whole row, all heads at once (OLMo 2), instead of one per head.
  bool all_heads = false;
};

namespace detail {

/// Checks `n` for rows `row_width` wide (heads·head_dim) of heads `head_dim` wide.
template <typename Scalar>
void check_head_norm(const char* fn, const char* what, const HeadNorm<Scalar>& n, Index head_dim, Index row_width) {
  if (n.all_heads) {
    ATTN_CHECK(n.weight.size() == row_width, std::string(fn) + ": " + what + ".weight " + shape(n.weight) +
                                                 " must be " + shape(1, row_width) +
                                                 " with all_heads, one scale per column of the row (every head)");
  } else {
    const bool whole_row = n.weight.size() == row_width && row_width != head_dim;
    ATTN_CHECK(n.weight.size() == head_dim,
               std::string(fn) + ": " + what + ".weight " + shape(n.weight) + " must be " + shape(1, head_dim) +
                   ", one scale per column of a head" +
                   (whole_row ? "; for one norm over all heads at once (OLMo 2) set all_heads" : ""));
  }
  ATTN_CHECK(std::isfinite(n.eps) && n.eps >= 0,
             std::string(fn) + ": " + what + ".eps (" + number_text(n.eps) + ") must be finite and >= 0");
}

/// Normalises each head (`head_dim` columns) of every row of `x` in place, or with `n.all_heads`
/// each whole row (`n` checked against x's width).
template <typename X, typename Scalar>
void norm_rows(X&& x, Index head_dim, const HeadNorm<Scalar>& n) {
  using S = typename std::decay_t<X>::Scalar;
  if (n.all_heads) head_dim = x.cols();  // one "head": the row
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
  check_head_norm(fn, "norm", norm, head_dim, x.cols());
  norm_rows(x, head_dim, norm);
}

}  // namespace detail

/// Normalises each head of every row of `x` in place (HeadNorm): `x` holds heads side by side,
/// each `head_dim` columns wide (projected queries `x·Wq + bq` of h heads, or keys of g heads).
/// Hugging Face's Qwen3: `apply_head_norm(q, dh, q_norm)` and `apply_head_norm(k, dh, k_norm)`
/// after the projections, before `apply_rotary`; OLMo 2 the same with `all_heads` set (each row
/// normalised as a whole, the weight 1×x.cols()).
/// \param x rows×(heads·head_dim), normalised in place
/// \param head_dim the width of one head, >= 1, dividing x.cols()
/// \param norm the scale (1×head_dim, or 1×x.cols() with all_heads), eps, one_plus and all_heads
/// \throws attn::invalid_argument when head_dim does not divide x.cols(), the weight is not
///         1×head_dim (1×x.cols() with all_heads), or eps is negative or not finite
inline void apply_head_norm(Eigen::Ref<Matrix<float>> x, Index head_dim, const HeadNorm<float>& norm) {
  detail::apply_head_norm<float>(x, head_dim, norm);
}

/// apply_head_norm for double rows (documented at the float overload).
/// \param x rows×(heads·head_dim), normalised in place
/// \param head_dim the width of one head, >= 1, dividing x.cols()
/// \param norm the scale (1×head_dim, or 1×x.cols() with all_heads), eps, one_plus and all_heads
/// \throws attn::invalid_argument as the float overload
inline void apply_head_norm(Eigen::Ref<Matrix<double>> x, Index head_dim, const HeadNorm<double>& norm) {
  detail::apply_head_norm<double>(x, head_dim, norm);
}

}  // namespace attn
