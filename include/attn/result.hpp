// SPDX-License-Identifier: MIT
// What every attention call returns (AttentionResult) and the options every call takes.
// output is Tq×dv, weights Tq×Tk, scores Tq×Tk (only when asked), fully_masked Tq.
#pragma once

#include "config.hpp"
#include "detail/binding.hpp"
#include "options.hpp"

#include <cstddef>
#include <optional>
#include <tuple>
#include <utility>

namespace attn {

/// Output and weights of one attention call, owned by the caller.
///
/// `auto [output, weights] = attn::scaled_dot_product(q, k, v);` binds the first two members
/// (the struct is tuple-like of size 2); `scores` and `fully_masked` are read by name.
template <typename Scalar>
struct AttentionResult : detail::BindOutputWeights<AttentionResult<Scalar>> {
  Matrix<Scalar> output;   ///< Tq×dv; zero rows where the query saw no key
  Matrix<Scalar> weights;  ///< Tq×Tk; rows sum to 1 over visible keys, masked entries exactly 0
  Matrix<Scalar> scores;   ///< Tq×Tk raw scores when Options::return_scores, else 0×0
  RowFlags fully_masked;   ///< Tq; true where the query saw no key (zero weights and output)

  /// Number of queries that saw no key.
  /// \return the number of true entries of fully_masked
  Index num_fully_masked() const { return fully_masked.count(); }
};

}  // namespace attn

ATTN_BIND_OUTPUT_WEIGHTS(AttentionResult)
