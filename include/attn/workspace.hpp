// SPDX-License-Identifier: MIT
// attn::Workspace: reusable scratch storage for the `_into` forms of the mechanisms.
// Buffers grow when a call needs more and never shrink, so a steady-state loop allocates nothing.
#pragma once

#include "config.hpp"

#include <utility>

namespace attn {
namespace detail {

/// Flat storage viewed as a matrix; reallocates only when asked for more than it holds.
template <typename Scalar>
class Buffer {
 public:
  Eigen::Map<Matrix<Scalar>> matrix(Index rows, Index cols) {
    const Index n = checked_product("attn::Workspace", "rows·cols of a scratch buffer", {rows, cols});
    if (n > storage_.size()) storage_.resize(n);
    rows_ = rows;
    cols_ = cols;
    return view();
  }
  Eigen::Map<Matrix<Scalar>> view() { return {storage_.data(), rows_, cols_}; }
  /// Exchanges storage and shape with `other` (no allocation).
  void swap(Buffer& other) {
    storage_.swap(other.storage_);
    std::swap(rows_, other.rows_);
    std::swap(cols_, other.cols_);
  }
  Eigen::Map<const Matrix<Scalar>> view() const { return {storage_.data(), rows_, cols_}; }

 private:
  Vector<Scalar> storage_;
  Index rows_ = 0;
  Index cols_ = 0;
};

}  // namespace detail

template <typename Scalar>
class Workspace;

namespace detail {

/// The scratch buffers of a Workspace, each named after what the kernels keep in it.
template <typename Scalar>
struct WorkspaceBuffers {
  Buffer<Scalar> scores;         // copy of raw scores (Options::return_scores)
  Buffer<Scalar> queries;        // projected queries (Q·W)
  Buffer<Scalar> prepared;       // keys prepared by a scorer (Tk×width), when not prepared by the caller
  Buffer<Scalar> keys;           // prepared keys transposed (width×Tk), for the fused dot-product blocks
  Buffer<Scalar> hidden;         // tanh(q_i·Wq + K·Wk) for one query
  Buffer<Scalar> column;         // one score column
  Buffer<Scalar> probabilities;  // monotonic choosing probabilities p, Tq×Tk
  Buffer<Scalar> vector;         // an effective parameter vector (normalized v)
  Buffer<Scalar> values;         // V with non-finite rows zeroed (rare path)
  Buffer<Scalar> sort;           // normalisation scratch: the sparsemax sort
  Buffer<Scalar> row;            // a one-row block's weights and output as contiguous vectors
  Buffer<Scalar> block;          // per-thread blocks of weights (block_rows×Tk) when a call keeps no full matrix
  Buffer<Scalar> sums;           // per-key partial sums of a one-row additive step (detail/memory_step.hpp)
};

/// The kernels' access to a Workspace's scratch (not part of the API).
struct WorkspaceAccess {
  template <typename Scalar>
  static WorkspaceBuffers<Scalar>& buffers(Workspace<Scalar>& ws) { return ws.buffers_; }
  template <typename Scalar>
  static Eigen::Map<RowFlags> flags(Workspace<Scalar>& ws, Index n) {
    if (n > ws.flags_.size()) ws.flags_.resize(n);
    ws.flag_count_ = n;
    return {ws.flags_.data(), n};
  }
};

/// The scratch buffers of `ws`.
template <typename Scalar>
WorkspaceBuffers<Scalar>& buffers(Workspace<Scalar>& ws) { return WorkspaceAccess::buffers(ws); }

/// `n` fully-masked flags of `ws` (what Workspace::fully_masked reports), grown if needed.
template <typename Scalar>
Eigen::Map<RowFlags> row_flags(Workspace<Scalar>& ws, Index n) { return WorkspaceAccess::flags(ws, n); }

}  // namespace detail

/// Scratch for the `_into` forms. After a call it also holds what the call reports
/// besides output and weights: which rows were fully masked and, on request, the raw scores.
template <typename Scalar>
class Workspace {
 public:
  /// Query rows of the last call that saw no key.
  /// \return Tq flags, a view into this workspace (valid until its next use)
  Eigen::Map<const RowFlags> fully_masked() const { return {flags_.data(), flag_count_}; }
  /// Number of such rows in the last call.
  /// \return the number of true flags in fully_masked()
  Index num_fully_masked() const { return fully_masked().count(); }
  /// Raw scores of the last call made with Options::return_scores (Tq×Tk), else stale or 0×0.
  /// \return a view into this workspace (valid until its next use)
  Eigen::Map<const Matrix<Scalar>> scores() const { return buffers_.scores.view(); }
  /// Choosing probabilities `p` of the last monotonic call (Tq×Tk, 0 on masked keys), else stale
  /// or 0×0.
  /// \return a view into this workspace (valid until its next use)
  Eigen::Map<const Matrix<Scalar>> p_choose() const { return buffers_.probabilities.view(); }

 private:
  friend struct detail::WorkspaceAccess;

  detail::WorkspaceBuffers<Scalar> buffers_;
  RowFlags flags_;
  Index flag_count_ = 0;
};

}  // namespace attn
