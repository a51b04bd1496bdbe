// SPDX-License-Identifier: MIT
// The kernels of a decoder step against a prepared attn::Memory, whose keys and values are stored
// transposed (width×Tk and dv×Tk, column-major: each key and each value row is one contiguous
// column): the scores of one query row as one sum per key over contiguous memory, on Eigen's
// packets. Dot scores `e_j = q·k_j`; additive scores `e_j = v·tanh(pq + k_j)` in one pass, with no
// Tk×units hidden matrix.
#pragma once

#include "../config.hpp"
#include "tanh.hpp"

#include <algorithm>
#include <type_traits>

// A lambda's call operator always inlined where the compiler has the attribute (GCC, Clang): the
// additive step's inner loops are lambdas over its local accumulators.
#if defined(__GNUC__)
#define ATTN_LAMBDA_INLINE __attribute__((always_inline))
#else
#define ATTN_LAMBDA_INLINE
#endif

namespace attn {
namespace detail {

// GCC 12 reports Eigen's AVX-512 packet tanh, inlined here, as reading an uninitialised register
// (GCC bug 105593, as in softmax.hpp); the kernels initialise every accumulator.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

/// `e[j] = Σ_c term(k_j, c)` for the n columns k_j of `kt` (width×n, column-major, columns
/// `stride` apart: default `width`), where `term(acc, k, c)` returns acc plus the terms of entries `[c, c + lanes)`
/// of column `k` as one `Packet` (or one scalar in the tail; `Packet` may be Scalar itself). Four keys at a time: four independent
/// accumulator chains keep the FMA units busy. Each sum is taken in lanes across c, reduced by
/// Eigen's predux, then the tail `width mod lanes` is added in order; the order depends only on
/// width, so a row gives the same bits in any call.
template <typename Scalar, typename Packet, Index lanes, typename Term>
EIGEN_ALWAYS_INLINE void per_key_sums(const Scalar* kt, Index width, Index n, Scalar* e, Term&& term,
                                      Index stride = -1) {
  if (stride < 0) stride = width;
  namespace ei = Eigen::internal;
  const Index body = width / lanes * lanes;
  const auto tail = [&](Scalar s, const Scalar* k) {
    for (Index c = body; c < width; ++c) s = term(s, k, c);
    return s;
  };
  const Index whole = n / 4 * 4;
  for (Index j = 0; j < whole; j += 4) {
    const Scalar* k0 = kt + j * stride;
    const Scalar* k1 = k0 + stride;
    const Scalar* k2 = k1 + stride;
    const Scalar* k3 = k2 + stride;
    Packet a0 = ei::pset1<Packet>(Scalar(0));
    Packet a1 = a0, a2 = a0, a3 = a0;
    for (Index c = 0; c < body; c += lanes) {
      a0 = term(a0, k0, c);
      a1 = term(a1, k1, c);
      a2 = term(a2, k2, c);
      a3 = term(a3, k3, c);
    }
    e[j] = tail(ei::predux(a0), k0);
    e[j + 1] = tail(ei::predux(a1), k1);
    e[j + 2] = tail(ei::predux(a2), k2);
    e[j + 3] = tail(ei::predux(a3), k3);
  }
  for (Index j = whole; j < n; ++j) {
    const Scalar* k0 = kt + j * stride;
    Packet a0 = ei::pset1<Packet>(Scalar(0));
    for (Index c = 0; c < body; c += lanes) a0 = term(a0, k0, c);
    e[j] = tail(ei::predux(a0), k0);
  }
}

/// The scalars of `q`, a single row: its own storage when they are contiguous, else a copy in
/// the first q.cols() scalars of `copy`.
template <typename Derived, typename Scalar>
const Scalar* contiguous_row(const Eigen::MatrixBase<Derived>& q, Eigen::Map<Matrix<Scalar>> copy) {
  if constexpr ((Derived::Flags & Eigen::DirectAccessBit) != 0) {
    const Derived& d = q.derived();
    if ((Derived::IsRowMajor ? d.innerStride() : d.outerStride()) == 1 || q.cols() <= 1) return d.data();
  }
  Eigen::Map<Matrix<Scalar>> head(copy.data(), q.cols(), 1);  // `copy` holds at least q.cols()
  head = q.row(0).transpose();
  return head.data();
}

/// Dot scores of one query row: `e[j] = q·kt.col(j)` for j < n; `q` holds `width` contiguous
/// scalars; the columns of `kt` are `stride` apart (default `width`).
template <typename Scalar>
void dot_scores_transposed(const Scalar* kt, Index width, Index n, const Scalar* q, Scalar* e, Index stride = -1) {
  namespace ei = Eigen::internal;
  using Traits = Eigen::internal::packet_traits<Scalar>;
  per_key_sums<Scalar, typename Traits::type, Traits::size>(
      kt, width, n, e,
      [q](auto acc, const Scalar* k, Index c) {
        using P = decltype(acc);
        return ei::pmadd(ei::ploadu<P>(k + c), ei::ploadu<P>(q + c), acc);
      },
      stride);
}

/// The packet of additive_scores_transposed: Eigen's packet where it has a vectorised tanh
/// (float: attn's tanh_rational), else the scalar (std::tanh, as Eigen's `.tanh()`).
template <typename Scalar, bool = Eigen::internal::packet_traits<Scalar>::HasTanh != 0>
struct TanhPacket {
  using type = typename Eigen::internal::packet_traits<Scalar>::type;
  static constexpr Index size = Eigen::internal::packet_traits<Scalar>::size;
};
template <typename Scalar>
struct TanhPacket<Scalar, false> {
  using type = Scalar;
  static constexpr Index size = 1;
};

/// The tanh of additive scores: tanh_rational on a float packet, Eigen's scalar tanh (std::tanh)
/// on a scalar (double, and the tail of a row that fills no whole packet).
template <typename T>
EIGEN_ALWAYS_INLINE T additive_tanh(const T& x) {
  if constexpr (std::is_arithmetic<T>::value) {
    return Eigen::internal::ptanh(x);
  } else {
    return tanh_rational(x);
  }
}

/// Additive scores of one projected query row: `e[j] = v·tanh(pq + kt.col(j))` for j < n; `pq`
/// and `v` hold `units` contiguous scalars. additive_tanh on packets where Eigen vectorises tanh
/// (float), scalar tanh otherwise, fused: nothing Tk×units is written.
template <typename Scalar>
void additive_scores_transposed(const Scalar* kt, Index units, Index n, const Scalar* pq, const Scalar* v,
                                Scalar* e) {
  namespace ei = Eigen::internal;
  using Tanh = TanhPacket<Scalar>;
  per_key_sums<Scalar, typename Tanh::type, Tanh::size>(kt, units, n, e, [pq, v](auto acc, const Scalar* k, Index c) {
    using P = decltype(acc);
    return ei::pmadd(additive_tanh(ei::padd(ei::ploadu<P>(k + c), ei::ploadu<P>(pq + c))), ei::ploadu<P>(v + c), acc);
  });
}

/// One query row `q` (dq contiguous scalars) projected by `wq` (dq×units, column-major, columns
/// `ld` apart): `pq[c] = q·wq.col(c)`, each a dot_scores_transposed sum. What every one-row
/// additive projection runs (see additive_step_scores). Not inlined: with a constant count GCC 12
/// reports a false out-of-range loop iteration (-Waggressive-loop-optimizations).
template <typename Scalar>
EIGEN_DONT_INLINE void project_row(const Scalar* q, Index dq, const Scalar* wq, Index ld, Index units, Scalar* pq) {
  dot_scores_transposed(wq, dq, units, q, pq, ld);
}

/// Additive scores of one query row with its projection fused in: `pq = q·Wq` (project_row's
/// sums, bit for bit) and `e[j] = v·tanh(pq + kt.col(j))` (additive_scores_transposed's sums,
/// bit for bit), every key's partial sum kept in `acc` (n·lanes scalars). Where a packet holds a
/// multiple of 4 lanes (float), the units go in passes over the keys of 1, 1, 2 and then 4
/// blocks of `lanes` units, and the projection of the next pass's columns of Wq (dq×units,
/// columns `ld` apart) is spread over the keys of the current pass, one packet of four columns
/// at a time: the reads of Wq (from L2 at the benchmark's 256×256) overlap the tanh arithmetic
/// instead of preceding it, and a key's partial sums are loaded and stored once per pass, not
/// once per block. Measured at T_in = 50, 256 units (AVX-512, the scores alone): 6.1 µs
/// projecting each block just before its pass, 4.9 µs spread over one-block passes, 4.6 µs
/// over passes of up to 4 blocks. Packing Wq by blocks (which a one-row full call would have
/// to do per call) was no faster. `pq` receives the projection (units scalars).
template <typename Scalar>
void additive_step_scores(const Scalar* q, Index dq, const Scalar* wq, Index ld, const Scalar* kt, Index units, Index n,
                          const Scalar* v, Scalar* pq, Scalar* acc, Scalar* e) {
  namespace ei = Eigen::internal;
  using Tanh = TanhPacket<Scalar>;
  using Packet = typename Tanh::type;
  constexpr Index lanes = Tanh::size;
  const Index body = units / lanes * lanes;
  const Packet zero = ei::pset1<Packet>(Scalar(0));
  for (Index j = 0; j < n; ++j) ei::pstoreu(acc + j * lanes, zero);
  if constexpr (lanes % 4 != 0) {  // scalar tanh (double): project each block, then its pass
    for (Index c0 = 0; c0 < body; c0 += lanes) {
      project_row(q, dq, wq + c0 * ld, ld, lanes, pq + c0);
      const Packet p = ei::ploadu<Packet>(pq + c0);
      const Packet w = ei::ploadu<Packet>(v + c0);
      for (Index j = 0; j < n; ++j) {
        Packet a = ei::ploadu<Packet>(acc + j * lanes);
        a = ei::pmadd(additive_tanh(ei::padd(ei::ploadu<Packet>(kt + j * units + c0), p)), w, a);
        ei::pstoreu(acc + j * lanes, a);
      }
    }
  } else {
    // The projection's sums are dot_scores_transposed's: packets of its own packet type along q.
    static_assert(ei::packet_traits<Scalar>::size == lanes, "attn: the projection and the tanh pass share one packet type");
    const Index along = dq / lanes * lanes;  // q's whole packets
    const Index blocks = body / lanes;
    // Passes over the keys of 1, 1, 2, then 4 blocks: a key's partial sums are loaded and stored
    // once per pass, and each pass projects the next one's columns; the first is projected up
    // front (so it is small).
    const auto pass_blocks = [&](Index b) { return std::min<Index>(b == 0 ? 1 : std::min<Index>(b, 4), blocks - b); };
    if (blocks > 0) project_row(q, dq, wq, ld, pass_blocks(0) * lanes, pq);  // the first pass's, up front
    for (Index b = 0; b < blocks;) {
      const Index g = pass_blocks(b);
      const Index c0 = b * lanes;
      const Index nb = b + g;
      const Index ng = nb < blocks ? pass_blocks(nb) : 0;
      const Index steps = ng * lanes / 4 * (along / lanes);  // the next pass's projection, in steps
      const Scalar* next = wq + nb * lanes * ld;             // its columns
      Scalar* out = pq + nb * lanes;
      Packet a0 = zero, a1 = zero, a2 = zero, a3 = zero;
      Index col = 0, r = 0, quota = 0;
      // One packet of four columns; a group's last packet reduces it and adds q's tail, in
      // per_key_sums' order.
      const auto step = [&]() ATTN_LAMBDA_INLINE {
        const Scalar* w0 = next + col * ld;
        const Packet x = ei::ploadu<Packet>(q + r);
        a0 = ei::pmadd(ei::ploadu<Packet>(w0 + r), x, a0);
        a1 = ei::pmadd(ei::ploadu<Packet>(w0 + ld + r), x, a1);
        a2 = ei::pmadd(ei::ploadu<Packet>(w0 + 2 * ld + r), x, a2);
        a3 = ei::pmadd(ei::ploadu<Packet>(w0 + 3 * ld + r), x, a3);
        r += lanes;
        if (r < along) return;
        Scalar s0 = ei::predux(a0), s1 = ei::predux(a1), s2 = ei::predux(a2), s3 = ei::predux(a3);
        for (Index c = along; c < dq; ++c) {
          s0 = ei::pmadd(w0[c], q[c], s0);
          s1 = ei::pmadd(w0[ld + c], q[c], s1);
          s2 = ei::pmadd(w0[2 * ld + c], q[c], s2);
          s3 = ei::pmadd(w0[3 * ld + c], q[c], s3);
        }
        out[col] = s0;
        out[col + 1] = s1;
        out[col + 2] = s2;
        out[col + 3] = s3;
        col += 4;
        r = 0;
        a0 = a1 = a2 = a3 = zero;
      };
      // The pass of G blocks: the tanh packets of a key in unit order, as additive_scores_transposed.
      const auto run = [&](auto blocks_in_pass) ATTN_LAMBDA_INLINE {
        constexpr int G = decltype(blocks_in_pass)::value;
        Packet p[G], w[G];
        for (int i = 0; i < G; ++i) {
          p[i] = ei::ploadu<Packet>(pq + c0 + i * lanes);
          w[i] = ei::ploadu<Packet>(v + c0 + i * lanes);
        }
        for (Index j = 0; j < n; ++j) {
          const Scalar* k = kt + j * units + c0;
          Packet a = ei::ploadu<Packet>(acc + j * lanes);
          for (int i = 0; i < G; ++i) a = ei::pmadd(additive_tanh(ei::padd(ei::ploadu<Packet>(k + i * lanes), p[i])), w[i], a);
          ei::pstoreu(acc + j * lanes, a);
          // floor((j + 1)·steps / n) steps in all after key j, without a division
          for (quota += steps; quota >= n; quota -= n) step();
        }
      };
      switch (g) {
        case 4: run(std::integral_constant<int, 4>{}); break;
        case 3: run(std::integral_constant<int, 3>{}); break;
        case 2: run(std::integral_constant<int, 2>{}); break;
        default: run(std::integral_constant<int, 1>{}); break;
      }
      if (ng > 0 && steps == 0) project_row(q, dq, next, ld, ng * lanes, out);  // q shorter than a packet
      b = nb;
    }
  }
  if (body < units) project_row(q, dq, wq + body * ld, ld, units - body, pq + body);
  for (Index j = 0; j < n; ++j) {
    Scalar sum = ei::predux(ei::ploadu<Packet>(acc + j * lanes));
    for (Index c = body; c < units; ++c) sum = ei::pmadd(additive_tanh(ei::padd(kt[j * units + c], pq[c])), v[c], sum);
    e[j] = sum;
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// Scalars of additive_step_scores' partial sums for n keys.
template <typename Scalar>
constexpr Index additive_step_sums(Index n) {
  return n * TanhPacket<Scalar>::size;
}

/// The context of one query row: `out[c] = Σ_j w[j]·vt(c, j)` for c < dv over the n columns of
/// `vt` (dv×n, column-major, columns `ld` apart), each entry one multiply-add per key in key
/// order, whatever dv (so a prepared memory's step and the full call's one-row block agree bit
/// for bit). Eight packets of the output stay in registers while the value columns stream by
/// (Eigen's matrix-vector product spends more on its blocking at these sizes: 50×256 floats).
template <typename Scalar>
void context_row(const Scalar* vt, Index dv, Index n, Index ld, const Scalar* w, Scalar* out) {
  namespace ei = Eigen::internal;
  using Packet = typename ei::packet_traits<Scalar>::type;
  constexpr Index lanes = ei::packet_traits<Scalar>::size;
  constexpr Index chunk = 8;  // packets in registers
  const Index body = dv / lanes * lanes;
  Index c = 0;
  for (; c + chunk * lanes <= body; c += chunk * lanes) {
    Packet a[chunk];
    for (Index i = 0; i < chunk; ++i) a[i] = ei::pset1<Packet>(Scalar(0));
    for (Index j = 0; j < n; ++j) {
      const Packet x = ei::pset1<Packet>(w[j]);
      const Scalar* col = vt + j * ld + c;
      for (Index i = 0; i < chunk; ++i) a[i] = ei::pmadd(x, ei::ploadu<Packet>(col + i * lanes), a[i]);
    }
    for (Index i = 0; i < chunk; ++i) ei::pstoreu(out + c + i * lanes, a[i]);
  }
  for (; c < body; c += lanes) {
    Packet a = ei::pset1<Packet>(Scalar(0));
    for (Index j = 0; j < n; ++j) a = ei::pmadd(ei::pset1<Packet>(w[j]), ei::ploadu<Packet>(vt + j * ld + c), a);
    ei::pstoreu(out + c, a);
  }
  for (; c < dv; ++c) {
    Scalar a = Scalar(0);
    for (Index j = 0; j < n; ++j) a = ei::pmadd(w[j], vt[j * ld + c], a);
    out[c] = a;
  }
}

/// Writes a row computed into contiguous scalars by `kernel(e)` (n of them) to `out` (1×n, any
/// stride): straight into `out` when its entries are contiguous, else through `copy` (n×1).
template <typename Scalar, typename Kernel>
void write_row(Eigen::Ref<Matrix<Scalar>> out, Eigen::Map<Matrix<Scalar>> copy, Kernel&& kernel) {
  const bool direct = out.rows() == 1 && out.outerStride() == 1;
  kernel(direct ? out.data() : copy.data());
  if (!direct) out = copy.transpose();
}

/// Dot scores of the query row `q` (1×width) against the n keys stored transposed in `kt`
/// (width×n, contiguous), into `out` (1×n). What one-row dot scores run everywhere (a prepared
/// memory's step, the full call's one-row blocks), so that they agree bit for bit. `row`
/// (width×1) and `column` (n×1) are scratch for a query or score row that is not contiguous.
template <typename Scalar, typename DerivedQ>
void dot_score_row(const Eigen::MatrixBase<DerivedQ>& q, const Scalar* kt, Index width, Index n,
                   Eigen::Ref<Matrix<Scalar>> out, Eigen::Map<Matrix<Scalar>> row, Eigen::Map<Matrix<Scalar>> column) {
  if (n == 0) return;
  if (width == 0) {  // the empty sum
    out.setZero();
    return;
  }
  const Scalar* x = contiguous_row(q, row);
  write_row<Scalar>(out, column, [&](Scalar* e) { dot_scores_transposed(kt, width, n, x, e); });
}

/// Additive scores of the projected query rows `pq` (B×units) against the n keys stored
/// transposed in `kt` (units×n, contiguous), `v` (units contiguous scalars), into `scores` (B×n),
/// row by row as additive_scores_transposed computes them; what additive scores run everywhere.
/// `row` (units×1) and `column` (n×1) are scratch.
template <typename Scalar, typename DerivedPq>
void additive_score_rows(const Eigen::MatrixBase<DerivedPq>& pq, const Scalar* kt, Index units, Index n, const Scalar* v,
                         Eigen::Ref<Matrix<Scalar>> scores, Eigen::Map<Matrix<Scalar>> row,
                         Eigen::Map<Matrix<Scalar>> column) {
  if (n == 0) return;
  if (units == 0) {  // the empty sum
    scores.setZero();
    return;
  }
  for (Index i = 0; i < pq.rows(); ++i) {
    const Scalar* x = contiguous_row(pq.row(i), row);
    write_row<Scalar>(scores.middleRows(i, 1), column, [&](Scalar* e) { additive_scores_transposed(kt, units, n, x, v, e); });
  }
}

}  // namespace detail
}  // namespace attn
