// SPDX-License-Identifier: MIT
// Plain-loop references of the weight sinks' reductions (attn/sink_reductions.hpp), computed from
// a full weights matrix in the order each sink computes (so that results compare bit for bit):
// the tests of the sinks (tests/test_sinks*.cpp) include it after helpers.hpp.
#pragma once

#include "helpers.hpp"

#include <algorithm>
#include <functional>
#include <vector>

namespace attn_test {

/// Whether query i sees key j in a reference (a mask, and whatever else hides keys: padded steps).
using Visible = std::function<bool(Index, Index)>;

/// The TopK reference: the visible keys of row i sorted by weight, larger first, NaN last, equal
/// weights by key index (a stable sort of the keys in increasing order), padded with -1 / 0.
template <typename S>
void topk_reference(const attn::Matrix<S>& w, const Visible& visible, Index k, attn::IndexMatrix& idx,
                    attn::Matrix<S>& val) {
  idx.setConstant(w.rows(), k, -1);
  val.setZero(w.rows(), k);
  for (Index i = 0; i < w.rows(); ++i) {
    std::vector<Index> keys;
    for (Index j = 0; j < w.cols(); ++j)
      if (visible(i, j)) keys.push_back(j);
    std::stable_sort(keys.begin(), keys.end(), [&](Index a, Index b) {
      const S x = w(i, a);
      const S y = w(i, b);
      return x > y || (x == x && y != y);
    });
    for (Index t = 0; t < k && t < static_cast<Index>(keys.size()); ++t) {
      idx(i, t) = keys[static_cast<std::size_t>(t)];
      val(i, t) = w(i, keys[static_cast<std::size_t>(t)]);
    }
  }
}

/// topk_reference over the keys `mask` shows.
template <typename S>
void topk_reference(const attn::Matrix<S>& w, const attn::Mask& mask, Index k, attn::IndexMatrix& idx,
                    attn::Matrix<S>& val) {
  topk_reference(w, Visible([&](Index i, Index j) { return mask.visible(i, j, w.cols()); }), k, idx, val);
}

/// Column sums in the sink's order: for each key, the rows added one by one in increasing order
/// (whatever the engine's blocks and threads).
template <typename S>
attn::Vector<S> column_sums_reference(const attn::Matrix<S>& w) {
  attn::Vector<S> total = attn::Vector<S>::Zero(w.cols());
  for (Index i = 0; i < w.rows(); ++i)
    for (Index j = 0; j < w.cols(); ++j) total(j) += w(i, j);
  return total;
}

/// The number of queries that see each key.
inline attn::IndexVector counts_reference(const Visible& visible, Index tq, Index tk) {
  attn::IndexVector c = attn::IndexVector::Zero(tk);
  for (Index i = 0; i < tq; ++i)
    for (Index j = 0; j < tk; ++j) c(j) += visible(i, j) ? 1 : 0;
  return c;
}

/// counts_reference by `mask`.
inline attn::IndexVector counts_reference(const attn::Mask& mask, Index tq, Index tk) {
  return counts_reference(Visible([&](Index i, Index j) { return mask.visible(i, j, tk); }), tq, tk);
}

}  // namespace attn_test
