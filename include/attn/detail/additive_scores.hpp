// SPDX-License-Identifier: MIT
// Additive scores shared by Bahdanau and Luong concat:
// scores(i, j) = v · tanh(pq.row(i) + pk.row(j)), pq Tq×u, pk Tk×u, v 1×u.
#pragma once

#include "../config.hpp"
#include "../workspace.hpp"

namespace attn {
namespace detail {

/// Writes the additive scores into `scores` (Tq×Tk). The broadcast sum is materialised in
/// `ws.hidden_` first so that Eigen's vectorised tanh runs on plain storage.
template <typename Scalar, typename DerivedPq, typename DerivedPk, typename DerivedVv>
void additive_scores(const Eigen::MatrixBase<DerivedPq>& pq, const Eigen::MatrixBase<DerivedPk>& pk,
                     const Eigen::MatrixBase<DerivedVv>& v, Eigen::Ref<Matrix<Scalar>> scores, Workspace<Scalar>& ws) {
  const Index tk = pk.rows();
  // Nothing to write without keys; without units every score is the empty sum, 0. (Returned
  // before any row is taken: a row of a matrix without storage would be a null pointer plus an
  // offset, undefined behaviour.)
  if (tk == 0) return;
  if (pq.cols() == 0) {
    scores.setZero();
    return;
  }
  auto hidden = ws.hidden_.matrix(tk, pk.cols());
  auto column = ws.column_.matrix(tk, 1);
  for (Index i = 0; i < pq.rows(); ++i) {
    hidden = pk.rowwise() + pq.row(i);
    hidden.array() = hidden.array().tanh();
    column.noalias() = hidden * v.transpose();
    scores.row(i) = column.transpose();
  }
}

}  // namespace detail
}  // namespace attn
