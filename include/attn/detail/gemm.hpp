// SPDX-License-Identifier: MIT
// attn's own product for the attention engine's two products per block of query rows (scores =
// Q·Kᵀ, output = W·V), on Eigen's packets: C = A·B for column-major A (m×k), B (k×n), C (m×n).
// Rows go in packets (a register tile of `mr` packets of rows by `nr` columns, every entry one
// sum over k in order, from zero, with the packet's multiply-add), so an entry's bits depend on
// nothing but its row of A and column of B: not on m, on where a block of rows starts, on the
// tile it falls in, nor on the thread. That is what lets the output-only call cut its blocks
// finer than the call with weights and still give the same bits (attend.hpp).
#pragma once

#include "../config.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#ifdef ATTN_USE_DNNL
#include <oneapi/dnnl/dnnl.h>

#include <new>
#endif

namespace attn {
namespace detail {

/// The register tile of gemm for `Scalar`: `mr` packets of rows by `nr` columns of accumulators
/// (24 of the 32 registers of AVX-512 or NEON, 12 of the 16 of AVX), and `lanes` rows a packet.
template <typename Scalar>
struct GemmTile {
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  static constexpr Index lanes = Eigen::internal::unpacket_traits<Packet>::size;
  static constexpr int mr = 2;
  static constexpr int nr = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 12 : 6;
  static constexpr Index rows = mr * lanes;  ///< rows of a whole tile
};

/// Whether attn's products in `Scalar` go to oneDNN (ATTN_USE_DNNL, float, no EIGEN_USE_BLAS).
template <typename Scalar>
constexpr bool dnnl_for() {
  return product_backend<Scalar>() == ProductBackend::onednn;
}

/// Whether attn's gemm computes the engine's products in `Scalar`: yes, unless the build gives
/// them to another backend, chosen at build time (docs/08 "Product backends"):
/// - EIGEN_USE_BLAS: Eigen's products, and with them attn's, go to the BLAS;
/// - ATTN_USE_DNNL: attn's float products go to oneDNN's dnnl_sgemm (oneDNN has no double GEMM:
///   double keeps attn's gemm).
/// Another backend's bits may follow the shape of a product, so then a block of rows is never
/// cut by the thread count (attend.hpp); a BLAS does not take blocks in parts either (parts_for).
template <typename Scalar>
constexpr bool gemm_own_for() {
  return product_backend<Scalar>() == ProductBackend::own;
}

/// Whether the engine takes its blocks in parts in `Scalar` (attend.hpp): with attn's gemm and
/// with oneDNN, not with a BLAS (EIGEN_USE_BLAS).
template <typename Scalar>
constexpr bool parts_for() {
  return gemm_own_for<Scalar>() || dnnl_for<Scalar>();
}

/// Whether gemm computes a product of m rows: attn's gemm is on and m is at least one packet of
/// rows (fewer go to Eigen).
template <typename Scalar>
constexpr bool gemm_fits(Index m) {
  return gemm_own_for<Scalar>() && m >= GemmTile<Scalar>::lanes;
}

/// One register tile: C(0:MR·lanes, 0:NR) = A(0:MR·lanes, 0:k)·B(0:k, 0:NR), every entry summed
/// over p = 0, 1, …, k-1 with pmadd, from zero or, when `load`, from C (the sum of the chunks of
/// k before: stored and loaded exactly, so a sum cut into chunks has the bits of one pass).
/// B(p, n) is b[n·ldb + p], or b[p·ldb + n] when `BT` (B stored row-major, as the transpose of a
/// column-major matrix).
template <typename Packet, int MR, int NR, bool BT, typename Scalar>
EIGEN_ALWAYS_INLINE void gemm_tile(Index k, const Scalar* a, Index lda, const Scalar* b, Index ldb, Scalar* c,
                                   Index ldc, bool load) {
  namespace ei = Eigen::internal;
  constexpr Index lanes = ei::unpacket_traits<Packet>::size;
  Packet acc[MR][NR];
  for (int m = 0; m < MR; ++m)
    for (int n = 0; n < NR; ++n)
      acc[m][n] = load ? ei::ploadu<Packet>(c + n * ldc + m * lanes) : ei::pset1<Packet>(Scalar(0));
  for (Index p = 0; p < k; ++p) {
    Packet x[MR];
    for (int m = 0; m < MR; ++m) x[m] = ei::ploadu<Packet>(a + p * lda + m * lanes);
    for (int n = 0; n < NR; ++n) {
      const Packet y = ei::pset1<Packet>(BT ? b[p * ldb + n] : b[n * ldb + p]);
      for (int m = 0; m < MR; ++m) acc[m][n] = ei::pmadd(x[m], y, acc[m][n]);
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int n = 0; n < NR; ++n) ei::pstoreu(c + n * ldc + m * lanes, acc[m][n]);
}

/// The column tiles of one row tile (rows [i, i + MR·lanes) of A and C): NR columns at a time,
/// then the rest 4 at a time, then 1 at a time. With `shift` (a product not cut into chunks of
/// k), the last tile of 4 moves left to end at column n instead (its overlap recomputed: the same
/// bits); a chunk after the first (`load`) must not add to a column twice, so no tile moves then.
template <typename Packet, int MR, int NR, bool BT, typename Scalar>
void gemm_row_tile(Index n, Index k, const Scalar* a, Index lda, const Scalar* b, Index ldb, Scalar* c, Index ldc,
                   bool load, bool shift) {
  const auto column = [b, ldb](Index j) { return BT ? b + j : b + j * ldb; };
  Index j = 0;
  for (; j + NR <= n; j += NR) gemm_tile<Packet, MR, NR, BT>(k, a, lda, column(j), ldb, c + j * ldc, ldc, load);
  if (shift && n >= 4) {
    for (; j < n; j += 4) {
      const Index j0 = std::min<Index>(j, n - 4);
      gemm_tile<Packet, MR, 4, BT>(k, a, lda, column(j0), ldb, c + j0 * ldc, ldc, load);
    }
  }
  for (; j + 4 <= n; j += 4) gemm_tile<Packet, MR, 4, BT>(k, a, lda, column(j), ldb, c + j * ldc, ldc, load);
  for (; j < n; ++j) gemm_tile<Packet, MR, 1, BT>(k, a, lda, column(j), ldb, c + j * ldc, ldc, load);
}

/// Depth of the chunks of k a long product is cut into (gemm): a row tile's chunk of A (32 float
/// rows × 128) stays in L1 while every column tile of C runs over it.
constexpr Index gemm_depth = 128;

/// One row tile of gemm (MR packets of rows): in one pass over k when k ≤ gemm_depth, else chunk
/// by chunk, each chunk over every column tile.
template <typename Packet, int MR, int NR, bool BT, typename Scalar>
void gemm_rows(Index n, Index k, const Scalar* a, Index lda, const Scalar* b, Index ldb, Scalar* c, Index ldc) {
  if (k <= gemm_depth) {
    gemm_row_tile<Packet, MR, NR, BT>(n, k, a, lda, b, ldb, c, ldc, false, true);
    return;
  }
  for (Index p0 = 0; p0 < k; p0 += gemm_depth) {
    const Index kk = std::min(gemm_depth, k - p0);
    gemm_row_tile<Packet, MR, NR, BT>(n, kk, a + p0 * lda, lda, BT ? b + p0 * ldb : b + p0, ldb, c, ldc, p0 > 0, false);
  }
}

/// C(0:m, 0:n) = 0 (outer stride ldc): a product of depth k = 0, the empty sum, whose operands
/// may be null (a 0-wide matrix's storage).
template <typename Scalar>
void zero_columns(Index m, Index n, Scalar* c, Index ldc) {
  for (Index j = 0; j < n; ++j) std::fill(c + j * ldc, c + j * ldc + m, Scalar(0));
}

/// Rows of A a register tile of gemm reads, copied into `panel` (Tile::rows×k, contiguous) when
/// its columns lie far apart: a query block's rows of Q are Tq scalars apart, and at Tq = 4096
/// floats the 64 columns of a tile's rows all fall into the same sets of L1, so every column
/// tile of C read them again from L2. Copying changes no bit: the tile reads the same scalars.
/// Measured (bench/, d = 64, float, one thread, output only): 3–6 % faster at T = 1024 and
/// 4096. Only in one pass over k (k ≤ gemm_depth: Q·Kᵀ), where each copy serves every column
/// tile; a deeper product's A is a block of weights, whose rows are contiguous already.
template <typename Scalar, Index Rows>
EIGEN_ALWAYS_INLINE const Scalar* rows_panel(Index k, const Scalar* a, Index lda, Scalar* panel) {
  for (Index p = 0; p < k; ++p)
    for (Index r = 0; r < Rows; ++r) panel[p * Rows + r] = a[p * lda + r];
  return panel;
}

/// C = A·B for column-major A (m×k, outer stride lda), B (k×n, ldb; row-major when `BT`), C
/// (m×n, ldc), m ≥ lanes (gemm_fits). Row tiles of GemmTile::rows (fewer than that: one packet)
/// a time, the last moved up to end at row m (its overlap recomputed from zero over every chunk
/// of k before the tile ends: the same bits); a tile's rows of A copied first where they are far
/// apart (rows_panel). Allocates nothing (the copy is on the stack: 16 KiB).
template <typename Scalar, bool BT = false>
void gemm(Index m, Index n, Index k, const Scalar* a, Index lda, const Scalar* b, Index ldb, Scalar* c, Index ldc) {
  using Tile = GemmTile<Scalar>;
  using Packet = typename Tile::Packet;
  if (n == 0) return;
  if (k == 0) {
    zero_columns(m, n, c, ldc);
    return;
  }
  if (m >= Tile::rows) {
    alignas(64) Scalar panel[Tile::rows * gemm_depth];
    const bool copy = k <= gemm_depth && n > Tile::nr && lda > Tile::rows;
    for (Index i = 0; i < m; i += Tile::rows) {
      const Index i0 = std::min<Index>(i, m - Tile::rows);
      const Scalar* rows = copy ? rows_panel<Scalar, Tile::rows>(k, a + i0, lda, panel) : a + i0;
      gemm_rows<Packet, Tile::mr, Tile::nr, BT>(n, k, rows, copy ? Tile::rows : lda, b, ldb, c + i0, ldc);
    }
  } else {
    for (Index i = 0; i < m; i += Tile::lanes) {
      const Index i0 = std::min<Index>(i, m - Tile::lanes);
      gemm_rows<Packet, 1, Tile::nr, BT>(n, k, a + i0, lda, b, ldb, c + i0, ldc);
    }
  }
}

/// One register tile of gemm_few: C(0:m, 0:NR) = panel·B(0:k, 0:NR) for the panel of one packet of
/// rows (the m rows of A, then zeros). gemm_tile computes the packets into `tile` (loaded from C's
/// m rows, zeros below, when `load`), and only their first m entries go to C: each entry is
/// gemm_tile's in-order chain.
template <typename Packet, int NR, bool BT, typename Scalar>
EIGEN_ALWAYS_INLINE void gemm_few_tile(Index m, Index k, const Scalar* panel, const Scalar* b, Index ldb, Scalar* c,
                                       Index ldc, bool load) {
  constexpr Index lanes = Eigen::internal::unpacket_traits<Packet>::size;
  alignas(64) Scalar tile[lanes * NR];
  if (load) {
    for (Index n = 0; n < NR; ++n)
      for (Index r = 0; r < lanes; ++r) tile[n * lanes + r] = r < m ? c[n * ldc + r] : Scalar(0);
  }
  gemm_tile<Packet, 1, NR, BT>(k, panel, lanes, b, ldb, tile, lanes, load);
  for (Index n = 0; n < NR; ++n)
    for (Index r = 0; r < m; ++r) c[n * ldc + r] = tile[n * lanes + r];
}

/// C = A·B as gemm() computes it, for 2 ≤ m < lanes rows (fewer than gemm takes: a last block of
/// a few rows, a few beams of a decoder): chunk by chunk of k (gemm_depth), the m rows of A are
/// copied into a panel of one packet of rows with zeros below, and every column tile of C is
/// computed on it by gemm_tile. Each entry is gemm's in-order chain, so a row gets the bits it has
/// in a product of more rows, whatever the shape. Eigen's product, which took these before, sums
/// in an order that follows the shape (the number of columns, B's storage order): a step of a few
/// rows against a Memory of n visible keys (scores over n columns) and the full call on the same
/// rows (scores over Tk) gave weights a bit apart. Allocates nothing (the panel is on the stack).
template <typename Scalar, bool BT = false>
void gemm_few(Index m, Index n, Index k, const Scalar* a, Index lda, const Scalar* b, Index ldb, Scalar* c,
              Index ldc) {
  using Tile = GemmTile<Scalar>;
  using Packet = typename Tile::Packet;
  constexpr Index lanes = Tile::lanes;
  if (n == 0) return;
  if (k == 0) {
    zero_columns(m, n, c, ldc);
    return;
  }
  alignas(64) Scalar panel[lanes * gemm_depth];
  for (Index p0 = 0; p0 < k; p0 += gemm_depth) {
    const Index kk = std::min(gemm_depth, k - p0);
    for (Index p = 0; p < kk; ++p)
      for (Index r = 0; r < lanes; ++r) panel[p * lanes + r] = r < m ? a[(p0 + p) * lda + r] : Scalar(0);
    const Scalar* chunk = BT ? b + p0 * ldb : b + p0;
    const auto column = [chunk, ldb](Index j) { return BT ? chunk + j : chunk + j * ldb; };
    const bool load = p0 > 0;
    Index j = 0;
    for (; j + Tile::nr <= n; j += Tile::nr)
      gemm_few_tile<Packet, Tile::nr, BT>(m, kk, panel, column(j), ldb, c + j * ldc, ldc, load);
    for (; j + 4 <= n; j += 4) gemm_few_tile<Packet, 4, BT>(m, kk, panel, column(j), ldb, c + j * ldc, ldc, load);
    for (; j < n; ++j) gemm_few_tile<Packet, 1, BT>(m, kk, panel, column(j), ldb, c + j * ldc, ldc, load);
  }
}

/// One step of gemm's in-order chain on scalars, `a·b + acc` as the packet multiply-add computes
/// it: fused where Eigen vectorises with FMA, a product then a sum elsewhere.
template <typename Scalar>
EIGEN_ALWAYS_INLINE Scalar chain_madd(Scalar a, Scalar b, Scalar acc) {
#ifdef EIGEN_VECTORIZE_FMA
  return std::fma(a, b, acc);
#else
  return a * b + acc;
#endif
}

/// Whether an Eigen expression of type T is storage with contiguous columns (column-major) or,
/// `RowMajor`, contiguous rows, which gemm reads through data() and outerStride().
template <typename T, bool RowMajor = false>
constexpr bool plain_storage() {
  using X = std::decay_t<T>;
  using Traits = Eigen::internal::traits<X>;
  return (Traits::Flags & Eigen::DirectAccessBit) != 0 && ((Traits::Flags & Eigen::RowMajorBit) != 0) == RowMajor &&
         X::InnerStrideAtCompileTime == 1;
}

/// dst = srcᵀ, or scale·srcᵀ when `Scaled` (each entry `scale * src(j, p)`, the bits of
/// `dst = scale * src.transpose()`), for a column-major `dst` (src.cols()×src.rows(), e.g. a
/// workspace buffer): the two transpose_into overloads below. A column-major `src` of T rows
/// (the keys, Tk×d) is read in tiles of 16 of its rows, one cache line of each column at a time:
/// Eigen's assignment reads it across a row, T scalars apart, and at T = 1024 floats those reads
/// are 4 KiB apart, all in one set of L1, each a miss. Measured (bench/, d = 64, float, one
/// thread): the transposed scaled keys of T = 1024 took 7 % of the whole output-only call that
/// way. Other sources go to Eigen.
template <bool Scaled, typename Derived, typename Dst>
void transpose_tiled(const Eigen::MatrixBase<Derived>& src, typename Derived::Scalar scale, Dst& dst) {
  using Scalar = typename Derived::Scalar;
  if constexpr (plain_storage<Derived>() && plain_storage<Dst>()) {
    constexpr Index tile = 16;
    const Index rows = src.rows();
    const Index cols = src.cols();
    const Scalar* s = src.derived().data();
    const Index lds = src.derived().outerStride();
    Scalar* d = dst.data();
    const Index ldd = dst.outerStride();
    for (Index j0 = 0; j0 < rows; j0 += tile) {
      const Index j1 = std::min(rows, j0 + tile);
      for (Index p = 0; p < cols; ++p)
        for (Index j = j0; j < j1; ++j) d[j * ldd + p] = Scaled ? scale * s[p * lds + j] : s[p * lds + j];
    }
  } else if constexpr (Scaled) {
    dst = scale * src.transpose();
  } else {
    static_cast<void>(scale);
    dst = src.transpose();
  }
}

/// dst = srcᵀ (see transpose_tiled).
template <typename Derived, typename Dst>
void transpose_into(const Eigen::MatrixBase<Derived>& src, Dst&& dst) {
  transpose_tiled<false>(src, typename Derived::Scalar(1), dst);
}

/// dst = scale·srcᵀ, entry for entry the bits of `dst = scale * src.transpose()` (see transpose_tiled).
template <typename Derived, typename Dst>
void transpose_into(const Eigen::MatrixBase<Derived>& src, typename Derived::Scalar scale, Dst&& dst) {
  transpose_tiled<true>(src, scale, dst);
}

#ifdef ATTN_USE_DNNL
/// C = A·B in float by oneDNN's dnnl_sgemm, for column-major A (m×k), C (m×n) and B (k×n, or
/// row-major when `BT`). dnnl_sgemm is row-major: a column-major matrix is its transpose
/// row-major, so it computes Cᵀ = Bᵀ·Aᵀ. Threads: oneDNN's own (OpenMP) count, which attn's
/// calls set to one inside them (SingleThreadedEigen) when attn is built with the same OpenMP.
inline void dnnl_product(Index m, Index n, Index k, const float* a, Index lda, const float* b, Index ldb, bool bt,
                         float* c, Index ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    zero_columns(m, n, c, ldc);
    return;
  }
  const dnnl_status_t status =
      dnnl_sgemm(bt ? 'T' : 'N', 'N', static_cast<dnnl_dim_t>(n), static_cast<dnnl_dim_t>(m), static_cast<dnnl_dim_t>(k),
                 1.0f, b, static_cast<dnnl_dim_t>(ldb), a, static_cast<dnnl_dim_t>(lda), 0.0f, c,
                 static_cast<dnnl_dim_t>(ldc));
  if (status == dnnl_out_of_memory) throw std::bad_alloc();
  ATTN_CHECK(status == dnnl_success, "attn: oneDNN's dnnl_sgemm failed (dnnl_status_t " +
                                         std::to_string(static_cast<int>(status)) + ")");
}
#endif

/// c = a·b for a `b` of one column (k×1): every c(i) = a(i, 0)·b(0) + a(i, 1)·b(1) + … summed
/// from zero in that order (gemm's chain, chain_madd), so that its bits follow its row of a and b
/// only, as gemm's do. For the products neither gemm nor gemm_few takes (one row; operands that
/// are not plain storage, such as values given as an expression; the rows oneDNN or a BLAS leave
/// to Eigen). Eigen's matrix-vector product instead sums in runs of 16 or 4 columns of a, chosen
/// by a's outer stride (4 once a column spans 32000 bytes): the same block of weights held in
/// your Tq×Tk matrix (stride Tq, from Tq = 4000 doubles or 8000 floats) and in scratch gave
/// outputs a bit apart, an output-only call's from a call's with weights. Rows go 16 at a time,
/// a's columns read once per 16 rows.
template <typename A, typename B, typename C>
void product_column(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<B>& b, C& c) {
  using Scalar = typename A::Scalar;
  constexpr Index rows = 16;
  const Index m = a.rows();
  const Index k = a.cols();
  for (Index i0 = 0; i0 < m; i0 += rows) {
    const Index r = std::min(rows, m - i0);
    Scalar acc[rows] = {};
    for (Index p = 0; p < k; ++p) {
      const Scalar y = b(p, 0);
      for (Index i = 0; i < r; ++i) acc[i] = chain_madd(a(i0 + i, p), y, acc[i]);
    }
    for (Index i = 0; i < r; ++i) c(i0 + i, 0) = acc[i];
  }
}

/// c = a·b: attn's gemm when a and c have contiguous columns, b contiguous columns or rows (a
/// Memory's values are the transpose of its dv×Tk storage), and a has a packet of rows at least
/// (the bits of an entry then depend on its row of a and column of b only), gemm_few for 2 to
/// lanes - 1 rows (the same bits); oneDNN's sgemm for the same operands in float when the build
/// chose it (ATTN_USE_DNNL); product_column for any other b of one column (its bits follow the
/// entry's row and b alone too); else Eigen's product.
template <typename A, typename B, typename C>
void product(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<B>& b, C&& c) {
  using Scalar = typename A::Scalar;
  constexpr bool b_rows = plain_storage<B, true>();
  if constexpr (plain_storage<A>() && plain_storage<C>() && (plain_storage<B>() || b_rows)) {
#ifdef ATTN_USE_DNNL
    if constexpr (std::is_same<Scalar, float>::value) {
      if (a.rows() >= GemmTile<Scalar>::lanes) {
        dnnl_product(a.rows(), b.cols(), a.cols(), a.derived().data(), a.derived().outerStride(), b.derived().data(),
                     b.derived().outerStride(), b_rows, c.data(), c.outerStride());
        return;
      }
    }
#endif
    if (gemm_fits<Scalar>(a.rows())) {
      gemm<Scalar, b_rows>(a.rows(), b.cols(), a.cols(), a.derived().data(), a.derived().outerStride(),
                           b.derived().data(), b.derived().outerStride(), c.data(), c.outerStride());
      return;
    }
    if (gemm_own_for<Scalar>() && a.rows() >= 2) {
      gemm_few<Scalar, b_rows>(a.rows(), b.cols(), a.cols(), a.derived().data(), a.derived().outerStride(),
                               b.derived().data(), b.derived().outerStride(), c.data(), c.outerStride());
      return;
    }
  }
  if (b.cols() == 1) {
    product_column(a, b, c);
    return;
  }
  c.noalias() = a * b;
}

}  // namespace detail
}  // namespace attn
