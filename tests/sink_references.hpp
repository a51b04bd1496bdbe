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

/// The reduction sinks of one call (TopK(3), ColumnSums, RowStats and a callback gathering every
/// block), and check(): each against the full weights `w` of the same call made with a weights
/// matrix, bit for bit (each reference reduces `w` in the order the sink does).
template <typename S>
struct ReductionSinks {
  attn::TopK<S> top{3};
  attn::ColumnSums<S> sums;
  attn::RowStats<S> stats;
  attn::Matrix<S> gathered;
  Index calls = 0;
  attn::CallbackSink<S, std::function<void(Index, const attn::WeightBlock<S>&)>> callback;

  ReductionSinks(Index tq, Index tk)
      : gathered(attn::Matrix<S>::Constant(tq, tk, S(-7))),
        callback([this](Index first_row, const attn::WeightBlock<S>& b) {
          gathered.middleRows(first_row, b.rows()) = b;
          ++calls;
        }) {}
  ReductionSinks(const ReductionSinks&) = delete;  // the callback holds `this`
  ReductionSinks& operator=(const ReductionSinks&) = delete;

  /// Checks every sink: TopK and ColumnSums' counts over the keys `visible` shows (a layer's
  /// padded steps see none), RowStats against row_entropy and argmax_alignment under `mask`.
  void check(const attn::Matrix<S>& w, const Visible& visible, const attn::Mask& mask) const {
    const Index tq = w.rows();
    const Index tk = w.cols();
    // The callback saw every block once (blocks of block_rows_for(Tk) rows), the full matrix's rows.
    const Index rows = attn::detail::block_rows_for<S>(tk);
    CHECK(calls == (tk == 0 ? 0 : (tq + rows - 1) / rows));
    if (tk > 0) CHECK(same_bits(gathered, w));
    // TopK: bit for bit (a selection, no arithmetic).
    attn::IndexMatrix idx;
    attn::Matrix<S> val;
    topk_reference(w, visible, 3, idx, val);
    CHECK(top.indices() == idx);
    CHECK(same_bits(top.weights(), val));
    // ColumnSums: bit for bit against the sums in the same order; counts by what rows see.
    CHECK(same_bits(sums.sums(), column_sums_reference(w)));
    CHECK(sums.counts() == counts_reference(visible, tq, tk));
    // RowStats: bit for bit what row_entropy and argmax_alignment give on the full weights.
    CHECK(same_bits(stats.entropy(), attn::row_entropy(w, mask)));
    CHECK(stats.alignment() == attn::argmax_alignment(w, mask));
  }
  /// check() with the keys `mask` shows.
  void check(const attn::Matrix<S>& w, const attn::Mask& mask) const {
    check(w, Visible([&](Index i, Index j) { return mask.visible(i, j, w.cols()); }), mask);
  }
};

}  // namespace attn_test
