// SPDX-License-Identifier: MIT
// The vocabulary every call shares and no kernel needs to define: the probability function that
// turns a row of Tk scores into weights, and the Options every mechanism takes.
#pragma once

#include <optional>

namespace attn {

/// How scores become weights.
enum class Probability { softmax, sparsemax, hardmax };

/// Options shared by the mechanisms.
struct Options {
  /// Probability function turning scores into weights.
  Probability probability = Probability::softmax;
  /// Also return the raw scores (before the probability function).
  bool return_scores = false;
  /// scaled_dot_product and multi_head (per head) only: the factor on Q·Kᵀ; unset means
  /// 1/sqrt(dk) (1/sqrt(D/h) per head); the other mechanisms reject it.
  std::optional<double> scale;
};

}  // namespace attn
