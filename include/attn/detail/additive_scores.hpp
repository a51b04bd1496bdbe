// SPDX-License-Identifier: MIT
// Additive scores shared by Bahdanau, Luong concat and the additive self-attention layers:
// scores(i, j) = v · tanh(pq.row(i) + pk.row(j)), pq Tq×u, pk Tk×u, v 1×u.
#pragma once

#include "../config.hpp"
#include "../workspace.hpp"
#include "gemm.hpp"
#include "memory_step.hpp"

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

/// Writes the additive scores into `scores` (Tq×Tk): the prepared keys are copied transposed
/// into `detail::buffers(ws).keys` (units×Tk, each key a contiguous column), then each row is one
/// fused pass of Eigen's vectorised tanh and the sum with `v` per key (memory_step.hpp), the same
/// arithmetic as a prepared attn::Memory's step. `v` must be contiguous (a RowView).
template <typename Scalar, typename DerivedPq, typename DerivedPk, typename DerivedVv>
void additive_scores(const Eigen::MatrixBase<DerivedPq>& pq, const Eigen::MatrixBase<DerivedPk>& pk,
                     const Eigen::MatrixBase<DerivedVv>& v, Eigen::Ref<Matrix<Scalar>> scores, Workspace<Scalar>& ws) {
  static_assert(DerivedVv::InnerStrideAtCompileTime == 1, "attn: additive_scores needs a contiguous v");
  const Index tk = pk.rows();
  const Index units = pk.cols();
  // Without keys there is nothing to write; without units every score is the empty sum, 0.
  // (Returned before any row is taken: a row of a matrix without storage would be a null
  // pointer plus an offset, undefined behaviour.)
  if (tk == 0) return;
  if (units == 0) {
    scores.setZero();
    return;
  }
  auto kt = detail::buffers(ws).keys.matrix(units, tk);
  transpose_into(pk, kt);
  additive_score_rows<Scalar>(pq, kt.data(), units, tk, v.derived().data(), scores,
                              detail::buffers(ws).hidden.matrix(units, 1), detail::buffers(ws).column.matrix(tk, 1));
}

}  // namespace detail
}  // namespace attn
