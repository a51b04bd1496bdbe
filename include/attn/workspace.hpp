// SPDX-License-Identifier: MIT
// attn::Workspace: reusable scratch storage for the `_into` forms of the mechanisms.
// Buffers grow when a call needs more and never shrink, so a steady-state loop allocates nothing.
#pragma once

#include "config.hpp"

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
  Eigen::Map<const Matrix<Scalar>> view() const { return {storage_.data(), rows_, cols_}; }

 private:
  Vector<Scalar> storage_;
  Index rows_ = 0;
  Index cols_ = 0;
};

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
  Eigen::Map<const Matrix<Scalar>> scores() const { return scores_.view(); }
  /// Choosing probabilities `p` of the last monotonic call (Tq×Tk, 0 on masked keys), else stale
  /// or 0×0.
  /// \return a view into this workspace (valid until its next use)
  Eigen::Map<const Matrix<Scalar>> p_choose() const { return p_choose_.view(); }

  /// \cond INTERNAL
  // Scratch used by the kernels; not part of the API.
  Eigen::Map<RowFlags> flags(Index n) {
    if (n > flags_.size()) flags_.resize(n);
    flag_count_ = n;
    return {flags_.data(), n};
  }
  detail::Buffer<Scalar> scores_;   // copy of raw scores
  detail::Buffer<Scalar> queries_;  // projected queries (Q·W)
  detail::Buffer<Scalar> keys_;     // projected keys (K·W), when not prepared by the caller
  detail::Buffer<Scalar> hidden_;   // tanh(q_i·Wq + K·Wk) for one query
  detail::Buffer<Scalar> column_;   // one score column
  detail::Buffer<Scalar> p_choose_; // monotonic choosing probabilities, Tq×Tk
  detail::Buffer<Scalar> vector_;   // an effective parameter vector (normalized v)
  detail::Buffer<Scalar> values_;   // V with non-finite rows zeroed (rare path)
  detail::Buffer<Scalar> sort_;     // normalisation scratch: the sparsemax sort
  detail::Buffer<Scalar> row_;      // a one-row block's weights and output as contiguous vectors
  /// \endcond

 private:
  RowFlags flags_;
  Index flag_count_ = 0;
};

}  // namespace attn
