// SPDX-License-Identifier: MIT
// Memory bound of every weight sink, by counting bytes: at T = 2048 one call with a fresh
// workspace and a fresh sink allocates at most what the sink keeps plus O(threads × 256 × Tk)
// (each thread's block of rows, Eigen's GEMM packing) plus O(T·d) (keys): far below one T×T map.
// Multi-head: one block and one head's projections per thread, whatever h. Long keys: blocks of
// fewer rows (64 at Tk = 32768 floats), about 8 MiB each.
// A second call of the same shape keeps nothing and allocates only Eigen's transient GEMM
// packing buffers (NpyWeightsWriter: its block buffer too, by design). Its own program
// (tests/CMakeLists.txt: attn_tests_alloc_sinks, CTest prefix "alloc_sinks."), counting with
// tests/alloc_counter.hpp. Linux/glibc only, not in sanitizer builds (they replace malloc
// themselves).
#include <cstdlib>

#include "helpers.hpp"

#include <attn/io/npy_stream.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "alloc_counter.hpp"  // after every header: it replaces the malloc family

// Everything in this file lives in namespace test_alloc_sinks.
namespace test_alloc_sinks {

namespace {

using attn::Index;
using attn::Matrix;

using attn_alloc::measure;
using attn_alloc::Usage;

Index threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

constexpr Index kT = 2048;   // Tq = Tk
constexpr Index kD = 4;      // d = dv (small: the test is about Tk, and runs at -O0)
constexpr Index kK = 8;      // TopK's k
constexpr long long kSlack = 64 * 1024;  // small things: paths, a Catch2 message, malloc rounding

/// Bytes of the packing buffers of Eigen's GEMM, all threads: for a block's W·V (256 × Tk by
/// Tk × dv) at most the block's 256 × Tk lhs and the Tk × dv rhs, per thread; Q·Kᵀ packs less.
template <typename S>
long long gemm_scratch() {
  return threads() * (256 * kT + kT * kD) * static_cast<long long>(sizeof(S));
}

}  // namespace

TEMPLATE_TEST_CASE("each sink allocates its own storage plus one block of rows per thread, far below a T x T map",
                   "[alloc][sinks]", float, double) {
  using S = TestType;
  const long long s = sizeof(S);
  const long long map = kT * kT * s;  // one T×T map
  // The engine's share: each thread's block (256 × Tk) and normalisation scratch (Tk), the scaled
  // keys' transpose (d × Tk), two rows for one-row blocks, fully masked flags; and per thread the
  // packing buffers of Eigen's GEMM (gemm_scratch), which Eigen allocates on the heap above
  // EIGEN_STACK_ALLOCATION_LIMIT on every product, and frees.
  const long long engine = threads() * (256 + 1) * kT * s + kD * kT * s + 2 * kT * s + kT + gemm_scratch<S>();
  REQUIRE(engine < map / 3);  // at T = 2048 one block of 256 rows is 1/8 of the map

  std::mt19937_64 rng(16);
  const Matrix<S> q = attn_test::random_matrix<S>(rng, kT, kD);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, kT, kD);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, kT, kD);
  Matrix<S> out(kT, kD);
  Matrix<S> selected(3, kT);
  attn_test::TempDir dir("attn_alloc_sinks");

  struct Case {
    std::string name;
    long long keeps;  // what the sink itself keeps (documented in docs/08)
  };
  const std::vector<Case> cases = {
      {"none", 0},
      {"ColumnSums", kT * s + kT * static_cast<long long>(sizeof(Index))},
      {"RowStats", kT * s + kT * static_cast<long long>(sizeof(Index))},
      {"TopK", kT * kK * (s + static_cast<long long>(sizeof(Index)))},
      {"SelectedRows", 0},  // caller storage
      {"callback", 0},
      {"NpyWeightsWriter", 256 * kT * s},  // one block's bytes
  };
  Usage output_only;  // the warm output-only call ("none", the first case)
  for (const Case& c : cases) {
    INFO(c.name);
    // Fresh workspace and sink: everything the call needs is allocated during it.
    const auto run = [&](attn::Workspace<S>& ws, auto&& list) {
      return measure([&] { attn::scaled_dot_product_into(q, k, v, out, list(), ws); });
    };
    attn::Workspace<S> ws;
    attn::ColumnSums<S> sums;
    attn::RowStats<S> stats;
    attn::TopK<S> top(kK);
    attn::SelectedRows<S> pick({0, 1000, kT - 1}, selected);
    double total = 0;
    auto callback = attn::callback_sink<S>([&](Index, const attn::WeightBlock<S>& b) { total += double(b.sum()); });
    attn::io::NpyWeightsWriter<S> npy(dir.path / "w.npy");
    const auto sinks = [&]() -> attn::Sinks<S> {
      if (c.name == "ColumnSums") return attn::Sinks<S>(sums);
      if (c.name == "RowStats") return attn::Sinks<S>(stats);
      if (c.name == "TopK") return attn::Sinks<S>(top);
      if (c.name == "SelectedRows") return attn::Sinks<S>(pick);
      if (c.name == "callback") return attn::Sinks<S>(callback);
      if (c.name == "NpyWeightsWriter") return attn::Sinks<S>(npy);
      return attn::Sinks<S>(attn::no_weights);
    };
    const Usage cold = run(ws, sinks);
    const long long bound = c.keeps + engine + kSlack;
    INFO("cold call: " << cold.bytes << " bytes in " << cold.calls << " allocations, peak " << cold.peak
                       << "; bound " << bound << ", one T x T map " << map);
    CHECK(cold.peak <= bound);
    CHECK(bound < map / 2);  // 256 rows are 1/8 of the map at T = 2048: a block, GEMM packing, a sink's block
    // The block of rows is the bulk: the count sees it (so a bound above could fail). Output
    // only, a thread keeps one part of a block instead (attend.hpp: part_rows_for rows, the last
    // part of a block up to twice that), and the count sees that it keeps less.
    // (Not with EIGEN_USE_BLAS, where blocks are not cut: attn::detail::parts_for.)
    const long long part = std::min<Index>(256, 2 * attn::detail::part_rows_for<S>(kT) - 1) * kT * s;
    if (c.name == "none" && attn::detail::parts_for<S>()) {
      CHECK(cold.peak >= part);
      CHECK(cold.peak < 256 * kT * s);
    } else {
      CHECK(cold.peak >= 256 * kT * s);
    }

    if (c.name == "callback") CHECK(total > 0);

    // Warm: nothing is kept, and the sink adds no allocation to those of the output-only call
    // (Eigen's GEMM packing buffers, allocated and freed by every product at this Tk;
    // tests/test_no_malloc_sinks.cpp checks, at shapes below Eigen's stack limit, that nothing is
    // allocated at all).
    const long long before = attn_alloc::in_use.load();
    const Usage warm = run(ws, sinks);
    const long long after = attn_alloc::in_use.load();  // before INFO's own allocation
    INFO("warm call: " << warm.bytes << " bytes in " << warm.calls << " allocations, peak " << warm.peak);
    CHECK(after == before);
    CHECK(warm.peak <= gemm_scratch<S>() + (c.name == "NpyWeightsWriter" ? c.keeps + kSlack : 0));
    if (c.name == "none") {
      output_only = warm;
    } else if (c.name != "NpyWeightsWriter") {  // it allocates its paths and block buffer, by design
      CHECK(warm.calls == output_only.calls);
      // On oneDNN the products allocate oneDNN's own packing buffers in every call, the same
      // number but a page more or less from call to call (measured: 9470976 against 9475072 bytes).
      if (!attn::detail::dnnl_for<S>()) CHECK(warm.bytes == output_only.bytes);
    }
  }
}

TEMPLATE_TEST_CASE("the call with full weights keeps one block of rows per thread besides your map, nothing when warm",
                   "[alloc][sinks]", float, double) {
  // At T = 2048 a part of a block is under 256 bytes of each column, so the call gathers a
  // block's parts in a block of scratch per thread (attend.hpp: gathers_parts) and copies it to
  // the caller's weights: that block is the bulk of what it allocates, and a warm workspace keeps it.
  using S = TestType;
  const long long s = sizeof(S);
  const long long map = kT * kT * s;
  const long long engine = threads() * (256 + 1) * kT * s + kD * kT * s + 2 * kT * s + kT + gemm_scratch<S>();
  std::mt19937_64 rng(20);
  const Matrix<S> q = attn_test::random_matrix<S>(rng, kT, kD);
  Matrix<S> out(kT, kD);
  Matrix<S> w(kT, kT);  // the caller's map, allocated before counting
  attn::Workspace<S> ws;
  const Usage cold = measure([&] { attn::scaled_dot_product_into(q, q, q, out, w, ws); });
  INFO("cold call: " << cold.bytes << " bytes in " << cold.calls << " allocations, peak " << cold.peak << "; bound "
                     << engine + kSlack << ", one T x T map " << map);
  CHECK(cold.peak <= engine + kSlack);
  CHECK(engine + kSlack < map / 3);
  const Index part = attn::detail::part_rows_for<S>(kT);
  if (attn::detail::parts_for<S>() && attn::detail::gathers_parts<S>(part)) CHECK(cold.peak >= 256 * kT * s);
  const long long before = attn_alloc::in_use.load();
  const Usage warm = measure([&] { attn::scaled_dot_product_into(q, q, q, out, w, ws); });
  const long long after = attn_alloc::in_use.load();  // before INFO's own allocation
  INFO("warm call: " << warm.bytes << " bytes in " << warm.calls << " allocations, peak " << warm.peak);
  CHECK(after == before);
  CHECK(warm.peak <= gemm_scratch<S>());
  CHECK(w.row(kT - 1).sum() == Approx(1.0).epsilon(1e-4));  // the map was written
}

TEMPLATE_TEST_CASE("the counter sees a T x T allocation: the full-weights value call", "[alloc][sinks]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(17);
  const Matrix<S> q = attn_test::random_matrix<S>(rng, kT, kD);
  const Usage full = measure([&] { static_cast<void>(attn::scaled_dot_product(q, q, q)); });
  CHECK(full.peak >= kT * kT * static_cast<long long>(sizeof(S)));
}

TEST_CASE("multi-head sinks allocate one block and one head's projections per thread, not per head", "[alloc][sinks]") {
  using S = float;  // the single-head case covers double; this one takes seconds at -O0
  const long long s = sizeof(S);
  const Index h = 4, dm = 8;  // model width D, head width D / h = 2
  std::mt19937_64 rng(18);
  attn::MultiHeadParams<S> p;
  p.heads = h;
  p.wq = attn_test::random_matrix<S>(rng, dm, dm);
  p.wk = attn_test::random_matrix<S>(rng, dm, dm);
  p.wv = attn_test::random_matrix<S>(rng, dm, dm);
  p.wo = attn_test::random_matrix<S>(rng, dm, dm);
  const Matrix<S> x = attn_test::random_matrix<S>(rng, kT, dm);
  Matrix<S> out(kT, dm);
  Matrix<S> mean(kT, kT);  // the caller's one T×T map
  const long long map = kT * kT * s;
  const long long block = 256 * kT * s;  // one block of rows
  // Per head: a Workspace with normalisation scratch (Tk), fully masked flags; per item the
  // concatenated heads (T × D) and flags. Per thread of the call (one when a reduction makes
  // the heads run in turn; heads in parallel run their blocks on their own thread): one lane
  // with a head's projections (3 × T × D/h), its scaled keys' transpose (D/h × Tk), two rows and
  // blocks of 256 rows. Plus Eigen's GEMM packing.
  const long long lane = 3 * kT * (dm / h) * s + (dm / h) * kT * s + 2 * kT * s;
  const long long common = h * (kT * s + kT) + kT * dm * s + kT + gemm_scratch<S>();
  std::vector<long long> warm_calls;
  for (const bool reduce : {true, false}) {
    INFO((reduce ? "HeadSinks::reduce(mean)" : "no_weights"));
    attn::HeadSinks<S> sinks;
    if (reduce) sinks.reduce(attn::HeadReduction::mean, mean);
    attn::MultiHeadWorkspace<S> ws;
    const Usage cold = measure([&] { attn::multi_head_into(x, x, x, p, out, sinks, ws); });
    const long long bound = threads() * (lane + block) + common + kSlack;
    INFO("cold call: " << cold.bytes << " bytes in " << cold.calls << " allocations, peak " << cold.peak
                       << "; bound " << bound << ", one T x T map " << map);
    CHECK(cold.peak <= bound);
    CHECK(bound < map / 2);
    // Output only, a thread keeps one part of a block (see the single-head case).
    const long long part = std::min<Index>(256, 2 * attn::detail::part_rows_for<S>(kT) - 1) * kT * s;
    CHECK(cold.peak >= (reduce || !attn::detail::parts_for<S>() ? block : part));
    // One block per thread, not per head (h blocks would exceed the bound with one thread).
    if (threads() == 1) CHECK(cold.peak < 2 * block);
    const long long before = attn_alloc::in_use.load();
    const Usage warm = measure([&] { attn::multi_head_into(x, x, x, p, out, sinks, ws); });
    const long long after = attn_alloc::in_use.load();  // before INFO's own allocation
    INFO("warm call: " << warm.bytes << " bytes in " << warm.calls << " allocations, peak " << warm.peak);
    CHECK(after == before);
    CHECK(warm.peak <= gemm_scratch<S>());
    warm_calls.push_back(warm.calls);
  }
  // Warm, the reduction allocates nothing the output-only call does not (Eigen's GEMM packing).
  CHECK(warm_calls[0] == warm_calls[1]);
}

TEMPLATE_TEST_CASE("long keys: blocks get fewer rows, so a block stays near 8 MiB", "[alloc][sinks]", float, double) {
  using S = TestType;
  const long long s = sizeof(S);
  // Tk = 32768 floats: 64 rows of 128 KiB; 16384 doubles: 64 rows too. A block of 256 rows
  // would be 32 MiB.
  const Index tk = 32768 * 4 / s;
  const Index tq = 256;
  const Index rows = attn::detail::block_rows_for<S>(tk);
  REQUIRE(rows == 64);
  std::mt19937_64 rng(19);
  const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, kD);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, kD);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, kD);
  Matrix<S> out(tq, kD);
  attn::Workspace<S> ws;
  attn::ColumnSums<S> sums;
  const Usage cold = measure([&] { attn::scaled_dot_product_into(q, k, v, out, sums, ws); });
  // A block per thread and its normalisation scratch, the keys' transpose, two rows, flags, the
  // sums and counts; Eigen's GEMM packing of a block's products (at most the block and V).
  const long long block = rows * tk * s;
  const long long bound = threads() * (block + tk * s) + kD * tk * s + 2 * tk * s + tq +
                          tk * (s + static_cast<long long>(sizeof(Index))) + threads() * (block + tk * kD * s) + kSlack;
  INFO("cold call: peak " << cold.peak << "; bound " << bound << ", a block of 256 rows " << 256 * tk * s);
  CHECK(cold.peak >= block);
  CHECK(cold.peak <= bound);
  if (threads() == 1) CHECK(cold.peak < 256 * tk * s);
  CHECK(sums.sums().sum() > S(255));  // every query's weights, summing to 1 each
}

}  // namespace test_alloc_sinks
