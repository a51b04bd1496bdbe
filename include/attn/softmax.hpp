// SPDX-License-Identifier: MIT
// Probability functions over the rows of a Tq×Tk score matrix, honouring a Mask:
// softmax (default), sparsemax (Martins & Astudillo 2016) and hardmax (ties: first maximum).
#pragma once

#include "config.hpp"
#include "detail/checks.hpp"
#include "mask.hpp"
#include "options.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

namespace attn {

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
/// scalars. Softmax runs on blocks of rows instead: see softmax_rows. `row0` is the query row
/// that row 0 of `s` holds (a block of a longer problem; the mask is read at query `i`, `s` at
/// row `i - row0`).
template <typename Scalar, typename Derived>
bool normalize_row(Probability probability, Eigen::MatrixBase<Derived>& s, Index i, const Mask& mask,
                   Scalar* buffer, Scalar scale = Scalar(1), Index row0 = 0) {
  const Index tk = s.cols();
  const auto [first, last] = mask.band(i, tk);
  const bool has_matrix = mask.explicit_matrix().has_value();
  auto row = s.row(i - row0);
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
    case Probability::softmax:  // by chunks of rows, in normalize_rows; never per row
      ATTN_ASSERT(false);
      break;
  }
  return true;
}

/// Rows `[r0, r1)` of column `j` that the band kinds of `mask` (length, causal, window, chunked)
/// show in a `tq`-row problem; the explicit matrix, if any, is consulted separately.
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
  if (mask.chunk()) {  // the rows whose position i + offset is in key j's chunk [start, start + size)
    // or in one of the left_chunks after it: [start, start + size + left_chunks·size)
    const auto [size, offset, left_chunks] = *mask.chunk();
    const Index start = chunk_start(j, size);
    const Index end = saturating_add(saturating_add(start, size), chunk_span(left_chunks, size));
    r0 = std::max(r0, std::clamp(saturating_sub(start, offset), Index(0), tq));
    r1 = std::min(r1, std::clamp(saturating_sub(end, offset), Index(0), tq));
  }
  return {r0, std::max(r0, r1)};
}

/// Rows per softmax chunk: 64 bytes of scalars, a whole number of packets on SSE, AVX,
/// AVX-512 and NEON, so a chunk of a column is one fixed-size vector whatever the build.
template <typename Scalar>
constexpr Index chunk_rows() {
  return static_cast<Index>(64 / sizeof(Scalar));
}

/// Most rows one softmax sweep takes (normalize_rows cuts longer ranges); its state is three
/// values per row (maximum and shift in the caller's scratch, the sum in SumScalar on the stack).
constexpr Index sweep_rows = 256;

/// The type a softmax row is summed in: double for float, else Scalar. Summed in float, in
/// key order, a row's normaliser drifts like sqrt(Tk) ulp: at Tk = 4096 float weights were
/// 5.8e-6 off float64 (row sums 3.9e-6 off 1) where torch's float32 softmax is 3.2e-6 (3.4e-7);
/// summed in double, then rounded once, the normaliser is exact to float and every weight is
/// within a few ulp of float64's (tests/test_softmax.cpp). The order is still key order in one
/// chain per row, so every block, part and row cut of a call gives the same bits.
template <typename Scalar>
using SumScalar = std::conditional_t<std::is_same<Scalar, float>::value, double, Scalar>;

// GCC 12 reports Eigen's AVX-512 packet exp, inlined here, as reading an uninitialised
// register (GCC bug 105593, fixed in GCC 13); the kernel itself initialises everything.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

/// Lanes of chunk_rows scalars: one column's chunk of rows in softmax_rows, one row's group of
/// keys in softmax_short_rows.
template <typename Scalar>
using Lanes = Eigen::Array<Scalar, chunk_rows<Scalar>(), 1>;

/// x(l) = -inf where shown[l] is false, for the lanes l < chunk_rows (x is left as it is where
/// shown[l] is true, NaN included): an explicit mask matrix's column of a chunk, applied
/// without a branch per lane. On the scalars' bits (all ones where shown, selects x, else the
/// bits of -inf), in plain loops over a fixed count, which GCC and Clang vectorise; a branch
/// per lane, or Eigen 3.4's select (scalar by scalar), made the softmax of a call with an
/// explicit matrix 2.5 times that of one without (T = 4096, d = 64, float).
template <typename Scalar>
EIGEN_ALWAYS_INLINE void hide_unshown(Scalar* x, const bool* shown) {
  constexpr Index B = chunk_rows<Scalar>();
  using Bits = std::conditional_t<sizeof(Scalar) == 4, std::uint32_t, std::uint64_t>;
  static_assert(sizeof(Bits) == sizeof(Scalar), "attn: hide_unshown takes float or double");
  const Scalar neg_inf = -std::numeric_limits<Scalar>::infinity();
  Bits hidden;
  std::memcpy(&hidden, &neg_inf, sizeof hidden);
  Bits bits[B];
  std::memcpy(bits, x, sizeof bits);
  for (Index l = 0; l < B; ++l) {
    const Bits keep = Bits(0) - static_cast<Bits>(shown[l]);  // all ones where shown
    bits[l] = (bits[l] & keep) | (hidden & ~keep);
  }
  std::memcpy(x, bits, sizeof bits);
}

/// e = exp(x - shift) lane by lane, exactly 0 where x - shift is -inf; `floor` is
/// exp_floor<Scalar>(). Eigen's packet exp clamps its argument, so exp(-inf) comes out as
/// exp(lower clamp), about 1e-38 in float, not 0: subtracting that floor makes every e at or
/// below the clamp exactly 0 (a masked entry among them) and changes no e above 1e-30. (A select
/// would make Eigen 3.4 evaluate the expression scalar by scalar, exp included.) The max keeps
/// rounding below the floor out of 0 and returns its first operand when that is NaN (x86, NEON
/// and scalar max all do). Both softmax kernels compute every entry through this function.
template <typename Scalar, typename X, typename Shift>
EIGEN_ALWAYS_INLINE Lanes<Scalar> shifted_exp(const X& x, const Shift& shift, const Lanes<Scalar>& floor) {
  return ((x - shift).exp() - floor).max(Scalar(0));
}

template <typename Scalar>
Lanes<Scalar> exp_floor() {
  return Lanes<Scalar>::Constant(-std::numeric_limits<Scalar>::infinity()).exp();
}

/// Calls f(k, x) for k = 0, B, 2B, ... on the lanes x of the scalars p[k, k + B) of the
/// contiguous run p[0, n), in place (B = chunk_rows): a Map for each whole group; for a short
/// last group a copy whose lanes past n read -inf and are not written back (plain loops:
/// cheaper than Eigen's dynamic-size copies for a few scalars).
template <typename Scalar, typename F>
EIGEN_ALWAYS_INLINE void for_each_lanes(Scalar* p, Index n, F&& f) {
  constexpr Index B = chunk_rows<Scalar>();
  Index k = 0;
  for (; k + B <= n; k += B) {
    Eigen::Map<Lanes<Scalar>> x(p + k);
    f(k, x);
  }
  if (k < n) {
    Lanes<Scalar> x = Lanes<Scalar>::Constant(-std::numeric_limits<Scalar>::infinity());
    for (Index l = 0; l < n - k; ++l) x(l) = p[k + l];
    f(k, x);
    for (Index l = 0; l < n - k; ++l) p[k + l] = x(l);
  }
}

/// Calls f(g, x, j) on the lanes x (in place) of chunks [c0, c0 + G) of the columns [j0, j1) of a
/// block whose chunks are all whole, column by column (`col0`: chunk 0 of column 0, `stride`
/// scalars between columns); `acc(g)` is then each chunk's state, kept in registers by the
/// caller's fixed-size arrays. softmax_rows' sweep over the columns every row of a block sees.
template <int G, typename Scalar, typename F>
EIGEN_ALWAYS_INLINE void sweep_whole_chunks(Scalar* col0, Index stride, Index c0, Index j0, Index j1, F&& f) {
  constexpr Index B = chunk_rows<Scalar>();
  for (Index j = j0; j < j1; ++j) {
    Scalar* p = col0 + j * stride + c0 * B;
    for (int g = 0; g < G; ++g) {
      Eigen::Map<Lanes<Scalar>> x(p + g * B);
      f(g, x, j);
    }
  }
}

/// Calls f(c0, std::integral_constant<int, G>) for the groups of at most 4 chunks that make up
/// `chunks` (c0 = 0, 4, 8, …; G = 4 but for the last group): a column's 4 chunks are 4 cache
/// lines, and their states (4 lanes of max, shift and sum) fit in registers beside the work.
template <typename F>
EIGEN_ALWAYS_INLINE void for_each_chunk_group(Index chunks, F&& f) {
  Index c0 = 0;
  for (; c0 + 4 <= chunks; c0 += 4) f(c0, std::integral_constant<int, 4>{});
  switch (chunks - c0) {
    case 3: f(c0, std::integral_constant<int, 3>{}); break;
    case 2: f(c0, std::integral_constant<int, 2>{}); break;
    case 1: f(c0, std::integral_constant<int, 1>{}); break;
    default: break;
  }
}

/// Query row i (row `i - row0` of `s`) after a visible NaN or +inf made its sum NaN: visible
/// entries NaN, masked entries 0.
template <typename Derived>
void poison_row(Eigen::MatrixBase<Derived>& s, Index i, const Mask& mask, Index row0 = 0) {
  using Scalar = typename Derived::Scalar;
  for (Index j = 0; j < s.cols(); ++j)
    s(i - row0, j) = mask.visible(i, j, s.cols()) ? std::numeric_limits<Scalar>::quiet_NaN() : Scalar(0);
}

/// Masked softmax of the rows `[i0, i1)` (at most sweep_rows) of `scale·s`, in place, for the
/// column-major `s` (Tq×Tk). The rows are cut into chunks of chunk_rows lanes, and the block is
/// swept column by column three times, each column one contiguous run of rows, each chunk of
/// it a fixed-size vector, so that Eigen's packet exp runs and every lane's arithmetic is the
/// same whatever chunk, block or build path its row falls in:
///  1. scale, hide masked entries as -inf, and take the row maxima;
///  2. e = exp(x - max), exactly 0 for -inf, and the row sums;
///  3. multiply by 1/sum (as PyTorch's CPU softmax does; within 1.5 ulp of dividing).
/// Semantics of normalize_rows(Probability::softmax, ...): masked entries exactly 0; a row with
/// no visible key, or whose visible scores are all -inf, is all 0 and flagged in `fully_masked`
/// (indexed by row of `s`); a visible NaN or +inf makes the row's sum NaN, and then the row's
/// visible entries NaN (masked entries stay 0). `scratch` holds 2·sweep_rows scalars.
/// `row0`: as in normalize_row (rows and flags are numbered as queries, `s` holds from row0 on).
/// Allocates nothing.
template <typename Scalar, typename Derived>
void softmax_rows(Eigen::MatrixBase<Derived>& s, Index i0, Index i1, const Mask& mask,
                  Eigen::Ref<RowFlags> fully_masked, Scalar scale, Scalar* scratch, Index row0 = 0) {
  static_assert(Derived::InnerStrideAtCompileTime == 1, "attn: softmax_rows reads columns as contiguous runs");
  constexpr Index B = chunk_rows<Scalar>();
  using Lanes = detail::Lanes<Scalar>;
  using LaneBlock = Eigen::Map<Eigen::Array<Scalar, B, Eigen::Dynamic, Eigen::ColMajor>>;
  const Scalar inf = std::numeric_limits<Scalar>::infinity();
  const Index tq = row0 + s.rows();
  const Index tk = s.cols();
  const auto& m = mask.explicit_matrix();
  const Index chunks = (i1 - i0 + B - 1) / B;
  LaneBlock max(scratch, B, chunks);  // pass 1: row maxima; pass 3: 1/sum
  LaneBlock shift(scratch + B * chunks, B, chunks);
  using Sum = SumScalar<Scalar>;
  using SumLanes = Eigen::Array<Sum, B, 1>;
  alignas(64) Sum sums[sweep_rows];  // 2 KiB: the sums are not in the scratch of Scalar
  Eigen::Map<Eigen::Array<Sum, B, Eigen::Dynamic, Eigen::ColMajor>> sum(sums, B, chunks);

  // Chunk c holds rows [i0 + c·B, i0 + c·B + rows(c)). each_chunk(j, f) calls f(c, x) on the
  // lanes x of every chunk of column j, in place (for_each_lanes).
  const auto rows = [&](Index c) { return std::min(B, i1 - i0 - c * B); };
  const auto each_chunk = [&](Index j, auto&& f) {
    for_each_lanes(&s.coeffRef(i0 - row0, j), i1 - i0, [&](Index k, auto& x) { f(k / B, x); });
  };

  // Columns [first, last) are seen by some row of the block (bands move right with the row,
  // so the first row's band starts first and the last row's band ends last).
  const Index first = std::min(mask.band(i0, tk).first, tk);
  const Index last = std::clamp(mask.band(i1 - 1, tk).second, first, tk);
  s.block(i0 - row0, 0, i1 - i0, first).setZero();
  s.block(i0 - row0, last, i1 - i0, tk - last).setZero();

  // Columns [whole0, whole1) are seen by every row of the block (the last row's band starts
  // last, the first row's ends first), and when every chunk is whole (rows a multiple of
  // chunk_rows), the passes sweep them in groups of up to 4 chunks with the chunks' state in
  // registers (sweep_whole_chunks), without the per-column band checks (pass 1 still reads an
  // explicit matrix, the same select per lane as for the other columns): the same operations on
  // every lane, in the same order, so the same bits. Measured (bench/, d = 64, float, one
  // thread, parts of 32 and 64 rows): the softmax took about a fifth of an output-only call, a
  // third of it in those per-column checks.
  const bool whole = (i1 - i0) % B == 0;
  const Index whole0 = whole ? std::clamp(mask.band(i1 - 1, tk).first, first, last) : last;
  const Index whole1 = whole ? std::clamp(mask.band(i0, tk).second, whole0, last) : last;
  Scalar* const col0 = whole0 < whole1 ? &s.coeffRef(i0 - row0, 0) : nullptr;  // unread when no column is whole
  const Index stride = s.outerStride();
  // One pass over the columns, in order (a lane's max and sum are one chain over j ascending,
  // whatever the cut into blocks and parts): general(j0, j1) checks each column of [first,
  // whole0), then whole_group(c0, group) sweeps the whole columns for each group of chunks, then
  // general takes [whole1, last).
  const auto in_order = [&](auto&& general, auto&& whole_group) {
    general(first, whole0);
    if (whole0 < whole1) for_each_chunk_group(chunks, whole_group);
    general(whole1, last);
  };

  // Pass 1. Column j shows rows [r0, r1) through the band kinds; the explicit matrix, if any,
  // is read lane by lane.
  max.setConstant(-inf);
  const auto maxima = [&](Index j0, Index j1) {
    for (Index j = j0; j < j1; ++j) {
      const std::pair<Index, Index> band = band_rows(mask, j, tq);
      const Index r0 = band.first;  // not a structured binding: C++17 lambdas cannot capture one
      const Index r1 = band.second;
      each_chunk(j, [&](Index c, auto& x) {
        const Index i = i0 + c * B;
        if (r1 <= i || i + rows(c) <= r0) {
          x.setConstant(-inf);
          return;
        }
        if (scale != Scalar(1)) x *= scale;  // scale 1: an unmasked chunk is read, never written
        // The explicit matrix's column j holds a whole chunk's rows contiguously (hide_unshown).
        const bool whole_chunk = rows(c) == B && i >= r0 && i + B <= r1;
        if (m && whole_chunk) {
          hide_unshown(x.data(), &(*m)(i, j));
        } else if (m || i < r0 || i + rows(c) > r1) {
          for (Index l = 0; l < rows(c); ++l)
            if (i + l < r0 || i + l >= r1 || (m && !(*m)(i + l, j))) x(l) = -inf;
        }
        max.col(c) = max.col(c).max(x);
      });
    }
  };
  in_order(maxima, [&](Index c0, auto group) {
    constexpr int G = decltype(group)::value;
    Lanes acc[G];
    for (int g = 0; g < G; ++g) acc[g] = max.col(c0 + g);
    sweep_whole_chunks<G>(col0, stride, c0, whole0, whole1, [&](int g, auto& x, Index j) {
      if (scale != Scalar(1)) x *= scale;
      if (m) hide_unshown(x.data(), &(*m)(i0 + (c0 + g) * B, j));
      acc[g] = acc[g].max(x);
    });
    for (int g = 0; g < G; ++g) max.col(c0 + g) = acc[g];
  });

  // Pass 2. A row with no finite maximum is shifted by 0, so that its -inf entries give 0, not
  // NaN (see shifted_exp).
  const Lanes floor = exp_floor<Scalar>();
  for (Index c = 0; c < chunks; ++c)
    for (Index l = 0; l < B; ++l) shift(l, c) = max(l, c) == -inf ? Scalar(0) : max(l, c);
  sum.setZero();
  const auto exps = [&](Index j0, Index j1) {
    for (Index j = j0; j < j1; ++j) {
      each_chunk(j, [&](Index c, auto& x) {
        x = shifted_exp<Scalar>(x, shift.col(c), floor);
        sum.col(c) += x.template cast<Sum>();
      });
    }
  };
  in_order(exps, [&](Index c0, auto group) {
    constexpr int G = decltype(group)::value;
    Lanes by[G];
    SumLanes acc[G];
    for (int g = 0; g < G; ++g) {
      by[g] = shift.col(c0 + g);
      acc[g] = sum.col(c0 + g);
    }
    sweep_whole_chunks<G>(col0, stride, c0, whole0, whole1, [&](int g, auto& x, Index) {
      x = shifted_exp<Scalar>(x, by[g], floor);
      acc[g] += x.template cast<Sum>();
    });
    for (int g = 0; g < G; ++g) sum.col(c0 + g) = acc[g];
  });

  // Pass 3. Multiply by 1/sum (taken in Sum, rounded once). Fully masked rows (and the lanes
  // past the last row) take 1: they stay exactly 0.
  LaneBlock& inverse = max;
  for (Index c = 0; c < chunks; ++c) {
    for (Index l = 0; l < B; ++l) {
      const bool poisoned = sum(l, c) != sum(l, c);
      const bool empty = l >= rows(c) || (!poisoned && max(l, c) == -inf);
      if (l < rows(c)) fully_masked(i0 + c * B + l) = empty;
      inverse(l, c) = empty ? Scalar(1) : static_cast<Scalar>(Sum(1) / sum(l, c));
    }
  }
  const auto scale_by_inverse = [&](Index j0, Index j1) {
    for (Index j = j0; j < j1; ++j) each_chunk(j, [&](Index c, auto& x) { x *= inverse.col(c); });
  };
  in_order(scale_by_inverse, [&](Index c0, auto group) {
    constexpr int G = decltype(group)::value;
    Lanes by[G];
    for (int g = 0; g < G; ++g) by[g] = inverse.col(c0 + g);
    sweep_whole_chunks<G>(col0, stride, c0, whole0, whole1, [&](int g, auto& x, Index) { x *= by[g]; });
  });

  for (Index c = 0; c < chunks; ++c)
    for (Index l = 0; l < rows(c); ++l)
      if (sum(l, c) != sum(l, c)) poison_row(s, i0 + c * B + l, mask, row0);  // rare
}

/// softmax_short_rows' lane arithmetic for query row i in place on the contiguous `row` (tk
/// scalars, band `[first, last)`, explicit mask `m` or null); sets `fully_masked`, returns true
/// when the row must be poisoned. A Memory's one-row step runs it on the alignment row itself.
template <typename Scalar, typename Flag>
EIGEN_ALWAYS_INLINE bool softmax_contiguous_row(Scalar* row, Index tk, Index first, Index last, const BoolMatrix* m,
                                                Index i, Scalar scale, Flag&& fully_masked) {
  constexpr Index B = chunk_rows<Scalar>();
  using Lanes = detail::Lanes<Scalar>;
  const Scalar inf = std::numeric_limits<Scalar>::infinity();
  const Lanes floor = exp_floor<Scalar>();
  // f(j, x) on the lanes x of keys [j, j + B) of the band, in place (the last may be short).
  const auto each_group = [&](auto&& f) {
    for_each_lanes(row + first, last - first, [&](Index k, auto& x) { f(first + k, x); });
  };
  Scalar max = -inf;
  each_group([&](Index j, auto& x) {
    if (scale != Scalar(1)) x *= scale;
    if (m)
      for (Index l = 0; l < B && j + l < last; ++l)
        if (!(*m)(i, j + l)) x(l) = -inf;
    max = std::max(max, x.maxCoeff());
  });
  const Scalar shift = max == -inf ? Scalar(0) : max;
  using Sum = SumScalar<Scalar>;
  Sum sum = 0;
  each_group([&](Index j, auto& x) {
    x = shifted_exp<Scalar>(x, Lanes::Constant(shift), floor);
    for (Index l = 0; l < B && j + l < last; ++l) sum += static_cast<Sum>(x(l));
  });
  const bool poisoned = sum != sum;
  const bool empty = !poisoned && max == -inf;
  fully_masked = empty;
  const Scalar inverse = empty ? Scalar(1) : static_cast<Scalar>(Sum(1) / sum);
  each_group([&](Index, auto& x) { x *= inverse; });
  std::fill(row, row + first, Scalar(0));
  std::fill(row + last, row + tk, Scalar(0));
  return poisoned;
}

/// softmax_rows for a block of fewer than chunk_rows rows (a decoder step, a few beams), where a
/// column holds too few rows to fill the lanes: here the lanes run along the keys of one row,
/// copied into `buffer` (Tk scalars). Every entry goes through the same lane arithmetic as in
/// softmax_rows (scale, -inf where masked, shifted_exp, times 1/sum), the maximum is exact in
/// any order, and each row sums in key order as there, so the results are bitwise those of
/// softmax_rows: a decoder step equals the same row of a longer query.
template <typename Scalar, typename Derived>
void softmax_short_rows(Eigen::MatrixBase<Derived>& s, Index i0, Index i1, const Mask& mask,
                        Eigen::Ref<RowFlags> fully_masked, Scalar scale, Scalar* buffer, Index row0 = 0) {
  const Index tk = s.cols();
  for (Index i = i0; i < i1; ++i) {
    const auto band = mask.band(i, tk);
    const Index first = std::min(band.first, tk);
    const Index last = std::clamp(band.second, first, tk);
    Eigen::Map<Eigen::Array<Scalar, Eigen::Dynamic, 1>> row(buffer, tk);
    row = s.row(i - row0).transpose().array();
    const bool poisoned =
        softmax_contiguous_row(buffer, tk, first, last, mask.explicit_matrix() ? &*mask.explicit_matrix() : nullptr, i,
                               scale, fully_masked(i));
    s.row(i - row0) = row.transpose().matrix();
    if (poisoned) poison_row(s, i, mask, row0);  // rare
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// Rows `[i0, i1)` of `s` (rows from `row0` on, as in normalize_rows) become `scale·s + bias`
/// on the keys the band kinds of `mask` show (Mask::additive's score bias, cast to Scalar; 0 on
/// the keys its matrix hides, which are never read). The product and the sum are separate
/// sweeps, so no build fuses them into one rounding: every form of a call (any block, part or
/// row cut) gives the same bits.
template <typename Scalar, typename Derived>
void add_bias(Eigen::MatrixBase<Derived>& s, Index i0, Index i1, const Mask& mask, Scalar scale, Index row0) {
  const Matrix<double>& bias = *mask.bias();
  const Index tq = row0 + s.rows();
  for (Index j = 0; j < s.cols(); ++j) {
    const auto [r0, r1] = band_rows(mask, j, tq);
    const Index a = std::max(r0, i0);
    const Index b = std::min(r1, i1);
    if (a >= b) continue;
    auto column = s.col(j).segment(a - row0, b - a);
    if (scale != Scalar(1)) column *= scale;
    column += bias.col(j).segment(a, b - a).template cast<Scalar>();
  }
}

/// Normalises rows `[i0, i1)` of `scale·s` (plus the mask's score bias: add_bias) in place with
/// the given probability function: softmax sweeps blocks of up to sweep_rows rows
/// (softmax_rows; fewer than chunk_rows rows: softmax_short_rows), sparsemax and hardmax go row
/// by row (normalize_row). `fully_masked(i)` (indexed by row of `s`) tells whether row i saw
/// no key. `buffer` holds
/// normalize_scratch_size(s.cols()) scalars. Returns the number of fully masked rows among
/// `[i0, i1)`. With `row0`, `s` holds query rows from row0 on (a block of rows kept apart from
/// the others, as attn::Sinks calls use): row i of the problem is row `i - row0` of `s`, the
/// mask and `fully_masked` are read at i; the arithmetic is the same.
template <typename Scalar, typename Derived>
Index normalize_rows(Probability probability, Eigen::MatrixBase<Derived>& s, Index i0, Index i1, const Mask& mask,
                     Eigen::Ref<RowFlags> fully_masked, Scalar* buffer, Scalar scale = Scalar(1),
                     Index row0 = 0) {
  if (s.cols() == 0) {
    // No key at all: every row is fully masked. Returned before any row is taken: a row of a
    // matrix without storage would be a null pointer plus an offset (undefined behaviour).
    fully_masked.segment(i0, i1 - i0).setConstant(true);
    return i1 - i0;
  }
  if (mask.bias()) {  // Mask::additive's score bias: scale·s + bias, then normalised as is
    add_bias(s, i0, i1, mask, scale, row0);
    scale = Scalar(1);
  }
  if (probability == Probability::softmax && i1 - i0 < chunk_rows<Scalar>()) {
    softmax_short_rows(s, i0, i1, mask, fully_masked, scale, buffer, row0);
  } else if (probability == Probability::softmax) {
    for (Index i = i0; i < i1; i += sweep_rows)
      softmax_rows(s, i, std::min(i + sweep_rows, i1), mask, fully_masked, scale, buffer, row0);
  } else {
    for (Index i = i0; i < i1; ++i)
      fully_masked(i) = !normalize_row(probability, s, i, mask, buffer, scale, row0);
  }
  return fully_masked.segment(i0, i1 - i0).count();
}

/// normalize_rows over every row of `s`.
template <typename Scalar, typename Derived>
Index normalize_rows(Probability probability, Eigen::MatrixBase<Derived>& s, const Mask& mask,
                     Eigen::Ref<RowFlags> fully_masked, Scalar* buffer, Scalar scale = Scalar(1)) {
  return normalize_rows(probability, s, 0, s.rows(), mask, fully_masked, buffer, scale);
}

/// Scalars of scratch normalize_rows needs for rows of `tk` keys: the sparsemax sort or a row of
/// softmax_short_rows, or the softmax sweep's maxima and shifts (its third value per row, the
/// sum, is on the stack).
inline Index normalize_scratch_size(Index tk) { return std::max(tk, 2 * sweep_rows); }

}  // namespace detail

/// Weights `Tq×Tk` from scores `Tq×Tk` with the given probability function under `mask`.
/// Masked entries are exactly 0; a row that sees no key is all 0 (see the notes above). A
/// Mask::additive bias is added to the scores first (torch's `softmax(scores + attn_mask)`).
/// \param scores Tq×Tk scores
/// \param mask which entries are visible (default: all)
/// \param probability softmax, sparsemax or hardmax
/// \return the weights, Tq×Tk
template <typename Derived>
Matrix<typename Derived::Scalar> normalize(const Eigen::MatrixBase<Derived>& scores, const Mask& mask = Mask(),
                                           Probability probability = Probability::softmax) {
  using Scalar = typename Derived::Scalar;
  static_assert(detail::check_scalar<Scalar>());
  mask.check("attn::normalize", scores.rows(), scores.cols());
  detail::check_probability("attn::normalize", probability);
  Matrix<Scalar> w = scores;
  RowFlags fully_masked(scores.rows());
  Vector<Scalar> buffer(detail::normalize_scratch_size(scores.cols()));
  detail::normalize_rows(probability, w, mask, fully_masked, buffer.data());
  return w;
}

/// Masked softmax over each row of `scores` (`Tq×Tk`).
/// \param scores Tq×Tk scores
/// \param mask which entries are visible (default: all)
/// \return the weights, Tq×Tk
template <typename Derived>
Matrix<typename Derived::Scalar> softmax(const Eigen::MatrixBase<Derived>& scores, const Mask& mask = Mask()) {
  return normalize(scores, mask, Probability::softmax);
}

/// Masked sparsemax over each row: the Euclidean projection onto the simplex (exact zeros).
/// \param scores Tq×Tk scores
/// \param mask which entries are visible (default: all)
/// \return the weights, Tq×Tk
template <typename Derived>
Matrix<typename Derived::Scalar> sparsemax(const Eigen::MatrixBase<Derived>& scores, const Mask& mask = Mask()) {
  return normalize(scores, mask, Probability::sparsemax);
}

/// Masked hardmax over each row: one-hot at the first visible maximum.
/// \param scores Tq×Tk scores
/// \param mask which entries are visible (default: all)
/// \return the weights, Tq×Tk
template <typename Derived>
Matrix<typename Derived::Scalar> hardmax(const Eigen::MatrixBase<Derived>& scores, const Mask& mask = Mask()) {
  return normalize(scores, mask, Probability::hardmax);
}

}  // namespace attn
