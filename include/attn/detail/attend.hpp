// SPDX-License-Identifier: MIT
// The part every mechanism shares once its scores sit in `weights` (Tq×Tk): keep the raw
// scores if asked, normalise rows under the mask, then output = weights·V over visible keys.
#pragma once

#include "../config.hpp"
#include "../mask.hpp"
#include "../result.hpp"
#include "../softmax.hpp"
#include "../workspace.hpp"

#include <string>

namespace attn {
namespace detail {

/// Throws unless `m` is `rows×cols`, naming the function and argument.
template <typename Derived>
void check_shape(const char* function, const char* argument, const Eigen::EigenBase<Derived>& m, Index rows,
                 Index cols) {
  ATTN_CHECK(m.rows() == rows && m.cols() == cols, std::string(function) + ": " + argument + " " +
                                                       shape(m.rows(), m.cols()) + " must be " +
                                                       shape(rows, cols));
}

/// Throws unless `a == b`, with the message "function: what_a (a) must equal what_b (b)".
inline void check_equal(const char* function, const char* what_a, Index a, const char* what_b, Index b) {
  ATTN_CHECK(a == b, std::string(function) + ": " + what_a + " (" + std::to_string(a) + ") must equal " + what_b +
                         " (" + std::to_string(b) + ")");
}

/// Keys `[0, n)` hold every key any row can see (the rest are padding for all rows).
inline Index visible_prefix(const Mask& mask, Index tk) {
  return mask.length() ? *mask.length() : tk;
}

/// Normalises the scores `score_scale·weights` (unscaled scores sit in `weights`: a scaled
/// operand in the product would make Eigen's GEMV allocate) and writes output = weights·V.
/// A masked key's value row is never read into a result: V rows with NaN/Inf are zeroed in a
/// copy and added back only where visible. Returns the number of fully masked rows.
template <typename Scalar, typename DerivedV>
Index finish(Eigen::Ref<Matrix<Scalar>> weights, const Eigen::MatrixBase<DerivedV>& v,
             Eigen::Ref<Matrix<Scalar>> output, Workspace<Scalar>& ws, const Mask& mask, const Options& options,
             Scalar score_scale = Scalar(1)) {
  const Index tq = weights.rows();
  const Index tk = weights.cols();
  if (options.return_scores) ws.scores_.matrix(tq, tk) = score_scale * weights;

  auto flags = ws.flags(tq);
  auto scratch = ws.sort_.matrix(normalize_scratch_size(tq, tk), 1);
  normalize_rows(options.probability, weights, mask, flags, scratch.data(), score_scale);

  const Index n = visible_prefix(mask, tk);
  const auto w = weights.leftCols(n);
  const auto vn = v.topRows(n);
  if (vn.allFinite()) {
    output.noalias() = w * vn;
  } else {
    auto clean = ws.values_.matrix(n, v.cols());
    clean = vn;
    for (Index j = 0; j < n; ++j)
      if (!clean.row(j).allFinite()) clean.row(j).setZero();
    output.noalias() = w * clean;
    for (Index j = 0; j < n; ++j) {
      if (vn.row(j).allFinite()) continue;
      for (Index i = 0; i < tq; ++i)
        if (!flags(i) && mask.visible(i, j, tk)) output.row(i) += w(i, j) * vn.row(j);
    }
  }
  Index count = 0;
  for (Index i = 0; i < tq; ++i) {
    if (!flags(i)) continue;
    output.row(i).setZero();  // exact +0, never -0 from 0·(negative)
    ++count;
  }
  return count;
}

/// Value form on top of an `_into` call: allocates the result, runs `into`, collects reports.
template <typename Scalar, typename Into>
AttentionResult<Scalar> run(Index tq, Index tk, Index dv, const Options& options, Into&& into) {
  AttentionResult<Scalar> r;
  r.output.resize(tq, dv);
  r.weights.resize(tq, tk);
  Workspace<Scalar> ws;
  into(r.output, r.weights, ws);
  r.fully_masked = ws.fully_masked();
  if (options.return_scores) r.scores = ws.scores();
  return r;
}

}  // namespace detail
}  // namespace attn
