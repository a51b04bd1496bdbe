// SPDX-License-Identifier: MIT
// Tests of attn/pooling.hpp: SeqWeightedAttention and feed-forward attention pooling against
// float64 fixtures made by tests/fixtures/make_keras_fixtures.py (with and without bias,
// padding), fully masked sequences, padding content that must not leak, the workspace form
// and every argument check.
#include "helpers.hpp"

#include <attn/pooling.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_pooling: the suite is a unity build.
namespace test_pooling {

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
attn::PoolingParams<Scalar> params_of(const attn_test::KerasCase& c) {
  return c.param("tanh") ? attn::PoolingParams<Scalar>::feed_forward(as<Scalar>(c.matrix("w")), row<Scalar>(c.matrix("b")))
                         : attn::PoolingParams<Scalar>::seq_weighted(as<Scalar>(c.matrix("w")), row<Scalar>(c.matrix("b")));
}

attn::Mask mask_of(const attn_test::KerasCase& c) {
  return c.param("length") < 0 ? attn::Mask() : attn::Mask::key_length(c.param("length"));
}

}  // namespace

TEMPLATE_TEST_CASE("attention_pooling matches SeqWeightedAttention and feed-forward fixtures",
                   "[pooling][fixture]", float, double) {
  using Scalar = TestType;
  const auto cases = attn_test::read_keras_fixture("pooling.txt");
  std::set<std::string> names;
  double worst_weights = 0;
  double worst_output = 0;
  for (const auto& c : cases) {
    names.insert(c.name);
    INFO("case " << c.name);
    const attn::Matrix<Scalar> x = as<Scalar>(c.matrix("x"));
    attn::Options options;
    options.return_scores = true;
    const auto r = attn::attention_pooling(x, params_of<Scalar>(c), mask_of(c), options);
    const double tol = attn_test::tolerance<Scalar>();
    ATTN_CHECK_CLOSE(r.weights, c.matrix("weights"), tol);
    ATTN_CHECK_CLOSE(r.output, c.matrix("output"), tol);
    ATTN_CHECK_CLOSE(r.scores, c.matrix("scores"), tol);
    worst_weights = std::max(worst_weights, attn_test::max_error(r.weights, c.matrix("weights")));
    worst_output = std::max(worst_output, attn_test::max_error(r.output, c.matrix("output")));
    CHECK(r.num_fully_masked() == 0);
    if (c.param("length") >= 0)
      CHECK(r.weights.rightCols(x.rows() - c.param("length")).isZero(0));
  }
  for (const char* required : {"seq_weighted", "seq_weighted_no_bias", "seq_weighted_padding", "seq_weighted_padding1",
                               "feed_forward", "feed_forward_padding"}) {
    INFO("required fixture case " << required);
    CHECK(names.count(required) == 1);
  }
  INFO((std::is_same<Scalar, float>::value ? "float" : "double")
       << " max scaled error over " << cases.size() << " cases: weights " << worst_weights << ", output "
       << worst_output);
  CHECK(worst_weights <= attn_test::tolerance<Scalar>());
}

TEMPLATE_TEST_CASE("attention_pooling against the plain-loop reference", "[pooling][reference]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(5);
  const Index t = 9;
  const Index d = 4;
  const attn::Matrix<Scalar> x = attn_test::random_matrix<Scalar>(rng, t, d, -2.0, 2.0);
  const attn::Matrix<Scalar> w = attn_test::random_matrix<Scalar>(rng, d, 1);
  const attn::RowVector<Scalar> b = attn_test::random_matrix<Scalar>(rng, 1, 1);
  for (const bool tanh : {false, true}) {
    INFO("tanh " << tanh);
    const auto params = tanh ? attn::PoolingParams<Scalar>::feed_forward(w, b) : attn::PoolingParams<Scalar>::seq_weighted(w, b);
    // Padding given as an explicit 1×T matrix: steps 2 and 6 hidden.
    attn::BoolMatrix visible = attn::BoolMatrix::Ones(1, t);
    visible(0, 2) = false;
    visible(0, 6) = false;
    const auto r = attn::attention_pooling(x, params, attn::Mask::matrix(visible));
    MatrixD scores(1, t);
    for (Index j = 0; j < t; ++j) {
      double e = static_cast<double>(b(0));
      for (Index c = 0; c < d; ++c) e += static_cast<double>(x(j, c)) * static_cast<double>(w(c, 0));
      scores(0, j) = tanh ? std::tanh(e) : e;
    }
    const MatrixD expected = attn_test::reference_probability(scores, visible, attn::Probability::softmax);
    ATTN_CHECK_CLOSE(r.weights, expected, attn_test::tolerance<Scalar>());
    ATTN_CHECK_CLOSE(r.output, attn_test::reference_output(expected, x.template cast<double>(), visible),
                     attn_test::tolerance<Scalar>());
    CHECK(r.weights(0, 2) == Scalar(0));
    CHECK(r.weights(0, 6) == Scalar(0));
  }
}

TEMPLATE_TEST_CASE("attention_pooling padding: content never leaks, no visible step gives zeros",
                   "[pooling][mask]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(9);
  attn::Matrix<Scalar> x = attn_test::random_matrix<Scalar>(rng, 5, 3);
  const auto params = attn::PoolingParams<Scalar>::seq_weighted(attn_test::random_matrix<Scalar>(rng, 3, 1),
                                                                attn_test::random_matrix<Scalar>(rng, 1, 1));
  const auto clean = attn::attention_pooling(x, params, attn::Mask::key_length(3));
  x.row(3).setConstant(std::numeric_limits<Scalar>::quiet_NaN());
  x.row(4).setConstant(-std::numeric_limits<Scalar>::infinity());
  const auto r = attn::attention_pooling(x, params, attn::Mask::key_length(3));
  CHECK(r.weights == clean.weights);
  CHECK(r.output == clean.output);
  CHECK(r.output.allFinite());

  // No visible step: zero weights, zero pooled vector, reported (Keras 0/(0+eps) = 0 too).
  const auto none = attn::attention_pooling(x, params, attn::Mask::key_length(0));
  CHECK(none.num_fully_masked() == 1);
  CHECK(none.weights.isZero(0));
  CHECK(none.output.isZero(0));
  CHECK(!std::signbit(none.output(0, 0)));

  // An empty sequence pools to zeros too.
  const attn::Matrix<Scalar> empty(0, 3);
  const auto e = attn::attention_pooling(empty, params);
  CHECK(e.weights.cols() == 0);
  CHECK(e.output.isZero(0));
  CHECK(e.num_fully_masked() == 1);
}

TEMPLATE_TEST_CASE("attention_pooling_into agrees with the value form", "[pooling][workspace]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(21);
  attn::Workspace<Scalar> ws;
  for (const Index t : {Index(12), Index(3), Index(1), Index(8)}) {
    INFO("T = " << t);
    const attn::Matrix<Scalar> x = attn_test::random_matrix<Scalar>(rng, t, 6);
    const auto params = attn::PoolingParams<Scalar>::feed_forward(attn_test::random_matrix<Scalar>(rng, 6, 1));
    const auto r = attn::attention_pooling(x, params, attn::Mask::key_length(t - 1));
    attn::Matrix<Scalar> out(1, 6);
    attn::Matrix<Scalar> w(1, t);
    const Index masked = attn::attention_pooling_into(x, params, out, w, ws, attn::Mask::key_length(t - 1));
    CHECK(out == r.output);
    CHECK(w == r.weights);
    CHECK(masked == r.num_fully_masked());
    CHECK(masked == (t == 1 ? 1 : 0));
  }
}

TEST_CASE("attention_pooling rejects bad arguments with exact messages", "[pooling][errors]") {
  using attn::Matrix;
  const Matrix<double> x = Matrix<double>::Ones(6, 5);
  const auto ok = attn::PoolingParams<double>::seq_weighted(Matrix<double>::Ones(5, 1), attn::RowVector<double>::Ones(1));
  auto p = ok;
  p.w = Matrix<double>::Ones(4, 1);
  CHECK_THROWS_WITH(attn::attention_pooling(x, p), "attn::attention_pooling: params.w (4x1) must be (5x1)");
  CHECK_THROWS_AS(attn::attention_pooling(x, p), attn::invalid_argument);
  p.w = Matrix<double>::Ones(5, 2);
  CHECK_THROWS_WITH(attn::attention_pooling(x, p), "attn::attention_pooling: params.w (5x2) must be (5x1)");
  p = ok;
  p.b = attn::RowVector<double>::Ones(2);
  CHECK_THROWS_WITH(attn::attention_pooling(x, p), "attn::attention_pooling: params.b (1x2) must be (1x1) or empty");
  CHECK_THROWS_WITH(attn::attention_pooling(x, ok, attn::Mask::key_length(7)),
                    "attn::attention_pooling: mask key length (7) exceeds the number of keys (6)");
  CHECK_THROWS_WITH(attn::attention_pooling(x, ok, attn::Mask::matrix(attn::BoolMatrix::Ones(2, 6))),
                    "attn::attention_pooling: mask matrix (2x6) must match the scores (1x6)");
  attn::Options scaled;
  scaled.scale = -std::numeric_limits<double>::infinity();  // a scale is a factor on the scores: finite
  CHECK_THROWS_WITH(attn::attention_pooling(x, ok, attn::Mask(), scaled),
                    "attn::attention_pooling: options.scale must be finite");
  attn::Workspace<double> ws;
  Matrix<double> out(5, 1);
  Matrix<double> w(1, 6);
  CHECK_THROWS_WITH(attn::attention_pooling_into(x, ok, out, w, ws),
                    "attn::attention_pooling: output (5x1) must be (1x5)");
  out.resize(1, 5);
  w.resize(1, 5);
  CHECK_THROWS_WITH(attn::attention_pooling_into(x, ok, out, w, ws),
                    "attn::attention_pooling: weights (1x5) must be (1x6)");

  // The factories refuse a bias of more than one entry (the kernel and bias swapped), where
  // Eigen's conversion to a row vector would abort; a (1,) bias read as a matrix is taken as it is.
  const Matrix<double> kernel = Matrix<double>::Ones(5, 1), bias = Matrix<double>::Ones(1, 1);
  CHECK_THROWS_WITH(attn::PoolingParams<double>::seq_weighted(bias, kernel),
                    "attn::PoolingParams::seq_weighted: b (5x1) must be 1x1 or empty; the arguments "
                    "follow get_weights(): W, b");
  CHECK_THROWS_WITH(attn::PoolingParams<double>::feed_forward(bias, kernel),
                    "attn::PoolingParams::feed_forward: b (5x1) must be 1x1 or empty; the arguments "
                    "follow get_weights(): kernel, bias");
  CHECK(attn::PoolingParams<double>::feed_forward(kernel, bias).b == ok.b);
  CHECK(attn::PoolingParams<double>::seq_weighted(kernel, Eigen::VectorXd::Ones(1)).b == ok.b);
  CHECK(attn::PoolingParams<double>::seq_weighted(kernel).b.size() == 0);
}

TEMPLATE_TEST_CASE("attention_pooling: a float mask's bias is added after options.scale, options.softcap and options.alibi",
                   "[pooling][mask][softcap][alibi]", float, double) {
  // softmax(scale·e + bias) over the visible steps, e_t = tanh(x_t·w + b): the scale multiplies
  // the layer's scores, the mask's bias is added to the product (as torch adds attn_mask). With
  // a softcap c: softmax(c·tanh(scale·e / c) + bias). (The layer hands its scale to the kernel,
  // which applies it inside the cap: detail/attend.hpp.)
  using Scalar = TestType;
  std::mt19937_64 rng(11);
  const Index t = 9;
  const Index d = 4;
  const attn::Matrix<Scalar> x = attn_test::random_matrix<Scalar>(rng, t, d, -1.0, 1.0);
  const attn::Matrix<Scalar> w = attn_test::random_matrix<Scalar>(rng, d, 1, -2.0, 2.0);
  const auto params = attn::PoolingParams<Scalar>::feed_forward(w, attn::Matrix<Scalar>::Constant(1, 1, Scalar(0.25)));
  Eigen::MatrixXd torch_mask(1, t);
  torch_mask << 0.5, -1.0, -std::numeric_limits<double>::infinity(), 2.0, 0.0, -0.75, 1.5, -10000.0, 0.25;
  attn::Options options;
  options.scale = 3.0;
  const auto r = attn::attention_pooling(x, params, attn::Mask::additive(torch_mask), options);

  const MatrixD xd = x.template cast<double>();
  const MatrixD wd = w.template cast<double>();
  MatrixD z(1, t);  // scale·e + bias
  attn::BoolMatrix visible(1, t);
  for (Index j = 0; j < t; ++j) {
    double e = 0.25;
    for (Index c = 0; c < d; ++c) e += xd(j, c) * wd(c, 0);
    visible(0, j) = torch_mask(0, j) > -10000.0;
    z(0, j) = visible(0, j) ? 3.0 * std::tanh(e) + torch_mask(0, j) : 0.0;
  }
  const MatrixD weights = attn_test::reference_probability(z, visible, attn::Probability::softmax);
  ATTN_CHECK_CLOSE(r.weights, weights, attn_test::tolerance<Scalar>());
  ATTN_CHECK_CLOSE(r.output, attn_test::reference_output(weights, xd, visible), attn_test::tolerance<Scalar>());
  CHECK(r.weights(0, 2) == Scalar(0));
  CHECK(r.weights(0, 7) == Scalar(0));

  options.softcap = 2.0;
  options.return_scores = true;
  const auto capped = attn::attention_pooling(x, params, attn::Mask::additive(torch_mask), options);
  MatrixD zc(1, t);  // c·tanh(scale·e / c) + bias
  MatrixD scores(1, t);
  for (Index j = 0; j < t; ++j) {
    double e = 0.25;
    for (Index c = 0; c < d; ++c) e += xd(j, c) * wd(c, 0);
    scores(0, j) = 2.0 * std::tanh(3.0 * std::tanh(e) / 2.0);
    zc(0, j) = visible(0, j) ? scores(0, j) + torch_mask(0, j) : 0.0;
  }
  const MatrixD capped_weights = attn_test::reference_probability(zc, visible, attn::Probability::softmax);
  ATTN_CHECK_CLOSE(capped.weights, capped_weights, attn_test::tolerance<Scalar>());
  ATTN_CHECK_CLOSE(capped.output, attn_test::reference_output(capped_weights, xd, visible), attn_test::tolerance<Scalar>());
  ATTN_CHECK_CLOSE(capped.scores, scores, attn_test::tolerance<Scalar>());  // the capped scores, before the bias

  // ALiBi's bias without a cap: softmax(scale·e + slope·(j − offset) + bias), the one query at
  // key position `offset`.
  options.softcap.reset();
  options.alibi = attn::Alibi{0.3, 4};
  const auto sloped = attn::attention_pooling(x, params, attn::Mask::additive(torch_mask), options);
  MatrixD za(1, t);
  for (Index j = 0; j < t; ++j) {
    double e = 0.25;
    for (Index c = 0; c < d; ++c) e += xd(j, c) * wd(c, 0);
    scores(0, j) = 3.0 * std::tanh(e);
    za(0, j) = visible(0, j) ? scores(0, j) + 0.3 * static_cast<double>(j - 4) + torch_mask(0, j) : 0.0;
  }
  const MatrixD sloped_weights = attn_test::reference_probability(za, visible, attn::Probability::softmax);
  ATTN_CHECK_CLOSE(sloped.weights, sloped_weights, attn_test::tolerance<Scalar>());
  ATTN_CHECK_CLOSE(sloped.scores, scores, attn_test::tolerance<Scalar>());  // scaled, before any bias
}

}  // namespace test_pooling
