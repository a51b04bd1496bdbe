// SPDX-License-Identifier: MIT
// The Keras layers over one sequence (attn::seq_self_attention_into, attn::attention_pooling_into)
// with weight sinks, output only or a weights matrix, and attn::multi_head_batch_into with
// HeadSinks per item or output only, allocate nothing once the workspace and the sinks have seen
// a call of the same shape, under every kind of mask (padded steps included).
// Part of the no-malloc program (EIGEN_RUNTIME_NO_MALLOC, eigen_assert throws; see
// tests/no_malloc.hpp). Self-attention keeps T = 40 (its keys are its steps: Eigen's GEMM blocking
// stays on the stack); pooling runs T = 600.
#ifndef EIGEN_RUNTIME_NO_MALLOC
#error "test_no_malloc_sink_forms.cpp must be compiled with -DEIGEN_RUNTIME_NO_MALLOC (tests/CMakeLists.txt does it)"
#endif

#include "no_malloc.hpp"  // before any Eigen header

#include <string>

#include "helpers.hpp"

#include <random>
#include <vector>

// Everything in this file lives in namespace test_no_malloc_sink_forms: the suite is a unity build.
namespace test_no_malloc_sink_forms {

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
  const std::vector<Mask> pool_masks = {Mask(), Mask::key_length(500), Mask::key_length(0),
                                        Mask::matrix(BoolMatrix::Ones(1, tp))};

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

}  // namespace test_no_malloc_sink_forms
