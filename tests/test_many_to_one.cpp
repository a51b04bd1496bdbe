// SPDX-License-Identifier: MIT
// Tests of attn/many_to_one.hpp: philipperemy/keras-attention's many-to-one layer (Luong and
// Bahdanau scores) against float64 fixtures made by tests/fixtures/make_keras_fixtures.py,
// padding (the query is the last real step), the equivalence with the core Luong/Bahdanau
// kernels, the workspace form and every argument check.
#include "helpers.hpp"

#include <attn/many_to_one.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_many_to_one: the suite is a unity build.
namespace test_many_to_one {

namespace {

using attn::Index;
using MatrixD = Eigen::MatrixXd;

template <typename Scalar>
attn::Matrix<Scalar> as(const MatrixD& m) {
  return m.cast<Scalar>();
}

template <typename Scalar>
attn::RowVector<Scalar> row(const MatrixD& m) {
  if (m.size() == 0) return {};
  return m.cast<Scalar>();
}

template <typename Scalar>
attn::ManyToOneParams<Scalar> params_of(const attn_test::KerasCase& c) {
  return c.param("bahdanau")
             ? attn::ManyToOneParams<Scalar>::bahdanau(as<Scalar>(c.matrix("w1")), as<Scalar>(c.matrix("w2")),
                                                       as<Scalar>(c.matrix("v")), as<Scalar>(c.matrix("wc")))
             : attn::ManyToOneParams<Scalar>::luong(as<Scalar>(c.matrix("w")), as<Scalar>(c.matrix("wc")));
}

attn::Mask mask_of(const attn_test::KerasCase& c) {
  return c.param("length") < 0 ? attn::Mask() : attn::Mask::key_length(c.param("length"));
}

}  // namespace

TEMPLATE_TEST_CASE("many_to_one matches keras-attention fixtures", "[many_to_one][fixture]", float, double) {
  using Scalar = TestType;
  const auto cases = attn_test::read_keras_fixture("many_to_one.txt");
  std::set<std::string> names;
  double worst = 0;
  for (const auto& c : cases) {
    names.insert(c.name);
    INFO("case " << c.name);
    const attn::Matrix<Scalar> h = as<Scalar>(c.matrix("h"));
    attn::Options options;
    options.return_scores = true;
    const auto r = attn::many_to_one(h, params_of<Scalar>(c), mask_of(c), options);
    const double tol = attn_test::tolerance<Scalar>();
    ATTN_CHECK_CLOSE(r.weights, c.matrix("weights"), tol);
    ATTN_CHECK_CLOSE(r.context, c.matrix("context"), tol);
    ATTN_CHECK_CLOSE(r.output, c.matrix("output"), tol);
    ATTN_CHECK_CLOSE(r.scores, c.matrix("scores"), tol);
    for (const auto* m : {&r.weights, &r.context, &r.output, &r.scores}) {
      const char* key = m == &r.weights ? "weights" : m == &r.context ? "context" : m == &r.output ? "output" : "scores";
      worst = std::max(worst, attn_test::max_error(*m, c.matrix(key)));
    }
    CHECK(r.num_fully_masked() == 0);
    auto [output, weights] = r;
    CHECK(output == r.output);
    CHECK(weights == r.weights);
  }
  for (const char* required : {"luong", "luong_units8", "luong_padding", "bahdanau", "bahdanau_padding"}) {
    INFO("required fixture case " << required);
    CHECK(names.count(required) == 1);
  }
  INFO((std::is_same<Scalar, float>::value ? "float" : "double")
       << " max scaled error over " << cases.size() << " cases (weights, context, output, scores): " << worst);
  CHECK(worst <= attn_test::tolerance<Scalar>());
}

TEMPLATE_TEST_CASE("many_to_one scores are the core Luong general and Bahdanau scores of h_T",
                   "[many_to_one][reference]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(17);
  const Index t = 7;
  const Index d = 5;
  const attn::Matrix<Scalar> h = attn_test::random_matrix<Scalar>(rng, t, d);
  const attn::Matrix<Scalar> wc = attn_test::random_matrix<Scalar>(rng, 2 * d, 3);
  const double tol = attn_test::tolerance<Scalar>();

  // Luong: score_s = h_T·(h_s·W)ᵀ = h_T·Wᵀ·h_sᵀ, the core's score of the key-side kernel W.
  const attn::Matrix<Scalar> w = attn_test::random_matrix<Scalar>(rng, d, d);
  const auto lu = attn::many_to_one(h, attn::ManyToOneParams<Scalar>::luong(w, wc));
  const auto core = attn::luong(h.bottomRows(1), h, h, attn::LuongParams<Scalar>::memory_layer(w));
  CHECK(attn::LuongParams<Scalar>::memory_layer(w).w == w.transpose());
  ATTN_CHECK_CLOSE(lu.weights, core.weights.template cast<double>(), tol);
  ATTN_CHECK_CLOSE(lu.context, core.output.template cast<double>(), tol);

  // Bahdanau: score_s = tanh(h_T·W1 + h_s·W2)·v, the core's plain Bahdanau with v transposed.
  const attn::Matrix<Scalar> w1 = attn_test::random_matrix<Scalar>(rng, d, 4);
  const attn::Matrix<Scalar> w2 = attn_test::random_matrix<Scalar>(rng, d, 4);
  const attn::Matrix<Scalar> v = attn_test::random_matrix<Scalar>(rng, 4, 1);
  const auto ba = attn::many_to_one(h, attn::ManyToOneParams<Scalar>::bahdanau(w1, w2, v, wc));
  attn::BahdanauParams<Scalar> bp;
  bp.wq = w1;
  bp.wk = w2;
  bp.v = v.transpose();
  const auto core_b = attn::bahdanau(h.bottomRows(1), h, h, bp);
  ATTN_CHECK_CLOSE(ba.weights, core_b.weights.template cast<double>(), tol);
  ATTN_CHECK_CLOSE(ba.context, core_b.output.template cast<double>(), tol);

  // The attention vector: tanh([context, h_T]·Wc).
  attn::Matrix<double> joined(1, 2 * d);
  joined << ba.context.template cast<double>(), h.bottomRows(1).template cast<double>();
  const MatrixD expected = (joined * wc.template cast<double>()).array().tanh().matrix();
  ATTN_CHECK_CLOSE(ba.output, expected, tol);
}

TEMPLATE_TEST_CASE("many_to_one padding: the query is the last real step, padding never leaks",
                   "[many_to_one][mask]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(23);
  const Index d = 3;
  attn::Matrix<Scalar> h = attn_test::random_matrix<Scalar>(rng, 6, d);
  const auto params = attn::ManyToOneParams<Scalar>::bahdanau(
      attn_test::random_matrix<Scalar>(rng, d, d), attn_test::random_matrix<Scalar>(rng, d, d),
      attn_test::random_matrix<Scalar>(rng, d, 1), attn_test::random_matrix<Scalar>(rng, 2 * d, 2));
  const auto head = attn::many_to_one(h.topRows(4), params);
  h.row(4).setConstant(std::numeric_limits<Scalar>::quiet_NaN());
  h.row(5).setConstant(std::numeric_limits<Scalar>::infinity());
  const auto r = attn::many_to_one(h, params, attn::Mask::key_length(4));
  CHECK(r.weights.leftCols(4) == head.weights);
  CHECK(r.weights.rightCols(2).isZero(0));
  CHECK(r.context == head.context);
  CHECK(r.output == head.output);

  // No step at all: zeros everywhere (tanh(0) = 0), reported.
  const auto none = attn::many_to_one(h, params, attn::Mask::key_length(0));
  CHECK(none.num_fully_masked() == 1);
  CHECK(none.weights.isZero(0));
  CHECK(none.context.isZero(0));
  CHECK(none.output.isZero(0));
}

TEMPLATE_TEST_CASE("many_to_one_into agrees with the value form", "[many_to_one][workspace]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(29);
  attn::Workspace<Scalar> ws;
  for (const Index t : {Index(10), Index(2), Index(6)}) {
    INFO("T = " << t);
    const Index d = 4;
    const attn::Matrix<Scalar> h = attn_test::random_matrix<Scalar>(rng, t, d);
    const auto params = attn::ManyToOneParams<Scalar>::luong(attn_test::random_matrix<Scalar>(rng, d, d),
                                                             attn_test::random_matrix<Scalar>(rng, 2 * d, 5));
    attn::Options options;
    options.return_scores = true;
    const auto r = attn::many_to_one(h, params, attn::Mask(), options);
    attn::Matrix<Scalar> out(1, 5);
    attn::Matrix<Scalar> w(1, t);
    attn::Matrix<Scalar> ctx(1, d);
    CHECK(attn::many_to_one_into(h, params, out, w, ctx, ws, attn::Mask(), options) == 0);
    CHECK(out == r.output);
    CHECK(w == r.weights);
    CHECK(ctx == r.context);
    CHECK(attn::Matrix<Scalar>(ws.scores()) == r.scores);
  }
}

TEST_CASE("many_to_one rejects bad arguments with exact messages", "[many_to_one][errors]") {
  using attn::Matrix;
  const Matrix<double> h = Matrix<double>::Ones(6, 4);
  const auto luong = attn::ManyToOneParams<double>::luong(Matrix<double>::Ones(4, 4), Matrix<double>::Ones(8, 3));
  const auto bahdanau = attn::ManyToOneParams<double>::bahdanau(Matrix<double>::Ones(4, 5), Matrix<double>::Ones(4, 5),
                                                                Matrix<double>::Ones(5, 1), Matrix<double>::Ones(8, 3));
  auto p = luong;
  p.w = Matrix<double>::Ones(4, 3);
  CHECK_THROWS_WITH(attn::many_to_one(h, p), "attn::many_to_one: params.w (4x3) must be (4x4)");
  CHECK_THROWS_AS(attn::many_to_one(h, p), attn::invalid_argument);
  p = luong;
  p.wc = Matrix<double>::Ones(7, 3);
  CHECK_THROWS_WITH(attn::many_to_one(h, p), "attn::many_to_one: params.wc.rows() (7) must equal 2 * h.cols() (8)");
  p = luong;
  p.v = Matrix<double>::Ones(4, 1);
  CHECK_THROWS_WITH(attn::many_to_one(h, p),
                    "attn::many_to_one: params.w1, params.w2 and params.v are only used by the bahdanau score");

  p = bahdanau;
  p.w1 = Matrix<double>::Ones(3, 5);
  CHECK_THROWS_WITH(attn::many_to_one(h, p), "attn::many_to_one: params.w1.rows() (3) must equal h.cols() (4)");
  p = bahdanau;
  p.w2 = Matrix<double>::Ones(4, 4);
  CHECK_THROWS_WITH(attn::many_to_one(h, p), "attn::many_to_one: params.w2 (4x4) must be (4x5)");
  p = bahdanau;
  p.v = Matrix<double>::Ones(5, 2);
  CHECK_THROWS_WITH(attn::many_to_one(h, p), "attn::many_to_one: params.v (5x2) must be (5x1)");
  p = bahdanau;
  p.w = Matrix<double>::Ones(4, 4);
  CHECK_THROWS_WITH(attn::many_to_one(h, p), "attn::many_to_one: params.w is only used by the luong score");

  CHECK_THROWS_WITH(attn::many_to_one(h, luong, attn::Mask::key_length(7)),
                    "attn::many_to_one: mask key length (7) exceeds the number of keys (6)");
  attn::Options scaled;
  scaled.scale = std::numeric_limits<double>::infinity();  // a scale is a factor on the scores: finite
  CHECK_THROWS_WITH(attn::many_to_one(h, luong, attn::Mask(), scaled),
                    "attn::many_to_one: options.scale must be finite");

  attn::Workspace<double> ws;
  Matrix<double> out(1, 3);
  Matrix<double> w(1, 6);
  Matrix<double> ctx(1, 3);
  CHECK_THROWS_WITH(attn::many_to_one_into(h, luong, out, w, ctx, ws),
                    "attn::many_to_one: context (1x3) must be (1x4)");
  out.resize(1, 2);
  CHECK_THROWS_WITH(attn::many_to_one_into(h, luong, out, w, ctx, ws), "attn::many_to_one: output (1x2) must be (1x3)");
  out.resize(1, 3);
  w.resize(1, 5);
  CHECK_THROWS_WITH(attn::many_to_one_into(h, luong, out, w, ctx, ws), "attn::many_to_one: weights (1x5) must be (1x6)");
}

}  // namespace test_many_to_one
