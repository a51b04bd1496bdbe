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

namespace attn {
namespace detail {

/// Entropy in nats, H_i = -Σ_j w_ij·log(w_ij), of the rows `[i0, i0 + n)` (n ≤ chunk_rows) of
/// Tq×Tk weights over the keys `mask` lets each see, and, when `argmax` is not null, each row's
/// first largest visible positive weight's key (-1: none). `load(j, x)` fills the lanes x(l),
/// l < n, with w(i0 + l, j) (lanes from n on may hold anything). Each lane adds its row's terms
/// in increasing j. Vectorised (one Eigen packet log per chunk of rows and key): w·log(max(w,
/// smallest normal)) is -0 for w = 0 (0·log 0 = 0) and differs from w·log(w) only below the
/// smallest normal; + sqrt(min(w, 0)) keeps a negative weight's entropy NaN, as log(w) would.
/// Masked entries count as 0, whatever they hold. Writes `entropy[l]` (never -0) and
/// `argmax[l]` for l < n.
template <typename Scalar, typename Load>
void entropy_chunk(Index i0, Index n, Index tq, Index tk, const Mask& mask, Load&& load, Scalar* entropy,
                   Index* argmax) {
  constexpr Index B = chunk_rows<Scalar>();
  using L = Lanes<Scalar>;
  const auto& m = mask.explicit_matrix();
  const Index first = std::min(mask.band(i0, tk).first, tk);
  const Index last = std::clamp(mask.band(i0 + n - 1, tk).second, first, tk);
  const L tiny = L::Constant(std::numeric_limits<Scalar>::min());
  L sum = L::Zero();
  // Plain arrays (not Eigen's): the compiler vectorises the argmax loop's selects on them.
  Scalar best[B] = {};
  Index arg[B];
  for (Index l = 0; l < B; ++l) arg[l] = -1;
  for (Index j = first; j < last; ++j) {
    L x;
    load(j, x);
    const auto rows = band_rows(mask, j, tq);
    if (n < B || m || i0 < rows.first || i0 + n > rows.second)
      for (Index l = 0; l < B; ++l)
        if (l >= n || i0 + l < rows.first || i0 + l >= rows.second || (m && !(*m)(i0 + l, j))) x(l) = 0;
    sum -= x * x.max(tiny).log() + x.min(Scalar(0)).sqrt();
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
    entropy[l] = sum(l) + Scalar(0);  // never -0
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
