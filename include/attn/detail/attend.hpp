// SPDX-License-Identifier: MIT
// The part every mechanism shares: blocks of query rows (256; fewer for long keys, see
// block_rows_for) scored into the caller's full weights (Tq×Tk) or, with sinks (attn/sinks.hpp),
// into per-thread scratch; keep the raw scores if asked, normalise rows under the mask, output =
// block·V over visible keys, then hand the block to the sinks.
#pragma once

#include "../config.hpp"
#include "alibi.hpp"
#include "checks.hpp"
#include "gemm.hpp"
#include "threads.hpp"
#include "../mask.hpp"
#include "../result.hpp"
#include "../sinks.hpp"
#include "scorers.hpp"
#include "../softmax.hpp"
#include "../workspace.hpp"

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>  // copy_block's non-temporal stores
#endif

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace attn {
namespace detail {

/// Keys `[0, n)` hold every key any row can see (the rest are padding for all rows).
inline Index visible_prefix(const Mask& mask, Index tk) {
  return mask.length() ? *mask.length() : tk;
}

/// Most query rows per block of the fused loop in attend_blocks: one softmax sweep, 256 rows.
/// Bigger blocks keep Eigen's GEMM efficient (it packs Kᵀ and V again for every block); smaller
/// ones keep the block in cache. Measured with bench/ on d = 64, T = 256 to 4096: 256 rows was
/// as fast as the best of 128 to 4096 everywhere, 10 to 25% faster than 64 rows.
constexpr Index block_rows = sweep_rows;

/// Bytes of one block of weights (rows × Tk) that block_rows_for aims at: from Tk = 8192 floats
/// on, blocks get fewer rows instead of more bytes. Measured (bench_sinks, d = 64, float, one
/// thread): at T = 32768, blocks of 64 rows (8 MiB) were 1.2× faster than 256 rows (32 MiB, from
/// memory: written, swept three times, packed) and 1.1× faster than 32 or 128; at T ≤ 8192,
/// 256 rows stayed the fastest.
constexpr Index block_bytes = Index(8) << 20;

/// Bytes of one row of `tk` scalars (at least one), saturated at 2^40 (at Index's largest value
/// / 2 where Index is 32 bits), above every budget here: Tk near Index's limit must reach the
/// size checks that refuse it, not overflow first.
template <typename Scalar>
constexpr Index row_bytes(Index tk) {
  constexpr Index cap =
      sizeof(Index) >= 8 ? static_cast<Index>(std::int64_t(1) << 40) : std::numeric_limits<Index>::max() / 2;
  const Index n = std::max<Index>(tk, 1);
  return n > cap / static_cast<Index>(sizeof(Scalar)) ? cap : n * static_cast<Index>(sizeof(Scalar));
}

/// Query rows per block for `tk` keys: block_rows, or fewer so that a block stays within
/// block_bytes, a multiple of the softmax's chunk_rows and never fewer than two chunks (32 float
/// rows, 16 double). It depends on Tk and the scalar only: every call of a shape (full weights,
/// sinks or none, any thread count) cuts the rows the same way, so its blocks' products and
/// results are the same bits.
template <typename Scalar>
constexpr Index block_rows_for(Index tk) {
  constexpr Index unit = chunk_rows<Scalar>();
  const Index fit = block_bytes / row_bytes<Scalar>(tk);
  return std::clamp<Index>(fit / unit * unit, 2 * unit, block_rows);
}

/// Bytes of the part of a block that attend_blocks takes through scores, softmax and ·V at once
/// when attn's own product (gemm.hpp) runs: a quarter of a 1 MiB L2, so the scores stay in cache
/// between the three; and the most bytes one register tile's rows may take (a part has at least
/// those rows), past which blocks are not cut into parts. Measured (d = 64, float, one thread,
/// T = 1024 and 4096): parts of 32 to 64 rows ran both products at about 90 % of the FMA peak,
/// blocks of 256 rows at 60 to 85 %.
constexpr Index part_bytes = Index(256) << 10;
constexpr Index part_bytes_max = Index(512) << 10;

/// Query rows per part of a block for `tk` keys: part_bytes' worth, a whole register tile of
/// gemm at least, at most block_rows; block_rows (no parts) when a tile's rows of Tk scalars
/// exceed part_bytes_max. A block of r rows is taken in parts of this many rows, the last part
/// taking the rest (so no part has fewer rows than this unless the block has).
template <typename Scalar>
constexpr Index part_rows_for(Index tk) {
  constexpr Index unit = GemmTile<Scalar>::rows;
  const Index bytes = row_bytes<Scalar>(tk);
  if (unit * bytes > part_bytes_max) return block_rows;
  return std::clamp<Index>(part_bytes / bytes / unit * unit, unit, block_rows);
}

/// Whether the call with full weights gathers the parts of a block (attend_blocks): computes
/// them in place in a per-thread block of scratch (rows r apart) and copies the whole block to
/// the caller's rows, rather than copying each part as it is done. Copying a part alone writes
/// `part` scalars of each column, Tq scalars apart: below 256 bytes (4 cache lines; parts of 32
/// float rows, Tk ≥ 2048) those writes ran at about half the memory's speed. Measured (bench/,
/// d = 64, float, T = 4096, parts of 32 rows, one thread): the call with weights took 7–13 %
/// less time gathered; at T = 1024 (parts of 64 rows) gathering was no faster on one thread and
/// 6 % slower on two, so there each part is copied. The arithmetic is the same either way (an
/// entry's bits follow neither the storage nor the cut); the price is a block of scratch per
/// thread (256 × Tk scalars, as a sink's call keeps) instead of at most 2·part - 1 rows.
template <typename Scalar>
constexpr bool gathers_parts(Index part) {
  return part * static_cast<Index>(sizeof(Scalar)) < 256;
}

/// Bytes of full weights from which attend_blocks writes the caller's rows with non-temporal
/// stores (copy_block): 32 MiB, more than a last-level cache holds, so the map goes to memory
/// anyway and a store need not first read the line it writes. Measured (d = 64, float, one
/// thread, the call with weights, AVX-512): T = 4096 (64 MiB) 5–13 % faster, T = 3072 (36 MiB)
/// 1–2 %; T = 2048 (16 MiB) and T = 1024 (4 MiB, 2 % slower: the map then stays in cache for the
/// caller) no gain, so smaller maps are stored as usual.
constexpr Index stream_bytes = Index(32) << 20;

/// dst = src for r×c column-major blocks (outer strides lds, ldd): the columns of a block of
/// weights from scratch to the caller's rows. With `stream` (AVX or AVX-512 builds) the whole
/// aligned packets of each column are written with non-temporal stores, then fenced, so the
/// copy is complete and visible when it returns; every scalar is copied exactly either way.
template <typename Scalar>
void copy_block(const Scalar* src, Index lds, Scalar* dst, Index ldd, Index r, Index c, bool stream) {
#if defined(__AVX512F__) || defined(__AVX__)
  constexpr bool known = std::is_same<Scalar, float>::value || std::is_same<Scalar, double>::value;
  if constexpr (known) {
    if (stream) {
#if defined(__AVX512F__)
      constexpr Index bytes = 64;
#else
      constexpr Index bytes = 32;
#endif
      constexpr Index lanes = bytes / static_cast<Index>(sizeof(Scalar));
      for (Index j = 0; j < c; ++j) {
        const Scalar* s = src + j * lds;
        Scalar* d = dst + j * ldd;
        Index i = 0;
        for (; i < r && reinterpret_cast<std::uintptr_t>(d + i) % bytes != 0; ++i) d[i] = s[i];
        for (; i + lanes <= r; i += lanes) {
#if defined(__AVX512F__)
          if constexpr (std::is_same<Scalar, float>::value)
            _mm512_stream_ps(d + i, _mm512_loadu_ps(s + i));
          else
            _mm512_stream_pd(d + i, _mm512_loadu_pd(s + i));
#else
          if constexpr (std::is_same<Scalar, float>::value)
            _mm256_stream_ps(d + i, _mm256_loadu_ps(s + i));
          else
            _mm256_stream_pd(d + i, _mm256_loadu_pd(s + i));
#endif
        }
        for (; i < r; ++i) d[i] = s[i];
      }
      _mm_sfence();
      return;
    }
  }
#endif
  static_cast<void>(stream);
  for (Index j = 0; j < c; ++j) std::copy(src + j * lds, src + j * lds + r, dst + j * ldd);
}

/// Fewest multiply-adds of a thread's share of the ·V product (rows × Tk × dv) for which a problem
/// of one block is shared among threads (attend_blocks): 2^21, 128 rows × 256 keys × 64 values.
/// Below it, starting the threads and moving the keys and values to the other core cost more
/// than the half of the work it saves. Measured (2-vCPU Zen 5 VM, d = dv = 64, float, the call
/// with weights; two threads ÷ one): T = 64 0.53×, T = 128 0.80×, T = 256 1.05× (output only:
/// 0.52×, 0.93×, 1.32×). A 2-vCPU Zen 4 VM had gained 1.35× at T = 64: how much a second core
/// costs depends on where the two vCPUs sit; this keeps the call never slower than one thread.
constexpr Index split_work = Index(1) << 21;

/// Whether every entry of `m` is finite, vectorised (see attend_rows).
template <typename Derived>
bool all_finite(const Eigen::MatrixBase<Derived>& m) {
  const typename Derived::Scalar probe = (m.array() - m.array()).sum();
  return probe == probe;
}

/// Where the blocks of a call go: the caller's full Tq×Tk storage (`full`, outer stride
/// `stride`; null: none, blocks live in per-thread scratch of the workspace) and the sinks fed
/// each normalised block (null or empty: none). Query rows from `padded_from` on are padding
/// (a sequence layer's steps past its key length): scored, then all zero and fully masked.
template <typename Scalar>
struct Target {
  Index rows = 0;
  Index cols = 0;
  Scalar* full = nullptr;
  Index stride = 0;
  const Sinks<Scalar>* sinks = nullptr;
  Index padded_from = std::numeric_limits<Index>::max();
};

/// The target of a `_into(..., weights, ...)` call: the matrix, no sink.
template <typename Scalar>
Target<Scalar> full_target(Eigen::Ref<Matrix<Scalar>> weights) {
  Target<Scalar> t;
  t.rows = weights.rows();
  t.cols = weights.cols();
  t.full = weights.size() == 0 ? nullptr : weights.data();
  t.stride = weights.outerStride();
  return t;
}

/// The target of a call with `sinks` (already begun) over Tq×Tk weights: a FullWeights among
/// them gives the storage.
template <typename Scalar>
Target<Scalar> sink_target(const Sinks<Scalar>& sinks, Index tq, Index tk) {
  Target<Scalar> t;
  t.rows = tq;
  t.cols = tk;
  t.sinks = &sinks;
  t.full = sinks.storage(t.stride);
  return t;
}

/// The scores of attend_blocks when they are already in the target's full storage (every row
/// scored before the blocks run): nothing to write.
struct InPlaceScores {
  template <typename Block>
  void operator()(Index, Index, const Block&) const {}
};

/// Whether attend_blocks scores only the columns a block's rows may see (its band, and at most the
/// mask's visible prefix: see band_call there) for a scorer that takes a column range. Then the
/// keys past the visible prefix are never read, and attend_keys prepares only the prefix: a
/// decoder step against 200 padded keys with key_length(0) cost 28× a call on no keys, nearly
/// all of it transposing and scoring keys no row sees.
template <typename Scalar>
bool scores_visible_columns_only(const Options& options) {
  return gemm_own_for<Scalar>() && options.probability == Probability::softmax && !options.softcap &&
         !options.alibi && !options.return_scores;
}

/// How many of `tk` keys a call's blocks may score, the keys attend_keys and attend_prepared
/// transpose: the mask's visible prefix when the blocks score no others
/// (scores_visible_columns_only), else all.
template <typename Scalar>
Index keys_scored(const Mask& mask, const Options& options, Index tk) {
  return scores_visible_columns_only<Scalar>(options) ? std::min(visible_prefix(mask, tk), tk) : tk;
}

/// The part every mechanism shares, fused over blocks of query rows. For each block of rows
/// `[i0, i0 + r)`: `scores(i0, r, block)` writes the scores into `block` (the rows
/// `[i0, i0 + r)` of the target's full storage, or a per-thread scratch block), before
/// `score_scale` (a mechanism whose product cannot carry its scale passes it here: a scaled
/// operand would make Eigen's GEMV allocate); with options.softcap they are capped
/// (`cap·tanh(score_scale·s/cap)`, softcap.hpp); a copy of the scaled (capped) scores is kept if
/// asked; options.alibi's bias is added (alibi.hpp); the block is normalised under the mask while
/// it is still in cache (L2, up to T of about 1000 in float); and output rows = block·V over the
/// visible keys; then the target's sinks get the block (rows [i0, i0 + r) of the weights).
/// Rows from `target.padded_from` on are scored (and their scores kept if asked), then set to
/// zero and flagged fully masked instead of normalised.
/// Nothing Tq×Tk is allocated: the target's full storage is the only Tq×Tk storage; without it
/// a block of block_rows_for(Tk)·Tk scalars per thread. `serial_scores`: `scores` uses workspace
/// buffers, blocks run one after another.
/// A masked key's value row is never read into a result: V rows with NaN/Inf are zeroed in a
/// copy and added back only where visible. Returns the number of fully masked rows.
template <typename Scalar, typename Scores, typename DerivedV>
Index attend_blocks(Scores&& scores, const Target<Scalar>& target, const Eigen::MatrixBase<DerivedV>& v,
                    Eigen::Ref<Matrix<Scalar>> output, Workspace<Scalar>& ws, const Mask& mask,
                    const Options& options, Scalar score_scale = Scalar(1),
                    std::optional<bool> values_finite = std::nullopt, bool serial_scores = false) {
  // Checked here, before any parallel region (nothing may throw inside one); the mechanisms
  // check it first with their own name.
  check_probability("attn", options.probability);
  check_softcap<Scalar>("attn", options.softcap);
  check_alibi("attn", options.alibi);
  // With options.softcap each block's scores are capped as they come (the factor score_scale
  // in with the cap's); with options.alibi they are scaled (unless capped) and biased; then
  // normalised as they are.
  const SoftCap<Scalar> cap = soft_cap_of<Scalar>(options.softcap, score_scale);
  const bool rescale = !cap && options.alibi && score_scale != Scalar(1);
  const Scalar norm_scale = cap || options.alibi ? Scalar(1) : score_scale;
  const SingleThreadedEigen serial;  // every block's products single-threaded, on any thread
  const Index tq = target.rows;
  const Index tk = target.cols;
  const Sinks<Scalar>* sinks = target.sinks != nullptr && !target.sinks->empty() ? target.sinks : nullptr;
  const Index n = visible_prefix(mask, tk);
  auto flags = detail::row_flags(ws, tq);
  if (tk == 0) {  // no key: every row is fully masked, its output zero (and blocks of the
    flags.setConstant(true);  // storage-less weights would offset a null pointer)
    output.setZero();
    if (options.return_scores) detail::buffers(ws).scores.matrix(tq, tk);
    if (sinks) sinks->end();
    return tq;
  }
  // Blocks run in parallel when OpenMP is on (see below): normalisation scratch per thread.
  const Index threads = serial_scores ? 1 : max_threads();
  const Index scratch = normalize_scratch_size(tk);
  Scalar* buffers = detail::buffers(ws).sort.matrix(scratch, threads).data();
  const Index rows = block_rows_for<Scalar>(tk);
  // Whether the visible V rows are finite, unless the caller knows (a Memory checks once): x - x
  // is 0 everywhere iff they are (inf - inf and NaN - NaN are NaN), a vectorised sum where
  // allFinite() compares entry by entry (Eigen 3.4 does not vectorise comparisons).
  // A block is taken in parts of `part` rows (part_rows_for), each scored, normalised and ·V
  // while it is in cache, when attn's gemm or oneDNN computes the block's ·V (plain storage or
  // cleaned values). Without full storage and without sinks nothing needs the
  // whole block at once: each thread keeps one part (at most 2·part - 1 rows), not a block.
  const auto vn = v.topRows(n);
  const bool finite = values_finite ? *values_finite : all_finite(vn);
  constexpr bool plain_values = plain_storage<decltype(vn)>() || plain_storage<decltype(vn), true>();
  const bool gemm_values =  // else Eigen's, a BLAS's or oneDNN's product, whose bits may follow the cut
      gemm_own_for<Scalar>() && (!finite || plain_values);
  // oneDNN computes the parts too: its bits follow the shape of a product, and every form of a
  // call cuts its blocks into the same parts (below), so the forms still agree bit for bit; only
  // the cut that follows the thread count (one block shared among threads) is gemm's alone.
  const bool part_values = parts_for<Scalar>() && (!finite || plain_values);
  const Index part = part_values ? part_rows_for<Scalar>(tk) : rows;
  const bool parts_only = !target.full && !sinks;
  // Whether some block is cut into parts, each then computed in a part of scratch (contiguous,
  // at most 2·part - 1 rows) and copied to its rows of the full storage or the block: scored,
  // normalised and ·V there, far from the caller's rows Tq apart (a page apart from T = 1024 on).
  // Scores already in the full storage (InPlaceScores) are normalised and used where they are.
  constexpr bool in_place = std::is_same<std::decay_t<Scores>, InPlaceScores>::value;
  const bool cut = !in_place && 2 * part <= std::min(rows, tq);
  // With full storage, a block cut into parts whose rows are short runs of each column is
  // gathered (gathers_parts): its parts are computed in place in the block scratch and the
  // block is copied to the caller's rows once.
  // A problem of one block shared among threads (below) computes each thread's share in that
  // thread's block scratch and copies it, gathered, to the caller's rows: computed in place
  // there, two threads working on neighbouring rows of the same columns took 1.3–1.5× as long
  // as in scratch (T = 128 and 256, d = 64, float: the softmax's sweeps waited on stores).
  constexpr Index tile = GemmTile<Scalar>::rows;
  const bool split = gemm_values && threads > 1 && tq <= rows && tq >= 2 * tile &&
                     std::max(tile, (tq + threads - 1) / threads) * tk * std::max<Index>(v.cols(), 1) >= split_work;
  const bool gather = target.full && !in_place && ((cut && gathers_parts<Scalar>(part)) || split);
  // Copies to the caller's rows of a map too large for any cache go there with non-temporal
  // stores (stream_bytes).
  const bool stream = target.full && tq > 0 && row_bytes<Scalar>(tk) >= (stream_bytes + tq - 1) / tq;
  const Index part_scratch = parts_only || (cut && !gather) ? std::min(rows, 2 * part - 1) * tk : 0;
  const Index block_scratch = (!target.full && !parts_only) || gather ? rows * tk : 0;
  // Per thread: its block (sinks without full storage, or gathered parts) then its part.
  const Index per_thread = block_scratch + part_scratch;
  Scalar* blocks = per_thread == 0 || tq == 0 ? nullptr : detail::buffers(ws).block.matrix(per_thread, threads).data();
  // Sized on every call, used by one-row blocks only: a workspace warmed up on a bigger problem
  // must not allocate for a smaller one.
  auto pair = detail::buffers(ws).row.matrix(std::max(tk, v.cols()), 2);
  if (options.return_scores) detail::buffers(ws).scores.matrix(tq, tk);

  // A block of one row (at most one per call: the last) computes its output by context_row over
  // the visible values transposed (dv×n, each value row a contiguous column), as a prepared
  // Memory's step does (memory.hpp): the same arithmetic, bit for bit.
  // (Sized on every call, as `pair` below.)
  const bool one_row = finite && tq % rows == 1;
  auto values_t = detail::buffers(ws).values.matrix(v.cols(), n);
  if (one_row) values_t = vn.transpose();
  if (!finite) {
    auto clean = detail::buffers(ws).values.matrix(n, v.cols());
    clean = vn;
    for (Index j = 0; j < n; ++j)
      if (!clean.row(j).allFinite()) clean.row(j).setZero();
  }

  using BlockMap = Eigen::Map<Matrix<Scalar>, 0, Eigen::OuterStride<>>;
  // Band columns: rows [i0, i0 + r) may see only the columns [c0, c1) the mask's band kinds
  // leave them (causal, window, chunked, key length; bands move right with the row), so a
  // scorer that takes a column range (DotScorer's blocks: `scores(i0, r, c0, c1, block)`)
  // scores only those and ·V reads only those: a causal call runs about half the products of an
  // unmasked one. The block's other columns are left as they were and never read: the softmax
  // sweep (softmax_rows, blocks of chunk_rows rows or more) writes their zeros without reading
  // them, so the band is taken only for softmax blocks of that size, every row live, and
  // without return_scores, softcap, ALiBi or a rescale, which read every column. Only where the
  // products are attn's gemm, whose entries are each one chain over the shared dimension:
  // the scores' entries are the same products, and ·V only leaves out exact zeros of the chain
  // (w = +0 before the band and after it), so the bits are those of the whole block's products.
  constexpr bool ranged_scores = std::is_invocable_v<std::decay_t<Scores>&, Index, Index, Index, Index, BlockMap&>;
  // (A cap, ALiBi and a rescale come only with options.softcap or options.alibi.)
  const bool band_call = ranged_scores && scores_visible_columns_only<Scalar>(options);
  // Rows [i0, i0 + r) of the problem, held in `block` (r×Tk): scored, normalised, ·V.
  const auto run_rows = [&](Index i0, Index r, BlockMap block, Scalar* buffer) {
    Index c0 = 0;
    Index c1 = tk;
    if (band_call && r >= chunk_rows<Scalar>() && i0 + r <= target.padded_from) {
      // (At most the visible prefix: a row whose window starts past a key length has a band of
      // [first, first), beyond the keys attend_keys prepared.)
      c0 = std::min(mask.band(i0, tk).first, tk);
      c1 = std::min(std::clamp(mask.band(i0 + r - 1, tk).second, c0, tk), n);
    } else if (band_call && n < tk) {
      // A block too small for the sweep (a decoder step, the last rows) or holding padding rows:
      // the visible prefix alone is scored. The columns past it, which no row sees, are left to
      // the normalisation, which writes their zeros without reading them (as it does for every
      // block: a target filled with NaN comes back with the same bits, test_properties).
      c1 = n;
    }
    if constexpr (ranged_scores) {
      if (c0 < c1) scores(i0, r, c0, c1, block);
    } else {
      scores(i0, r, block);
    }
    if (cap) soft_cap(block.data(), r, tk, block.outerStride(), cap);
    if (rescale) block *= score_scale;
    if (options.return_scores) detail::buffers(ws).scores.view().middleRows(i0, r) = norm_scale * block;
    if (options.alibi) add_alibi(block.data(), r, tk, block.outerStride(), i0, *options.alibi);
    const Index live = std::clamp<Index>(target.padded_from - i0, 0, r);  // rows before the padding
    if (live > 0) normalize_rows(options.probability, block, i0, i0 + live, mask, flags, buffer, norm_scale, i0);
    if (live < r) {
      block.bottomRows(r - live).setZero();
      flags.segment(i0 + live, r - live).setConstant(true);
    }

    auto out = output.middleRows(i0, r);
    const auto w = block.leftCols(n);
    if (finite && r == 1) {
      // A decoder step (or a last block of one row): the transposed values' columns weighted
      // by a contiguous copy of the row (memory_step.hpp's context_row, as a Memory's step).
      auto wt = pair.col(0).head(n);
      auto ot = pair.col(1).head(v.cols());
      wt = w.transpose();
      context_row(values_t.data(), v.cols(), n, values_t.rows(), wt.data(), ot.data());
      out = ot.transpose();
    } else if (finite && gemm_values && (c0 > 0 || c1 < tk)) {
      // The band's columns of the visible prefix (see above).
      const Index e1 = std::min(c1, n);
      const Index e0 = std::min(c0, e1);
      if (e0 < e1)
        product(w.middleCols(e0, e1 - e0), vn.middleRows(e0, e1 - e0), out);
      else
        out.setZero();
    } else if (finite) {
      product(w, vn, out);
    } else {
      product(w, detail::buffers(ws).values.view(), out);
      for (Index j = 0; j < n; ++j) {
        if (vn.row(j).allFinite()) continue;
        for (Index i = 0; i < r; ++i)
          if (!flags(i0 + i) && mask.visible(i0 + i, j, tk)) out.row(i) += w(i, j) * vn.row(j);
      }
    }
  };

  // Block b: rows [i0, i0 + r). It writes only its own rows of weights, scores, flags and
  // output, so blocks are independent. Its parts: `part` rows each, the last taking the rest.
  const auto run_block = [&](Index i0, Index r, Index thread) {
    Scalar* buffer = buffers + scratch * thread;
    Scalar* own = blocks == nullptr ? nullptr : blocks + per_thread * thread;  // the block, then the part
    Scalar* own_part = own == nullptr ? nullptr : own + block_scratch;
    BlockMap block = target.full ? BlockMap(target.full + i0, r, tk, Eigen::OuterStride<>(target.stride))
                                 : BlockMap(own, r, tk, Eigen::OuterStride<>(r));
    // Output only, each part lives in the part scratch (nothing kept); a block cut into parts
    // computes each in the part scratch and copies it to its rows, or, gathered, computes them
    // all in the block scratch and copies the block; otherwise (scores in place, a block of one
    // part) the part is the block's own rows.
    const bool cut_block = !parts_only && !in_place && r >= 2 * part;
    const bool via_scratch = cut_block && !gather;
    const bool gathered = gather && (cut_block || split);
    BlockMap work = gathered ? BlockMap(own, r, tk, Eigen::OuterStride<>(r)) : block;
    for (Index p0 = 0; p0 < r;) {
      const Index pr = r - p0 < 2 * part ? r - p0 : part;
      if (parts_only || via_scratch) {
        BlockMap piece(own_part, pr, tk, Eigen::OuterStride<>(pr));
        run_rows(i0 + p0, pr, piece, buffer);
        if (via_scratch) copy_block(piece.data(), pr, block.data() + p0, block.outerStride(), pr, tk, stream);
      } else {
        run_rows(i0 + p0, pr, BlockMap(work.data() + p0, pr, tk, Eigen::OuterStride<>(work.outerStride())), buffer);
      }
      p0 += pr;
    }
    if (gathered) copy_block(work.data(), work.outerStride(), block.data(), block.outerStride(), r, tk, stream);
    if (sinks) sinks->consume(i0, WeightBlock<Scalar>(block.data(), r, tk, block.outerStride()));
  };

  // With OpenMP, blocks are shared among the threads of one parallel region of max_threads()
  // threads (the count before `serial` set it to 1). Eigen's GEMM runs single-threaded
  // everywhere (SingleThreadedEigen: in a team of one too): one level of threads, never Eigen's
  // inside ours. A problem of one block is cut into as many blocks as threads instead (below;
  // Eigen's own threading of such small products was measured slower). Decoder steps (fewer than chunk_rows queries) start no
  // region at all, nor does a call from inside an active parallel region or from inside one attn
  // started (attn::multi_head's heads): it runs on the calling thread. Each block is computed
  // the same way whichever thread runs it, in a team of any size: results do not depend on the
  // threads, nor on OMP_DYNAMIC or OMP_THREAD_LIMIT. The threads take blocks in increasing
  // order (one shared counter, not an OpenMP schedule, whose order is unspecified): a block
  // starts only after every block before it has started, so a sink may wait in consume() for the
  // blocks before its own (ColumnSums adds rows in order) without ever waiting for a block that
  // no thread runs.
  // Blocks of `step` rows: `rows`, or, when the problem is one block and there are threads to
  // share it (`split`), ceil(Tq / threads) rows but at least one register tile of gemm (the last
  // block taking the rest rather than being shorter than that), so that a small problem runs on
  // every thread. Only where both products are attn's gemm (an entry's bits do not follow the
  // cut: results stay the same for any thread count), no block has one row (Tq ≥ 2 tiles), and
  // each thread's share is worth it (split_work).
  Index step = rows;
  Index count = (tq + rows - 1) / rows;
  if (split) {
    step = std::max(tile, (tq + threads - 1) / threads);
    count = (tq + step - 1) / step;
    if (tq - (count - 1) * step < tile) --count;  // the rest joins the last block
  }
  const auto rows_of = [&](Index b) { return b + 1 < count ? step : tq - b * step; };
  // No more threads than blocks: a problem left in one block (a backend whose bits follow the
  // cut, or too few rows to share) runs on the calling thread, without a region to start.
  const Index team = std::min(threads, count);
  if (team <= 1 || tq < chunk_rows<Scalar>()) {
    for (Index b = 0; b < count; ++b) run_block(b * step, rows_of(b), 0);
  } else {
    // An exception (a sink's consume() may throw) must not leave the parallel region (that would
    // terminate the program): the first is kept, no block starts after it, the blocks under way
    // finish (a sink waiting for the rows before its block gets them: every earlier block has
    // started), and it is rethrown here, on the calling thread.
    std::atomic<Index> next{0};
    std::exception_ptr error;
    std::mutex error_lock;
#ifdef _OPENMP
#pragma omp parallel num_threads(static_cast<int>(team))
#endif
    {
      const Index thread = thread_id();
      for (Index b = next++; b < count; b = next++) {
        try {
          run_block(b * step, rows_of(b), thread);
        } catch (...) {
          const std::lock_guard<std::mutex> hold(error_lock);
          if (!error) error = std::current_exception();
          next = count;
        }
      }
    }
    if (error) std::rethrow_exception(error);
  }

  for (Index i = 0; i < tq; ++i)
    if (flags(i)) output.row(i).setZero();  // exact +0, never -0 from 0·(negative)
  if (sinks) sinks->end();
  return flags.count();
}

/// attend_blocks into the caller's full `weights` (Tq×Tk), no sink: what every `_into` form
/// with a `weights` argument runs.
template <typename Scalar, typename Scores, typename DerivedV>
Index attend_rows(Scores&& scores, Eigen::Ref<Matrix<Scalar>> weights, const Eigen::MatrixBase<DerivedV>& v,
                  Eigen::Ref<Matrix<Scalar>> output, Workspace<Scalar>& ws, const Mask& mask,
                  const Options& options, Scalar score_scale = Scalar(1),
                  std::optional<bool> values_finite = std::nullopt) {
  return attend_blocks<Scalar>(std::forward<Scores>(scores), full_target(weights), v, output, ws, mask, options,
                               score_scale, values_finite);
}

/// attend_rows for scores already computed into `weights` (before `score_scale`; see attend_rows).
template <typename Scalar, typename DerivedV>
Index finish(Eigen::Ref<Matrix<Scalar>> weights, const Eigen::MatrixBase<DerivedV>& v,
             Eigen::Ref<Matrix<Scalar>> output, Workspace<Scalar>& ws, const Mask& mask, const Options& options,
             Scalar score_scale = Scalar(1), std::optional<bool> values_finite = std::nullopt) {
  return attend_rows<Scalar>(InPlaceScores{}, weights, v, output, ws, mask, options, score_scale, values_finite);
}

/// The block scores of a DotScorer over the transposed keys `keys_t` (width×Tk), for the columns
/// [c0, c1) of the block (attend_blocks' band columns; the others are not written): at most one
/// block of a call has one row (the last, when Tq mod block_rows is 1), and only it uses the
/// workspace's `hidden` and `column` buffers, sized here (on every call: a workspace warmed up
/// on more rows must not allocate for one), before any parallel region.
template <typename Scorer, typename DerivedQ, typename Scalar>
auto one_row_scratch_scores(const Scorer& scorer, const Eigen::MatrixBase<DerivedQ>& q,
                            const Eigen::Map<const Matrix<Scalar>>& keys_t, Workspace<Scalar>& ws) {
  const auto row = buffers(ws).hidden.matrix(keys_t.rows(), 1);
  const auto column = buffers(ws).column.matrix(keys_t.cols(), 1);
  // The scores of query rows [i0, i0 + r) of `queries` against keys [c0, c1), into those columns
  // of `block`.
  const auto score = [&scorer, keys_t, row, column](const auto& queries, Index i0, Index r, Index c0, Index c1,
                                                    auto& block) {
    const Eigen::Map<const Matrix<Scalar>> keys(keys_t.data() + c0 * keys_t.rows(), keys_t.rows(), c1 - c0);
    auto columns = block.middleCols(c0, c1 - c0);
    scorer.scores_transposed(queries.middleRows(i0, r), keys, columns, row, column);
  };
  if constexpr (plain_storage<DerivedQ>()) {
    return [score, &q](Index i0, Index r, Index c0, Index c1, auto& block) { score(q, i0, r, c0, c1, block); };
  } else {
    // Queries that are not column-major storage (row-major, an expression) are evaluated once
    // into the workspace, so that every block's scores run on attn's gemm, whose bits do not
    // follow the cut into blocks (attend_blocks relies on it for parts and threads).
    auto plain = buffers(ws).queries.matrix(q.rows(), q.cols());
    plain = q;
    const Eigen::Map<const Matrix<Scalar>> queries(plain.data(), plain.rows(), plain.cols());
    return [score, queries](Index i0, Index r, Index c0, Index c1, auto& block) {
      score(queries, i0, r, c0, c1, block);
    };
  }
}

/// The engine every mechanism's `_into` form runs on: the scores of `scorer` for the query rows
/// `q` against keys it has prepared (`prepared`, Tk×width: a Memory's, prepare_keys', or the
/// buffer attend_keys fills), masked, normalised, ·V, the weights to `target`. A scorer whose
/// blocks are independent (DotScorer) is fused into attend_blocks block by block (in parallel
/// with OpenMP); another (AdditiveScorer) scores every row into the full storage first, then
/// normalises, or, without full storage (sinks), projects every query first and scores block by
/// block on one thread (the same arithmetic per row). `score_scale` multiplies scores the
/// prepared keys could not carry (see attend_blocks).
template <typename Scalar, typename Scorer, typename DerivedQ, typename DerivedP, typename DerivedV>
Index attend_prepared(const Scorer& scorer, const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedP>& prepared,
                      const Eigen::MatrixBase<DerivedV>& v, Eigen::Ref<Matrix<Scalar>> output,
                      const Target<Scalar>& target, Workspace<Scalar>& ws, const Mask& mask,
                      const Options& options, std::optional<bool> values_finite = std::nullopt,
                      Scalar score_scale = Scalar(1)) {
  if constexpr (Scorer::parallel_blocks) {
    // Every block's product packs the keys again; from a column-major copy of the prepared keys'
    // transpose that packing reads contiguous memory instead of striding across them.
    const Index nt = keys_scored<Scalar>(mask, options, prepared.rows());
    auto kt = buffers(ws).keys.matrix(prepared.cols(), nt);
    transpose_into(prepared.topRows(nt), kt);
    const Eigen::Map<const Matrix<Scalar>> keys_t(kt.data(), kt.rows(), kt.cols());
    const auto scores = one_row_scratch_scores(scorer, q, keys_t, ws);
    return attend_blocks<Scalar>(scores, target, v, output, ws, mask, options, score_scale, values_finite);
  } else {
    if (target.full) {
      Eigen::Map<Matrix<Scalar>, 0, Eigen::OuterStride<>> all(target.full, target.rows, target.cols,
                                                              Eigen::OuterStride<>(target.stride));
      scorer.scores(q, prepared, all, ws);
      return attend_blocks<Scalar>(InPlaceScores{}, target, v, output, ws, mask, options, score_scale, values_finite);
    }
    const auto pq = scorer.project_queries(q, ws);
    const auto scores = [&](Index i0, Index r, auto& block) { scorer.scores_projected(pq.middleRows(i0, r), prepared, block, ws); };
    return attend_blocks<Scalar>(scores, target, v, output, ws, mask, options, score_scale, values_finite, true);
  }
}

/// attend_prepared into the caller's full `weights` (Tq×Tk).
template <typename Scalar, typename Scorer, typename DerivedQ, typename DerivedP, typename DerivedV>
Index attend_prepared(const Scorer& scorer, const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedP>& prepared,
                      const Eigen::MatrixBase<DerivedV>& v, Eigen::Ref<Matrix<Scalar>> output,
                      Eigen::Ref<Matrix<Scalar>> weights, Workspace<Scalar>& ws, const Mask& mask,
                      const Options& options, std::optional<bool> values_finite = std::nullopt,
                      Scalar score_scale = Scalar(1)) {
  return attend_prepared<Scalar>(scorer, q, prepared, v, output, full_target(weights), ws, mask, options,
                                 values_finite, score_scale);
}

/// attend_prepared after preparing the keys `k` (Tk×dk) in the workspace. For a DotScorer
/// without `w` the transposed keys are written at once (`scale·Kᵀ`, entry for entry what
/// transposing the prepared `scale·K` gives).
template <typename Scalar, typename Scorer, typename DerivedQ, typename DerivedK, typename DerivedV>
Index attend_keys(const Scorer& scorer, const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                  const Eigen::MatrixBase<DerivedV>& v, Eigen::Ref<Matrix<Scalar>> output,
                  const Target<Scalar>& target, Workspace<Scalar>& ws, const Mask& mask, const Options& options) {
  if constexpr (Scorer::parallel_blocks) {
    if (!scorer.projects()) {
      const Index nt = keys_scored<Scalar>(mask, options, k.rows());
      auto kt = buffers(ws).keys.matrix(k.cols(), nt);
      transpose_into(k.topRows(nt), scorer.scale, kt);
      const Eigen::Map<const Matrix<Scalar>> keys_t(kt.data(), kt.rows(), kt.cols());
      const auto scores = one_row_scratch_scores(scorer, q, keys_t, ws);
      return attend_blocks<Scalar>(scores, target, v, output, ws, mask, options);
    }
  }
  auto prepared = buffers(ws).prepared.matrix(k.rows(), scorer.prepared_size(k.cols()));
  scorer.prepare(k, prepared);
  return attend_prepared<Scalar>(scorer, q, prepared, v, output, target, ws, mask, options);
}

/// attend_keys into the caller's full `weights` (Tq×Tk).
template <typename Scalar, typename Scorer, typename DerivedQ, typename DerivedK, typename DerivedV>
Index attend_keys(const Scorer& scorer, const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                  const Eigen::MatrixBase<DerivedV>& v, Eigen::Ref<Matrix<Scalar>> output,
                  Eigen::Ref<Matrix<Scalar>> weights, Workspace<Scalar>& ws, const Mask& mask, const Options& options) {
  return attend_keys<Scalar>(scorer, q, k, v, output, full_target(weights), ws, mask, options);
}

/// Starts the sinks of a call over Tq×Tk weights (checks them: may throw) and returns its target;
/// query rows from `padded_from` on are padding (see Target).
template <typename Scalar>
Target<Scalar> begin_sinks(const char* fn, const Sinks<Scalar>& sinks, Index tq, Index tk, const Mask& mask,
                           Index padded_from = std::numeric_limits<Index>::max()) {
  sinks.begin(SinkCall{fn, tq, tk, &mask, block_rows_for<Scalar>(tk), std::min(padded_from, tq)});
  Target<Scalar> t = sink_target(sinks, tq, tk);
  t.padded_from = padded_from;
  return t;
}

/// A call whose Tq×Tk weights are computed whole before any row is handed on (the monotonic
/// recurrence, a Memory's step), with `sinks` in the place of the weights: begins the sinks (their
/// checks throw here: call it after every other check), runs `compute(weights)` into the storage
/// of a FullWeights among them or else the workspace's block buffer (Tq×Tk), then gives the sinks
/// its rows in blocks of block_rows_for(Tk) rows, in order (none when Tk = 0), and ends them.
/// The sinks see the bits the form with a weights matrix writes: `compute` is that form, and it
/// must leave the block buffer alone (attend_blocks does when it is given full storage).
/// \return what `compute` returns (the number of fully masked rows)
template <typename Scalar, typename Compute>
Index whole_to_sinks(const char* fn, const Sinks<Scalar>& sinks, Index tq, Index tk, const Mask& mask,
                     Workspace<Scalar>& ws, Compute&& compute) {
  const Target<Scalar> target = begin_sinks(fn, sinks, tq, tk, mask);
  Scalar* full = target.full;
  Index stride = target.stride;
  if (!full) {
    full = buffers(ws).block.matrix(tq, tk).data();
    stride = std::max<Index>(tq, 1);
  }
  Eigen::Map<Matrix<Scalar>, 0, Eigen::OuterStride<>> weights(full, tq, tk, Eigen::OuterStride<>(stride));
  const Index masked = compute(weights);
  const Index rows = block_rows_for<Scalar>(tk);
  if (tk > 0)
    for (Index i0 = 0; i0 < tq; i0 += rows)
      sinks.consume(i0, WeightBlock<Scalar>(full + i0, std::min(rows, tq - i0), tk, Eigen::OuterStride<>(stride)));
  sinks.end();
  return masked;
}

/// The `weights` argument of an `_into` form checked against Tq×Tk (a matrix; sinks are checked
/// by begin_sinks, after every other argument).
template <typename Scalar>
void check_weights(const char* fn, const Eigen::Ref<Matrix<Scalar>>& weights, Index tq, Index tk) {
  check_shape(fn, "weights", weights, tq, tk);
}
template <typename Scalar>
void check_weights(const char*, const Sinks<Scalar>&, Index, Index) {}

/// The engine's target for the `weights` argument of an `_into` form: the matrix, or the sinks
/// (begun here: their checks throw here); query rows from `padded_from` on are padding (see Target).
template <typename Scalar>
Target<Scalar> target_of(const char*, Eigen::Ref<Matrix<Scalar>>& weights, Index, Index, const Mask&,
                         Index padded_from = std::numeric_limits<Index>::max()) {
  Target<Scalar> t = full_target(weights);
  t.padded_from = padded_from;
  return t;
}
template <typename Scalar>
Target<Scalar> target_of(const char* fn, const Sinks<Scalar>& sinks, Index tq, Index tk, const Mask& mask,
                         Index padded_from = std::numeric_limits<Index>::max()) {
  return begin_sinks(fn, sinks, tq, tk, mask, padded_from);
}

/// What every `_into` form checks of its outputs and options: output Tq×dv, the weights Tq×Tk
/// (a matrix; sinks are checked when they begin, after every other argument), a mask that fits
/// Tq×Tk and a known probability function.
template <typename Scalar, typename W>
void check_into(const char* fn, Index tq, Index tk, Index dv, const Eigen::Ref<Matrix<Scalar>>& output,
                const W& weights, const Mask& mask, const Options& options) {
  check_shape(fn, "output", output, tq, dv);
  check_weights<Scalar>(fn, weights, tq, tk);
  mask.check(fn, tq, tk);
  check_probability(fn, options.probability);
}

/// An input of a call and its name in messages (q, k, v; x for a layer's sequence).
template <typename Scalar>
struct NamedInput {
  const char* name;
  Storage<Scalar> storage;
};

/// What every single-head `_into` form checks of its outputs' storage (docs/02, "Outputs must not
/// overlap the inputs"): the call reads the values (and keys) block by block while it writes the
/// output and weights, so `output` shares no entry with `k`, `v` or `weights`, and `weights`
/// none with `q`, `k` or `v`. The output may be the query itself, entry for entry (each row
/// reads its query row before its output row is written), but no other part of it. Sinks'
/// storage is not checked. No allocation; a message only when one fails.
template <typename Scalar, typename W>
void check_outputs_apart(const char* fn, const NamedInput<Scalar>& q, const NamedInput<Scalar>& k,
                         const NamedInput<Scalar>& v, const Eigen::Ref<Matrix<Scalar>>& output, const W& weights) {
  const Storage<Scalar> out = storage_of(output);
  if (!same_storage(out, q.storage)) check_apart(fn, "output", out, q.name, q.storage);
  check_apart(fn, "output", out, k.name, k.storage);
  check_apart(fn, "output", out, v.name, v.storage);
  if constexpr (std::is_same<W, Eigen::Ref<Matrix<Scalar>>>::value) {
    const Storage<Scalar> w = storage_of(weights);
    check_apart(fn, "weights", w, "output", out);
    check_apart(fn, "weights", w, q.name, q.storage);
    check_apart(fn, "weights", w, k.name, k.storage);
    check_apart(fn, "weights", w, v.name, v.storage);
  }
}

/// Value form of a call with sinks: output, fully masked rows and (when asked) the scores;
/// `into(output, ws)` runs the `_into` form.
template <typename Scalar, typename Into>
OutputResult<Scalar> run_sinks(Index tq, Index dv, const Options& options, Into&& into) {
  OutputResult<Scalar> r;
  r.output.resize(tq, dv);
  Workspace<Scalar> ws;
  into(r.output, ws);
  r.fully_masked = ws.fully_masked();
  if (options.return_scores) r.scores = ws.scores();
  return r;
}

/// Value form on top of an `_into` call: allocates a `Result` (output Tq×dv, weights Tq×Tk),
/// runs `into(output, weights, ws)` with a fresh workspace, takes the fully masked rows and lets
/// `collect(result, ws)` take the rest of what the workspace reports.
template <typename Result, typename Scalar, typename Into, typename Collect>
Result run_with(Index tq, Index tk, Index dv, Into&& into, Collect&& collect) {
  Result r;
  r.output.resize(tq, dv);
  r.weights.resize(tq, tk);
  Workspace<Scalar> ws;
  into(r.output, r.weights, ws);
  r.fully_masked = ws.fully_masked();
  collect(r, ws);
  return r;
}

/// run_with for an AttentionResult: the scores when `options.return_scores`.
template <typename Scalar, typename Into>
AttentionResult<Scalar> run(Index tq, Index tk, Index dv, const Options& options, Into&& into) {
  return run_with<AttentionResult<Scalar>, Scalar>(tq, tk, dv, std::forward<Into>(into), [&](auto& r, auto& ws) {
    if (options.return_scores) r.scores = ws.scores();
  });
}

}  // namespace detail
}  // namespace attn
