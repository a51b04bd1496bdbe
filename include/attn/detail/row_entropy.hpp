// SPDX-License-Identifier: MIT
// The entropy (and argmax) of rows of weights, computed on lanes of chunk_rows rows, column by
// column: the one arithmetic of attn::row_entropy (analysis.hpp) and of the RowStats sink
// (sink_reductions.hpp), so that the sink gives the bits row_entropy gives on the full matrix.
#pragma once

#include "../config.hpp"
#include "../mask.hpp"
#include "../softmax.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace attn {
namespace detail {

/// The terms w·log(max(w, smallest normal)) + sqrt(min(w, 0)) of a row's entropy, lane by lane
/// (Eigen's packet log): elementwise, so a weight's term has the same bits in whatever lane it
/// sits, which lets entropy_chunk lay a chunk's weights out by rows or by keys.
template <typename Scalar>
EIGEN_ALWAYS_INLINE Lanes<Scalar> entropy_terms(const Lanes<Scalar>& x) {
  const Lanes<Scalar> tiny = Lanes<Scalar>::Constant(std::numeric_limits<Scalar>::min());
  return x * x.max(tiny).log() + x.min(Scalar(0)).sqrt();
}

/// A row's entropy from its sum of terms: never -0, and a NaN is the one quiet NaN. The NaN's
/// bits otherwise depend on the code the compiler made of the lanes (0x7fc00000 from one layout
/// of a chunk and 0xffffffff from the other at GCC -O1), and a row must have the same bits in
/// any chunk.
template <typename Scalar>
EIGEN_ALWAYS_INLINE Scalar entropy_result(Scalar sum) {
  return sum != sum ? std::numeric_limits<Scalar>::quiet_NaN() : sum + Scalar(0);
}

/// Entropy in nats, H_i = -Σ_j w_ij·log(w_ij), of the rows `[i0, i0 + n)` (n ≤ chunk_rows) of
/// Tq×Tk weights over the keys `mask` lets each see, and, when `argmax` is not null, each row's
/// first largest visible positive weight's key (-1: none). `load(j, x)` fills the lanes x(l),
/// l < n, with w(i0 + l, j) (lanes from n on may hold anything). Each row adds its terms
/// (entropy_terms, minus) in increasing j. Vectorised: w·log(max(w, smallest normal)) is -0 for
/// w = 0 (0·log 0 = 0) and differs from w·log(w) only below the smallest normal; + sqrt(min(w,
/// 0)) keeps a negative weight's entropy NaN, as log(w) would. Masked entries count as 0,
/// whatever they hold. Writes `entropy[l]` (never -0) and `argmax[l]` for l < n.
/// Most chunks lay their rows in the lanes (one packet log per key for chunk_rows rows). A chunk
/// of at most a quarter of chunk_rows rows (a decoder step's one row, a block's short last chunk)
/// lays each row's keys in the lanes instead, chunk_rows keys a log, and adds the terms one by one
/// in the same order: the same bits (the terms are elementwise), without 16 float logs per weight
/// of a one-row step.
template <typename Scalar, typename Load>
void entropy_chunk(Index i0, Index n, Index tq, Index tk, const Mask& mask, Load&& load, Scalar* entropy,
                   Index* argmax) {
  constexpr Index B = chunk_rows<Scalar>();
  using L = Lanes<Scalar>;
  const auto& m = mask.explicit_matrix();
  const Index first = std::min(mask.band(i0, tk).first, tk);
  const Index last = std::clamp(mask.band(i0 + n - 1, tk).second, first, tk);
  // Plain arrays (not Eigen's): the compiler vectorises the argmax loop's selects on them.
  Scalar best[B] = {};
  Index arg[B];
  for (Index l = 0; l < B; ++l) arg[l] = -1;
  const auto hidden = [&](Index l, Index j, const std::pair<Index, Index>& rows) {
    return i0 + l < rows.first || i0 + l >= rows.second || (m && !(*m)(i0 + l, j));
  };
  if (4 * n <= B) {
    Scalar sum[B] = {};
    L keys[B / 4];  // row l's weights of keys j0 … j0 + B - 1
    for (Index j0 = first; j0 < last; j0 += B) {
      const Index count = std::min(B, last - j0);
      for (Index l = 0; l < n; ++l) keys[l].setZero();
      for (Index t = 0; t < count; ++t) {
        L x;
        load(j0 + t, x);
        const auto rows = band_rows(mask, j0 + t, tq);
        for (Index l = 0; l < n; ++l) keys[l](t) = hidden(l, j0 + t, rows) ? Scalar(0) : x(l);
      }
      for (Index l = 0; l < n; ++l) {
        const L terms = entropy_terms<Scalar>(keys[l]);
        for (Index t = 0; t < count; ++t) {
          sum[l] -= terms(t);
          if (argmax != nullptr && keys[l](t) > best[l]) {
            best[l] = keys[l](t);
            arg[l] = j0 + t;
          }
        }
      }
    }
    for (Index l = 0; l < n; ++l) {
      entropy[l] = entropy_result(sum[l]);
      if (argmax != nullptr) argmax[l] = arg[l];
    }
    return;
  }
  L sum = L::Zero();
  for (Index j = first; j < last; ++j) {
    L x;
    load(j, x);
    const auto rows = band_rows(mask, j, tq);
    if (n < B || m || i0 < rows.first || i0 + n > rows.second)
      for (Index l = 0; l < B; ++l)
        if (l >= n || hidden(l, j, rows)) x(l) = 0;
    sum -= entropy_terms<Scalar>(x);
    if (argmax != nullptr) {
      const Scalar* xs = x.data();
      for (Index l = 0; l < B; ++l) {
        const bool above = xs[l] > best[l];
        best[l] = above ? xs[l] : best[l];
        arg[l] = above ? j : arg[l];
      }
    }
  }
  for (Index l = 0; l < n; ++l) {
    entropy[l] = entropy_result(sum(l));
    if (argmax != nullptr) argmax[l] = arg[l];
  }
}

/// entropy_chunk over every row of a column-major block of weights (rows `[first_row, first_row
/// + rows)` of the Tq×Tk weights at `data`, column stride `stride`): writes `entropy[i]` and, if
/// not null, `argmax[i]` for each row i of the block (indexed from 0).
template <typename Scalar>
void entropy_block(const Scalar* data, Index stride, Index first_row, Index rows, Index tq, Index tk,
                   const Mask& mask, Scalar* entropy, Index* argmax) {
  constexpr Index B = chunk_rows<Scalar>();
  using L = Lanes<Scalar>;
  for (Index c = 0; c < rows; c += B) {
    const Index n = std::min(B, rows - c);
    const Scalar* base = data + c;
    const auto load = [&](Index j, L& x) {
      const Scalar* p = base + j * stride;
      if (n == B) {
        x = Eigen::Map<const L>(p);
      } else {
        for (Index l = 0; l < n; ++l) x(l) = p[l];
      }
    };
    entropy_chunk<Scalar>(first_row + c, n, tq, tk, mask, load, entropy + c, argmax ? argmax + c : nullptr);
  }
}

}  // namespace detail
}  // namespace attn
