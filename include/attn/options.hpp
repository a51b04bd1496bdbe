// SPDX-License-Identifier: MIT
// The vocabulary every call shares and no kernel needs to define: the probability function that
// turns a row of Tk scores into weights, and the Options every mechanism takes.
#pragma once

#include "config.hpp"

#include <optional>

namespace attn {

/// ALiBi's linear bias of one head (Press et al.; BLOOM, MPT): `slope·(j − i − offset)` added to
/// the score of query i and key j, where query i sits at key position `i + offset` (as with
/// Mask::causal(offset)): 0 for a key at the query's own position, `−slope` per position further
/// back. (BLOOM adds `slope·j`, which differs by a constant per row: the same weights.) The
/// offset changes no weight in exact arithmetic (a constant per row), but the bias is rounded to
/// the scalar type: keep it small where the weight is, at the query's own position.
struct Alibi {
  double slope = 0.0;  ///< the head's slope (attn::alibi_slopes gives BLOOM's), finite
  Index offset = 0;    ///< key position of query 0
};

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
  /// ALiBi's bias (attn::Alibi) added to each score after the scale and the softcap, before the
  /// mask's bias and the probability function, computed from the positions (nothing Tq×Tk is
  /// stored). Unset: none. The returned `scores` are without it, as without a mask's bias.
  /// Single-head calls; multi-head layers take one slope per head in MultiHeadParams::alibi.
  std::optional<Alibi> alibi;
  /// The position of query row 0 in a multi-head call (multi_head, multi_head_batch) with
  /// MultiHeadParams::rotary or MultiHeadParams::alibi: query row r is at position
  /// `query_offset + r` for the rotation and the bias, the keys at 0 to Tk − 1 (as
  /// Mask::causal(offset) places the queries; Hugging Face's `position_ids` of a chunk). For the
  /// last Tq queries of a sequence of Tk: `Tk − Tq`, with `Mask::causal(Tk − Tq)`. Default 0 (the
  /// queries start where the keys do). Must be >= 0, and 0 everywhere else: a single-head call's
  /// ALiBi takes Alibi::offset, a mask its own offset, and a KVCache keeps its positions.
  Index query_offset = 0;
};

}  // namespace attn
