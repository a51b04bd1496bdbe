// SPDX-License-Identifier: MIT
// Logit soft-capping (Options::softcap: Gemma 2's `attn_logit_softcapping`, Grok-1's, the
// `softcap` of flash-attention): every score s, after its scale, becomes cap·tanh(s/cap), in
// (-cap, cap), before the mask and the probability function. One element-wise function that
// every form of a call applies to the same scores (a block's columns, a step's row), so that the
// forms keep giving the same bits.
#pragma once

#include "../config.hpp"
#include "tanh.hpp"

#include <cmath>
#include <optional>
#include <string>
#include <type_traits>

namespace attn {
namespace detail {

/// Throws attn::invalid_argument unless `softcap` is unset or a positive finite number whose
/// reciprocal is finite in `Scalar`; the message names `fn` and `what` (the argument).
template <typename Scalar>
void check_softcap(const char* fn, const std::optional<double>& softcap, const char* what = "options.softcap") {
  if (!softcap) return;
  const double c = *softcap;
  ATTN_CHECK(std::isfinite(c) && c > 0.0, std::string(fn) + ": " + what + " (" + number_text(c) +
                                               ") must be positive and finite; leave it unset for no capping");
  const Scalar s = static_cast<Scalar>(c);
  ATTN_CHECK(std::isfinite(s) && std::isfinite(Scalar(1) / s),
             std::string(fn) + ": " + what + " (" + number_text(c) + ") is out of " +
                 (std::is_same<Scalar, float>::value ? "float" : "double") + "'s range (it and 1/softcap must be finite)");
}

/// A call's capping: `cap` (0: none) and `factor`, the factor on a score as the kernel holds it
/// (its scale, when the kernel applies that later) divided by cap.
template <typename Scalar>
struct SoftCap {
  Scalar cap = Scalar(0);
  Scalar factor = Scalar(0);
  explicit operator bool() const { return cap != Scalar(0); }
};

/// The capping of `softcap` (checked before) for scores that still need the factor `scale`.
template <typename Scalar>
SoftCap<Scalar> soft_cap_of(const std::optional<double>& softcap, Scalar scale = Scalar(1)) {
  SoftCap<Scalar> c;
  if (softcap) {
    c.cap = static_cast<Scalar>(*softcap);
    c.factor = scale / c.cap;
  }
  return c;
}

/// cap·tanh(factor·s) of one score: float through tanh_rational (at most 5 ulp from tanh, the
/// same bits in a packet's lane as on its own: madd_lane), double through std::tanh. NaN stays
/// NaN; ±inf becomes ±cap·tanh(8) in float (tanh_rational's clamp), ±cap in double.
template <typename Scalar>
EIGEN_ALWAYS_INLINE Scalar soft_cap_one(Scalar s, const SoftCap<Scalar>& c) {
  if constexpr (std::is_same<Scalar, float>::value) {
    return c.cap * tanh_rational(s * c.factor);
  } else {
    return c.cap * std::tanh(s * c.factor);
  }
}

/// Caps the `n` contiguous scores at `p` in place (float: packets, the rest one by one with the
/// same bits).
template <typename Scalar>
void soft_cap(Scalar* p, Index n, const SoftCap<Scalar>& c) {
  Index i = 0;
  if constexpr (std::is_same<Scalar, float>::value) {
    namespace ei = Eigen::internal;
    using Packet = typename ei::packet_traits<float>::type;
    constexpr Index lanes = ei::packet_traits<float>::size;
    if constexpr (lanes > 1) {
      const Packet cap = ei::pset1<Packet>(c.cap);
      const Packet factor = ei::pset1<Packet>(c.factor);
      for (; i + lanes <= n; i += lanes)
        ei::pstoreu(p + i, ei::pmul(cap, tanh_rational(ei::pmul(ei::ploadu<Packet>(p + i), factor))));
    }
  }
  for (; i < n; ++i) p[i] = soft_cap_one(p[i], c);
}

/// Caps every score of a column-major block (`rows`×`cols`, columns `stride` apart) in place.
template <typename Scalar>
void soft_cap(Scalar* p, Index rows, Index cols, Index stride, const SoftCap<Scalar>& c) {
  if (rows == 1) {  // one row: its scores `stride` apart
    for (Index j = 0; j < cols; ++j) p[j * stride] = soft_cap_one(p[j * stride], c);
    return;
  }
  for (Index j = 0; j < cols; ++j) soft_cap(p + j * stride, rows, c);
}

}  // namespace detail
}  // namespace attn
