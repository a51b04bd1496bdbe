// SPDX-License-Identifier: MIT
// Rotary position embeddings (RoPE, Su et al. 2021): the rotation that LLaMA, Mistral, Qwen,
// GPT-NeoX and GPT-J apply to each head's projected queries and keys before the scores.
// attn::apply_rotary rotates rows of projected queries or keys in place, heads side by side.
#pragma once

#include "config.hpp"

#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

namespace attn {

/// Which columns of a head rotate together.
enum class RotaryPairs {
  /// Column c with column c + dims/2: Hugging Face's `rotate_half` (LLaMA, Mistral, Qwen and
  /// GPT-NeoX in transformers), Keras-hub's `RotaryEmbedding`.
  halves,
  /// Column 2c with column 2c + 1: Meta's LLaMA reference code (complex pairs), GPT-J, RoFormer.
  interleaved,
};

/// A rotary position embedding: in every head, the pair `c` of columns `(a, b)` of a row at
/// position `t` turns by the angle `t·θ_c`, becoming `(a·cos(t·θ_c) − b·sin(t·θ_c),
/// b·cos(t·θ_c) + a·sin(t·θ_c))`, with `θ_c = base^(−2c/dims)` for `c < dims/2`. Columns from
/// `dims` on are left as they are (GPT-NeoX's partial rotary).
struct Rotary {
  /// Rotated columns at the start of each head: even and at most the head width; 0 (the
  /// default) rotates the whole head. Hugging Face: `head_dim · partial_rotary_factor`.
  Index dims = 0;
  /// The base of the frequencies (Hugging Face's `rope_theta`; 10000 for LLaMA 1 and 2, 500000
  /// for LLaMA 3): > 0.
  double base = 10000.0;
  /// How columns pair (Hugging Face's checkpoints: halves; Meta's original ones: interleaved).
  RotaryPairs pairs = RotaryPairs::halves;
  /// When not empty, the dims/2 frequencies θ_c themselves instead of `base`: Hugging Face's
  /// `inv_freq` after its `rope_scaling` (linear: each divided by the factor; "llama3": its
  /// rescaled ones). Finite.
  std::vector<double> frequencies;
};

namespace detail {

/// The rotated columns of each head: `rotary.dims`, or the whole head for 0.
inline Index rotary_dims(const Rotary& rotary, Index head_dim) { return rotary.dims == 0 ? head_dim : rotary.dims; }

/// Checks `rotary` for heads `head_dim` wide (`what` names it: "rotary", "params.rotary") and
/// returns its rotated width (dims, or head_dim for 0).
inline Index check_rotary(const char* fn, const char* what, const Rotary& rotary, Index head_dim) {
  const auto name = [&] { return std::string(fn) + ": " + what; };  // built only for a message
  const Index dims = rotary_dims(rotary, head_dim);
  ATTN_CHECK(rotary.dims >= 0 && dims <= head_dim && dims % 2 == 0,
             name() + ".dims (" + std::to_string(rotary.dims) + ") must be even and in [0, head_dim] (" +
                 std::to_string(head_dim) + "; 0: the whole head)");
  const Index half = dims / 2;
  ATTN_CHECK(rotary.frequencies.empty() || static_cast<Index>(rotary.frequencies.size()) == half,
             name() + ".frequencies holds " + std::to_string(rotary.frequencies.size()) +
                 " values; it must hold dims/2 (" + std::to_string(half) + ") or none");
  for (std::size_t c = 0; c < rotary.frequencies.size(); ++c)
    ATTN_CHECK(std::isfinite(rotary.frequencies[c]), name() + ".frequencies[" + std::to_string(c) + "] is " +
                                                         number_text(rotary.frequencies[c]) +
                                                         ": the frequencies must be finite");
  ATTN_CHECK(!rotary.frequencies.empty() || (std::isfinite(rotary.base) && rotary.base > 0),
             name() + ".base (" + number_text(rotary.base) + ") must be finite and > 0");
  return dims;
}

/// cos and sin of the angles t·θ_c of `rows` positions from `first` (row-major: row r's dims/2
/// pairs together), for a rotary embedding checked by check_rotary. Vectors that only grow: a
/// warm table is refilled without allocating.
struct RotaryTable {
  std::vector<double> cos;
  std::vector<double> sin;
  Index half = 0;  // dims/2: pairs per head

  void fill(const Rotary& rotary, Index dims, Index first, Index rows) {
    half = dims / 2;
    const auto n = static_cast<std::size_t>(rows * half);
    if (cos.size() < n) {
      cos.resize(n);
      sin.resize(n);
    }
    for (Index c = 0; c < half; ++c) {
      // In double whatever the Scalar: the angle t·θ_c of a late position keeps its digits (a
      // float position past 2^24 would not even be an integer).
      const double theta = rotary.frequencies.empty()
                               ? std::pow(rotary.base, -2.0 * static_cast<double>(c) / static_cast<double>(dims))
                               : rotary.frequencies[static_cast<std::size_t>(c)];
      for (Index r = 0; r < rows; ++r) {
        const double angle = static_cast<double>(first + r) * theta;
        const auto at = static_cast<std::size_t>(r * half + c);
        cos[at] = std::cos(angle);
        sin[at] = std::sin(angle);
      }
    }
  }
};

/// Rotates the pairs (a, b) of every head (`head_dim` wide, side by side) of each row r of `x` by
/// the angles of table row `table_row(r)`: (a·cos − b·sin, b·cos + a·sin), in double, rounded
/// once.
template <typename X, typename TableRow>
void rotate_rows(X&& x, Index head_dim, RotaryPairs pairs, const RotaryTable& table, const TableRow& table_row) {
  using Scalar = typename std::decay_t<X>::Scalar;
  const Index half = table.half;
  const Index heads = x.cols() / head_dim;
  const bool halves = pairs == RotaryPairs::halves;
  for (Index c = 0; c < half; ++c) {
    const Index ca = halves ? c : 2 * c;
    const Index cb = halves ? c + half : 2 * c + 1;
    for (Index i = 0; i < heads; ++i) {  // one angle for every head
      for (Index r = 0; r < x.rows(); ++r) {
        const auto at = static_cast<std::size_t>(table_row(r) * half + c);
        const double cos = table.cos[at];
        const double sin = table.sin[at];
        Scalar& a = x(r, i * head_dim + ca);
        Scalar& b = x(r, i * head_dim + cb);
        const double a0 = static_cast<double>(a);
        const double b0 = static_cast<double>(b);
        a = static_cast<Scalar>(a0 * cos - b0 * sin);
        b = static_cast<Scalar>(b0 * cos + a0 * sin);
      }
    }
  }
}

template <typename Scalar>
void apply_rotary(Eigen::Ref<Matrix<Scalar>> x, Index head_dim, const Rotary& rotary, Index first_position) {
  constexpr const char* fn = "attn::apply_rotary";
  ATTN_CHECK(head_dim >= 1 && x.cols() % head_dim == 0,
             std::string(fn) + ": head_dim (" + std::to_string(head_dim) + ") must be >= 1 and divide x.cols() (" +
                 std::to_string(x.cols()) + "): x holds heads side by side");
  const Index dims = check_rotary(fn, "rotary", rotary, head_dim);
  ATTN_CHECK(first_position >= 0,
             std::string(fn) + ": first_position (" + std::to_string(first_position) + ") must be >= 0");
  RotaryTable table;
  table.fill(rotary, dims, first_position, x.rows());
  rotate_rows(x, head_dim, rotary.pairs, table, [](Index r) { return r; });
}

}  // namespace detail

/// Rotates the rows of `x` in place by their positions (rotary position embedding): row `r` is
/// position `first_position + r`, and `x` holds heads side by side, each `head_dim` columns
/// wide (projected queries `x·Wq + bq` of h heads, or keys of g heads), every head rotated alike.
/// Arithmetic in double (angles and products), rounded once to float. Hugging Face's LLaMA:
/// `apply_rotary(q, dh, rope)` and `apply_rotary(k, dh, rope)` after the projections, positions
/// 0 to T−1 for a prompt; a decoding step at position t passes `first_position = t`.
/// \param x rows×(heads·head_dim), rotated in place
/// \param head_dim the width of one head, >= 1, dividing x.cols()
/// \param rotary the embedding (dims, base or frequencies, pairs)
/// \param first_position the position of row 0, >= 0
/// \throws attn::invalid_argument when head_dim does not divide x.cols(), dims is odd or wider
///         than a head, the frequencies are not dims/2 finite values (or, without them, the base
///         is not finite and > 0), or first_position < 0
inline void apply_rotary(Eigen::Ref<Matrix<float>> x, Index head_dim, const Rotary& rotary, Index first_position = 0) {
  detail::apply_rotary<float>(x, head_dim, rotary, first_position);
}

/// apply_rotary for double rows (documented at the float overload).
/// \param x rows×(heads·head_dim), rotated in place
/// \param head_dim the width of one head, >= 1, dividing x.cols()
/// \param rotary the embedding (dims, base or frequencies, pairs)
/// \param first_position the position of row 0, >= 0
/// \throws attn::invalid_argument as the float overload
inline void apply_rotary(Eigen::Ref<Matrix<double>> x, Index head_dim, const Rotary& rotary, Index first_position = 0) {
  detail::apply_rotary<double>(x, head_dim, rotary, first_position);
}

}  // namespace attn
