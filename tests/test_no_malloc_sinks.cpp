// SPDX-License-Identifier: MIT
// Calls with weight sinks (attn/sinks.hpp) allocate nothing once the workspace and the sinks have
// seen a call of the same shape: each sink alone, all of them together, output only, under every
// kind of mask. Part of the no-malloc program (EIGEN_RUNTIME_NO_MALLOC, eigen_assert throws; see
// tests/no_malloc.hpp). Shapes keep Eigen's GEMM blocking on the stack (d = 8, Tk = 16) while
// Tq = 600 runs three blocks of rows (per-block column sums, a short last block).
#ifndef EIGEN_RUNTIME_NO_MALLOC
#error "test_no_malloc_sinks.cpp must be compiled with -DEIGEN_RUNTIME_NO_MALLOC (tests/CMakeLists.txt does it)"
#endif

#include "no_malloc.hpp"  // before any Eigen header

#include <string>

#include "helpers.hpp"

#include <random>
#include <vector>

// Everything in this file lives in namespace test_no_malloc_sinks: the suite is a unity build.
namespace test_no_malloc_sinks {

namespace {

using attn::BoolMatrix;
using attn::Index;
using attn::Mask;
using attn::Matrix;

/// Runs `f` with Eigen allocation forbidden; returns the assertion text, or "" when none fired.
template <typename F>
std::string without_malloc(F&& f) {
  Eigen::internal::set_is_malloc_allowed(false);
  std::string error;
  try {
    f();
  } catch (const attn_test::EigenAssertion& e) {
    error = e.what();
  }
  Eigen::internal::set_is_malloc_allowed(true);
  return error;
}

}  // namespace

TEMPLATE_TEST_CASE("sinks allocate nothing in steady state, each alone and all together", "[no_malloc][sinks]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(31);
  const Index tq = 600, tk = 16, d = 8, dv = 8;
  const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, d);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, d);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, dv);
  BoolMatrix m(tq, tk);
  std::bernoulli_distribution coin(0.7);
  for (Index j = 0; j < tk; ++j)
    for (Index i = 0; i < tq; ++i) m(i, j) = coin(rng);
  const std::vector<Mask> masks = {Mask(), Mask::key_length(10), Mask::causal(-3), Mask::window(2, 1),
                                   Mask::matrix(m)};
  Matrix<S> out(tq, dv);
  Matrix<S> weights(tq, tk);
  Matrix<S> selected(2, tk);
  attn::FullWeights<S> full(weights);
  attn::SelectedRows<S> pick({599, 3}, selected);
  attn::TopK<S> top(3);
  attn::ColumnSums<S> sums;
  attn::RowStats<S> stats;
  S total = 0;
  auto callback = attn::callback_sink<S>([&](Index, const attn::WeightBlock<S>& block) { total += block.sum(); });
  const std::vector<std::pair<std::string, attn::Sinks<S>>> lists = {
      {"no_weights", attn::Sinks<S>(attn::no_weights)},
      {"FullWeights", attn::Sinks<S>(full)},
      {"SelectedRows", attn::Sinks<S>(pick)},
      {"TopK", attn::Sinks<S>(top)},
      {"ColumnSums", attn::Sinks<S>(sums)},
      {"RowStats", attn::Sinks<S>(stats)},
      {"callback", attn::Sinks<S>(callback)},
      {"all", attn::Sinks<S>(pick, top, sums, stats, callback, full)},
  };
  attn::Workspace<S> ws;
  for (const auto& entry : lists) {
    const std::string& name = entry.first;
    const attn::Sinks<S>& sinks = entry.second;
    for (const Mask& mask : masks) {
      for (const attn::Probability p : attn_test::all_probabilities) {
        INFO(name << ", probability " << static_cast<int>(p));
        attn::Options options;
        options.probability = p;
        attn::scaled_dot_product_into(q, k, v, out, sinks, ws, mask, options);  // warm
        const std::string error =
            without_malloc([&] { attn::scaled_dot_product_into(q, k, v, out, sinks, ws, mask, options); });
        INFO(error);
        CHECK(error.empty());
      }
    }
  }
  CHECK(total > 0);
  // The guard sees a cold sink: TopK sizes its storage on its first call.
  attn::TopK<S> cold(2);
  CHECK_FALSE(without_malloc([&] { attn::scaled_dot_product_into(q, k, v, out, cold, ws); }).empty());
}

TEMPLATE_TEST_CASE("Luong and Bahdanau with sinks allocate nothing in steady state", "[no_malloc][sinks]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(33);
  const Index tq = 600, tk = 16, d = 8, units = 6;
  const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, d);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, d);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, d);
  attn::BahdanauParams<S> bahdanau;
  bahdanau.wq = attn_test::random_matrix<S>(rng, d, units);
  bahdanau.wk = attn_test::random_matrix<S>(rng, d, units);
  bahdanau.v = attn_test::random_matrix<S>(rng, 1, units);
  const std::vector<attn::LuongParams<S>> luongs = {
      attn::LuongParams<S>::dot(S(0.7)), attn::LuongParams<S>::general(attn_test::random_matrix<S>(rng, d, d)),
      attn::LuongParams<S>::concat(attn_test::random_matrix<S>(rng, 2 * d, units),
                                   attn_test::random_matrix<S>(rng, 1, units))};
  Matrix<S> out(tq, d);
  Matrix<S> selected(1, tk);
  attn::SelectedRows<S> pick({300}, selected);
  attn::TopK<S> top(3);
  attn::ColumnSums<S> sums;
  attn::RowStats<S> stats;
  const attn::Sinks<S> all(pick, top, sums, stats);
  attn::Workspace<S> ws;
  const auto bahdanau_keys = attn::prepare_keys(bahdanau, k);
  for (const Mask& mask : {Mask(), Mask::causal(-3)}) {
    for (std::size_t l = 0; l < luongs.size(); ++l) {
      INFO("luong " << l);
      for (const attn::Sinks<S>& sinks : {all, attn::Sinks<S>(attn::no_weights)}) {
        attn::luong_into(q, k, v, luongs[l], out, sinks, ws, mask);  // warm
        const std::string error = without_malloc([&] { attn::luong_into(q, k, v, luongs[l], out, sinks, ws, mask); });
        INFO(error);
        CHECK(error.empty());
      }
    }
    for (const attn::Sinks<S>& sinks : {all, attn::Sinks<S>(attn::no_weights)}) {
      INFO("bahdanau");
      attn::bahdanau_into(q, bahdanau_keys, v, bahdanau, out, sinks, ws, mask);  // warm
      const std::string error =
          without_malloc([&] { attn::bahdanau_into(q, bahdanau_keys, v, bahdanau, out, sinks, ws, mask); });
      INFO(error);
      CHECK(error.empty());
    }
  }
}

TEMPLATE_TEST_CASE("multi-head with HeadSinks allocates nothing in steady state", "[no_malloc][sinks]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(32);
  attn::MultiHeadParams<S> p;
  p.heads = 2;
  p.wq = attn_test::random_matrix<S>(rng, 8, 8);
  p.wk = attn_test::random_matrix<S>(rng, 8, 8);
  p.wv = attn_test::random_matrix<S>(rng, 8, 8);
  p.wo = attn_test::random_matrix<S>(rng, 8, 8);
  const Index tq = 300, tk = 16;
  const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, 8);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 8);
  Matrix<S> out(tq, 8);
  Matrix<S> mean(tq, tk);
  attn::TopK<S> top(2);
  attn::ColumnSums<S> sums;
  attn::HeadSinks<S> none;
  attn::HeadSinks<S> per_head;
  per_head.head(0, top).head(1, sums);
  attn::HeadSinks<S> reduced;
  reduced.reduce(attn::HeadReduction::mean, mean);
  attn::MultiHeadWorkspace<S> ws;
  for (const attn::HeadSinks<S>* sinks : {&none, &per_head, &reduced}) {
    for (const Mask& mask : {Mask(), Mask::causal(-2)}) {
      attn::multi_head_into(q, k, k, p, out, *sinks, ws, mask);  // warm
      const std::string error = without_malloc([&] { attn::multi_head_into(q, k, k, p, out, *sinks, ws, mask); });
      INFO(error);
      CHECK(error.empty());
    }
  }
}

}  // namespace test_no_malloc_sinks
