// SPDX-License-Identifier: MIT
// ALiBi's linear bias (Options::alibi, MultiHeadParams::alibi): `slope·(j − i − offset)` added
// to each score from the positions of its query and key, nothing stored. One rounding of one
// double product per entry, so that every form of a call (a block of rows, a decoder step's row)
// adds the same bits.
#pragma once

#include "../config.hpp"
#include "../options.hpp"

#include <cmath>
#include <optional>
#include <string>

namespace attn {
namespace detail {

/// Throws attn::invalid_argument unless `alibi` is unset or has a finite slope.
inline void check_alibi(const char* fn, const std::optional<Alibi>& alibi) {
  ATTN_CHECK(!alibi || std::isfinite(alibi->slope),
             std::string(fn) + ": options.alibi.slope (" + number_text(alibi ? alibi->slope : 0.0) + ") must be finite");
}

/// The bias of a key `distance` = j − i − offset positions after its query (<= 0 behind it).
template <typename Scalar>
EIGEN_ALWAYS_INLINE Scalar alibi_bias(double slope, Index distance) {
  return static_cast<Scalar>(slope * static_cast<double>(distance));
}

/// Adds the bias to rows [i0, i0 + rows) of a call, held column-major at `p` (`cols` keys,
/// columns `stride` apart).
template <typename Scalar>
void add_alibi(Scalar* p, Index rows, Index cols, Index stride, Index i0, const Alibi& a) {
  for (Index j = 0; j < cols; ++j) {
    Scalar* c = p + j * stride;
    for (Index i = 0; i < rows; ++i) c[i] += alibi_bias<Scalar>(a.slope, j - (i0 + i) - a.offset);
  }
}

}  // namespace detail
}  // namespace attn
