// SPDX-License-Identifier: MIT
// Steady-state multi-head calls through a workspace allocate nothing. Built (as its own program)
// with EIGEN_RUNTIME_NO_MALLOC, where eigen_assert is made to throw, so an Eigen heap allocation
// while allocations are forbidden fails the check instead of aborting. Shapes stay small enough
// for Eigen's GEMM to keep its blocking buffers on the stack (EIGEN_STACK_ALLOCATION_LIMIT).
#include <stdexcept>

#include "no_malloc.hpp"  // before any Eigen header

#include <attn/multi_head.hpp>
#include "helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <random>
#include <vector>

// Everything in this file lives in namespace test_no_malloc_multi_head: the suite is a unity build.
namespace test_no_malloc_multi_head {

namespace {

using attn::Index;

/// Forbids Eigen heap allocations for its lifetime (a no-op without EIGEN_RUNTIME_NO_MALLOC).
class NoMalloc {
 public:
  NoMalloc() { allow(false); }
  ~NoMalloc() { allow(true); }
  NoMalloc(const NoMalloc&) = delete;
  NoMalloc& operator=(const NoMalloc&) = delete;

 private:
  static void allow(bool allowed) {
#ifdef EIGEN_RUNTIME_NO_MALLOC
    Eigen::internal::set_is_malloc_allowed(allowed);
#else
    static_cast<void>(allowed);
#endif
  }
};

}  // namespace

TEST_CASE("no-malloc harness (multi-head): a forbidden Eigen allocation is caught", "[no_malloc][multi_head]") {
#ifdef EIGEN_RUNTIME_NO_MALLOC
  NoMalloc guard;
  CHECK_THROWS_AS(Eigen::MatrixXd(16, 16), std::runtime_error);
#else
  WARN("built without EIGEN_RUNTIME_NO_MALLOC: allocations are not checked in this build");
#endif
}

TEMPLATE_TEST_CASE("multi_head_into allocates nothing in steady state", "[no_malloc][multi_head]", float, double) {
  using Scalar = TestType;
  using Mat = attn::Matrix<Scalar>;
  std::mt19937_64 rng(31);
  const auto p = attn_test::random_multi_head_params<Scalar>(rng, 4, 16, 12, 10, 8);
  const Mat q = attn_test::random_matrix<Scalar>(rng, 12, 12);
  const Mat k = attn_test::random_matrix<Scalar>(rng, 14, 10);
  const Mat v = attn_test::random_matrix<Scalar>(rng, 14, 8);
  attn::BoolMatrix visible = attn::BoolMatrix::Constant(12, 14, true);
  visible(3, 4) = false;
  const attn::Mask masks[] = {attn::Mask(),
                              attn::Mask::key_length(9),
                              attn::Mask::causal(2) & attn::Mask::key_length(11),
                              attn::Mask::window(2, 1),
                              attn::Mask::matrix(visible),
                              attn::Mask::causal(-3)};
  attn::Options sparse;
  sparse.probability = attn::Probability::sparsemax;
  attn::Options scores;
  scores.return_scores = true;
  const attn::Options options[] = {attn::Options(), sparse, scores};

  attn::MultiHeadWorkspace<Scalar> ws;
  attn::HeadWeights<Scalar> w;
  Mat out(12, 16);
  Mat mean(12, 14);
  Mat small_out(5, 16);
  const std::vector<Index> some = {0, 2};
  // Warm-up: the first call sizes the workspace and the weights.
  attn::multi_head_into(q, k, v, p, out, w, ws, masks[0], scores);

  for (const auto& mask : masks) {
    for (const auto& opt : options) {
      Index masked = 0;
      {
        NoMalloc guard;
        masked = attn::multi_head_into(q, k, v, p, out, w, ws, mask, opt);
        w.reduce_into(attn::HeadReduction::mean, mean);
        w.reduce_into(attn::HeadReduction::max, some, mean);
        // Smaller shapes reuse the grown storage.
        attn::multi_head_into(q.topRows(5), k.topRows(9), v.topRows(9), p, small_out, w, ws,
                              attn::Mask::key_length(7), opt);
      }
      attn::multi_head_into(q, k, v, p, out, w, ws, mask, opt);
      const auto r = attn::multi_head(q, k, v, p, mask, opt);
      CHECK(out == r.output);
      CHECK(masked == r.num_fully_masked());
    }
  }

  // OLMo 2's norms over all heads: the item's projections of every head, sized with the rest.
  auto olmo = p;
  olmo.q_norm = attn::HeadNorm<Scalar>{attn_test::random_matrix<Scalar>(rng, 1, 16, 0.5, 1.5), 1e-6, false, true};
  olmo.k_norm = attn::HeadNorm<Scalar>{attn_test::random_matrix<Scalar>(rng, 1, 16, 0.5, 1.5), 1e-6, true, true};
  attn::multi_head_into(q, k, v, olmo, out, w, ws, masks[0], scores);
  for (const auto& opt : options) {
    {
      NoMalloc guard;
      attn::multi_head_into(q, k, v, olmo, out, w, ws, masks[2], opt);
      attn::multi_head_into(q.topRows(5), k.topRows(9), v.topRows(9), olmo, small_out, w, ws,
                            attn::Mask::key_length(7), opt);
      attn::multi_head_into(q, k, v, olmo, out, w, ws, masks[2], opt);
    }
    CHECK(out == attn::multi_head(q, k, v, olmo, masks[2], opt).output);
  }

  // LayerNorms of each head with a weight row and a bias row per head (Cohere, Chameleon).
  auto layer = p;
  layer.q_norm = attn::HeadNorm<Scalar>{attn_test::random_matrix<Scalar>(rng, 4, 4, 0.5, 1.5), 1e-5};
  layer.q_norm->subtract_mean = true;
  layer.q_norm->bias = attn_test::random_matrix<Scalar>(rng, 4, 4, -0.5, 0.5);
  layer.k_norm = layer.q_norm;
  attn::multi_head_into(q, k, v, layer, out, w, ws, masks[0], scores);
  for (const auto& opt : options) {
    {
      NoMalloc guard;
      attn::multi_head_into(q, k, v, layer, out, w, ws, masks[2], opt);
    }
    CHECK(out == attn::multi_head(q, k, v, layer, masks[2], opt).output);
  }
}

TEMPLATE_TEST_CASE("multi_head_into: one-row queries (decoder steps) allocate nothing", "[no_malloc][multi_head]", float,
                   double) {
  // A 1×dq query makes Eigen pick GEMV for the projections and the attention products.
  using Scalar = TestType;
  using Mat = attn::Matrix<Scalar>;
  std::mt19937_64 rng(33);
  const auto p = attn_test::random_multi_head_params<Scalar>(rng, 4, 16, 12, 10, 8);
  const Mat q = attn_test::random_matrix<Scalar>(rng, 1, 12);
  const attn::RowVector<Scalar> q_row = q.row(0);
  const Mat k = attn_test::random_matrix<Scalar>(rng, 14, 10);
  const Mat v = attn_test::random_matrix<Scalar>(rng, 14, 8);
  attn::MultiHeadWorkspace<Scalar> ws;
  attn::HeadWeights<Scalar> w;
  Mat out(1, 16);
  const attn::Mask padding = attn::Mask::key_length(10);
  const auto steps = [&] {
    attn::multi_head_into(q, k, v, p, out, w, ws, padding);
    attn::multi_head_into(q_row, k, v, p, out, w, ws, padding);
    attn::multi_head_into(q, k.topRows(3), v.topRows(3), p, out, w, ws);
  };
  steps();  // warm-up
  {
    NoMalloc guard;
    steps();
  }
  CHECK(out == attn::multi_head(q, k.topRows(3), v.topRows(3), p).output);
}

TEMPLATE_TEST_CASE("multi_head_batch_into allocates nothing in steady state", "[no_malloc][multi_head][batch]", float,
                   double) {
  using Scalar = TestType;
  using Mat = attn::Matrix<Scalar>;
  std::mt19937_64 rng(32);
  const auto p = attn_test::random_multi_head_params<Scalar>(rng, 2, 8, 6, 6, 6);
  std::vector<Mat> qs, ks;
  std::vector<attn::Mask> masks;
  for (Index b = 0; b < 3; ++b) {
    qs.push_back(attn_test::random_matrix<Scalar>(rng, 4 + b, 6));
    ks.push_back(attn_test::random_matrix<Scalar>(rng, 7 - b, 6));
    masks.push_back(attn::Mask::key_length(5 - b));
  }
  std::vector<attn::MultiHeadResult<Scalar>> results;
  attn::MultiHeadWorkspace<Scalar> ws;
  attn::multi_head_batch_into(qs, ks, ks, p, results, ws, masks);
  {
    NoMalloc guard;
    attn::multi_head_batch_into(qs, ks, ks, p, results, ws, masks);
    attn::multi_head_batch_into(qs, ks, ks, p, results, ws, masks);
  }
  for (std::size_t b = 0; b < 3; ++b) CHECK(results[b].output == attn::multi_head(qs[b], ks[b], ks[b], p, masks[b]).output);
}

TEMPLATE_TEST_CASE("multi_head_into with torch's appended keys (bias_k, a zero key) allocates nothing without a mask",
                   "[no_malloc][multi_head][bias_kv]", float, double) {
  // The keys and values of a head get their appended rows in the lane, sized with them; a mask
  // that hides nothing is not copied (one that hides something becomes an explicit matrix per
  // call, documented as an allocation).
  using Scalar = TestType;
  using Mat = attn::Matrix<Scalar>;
  std::mt19937_64 rng(37);
  auto p = attn_test::random_multi_head_params<Scalar>(rng, 4, 16, 12, 10, 8);
  p.bias_k = attn_test::random_matrix<Scalar>(rng, 1, 16);
  p.bias_v = attn_test::random_matrix<Scalar>(rng, 1, 16);
  p.add_zero_attn = true;
  const Mat q = attn_test::random_matrix<Scalar>(rng, 12, 12);
  const Mat k = attn_test::random_matrix<Scalar>(rng, 14, 10);
  const Mat v = attn_test::random_matrix<Scalar>(rng, 14, 8);
  attn::MultiHeadWorkspace<Scalar> ws;
  attn::HeadWeights<Scalar> w;
  Mat out(12, 16);
  Mat small_out(5, 16);
  attn::multi_head_into(q, k, v, p, out, w, ws);  // warm-up
  {
    NoMalloc guard;
    attn::multi_head_into(q, k, v, p, out, w, ws);
    attn::multi_head_into(q.topRows(5), k.topRows(9), v.topRows(9), p, small_out, w, ws);
    attn::multi_head_into(q, k, v, p, out, w, ws);
  }
  CHECK(w.cols() == 16);
  const auto r = attn::multi_head(q, k, v, p);
  CHECK(out == r.output);
}

}  // namespace test_no_malloc_multi_head
