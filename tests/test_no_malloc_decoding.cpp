// SPDX-License-Identifier: MIT
// Steady-state decoding allocates nothing: memory steps for every score function × probability
// function, monotonic steps (all modes, with engine noise), monotonic_attention_into, history
// recording and beam reordering within the reservation, and AttentionLoop steps. Built as its own
// program with EIGEN_RUNTIME_NO_MALLOC, where eigen_assert throws, so an Eigen heap allocation
// while forbidden fails a check; there (outside sanitizer builds) global operator new is also
// counted, so any C++ heap allocation (std::vector, std::string, std::function) inside a step
// fails too. Without the define the checks run without the allocation guards. Shapes stay below
// Eigen's stack limit.
#include <atomic>
#include <cstdlib>
#include <new>
#include <stdexcept>

#include "no_malloc.hpp"  // before any Eigen header

#ifdef EIGEN_RUNTIME_NO_MALLOC

// Sanitizers bring their own operator new: count only in plain builds.
#if defined(__SANITIZE_ADDRESS__)
#define ATTN_TEST_NO_NEW_COUNTER
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define ATTN_TEST_NO_NEW_COUNTER
#endif
#endif
#endif

#if defined(EIGEN_RUNTIME_NO_MALLOC) && !defined(ATTN_TEST_NO_NEW_COUNTER)
#define ATTN_TEST_COUNT_NEW
// Counts every global operator new while `g_count_news` is set (this file is its own program).
// GCC pairs the malloc/free inside these replacements with the new/delete they replace.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
static std::atomic<long> g_news{0};
static std::atomic<bool> g_count_news{false};
void* operator new(std::size_t size) {
  if (g_count_news.load()) ++g_news;
  if (void* p = std::malloc(size != 0 ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (g_count_news.load()) ++g_news;
  if (void* p = std::malloc(size != 0 ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif

#include <attn/attention_loop.hpp>
#include "attn_core.hpp"  // the kernels; no exporter
#include "helpers.hpp"
#include <attn/history.hpp>
#include <attn/memory.hpp>
#include <attn/monotonic.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

// Everything in this file lives in namespace test_no_malloc_decoding: the suite is a unity build.
namespace test_no_malloc_decoding {

namespace {

using attn::Index;
using attn::Matrix;

/// Forbids allocation (Eigen's check and, in the no-malloc build, operator new) for its lifetime.
class NoAllocation {
 public:
  NoAllocation() {
#ifdef ATTN_TEST_COUNT_NEW
    news_before_ = g_news.load();
    g_count_news = true;
#endif
#ifdef EIGEN_RUNTIME_NO_MALLOC
    Eigen::internal::set_is_malloc_allowed(false);
#endif
  }
  ~NoAllocation() { stop(); }
  NoAllocation(const NoAllocation&) = delete;
  NoAllocation& operator=(const NoAllocation&) = delete;
  /// Ends the region; returns the number of operator new calls inside it.
  long stop() {
    if (active_) {
      active_ = false;
#ifdef EIGEN_RUNTIME_NO_MALLOC
      Eigen::internal::set_is_malloc_allowed(true);
#endif
#ifdef ATTN_TEST_COUNT_NEW
      g_count_news = false;
      news_ = g_news.load() - news_before_;
#endif
    }
    return news_;
  }

 private:
  [[maybe_unused]] bool active_ = true;
  [[maybe_unused]] long news_before_ = 0;
  long news_ = 0;
};

/// Runs `f` without allocation; returns "" or what went wrong (an eigen_assert, or news).
template <typename F>
std::string without_allocation(F&& f) {
  std::string error;
  long news = 0;
  {
    NoAllocation region;
    try {
      f();
    } catch (const std::exception& e) {
      error = e.what();
    }
    news = region.stop();
  }
  if (error.empty() && news != 0) error = std::to_string(news) + " operator new call(s)";
  return error;
}


constexpr Index tk = 16, n = 12, dk = 8, dv = 6, dq = 7, units = 8;

/// Every memory kind, prepared (and allocated) before any no-allocation region.
template <typename S>
std::vector<std::pair<std::string, attn::Memory<S>>> memories(std::mt19937_64& rng) {
  Matrix<S> k = attn_test::random_matrix<S>(rng, tk, dk);
  Matrix<S> v = attn_test::random_matrix<S>(rng, tk, dv);
  v.bottomRows(2).setConstant(std::numeric_limits<S>::quiet_NaN());  // padding content never read
  std::vector<std::pair<std::string, attn::Memory<S>>> all;
  all.emplace_back("sdp", attn::prepare_memory(k, v, attn::ScaledDotProductParams{}, n));
  all.emplace_back("luong dot", attn::prepare_memory(k, v, attn::LuongParams<S>::dot(S(0.5)), n));
  all.emplace_back("luong general",
                   attn::prepare_memory(k, v, attn::LuongParams<S>::general(attn_test::random_matrix<S>(rng, dq, dk)), n));
  all.emplace_back("luong concat", attn::prepare_memory(k, v,
                                                        attn::LuongParams<S>::concat(attn_test::random_matrix<S>(rng, dq + dk, units),
                                                                                     attn_test::random_matrix<S>(rng, 1, units), S(2)),
                                                        n));
  attn::BahdanauParams<S> b;
  b.wq = attn_test::random_matrix<S>(rng, dq, units);
  b.wk = attn_test::random_matrix<S>(rng, dk, units);
  b.v = attn_test::random_matrix<S>(rng, 1, units);
  all.emplace_back("bahdanau", attn::prepare_memory(k, v, b, n));
  b.normalize = true;
  b.g = S(0.7);
  b.b = attn_test::random_matrix<S>(rng, 1, units);
  all.emplace_back("bahdanau normalized", attn::prepare_memory(k, v, b, n));
  return all;
}

}  // namespace

TEMPLATE_TEST_CASE("no allocation: memory steps, every score and probability function", "[no_malloc][memory]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(1);
  auto all = memories<S>(rng);
  for (auto& entry : all) {
    const std::string& name = entry.first;
    attn::Memory<S>& memory = entry.second;  // not a structured binding: lambdas capture it
    for (const attn::Probability prob :
         {attn::Probability::softmax, attn::Probability::sparsemax, attn::Probability::hardmax}) {
      memory.with_probability(prob);
      for (const Index b : {Index(1), Index(3)}) {
        INFO(name << " probability " << static_cast<int>(prob) << " rows " << b);
        const Index q_cols = memory.query_size();
        std::vector<Matrix<S>> queries;
        for (int t = 0; t < 5; ++t) queries.push_back(attn_test::random_matrix<S>(rng, b, q_cols));
        auto ws = std::make_unique<attn::Workspace<S>>();
        Matrix<S> context(b, dv), alignment(b, tk);
        attn::attend_into(memory, queries[0], context, alignment, *ws);  // warm-up: the workspace grows
        const std::string error = without_allocation([&] {
          for (const auto& q : queries) attn::attend_into(memory, q, context, alignment, *ws);
        });
        INFO(error);
        CHECK(error.empty());
        CHECK(context.allFinite());
        CHECK(alignment.rightCols(tk - n).isZero(0));
      }
    }
  }
}

// The shapes of bench/bench_decode.cpp (issue 7): T_in = 50, query, keys and values 256 wide,
// 256 Bahdanau units. Products this size take other Eigen code paths than the small ones above.
TEMPLATE_TEST_CASE("no allocation: decoder steps at the benchmark's shapes", "[no_malloc][memory]", float, double) {
  using S = TestType;
  constexpr Index inputs = 50, width = 256;
  std::mt19937_64 rng(7);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, inputs, width);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, inputs, width);
  attn::BahdanauParams<S> b;
  b.wq = attn_test::random_matrix<S>(rng, width, width);
  b.wk = attn_test::random_matrix<S>(rng, width, width);
  b.v = attn_test::random_matrix<S>(rng, 1, width);
  std::vector<std::pair<std::string, attn::Memory<S>>> all;
  all.emplace_back("bahdanau", attn::prepare_memory(k, v, b));
  const auto luong = attn::LuongParams<S>::general(attn_test::random_matrix<S>(rng, width, width));
  all.emplace_back("luong general", attn::prepare_memory(k, v, luong));
  all.emplace_back("sdp", attn::prepare_memory(k, v, attn::ScaledDotProductParams{}));
  for (auto& entry : all) {
    INFO(entry.first);
    const attn::Memory<S>& memory = entry.second;
    const Matrix<S> query = attn_test::random_matrix<S>(rng, 1, width);
    attn::Workspace<S> ws;
    Matrix<S> context(1, width), alignment(1, inputs);
    attn::attend_into(memory, query, context, alignment, ws);  // warm-up: the workspace grows
    const Matrix<S> expected = alignment;
    const std::string error = without_allocation([&] {
      for (int step = 0; step < 3; ++step) attn::attend_into(memory, query, context, alignment, ws);
    });
    INFO(error);
    CHECK(error.empty());
    CHECK(alignment == expected);
    CHECK(std::abs(alignment.sum() - S(1)) < S(1e-5));
  }
}

// The one-row paths of a step (keys and values stored transposed, fused scores) and of the full
// call (its one-row block transposes the values and, for additive scores, the keys into the
// workspace) at the benchmark's shapes: after one warm-up of four beams and of one row, steps
// into contiguous rows and into rows of bigger matrices (a history's row), and the full call on
// one query row, allocate nothing, and all give the same bits.
TEMPLATE_TEST_CASE("no allocation: one-row steps and one-row full calls at the benchmark's shapes",
                   "[no_malloc][memory]", float, double) {
  using S = TestType;
  constexpr Index inputs = 50, width = 256, beams = 4, length = 47;
  std::mt19937_64 rng(8);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, inputs, width);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, inputs, width);
  const Matrix<S> queries = attn_test::random_matrix<S>(rng, beams, width);
  attn::BahdanauParams<S> b;
  b.wq = attn_test::random_matrix<S>(rng, width, width, -0.1, 0.1);
  b.wk = attn_test::random_matrix<S>(rng, width, width, -0.1, 0.1);
  b.v = attn_test::random_matrix<S>(rng, 1, width);
  const auto luong = attn::LuongParams<S>::general(attn_test::random_matrix<S>(rng, width, width, -0.1, 0.1));
  const attn::Mask padding = attn::Mask::key_length(length);
  using Full = std::function<void(const Matrix<S>&, Matrix<S>&, Matrix<S>&, attn::Workspace<S>&)>;
  std::vector<std::tuple<std::string, attn::Memory<S>, Full>> all;
  all.emplace_back("bahdanau", attn::prepare_memory(k, v, b, length),
                   [&](const Matrix<S>& q, Matrix<S>& out, Matrix<S>& w, attn::Workspace<S>& ws) {
                     attn::bahdanau_into(q, k, v, b, out, w, ws, padding);
                   });
  all.emplace_back("luong general", attn::prepare_memory(k, v, luong, length),
                   [&](const Matrix<S>& q, Matrix<S>& out, Matrix<S>& w, attn::Workspace<S>& ws) {
                     attn::luong_into(q, k, v, luong, out, w, ws, padding);
                   });
  all.emplace_back("sdp", attn::prepare_memory(k, v, attn::ScaledDotProductParams{}, length),
                   [&](const Matrix<S>& q, Matrix<S>& out, Matrix<S>& w, attn::Workspace<S>& ws) {
                     attn::scaled_dot_product_into(q, k, v, out, w, ws, padding);
                   });
  for (auto& entry : all) {
    INFO(std::get<0>(entry));
    const attn::Memory<S>& memory = std::get<1>(entry);
    const Full& full = std::get<2>(entry);
    const Matrix<S> query = queries.topRows(1);
    attn::Workspace<S> ws;
    Matrix<S> beam_context(beams, width), beam_alignment(beams, inputs);
    Matrix<S> context(1, width), alignment(1, inputs);
    Matrix<S> history(9, inputs), contexts(9, width);  // rows of bigger matrices: strided
    Matrix<S> full_out(1, width), full_w(1, inputs);
    attn::attend_into(memory, queries, beam_context, beam_alignment, ws);  // warm-up: the workspace grows
    attn::attend_into(memory, query, context, alignment, ws);
    full(query, full_out, full_w, ws);
    const std::string error = without_allocation([&] {
      for (int step = 0; step < 3; ++step) {
        attn::attend_into(memory, query, context, alignment, ws);
        attn::attend_into(memory, query, contexts.middleRows(step, 1), history.middleRows(step, 1), ws);
      }
    });
    INFO(error);
    CHECK(error.empty());
    const std::string beam_error =
        without_allocation([&] { attn::attend_into(memory, queries, beam_context, beam_alignment, ws); });
    INFO(beam_error);
    CHECK(beam_error.empty());
    // The full call of Bahdanau and Luong general projects K by W (a 50×256×256 GEMM, whose
    // blocking buffers Eigen allocates above EIGEN_STACK_ALLOCATION_LIMIT): only scaled
    // dot-product's is free of allocations at these shapes.
    const std::string full_error = without_allocation([&] { full(query, full_out, full_w, ws); });
    INFO(full_error);
    if (std::get<0>(entry) == "sdp") CHECK(full_error.empty());
    CHECK(attn_test::same_bits(history.row(2), alignment));
    CHECK(attn_test::same_bits(contexts.row(2), context));
    CHECK(attn_test::same_bits(full_w, alignment));
    CHECK(attn_test::same_bits(full_out, context));
    CHECK(alignment.rightCols(inputs - length).isZero(0));
  }
}

TEMPLATE_TEST_CASE("no allocation: monotonic steps in every mode, with engine noise", "[no_malloc][monotonic]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(2);
  std::mt19937 engine(7);
  auto all = memories<S>(rng);
  for (auto& entry : all) {
    const std::string& name = entry.first;
    attn::Memory<S>& memory = entry.second;  // not a structured binding: lambdas capture it
    for (const attn::MonotonicMode mode :
         {attn::MonotonicMode::recursive, attn::MonotonicMode::parallel, attn::MonotonicMode::hard}) {
      for (const S noise : {S(0), S(1)}) {
        INFO(name << " mode " << static_cast<int>(mode) << " noise " << noise);
        memory.with_monotonic({mode, S(-0.5), noise});
        std::vector<Matrix<S>> queries;
        for (int t = 0; t < 6; ++t) queries.push_back(attn_test::random_matrix<S>(rng, 2, memory.query_size()));
        auto ws = std::make_unique<attn::Workspace<S>>();
        Matrix<S> context(2, dv);
        Matrix<S> alignment = memory.initial_alignment(2);
        attn::Vector<S> leaked(2), position(2);
        attn::attend_into(memory, queries[0], alignment, context, alignment, *ws, engine);  // warm-up
        memory.initial_alignment_into(alignment);
        const std::string error = without_allocation([&] {
          for (const auto& q : queries) {
            if (noise > S(0)) {
              attn::attend_into(memory, q, alignment, context, alignment, *ws, engine);
            } else {
              attn::attend_into(memory, q, alignment, context, alignment, *ws);
            }
            attn::alignment_stats_into(alignment, leaked, position);
          }
        });
        INFO(error);
        CHECK(error.empty());
        CHECK(alignment.allFinite());
        CHECK(context.allFinite());
      }
    }
  }
  // monotonic_attention_into on its own, in place
  Matrix<S> p = attn_test::random_matrix<S>(rng, 3, 40).cwiseAbs();
  Matrix<S> a = attn::monotonic_initial_alignment<S>(3, 40);
  const std::string error = without_allocation([&] {
    for (const auto mode : {attn::MonotonicMode::recursive, attn::MonotonicMode::parallel}) {
      attn::monotonic_attention_into(p, a, mode, a);
    }
  });
  CHECK(error.empty());
}

TEMPLATE_TEST_CASE("no allocation: monotonic _into forms and Luong prepared keys, once warm", "[no_malloc][monotonic]",
                   float, double) {
  using S = TestType;
  std::mt19937_64 rng(4);
  const Matrix<S> q = attn_test::random_matrix<S>(rng, 3, dq);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, dk);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, dv);
  attn::BahdanauParams<S> b;
  b.wq = attn_test::random_matrix<S>(rng, dq, units);
  b.wk = attn_test::random_matrix<S>(rng, dk, units);
  b.v = attn_test::random_matrix<S>(rng, 1, units);
  const auto concat = attn::LuongParams<S>::concat(attn_test::random_matrix<S>(rng, dq + dk, units), attn_test::random_matrix<S>(rng, 1, units), S(2));
  const auto general = attn::LuongParams<S>::general(attn_test::random_matrix<S>(rng, dq, dk), S(0.5));
  const auto general_keys = attn::prepare_keys(general, k);
  const auto mask = attn::Mask::key_length(n);
  attn::Workspace<S> ws;
  Matrix<S> out(3, dv);
  Matrix<S> w = attn::monotonic_initial_alignment<S>(3, tk);
  attn::Options half;
  half.scale = 0.5;
  const auto steps = [&] {
    attn::bahdanau_monotonic_into(q, k, v, w, b, out, w, ws, {}, mask);
    attn::luong_monotonic_into(q, k, v, w, concat, out, w, ws, {}, mask);
    attn::luong_monotonic_into(q, k, v, w, general, out, w, ws, {}, mask);
    attn::luong_into(q, general_keys, v, general, out, w, ws, mask, half);
    attn::luong_into(q, k, v, concat, out, w, ws, mask, half);
    w = attn::Matrix<S>::Zero(3, tk);
  };
  steps();  // warm-up (and the assignment above allocates nothing: same size)
  const std::string error = without_allocation([&] {
    for (int t = 0; t < 3; ++t) {
      w.col(0).setOnes();
      steps();
    }
  });
  INFO(error);
  CHECK(error.empty());
  CHECK(out.allFinite());
}

TEMPLATE_TEST_CASE("no allocation: history recording and beam reordering within the reservation",
                   "[no_malloc][history]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(3);
  attn::AlignmentHistory<S> history(std::vector<Index>{9, 9, 9, 5}, 1, 32);
  Matrix<S> rows = attn_test::random_matrix<S>(rng, 4, 9);
  rows.row(3).tail(4).setZero();  // sequence 3's padding
  const std::vector<int> parents = {1, 1, 0, 3};
  history.record(rows);
  history.reorder(parents);  // the first reorder allocates the spare storage
  const std::string error = without_allocation([&] {
    for (int t = 1; t < 32; ++t) {
      history.record(rows);
      history.reorder(parents);
    }
    S sum = 0;
    for (Index b = 0; b < 4; ++b) sum += history.view(b).sum();
    if (!(sum > S(-1e9))) throw std::runtime_error("bad sum");
  });
  INFO(error);
  CHECK(error.empty());
  CHECK(history.steps(0) == 32);
}

TEMPLATE_TEST_CASE("no allocation: AttentionLoop steps with a GRU-like cell", "[no_malloc][loop]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(4);
  auto all = memories<S>(rng);
  for (const bool monotonic : {false, true}) {
    for (const bool custom_input : {false, true}) {
      attn::Memory<S>& memory = all[4].second;  // Bahdanau
      if (monotonic) {
        memory.with_monotonic({attn::MonotonicMode::recursive, S(0), S(0)});
      } else {
        memory.with_probability(attn::Probability::softmax);
      }
      const Index din = 3, att = 5;
      attn::AttentionLoopOptions<S> options;
      options.input_size = din;
      options.attention_layer = attn_test::random_matrix<S>(rng, dq + dv, att);
      options.reserve_steps = 20;
      if (custom_input) {
        options.cell_input_fn = [](const Matrix<S>& input, const Matrix<S>& attention, Matrix<S>& cell_input) {
          cell_input.leftCols(3) = input;
          cell_input.rightCols(5) = S(0.5) * attention;
        };
        options.cell_input_size = din + att;
      }
      attn::AttentionLoop<S> loop(memory, options);
      const Matrix<S> w_in = attn_test::random_matrix<S>(rng, din + att, dq);
      const Matrix<S> w_h = attn_test::random_matrix<S>(rng, dq, dq);
      Matrix<S> state = Matrix<S>::Zero(1, dq);
      Matrix<S> pre(1, dq);
      auto cell = [&](const Matrix<S>& x, Matrix<S>& h) {
        pre.noalias() = x * w_in;
        pre.noalias() += state * w_h;
        state = pre.array().tanh().matrix();
        h = state;
      };
      std::vector<Matrix<S>> inputs;
      for (int t = 0; t < 20; ++t) inputs.push_back(attn_test::random_matrix<S>(rng, 1, din));
      loop.step(inputs[0], cell);  // warm-up
      loop.reset();
      const std::string error = without_allocation([&] {
        for (const auto& x : inputs) loop.step(x, cell);
      });
      INFO("monotonic " << monotonic << " custom input " << custom_input << ": " << error);
      CHECK(error.empty());
      CHECK(loop.history().steps(0) == 20);
      CHECK(loop.attention().allFinite());
    }
  }
}

#ifdef EIGEN_RUNTIME_NO_MALLOC
TEST_CASE("no allocation: the guard itself catches Eigen allocations", "[no_malloc]") {
  CHECK_FALSE(without_allocation([] {
                Matrix<double> m(40, 40);
                m.setZero();
              }).empty());
  CHECK(without_allocation([] {}).empty());
}
#endif

#ifdef ATTN_TEST_COUNT_NEW
TEST_CASE("no allocation: the guard itself catches operator new", "[no_malloc]") {
  CHECK(without_allocation([] {
          std::vector<int> v(100, 1);
          if (v[3] != 1) throw std::runtime_error("unexpected");
        }) == "1 operator new call(s)");
}
#endif

// --- multi-head decoding (attn/multi_head_memory.hpp, attn/kv_cache.hpp, attn/decoder_history.hpp) ---


/// `p` as a LLaMA-style layer: h/2 key/value heads and a rotary embedding over whole heads, with
/// Qwen3's RMSNorm of each head's queries and keys.
template <typename S>
attn::MultiHeadParams<S> llama_like(const attn::MultiHeadParams<S>& p) {
  auto l = attn_test::grouped_rotary(p, p.heads / 2, 0);
  const attn::RowVector<S> ones = attn::RowVector<S>::Ones(l.head_dim());
  l.q_norm = attn::HeadNorm<S>{ones, 1e-6};
  l.k_norm = attn::HeadNorm<S>{ones, 1e-6, true};
  return l;
}

// A transformer decoder's steps: per layer a cache append and self-attention step, a
// cross-attention step, the history of both, and a beam reorder of caches and history. `llama`:
// the self-attention has half as many key/value heads and a rotary embedding.
template <typename S>
void decoder_steps_without_allocation(Index heads, Index d, Index t_in, Index beams, Index steps, bool llama = false) {
  std::mt19937_64 rng(17);
  auto self = attn_test::random_multi_head_params<S>(rng, heads, d, d, d, d);
  if (llama) self = llama_like(self);
  const auto cross = attn_test::random_multi_head_params<S>(rng, heads, d, d, d, d);
  const Matrix<S> source = attn_test::random_matrix<S>(rng, t_in, d);
  const auto memory = attn::prepare_memory(source, source, cross, t_in - 1);
  attn::KVCache<S> cache(self, beams, steps + 1);
  attn::DecoderHistory<S> history(1, heads, beams, t_in - 1, steps + 1);
  attn::MultiHeadWorkspace<S> ws;
  attn::HeadWeights<S> w;
  Matrix<S> x = attn_test::random_matrix<S>(rng, beams, d), y(beams, d), z(beams, d);
  std::vector<int> parents(static_cast<std::size_t>(beams));
  for (Index b = 0; b < beams; ++b) parents[static_cast<std::size_t>(b)] = static_cast<int>(b / 2);  // duplicates
  attn::Options sparse;  // and Gemma 2's soft cap
  sparse.probability = attn::Probability::sparsemax;
  sparse.softcap = 30.0;
  const auto step = [&](const attn::Options& options) {
    cache.append(x);
    attn::attend_into(cache, x, y, w, ws, options);
    history.record_self(0, w);
    attn::attend_into(memory, y, z, w, ws, options);
    history.record_cross(0, w);
    attn::attend_into(memory, y.topRows(1), z.topRows(1), w, ws, options);  // one beam: the GEMV paths
    cache.reorder(parents);
    history.reorder(parents);
  };
  // Warm-up: the workspace and the weights grow to the last step's shapes (the self-attention
  // weights grow with every step), and the history's first reorder allocates its spare storage.
  for (Index t = 0; t < steps; ++t) step(attn::Options());
  cache.clear();
  history.clear();
  const std::string error = without_allocation([&] {
    for (Index t = 0; t < steps; ++t) step(t % 2 == 0 ? attn::Options() : sparse);
  });
  INFO(error);
  CHECK(error.empty());
  CHECK(cache.steps() == steps);
  CHECK(history.cross(0).steps(0) == steps);
  CHECK(z.allFinite());
}

TEMPLATE_TEST_CASE("no allocation: multi-head decoder steps (memory, cache, history, reorder)",
                   "[no_malloc][multi_head][decoding]", float, double) {
  decoder_steps_without_allocation<TestType>(2, 8, 9, 3, 12);
  decoder_steps_without_allocation<TestType>(4, 8, 9, 3, 12, true);  // grouped, rotary
}

TEMPLATE_TEST_CASE("no allocation: a warm multi_head_into with grouped heads and a rotary embedding",
                   "[no_malloc][multi_head][rotary]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(23);
  const auto p = llama_like(attn_test::random_multi_head_params<S>(rng, 4, 16, 16, 16, 16));
  const Matrix<S> x = attn_test::random_matrix<S>(rng, 12, 16);
  attn::MultiHeadWorkspace<S> ws;
  attn::HeadWeights<S> w;
  Matrix<S> out(12, 16), small(5, 16);
  const attn::Mask causal = attn::Mask::causal();
  attn::multi_head_into(x, x, x, p, out, w, ws, causal);  // warm-up
  const std::string error = without_allocation([&] {
    attn::multi_head_into(x, x, x, p, out, w, ws, causal);
    attn::multi_head_into(x.topRows(5), x.topRows(5), x.topRows(5), p, small, w, ws);  // fewer positions
  });
  INFO(error);
  CHECK(error.empty());
  CHECK(out == attn::multi_head(x, p, attn::Mask::causal()).output);
}

TEMPLATE_TEST_CASE("no allocation: a warm cache takes a prompt and chunks of several positions",
                   "[no_malloc][multi_head][decoding][prefill]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(29);
  auto p = llama_like(attn_test::random_multi_head_params<S>(rng, 4, 16, 16, 16, 16));
  p.alibi = attn::alibi_slopes(4);  // and ALiBi's bias, from the positions on both paths
  const Index beams = 2;
  // Per beam: a prompt of 12 positions (one scaled dot-product per head), chunks of 3 (row by
  // row) and 9, then a step.
  const Matrix<S> prompt = attn_test::random_matrix<S>(rng, beams * 12, 16);
  const Matrix<S> three = attn_test::random_matrix<S>(rng, beams * 3, 16);
  const Matrix<S> nine = attn_test::random_matrix<S>(rng, beams * 9, 16);
  const Matrix<S> one = attn_test::random_matrix<S>(rng, beams, 16);
  attn::KVCache<S> cache(p, beams, 25);
  attn::MultiHeadWorkspace<S> ws;
  attn::HeadWeights<S> w;
  Matrix<S> out12(beams * 12, 16), out3(beams * 3, 16), out9(beams * 9, 16), out1(beams, 16);
  const auto run = [&] {
    cache.append(prompt);
    attn::attend_into(cache, prompt, out12, w, ws);
    cache.append(three);
    attn::attend_into(cache, three, out3, w, ws);
    cache.append(nine);
    attn::attend_into(cache, nine, out9, w, ws);
    cache.append(one);
    attn::attend_into(cache, one, out1, w, ws);
  };
  run();  // warm-up
  const Matrix<S> expected = out1;
  cache.clear();
  const std::string error = without_allocation([&] {
    run();
    cache.clear();
    cache.set_window(4);  // a sliding window: on both paths, no allocation either
    run();
  });
  INFO(error);
  CHECK(error.empty());
  CHECK(cache.steps() == 25);
  CHECK(out1 != expected);  // the window changed the last step
  cache.set_window(0);
  cache.clear();
  run();
  CHECK(out1 == expected);
}

// The shapes of bench/bench_decode.cpp's multi-head rows: h = 8, D = 512, T_in = 512, 4 beams.
TEMPLATE_TEST_CASE("no allocation: multi-head decoder steps at the benchmark's shapes",
                   "[no_malloc][multi_head][decoding]", float, double) {
  decoder_steps_without_allocation<TestType>(8, 512, 512, 4, 3);
}

}  // namespace test_no_malloc_decoding
