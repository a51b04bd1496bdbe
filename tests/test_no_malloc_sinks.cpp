// SPDX-License-Identifier: MIT
// Calls with weight sinks (attn/sinks.hpp) allocate nothing once the workspace and the sinks have
// seen a call of the same shape: each sink alone, all of them together, output only, under every
// kind of mask; the Keras layers, the monotonic forms, many_to_one and multi_head_batch with sinks
// too. Part of the no-malloc program (EIGEN_RUNTIME_NO_MALLOC, eigen_assert throws; see
// tests/no_malloc.hpp). Shapes keep Eigen's GEMM blocking on the stack (d = 8, Tk = 16) while
// Tq = 600 runs three blocks of rows (per-block column sums, a short last block); self-attention
// keeps T = 40 (its keys are its steps), pooling and many_to_one run T = 600.
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

/// Calls `call(sinks, mask, options)` once to warm up, then again without allocation, for every
/// list of sinks, mask and probability function; returns the first assertion text, or "".
template <typename S, typename Call>
std::string steady(const std::vector<std::pair<std::string, attn::Sinks<S>>>& lists, const std::vector<Mask>& masks,
                   Call&& call) {
  for (const auto& entry : lists)
    for (const Mask& mask : masks)
      for (const attn::Probability p : attn_test::all_probabilities) {
        attn::Options options;
        options.probability = p;
        options.return_scores = p == attn::Probability::sparsemax;
        const attn::Sinks<S>& sinks = entry.second;
        call(sinks, mask, options);  // warm
        const std::string error = without_malloc([&] { call(sinks, mask, options); });
        if (!error.empty()) return entry.first + ": " + error;
      }
  return {};
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

TEMPLATE_TEST_CASE("monotonic forms and many_to_one with sinks allocate nothing in steady state",
                   "[no_malloc][sinks][monotonic]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(34);
  const Index tq = 300, tk = 16, d = 8;
  const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, d);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, d);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, d);
  attn::BahdanauParams<S> bahdanau;
  bahdanau.wq = attn_test::random_matrix<S>(rng, d, 6);
  bahdanau.wk = attn_test::random_matrix<S>(rng, d, 6);
  bahdanau.v = attn_test::random_matrix<S>(rng, 1, 6);
  const auto dot = attn::LuongParams<S>::dot();
  Matrix<S> out(tq, d);
  Matrix<S> previous = attn::monotonic_initial_alignment<S>(tq, tk);
  Matrix<S> selected(1, tk);
  attn::SelectedRows<S> pick({299}, selected);
  attn::TopK<S> top(3);
  attn::ColumnSums<S> sums;
  attn::RowStats<S> stats;
  attn::FullWeights<S> full(previous);  // the step writes the new alignment over the previous one
  attn::Workspace<S> ws;
  for (const attn::Sinks<S>& sinks : {attn::Sinks<S>(pick, top, sums, stats), attn::Sinks<S>(attn::no_weights),
                                      attn::Sinks<S>(full, stats)}) {
    for (const attn::MonotonicMode mode : {attn::MonotonicMode::parallel, attn::MonotonicMode::recursive}) {
      INFO("monotonic mode " << static_cast<int>(mode));
      const attn::MonotonicParams<S> m{mode, S(-0.5), S(0)};
      const auto call = [&] {
        attn::bahdanau_monotonic_into(q, k, v, previous, bahdanau, out, sinks, ws, m, Mask::causal(-3));
        attn::luong_monotonic_into(q, k, v, previous, dot, out, sinks, ws, m, Mask::key_length(10));
      };
      call();  // warm
      const std::string error = without_malloc(call);
      INFO(error);
      CHECK(error.empty());
    }
  }
  // many_to_one: one query row over T = 600 steps.
  const Matrix<S> h = attn_test::random_matrix<S>(rng, 600, d);
  const auto luong = attn::ManyToOneParams<S>::luong(attn_test::random_matrix<S>(rng, d, d),
                                                     attn_test::random_matrix<S>(rng, 2 * d, 5));
  Matrix<S> pooled(1, 5), context(1, d), chosen(1, 600);
  attn::SelectedRows<S> row({0}, chosen);
  const std::vector<std::pair<std::string, attn::Sinks<S>>> lists = {
      {"many_to_one, all", attn::Sinks<S>(row, top, sums, stats)}, {"many_to_one, none", attn::no_weights}};
  CHECK(steady<S>(lists, {Mask(), Mask::key_length(300)}, [&](const attn::Sinks<S>& sinks, const Mask& mask,
                                                              const attn::Options& options) {
          attn::many_to_one_into(h, luong, pooled, sinks, context, ws, mask, options);
        }).empty());
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

TEMPLATE_TEST_CASE("layer sinks allocate nothing in steady state", "[no_malloc][sinks][layers]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(34);
  const Index t = 40, d = 8, units = 6, tp = 600;
  const Matrix<S> x = attn_test::random_matrix<S>(rng, t, d);
  const Matrix<S> xp = attn_test::random_matrix<S>(rng, tp, d);
  auto additive = attn::SeqSelfAttentionParams<S>::additive(
      attn_test::random_matrix<S>(rng, d, units), attn_test::random_matrix<S>(rng, d, units),
      attn_test::random_matrix<S>(rng, 1, units), attn_test::random_matrix<S>(rng, units, 1));
  auto multiplicative = attn::SeqSelfAttentionParams<S>::multiplicative(attn_test::random_matrix<S>(rng, d, d));
  multiplicative.width = 5;
  const auto pooling = attn::PoolingParams<S>::feed_forward(attn_test::random_matrix<S>(rng, d, 1));
  BoolMatrix m(t, t);
  std::bernoulli_distribution coin(0.7);
  for (Index j = 0; j < t; ++j)
    for (Index i = 0; i < t; ++i) m(i, j) = coin(rng);
  // (No matrix mask with the width of `multiplicative`: intersecting them copies the matrix.)
  const std::vector<Mask> band_masks = {Mask(), Mask::key_length(30), Mask::causal(-3), Mask::window(2, 1)};
  std::vector<Mask> masks = band_masks;
  masks.push_back(Mask::matrix(m));
  // (Pushed one by one: GCC 12 -O3 sees a maybe-uninitialised matrix in a braced list of masks.)
  std::vector<Mask> pool_masks = {Mask(), Mask::key_length(500), Mask::key_length(0)};
  const BoolMatrix all_steps = BoolMatrix::Ones(1, tp);
  pool_masks.push_back(Mask::matrix(all_steps));

  Matrix<S> out(t, d), weights(t, t), selected(2, t);
  attn::FullWeights<S> full(weights);
  attn::SelectedRows<S> pick({39, 3}, selected);
  attn::TopK<S> top(3);
  attn::ColumnSums<S> sums;
  attn::RowStats<S> stats;
  const std::vector<std::pair<std::string, attn::Sinks<S>>> lists = {
      {"no_weights", attn::Sinks<S>(attn::no_weights)},
      {"FullWeights", attn::Sinks<S>(full)},
      {"all", attn::Sinks<S>(pick, top, sums, stats)},
      {"all and FullWeights", attn::Sinks<S>(pick, top, sums, stats, full)}};
  attn::Workspace<S> ws;
  std::string error = steady<S>(lists, masks, [&](const attn::Sinks<S>& s, const Mask& mask, const attn::Options& o) {
    attn::seq_self_attention_into(x, additive, out, s, ws, mask, o);
  });
  INFO(error);
  CHECK(error.empty());
  error = steady<S>(lists, band_masks, [&](const attn::Sinks<S>& s, const Mask& mask, const attn::Options& o) {
    attn::seq_self_attention_into(x, multiplicative, out, s, ws, mask, o);
  });
  INFO(error);
  CHECK(error.empty());
  // With a weights matrix, as before.
  error = without_malloc([&] {
    for (const Mask& mask : masks) attn::seq_self_attention_into(x, additive, out, weights, ws, mask);
  });
  CHECK(error.empty());

  Matrix<S> pooled(1, d), pool_weights(1, tp), pool_selected(1, tp);
  attn::FullWeights<S> pool_full(pool_weights);
  attn::SelectedRows<S> pool_pick({0}, pool_selected);
  const std::vector<std::pair<std::string, attn::Sinks<S>>> pool_lists = {
      {"no_weights", attn::Sinks<S>(attn::no_weights)},
      {"all", attn::Sinks<S>(pool_pick, top, sums, stats)},
      {"all and FullWeights", attn::Sinks<S>(pool_pick, top, sums, stats, pool_full)}};
  error = steady<S>(pool_lists, pool_masks, [&](const attn::Sinks<S>& s, const Mask& mask, const attn::Options& o) {
    attn::attention_pooling_into(xp, pooling, pooled, s, ws, mask, o);
  });
  INFO(error);
  CHECK(error.empty());
  // The guard sees a cold sink: TopK sizes its storage on its first call.
  attn::TopK<S> cold(2);
  CHECK_FALSE(without_malloc([&] { attn::attention_pooling_into(xp, pooling, pooled, cold, ws); }).empty());
}

TEMPLATE_TEST_CASE("multi_head_batch_into with HeadSinks allocates nothing in steady state",
                   "[no_malloc][sinks][multi_head][batch]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(35);
  const auto p = attn_test::random_multi_head_params<S>(rng, 2, 8, 6, 6, 6);
  std::vector<Matrix<S>> qs, ks;
  std::vector<Mask> masks;
  for (Index b = 0; b < 3; ++b) {
    qs.push_back(attn_test::random_matrix<S>(rng, 4 + b, 6));
    ks.push_back(attn_test::random_matrix<S>(rng, 7 - b, 6));
    masks.push_back(Mask::key_length(5 - b));
  }
  Matrix<S> mean(4, 7);
  attn::TopK<S> top(2);
  attn::ColumnSums<S> sums;
  std::vector<attn::HeadSinks<S>> sinks(3);
  sinks[0].reduce(attn::HeadReduction::mean, mean);
  sinks[1].head(1, top);
  sinks[2].head(0, sums);
  std::vector<attn::MultiHeadOutput<S>> results;
  attn::MultiHeadWorkspace<S> ws;
  attn::multi_head_batch_into(qs, ks, ks, p, results, sinks, ws, masks);  // warm
  attn::multi_head_batch_into(qs, ks, ks, p, results, attn::no_weights, ws, masks);
  const std::string error = without_malloc([&] {
    attn::multi_head_batch_into(qs, ks, ks, p, results, sinks, ws, masks);
    attn::multi_head_batch_into(qs, ks, ks, p, results, attn::no_weights, ws, masks);
  });
  INFO(error);
  CHECK(error.empty());
  for (std::size_t b = 0; b < 3; ++b)
    CHECK(results[b].output == attn::multi_head(qs[b], ks[b], ks[b], p, masks[b]).output);
}

}  // namespace test_no_malloc_sinks
