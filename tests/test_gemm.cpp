// SPDX-License-Identifier: MIT
// attn's own product (detail/gemm.hpp) against an in-order multiply-add chain per entry (its
// stated arithmetic) and a double-precision reference, on shapes that leave every kind of tail;
// and the engine that cuts blocks into parts with it: output only, with weights and with a sink
// give the same bits whatever the cut or the values' width, and a last block of one row after
// blocks of fewer than 256 rows (long keys) is right.
#include "helpers.hpp"

#include <attn/detail/gemm.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

// Everything in this file lives in namespace test_gemm: the suite is a unity build.
namespace test_gemm {

namespace {

using attn::Index;
using attn::Matrix;
using attn_test::same_bits;

// The entry gemm must produce: a sum over p in order from zero with the packet multiply-add
// (fused where Eigen vectorises with FMA, a product then a sum elsewhere).
template <typename S>
S chain(const Matrix<S>& a, const Matrix<S>& b, Index i, Index j) {
  S acc = S(0);
  for (Index p = 0; p < a.cols(); ++p) {
#ifdef EIGEN_VECTORIZE_FMA
    acc = std::fma(a(i, p), b(p, j), acc);
#else
    acc = a(i, p) * b(p, j) + acc;
#endif
  }
  return acc;
}

template <typename S>
void check_product(Index m, Index n, Index k, bool b_rows, std::mt19937_64& rng) {
  INFO("m " << m << " n " << n << " k " << k << (b_rows ? " B row-major" : " B column-major"));
  // A and C inside bigger matrices (outer strides larger than their rows), B stored either way.
  // k = 0: A and B have no storage (null data), as a 0-wide query's do in the engine.
  const Matrix<S> big_a = attn_test::random_matrix<S>(rng, m + 3, k);
  const Matrix<S> b = attn_test::random_matrix<S>(rng, k, n);
  const Matrix<S> bt = b.transpose();  // B row-major = the storage of its transpose
  Matrix<S> big_c = Matrix<S>::Constant(m + 5, n, S(7));
  const S* a = k == 0 ? nullptr : big_a.data() + 1;
  if (b_rows) {
    attn::detail::gemm<S, true>(m, n, k, a, big_a.rows(), bt.data(), bt.rows(), big_c.data() + 2, big_c.rows());
  } else {
    attn::detail::gemm<S>(m, n, k, a, big_a.rows(), b.data(), b.rows(), big_c.data() + 2, big_c.rows());
  }
  const Matrix<S> c = big_c.middleRows(2, m);
  const Matrix<S> ma = k == 0 ? Matrix<S>(m, 0) : Matrix<S>(big_a.middleRows(1, m));
  Index wrong = 0;
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < n; ++j) wrong += c(i, j) != chain(ma, b, i, j);
  CHECK(wrong == 0);
  const Matrix<double> exact = ma.template cast<double>() * b.template cast<double>();
  // The error bound of a sum of k products: k·eps·Σ|a·b| (entry by entry).
  const Matrix<double> magnitude = ma.template cast<double>().cwiseAbs() * b.template cast<double>().cwiseAbs();
  const double bound = static_cast<double>(k) * double(std::numeric_limits<S>::epsilon());
  CHECK(((c.template cast<double>() - exact).cwiseAbs().array() <= bound * magnitude.array()).all());
  // Rows around C untouched.
  CHECK((big_c.topRows(2).array() == S(7)).all());
  CHECK((big_c.bottomRows(3).array() == S(7)).all());
}

// The call with weights, after checking that output only and a ColumnSums sink give its output's bits.
template <typename S, typename DerivedV>
attn::AttentionResult<S> full_call_of_forms(const Matrix<S>& q, const Matrix<S>& k, const Eigen::MatrixBase<DerivedV>& v,
                                            const attn::Mask& mask) {
  const attn::AttentionResult<S> full = attn::scaled_dot_product(q, k, v, mask);
  CHECK(same_bits(attn::scaled_dot_product(q, k, v, attn::no_weights, mask).output, full.output));
  attn::ColumnSums<S> sums;
  CHECK(same_bits(attn::scaled_dot_product(q, k, v, attn::Sinks<S>(sums), mask).output, full.output));
  return full;
}

}  // namespace

TEMPLATE_TEST_CASE("gemm: every entry is the in-order multiply-add chain, on every tail", "[kernels][gemm]", float,
                   double) {
  using S = TestType;
  using Tile = attn::detail::GemmTile<S>;
  std::mt19937_64 rng(41);
  const Index l = Tile::lanes, t = Tile::rows;
  for (const Index m : {l, l + 1, t - 1, t, t + 3, 2 * t + l - 1, Index(100)})
    for (const Index n : {Index(1), Index(3), Index(4), Index(5), Index(Tile::nr), Index(Tile::nr + 3), Index(64)})
      for (const Index k : {Index(0), Index(1), Index(9), Index(64), Index(300)})  // 300: chunks of k
        for (const bool b_rows : {false, true}) check_product<S>(m, n, k, b_rows, rng);
}

// detail::product as the engine calls it: through the build's product backend (attn's gemm, a
// BLAS, or oneDNN for float: docs/08 "Product backends"), on Eigen blocks whose outer strides
// exceed their rows, B stored either way, a product too short for gemm, and k = 0.
TEMPLATE_TEST_CASE("product: the build's backend computes a·b on strided blocks, B either way", "[kernels][gemm]",
                   float, double) {
  using S = TestType;
  std::mt19937_64 rng(43);
  for (const Index m : {Index(1), Index(3), Index(8), Index(37), Index(300)}) {
    for (const Index n : {Index(1), Index(13), Index(64)}) {
      for (const Index k : {Index(0), Index(5), Index(64), Index(257)}) {
        INFO("m " << m << " n " << n << " k " << k);
        const Matrix<S> big_a = attn_test::random_matrix<S>(rng, m + 3, k + 1);
        const Matrix<S> b = attn_test::random_matrix<S>(rng, k, n);
        const Matrix<S> bt = b.transpose();
        const Matrix<double> exact = big_a.block(1, 0, m, k).template cast<double>() * b.template cast<double>();
        const Matrix<double> magnitude =
            big_a.block(1, 0, m, k).template cast<double>().cwiseAbs() * b.template cast<double>().cwiseAbs();
        const double bound = static_cast<double>(k) * double(std::numeric_limits<S>::epsilon());
        for (const bool b_rows : {false, true}) {
          INFO((b_rows ? "B row-major" : "B column-major"));
          Matrix<S> big_c = Matrix<S>::Constant(m + 5, n, S(7));
          if (b_rows)
            attn::detail::product(big_a.block(1, 0, m, k), bt.transpose(), big_c.middleRows(2, m));
          else
            attn::detail::product(big_a.block(1, 0, m, k), b, big_c.middleRows(2, m));
          const Matrix<double> c = big_c.middleRows(2, m).template cast<double>();
          CHECK(((c - exact).cwiseAbs().array() <= bound * magnitude.array()).all());
          CHECK((big_c.topRows(2).array() == S(7)).all());
          CHECK((big_c.bottomRows(3).array() == S(7)).all());
        }
      }
    }
  }
}

#ifdef ATTN_USE_DNNL
// A status oneDNN returns is an exception naming it, not a silently wrong product: an outer
// stride shorter than the rows (oneDNN checks its arguments before it reads anything).
TEST_CASE("product: a failure of oneDNN's dnnl_sgemm is an exception with its status", "[kernels][gemm]") {
  Matrix<float> a = Matrix<float>::Ones(8, 4);
  Matrix<float> b = Matrix<float>::Ones(4, 3);
  Matrix<float> c = Matrix<float>::Constant(8, 3, 7.0f);
  CHECK_THROWS_MATCHES(attn::detail::dnnl_product(8, 3, 4, a.data(), 7, b.data(), 4, false, c.data(), 8),
                       attn::invalid_argument,
                       Catch::Matchers::Message("attn: oneDNN's dnnl_sgemm failed (dnnl_status_t 2)"));
  CHECK((c.array() == 7.0f).all());
  attn::detail::dnnl_product(8, 3, 4, a.data(), 8, b.data(), 4, false, c.data(), 8);  // the control
  CHECK((c.array() == 4.0f).all());
}
#endif

TEMPLATE_TEST_CASE("gemm: an entry's bits do not depend on the rows around it", "[kernels][gemm]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(42);
  const Matrix<S> a = attn_test::random_matrix<S>(rng, 301, 37);
  const Matrix<S> b = attn_test::random_matrix<S>(rng, 37, 29);
  Matrix<S> whole(301, 29);
  attn::detail::gemm<S>(301, 29, 37, a.data(), 301, b.data(), 37, whole.data(), 301);
  const Index l = attn::detail::GemmTile<S>::lanes;
  for (const Index first : {Index(0), Index(1), Index(17), Index(250)}) {
    for (const Index rows : {l, l + 2, Index(40), Index(51)}) {
      INFO("rows " << first << " + " << rows);
      Matrix<S> part(rows, 29);
      attn::detail::gemm<S>(rows, 29, 37, a.data() + first, 301, b.data(), 37, part.data(), rows);
      CHECK(same_bits(part, Matrix<S>(whole.middleRows(first, rows))));
    }
  }
}

// transpose_into writes the keys' transpose in tiles of 16 key rows: every entry (on either side
// of a tile's edge, in a block of a bigger matrix) has the bits of Eigen's `scale * k.transpose()`,
// and a source that is not column-major storage (here row-major) takes Eigen's assignment.
TEMPLATE_TEST_CASE("transpose_into: scale·kᵀ entry for entry in tiles, from a block and from row-major storage",
                   "[kernels][gemm]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(7);
  const Matrix<S> big = attn_test::random_matrix<S>(rng, 53, 9);
  const S scale = S(1) / std::sqrt(S(7));
  for (const Index rows : {Index(0), Index(1), Index(15), Index(16), Index(17), Index(33), Index(50)}) {
    for (const Index cols : {Index(1), Index(7)}) {
      INFO(rows << " x " << cols);
      const auto k = big.block(2, 1, rows, cols);  // outer stride 53
      Matrix<S> scaled = Matrix<S>::Constant(cols, rows, std::numeric_limits<S>::quiet_NaN());
      Matrix<S> plain = scaled;
      attn::detail::transpose_into(k, scale, scaled);
      attn::detail::transpose_into(k, plain);
      CHECK(same_bits(scaled, Matrix<S>(scale * k.transpose())));
      CHECK(same_bits(plain, Matrix<S>(k.transpose())));
      const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = k;
      Matrix<S> from_rows = Matrix<S>::Constant(cols, rows, std::numeric_limits<S>::quiet_NaN());
      attn::detail::transpose_into(row_major, scale, from_rows);
      CHECK(same_bits(from_rows, scaled));
    }
  }
}

TEMPLATE_TEST_CASE("engine: output only, with weights and with a sink give the same bits when blocks are cut into parts",
                   "[kernels][gemm]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(43);
  // Tk where a block is cut into parts (part_rows_for below block_rows) and a Tq with whole
  // parts, a last part taking the rest, and a last block of a few rows.
  for (const Index tk : {Index(700), Index(1500)}) {
    const Index part = attn::detail::part_rows_for<S>(tk);
    REQUIRE(2 * part <= attn::detail::block_rows_for<S>(tk));
    for (const Index tq : {2 * part + 5, Index(256) + 7}) {
      for (const attn::Mask& mask : {attn::Mask(), attn::Mask::causal(), attn::Mask::key_length(tk - 9)}) {
        INFO("Tq " << tq << " Tk " << tk << " part " << part);
        const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, 9);
        const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 9);
        const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, 6);
        const auto full = full_call_of_forms(q, k, v, mask);
        // Against the definition in double.
        Matrix<double> s = q.template cast<double>() * k.template cast<double>().transpose() / 3.0;
        for (Index i = 0; i < tq; ++i)
          for (Index j = 0; j < tk; ++j)
            if (!mask.visible(i, j, tk)) s(i, j) = -std::numeric_limits<double>::infinity();
        Matrix<double> w = (s.colwise() - s.rowwise().maxCoeff()).array().exp();
        w = w.array().colwise() / w.rowwise().sum().array();
        const Matrix<double> o = w * v.template cast<double>();
        ATTN_CHECK_CLOSE(full.output, o, 1e-4);
        ATTN_CHECK_CLOSE(full.weights, w, 1e-5);
      }
    }
  }
}

TEMPLATE_TEST_CASE("product: fewer rows than a packet get the bits they have among more rows, any shape",
                   "[kernels][gemm]", float, double) {
  // 2 to lanes - 1 rows go to gemm_few (a panel of one packet of rows, zeros below); at lanes
  // rows and more, gemm. Either way every entry is the in-order chain, so the rows equal the same
  // rows of a product of lanes + 3 rows, whatever the columns, the depth (chunks of 128) and B's
  // storage order; C's rows around are untouched.
  using S = TestType;
  constexpr Index lanes = attn::detail::GemmTile<S>::lanes;
  std::mt19937_64 rng(47);
  for (const Index k : {Index(1), Index(7), Index(128), Index(300)}) {
    for (const Index n : {Index(1), Index(3), Index(4), Index(13), Index(30)}) {
      const Matrix<S> big_a = attn_test::random_matrix<S>(rng, lanes + 3, k);
      const Matrix<S> b = attn_test::random_matrix<S>(rng, k, n);
      const Matrix<S> bt = b.transpose();
      const Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> b_rows(bt.data(), k, n);
      Matrix<S> all(lanes + 3, n);
      attn::detail::gemm<S>(lanes + 3, n, k, big_a.data(), big_a.rows(), b.data(), b.rows(), all.data(), all.rows());
      for (Index m = 2; m <= lanes + 1; ++m) {
        INFO("m " << m << " n " << n << " k " << k);
        for (const bool row_major : {false, true}) {
          Matrix<S> big_c = Matrix<S>::Constant(m + 4, n, S(7));
          auto c = big_c.middleRows(2, m);
          // The kernels themselves, on any backend: product() sends these rows to gemm_few and
          // gemm with attn's own products (the engine tests check that), to oneDNN or a BLAS else.
          const S* a = big_a.data() + 1;
          if (row_major && m < lanes) {
            attn::detail::gemm_few<S, true>(m, n, k, a, big_a.rows(), b_rows.data(), n, c.data(), c.outerStride());
          } else if (row_major) {
            attn::detail::gemm<S, true>(m, n, k, a, big_a.rows(), b_rows.data(), n, c.data(), c.outerStride());
          } else if (m < lanes) {
            attn::detail::gemm_few<S>(m, n, k, a, big_a.rows(), b.data(), b.rows(), c.data(), c.outerStride());
          } else {
            attn::detail::gemm<S>(m, n, k, a, big_a.rows(), b.data(), b.rows(), c.data(), c.outerStride());
          }
          CHECK(same_bits(Matrix<S>(c), Matrix<S>(all.middleRows(1, m))));
          const Matrix<S> rows = big_a.middleRows(1, m);
          Index wrong = 0;
          for (Index i = 0; i < m; ++i)
            for (Index j = 0; j < n; ++j) wrong += c(i, j) != chain(rows, b, i, j);
          CHECK(wrong == 0);
          CHECK((big_c.topRows(2).array() == S(7)).all());
          CHECK((big_c.bottomRows(2).array() == S(7)).all());
        }
      }
    }
  }
}

TEMPLATE_TEST_CASE("product: a column of values gives bits that follow neither the stride nor the rows around",
                   "[kernels][gemm]", float, double) {
  // b of one column where gemm does not take the product (fewer rows than a packet, values that
  // are not plain storage): Eigen's matrix-vector product summed in runs of columns chosen by
  // a's outer stride, so the same block in scratch and in the caller's Tq×Tk matrix differed.
  using S = TestType;
  std::mt19937_64 rng(45);
  const Index k = 300;
  const Matrix<S> b = attn_test::random_matrix<S>(rng, k, 1);
  for (const Index m : {Index(1), Index(3), Index(11), Index(40)}) {
    INFO("m " << m);
    const Matrix<S> tall = attn_test::random_matrix<S>(rng, 9000, k);  // a column spans 36000 bytes or more
    const Matrix<S> a = tall.middleRows(5, m);                          // the same rows, stride m
    Matrix<S> strided_out(m, 1), packed_out(m, 1), expression_out(m, 1), one_row(1, 1);
    attn::detail::product(tall.middleRows(5, m), b, strided_out);
    attn::detail::product(a, b, packed_out);
    attn::detail::product(a, b * S(1), expression_out);  // values that are an expression
    CHECK(same_bits(strided_out, packed_out));
    attn::detail::product(a.bottomRows(1), b, one_row);
    if (attn::detail::gemm_own_for<S>()) {
      // With attn's own products every route gives the chain's bits; on oneDNN or a BLAS a
      // packet of rows and more go to that backend, whose bits are its own.
      CHECK(same_bits(expression_out, packed_out));
      CHECK(same_bits(one_row, packed_out.bottomRows(1)));  // a row's bits do not follow m
    }
    const Matrix<double> exact = a.template cast<double>() * b.template cast<double>();
    const Matrix<double> magnitude = a.template cast<double>().cwiseAbs() * b.template cast<double>().cwiseAbs();
    const double bound = static_cast<double>(k) * double(std::numeric_limits<S>::epsilon());
    CHECK(((packed_out.template cast<double>() - exact).cwiseAbs().array() <= bound * magnitude.array()).all());
  }
}

TEMPLATE_TEST_CASE("engine: values of one column give the same bits in every form, past Tq = 8000",
                   "[kernels][gemm]", float, double) {
  // A last block of fewer rows than a packet, ·V of one column, while your Tq×Tk weights have
  // columns of 32000 bytes or more: the call with weights gave that block's outputs other bits
  // than output only (Eigen's matrix-vector product, product_column now); and values that are
  // an expression, every block.
  using S = TestType;
  std::mt19937_64 rng(46);
  const Index tq = 8192 + 11;
  const Index tk = 130;
  const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, 2);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 2);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, 1);
  for (const attn::Mask& mask : {attn::Mask(), attn::Mask::causal(3)}) {
    const auto full = full_call_of_forms(q, k, v, mask);
    const auto full_expression = full_call_of_forms(q, k, v * S(1), mask);
    CHECK(same_bits(full_expression.weights, full.weights));
    const Matrix<double> o = full.weights.template cast<double>() * v.template cast<double>();
    ATTN_CHECK_CLOSE(full.output, o, 1e-5);
  }
}

TEMPLATE_TEST_CASE("engine: a last block of one row after blocks of fewer than 256 rows", "[kernels][gemm]", float,
                   double) {
  // Past Tk = 8192 floats (4096 doubles) a block has fewer than 256 rows; a Tq one more than a
  // multiple of them leaves a last block of one row, which takes the one-row path (context_row
  // over the transposed values). It once read those values unfilled: only Tq mod 256 was asked.
  using S = TestType;
  const Index tk = sizeof(S) == 4 ? 9000 : 5000;
  const Index rows = attn::detail::block_rows_for<S>(tk);
  REQUIRE(rows < 256);
  const Index tq = rows + 1;
  std::mt19937_64 rng(44);
  const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, 2);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 2);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, 3);
  const auto r = attn::scaled_dot_product(q, k, v, attn::no_weights);
  const Matrix<double> kd = k.template cast<double>();
  for (const Index i : {Index(0), tq - 1}) {
    INFO("row " << i << " of " << tq << ", blocks of " << rows);
    const Matrix<double> s = q.row(i).template cast<double>() * kd.transpose() / std::sqrt(2.0);
    Matrix<double> w = (s.array() - s.maxCoeff()).exp().matrix();
    w /= w.sum();
    const Matrix<double> o = w * v.template cast<double>();
    ATTN_CHECK_CLOSE(r.output.row(i), o, 1e-5);
  }
}

}  // namespace test_gemm
