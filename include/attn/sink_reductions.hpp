// SPDX-License-Identifier: MIT
// Sinks that reduce the Tq×Tk weights while their blocks are in cache (see sinks.hpp): per-row
// top-k keys (attn::TopK), attention received per key (attn::ColumnSums) and per-row entropy and
// argmax (attn::RowStats), each giving the numbers the post-processing of a full matrix gives.
#pragma once

#include "alignment.hpp"
#include "config.hpp"
#include "detail/row_entropy.hpp"
#include "mask.hpp"
#include "sinks.hpp"
#include "softmax.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <thread>

namespace attn {

namespace detail {

/// Calls f(j) for every key j that query i sees (in increasing j), as argmax_alignment visits them.
template <typename F>
void for_visible(const Mask& mask, Index i, Index tk, F&& f) {
  const auto [first, last] = mask.band(i, tk);
  const auto& m = mask.explicit_matrix();
  for (Index j = first; j < last; ++j)
    if (!m || (*m)(i, j)) f(j);
}

/// Resizes `m` to rows×cols unless it has that shape (no allocation in steady state).
template <typename M>
void shape_to(M& m, Index rows, Index cols) {
  if (m.rows() != rows || m.cols() != cols) m.resize(rows, cols);
}

/// `m` resized to rows×cols (shape_to) with every entry `value`.
template <typename M>
void fresh(M& m, Index rows, Index cols, typename M::Scalar value) {
  shape_to(m, rows, cols);
  m.setConstant(value);
}

/// A sink that keeps its call (shape, mask) for its blocks: the base of the reductions here.
template <typename Scalar>
class CallSink : public WeightSink<Scalar> {
 protected:
  SinkCall call_;  ///< the call being fed (set by begin())
  /// The mask of the call. \return it
  const Mask& mask() const { return *call_.mask; }
};

/// How many query rows a sink has taken in, in order: consume() of a block starting at row i
/// waits until rows [0, i) are in. Copies take the count (the atomic alone could not be copied).
struct RowsDone {
  std::atomic<Index> rows{0};
  RowsDone() = default;
  RowsDone(const RowsDone& other) : rows(other.rows.load()) {}
  RowsDone& operator=(const RowsDone& other) {
    rows.store(other.rows.load());
    return *this;
  }
  /// Waits until the rows before `first_row` are in (blocks start in increasing order, so the
  /// block before is running on another thread: see attend_blocks).
  void wait_for(Index first_row) const {
    while (rows.load(std::memory_order_acquire) != first_row) std::this_thread::yield();
  }
};

/// sums(j) += block(r, j) for r = 0, 1, ... in order, each sum on its own: eight columns at a
/// time (independent additions in flight instead of one chain, the same bits).
template <typename Scalar>
void add_rows_in_order(const WeightBlock<Scalar>& block, Scalar* sums) {
  constexpr Index L = 8;
  const Index rows = block.rows();
  const Index cols = block.cols();
  Index j = 0;
  for (; j + L <= cols; j += L) {
    Scalar a[L];
    const Scalar* c[L];
    for (Index l = 0; l < L; ++l) {
      a[l] = sums[j + l];
      c[l] = block.data() + (j + l) * block.outerStride();
    }
    for (Index r = 0; r < rows; ++r)
      for (Index l = 0; l < L; ++l) a[l] += c[l][r];
    for (Index l = 0; l < L; ++l) sums[j + l] = a[l];
  }
  for (; j < cols; ++j) {
    Scalar a = sums[j];
    for (Index r = 0; r < rows; ++r) a += block(r, j);
    sums[j] = a;
  }
}

}  // namespace detail

/// Matrix of key indices (TopK::indices).
using IndexMatrix = Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
/// Vector of indices (RowStats::argmax, ColumnSums::counts).
using IndexVector = Eigen::Matrix<Index, Eigen::Dynamic, 1>;

/// Per query row, the `k` visible keys of largest weight, largest first; equal weights go to the
/// lower key index first, NaN ranks below every number. A row with fewer than `k` visible keys
/// (a fully masked row: none) is padded with index -1 and weight 0. Masked keys never appear.
/// Memory: Tq×k indices and weights. Time: O(Tk·k) per row at worst (insertion into a list of k).
template <typename Scalar>
class TopK final : public detail::CallSink<Scalar> {
 public:
  /// \param k keys per row, >= 1 \throws attn::invalid_argument when k < 1
  explicit TopK(Index k) : k_(k) {
    ATTN_CHECK(k >= 1, "attn::TopK: k (" + std::to_string(k) + ") must be >= 1");
  }
  /// Checks the sink fits the call and prepares its storage (see WeightSink::begin). \param call the call
  void begin(const SinkCall& call) override {
    this->call_ = call;
    detail::fresh(indices_, call.rows, k_, -1);
    detail::fresh(weights_, call.rows, k_, Scalar(0));
  }
  /// One block of the call (see WeightSink::consume). \param first_row its first query row \param block its weights
  void consume(Index first_row, const WeightBlock<Scalar>& block) override {
    // A row's list is built in a contiguous list on the stack (k up to stack_k), then copied to
    // its row of indices_ and weights_, whose entries lie Tq apart: built there, each insertion
    // shifted entries across k cache lines (TopK(64) took 5.9× an output-only call at T = 8192).
    Index stack_idx[stack_k];
    Scalar stack_w[stack_k];
    const bool on_stack = k_ <= stack_k;
    const Index step = on_stack ? 1 : indices_.rows();  // weights_ has the same rows
    for (Index r = 0; r < block.rows(); ++r) {
      const Index i = first_row + r;
      if (!this->call_.attends(i)) continue;  // a padded step: no key (index -1, weight 0)
      Index* idx = on_stack ? stack_idx : &indices_(i, 0);
      Scalar* w = on_stack ? stack_w : &weights_(i, 0);
      if (on_stack) {
        std::fill(stack_idx, stack_idx + k_, Index(-1));
        std::fill(stack_w, stack_w + k_, Scalar(0));
      }
      Index count = 0;
      detail::for_visible(this->mask(), i, this->call_.cols, [&](Index j) {
        const Scalar x = block(r, j);
        // Position of x: after every kept entry that ranks at least as high (earlier keys win ties).
        const auto above = [&](Index p) { return !(x > w[p * step]) && !(x == x && w[p * step] != w[p * step]); };
        if (count == k_ && above(k_ - 1)) return;
        Index p = std::min(count, k_ - 1);
        while (p > 0 && !above(p - 1)) {
          idx[p * step] = idx[(p - 1) * step];
          w[p * step] = w[(p - 1) * step];
          --p;
        }
        idx[p * step] = j;
        w[p * step] = x;
        count = std::min(count + 1, k_);
      });
      if (on_stack) {
        indices_.row(i) = Eigen::Map<const Eigen::Matrix<Index, 1, Eigen::Dynamic>>(stack_idx, k_);
        weights_.row(i) = Eigen::Map<const Eigen::Matrix<Scalar, 1, Eigen::Dynamic>>(stack_w, k_);
      }
    }
  }
  /// Keys per row. \return k
  Index k() const { return k_; }
  /// \return Tq×k key indices of the last call, -1 where a row had fewer visible keys
  const IndexMatrix& indices() const { return indices_; }
  /// \return Tq×k weights of those keys, 0 where the index is -1
  const Matrix<Scalar>& weights() const { return weights_; }

 private:
  static constexpr Index stack_k = 256;  // lists up to this long are built on the stack (4 KB at most)
  Index k_;
  IndexMatrix indices_;
  Matrix<Scalar> weights_;
};

/// Attention received per key: `sums(j)` = Σ_i w_ij over every query, added in increasing
/// query order (what KV-cache eviction such as H2O ranks keys by: `for i: sums += w.row(i)`,
/// whatever the blocks or threads), and `counts(j)`, the number of queries the mask lets see
/// key j (divide for a mean). Blocks add their rows in block order: a block that comes early
/// waits in consume() until the rows before it are in (the engine hands blocks out in order).
/// Memory: Tk sums and Tk counts.
template <typename Scalar>
class ColumnSums final : public detail::CallSink<Scalar> {
 public:
  /// Checks the sink fits the call and prepares its storage (see WeightSink::begin). \param call the call
  void begin(const SinkCall& call) override {
    this->call_ = call;
    detail::fresh(sums_, call.cols, 1, Scalar(0));
    detail::shape_to(counts_, call.cols, 1);
    added_.rows = 0;
  }
  /// One block of the call (see WeightSink::consume). \param first_row its first query row \param block its weights
  void consume(Index first_row, const WeightBlock<Scalar>& block) override {
    added_.wait_for(first_row);
    detail::add_rows_in_order(block, sums_.data());
    added_.rows.store(first_row + block.rows(), std::memory_order_release);
  }
  void end() override {
    const Index tk = sums_.size();
    const auto& m = this->mask().explicit_matrix();
    for (Index j = 0; j < tk; ++j) {
      // (Padded steps see no key: rows from padded_from on are not counted.)
      const auto [r0, r1] = detail::band_rows(this->mask(), j, std::min(this->call_.rows, this->call_.padded_from));
      Index c = 0;
      if (!m) {
        c = r1 - r0;
      } else {
        for (Index i = r0; i < r1; ++i) c += (*m)(i, j) ? 1 : 0;
      }
      counts_(j) = c;
    }
  }
  /// \return Tk sums of the weights each key received in the last call
  const Vector<Scalar>& sums() const { return sums_; }
  /// \return Tk counts of queries that could see each key (by the mask)
  const IndexVector& counts() const { return counts_; }

 private:
  detail::RowsDone added_;
  Vector<Scalar> sums_;
  IndexVector counts_;
};

/// Per query row, the entropy of its weights in nats (exactly attn::row_entropy of the full
/// weights under the same mask: the same vectorised arithmetic) and its argmax key (exactly
/// attn::argmax_alignment: the first largest visible positive weight; -1 for a row without one,
/// such as a fully masked row). Memory: Tq entropies and Tq indices.
template <typename Scalar>
class RowStats final : public detail::CallSink<Scalar> {
 public:
  /// Checks the sink fits the call and prepares its storage (see WeightSink::begin). \param call the call
  void begin(const SinkCall& call) override {
    this->call_ = call;
    detail::fresh(entropy_, call.rows, 1, Scalar(0));
    detail::fresh(argmax_, call.rows, 1, -1);
  }
  /// One block of the call (see WeightSink::consume). \param first_row its first query row \param block its weights
  void consume(Index first_row, const WeightBlock<Scalar>& block) override {
    detail::entropy_block(block.data(), block.outerStride(), first_row, block.rows(), this->call_.rows,
                          this->call_.cols, this->mask(), entropy_.data() + first_row, argmax_.data() + first_row);
  }
  /// \return Tq row entropies of the last call (nats; 0 for fully masked rows)
  const Vector<Scalar>& entropy() const { return entropy_; }
  /// \return Tq argmax keys of the last call, -1 where a row has no positive visible weight
  const IndexVector& argmax() const { return argmax_; }
  /// The argmax as hard-alignment links, as argmax_alignment returns them (allocates).
  /// \return one link (i, argmax(i)) per row that has one, sorted by i
  Alignment alignment() const {
    Alignment links;
    for (Index i = 0; i < argmax_.size(); ++i)
      if (argmax_(i) >= 0) links.push_back({i, argmax_(i)});
    return links;
  }

 private:
  Vector<Scalar> entropy_;
  IndexVector argmax_;
};

}  // namespace attn
