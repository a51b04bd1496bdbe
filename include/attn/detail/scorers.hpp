// SPDX-License-Identifier: MIT
// The score layer. Every mechanism is one of two scorers: attention is
//   keys prepared once per memory -> scores of query rows -> mask + normalise -> weights·V,
// and only the scores differ between mechanisms. A scorer prepares the key side of its scores
// once (prepare: Tk×width) and writes the scores of a block of query rows against the first n
// prepared keys (scores). Every form of every mechanism (value, `_into`, prepared memory step,
// monotonic) calls these two functions, so a mechanism's scores are written once, here.
#pragma once

#include "../config.hpp"
#include "../workspace.hpp"
#include "additive_scores.hpp"
#include "checks.hpp"
#include "gemm.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace attn {
namespace detail {

/// A read-only view of a parameter matrix (a whole Matrix, or rows of one: parameter_rows).
template <typename Scalar>
using ParameterView = Eigen::Map<const Matrix<Scalar>, 0, Eigen::OuterStride<>>;
/// A read-only view of a parameter row vector.
template <typename Scalar>
using RowView = Eigen::Map<const RowVector<Scalar>>;

/// `m` as a ParameterView (defined for a matrix without storage too).
template <typename Scalar>
ParameterView<Scalar> view(const Matrix<Scalar>& m) {
  return parameter_rows(m, 0, m.rows());
}
/// `m` as a RowView (empty for an empty vector).
template <typename Scalar>
RowView<Scalar> view(const RowVector<Scalar>& m) {
  return {m.size() == 0 ? nullptr : m.data(), m.cols()};
}
/// An empty ParameterView (no `w`).
template <typename Scalar>
ParameterView<Scalar> no_parameter() {
  return {nullptr, 0, 0, Eigen::OuterStride<>(1)};
}

/// Dot-product scores `e_ij = q_i·keys_jᵀ + bias` with keys prepared once as `scale·K·W`
/// (`W` dk×dq, a key-side kernel in Keras layout: TF LuongAttention's memory_layer,
/// keras-attention's luong_w), `scale·K·Wᵀ` (`W` dq×dk as in `q·W·kᵀ`: Luong general,
/// SeqSelfAttention multiplicative `Wa`) or `scale·K` (no `W`: scaled dot-product with scale
/// `1/sqrt(dk)`, Luong dot with scale `g`). The scale rides on the prepared keys, so a step
/// against a prepared memory and the rows of the full call do the same arithmetic. Views the
/// caller's parameters: they must outlive it.
template <typename Scalar>
struct DotScorer {
  ParameterView<Scalar> w = no_parameter<Scalar>();  ///< the kernel applied to the keys; 0×0: none (dq = dk)
  bool transpose_w = true;                           ///< keys·Wᵀ (W dq×dk) when true, keys·W (W dk×dq) when false
  Scalar scale = Scalar(1);                          ///< factor on every score, carried by the prepared keys
  Scalar bias = Scalar(0);                           ///< added to every score (SeqSelfAttention `ba`); 0: none

  /// Whether the keys are projected (`w` given).
  bool projects() const { return w.rows() != 0 || w.cols() != 0; }

  /// Blocks of query rows may be scored in parallel: scores() uses no workspace buffer.
  static constexpr bool parallel_blocks = true;
  /// Scores are `v·tanh(·)`, with a query-side kernel.
  static constexpr bool additive = false;

  /// \param dk the width of a key row
  /// \return dq, the width of a query row this scorer expects
  Index query_size(Index dk) const { return !projects() ? dk : transpose_w ? w.rows() : w.cols(); }
  /// \param dk the width of a key row
  /// \return the width of a prepared key row (dq)
  Index prepared_size(Index dk) const { return query_size(dk); }

  /// Throws unless keys of width `dk` fit `w`.
  void check(const char* fn, Index dk) const {
    if (projects() && transpose_w) check_equal(fn, "params.w.cols()", w.cols(), "k.cols()", dk);
    if (projects() && !transpose_w) check_equal(fn, "params.w.rows()", w.rows(), "k.cols()", dk);
  }

  /// prepared = scale·K·Wᵀ or scale·K·W (Tk×dq), or scale·K.
  template <typename DerivedK>
  void prepare(const Eigen::MatrixBase<DerivedK>& k, Eigen::Ref<Matrix<Scalar>> prepared) const {
    if (!projects()) {
      prepared = scale * k;
    } else {
      if (transpose_w) {
        prepared.noalias() = k * w.transpose();
      } else {
        prepared.noalias() = k * w;
      }
      if (scale != Scalar(1)) prepared *= scale;
    }
  }

  /// The scores of query rows `q` (B×dq) against prepared keys `keys` (n×dq) into `out` (B×n).
  template <typename DerivedQ, typename DerivedP>
  void scores(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedP>& keys,
              Eigen::Ref<Matrix<Scalar>> out, Workspace<Scalar>& ws) const {
    // (The one-row scratch is sized for any row count: a workspace warmed up on more rows must
    // not allocate for one.)
    auto kt = buffers(ws).keys.matrix(keys.cols(), keys.rows());
    const auto row = buffers(ws).hidden.matrix(keys.cols(), 1);
    const auto column = buffers(ws).column.matrix(keys.rows(), 1);
    if (q.rows() == 1) {
      // One row: the keys transposed, each score one sum over a contiguous key column, as every
      // one-row dot score is computed (dot_score_row: a Memory's step, the full call's blocks).
      transpose_into(keys, kt);
      dot_score_row<Scalar>(q, kt.data(), kt.rows(), kt.cols(), out, row, column);
    } else {
      product(q, keys.transpose(), out);  // attn's gemm for a plain q, as scores_transposed
    }
    if (bias != Scalar(0)) out.array() += bias;
  }

  /// The full call's form of scores(): `keys_t` is the transposed prepared keys (dq×Tk,
  /// column-major), whose packing in every block's GEMM reads contiguous memory. Same
  /// arithmetic as scores(). A block of one row goes through dot_score_row with the scratch
  /// `row` (dq×1) and `column` (Tk×1), which only that block may use (see attend_prepared).
  template <typename DerivedQ>
  void scores_transposed(const Eigen::MatrixBase<DerivedQ>& q, Eigen::Map<const Matrix<Scalar>> keys_t,
                         Eigen::Ref<Matrix<Scalar>> out, Eigen::Map<Matrix<Scalar>> row,
                         Eigen::Map<Matrix<Scalar>> column) const {
    if (q.rows() == 1) {
      dot_score_row<Scalar>(q, keys_t.data(), keys_t.rows(), keys_t.cols(), out, row, column);
    } else {
      product(q, keys_t, out);  // attn's gemm for a plain q (attend.hpp)
    }
    if (bias != Scalar(0)) out.array() += bias;
  }
};

/// Additive scores `e_ij = v·tanh(q_i·Wq + keys_j) + bias` with keys prepared as `K·Wk + b`:
/// Bahdanau (normalized: `v` = `g·v/‖v‖`), Luong concat (`Wq`, `Wk` the two halves of `W`, `v`
/// scaled by `g`), SeqSelfAttention additive (`Wt`, `Wx`, `b` = `bh`, `v` = `Waᵀ`, bias `ba`),
/// many-to-one Bahdanau. The scale is folded into `v`. Views the caller's parameters (and a
/// workspace's effective `v`): they must outlive it.
template <typename Scalar>
struct AdditiveScorer {
  ParameterView<Scalar> wq;  ///< dq×units, applied to the queries
  ParameterView<Scalar> wk;  ///< dk×units, applied to the keys when prepared
  RowView<Scalar> b;         ///< 1×units added to the prepared keys, or empty
  RowView<Scalar> v;         ///< 1×units, the effective score vector (scale folded in)
  Scalar bias = Scalar(0);   ///< added to every score; 0: none

  /// Blocks are scored before normalisation, not in parallel: scores() uses workspace buffers.
  static constexpr bool parallel_blocks = false;
  /// Scores are `v·tanh(·)`, with a query-side kernel.
  static constexpr bool additive = true;

  /// \return dq, the width of a query row this scorer expects
  Index query_size(Index) const { return wq.rows(); }
  /// \return the number of hidden units
  Index prepared_size(Index) const { return v.cols(); }

  /// Throws unless keys of width `dk` fit `wk`.
  void check(const char* fn, Index dk) const {
    ATTN_CHECK(dk == wk.rows(), std::string(fn) + ": k.cols() (" + std::to_string(dk) + ") must equal params.wk.rows() (" +
                                    std::to_string(wk.rows()) +
                                    "): the keys are Tk×dk, one row per source step (a memory passed transposed "
                                    "shows its length as k.cols())");
  }

  /// prepared = K·Wk + b (Tk×units).
  template <typename DerivedK>
  void prepare(const Eigen::MatrixBase<DerivedK>& k, Eigen::Ref<Matrix<Scalar>> prepared) const {
    prepared.noalias() = k * wk;
    if (b.size() != 0) prepared.rowwise() += b;
  }

  /// The scores of query rows `q` (B×dq) against prepared keys `keys` (n×units) into `out` (B×n).
  /// One row: the projection fused into the scores (additive_step_scores, as a Memory's step).
  template <typename DerivedQ, typename DerivedP>
  void scores(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedP>& keys,
              Eigen::Ref<Matrix<Scalar>> out, Workspace<Scalar>& ws) const {
    const Index n = keys.rows();
    const Index units = v.cols();
    // (The one-row scratch is sized for any row count: a workspace warmed up on more rows must
    // not allocate for one.)
    auto row = buffers(ws).hidden.matrix(std::max(wq.rows(), units), 1);
    auto sums = buffers(ws).sums.matrix(additive_step_sums<Scalar>(n), 1);
    auto kt = buffers(ws).keys.matrix(units, n);
    auto pq = buffers(ws).queries.matrix(q.rows(), units);
    if (q.rows() == 1 && n > 0 && units > 0) {
      kt = keys.transpose();
      const Scalar* x = contiguous_row(q, row);
      write_row<Scalar>(out, buffers(ws).column.matrix(n, 1), [&](Scalar* e) {
        additive_step_scores(x, wq.rows(), wq.data(), wq.outerStride(), kt.data(), units, n, v.data(), pq.data(),
                             sums.data(), e);
      });
    } else {
      pq.noalias() = q * wq;
      additive_scores<Scalar>(pq, keys, v, out, ws);
    }
    if (bias != Scalar(0)) out.array() += bias;
  }

  /// Every query projected, `q·Wq` (Tq×units, in the workspace): the first half of scores(),
  /// for scoring block by block with scores_projected(). One row: project_row's sums, as the
  /// fused one-row scores() (so that both give the same bits).
  template <typename DerivedQ>
  Eigen::Map<Matrix<Scalar>> project_queries(const Eigen::MatrixBase<DerivedQ>& q, Workspace<Scalar>& ws) const {
    auto row = buffers(ws).hidden.matrix(std::max(wq.rows(), v.cols()), 1);
    auto pq = buffers(ws).queries.matrix(q.rows(), v.cols());
    if (q.rows() == 1 && v.cols() > 0) {
      project_row(contiguous_row(q, row), wq.rows(), wq.data(), wq.outerStride(), v.cols(), pq.data());
    } else {
      pq.noalias() = q * wq;
    }
    return pq;
  }

  /// The second half of scores(): scores of projected query rows `pq` (B×units, rows of
  /// project_queries') into `out` (B×n), row by row as scores() computes them.
  template <typename DerivedPq, typename DerivedP>
  void scores_projected(const Eigen::MatrixBase<DerivedPq>& pq, const Eigen::MatrixBase<DerivedP>& keys,
                        Eigen::Ref<Matrix<Scalar>> out, Workspace<Scalar>& ws) const {
    additive_scores<Scalar>(pq, keys, v, out, ws);
    if (bias != Scalar(0)) out.array() += bias;
  }
};

/// The scorer of a mechanism's parameter type (BahdanauParams, LuongParams), specialised beside
/// the parameters. A specialisation gives:
/// - `Scalar`, and `Keys`, the type prepare_keys returns (the prepared keys and what they were prepared for);
/// - `query_size(fn, params, dk)`: the query width the parameters imply for keys of width dk;
/// - `with(fn, params, dq, dk, scale, ws, f)`: checks the parameters against the widths and
///   returns `f(scorer)` (scale: a factor on every score);
/// - `keys_for(params)`: empty keys tagged with what they are prepared for;
/// - `check_keys(fn, keys, params, dq)`: throws unless `keys` were prepared for `params`;
///   returns the key width dk they were prepared from.
/// Every form of such a mechanism (detail/forms.hpp, monotonic.hpp, prepared_memory.hpp) is
/// written once over it. The primary template is empty: a function constrained on
/// `ScorerOf<Params>::Keys` takes only the parameters of such a mechanism.
template <typename Params>
struct ScorerOf {};

/// The scores of query rows `q` (B×dq) against the keys `k` (n×dk) under `scorer` into `out`
/// (B×n), with the key side of `k` prepared in `ws` first: what the sequence layers
/// (attention_pooling, many_to_one, seq_self_attention) and the monotonic forms do with a scorer.
template <typename Scorer, typename DerivedQ, typename DerivedK, typename Scalar>
void score_keys(const Scorer& scorer, const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                Eigen::Ref<Matrix<Scalar>> out, Workspace<Scalar>& ws) {
  auto prepared = buffers(ws).prepared.matrix(k.rows(), scorer.prepared_size(k.cols()));
  scorer.prepare(k, prepared);
  scorer.scores(q, prepared, out, ws);
}

}  // namespace detail
}  // namespace attn
