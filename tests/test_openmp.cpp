// SPDX-License-Identifier: MIT
// Compiled with OpenMP (its own executable, tests/CMakeLists.txt): attn's parallel regions
// (blocks of query rows in every mechanism, heads and items in multi-head) must give the same
// bits whatever the thread count, and whether or not the caller is itself in a parallel region.
#include "helpers.hpp"

#include <attn/multi_head.hpp>
#include <attn/scaled_dot_product.hpp>

#include <catch2/catch.hpp>

#include <omp.h>

#include <random>
#include <vector>

namespace {

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

}  // namespace

TEMPLATE_TEST_CASE("openmp: scaled dot-product gives the same bits with 1, 2 and 5 threads", "[openmp]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(11);
  // 1 and 15 rows: decoder-sized, no region; 16 and 256: one block; 257 and 700: several blocks,
  // the last one short.
  for (const Index tq : {Index(1), Index(15), Index(16), Index(256), Index(257), Index(700)}) {
    const Index tk = tq + 5;
    const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, 24);
    const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 24);
    const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, 9);
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
  for (const Index t : {Index(1), Index(300)}) {
    INFO("T " << t);
    const Matrix<S> x = attn_test::random_matrix<S>(rng, t, 32);
    attn::MultiHeadResult<S> one;
    {
      Threads threads(1);
      one = attn::multi_head(x, p, Mask::causal(0));
    }
    for (const int n : {2, 5}) {
      Threads threads(n);
      const auto many = attn::multi_head(x, p, Mask::causal(0));
      CHECK(same_bits(many.output, one.output));
      for (Index h = 0; h < p.heads; ++h) CHECK(same_bits(many.weights.head(h), one.weights.head(h)));
    }
  }
}
