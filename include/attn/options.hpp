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
  /// The factor on every score before the probability function, in every mechanism (as the
  /// `scale` of torch's scaled_dot_product_attention). Unset: 1/sqrt(dk) for scaled_dot_product
  /// (1/sqrt(dh) per head in multi_head, dh = D/h for torch's layers, key_dim for Keras'), 1 for every other mechanism. It multiplies a
  /// mechanism's own factor (Luong `g`, normalized Bahdanau `g`). Must be finite.
  std::optional<double> scale;
  /// Logit soft-capping: each score s, after the scale (and, in an additive mechanism, after its
  /// `v·tanh(·)`), becomes `softcap·tanh(s / softcap)` before the mask's bias and the probability
  /// function, as Gemma 2's `attn_logit_softcapping` (50 in Gemma 2 9B and 27B), Grok-1's and
  /// flash-attention's `softcap` do. Unset (the default): no capping. The `scores` a call returns
  /// are the capped ones. In every mechanism and form (multi_head per head, KVCache and
  /// MultiHeadMemory steps; a single-head Memory takes it by Memory::with_softcap). Must be
  /// positive and finite.
  std::optional<double> softcap;
};

}  // namespace attn
