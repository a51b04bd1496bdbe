// SPDX-License-Identifier: MIT
// The arithmetic of one multi-head decoder step, shared by attn::MultiHeadMemory (cross-attention
// against a prepared source) and attn::KVCache (self-attention over a growing cache). It is
// torch.nn.MultiheadAttention's order of operations: q = (x·Wq + bq)·s (s = 1/sqrt(D/h), on the
// query as torch scales it), per head e = q_h·K_hᵀ, masked softmax, c_h = w·V_h, then
// [c_1 … c_h]·Wo + bo. K and V arrive projected (K·Wk + bk, V·Wv + bv) and are never re-projected.
#pragma once

#include "../config.hpp"
#include "../head_weights.hpp"
#include "../mask.hpp"
#include "../multi_head_params.hpp"
#include "../multi_head_workspace.hpp"
#include "../options.hpp"
#include "../softmax.hpp"
#include "../workspace.hpp"
#include "checks.hpp"
#include "threads.hpp"

#include <cmath>
#include <cstddef>
#include <string>

namespace attn {
namespace detail {

/// Checks of a step's options: a finite scale, a known probability function, no return_scores
/// (a step's scores are not kept).
template <typename Scalar>
void check_step_options(const char* fn, const Options& options) {
  check_scale<Scalar>(fn, options.scale);
  check_probability(fn, options.probability);
  ATTN_CHECK(!options.return_scores,
             std::string(fn) + ": options.return_scores is not supported by decoder steps (the weights are returned)");
}

/// The scratch of one step in a MultiHeadWorkspace (its first item and first head), sized for `b`
/// query rows of width `d` and rows of up to `tk` keys; reports `b` fully masked flags afterwards.
template <typename Scalar>
struct StepScratch {
  Eigen::Map<Matrix<Scalar>> q;       // b×D projected, scaled queries
  Eigen::Map<Matrix<Scalar>> concat;  // b×D heads' outputs side by side
  Eigen::Map<RowFlags> flags;         // b fully masked flags
  Scalar* sort;                       // normalize_scratch_size(tk) scalars
  Eigen::Map<Matrix<Scalar>> column;  // tk×1: one row of scores as a contiguous vector
  Eigen::Map<Matrix<Scalar>> pair;    // max(tk, D)×2: a one-row block's weights and output
};

template <typename Scalar>
StepScratch<Scalar> step_scratch(MultiHeadWorkspace<Scalar>& ws, Index b, Index d, Index tk) {
  auto& items = MultiHeadWorkspaceAccess::items(ws);
  auto& heads = MultiHeadWorkspaceAccess::heads(ws);
  if (items.empty()) items.resize(1);
  if (heads.empty()) heads.resize(1);
  MultiHeadWorkspaceAccess::used(ws) = 1;
  auto& it = items[0];
  if (it.flags.size() < b) it.flags.resize(b);
  it.flag_count = b;
  Workspace<Scalar>& hw = heads[0];
  auto& buf = buffers(hw);
  return {it.q.matrix(b, d),
          it.concat.matrix(b, d),
          Eigen::Map<RowFlags>(it.flags.data(), b),
          buf.sort.matrix(normalize_scratch_size(tk), 1).data(),
          buf.column.matrix(tk, 1),
          buf.row.matrix(std::max(tk, d), 2)};
}

/// Projected, scaled queries: `s.q = (query·Wq + bq)·scale` (B×D).
template <typename Scalar, typename DerivedQ>
void project_step_queries(const Eigen::MatrixBase<DerivedQ>& query, const MultiHeadParams<Scalar>& p, Scalar scale,
                          StepScratch<Scalar>& s) {
  if (query.rows() == 1) {
    // One row: GEMV on a contiguous vector (a row of a column-major matrix is not one).
    auto x = s.pair.col(0).head(query.cols());
    auto y = s.pair.col(1).head(p.model_dim());
    x = query.row(0).transpose();
    y.noalias() = p.wq.transpose() * x;
    if (p.bq.size() != 0) y += p.bq.transpose();
    s.q.row(0) = scale * y.transpose();
  } else {
    s.q.noalias() = query * p.wq;
    if (p.bq.size() != 0) s.q.rowwise() += p.bq;
    s.q *= scale;
  }
}

/// `output = concat·Wo + bo` (B×D); rows whose query saw no key are exactly `bo` (0 without bias).
template <typename Scalar>
void project_step_output(const MultiHeadParams<Scalar>& p, StepScratch<Scalar>& s, Eigen::Ref<Matrix<Scalar>> output) {
  const Index d = p.model_dim();
  if (output.rows() == 1) {
    auto x = s.pair.col(0).head(d);
    auto y = s.pair.col(1).head(d);
    x = s.concat.row(0).transpose();
    y.noalias() = p.wo.transpose() * x;
    output.row(0) = y.transpose();
  } else {
    output.noalias() = s.concat * p.wo;
  }
  if (p.bo.size() != 0) output.rowwise() += p.bo;
  for (Index r = 0; r < output.rows(); ++r) {
    if (!s.flags(r)) continue;
    if (p.bo.size() != 0) {
      output.row(r) = p.bo;
    } else {
      output.row(r).setZero();
    }
  }
}

/// One query row `qh` (1×dh, already scaled) of one head against `n` keys `kh` (n×dh) and values
/// `vh` (n×dh), all visible: the weights into `w` (1×n, any row of a matrix) and `c_h` into
/// `ctx` (1×dh). Scores, weights and context go through contiguous vectors (Eigen's GEMV is
/// fastest there). Nothing is written to `w` when n == 0 (the caller zeroes the row).
template <typename Scalar, typename Qh, typename Kh, typename Vh, typename W, typename C>
void step_row(const Qh& qh, const Kh& kh, const Vh& vh, W&& w, C&& ctx, StepScratch<Scalar>& s,
              Probability probability) {
  const Index n = kh.rows();
  const Index dh = qh.cols();
  if (n == 0) {
    ctx.setZero();
    return;
  }
  auto col = s.column.col(0).head(n);
  auto x = s.pair.col(0).head(dh);
  auto y = s.pair.col(1).head(dh);
  x = qh.transpose();
  col.noalias() = kh * x;
  Eigen::Map<Matrix<Scalar>> row(col.data(), 1, n);
  Eigen::Array<bool, 1, 1> flag;
  normalize_rows(probability, row, 0, 1, Mask(), Eigen::Ref<RowFlags>(flag), s.sort);
  y.noalias() = vh.transpose() * col;
  w = row;
  ctx = y.transpose();
}

/// The B query rows `qh` (B×dh, scaled) of one head against the same `n` keys and values (n×dh,
/// all visible): weights into `w` (B×Tk, Tk >= n; columns from n on set to 0), `c_h` into `ctx`
/// (B×dh).
template <typename Scalar, typename Qh, typename Kh, typename Vh, typename W, typename C>
void step_rows(const Qh& qh, const Kh& kh, const Vh& vh, W& w, C&& ctx, StepScratch<Scalar>& s, Probability probability) {
  const Index n = kh.rows();
  const Index b = qh.rows();
  w.rightCols(w.cols() - n).setZero();
  if (b == 1) {
    step_row(qh, kh, vh, w.row(0).head(n), ctx, s, probability);
    return;
  }
  if (n == 0) {
    ctx.setZero();
    return;
  }
  auto wn = w.leftCols(n);
  wn.noalias() = qh * kh.transpose();
  normalize_rows(probability, wn, 0, b, Mask(), Eigen::Ref<RowFlags>(s.flags), s.sort);
  ctx.noalias() = wn * vh;
}

}  // namespace detail
}  // namespace attn
