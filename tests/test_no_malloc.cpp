// SPDX-License-Identifier: MIT
// The `_into` forms allocate nothing once their Workspace has seen a shape this large: built as
// its own executable with EIGEN_RUNTIME_NO_MALLOC, with eigen_assert (and so ATTN_ASSERT and
// Eigen's heap check) turned into an exception so that a forbidden allocation fails a test.
// Sizes stay below Eigen's stack-allocation limit for GEMM blocking (Tq = Tk = 16, d = 8).
#ifndef EIGEN_RUNTIME_NO_MALLOC
#error "test_no_malloc.cpp must be compiled with -DEIGEN_RUNTIME_NO_MALLOC (tests/CMakeLists.txt does it)"
#endif

#include "no_malloc.hpp"  // before any Eigen header

#include <string>

#include "helpers.hpp"

#include <memory>
#include <random>
#include <vector>

// Everything in this file lives in namespace test_no_malloc: the suite is a unity build.
namespace test_no_malloc {

namespace {

using attn::BoolMatrix;
using attn::Index;
using attn::Mask;
using attn::Matrix;
using attn::Probability;
using attn_test::all_kinds;
using attn_test::all_probabilities;
using attn_test::EigenAssertion;
using attn_test::Kind;

/// Forbids Eigen heap allocation for its lifetime; always re-enables it, even when a check
/// inside throws.
class NoMallocRegion {
 public:
  NoMallocRegion() { Eigen::internal::set_is_malloc_allowed(false); }
  ~NoMallocRegion() { Eigen::internal::set_is_malloc_allowed(true); }
  NoMallocRegion(const NoMallocRegion&) = delete;
  NoMallocRegion& operator=(const NoMallocRegion&) = delete;
};

/// Runs `f` with Eigen allocation forbidden; returns the assertion text, or "" when none fired.
template <typename F>
std::string without_malloc(F&& f) {
  NoMallocRegion region;
  try {
    f();
  } catch (const EigenAssertion& e) {
    return e.what();
  }
  return {};
}

// The names of the into forms this file calls.
const char* name(Kind kind) {
  switch (kind) {
    case Kind::sdpa: return "scaled_dot_product_into";
    case Kind::luong_dot: return "luong_into dot";
    case Kind::luong_general: return "luong_into general";
    case Kind::luong_concat: return "luong_into concat";
    case Kind::bahdanau: return "bahdanau_into";
    case Kind::bahdanau_normalized: return "bahdanau_into normalized";
  }
  return "?";
}

constexpr Index tq_max = 16, tk_max = 16, d = 8, dv = 8, units = 8;

/// Everything one mechanism needs, built (and allocated) before the no-malloc region.
template <typename S>
struct Setup {
  Kind kind;
  Matrix<S> q, k, v, v_poisoned;  // v_poisoned: NaN in value rows no query sees under `padding`
  attn::LuongParams<S> luong;
  attn::BahdanauParams<S> bahdanau;
  attn::BahdanauKeys<S> keys;
  std::vector<Mask> masks;  // every kind, matrices included, built up front
  Mask padding;             // key_length(12): keys 12..15 are padding
  Matrix<S> big_out, big_w;
  // Held by pointer: should Eigen's check fire inside a resize, the buffer is left holding a
  // freed pointer, so a failed test leaks the workspace rather than free it twice.
  std::unique_ptr<attn::Workspace<S>> ws = std::make_unique<attn::Workspace<S>>();

  Setup(std::mt19937_64& rng, Kind kind_) : kind(kind_) {
    q = attn_test::random_matrix<S>(rng, tq_max, d);
    k = attn_test::random_matrix<S>(rng, tk_max, d);
    v = attn_test::random_matrix<S>(rng, tk_max, dv);
    padding = Mask::key_length(12);
    v_poisoned = v;
    v_poisoned.bottomRows(4).setConstant(std::numeric_limits<S>::quiet_NaN());
    switch (kind) {
      case Kind::sdpa: break;
      case Kind::luong_dot: luong = attn::LuongParams<S>::dot(S(0.5)); break;
      case Kind::luong_general: luong = attn::LuongParams<S>::general(attn_test::random_matrix<S>(rng, d, d)); break;
      case Kind::luong_concat:
        luong = attn::LuongParams<S>::concat(attn_test::random_matrix<S>(rng, 2 * d, units),
                                             attn_test::random_matrix<S>(rng, 1, units), S(2));
        break;
      case Kind::bahdanau:
      case Kind::bahdanau_normalized:
        bahdanau.wq = attn_test::random_matrix<S>(rng, d, units);
        bahdanau.wk = attn_test::random_matrix<S>(rng, d, units);
        bahdanau.v = attn_test::random_matrix<S>(rng, 1, units, 0.1, 1.0);
        if (kind == Kind::bahdanau_normalized) {
          bahdanau.normalize = true;
          bahdanau.g = S(1.5);
          bahdanau.b = attn_test::random_matrix<S>(rng, 1, units);
        }
        keys = attn::prepare_keys(bahdanau, k);
        break;
    }
    std::bernoulli_distribution coin(0.7);
    BoolMatrix m(tq_max, tk_max);
    for (Index j = 0; j < tk_max; ++j)
      for (Index i = 0; i < tq_max; ++i) m(i, j) = coin(rng);
    masks = {Mask(),
             Mask::key_length(10),
             Mask::causal(0),
             Mask::causal(-3),  // fully masked rows
             Mask::window(2, 1),
             Mask::window(3, 0),
             Mask::matrix(m),
             Mask::key_length(12) & Mask::causal(1) & Mask::matrix(m)};
    big_out = Matrix<S>::Zero(tq_max + 2, dv + 3);
    big_w = Matrix<S>::Zero(tq_max + 2, tk_max + 3);
  }

  /// One `_into` call on the leading `tq × tk` part of the inputs, writing into blocks of
  /// big_out / big_w. The mask must fit tq × tk.
  Index call(Index tq, Index tk, const Mask& mask, const attn::Options& options, bool poisoned = false) {
    const auto qb = q.topRows(tq);
    const auto kb = k.topRows(tk);
    const auto vb = (poisoned ? v_poisoned : v).topRows(tk);
    auto out = big_out.block(1, 2, tq, dv);
    auto w = big_w.block(2, 1, tq, tk);
    switch (kind) {
      case Kind::sdpa: return attn::scaled_dot_product_into(qb, kb, vb, out, w, *ws, mask, options);
      case Kind::luong_dot:
      case Kind::luong_general:
      case Kind::luong_concat: return attn::luong_into(qb, kb, vb, luong, out, w, *ws, mask, options);
      case Kind::bahdanau:
      case Kind::bahdanau_normalized:
        // Prepared keys for the full memory: use tk = tk_max with them.
        return attn::bahdanau_into(qb, keys, vb, bahdanau, out, w, *ws, mask, options);
    }
    return -1;
  }
};

/// Every mask of the setup, every probability function, with and without scores.
template <typename S>
void all_calls(Setup<S>& s, Index tq, Index tk, bool masks_fit) {
  for (Probability p : all_probabilities)
    for (bool scores : {false, true}) {
      attn::Options options;
      options.probability = p;
      options.return_scores = scores;
      if (scores) options.softcap = 2.0;  // capped in place: nothing more to hold
      if (masks_fit)
        for (const Mask& mask : s.masks) s.call(tq, tk, mask, options);
      s.call(tq, tk, Mask(), options);
      s.call(tq, tk, Mask::causal(tk - tq), options);  // band masks need no storage
      s.call(tq, tk, Mask::window(1, 1), options);
    }
}

template <typename S>
void warm_up(Setup<S>& s) {
  attn::Options options;
  options.return_scores = true;
  options.probability = Probability::sparsemax;  // uses the normalisation scratch
  s.call(tq_max, tk_max, s.masks.front(), options);
  s.call(tq_max, tk_max, s.padding, options, /*poisoned=*/false);
  s.call(tq_max, tk_max, Mask::causal(0), options, /*poisoned=*/true);  // the non-finite V path
}

}  // namespace

TEST_CASE("the no-malloc guard is active: an Eigen allocation inside the region throws", "[no_malloc][guard]") {
  REQUIRE(Eigen::internal::is_malloc_allowed());
  const std::string error = without_malloc([] {
    Eigen::MatrixXd m(100, 100);
    m.setZero();
  });
  INFO(error);
  CHECK(error.find("eigen_assert") == 0);
  CHECK(error.find("heap allocation is forbidden") != std::string::npos);
  // The region re-enabled allocation on the way out, even though the body threw.
  CHECK(Eigen::internal::is_malloc_allowed());
  CHECK_NOTHROW(Eigen::MatrixXd(100, 100));

  // A resize inside the region is caught too.
  Eigen::VectorXf grown;
  CHECK_FALSE(without_malloc([&] { grown.resize(1000); }).empty());
  CHECK(Eigen::internal::is_malloc_allowed());
  // Nothing to allocate: nothing fires.
  CHECK(without_malloc([] { Eigen::Matrix4d fixed = Eigen::Matrix4d::Identity(); (void)fixed; }).empty());
}

TEST_CASE("ATTN_ASSERT and eigen_assert throw in this executable", "[no_malloc][guard]") {
  REQUIRE_THROWS_AS([] { ATTN_ASSERT(1 + 1 == 3); }(), EigenAssertion);
  REQUIRE_THROWS_AS([] { eigen_assert(false); }(), EigenAssertion);
  CHECK_NOTHROW([] { ATTN_ASSERT(1 + 1 == 2); }());
}

TEMPLATE_TEST_CASE("a cold workspace allocates, and the guard sees it", "[no_malloc][guard]", float, double) {
  // Proves the steady-state tests below can fail: the first call must grow the workspace.
  std::mt19937_64 rng(50);
  const Matrix<TestType> q = attn_test::random_matrix<TestType>(rng, tq_max, d);
  const Matrix<TestType> k = attn_test::random_matrix<TestType>(rng, tk_max, d);
  const Matrix<TestType> v = attn_test::random_matrix<TestType>(rng, tk_max, dv);
  Matrix<TestType> out(tq_max, dv), w(tq_max, tk_max);
  // A fresh workspace holds no storage, so the first refused allocation leaves it empty and
  // safe to destroy.
  attn::Workspace<TestType> cold;
  const std::string error = without_malloc([&] { attn::scaled_dot_product_into(q, k, v, out, w, cold); });
  INFO(error);
  CHECK(error.find("heap allocation is forbidden") != std::string::npos);
  CHECK(Eigen::internal::is_malloc_allowed());
  // After a warm-up outside the region the same call is allocation-free.
  attn::scaled_dot_product_into(q, k, v, out, w, cold);
  CHECK(without_malloc([&] { attn::scaled_dot_product_into(q, k, v, out, w, cold); }).empty());
  // ...but asking for more (scores were not kept in the warm-up) needs storage again.
  attn::Workspace<TestType> cold2;
  attn::scaled_dot_product_into(q, k, v, out, w, cold2);
  attn::Options scores;
  scores.return_scores = true;
  const std::string more = without_malloc([&] { attn::scaled_dot_product_into(q, k, v, out, w, cold2, Mask(), scores); });
  CHECK_FALSE(more.empty());
}

TEMPLATE_TEST_CASE("into forms allocate nothing in steady state", "[no_malloc][into]", float, double) {
  std::mt19937_64 rng(51);
  for (Kind kind : all_kinds) {
    Setup<TestType> s(rng, kind);
    warm_up(s);
    INFO(name(kind));
    // The same shape, many masks and options.
    std::string error = without_malloc([&] {
      for (int repeat = 0; repeat < 3; ++repeat) all_calls(s, tq_max, tk_max, true);
    });
    INFO(error);
    CHECK(error.empty());
    // A smaller problem after the bigger one: nothing may shrink-reallocate. Bahdanau's
    // prepared keys cover the whole memory, so only its query count shrinks.
    const Index tk_small = kind == Kind::bahdanau || kind == Kind::bahdanau_normalized ? tk_max : 9;
    if (error.empty()) {
      error = without_malloc([&] {
        all_calls(s, 5, tk_small, false);
        all_calls(s, 1, tk_small, false);
        all_calls(s, 0, tk_small, false);
        all_calls(s, tq_max, tk_max, true);  // and back up to the warmed-up size
      });
      CHECK(error.empty());
    }
    // NaN in padded value rows takes the non-finite path: also allocation-free once warm.
    if (error.empty()) {
      error = without_malloc([&] {
        for (Probability p : all_probabilities) {
          attn::Options options;
          options.probability = p;
          s.call(tq_max, tk_max, s.padding, options, true);
          s.call(tq_max, tk_max, Mask::causal(0), options, true);
          s.call(tq_max, tk_max, Mask::causal(0) & Mask::window(2, 0), options, true);
        }
      });
      CHECK(error.empty());
    }
    if (!error.empty()) (void)s.ws.release();  // see Setup::ws
    CHECK(Eigen::internal::is_malloc_allowed());
  }
}

TEMPLATE_TEST_CASE("steady-state results equal the value forms", "[no_malloc][into]", float, double) {
  // The allocation-free calls compute the same thing as the value forms (same code path).
  std::mt19937_64 rng(52);
  for (Kind kind : all_kinds) {
    Setup<TestType> s(rng, kind);
    warm_up(s);
    for (const Mask& mask : s.masks) {
      attn::Options options;
      options.probability = Probability::softmax;
      Index fully = -1;
      const std::string error = without_malloc([&] { fully = s.call(tq_max, tk_max, mask, options); });
      INFO(name(kind) << ": " << error);
      REQUIRE(error.empty());
      attn::AttentionResult<TestType> r;
      switch (kind) {
        case Kind::sdpa: r = attn::scaled_dot_product(s.q, s.k, s.v, mask, options); break;
        case Kind::luong_dot:
        case Kind::luong_general:
        case Kind::luong_concat: r = attn::luong(s.q, s.k, s.v, s.luong, mask, options); break;
        default: r = attn::bahdanau(s.q, s.k, s.v, s.bahdanau, mask, options); break;
      }
      CHECK(fully == r.num_fully_masked());
      CHECK((s.big_out.block(1, 2, tq_max, dv).array() == r.output.array()).all());
      CHECK((s.big_w.block(2, 1, tq_max, tk_max).array() == r.weights.array()).all());
    }
  }
}

TEMPLATE_TEST_CASE("one-row queries (decoder steps) allocate nothing in steady state", "[no_malloc][into]", float,
                   double) {
  // A 1×d query makes Eigen pick GEMV, which copies a scaled operand into a heap temporary;
  // the kernels keep the scale out of the product for that reason.
  std::mt19937_64 rng(53);
  const Matrix<TestType> k = attn_test::random_matrix<TestType>(rng, tk_max, d);
  const Matrix<TestType> v = attn_test::random_matrix<TestType>(rng, tk_max, dv);
  const Matrix<TestType> q = attn_test::random_matrix<TestType>(rng, 1, d);
  const attn::RowVector<TestType> q_row = q.row(0);
  const auto dot = attn::LuongParams<TestType>::dot(TestType(0.5));
  const auto general = attn::LuongParams<TestType>::general(attn_test::random_matrix<TestType>(rng, d, d), TestType(2));
  Matrix<TestType> out(1, dv), w(1, tk_max);
  attn::Workspace<TestType> ws;
  const Mask padding = Mask::key_length(10);
  const auto steps = [&] {
    attn::scaled_dot_product_into(q, k, v, out, w, ws, padding);
    attn::scaled_dot_product_into(q_row, k, v, out, w, ws, padding);
    attn::luong_into(q, k, v, dot, out, w, ws, padding);
    attn::luong_into(q_row, k, v, general, out, w, ws, padding);
  };
  steps();  // warm-up
  const std::string error = without_malloc(steps);
  INFO(error);
  CHECK(error.empty());
}

}  // namespace test_no_malloc
