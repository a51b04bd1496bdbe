// SPDX-License-Identifier: MIT
// What every attention call returns (AttentionResult) and the options every call takes.
// output is Tq×dv, weights Tq×Tk, scores Tq×Tk (only when asked), fully_masked Tq.
#pragma once

#include "config.hpp"
#include "softmax.hpp"

#include <cstddef>
#include <optional>
#include <tuple>
#include <utility>

namespace attn {

/// Options shared by the mechanisms.
struct Options {
  /// Probability function turning scores into weights.
  Probability probability = Probability::softmax;
  /// Also return the raw scores (before the probability function).
  bool return_scores = false;
  /// scaled_dot_product only: the factor on Q·Kᵀ; unset means 1/sqrt(dk).
  std::optional<double> scale;
};

/// Output and weights of one attention call, owned by the caller.
///
/// `auto [output, weights] = attn::scaled_dot_product(q, k, v);` binds the first two members
/// (the struct is tuple-like of size 2); `scores` and `fully_masked` are read by name.
template <typename Scalar>
struct AttentionResult {
  Matrix<Scalar> output;   ///< Tq×dv; zero rows where the query saw no key
  Matrix<Scalar> weights;  ///< Tq×Tk; rows sum to 1 over visible keys, masked entries exactly 0
  Matrix<Scalar> scores;   ///< Tq×Tk raw scores when Options::return_scores, else 0×0
  RowFlags fully_masked;   ///< Tq; true where the query saw no key (zero weights and output)

  /// Number of queries that saw no key.
  /// \return the number of true entries of fully_masked
  Index num_fully_masked() const { return fully_masked.count(); }

  /// Structured binding: `get<0>()` is output, `get<1>()` weights.
  /// \tparam I 0 or 1
  /// \return a reference to the member
  template <std::size_t I>
  decltype(auto) get() & {
    static_assert(I < 2, "attn::AttentionResult binds as [output, weights]");
    if constexpr (I == 0) return (output); else return (weights);
  }
  /// Structured binding of a const result. \tparam I 0 or 1 \return a const reference
  template <std::size_t I>
  decltype(auto) get() const& {
    static_assert(I < 2, "attn::AttentionResult binds as [output, weights]");
    if constexpr (I == 0) return (output); else return (weights);
  }
  /// Structured binding of a temporary result. \tparam I 0 or 1 \return the moved member
  template <std::size_t I>
  decltype(auto) get() && {
    static_assert(I < 2, "attn::AttentionResult binds as [output, weights]");
    if constexpr (I == 0) return std::move(output); else return std::move(weights);
  }
};

}  // namespace attn

template <typename Scalar>
struct std::tuple_size<attn::AttentionResult<Scalar>> : std::integral_constant<std::size_t, 2> {};

template <std::size_t I, typename Scalar>
struct std::tuple_element<I, attn::AttentionResult<Scalar>> {
  using type = attn::Matrix<Scalar>;
};
