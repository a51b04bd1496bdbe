// SPDX-License-Identifier: MIT
// The tanh of additive scores (`v·tanh(pq + k)`: Bahdanau, Luong concat, the additive Keras
// layers) on float packets: x·P(x²)/Q(x²), a [9/8] rational approximation. Eigen 3.4's packet
// tanh is a [13/6] rational; this one is as accurate (at most 5 ulp from the correctly rounded
// tanh with FMA, 6 without, against Eigen's 5 and 7; mean 0.37 ulp against Eigen's 0.44, every
// float in [2^-30, 12] checked) and costs two multiplications and the small-|x| select fewer, which
// is what a decoder step's scores spend most of their time on (docs/08-performance.md).
#pragma once

#include "../config.hpp"

#include <cmath>
#include <type_traits>

namespace attn {
namespace detail {

/// `a·b + c` as Eigen's pmadd computes it on a float packet: fused when Eigen vectorises with
/// FMA, else a product then a sum; on a plain float the same (std::fma, or two roundings), so
/// that tanh_rational of one float gives the bits of its lane in a packet.
template <typename Packet>
EIGEN_ALWAYS_INLINE Packet madd_lane(const Packet& a, const Packet& b, const Packet& c) {
  if constexpr (std::is_same<Packet, float>::value) {
#ifdef EIGEN_VECTORIZE_FMA
    return std::fma(a, b, c);
#else
    const float ab = a * b;  // rounded, as padd(pmul(a, b), c)
    return ab + c;
#endif
  } else {
    return Eigen::internal::pmadd(a, b, c);
  }
}

/// tanh of each lane of a float packet, or of one float (the same bits as its lane would get:
/// madd_lane). The coefficients are the minimax fit (relative error
/// 2.1e-8 in exact arithmetic) of tests/fixtures/tanh_rational.py on [0, 9], P(0) = Q(0),
/// scaled so that Q is monic (its leading `x⁸` coefficient 1: one addition instead of a
/// multiply-add). Odd exactly (t = x² makes the sign x's alone), tanh(±0) = ±0, tiny |x| gives x
/// within an ulp (P(0) and Q(0) are the same float), |x| ≥ 8 (and ±inf) gives tanh(±8), 4 ulp
/// inside ±1, the result is never more than 1 in magnitude, NaN gives NaN.
template <typename Packet>
EIGEN_ALWAYS_INLINE Packet tanh_rational(const Packet& a) {
  namespace ei = Eigen::internal;
  using Scalar = typename ei::unpacket_traits<Packet>::type;
  static_assert(std::is_same<Scalar, float>::value, "attn: tanh_rational is a float approximation");
  // Clamped to [-8, 8]: tanh(8) is 4 ulp below 1, and past 8.1 the quotient of the fit (made
  // on [0, 9]) can round to 1 + ulp. (pmin/pmax as Eigen's own tanh: NaN passes.)
  const Packet x = ei::pmax(ei::pmin(a, ei::pset1<Packet>(8.0f)), ei::pset1<Packet>(-8.0f));
  const Packet t = ei::pmul(x, x);
  // Numerator x·(p0 + p2 t + p4 t² + p6 t³ + p8 t⁴), Horner from the top.
  Packet p = madd_lane(t, ei::pset1<Packet>(1.71944797e-02f), ei::pset1<Packet>(2.64727402e+01f));
  p = madd_lane(t, p, ei::pset1<Packet>(4.48317188e+03f));
  p = madd_lane(t, p, ei::pset1<Packet>(1.71485391e+05f));
  p = madd_lane(t, p, ei::pset1<Packet>(1.28127350e+06f));
  p = ei::pmul(x, p);
  // Denominator q0 + q2 t + q4 t² + q6 t³ + t⁴ (q0 = p0).
  Packet q = ei::padd(t, ei::pset1<Packet>(4.21672150e+02f));
  q = madd_lane(t, q, ei::pset1<Packet>(3.31724375e+04f));
  q = madd_lane(t, q, ei::pset1<Packet>(5.98576438e+05f));
  q = madd_lane(t, q, ei::pset1<Packet>(1.28127350e+06f));
  return ei::pdiv(p, q);
}

}  // namespace detail
}  // namespace attn
