// SPDX-License-Identifier: MIT
// RMS or layer normalisation of each head's projected queries or keys (the q_norm and k_norm of
// Qwen3, Gemma 3, Cohere, StableLM, timm's ViT and the other models that normalise them before
// the rotary embedding), or of all heads at once (OLMo 2). attn::apply_head_norm normalises rows
// of projected queries or keys in place, heads side by side.
#pragma once

#include "config.hpp"
#include "detail/checks.hpp"

#include <cmath>
#include <string>
#include <type_traits>

namespace attn {

/// Normalisation of each head of a row: RMSNorm by default (Hugging Face's `Qwen3RMSNorm` over
/// `head_dim`, as `q_norm` and `k_norm`), LayerNorm with `subtract_mean` (Cohere's, StableLM's,
/// Persimmon's and timm's ViT q/k norms). The head's `dh` values `x` become
/// `(x − m) / sqrt(mean((x − m)²) + eps) · w + b`, with `m = mean(x)` when `subtract_mean` and
/// 0 otherwise, `w = weight` (or `1 + weight` when `one_plus`: Gemma 3's RMSNorm stores the offset
/// from 1) and `b = bias` (0 when it is empty). `weight` and `bias` are 1×dh, shared by every head
/// (Qwen3, Persimmon, ViT), or H×dh, one row per head of the row in head order (H = h for
/// `q_norm`, g for `k_norm`: Cohere's `(num_heads, head_dim)` weight, StableLM's per-head
/// LayerNorms stacked). With `all_heads` (OLMo 2's `q_norm` and `k_norm`, an `Olmo2RMSNorm` over
/// `num_heads·head_dim`) the statistics are over the whole row, every head at once, and `weight`
/// (and `bias`) have one entry per column of the row, 1×(H·dh). Arithmetic in double, rounded
/// once.
template <typename Scalar>
struct HeadNorm {
  /// The learnt scale: 1×dh, one per column of a head, shared by the heads (Qwen3's
  /// `q_norm.weight`); H×dh, one row per head (Cohere's); with `all_heads`, 1×(H·dh), one per
  /// column of the row (OLMo 2's).
  Matrix<Scalar> weight;
  /// Added to the mean square (the variance with `subtract_mean`) before the square root
  /// (Hugging Face's `rms_norm_eps`, `layer_norm_eps`): finite, >= 0.
  double eps = 1e-6;
  /// Scale by `1 + weight` instead of `weight` (Gemma 3).
  bool one_plus = false;
  /// One normalisation over the whole row, all heads at once (OLMo 2), instead of one per head.
  bool all_heads = false;
  /// LayerNorm instead of RMSNorm: subtract each head's mean first (`torch.nn.LayerNorm`'s
  /// biased variance).
  bool subtract_mean = false;
  /// Added after the scale (a LayerNorm's bias: Persimmon's, timm's ViT); empty, the default, for
  /// none, else shaped as `weight` may be (1×dh, H×dh, or 1×(H·dh) with `all_heads`).
  Matrix<Scalar> bias{};  // (initialised: leaving it out of a braced HeadNorm{...} draws no -Wextra warning)
};

namespace detail {

/// Checks the weight or bias `m` (field `field` of `what`; `optional`: may be empty) of a norm
/// over rows `row_width` wide (heads·head_dim) of heads `head_dim` wide.
template <typename Scalar>
void check_head_norm_matrix(const char* fn, const char* what, const char* field, const Matrix<Scalar>& m,
                            bool optional, bool all_heads, Index head_dim, Index row_width) {
  if (optional && m.size() == 0) return;  // no bias
  // Built only for a message: a call that passes its checks allocates nothing.
  const auto name = [&] { return std::string(fn) + ": " + what + "." + field + " " + shape(m.rows(), m.cols()); };
  if (all_heads) {
    ATTN_CHECK(m.rows() == 1 && m.cols() == row_width,
               name() + " must be " + (optional ? "empty or " : "") + shape(1, row_width) +
                   " with all_heads, one entry per column of the row (every head)");
    return;
  }
  const Index heads = head_dim > 0 ? row_width / head_dim : 0;
  const bool whole_row = m.rows() == 1 && m.cols() == row_width && heads > 1;
  ATTN_CHECK(m.cols() == head_dim && (m.rows() == 1 || m.rows() == heads),
             name() + " must be " + (optional ? "empty, " : "") + shape(1, head_dim) + " (every head)" +
                 (heads > 1 ? " or " + shape(heads, head_dim) + " (one row per head)" : "") +
                 (whole_row ? "; for one norm over all heads at once (OLMo 2) set all_heads" : ""));
}

/// Checks `n` for rows `row_width` wide (heads·head_dim) of heads `head_dim` wide.
template <typename Scalar>
void check_head_norm(const char* fn, const char* what, const HeadNorm<Scalar>& n, Index head_dim, Index row_width) {
  check_head_norm_matrix(fn, what, "weight", n.weight, false, n.all_heads, head_dim, row_width);
  check_head_norm_matrix(fn, what, "bias", n.bias, true, n.all_heads, head_dim, row_width);
  ATTN_CHECK(std::isfinite(n.eps) && n.eps >= 0,
             std::string(fn) + ": " + what + ".eps (" + number_text(n.eps) + ") must be finite and >= 0");
}

/// Normalises each head (`head_dim` columns) of every row of `x` in place, or with `n.all_heads`
/// each whole row (`n` checked against the whole row's width). `first_head`: the head of the row
/// that x's first column starts (a per-head weight's and bias's row; x may hold one head).
template <typename X, typename Scalar>
void norm_rows(X&& x, Index head_dim, const HeadNorm<Scalar>& n, Index first_head = 0) {
  using S = typename std::decay_t<X>::Scalar;
  if (n.all_heads) head_dim = x.cols();  // one "head": the row
  const Index heads = x.cols() / head_dim;
  const double offset = n.one_plus ? 1.0 : 0.0;
  const bool has_bias = n.bias.size() != 0;
  const double width = static_cast<double>(head_dim);
  for (Index c = 0; c < heads; ++c) {
    const Index c0 = c * head_dim;
    const Index w_row = n.weight.rows() == 1 ? 0 : first_head + c;  // shared, or this head's
    const Index b_row = n.bias.rows() == 1 ? 0 : first_head + c;
    for (Index r = 0; r < x.rows(); ++r) {
      double mean = 0.0;  // RMSNorm: x − 0 is x, bit for bit
      if (n.subtract_mean) {
        for (Index j = 0; j < head_dim; ++j) mean += static_cast<double>(x(r, c0 + j));
        mean /= width;
      }
      double squares = 0.0;
      for (Index j = 0; j < head_dim; ++j) {
        const double v = static_cast<double>(x(r, c0 + j)) - mean;
        squares += v * v;
      }
      const double inverse = 1.0 / std::sqrt(squares / width + n.eps);
      for (Index j = 0; j < head_dim; ++j) {
        const double w = static_cast<double>(n.weight(w_row, j)) + offset;
        double y = (static_cast<double>(x(r, c0 + j)) - mean) * inverse * w;
        if (has_bias) y += static_cast<double>(n.bias(b_row, j));
        x(r, c0 + j) = static_cast<S>(y);
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
/// after the projections, before `apply_rotary`; Cohere the same with `subtract_mean` and
/// weights of one row per head; OLMo 2 with `all_heads` set (each row normalised as a whole, the
/// weight 1×x.cols()).
/// \param x rows×(heads·head_dim), normalised in place
/// \param head_dim the width of one head, >= 1, dividing x.cols()
/// \param norm the weight and bias (1×head_dim or heads×head_dim; 1×x.cols() with all_heads),
///        eps, one_plus, all_heads and subtract_mean
/// \throws attn::invalid_argument when head_dim does not divide x.cols(), the weight or a bias is
///         not so shaped, or eps is negative or not finite
inline void apply_head_norm(Eigen::Ref<Matrix<float>> x, Index head_dim, const HeadNorm<float>& norm) {
  detail::apply_head_norm<float>(x, head_dim, norm);
}

/// apply_head_norm for double rows (documented at the float overload).
/// \param x rows×(heads·head_dim), normalised in place
/// \param head_dim the width of one head, >= 1, dividing x.cols()
/// \param norm the weight and bias (1×head_dim or heads×head_dim; 1×x.cols() with all_heads),
///        eps, one_plus, all_heads and subtract_mean
/// \throws attn::invalid_argument as the float overload
inline void apply_head_norm(Eigen::Ref<Matrix<double>> x, Index head_dim, const HeadNorm<double>& norm) {
  detail::apply_head_norm<double>(x, head_dim, norm);
}

}  // namespace attn
