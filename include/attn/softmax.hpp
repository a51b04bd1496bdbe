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
#include <utility>

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

/// Sparsemax or hardmax of row `i` of `s` in place over its visible keys, after multiplying the
/// visible scores by `scale` (folded in here so products need no scaled operand); returns false
/// when the row is fully masked (it is then all zero). `buffer` must hold at least `s.cols()`
/// scalars. Softmax runs column-wise over the whole matrix instead: see softmax_columns.
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
    case Probability::softmax:  // column-wise, in normalize_rows; never per row
      ATTN_ASSERT(false);
      break;
  }
  return true;
}

/// Rows `[r0, r1)` of column `j` that the band kinds of `mask` (length, causal, window) show
/// in a `tq`-row problem; the explicit matrix, if any, is consulted separately.
inline std::pair<Index, Index> band_rows(const Mask& mask, Index j, Index tq) {
  if (mask.length() && j >= *mask.length()) return {0, 0};
  Index r0 = 0;
  Index r1 = tq;
  if (mask.right()) {  // j <= i + right  <=>  i >= j - right (written to avoid overflow)
    const Index right = *mask.right();
    r0 = right >= j ? 0 : (right <= j - tq ? tq : j - right);
  }
  if (mask.left()) {  // j >= i - left  <=>  i <= j + left
    const Index left = *mask.left();
    r1 = std::min(r1, left >= tq - 1 - j ? tq : j + left + 1);
  }
  return {r0, std::max(r0, r1)};
}

/// exp(x - shift) for `n <= B` entries through a fixed-size block, so that every entry, whatever
/// its position or alignment, goes through the same (packet) exp: results do not depend on how
/// a column is cut into bands. B = 64 bytes is a whole number of packets on SSE, AVX, AVX-512,
/// NEON. Eigen's packet exp clamps its argument (exp(-inf) would be ~1e-38): -inf gives exactly 0.
template <typename Scalar, typename X, typename Shift, typename Out>
void exp_block(const X& x, const Shift& shift, Index n, Out&& out) {
  constexpr Index B = static_cast<Index>(64 / sizeof(Scalar));
  using Block = Eigen::Array<Scalar, B, 1>;
  Block t;
  if (n == B) {
    t = x - shift;
  } else {
    t.setZero();
    t.head(n) = x - shift;
  }
  t = (t == -std::numeric_limits<Scalar>::infinity()).select(Block::Zero(), t.exp());
  out = t.head(n);
}

/// Masked softmax of every row of `scale·s` for the column-major `s` (Tq×Tk), in place, swept
/// column by column (the visible band is multiplied by `scale` first, as normalize_row does). Semantics of normalize_rows(Probability::softmax, ...): masked entries exactly 0; a
/// row with no visible key, or whose visible scores are all -inf, is all 0 and flagged in
/// `fully_masked`; a visible NaN or +inf makes the row's visible entries NaN (masked entries
/// stay 0) without touching other rows. `row_max` and `row_sum` are Tq scratch vectors.
/// Allocates nothing. Returns the number of fully masked rows.
template <typename Scalar, typename Derived>
Index softmax_columns(Eigen::MatrixBase<Derived>& s, const Mask& mask, Eigen::Ref<RowFlags> fully_masked,
                      Eigen::Ref<Vector<Scalar>> row_max, Eigen::Ref<Vector<Scalar>> row_sum,
                      Scalar scale = Scalar(1)) {
  constexpr Index B = static_cast<Index>(64 / sizeof(Scalar));
  const Index tq = s.rows();
  const Index tk = s.cols();
  const Scalar inf = std::numeric_limits<Scalar>::infinity();
  const Scalar nan = std::numeric_limits<Scalar>::quiet_NaN();
  const auto& m = mask.explicit_matrix();

  // Pass 1: row maxima over the visible entries. `fully_masked` first marks rows holding a
  // visible NaN (found through a per-column probe, NaN iff the column has a non-finite entry).
  row_max.setConstant(-inf);
  fully_masked.setConstant(false);
  for (Index j = 0; j < tk; ++j) {
    const auto [r0, r1] = band_rows(mask, j, tq);
    if (r1 <= r0) continue;
    auto x = s.col(j).segment(r0, r1 - r0).array();
    if (scale != Scalar(1)) x *= scale;
    auto mx = row_max.segment(r0, r1 - r0).array();
    Scalar probe;
    if (m) {
      const auto vis = m->col(j).segment(r0, r1 - r0).array();
      mx = vis.select(mx.max(x), mx);
      probe = vis.select(x - x, Scalar(0)).sum();
    } else {
      mx = mx.max(x);
      probe = (x - x).sum();
    }
    if (probe == probe) continue;
    for (Index i = r0; i < r1; ++i)
      if (s(i, j) != s(i, j) && (!m || (*m)(i, j))) fully_masked(i) = true;
  }
  // Rows with a visible NaN or +inf get a NaN shift (their visible entries come out NaN); rows
  // with no finite visible score are fully masked and shifted by 0 (exp(-inf) = 0).
  for (Index i = 0; i < tq; ++i) {
    if (fully_masked(i) || row_max(i) == inf) {
      row_max(i) = nan;
      fully_masked(i) = false;
    } else {
      fully_masked(i) = row_max(i) == -inf;
      if (fully_masked(i)) row_max(i) = 0;
    }
  }

  // Pass 2: e = exp(x - max) where visible, 0 elsewhere; row sums.
  row_sum.setZero();
  for (Index j = 0; j < tk; ++j) {
    const auto [r0, r1] = band_rows(mask, j, tq);
    auto col = s.col(j);
    col.head(r0).setZero();
    col.tail(tq - r1).setZero();
    for (Index i = r0; i < r1; i += B) {
      const Index n = std::min(B, r1 - i);
      auto x = col.segment(i, n).array();
      exp_block<Scalar>(x, row_max.segment(i, n).array(), n, x);
      if (m) x = m->col(j).segment(i, n).array().select(x, Scalar(0));
      row_sum.segment(i, n).array() += x;
    }
  }
  // Pass 3: divide by the sums. Fully masked rows (all 0) and NaN rows divide by 1, so their
  // masked entries stay exactly 0.
  for (Index i = 0; i < tq; ++i)
    if (fully_masked(i) || row_max(i) != row_max(i)) row_sum(i) = 1;
  for (Index j = 0; j < tk; ++j) {
    const auto [r0, r1] = band_rows(mask, j, tq);
    if (r1 > r0) s.col(j).segment(r0, r1 - r0).array() /= row_sum.segment(r0, r1 - r0).array();
  }
  return fully_masked.count();
}

/// Normalises every row of `scale·s` in place with the given probability function: softmax
/// sweeps the columns (softmax_columns), sparsemax and hardmax go row by row (normalize_row).
/// `fully_masked(i)` tells whether row i saw no key. `buffer` holds at least
/// `max(s.cols(), 2·s.rows())` scalars. Returns the number of fully masked rows.
template <typename Scalar, typename Derived>
Index normalize_rows(Probability probability, Eigen::MatrixBase<Derived>& s, const Mask& mask,
                     Eigen::Ref<RowFlags> fully_masked, Scalar* buffer, Scalar scale = Scalar(1)) {
  const Index tq = s.rows();
  if (probability == Probability::softmax) {
    Eigen::Map<Vector<Scalar>> row_max(buffer, tq);
    Eigen::Map<Vector<Scalar>> row_sum(buffer + tq, tq);
    return softmax_columns<Scalar>(s, mask, fully_masked, row_max, row_sum, scale);
  }
  Index count = 0;
  for (Index i = 0; i < tq; ++i) {
    const bool seen = normalize_row(probability, s, i, mask, buffer, scale);
    fully_masked(i) = !seen;
    count += seen ? 0 : 1;
  }
  return count;
}

/// Scalars of scratch normalize_rows needs for a `tq×tk` problem.
inline Index normalize_scratch_size(Index tq, Index tk) { return std::max(tk, 2 * tq); }

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
  Vector<Scalar> buffer(detail::normalize_scratch_size(scores.rows(), scores.cols()));
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
