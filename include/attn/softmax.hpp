// SPDX-License-Identifier: MIT
// Probability functions over the rows of a Tq×Tk score matrix, honouring a Mask:
// softmax (default), sparsemax (Martins & Astudillo 2016) and hardmax (ties: first maximum).
#pragma once

#include "config.hpp"
#include "mask.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

namespace attn {

/// How scores become weights.
enum class Probability { softmax, sparsemax, hardmax };

/// Row semantics shared by all three functions:
/// - masked entries get weight exactly 0; their scores are never read, so NaN/Inf there is harmless;
/// - a row with no visible key, or whose visible scores are all -inf, becomes all 0 and is
///   reported as fully masked (PyTorch SDPA / ONNX semantics, never NaN);
/// - a NaN among the visible scores makes the whole row NaN (so does +inf, except in hardmax,
///   where +inf is simply the maximum), as IEEE arithmetic would: bad input is not hidden.
namespace detail {

inline bool row_visible(const Mask& mask, Index i, Index j) {
  const auto& m = mask.explicit_matrix();
  return !m || (*m)(i, j);
}

/// Normalises row `i` of `s` in place over its visible keys, after multiplying the visible
/// scores by `scale` (folded in here so products need no scaled operand); returns false when
/// the row is fully masked (it is then all zero). `buffer` must hold at least `s.cols()` scalars.
template <typename Scalar, typename Derived>
bool normalize_row(Probability probability, Eigen::MatrixBase<Derived>& s, Index i, const Mask& mask,
                   Scalar* buffer, Scalar scale = Scalar(1)) {
  const Index tk = s.cols();
  const auto [first, last] = mask.band(i, tk);
  const bool has_matrix = mask.explicit_matrix().has_value();
  auto row = s.row(i);
  if (scale != Scalar(1))
    for (Index j = first; j < last; ++j) row(j) *= scale;

  // Maximum over visible keys; a visible NaN poisons the row.
  Scalar max = -std::numeric_limits<Scalar>::infinity();
  Index argmax = -1;
  bool nan = false;
  for (Index j = first; j < last; ++j) {
    if (has_matrix && !row_visible(mask, i, j)) continue;
    const Scalar x = row(j);
    if (std::isnan(x)) nan = true;
    if (x > max) {
      max = x;
      argmax = j;
    }
  }
  if (!nan && argmax < 0) {  // nothing visible, or every visible score is -inf
    row.setZero();
    return false;
  }
  if (nan) {
    row.setZero();
    for (Index j = first; j < last; ++j)
      if (!has_matrix || row_visible(mask, i, j)) row(j) = std::numeric_limits<Scalar>::quiet_NaN();
    return true;
  }

  switch (probability) {
    case Probability::softmax: {
      Scalar sum = 0;
      for (Index j = 0; j < tk; ++j) {
        const bool vis = j >= first && j < last && (!has_matrix || row_visible(mask, i, j));
        const Scalar e = vis ? std::exp(row(j) - max) : Scalar(0);
        row(j) = e;
        sum += e;
      }
      row /= sum;  // sum >= 1: the maximum contributes exp(0)
      break;
    }
    case Probability::sparsemax: {
      // Sort visible z = score - max descending (shifting keeps large scores exact); support
      // k = max{k : 1 + k·z(k) > Σ_{r<=k} z(r)}, tau = (Σ_{r<=k} z(r) - 1) / k, weight max(z - tau, 0).
      Index n = 0;
      for (Index j = first; j < last; ++j)
        if (!has_matrix || row_visible(mask, i, j)) buffer[n++] = row(j) - max;
      if (max == std::numeric_limits<Scalar>::infinity()) {
        for (Index j = first; j < last; ++j)
          if (!has_matrix || row_visible(mask, i, j)) row(j) = std::numeric_limits<Scalar>::quiet_NaN();
        break;
      }
      std::sort(buffer, buffer + n, std::greater<Scalar>());
      Scalar cumsum = 0;
      Scalar support_sum = 0;
      Index support = 0;
      for (Index r = 0; r < n; ++r) {
        cumsum += buffer[r];
        if (Scalar(1) + Scalar(r + 1) * buffer[r] > cumsum) {
          support = r + 1;
          support_sum = cumsum;
        }
      }
      const Scalar tau = (support_sum - Scalar(1)) / Scalar(support);
      for (Index j = 0; j < tk; ++j) {
        const bool vis = j >= first && j < last && (!has_matrix || row_visible(mask, i, j));
        row(j) = vis ? std::max((row(j) - max) - tau, Scalar(0)) : Scalar(0);
      }
      break;
    }
    case Probability::hardmax: {
      row.setZero();
      row(argmax) = Scalar(1);
      break;
    }
  }
  return true;
}

/// Normalises every row of `scale·s` in place; `fully_masked(i)` tells whether row i saw no
/// key. Returns the number of fully masked rows. `buffer` holds at least `s.cols()` scalars.
template <typename Scalar, typename Derived>
Index normalize_rows(Probability probability, Eigen::MatrixBase<Derived>& s, const Mask& mask,
                     Eigen::Ref<RowFlags> fully_masked, Scalar* buffer, Scalar scale = Scalar(1)) {
  Index count = 0;
  for (Index i = 0; i < s.rows(); ++i) {
    const bool seen = normalize_row(probability, s, i, mask, buffer, scale);
    fully_masked(i) = !seen;
    count += seen ? 0 : 1;
  }
  return count;
}

}  // namespace detail

/// Weights `Tq×Tk` from scores `Tq×Tk` with the given probability function under `mask`.
/// Masked entries are exactly 0; a row that sees no key is all 0 (see the notes above).
template <typename Derived>
Matrix<typename Derived::Scalar> normalize(const Eigen::MatrixBase<Derived>& scores, const Mask& mask = Mask(),
                                           Probability probability = Probability::softmax) {
  using Scalar = typename Derived::Scalar;
  detail::check_scalar<Scalar>();
  mask.check("attn::normalize", scores.rows(), scores.cols());
  Matrix<Scalar> w = scores;
  RowFlags fully_masked(scores.rows());
  std::vector<Scalar> buffer(static_cast<std::size_t>(scores.cols()));
  detail::normalize_rows(probability, w, mask, fully_masked, buffer.data());
  return w;
}

/// Masked softmax over each row of `scores` (`Tq×Tk`).
template <typename Derived>
Matrix<typename Derived::Scalar> softmax(const Eigen::MatrixBase<Derived>& scores, const Mask& mask = Mask()) {
  return normalize(scores, mask, Probability::softmax);
}

/// Masked sparsemax over each row: the Euclidean projection onto the simplex (exact zeros).
template <typename Derived>
Matrix<typename Derived::Scalar> sparsemax(const Eigen::MatrixBase<Derived>& scores, const Mask& mask = Mask()) {
  return normalize(scores, mask, Probability::sparsemax);
}

/// Masked hardmax over each row: one-hot at the first visible maximum.
template <typename Derived>
Matrix<typename Derived::Scalar> hardmax(const Eigen::MatrixBase<Derived>& scores, const Mask& mask = Mask()) {
  return normalize(scores, mask, Probability::hardmax);
}

}  // namespace attn
