// SPDX-License-Identifier: MIT
// Additive scores shared by Bahdanau and Luong concat:
// scores(i, j) = v · tanh(pq.row(i) + pk.row(j)), pq Tq×u, pk Tk×u, v 1×u.
#pragma once

#include "../config.hpp"
#include "../workspace.hpp"

#include <algorithm>

namespace attn {
namespace detail {

/// Rows `[first, first + count)` of the parameter matrix `m`, as a map. Unlike `m.middleRows`,
/// also defined for a matrix without storage (0 units: no columns), whose blocks Eigen would
/// form by offsetting a null pointer.
template <typename Scalar>
Eigen::Map<const Matrix<Scalar>, 0, Eigen::OuterStride<>> parameter_rows(const Matrix<Scalar>& m, Index first,
                                                                          Index count) {
  const Scalar* data = m.size() == 0 ? nullptr : m.data() + first;
  return {data, count, m.cols(), Eigen::OuterStride<>(std::max<Index>(m.rows(), 1))};
}

/// Writes the additive scores into `scores` (Tq×Tk). The broadcast sum is materialised in
/// `detail::buffers(ws).hidden` first so that Eigen's vectorised tanh runs on plain storage.
template <typename Scalar, typename DerivedPq, typename DerivedPk, typename DerivedVv>
void additive_scores(const Eigen::MatrixBase<DerivedPq>& pq, const Eigen::MatrixBase<DerivedPk>& pk,
                     const Eigen::MatrixBase<DerivedVv>& v, Eigen::Ref<Matrix<Scalar>> scores, Workspace<Scalar>& ws) {
  const Index tk = pk.rows();
  // Without keys there is nothing to write; without units every score is the empty sum, 0.
  // (Returned before any row is taken: a row of a matrix without storage would be a null
  // pointer plus an offset, undefined behaviour.)
  if (tk == 0) return;
  if (pk.cols() == 0) {
    scores.setZero();
    return;
  }
  auto hidden = detail::buffers(ws).hidden.matrix(tk, pk.cols());
  auto column = detail::buffers(ws).column.matrix(tk, 1);
  for (Index i = 0; i < pq.rows(); ++i) {
    hidden = pk.rowwise() + pq.row(i);
    hidden.array() = hidden.array().tanh();
    column.noalias() = hidden * v.transpose();
    scores.row(i) = column.transpose();
  }
}

}  // namespace detail
}  // namespace attn
