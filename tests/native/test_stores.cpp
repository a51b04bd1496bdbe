// SPDX-License-Identifier: MIT
// The call with weights on a map too large for any cache (detail/attend.hpp stream_bytes): your
// rows are written with non-temporal stores in a build for AVX or AVX-512, which this file is
// compiled for (-march=native: attn_tests_native, tests/CMakeLists.txt). Every entry must be
// the one a call on a few of the rows gives (an entry's bits depend on its row and the keys
// only), at every alignment of your columns, and nothing around your rows may be written.
#include "helpers.hpp"

#include <random>

// Everything in this file lives in namespace test_stores (the convention of the unity groups).
namespace test_stores {

namespace {

using attn::Index;
using attn::Matrix;
using attn_test::same_bits;

TEMPLATE_TEST_CASE("engine: a map too large for any cache is written whole into your rows, at any alignment",
                   "[kernels][stores]", float, double) {
  using S = TestType;
  const Index tk = 4096;
  const Index tq = attn::detail::stream_bytes / (tk * Index(sizeof(S)));  // the smallest streamed map
  REQUIRE(tq * tk * Index(sizeof(S)) == attn::detail::stream_bytes);
  std::mt19937_64 rng(45);
  const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, 4);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 4);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, 3);
  const S sentinel = S(-7.25);
  // Your rows inside a taller matrix: its outer stride tq + 2·pad starts the columns at every
  // alignment (pad 1 and 3), or at the matrix's own (pad 0).
  for (const Index pad : {Index(0), Index(1), Index(3)}) {
    INFO("Tq " << tq << ", Tk " << tk << ", rows " << pad << " to " << pad + tq << " of " << tq + 2 * pad);
    Matrix<S> big = Matrix<S>::Constant(tq + 2 * pad, tk, sentinel);
    Eigen::Ref<Matrix<S>> weights = big.middleRows(pad, tq);
    Matrix<S> out(tq, 3);
    attn::Workspace<S> ws;
    attn::scaled_dot_product_into(q, k, v, out, weights, ws);
    CHECK((big.topRows(pad).array() == sentinel).all());
    CHECK((big.bottomRows(pad).array() == sentinel).all());
    for (const Index i0 : {Index(0), tq / 2 + 3, tq - 40}) {
      const auto rows = attn::scaled_dot_product(Matrix<S>(q.middleRows(i0, 40)), k, v);
      CHECK(same_bits(weights.middleRows(i0, 40), rows.weights));
      CHECK(same_bits(out.middleRows(i0, 40), rows.output));
    }
  }
}

}  // namespace

}  // namespace test_stores
