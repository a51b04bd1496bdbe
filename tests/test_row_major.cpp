// SPDX-License-Identifier: MIT
// A program compiled with EIGEN_DEFAULT_TO_ROW_MAJOR (every Eigen matrix without a storage order
// is row-major, Eigen::MatrixXf included): attn's own types stay column-major by name
// (attn::Matrix, BoolMatrix, IndexMatrix), its kernels read them as columns, and the user's
// row-major matrices are inputs like any other. Built as a program of its own
// (attn_tests_row_major): the macro changes Eigen's types, so it cannot share a translation
// unit or a precompiled header with the other tests. Before 0.18.0 attn::Matrix followed the
// macro: a Bahdanau call was 0.96 off with a heap overflow in its prepared keys, a one-row
// scaled dot-product 33.5 off, and KVCache did not compile.
#ifndef EIGEN_DEFAULT_TO_ROW_MAJOR
#error "tests/test_row_major.cpp is compiled with EIGEN_DEFAULT_TO_ROW_MAJOR (tests/CMakeLists.txt)"
#endif
#include "helpers.hpp"

#include <cmath>
#include <random>

namespace test_row_major {

namespace {

using attn::Index;
using attn::Mask;
using attn_test::MatrixD;

template <typename S>
using Plain = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;  // row-major here: the macro

template <typename S>
constexpr double tol() {
  return std::is_same<S, float>::value ? 2e-5 : 1e-12;
}

// attn_test::random_matrix's draws in [-scale, scale], stored row-major.
template <typename S>
Plain<S> random_plain(std::mt19937_64& rng, Index rows, Index cols, double scale = 1.0) {
  return attn_test::random_matrix<S>(rng, rows, cols, -scale, scale);
}

}  // namespace

TEST_CASE("EIGEN_DEFAULT_TO_ROW_MAJOR: attn's types stay column-major", "[row_major]") {
  STATIC_REQUIRE(Eigen::MatrixXf::IsRowMajor);  // the macro is on in this program
  STATIC_REQUIRE_FALSE(attn::Matrix<float>::IsRowMajor);
  STATIC_REQUIRE_FALSE(attn::Matrix<double>::IsRowMajor);
  STATIC_REQUIRE_FALSE(attn::BoolMatrix::IsRowMajor);
  STATIC_REQUIRE_FALSE(attn::IndexMatrix::IsRowMajor);
  STATIC_REQUIRE_FALSE(decltype(attn::scaled_dot_product(Plain<float>(), Plain<float>(), Plain<float>()).weights)::IsRowMajor);
}

TEMPLATE_TEST_CASE("EIGEN_DEFAULT_TO_ROW_MAJOR: row-major inputs give the float64 reference in every form",
                   "[row_major]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(20261207);
  const Index t = 50, d = 16, dv = 12, len = 45, rows = 5, units = 8;
  const Plain<S> q = random_plain<S>(rng, rows, d);
  const Plain<S> k = random_plain<S>(rng, t, d);
  const Plain<S> v = random_plain<S>(rng, t, dv);
  const Mask mask = Mask::key_length(len);
  const attn::BoolMatrix visible = attn_test::dense_mask(mask, rows, t);
  const MatrixD qd = q.template cast<double>();
  const MatrixD kd = k.template cast<double>();
  const MatrixD vd = v.template cast<double>();
  attn::Workspace<S> ws;
  attn::Matrix<S> context(rows, dv);
  attn::Matrix<S> alignment(rows, t);
  attn::Matrix<S> context1(1, dv);
  attn::Matrix<S> alignment1(1, t);

  SECTION("scaled dot-product: a call of 5 rows, of 1 row, a prepared memory's steps") {
    const MatrixD w = attn_test::reference_probability(attn_test::reference_dot_scores(qd, kd, 1 / std::sqrt(double(d))),
                                                       visible, attn::Probability::softmax);
    const MatrixD out = attn_test::reference_output(w, vd, visible);
    const auto full = attn::scaled_dot_product(q, k, v, mask);
    ATTN_CHECK_CLOSE(full.weights, w, tol<S>());
    ATTN_CHECK_CLOSE(full.output, out, tol<S>());
    const auto one = attn::scaled_dot_product(q.topRows(1), k, v, mask);
    ATTN_CHECK_CLOSE(one.output, out.topRows(1), tol<S>());
    const auto memory = attn::prepare_memory(k, v, attn::ScaledDotProductParams{}, len);
    attn::attend_into(memory, q, context, alignment, ws);
    ATTN_CHECK_CLOSE(context, out, tol<S>());
    ATTN_CHECK_CLOSE(alignment, w, tol<S>());
    attn::attend_into(memory, q.topRows(1), context1, alignment1, ws);
    ATTN_CHECK_CLOSE(context1, out.topRows(1), tol<S>());
  }

  SECTION("Bahdanau: a call, a prepared memory's steps of 5 rows and of 1 row") {
    attn::BahdanauParams<S> p;
    p.wq = random_plain<S>(rng, d, units);
    p.wk = random_plain<S>(rng, d, units);
    p.v = random_plain<S>(rng, 1, units);
    const MatrixD w = attn_test::reference_probability(
        attn_test::reference_additive_scores(qd, kd, p.wq.template cast<double>(), p.wk.template cast<double>(),
                                             p.v.template cast<double>(), MatrixD()),
        visible, attn::Probability::softmax);
    const MatrixD out = attn_test::reference_output(w, vd, visible);
    const auto full = attn::bahdanau(q, k, v, p, mask);
    ATTN_CHECK_CLOSE(full.weights, w, tol<S>());
    ATTN_CHECK_CLOSE(full.output, out, tol<S>());
    const auto memory = attn::prepare_memory(k, v, p, len);
    attn::attend_into(memory, q, context, alignment, ws);
    ATTN_CHECK_CLOSE(context, out, tol<S>());
    attn::attend_into(memory, q.topRows(1), context1, alignment1, ws);
    ATTN_CHECK_CLOSE(context1, out.topRows(1), tol<S>());
  }

  SECTION("multi-head: the full call against per-head float64, a MultiHeadMemory step and KVCache steps") {
    const Index dm = 16, h = 4, dh = dm / h;
    const auto params = attn::MultiHeadParams<S>::from_torch(
        random_plain<S>(rng, 3 * dm, dm, 0.3), random_plain<S>(rng, 1, 3 * dm, 0.1), random_plain<S>(rng, dm, dm, 0.3),
        random_plain<S>(rng, 1, dm, 0.1), h);
    const Plain<S> x = random_plain<S>(rng, 9, dm);
    const auto full = attn::multi_head(x, x, x, params, Mask::causal());
    // float64 reference, head by head: projections, causal softmax, output projection.
    const MatrixD xd = x.template cast<double>();
    const MatrixD pq = (xd * params.wq.template cast<double>()).rowwise() + params.bq.template cast<double>();
    const MatrixD pk = (xd * params.wk.template cast<double>()).rowwise() + params.bk.template cast<double>();
    const MatrixD pv = (xd * params.wv.template cast<double>()).rowwise() + params.bv.template cast<double>();
    const attn::BoolMatrix causal = attn_test::dense_mask(Mask::causal(), 9, 9);
    MatrixD heads(9, dm);
    for (Index i = 0; i < h; ++i) {
      const MatrixD w = attn_test::reference_probability(
          attn_test::reference_dot_scores(pq.middleCols(i * dh, dh), pk.middleCols(i * dh, dh), 1 / std::sqrt(double(dh))),
          causal, attn::Probability::softmax);
      ATTN_CHECK_CLOSE(full.weights.head(i), w, tol<S>());
      heads.middleCols(i * dh, dh) = attn_test::reference_output(w, pv.middleCols(i * dh, dh), causal);
    }
    const MatrixD out = (heads * params.wo.template cast<double>()).rowwise() + params.bo.template cast<double>();
    ATTN_CHECK_CLOSE(full.output, out, tol<S>());

    attn::KVCache<S> cache(params);
    attn::HeadWeights<S> weights;
    attn::MultiHeadWorkspace<S> mws;
    attn::Matrix<S> row(1, dm);
    for (Index s = 0; s < 9; ++s) {
      cache.append(x.row(s));
      attn::attend_into(cache, x.row(s), row, weights, mws);
      ATTN_CHECK_CLOSE(row, out.row(s), tol<S>());
    }

    const auto cross = attn::multi_head(x.topRows(3), x, x, params, Mask::key_length(7));
    const auto memory = attn::prepare_memory(x, x, params, 7);
    attn::Matrix<S> three(3, dm);
    attn::attend_into(memory, x.topRows(3), three, weights, mws);
    ATTN_CHECK_CLOSE(three, cross.output, tol<S>());
  }
}

}  // namespace test_row_major
