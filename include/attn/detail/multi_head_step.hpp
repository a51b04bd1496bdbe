// SPDX-License-Identifier: MIT
// The arithmetic of one multi-head decoder step, shared by attn::MultiHeadMemory (cross-attention
// against a prepared source) and attn::KVCache (self-attention over a growing cache). It is
// torch.nn.MultiheadAttention's order of operations: q = (x·Wq + bq)·s (s = 1/sqrt(dh), on the
// query as torch scales it), per head e = q_h·K_hᵀ, masked softmax, c_h = w·V_h, then
// [c_1 … c_h]·Wo + bo. K and V arrive projected (K·Wk + bk, V·Wv + bv) and are never re-projected.
#pragma once

#include "../config.hpp"
#include "../head_weights.hpp"
#include "../mask.hpp"
#include "../multi_head.hpp"
#include "../multi_head_params.hpp"
#include "../multi_head_workspace.hpp"
#include "../options.hpp"
#include "../softmax.hpp"
#include "../workspace.hpp"
#include "checks.hpp"
#include "threads.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>

namespace attn {
namespace detail {

/// Checks of a step's options: those of a multi_head call (check_multi_head_options), and no
/// return_scores (a step's scores are not kept).
template <typename Scalar>
void check_step_options(const char* fn, const Options& options) {
  check_multi_head_options<Scalar>(fn, options);
  ATTN_CHECK(!options.return_scores,
             std::string(fn) + ": options.return_scores is not supported by decoder steps (the weights are returned)");
}

/// The scratch of one step in a MultiHeadWorkspace (its first item and first head), sized for `b`
/// query rows of the parameters' widths (`dq` in, D = h·dh projected, h·dhv concatenated, O out)
/// and rows of up to `tk` keys; reports `b` fully masked flags afterwards.
template <typename Scalar>
struct StepScratch {
  Eigen::Map<Matrix<Scalar>> q;       // b×D projected, scaled queries
  Eigen::Map<Matrix<Scalar>> concat;  // b×(h·dhv) heads' outputs side by side
  Eigen::Map<RowFlags> flags;         // b fully masked flags
  Scalar* sort;                       // normalize_scratch_size(tk) scalars
  Eigen::Map<Matrix<Scalar>> column;  // tk×1: one row of scores as a contiguous vector
  Eigen::Map<Matrix<Scalar>> pair;    // max(tk, dq, D, h·dhv, O)×2: a row in and a row out of a GEMV
};

template <typename Scalar>
StepScratch<Scalar> step_scratch(MultiHeadWorkspace<Scalar>& ws, const MultiHeadParams<Scalar>& p, Index b, Index tk) {
  const Index d = p.model_dim();
  const Index dv = p.heads * p.value_head_dim();  // the concatenation (p.wv.cols() unless grouped)
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
          it.concat.matrix(b, dv),
          Eigen::Map<RowFlags>(it.flags.data(), b),
          buf.sort.matrix(normalize_scratch_size(tk), 1).data(),
          buf.column.matrix(tk, 1),
          buf.row.matrix(std::max({tk, p.wq.rows(), d, dv, p.output_dim()}), 2)};
}

/// Rows a step multiplies one at a time (GEMV) by a projection matrix; more go through GEMM.
/// Eigen's GEMM packs the whole right-hand side for every call: for a 512×512 projection and a
/// few beams that copy costs more than the products (measured with bench/bench_decode.cpp:
/// 4 beams 1.3–1.5× slower through GEMM than row by row).
constexpr Index step_gemv_rows = 8;

/// `y = x·W + b` (b empty: none) for the rows of `x`, one GEMV per row on contiguous vectors
/// (`in`, `out`: scratch of x.cols() and W.cols() scalars) up to step_gemv_rows rows, GEMM beyond.
template <typename Scalar, typename X, typename Y>
void project_rows(const Eigen::MatrixBase<X>& x, const Matrix<Scalar>& w, const RowVector<Scalar>& b, Y&& y,
                  Scalar* in, Scalar* out) {
  if (x.rows() <= step_gemv_rows) {
    Eigen::Map<Vector<Scalar>> xv(in, x.cols());
    Eigen::Map<Vector<Scalar>> yv(out, w.cols());
    for (Index r = 0; r < x.rows(); ++r) {
      xv = x.row(r).transpose();
      yv.noalias() = w.transpose() * xv;
      if (b.size() != 0) yv += b.transpose();
      y.row(r) = yv.transpose();
    }
  } else {
    y.noalias() = x * w;
    if (b.size() != 0) y.rowwise() += b;
  }
}

/// Projected, scaled queries: `s.q = (query·Wq + bq)·scale` (B×D), each head normalised by
/// `p.q_norm` before the scale when it is set.
template <typename Scalar, typename DerivedQ>
void project_step_queries(const Eigen::MatrixBase<DerivedQ>& query, const MultiHeadParams<Scalar>& p, Scalar scale,
                          StepScratch<Scalar>& s) {
  project_rows(query, p.wq, p.bq, s.q, s.pair.col(0).data(), s.pair.col(1).data());
  if (p.q_norm) norm_rows(s.q, p.head_dim(), *p.q_norm);
  s.q *= scale;
}

/// `output = concat·Wo + bo` (B×O); rows whose query saw no key are exactly `bo` (0 without bias).
template <typename Scalar>
void project_step_output(const MultiHeadParams<Scalar>& p, StepScratch<Scalar>& s, Eigen::Ref<Matrix<Scalar>> output) {
  project_rows(s.concat, p.wo, p.bo, output, s.pair.col(0).data(), s.pair.col(1).data());
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
/// `vh` (n×dhv), all visible: the weights into `w` (1×n, any row of a matrix) and `c_h` into
/// `ctx` (1×dhv). Scores, weights and context go through contiguous vectors (Eigen's GEMV is
/// fastest there). Nothing is written to `w` when n == 0 (the caller zeroes the row). The scores
/// are capped by `cap` when it is set (options.softcap, softcap.hpp), then biased by `alibi`
/// (ALiBi with key 0 of `kh` as position 0: its offset is the query's position past that key).
template <typename Scalar, typename Qh, typename Kh, typename Vh, typename W, typename C>
void step_row(const Qh& qh, const Kh& kh, const Vh& vh, W&& w, C&& ctx, StepScratch<Scalar>& s,
              Probability probability, const SoftCap<Scalar>& cap, const std::optional<Alibi>& alibi = std::nullopt) {
  const Index n = kh.rows();
  const Index dh = qh.cols();
  if (n == 0) {
    ctx.setZero();
    return;
  }
  auto col = s.column.col(0).head(n);
  auto x = s.pair.col(0).head(dh);
  auto y = s.pair.col(1).head(vh.cols());
  x = qh.transpose();
  col.noalias() = kh * x;
  if (cap) soft_cap(col.data(), n, cap);
  if (alibi) add_alibi(col.data(), 1, n, 1, 0, *alibi);  // one row of n keys
  Eigen::Map<Matrix<Scalar>> row(col.data(), 1, n);
  Eigen::Array<bool, 1, 1> flag;
  normalize_rows(probability, row, 0, 1, Mask(), Eigen::Ref<RowFlags>(flag), s.sort);
  y.noalias() = vh.transpose() * col;
  w = row;
  ctx = y.transpose();
}

/// The B query rows `qh` (B×dh, scaled) of one head against the same `n` keys (n×dh) and values
/// (n×dhv), all visible: weights into `w` (B×Tk, Tk >= n; columns from n on set to 0), `c_h` into
/// `ctx` (B×dhv). Up to step_gemv_rows rows go one by one through GEMV (GEMM would pack K_h and V_h
/// for a few rows), more through GEMM. The scores are capped by `cap` when it is set.
template <typename Scalar, typename Qh, typename Kh, typename Vh, typename W, typename C>
void step_rows(const Qh& qh, const Kh& kh, const Vh& vh, W& w, C&& ctx, StepScratch<Scalar>& s, Probability probability,
               const SoftCap<Scalar>& cap) {
  const Index n = kh.rows();
  const Index b = qh.rows();
  w.rightCols(w.cols() - n).setZero();
  if (b <= step_gemv_rows) {
    for (Index r = 0; r < b; ++r) step_row(qh.row(r), kh, vh, w.row(r).head(n), ctx.row(r), s, probability, cap);
    return;
  }
  if (n == 0) {
    ctx.setZero();
    return;
  }
  auto wn = w.leftCols(n);
  wn.noalias() = qh * kh.transpose();
  if (cap) soft_cap(wn.data(), b, n, wn.outerStride(), cap);
  normalize_rows(probability, wn, 0, b, Mask(), Eigen::Ref<RowFlags>(s.flags), s.sort);
  ctx.noalias() = wn * vh;
}

/// The frame of every multi-head step (MultiHeadMemory, KVCache): checks `output` (B×O) and the
/// options, projects and scales the queries, lets `heads(s, weights)` write every head's
/// weights (`weights` resized to h×B×tk) and its block of `s.concat`, then applies the output
/// projection. `no_key`: no query row sees a key (the rows are flagged, their output is `bo`).
/// Returns the number of fully masked rows.
template <typename Scalar, typename DerivedQ, typename Heads>
Index run_step(const char* fn, const MultiHeadParams<Scalar>& p, const Eigen::MatrixBase<DerivedQ>& query, Index tk,
               bool no_key, Eigen::Ref<Matrix<Scalar>> output, HeadWeights<Scalar>& weights,
               MultiHeadWorkspace<Scalar>& ws, const Options& options, Heads&& heads) {
  const Index b = query.rows();
  check_shape(fn, "output", output, b, p.output_dim());
  check_step_options<Scalar>(fn, options);
  const SingleThreadedEigen serial;
  const Scalar scale = score_scale<Scalar>(fn, options, Scalar(1) / std::sqrt(static_cast<Scalar>(p.head_dim())));
  weights.resize(p.heads, b, tk);
  auto s = step_scratch(ws, p, b, tk);
  project_step_queries(query, p, scale, s);
  heads(s, weights);
  s.flags.setConstant(no_key);
  project_step_output(p, s, output);
  return no_key ? b : 0;
}

/// Value form of a step: `into(output, weights, ws)` runs its `_into` form.
template <typename Scalar, typename Into>
MultiHeadResult<Scalar> step_result(Index b, Index o, Into&& into) {
  MultiHeadResult<Scalar> r;
  r.output.resize(b, o);
  MultiHeadWorkspace<Scalar> ws;
  into(r.output, r.weights, ws);
  r.fully_masked = ws.fully_masked();
  return r;
}

}  // namespace detail
}  // namespace attn
