// SPDX-License-Identifier: MIT
// Sinks that reduce the Tq×Tk weights while their blocks are in cache (see sinks.hpp): per-row
// top-k keys (attn::TopK), attention received per key (attn::ColumnSums) and per-row entropy and
// argmax (attn::RowStats), each giving the numbers the post-processing of a full matrix gives.
#pragma once

#include "alignment.hpp"
#include "config.hpp"
#include "mask.hpp"
#include "sinks.hpp"
#include "softmax.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace attn {

namespace detail {

/// Calls f(j) for every key j that query i sees (in increasing j), as row_entropy and
/// argmax_alignment visit them.
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

}  // namespace detail

/// Matrix of key indices (TopK::indices).
using IndexMatrix = Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic>;
/// Vector of indices (RowStats::argmax, ColumnSums::counts).
using IndexVector = Eigen::Matrix<Index, Eigen::Dynamic, 1>;

/// Per query row, the `k` visible keys of largest weight, largest first; equal weights go to the
/// lower key index first, NaN ranks below every number. A row with fewer than `k` visible keys
/// (a fully masked row: none) is padded with index -1 and weight 0. Masked keys never appear.
/// Memory: Tq×k indices and weights. Time: O(Tk·k) per row at worst (insertion into a list of k).
template <typename Scalar>
class TopK final : public WeightSink<Scalar> {
 public:
  /// \param k keys per row, >= 1 \throws attn::invalid_argument when k < 1
  explicit TopK(Index k) : k_(k) {
    ATTN_CHECK(k >= 1, "attn::TopK: k (" + std::to_string(k) + ") must be >= 1");
  }
  /// Checks the sink fits the call and prepares its storage (see WeightSink::begin). \param call the call
  void begin(const SinkCall& call) override {
    mask_ = call.mask;
    tk_ = call.cols;
    detail::shape_to(indices_, call.rows, k_);
    detail::shape_to(weights_, call.rows, k_);
    indices_.setConstant(-1);
    weights_.setZero();
  }
  /// One block of the call (see WeightSink::consume). \param first_row its first query row \param block its weights
  void consume(Index first_row, const WeightBlock<Scalar>& block) override {
    for (Index r = 0; r < block.rows(); ++r) {
      const Index i = first_row + r;
      auto idx = indices_.row(i);
      auto w = weights_.row(i);
      Index count = 0;
      detail::for_visible(*mask_, i, tk_, [&](Index j) {
        const Scalar x = block(r, j);
        // Position of x: after every kept entry that ranks at least as high (earlier keys win ties).
        const auto above = [&](Index p) { return !(x > w(p)) && !(x == x && w(p) != w(p)); };
        if (count == k_ && above(k_ - 1)) return;
        Index p = std::min(count, k_ - 1);
        while (p > 0 && !above(p - 1)) {
          idx(p) = idx(p - 1);
          w(p) = w(p - 1);
          --p;
        }
        idx(p) = j;
        w(p) = x;
        count = std::min(count + 1, k_);
      });
    }
  }
  /// Keys per row. \return k
  Index k() const { return k_; }
  /// \return Tq×k key indices of the last call, -1 where a row had fewer visible keys
  const IndexMatrix& indices() const { return indices_; }
  /// \return Tq×k weights of those keys, 0 where the index is -1
  const Matrix<Scalar>& weights() const { return weights_; }

 private:
  Index k_;
  Index tk_ = 0;
  const Mask* mask_ = nullptr;
  IndexMatrix indices_;
  Matrix<Scalar> weights_;
};

/// Attention received per key: `sums(j)` = Σ_i w_ij over every query (what KV-cache eviction
/// such as H2O ranks keys by), and `counts(j)`, the number of queries the mask lets see key j
/// (divide for a mean). Deterministic for any thread count: each block of rows sums its columns
/// (rows in increasing order), and end() adds the blocks' sums in block order.
/// Memory: Tk·ceil(Tq/256) scalars of per-block sums, plus Tk sums and counts.
template <typename Scalar>
class ColumnSums final : public WeightSink<Scalar> {
 public:
  /// Checks the sink fits the call and prepares its storage (see WeightSink::begin). \param call the call
  void begin(const SinkCall& call) override {
    mask_ = call.mask;
    tq_ = call.rows;
    const Index blocks = (call.rows + block_rows - 1) / block_rows;
    detail::shape_to(partial_, call.cols, blocks);
    detail::shape_to(sums_, call.cols, 1);
    detail::shape_to(counts_, call.cols, 1);
  }
  /// One block of the call (see WeightSink::consume). \param first_row its first query row \param block its weights
  void consume(Index first_row, const WeightBlock<Scalar>& block) override {
    auto p = partial_.col(first_row / block_rows);
    for (Index j = 0; j < block.cols(); ++j) {
      Scalar s = 0;
      for (Index r = 0; r < block.rows(); ++r) s += block(r, j);
      p(j) = s;
    }
  }
  void end() override {
    sums_.setZero();
    for (Index b = 0; b < partial_.cols(); ++b) sums_ += partial_.col(b);
    const Index tk = sums_.size();
    const auto& m = mask_->explicit_matrix();
    for (Index j = 0; j < tk; ++j) {
      const auto [r0, r1] = detail::band_rows(*mask_, j, tq_);
      Index c = 0;
      if (!m) {
        c = r1 - r0;
      } else {
        for (Index i = r0; i < r1; ++i) c += (*m)(i, j) ? 1 : 0;
      }
      counts_(j) = c;
    }
  }
  /// Query rows per block: the unit of the per-block sums (the engine's block).
  static constexpr Index block_rows = detail::sweep_rows;
  /// \return Tk sums of the weights each key received in the last call
  const Vector<Scalar>& sums() const { return sums_; }
  /// \return Tk counts of queries that could see each key (by the mask)
  const IndexVector& counts() const { return counts_; }

 private:
  const Mask* mask_ = nullptr;
  Index tq_ = 0;
  Matrix<Scalar> partial_;  // Tk × blocks
  Vector<Scalar> sums_;
  IndexVector counts_;
};

/// Per query row, the entropy of its weights in nats (exactly attn::row_entropy of the full
/// weights under the same mask) and its argmax key (exactly attn::argmax_alignment: the first
/// largest visible positive weight; -1 for a row without one, such as a fully masked row).
/// Memory: Tq entropies and Tq indices.
template <typename Scalar>
class RowStats final : public WeightSink<Scalar> {
 public:
  /// Checks the sink fits the call and prepares its storage (see WeightSink::begin). \param call the call
  void begin(const SinkCall& call) override {
    mask_ = call.mask;
    tk_ = call.cols;
    detail::shape_to(entropy_, call.rows, 1);
    detail::shape_to(argmax_, call.rows, 1);
    entropy_.setZero();
    argmax_.setConstant(-1);
  }
  /// One block of the call (see WeightSink::consume). \param first_row its first query row \param block its weights
  void consume(Index first_row, const WeightBlock<Scalar>& block) override {
    for (Index r = 0; r < block.rows(); ++r) {
      const Index i = first_row + r;
      Scalar sum = 0;
      Scalar max = 0;
      Index best = -1;
      detail::for_visible(*mask_, i, tk_, [&](Index j) {
        const Scalar w = block(r, j);
        if (w != Scalar(0)) sum -= w * std::log(w);
        if (w > max) {
          max = w;
          best = j;
        }
      });
      entropy_(i) = sum + Scalar(0);  // never -0
      argmax_(i) = best;
    }
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
  const Mask* mask_ = nullptr;
  Index tk_ = 0;
  Vector<Scalar> entropy_;
  IndexVector argmax_;
};

}  // namespace attn
