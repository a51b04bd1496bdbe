// SPDX-License-Identifier: MIT
// Compiled with OpenMP (its own executable, tests/CMakeLists.txt): attn's parallel regions
// (blocks of query rows in every mechanism, heads and items in multi-head) must give the same
// bits whatever the thread count, whether or not the caller is itself in a parallel region, and
// under any OpenMP setting: CTest runs this executable again with OMP_DYNAMIC=true,
// OMP_THREAD_LIMIT=1, OMP_NUM_THREADS=1 and 3 and nested regions enabled, each comparing its
// results with the ones the default run wrote (ATTN_OPENMP_REFERENCE, "[reference]").
#include "helpers.hpp"

#include <attn/additive.hpp>
#include <attn/luong.hpp>
#include <attn/multi_head.hpp>
#include <attn/scaled_dot_product.hpp>

#include <catch2/catch.hpp>

#include <omp.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace test_openmp {

using attn::Index;
using attn::Mask;
using attn::Matrix;
using attn_test::same_bits;

// Sets the thread count for the scope of the object.
struct Threads {
  explicit Threads(int n) : before(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(before); }
  Threads(const Threads&) = delete;
  Threads& operator=(const Threads&) = delete;
  int before;
};

TEMPLATE_TEST_CASE("openmp: scaled dot-product gives the same bits with 1, 2 and 5 threads", "[openmp]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(11);
  // 1 and 15 rows: decoder-sized, no region; 16 and 256: one block; 257 and 700: several blocks,
  // the last one short; 600 × 1500: blocks cut into parts short enough that the call with
  // weights gathers them (attend.hpp: gathers_parts); 256 × 400 with 112 values: one block worth
  // sharing among 2 and 5 threads (attend.hpp: split_work), each share gathered in scratch.
  const std::pair<Index, Index> shapes[] = {{1, 6},     {15, 20},   {16, 21},   {256, 261},
                                            {257, 262}, {700, 705}, {600, 1500}, {256, 400}};
  for (const auto& [tq, tk] : shapes) {
    REQUIRE((tk != 1500 || attn::detail::gathers_parts<S>(attn::detail::part_rows_for<S>(tk))));
    const Index dv = tk == 400 ? 112 : 9;
    REQUIRE((tk != 400 || 52 * tk * dv >= attn::detail::split_work));  // ceil(256 / 5) rows a thread
    REQUIRE((tk != 261 || 128 * tk * dv < attn::detail::split_work));  // 256 × 261: one thread
    const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, 24);
    const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 24);
    const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, dv);
    for (const Mask& mask : {Mask(), Mask::causal(5), Mask::key_length(tk - 3) & Mask::window(40, 2)}) {
      INFO("tq " << tq);
      attn::AttentionResult<S> one;
      {
        Threads t(1);
        one = attn::scaled_dot_product(q, k, v, mask);
      }
      for (const int n : {2, 5}) {
        Threads t(n);
        const auto many = attn::scaled_dot_product(q, k, v, mask);
        CHECK(same_bits(many.weights, one.weights));
        CHECK(same_bits(many.output, one.output));
        CHECK((many.fully_masked == one.fully_masked).all());
        // Output only: each thread keeps one part of a block (from 700 rows, blocks are cut).
        const auto none = attn::scaled_dot_product(q, k, v, attn::no_weights, mask);
        CHECK(same_bits(none.output, one.output));
        CHECK((none.fully_masked == one.fully_masked).all());
      }
      // Called from inside the caller's own parallel region: attn starts none of its own.
      std::vector<attn::AttentionResult<S>> inside(3);
      {
        Threads t(3);
#pragma omp parallel for
        for (int i = 0; i < 3; ++i) inside[static_cast<std::size_t>(i)] = attn::scaled_dot_product(q, k, v, mask);
      }
      for (const auto& r : inside) {
        CHECK(same_bits(r.weights, one.weights));
        CHECK(same_bits(r.output, one.output));
      }
    }
  }
}

TEMPLATE_TEST_CASE("openmp: multi-head gives the same bits with 1, 2 and 5 threads", "[openmp]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(12);
  attn::MultiHeadParams<S> p;
  p.wq = attn_test::random_matrix<S>(rng, 32, 32);
  p.wk = attn_test::random_matrix<S>(rng, 32, 32);
  p.wv = attn_test::random_matrix<S>(rng, 32, 32);
  p.wo = attn_test::random_matrix<S>(rng, 32, 32);
  p.bq = attn_test::random_matrix<S>(rng, 1, 32);
  p.heads = 4;
  // Also grouped key/value heads (projected once per call by tasks of their own, then read by
  // the query heads' tasks), with a rotary embedding and ALiBi's slopes (each head's task its
  // own), and with torch's appended keys.
  auto grouped = p;
  grouped.kv_heads = 2;
  grouped.wk = attn_test::random_matrix<S>(rng, 32, 16);
  grouped.wv = attn_test::random_matrix<S>(rng, 32, 16);
  grouped.rotary = attn::Rotary{};
  grouped.alibi = attn::alibi_slopes(4);
  auto appended = grouped;
  appended.rotary.reset();
  appended.alibi.clear();
  appended.bias_k = attn_test::random_matrix<S>(rng, 1, 16);
  appended.bias_v = attn_test::random_matrix<S>(rng, 1, 16);
  appended.add_zero_attn = true;
  // And OLMo 2's norms over all heads (each item's heads projected at once, by tasks of their own).
  auto olmo = grouped;
  olmo.alibi.clear();
  olmo.q_norm = attn::HeadNorm<S>{attn_test::random_matrix<S>(rng, 1, 32, 0.5, 1.5), 1e-6, false, true};
  olmo.k_norm = attn::HeadNorm<S>{attn_test::random_matrix<S>(rng, 1, 16, 0.5, 1.5), 1e-6, false, true};
  for (const auto* params : {&p, &grouped, &appended, &olmo}) {
    for (const Index t : {Index(1), Index(300)}) {
      INFO("T " << t << ", kv_heads " << params->kv_heads << ", appended keys " << params->appended_keys()
                << ", norms " << params->q_norm.has_value());
      const Matrix<S> x = attn_test::random_matrix<S>(rng, t, 32);
      attn::MultiHeadResult<S> one;
      {
        Threads threads(1);
        one = attn::multi_head(x, *params, Mask::causal(0));
      }
      for (const int n : {2, 5}) {
        Threads threads(n);
        const auto many = attn::multi_head(x, *params, Mask::causal(0));
        CHECK(same_bits(many.output, one.output));
        for (Index h = 0; h < params->heads; ++h) CHECK(same_bits(many.weights.head(h), one.weights.head(h)));
      }
    }
  }
}

// --- weight sinks (attn/sinks.hpp): results identical for any thread count -------------------

TEMPLATE_TEST_CASE("openmp: weight sinks give the same bits with 1 and 2 threads", "[openmp][sinks]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(13);
  // 700 rows: three blocks, run by two threads in either order; the sinks' results are reduced
  // per row or in row order (ColumnSums), so they cannot depend on which thread ran what.
  const Index tq = 700, tk = 90;
  const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, 16);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 16);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, 5);
  for (const Mask& mask : {Mask(), Mask::causal(-1) & Mask::key_length(80)}) {
    struct Run {
      attn::TopK<S> top{5};
      attn::ColumnSums<S> sums;
      attn::RowStats<S> stats;
      Matrix<S> rows = Matrix<S>(2, 90);
      Matrix<S> out = Matrix<S>(700, 5);
      Matrix<S> gathered = Matrix<S>(700, 90);
    };
    const auto run = [&](int threads, Run& r) {
      Threads t(threads);
      attn::SelectedRows<S> pick({699, 256}, r.rows);
      auto gather = attn::callback_sink<S>(
          [&](Index i0, const attn::WeightBlock<S>& block) { r.gathered.middleRows(i0, block.rows()) = block; });
      attn::Workspace<S> ws;
      attn::scaled_dot_product_into(q, k, v, r.out, attn::Sinks<S>(r.top, r.sums, r.stats, pick, gather), ws, mask);
    };
    Run one, two;
    run(1, one);
    run(2, two);
    CHECK(same_bits(two.out, one.out));
    CHECK(two.top.indices() == one.top.indices());
    CHECK(same_bits(two.top.weights(), one.top.weights()));
    CHECK(same_bits(two.sums.sums(), one.sums.sums()));
    CHECK(two.sums.counts() == one.sums.counts());
    CHECK(same_bits(two.stats.entropy(), one.stats.entropy()));
    CHECK(two.stats.argmax() == one.stats.argmax());
    CHECK(same_bits(two.rows, one.rows));
    CHECK(same_bits(two.gathered, one.gathered));
    // And the full-matrix call with 2 threads has the same weights.
    Threads t(2);
    const auto full = attn::scaled_dot_product(q, k, v, mask);
    CHECK(same_bits(two.gathered, full.weights));
  }
}

TEMPLATE_TEST_CASE("openmp: multi-head sinks give the same bits with 1 and 2 threads", "[openmp][sinks]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(14);
  attn::MultiHeadParams<S> p;
  p.wq = attn_test::random_matrix<S>(rng, 16, 16);
  p.wk = attn_test::random_matrix<S>(rng, 16, 16);
  p.wv = attn_test::random_matrix<S>(rng, 16, 16);
  p.wo = attn_test::random_matrix<S>(rng, 16, 16);
  p.heads = 4;
  const Matrix<S> x = attn_test::random_matrix<S>(rng, 600, 16);
  const auto run = [&](int threads, Matrix<S>& out, Matrix<S>& mean, attn::ColumnSums<S>& sums) {
    Threads t(threads);
    attn::HeadSinks<S> sinks;
    sinks.head(2, sums).reduce(attn::HeadReduction::mean, mean);
    attn::MultiHeadWorkspace<S> ws;
    attn::multi_head_into(x, x, x, p, out, sinks, ws, Mask::causal(0));
  };
  Matrix<S> out1(600, 16), out2(600, 16), mean1(600, 600), mean2(600, 600);
  attn::ColumnSums<S> sums1, sums2;
  run(1, out1, mean1, sums1);
  run(2, out2, mean2, sums2);  // heads in turn, each head's three blocks on two threads
  CHECK(same_bits(out2, out1));
  CHECK(same_bits(mean2, mean1));
  CHECK(same_bits(sums2.sums(), sums1.sums()));
  Threads t(2);
  const auto full = attn::multi_head(x, p, Mask::causal(0));
  CHECK(same_bits(mean2, full.weights.mean()));
  CHECK(same_bits(out2, full.output));
}

// Hidden ([.openmp_long]): 4 million weights per call take half a minute at -O0 with ASan, for a
// check of rounding order, not memory. CTest openmp.long_keys runs it once, in the Release tree.
TEMPLATE_TEST_CASE("openmp: long keys, many short blocks on several threads: ColumnSums adds rows in order",
                   "[.openmp_long][sinks]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(15);
  // Tk = 20000: blocks of 96 float rows (48 double), so 200 rows are 3 (5) blocks, which the
  // threads take in turn; a block's ColumnSums waits for the rows before it.
  const Index tq = 200, tk = 20000;
  REQUIRE(attn::detail::block_rows_for<S>(tk) < tq / 2);
  const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, 4);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 4);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, 2);
  const Mask mask = Mask::causal(tk - tq);
  // The sums in row order, from the full weights (2 threads).
  Threads two(2);
  const auto full = attn::scaled_dot_product(q, k, v, mask);
  attn::Vector<S> expected = attn::Vector<S>::Zero(tk);
  for (Index i = 0; i < tq; ++i) expected += full.weights.row(i).transpose();
  for (const int n : {1, 2, 3}) {
    Threads t(n);
    attn::ColumnSums<S> sums;
    attn::Workspace<S> ws;
    Matrix<S> out(tq, 2);
    attn::scaled_dot_product_into(q, k, v, out, sums, ws, mask);
    CHECK(same_bits(out, full.output));
    CHECK(same_bits(sums.sums(), expected));
  }
}

// A sink's consume() may throw (a callback cancelling the call): with blocks on several
// threads the exception used to leave the parallel region and terminate the program (and a
// callback ran inside a process-wide OpenMP critical section, which also aborted on a throw and
// hung a callback that called attn again). Now the call rethrows it on the calling thread, the
// other sinks (ColumnSums, which waits for the rows before its block) still end, and the sinks
// serve the next call.
TEMPLATE_TEST_CASE("openmp: a throwing sink's exception reaches the caller, a callback may call attn",
                   "[openmp][sinks]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(16);
  const Index t = 900;  // 4 blocks of 256 rows: several threads take blocks
  const Matrix<S> q = attn_test::random_matrix<S>(rng, t, 8);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, t, 8);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, t, 4);
  for (const int n : {1, 2, 3}) {
    INFO(n << " threads");
    Threads threads(n);
    attn::Workspace<S> ws;
    Matrix<S> out(t, 4);
    bool cancel = true;
    auto cancelling = attn::callback_sink<S>([&cancel](Index first_row, const attn::WeightBlock<S>&) {
      if (cancel && first_row >= 256) throw std::runtime_error("cancelled at row " + std::to_string(first_row));
    });
    attn::ColumnSums<S> sums;
    CHECK_THROWS_WITH(attn::scaled_dot_product_into(q, k, v, out, attn::Sinks<S>(cancelling, sums), ws),
                      Catch::Matchers::StartsWith("cancelled at row "));
    cancel = false;  // the same sinks and workspace serve the next call
    attn::scaled_dot_product_into(q, k, v, out, attn::Sinks<S>(cancelling, sums), ws);
    const auto full = attn::scaled_dot_product(q, k, v);
    CHECK(same_bits(out, full.output));
    // A callback that calls attn with a callback of its own, on every block.
    Index inner_blocks = 0;
    auto inner = attn::callback_sink<S>([&inner_blocks](Index, const attn::WeightBlock<S>&) { ++inner_blocks; });
    auto outer = attn::callback_sink<S>([&](Index first_row, const attn::WeightBlock<S>& block) {
      const Matrix<S> rows = q.middleRows(first_row, block.rows());
      attn::scaled_dot_product(rows, k, v, inner);
    });
    attn::scaled_dot_product_into(q, k, v, out, outer, ws);
    CHECK(inner_blocks == 4);
    CHECK(same_bits(out, full.output));
  }
}

TEST_CASE("openmp: SingleThreadedEigen keeps Eigen single-threaded and restores the caller's count", "[openmp]") {
  Threads threads(4);
  CHECK(attn::detail::max_threads() == 4);
  {
    const attn::detail::SingleThreadedEigen outer;
    CHECK(omp_get_max_threads() == 1);         // what Eigen::nbThreads() follows
    CHECK(attn::detail::max_threads() == 4);   // attn's own regions keep the caller's count
    {
      const attn::detail::SingleThreadedEigen inner;
      CHECK(attn::detail::max_threads() == 4);
    }
    CHECK(omp_get_max_threads() == 1);
    int inside = -1;
#pragma omp parallel num_threads(1)
    inside = static_cast<int>(attn::detail::max_threads());  // a region started under the guard
    CHECK(inside == 1);
  }
  CHECK(omp_get_max_threads() == 4);
  CHECK(attn::detail::max_threads() == 4);
}

/// The results compared across processes: every mechanism whose products are big enough for
/// Eigen to thread them on its own (projections, several blocks of 256 rows), float and double.
std::map<std::string, std::string> reference_results() {
  std::map<std::string, std::string> out;
  const auto put = [&out](const std::string& name, const auto& m) {
    using Scalar = typename std::decay_t<decltype(m)>::Scalar;
    const Matrix<Scalar> plain = m;
    std::string bytes(reinterpret_cast<const char*>(plain.data()), static_cast<std::size_t>(plain.size()) * sizeof(Scalar));
    out[name + " " + std::to_string(plain.rows()) + "x" + std::to_string(plain.cols())] = bytes;
  };
  const auto run = [&](auto zero, const std::string& type) {
    using S = decltype(zero);
    std::mt19937_64 rng(31);
    for (const Index t : {Index(15), Index(300), Index(700)}) {
      const Matrix<S> q = attn_test::random_matrix<S>(rng, t, 64);
      const Matrix<S> k = attn_test::random_matrix<S>(rng, t + 3, 64);
      const Matrix<S> v = attn_test::random_matrix<S>(rng, t + 3, 48);
      const std::string at = type + " T=" + std::to_string(t);
      const auto sdp = attn::scaled_dot_product(q, k, v, Mask::causal(3));
      put("scaled_dot_product output " + at, sdp.output);
      if (t == 300) put("scaled_dot_product weights " + at, sdp.weights);
      attn::BahdanauParams<S> b;
      b.wq = attn_test::random_matrix<S>(rng, 64, 256, -0.2, 0.2);
      b.wk = attn_test::random_matrix<S>(rng, 64, 256, -0.2, 0.2);
      b.v = attn_test::random_matrix<S>(rng, 1, 256);
      put("bahdanau output " + at, attn::bahdanau(q, k, v, b).output);
      const auto general = attn::LuongParams<S>::general(attn_test::random_matrix<S>(rng, 64, 64, -0.2, 0.2));
      put("luong general output " + at, attn::luong(q, k, v, general).output);
      attn::MultiHeadParams<S> p;
      p.wq = attn_test::random_matrix<S>(rng, 64, 256, -0.2, 0.2);
      p.wk = attn_test::random_matrix<S>(rng, 64, 256, -0.2, 0.2);
      p.wv = attn_test::random_matrix<S>(rng, 48, 256, -0.2, 0.2);
      p.wo = attn_test::random_matrix<S>(rng, 256, 256, -0.2, 0.2);
      p.heads = 4;
      put("multi_head output " + at, attn::multi_head(q, k, v, p).output);
    }
  };
  run(0.0f, "float");
  run(0.0, "double");
  return out;
}

std::string serialise(const std::map<std::string, std::string>& results) {
  std::string text;
  for (const auto& [name, bytes] : results) {
    text += name + '\n' + std::to_string(bytes.size()) + '\n' + bytes;
  }
  return text;
}

std::map<std::string, std::string> deserialise(const std::string& text) {
  std::map<std::string, std::string> results;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t name_end = text.find('\n', at);
    const std::size_t size_end = text.find('\n', name_end + 1);
    if (name_end == std::string::npos || size_end == std::string::npos) break;
    const std::size_t size = std::stoul(text.substr(name_end + 1, size_end - name_end - 1));
    results[text.substr(at, name_end - at)] = text.substr(size_end + 1, size);
    at = size_end + 1 + size;
  }
  return results;
}

TEST_CASE("openmp: results equal the default run's, bit for bit, under any OpenMP setting", "[openmp][reference]") {
  const char* path = std::getenv("ATTN_OPENMP_REFERENCE");
  const char* mode = std::getenv("ATTN_OPENMP_REFERENCE_MODE");
  if (path == nullptr || mode == nullptr) {
    SUCCEED("ATTN_OPENMP_REFERENCE(_MODE) unset: the CTest entries openmp.settings.* compare runs");
    return;
  }
  const std::map<std::string, std::string> results = reference_results();
  INFO("OMP_DYNAMIC=" << (std::getenv("OMP_DYNAMIC") ? std::getenv("OMP_DYNAMIC") : "")
                      << " OMP_THREAD_LIMIT=" << (std::getenv("OMP_THREAD_LIMIT") ? std::getenv("OMP_THREAD_LIMIT") : "")
                      << " OMP_NUM_THREADS=" << (std::getenv("OMP_NUM_THREADS") ? std::getenv("OMP_NUM_THREADS") : ""));
  if (std::string(mode) == "write") {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << serialise(results);
    file.close();
    REQUIRE(file.good());
    return;
  }
  REQUIRE(std::string(mode) == "compare");
  std::ifstream file(path, std::ios::binary);
  REQUIRE(file.is_open());
  const std::map<std::string, std::string> reference =
      deserialise(std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()));
  REQUIRE(reference.size() == results.size());
  for (const auto& [name, bytes] : results) {
    INFO(name);
    const auto found = reference.find(name);
    REQUIRE(found != reference.end());
    CHECK(found->second == bytes);
  }
}

}  // namespace test_openmp
