// SPDX-License-Identifier: MIT
// Tests of attn/self_attention.hpp: SeqSelfAttention against float64 fixtures made by
// tests/fixtures/make_keras_fixtures.py from keras-self-attention's formulas (additive and
// multiplicative, odd/even widths, history only, padding), the window mapping, padding
// semantics, the workspace form, and every argument check.
#include "helpers.hpp"

#include <attn/self_attention.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_self_attention: the suite is a unity build.
namespace test_self_attention {

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
attn::SeqSelfAttentionParams<Scalar> params_of(const attn_test::KerasCase& c) {
  attn::SeqSelfAttentionParams<Scalar> p =
      c.param("multiplicative")
          ? attn::SeqSelfAttentionParams<Scalar>::multiplicative(as<Scalar>(c.matrix("wa")), row<Scalar>(c.matrix("ba")))
          : attn::SeqSelfAttentionParams<Scalar>::additive(as<Scalar>(c.matrix("wt")), as<Scalar>(c.matrix("wx")),
                                                           row<Scalar>(c.matrix("bh")), as<Scalar>(c.matrix("wa")),
                                                           row<Scalar>(c.matrix("ba")));
  if (c.param("width") >= 0) p.width = c.param("width");
  p.history_only = c.param("history_only") != 0;
  return p;
}

// The Keras mask of a case: a key length, or (quirk) the latest revision's "hide a pair only
// when both steps are padding" as an explicit matrix.
attn::Mask mask_of(const attn_test::KerasCase& c, Index t) {
  const long length = c.param("length");
  if (length < 0) return attn::Mask();
  if (c.param("quirk")) {
    attn::BoolMatrix m(t, t);
    for (Index i = 0; i < t; ++i)
      for (Index j = 0; j < t; ++j) m(i, j) = !(i >= length && j >= length);
    return attn::Mask::matrix(m);
  }
  return attn::Mask::key_length(length);
}

template <typename Scalar>
std::string what() {
  return std::is_same<Scalar, float>::value ? "float" : "double";
}

}  // namespace

TEMPLATE_TEST_CASE("seq_self_attention matches keras-self-attention fixtures", "[self_attention][fixture]", float,
                   double) {
  using Scalar = TestType;
  const auto cases = attn_test::read_keras_fixture("seq_self_attention.txt");
  std::set<std::string> names;
  double worst_weights = 0;
  double worst_output = 0;
  double worst_scores = 0;
  for (const auto& c : cases) {
    names.insert(c.name);
    INFO("case " << c.name);
    const attn::Matrix<Scalar> x = as<Scalar>(c.matrix("x"));
    const auto params = params_of<Scalar>(c);
    attn::Options options;
    options.return_scores = true;
    const auto r = attn::seq_self_attention(x, params, mask_of(c, x.rows()), options);
    const double tol = attn_test::tolerance<Scalar>();
    ATTN_CHECK_CLOSE(r.weights, c.matrix("weights"), tol);
    ATTN_CHECK_CLOSE(r.output, c.matrix("output"), tol);
    ATTN_CHECK_CLOSE(r.scores, c.matrix("scores"), tol);
    worst_weights = std::max(worst_weights, attn_test::max_error(r.weights, c.matrix("weights")));
    worst_output = std::max(worst_output, attn_test::max_error(r.output, c.matrix("output")));
    worst_scores = std::max(worst_scores, attn_test::max_error(r.scores, c.matrix("scores")));

    // Rows the window or the padding hides are exactly zero; padded rows are reported.
    const long length = c.param("length");
    const attn::Mask visible = attn::local_attention_mask(params.width, params.history_only) & mask_of(c, x.rows());
    for (Index i = 0; i < x.rows(); ++i) {
      const bool padded_row = length >= 0 && !c.param("quirk") && i >= length;
      CHECK(r.fully_masked(i) == padded_row);
      for (Index j = 0; j < x.rows(); ++j)
        if (padded_row || !visible.visible(i, j, x.rows())) CHECK(r.weights(i, j) == Scalar(0));
    }
  }
  // Odd and even widths, history only (with and without a width), padding.
  for (const char* required :
       {"additive_width3", "additive_width4", "multiplicative_width5", "multiplicative_width2", "additive_history",
        "additive_history_width3", "additive_history_width4", "multiplicative_history_width2", "additive_padding",
        "additive_padding_width4", "multiplicative_padding_width3", "additive_padding_quirk"}) {
    INFO("required fixture case " << required);
    CHECK(names.count(required) == 1);
  }
  INFO(what<Scalar>() << " max scaled error over " << cases.size() << " cases: weights " << worst_weights
                      << ", output " << worst_output << ", scores " << worst_scores);
  CHECK(worst_weights <= attn_test::tolerance<Scalar>());
}

TEST_CASE("local_attention_mask maps keras-self-attention's window onto Mask::window", "[self_attention][mask]") {
  // Not history only: keys t - width/2 <= t' < t - width/2 + width, i.e. left = width/2,
  // right = width - 1 - width/2 = (width - 1)/2.
  const struct {
    Index width;
    Index left;
    Index right;
  } rows[] = {{1, 0, 0}, {2, 1, 0}, {3, 1, 1}, {4, 2, 1}, {5, 2, 2}, {6, 3, 2}, {7, 3, 3}};
  for (const auto& r : rows) {
    INFO("width " << r.width);
    const attn::Mask m = attn::local_attention_mask(r.width, false);
    REQUIRE(m.left());
    REQUIRE(m.right());
    CHECK(*m.left() == r.left);
    CHECK(*m.right() == r.right);
    CHECK(*m.left() + *m.right() + 1 == r.width);
    // History only: t - width + 1 <= t' <= t.
    const attn::Mask h = attn::local_attention_mask(r.width, true);
    CHECK(*h.left() == r.width - 1);
    CHECK(*h.right() == 0);
  }
  // Against keras's own definition, lower = t - width // 2, upper = lower + width, on T = 9.
  for (Index width = 1; width <= 12; ++width)
    for (const bool history : {false, true}) {
      const attn::Mask m = attn::local_attention_mask(width, history);
      for (Index t = 0; t < 9; ++t) {
        const Index lower = history ? t - (width - 1) : t - width / 2;
        const Index upper = lower + width;
        for (Index j = 0; j < 9; ++j) CHECK(m.visible(t, j, 9) == (lower <= j && j < upper));
      }
    }
  // No width: history only is causal, otherwise global.
  const attn::Mask causal = attn::local_attention_mask(std::nullopt, true);
  CHECK(causal.right());
  CHECK(*causal.right() == 0);
  CHECK(!causal.left());
  CHECK(attn::local_attention_mask(std::nullopt, false).is_all_visible());
}

TEMPLATE_TEST_CASE("seq_self_attention padding is hidden on both axes", "[self_attention][mask]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(7);
  const Index t = 6;
  const Index d = 3;
  attn::Matrix<Scalar> x = attn_test::random_matrix<Scalar>(rng, t, d);
  auto params = attn::SeqSelfAttentionParams<Scalar>::additive(
      attn_test::random_matrix<Scalar>(rng, d, 4), attn_test::random_matrix<Scalar>(rng, d, 4),
      attn_test::random_matrix<Scalar>(rng, 1, 4), attn_test::random_matrix<Scalar>(rng, 4, 1),
      attn_test::random_matrix<Scalar>(rng, 1, 1));
  params.width = 3;
  const auto clean = attn::seq_self_attention(x, params, attn::Mask::key_length(4));
  // Padding content, even NaN and Inf, reaches nothing.
  x.row(4).setConstant(std::numeric_limits<Scalar>::quiet_NaN());
  x.row(5).setConstant(std::numeric_limits<Scalar>::infinity());
  const auto r = attn::seq_self_attention(x, params, attn::Mask::key_length(4));
  CHECK(r.weights == clean.weights);
  CHECK(r.output == clean.output);
  CHECK(r.num_fully_masked() == 2);
  CHECK(r.weights.bottomRows(2).isZero(0));
  CHECK(r.output.bottomRows(2).isZero(0));
  // The first 4 rows are self-attention over the first 4 steps alone.
  const auto head = attn::seq_self_attention(x.topRows(4), params);
  ATTN_CHECK_CLOSE(r.weights.topLeftCorner(4, 4), head.weights, attn_test::tolerance<Scalar>());
  ATTN_CHECK_CLOSE(r.output.topRows(4), head.output, attn_test::tolerance<Scalar>());
  // Length 0: everything is padding.
  const auto none = attn::seq_self_attention(x, params, attn::Mask::key_length(0));
  CHECK(none.num_fully_masked() == t);
  CHECK(none.weights.isZero(0));
  CHECK(none.output.isZero(0));
}

TEMPLATE_TEST_CASE("seq_self_attention honours the probability function and the plain-loop reference",
                   "[self_attention][reference]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(11);
  const Index t = 8;
  const Index d = 5;
  const attn::Matrix<Scalar> x = attn_test::random_matrix<Scalar>(rng, t, d);
  auto params = attn::SeqSelfAttentionParams<Scalar>::additive(
      attn_test::random_matrix<Scalar>(rng, d, 3), attn_test::random_matrix<Scalar>(rng, d, 3),
      attn_test::random_matrix<Scalar>(rng, 1, 3), attn_test::random_matrix<Scalar>(rng, 3, 1));
  params.width = 4;
  params.history_only = true;
  const attn::Mask window = attn::local_attention_mask(params.width, params.history_only);
  const attn::BoolMatrix visible = attn_test::dense_mask(window, t, t);
  // Additive scores e_tt' = Wa·tanh(x_t·Wt + x_t'·Wx + bh), from the independent plain loop.
  const MatrixD scores = attn_test::reference_additive_scores(
      x.template cast<double>(), x.template cast<double>(), params.wt.template cast<double>(),
      params.wx.template cast<double>(), params.wa.transpose().template cast<double>(),
      params.bh.template cast<double>());
  for (const auto p : {attn::Probability::softmax, attn::Probability::sparsemax, attn::Probability::hardmax}) {
    INFO("probability " << static_cast<int>(p));
    attn::Options options;
    options.probability = p;
    const auto r = attn::seq_self_attention(x, params, attn::Mask(), options);
    const MatrixD w = attn_test::reference_probability(scores, visible, p);
    ATTN_CHECK_CLOSE(r.weights, w, 10 * attn_test::tolerance<Scalar>());
    ATTN_CHECK_CLOSE(r.output, attn_test::reference_output(w, x.template cast<double>(), visible),
                     10 * attn_test::tolerance<Scalar>());
  }
}

TEMPLATE_TEST_CASE("seq_self_attention_into agrees with the value form and reuses its workspace",
                   "[self_attention][workspace]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(3);
  attn::Workspace<Scalar> ws;
  for (const Index t : {Index(9), Index(4), Index(1), Index(0), Index(7)}) {
    INFO("T = " << t);
    const Index d = 4;
    const attn::Matrix<Scalar> x = attn_test::random_matrix<Scalar>(rng, t, d);
    auto params = attn::SeqSelfAttentionParams<Scalar>::multiplicative(attn_test::random_matrix<Scalar>(rng, d, d),
                                                                       attn_test::random_matrix<Scalar>(rng, 1, 1));
    params.width = 2;
    const attn::Mask mask = attn::Mask::key_length(t > 2 ? t - 2 : t);
    attn::Options options;
    options.return_scores = true;
    const auto r = attn::seq_self_attention(x, params, mask, options);
    attn::Matrix<Scalar> out(t, d);
    attn::Matrix<Scalar> w(t, t);
    const Index masked = attn::seq_self_attention_into(x, params, out, w, ws, mask, options);
    CHECK(out == r.output);
    CHECK(w == r.weights);
    CHECK(masked == r.num_fully_masked());
    CHECK(ws.fully_masked().size() == t);
    CHECK((ws.fully_masked() == r.fully_masked).all());
    CHECK(ws.scores().rows() == t);
    CHECK(ws.scores().cols() == t);
    CHECK(attn::Matrix<Scalar>(ws.scores()) == r.scores);
    // Multiplicative emissions e = x·Wa·xᵀ + ba.
    const MatrixD e = x.template cast<double>() * params.wa.template cast<double>() *
                          x.template cast<double>().transpose() +
                      MatrixD::Constant(t, t, static_cast<double>(params.ba(0)));
    ATTN_CHECK_CLOSE(r.scores, e, attn_test::tolerance<Scalar>());
  }
}

TEST_CASE("seq_self_attention rejects bad arguments with exact messages", "[self_attention][errors]") {
  using attn::Matrix;
  const Matrix<double> x = Matrix<double>::Ones(7, 4);
  const auto additive = attn::SeqSelfAttentionParams<double>::additive(
      Matrix<double>::Ones(4, 5), Matrix<double>::Ones(4, 5), attn::RowVector<double>::Ones(5),
      Matrix<double>::Ones(5, 1), attn::RowVector<double>::Ones(1));
  const auto run = [&x](const attn::SeqSelfAttentionParams<double>& p, const attn::Mask& m = attn::Mask(),
                        const attn::Options& o = attn::Options()) { return attn::seq_self_attention(x, p, m, o); };

  auto p = additive;
  p.width = 0;
  CHECK_THROWS_WITH(run(p), "attn::seq_self_attention: params.width (0) must be > 0");
  p.width = -3;
  CHECK_THROWS_WITH(run(p), "attn::seq_self_attention: params.width (-3) must be > 0");
  CHECK_THROWS_AS(run(p), attn::invalid_argument);
  CHECK_THROWS_WITH(attn::local_attention_mask(0, true), "attn::local_attention_mask: width (0) must be > 0");

  p = additive;
  p.wt = Matrix<double>::Ones(3, 5);
  CHECK_THROWS_WITH(run(p), "attn::seq_self_attention: params.wt.rows() (3) must equal x.cols() (4), the input's "
                            "depth (x is T×d, one row per time step: a transposed x shows T here)");
  p = additive;
  p.wx = Matrix<double>::Ones(4, 3);
  CHECK_THROWS_WITH(run(p), "attn::seq_self_attention: params.wx (4x3) must be (4x5)");
  p = additive;
  p.wa = Matrix<double>::Ones(5, 2);
  CHECK_THROWS_WITH(run(p), "attn::seq_self_attention: params.wa (5x2) must be (5x1)");
  p = additive;
  p.bh = attn::RowVector<double>::Ones(4);
  CHECK_THROWS_WITH(run(p), "attn::seq_self_attention: params.bh (1x4) must be (1x5) or empty");
  p = additive;
  p.ba = attn::RowVector<double>::Ones(2);
  CHECK_THROWS_WITH(run(p), "attn::seq_self_attention: params.ba (1x2) must be (1x1) or empty");

  auto m = attn::SeqSelfAttentionParams<double>::multiplicative(Matrix<double>::Ones(4, 3));
  CHECK_THROWS_WITH(run(m), "attn::seq_self_attention: params.wa (4x3) must be (4x4), d×d with d = x.cols(), the "
                            "input's depth (x is T×d, one row per time step: a transposed x shows T here)");
  m.wa = Matrix<double>::Ones(4, 4);
  m.wt = Matrix<double>::Ones(4, 5);
  CHECK_THROWS_WITH(run(m), "attn::seq_self_attention: params.wt is only used by the additive type");
  m.wt.resize(0, 0);
  m.wx = Matrix<double>::Ones(4, 5);
  CHECK_THROWS_WITH(run(m), "attn::seq_self_attention: params.wx is only used by the additive type");
  m.wx.resize(0, 0);
  m.bh = attn::RowVector<double>::Ones(5);
  CHECK_THROWS_WITH(run(m), "attn::seq_self_attention: params.bh is only used by the additive type");

  CHECK_THROWS_WITH(run(additive, attn::Mask::key_length(9)),
                    "attn::seq_self_attention: mask key length (9) exceeds the number of keys (7)");
  CHECK_THROWS_WITH(run(additive, attn::Mask::matrix(attn::BoolMatrix::Ones(7, 6))),
                    "attn::seq_self_attention: mask matrix (7x6) must match the scores (7x7)");
  attn::Options scaled;
  scaled.scale = std::numeric_limits<double>::quiet_NaN();  // a scale is a factor on the scores: finite
  CHECK_THROWS_WITH(run(additive, attn::Mask(), scaled), "attn::seq_self_attention: options.scale must be finite");

  // The factories refuse what cannot be the argument, naming it and the get_weights() order
  // (Eigen's conversion of a matrix to a row vector would abort): Wa and bh swapped, a kernel
  // where a bias goes, a bias of more than one entry where ba goes.
  const Matrix<double> wt = Matrix<double>::Ones(4, 5), wa = Matrix<double>::Ones(5, 1);
  const Matrix<double> bh = attn::RowVector<double>::Ones(5), ba = Matrix<double>::Ones(1, 1);
  CHECK_THROWS_WITH(attn::SeqSelfAttentionParams<double>::additive(wt, wt, wa, bh, ba),
                    "attn::SeqSelfAttentionParams::additive: wa (1x5) must be one column (units x 1); the "
                    "arguments follow get_weights(): Wt, Wx, bh, Wa, ba");
  CHECK_THROWS_WITH(attn::SeqSelfAttentionParams<double>::additive(wt, wt, wt, wa, ba),
                    "attn::SeqSelfAttentionParams::additive: bh (4x5) must be a vector (1xn or nx1) or empty; the "
                    "arguments follow get_weights(): Wt, Wx, bh, Wa, ba");
  CHECK_THROWS_WITH(attn::SeqSelfAttentionParams<double>::additive(wt, wt, bh, wa, Matrix<double>::Ones(2, 1)),
                    "attn::SeqSelfAttentionParams::additive: ba (2x1) must be 1x1 or empty; the "
                    "arguments follow get_weights(): Wt, Wx, bh, Wa, ba");
  CHECK_THROWS_AS(attn::SeqSelfAttentionParams<double>::additive(wt, wt, wa, bh), attn::invalid_argument);
  CHECK_THROWS_WITH(attn::SeqSelfAttentionParams<double>::multiplicative(Matrix<double>::Ones(4, 4), wa),
                    "attn::SeqSelfAttentionParams::multiplicative: ba (5x1) must be 1x1 or empty; the "
                    "arguments follow get_weights(): Wa, ba");
  // In order, with the biases as matrices (read_npy's type), as a column vector (Eigen::VectorXd,
  // which the row-vector parameters took before 0.7.1) or left empty, they are the fields'.
  const auto from_matrices = attn::SeqSelfAttentionParams<double>::additive(wt, wt, bh, wa, ba);
  CHECK(from_matrices.bh == additive.bh);
  CHECK(from_matrices.ba == additive.ba);
  const Eigen::VectorXd bh_column = Eigen::VectorXd::Ones(5);
  CHECK(attn::SeqSelfAttentionParams<double>::additive(wt, wt, bh_column, wa, ba).bh == additive.bh);
  const auto no_biases = attn::SeqSelfAttentionParams<double>::additive(wt, wt, {}, wa);
  CHECK(no_biases.bh.size() == 0);
  CHECK(no_biases.ba.size() == 0);

  attn::Workspace<double> ws;
  Matrix<double> out(7, 3);
  Matrix<double> w(7, 7);
  CHECK_THROWS_WITH(attn::seq_self_attention_into(x, additive, out, w, ws),
                    "attn::seq_self_attention: output (7x3) must be (7x4)");
  out.resize(7, 4);
  w.resize(6, 7);
  CHECK_THROWS_WITH(attn::seq_self_attention_into(x, additive, out, w, ws),
                    "attn::seq_self_attention: weights (6x7) must be (7x7)");
}

TEST_CASE("self-attention: additive() takes its kernels in get_weights() order", "[self_attention][keras]") {
  // keras-self-attention's SeqSelfAttention.get_weights() = [Add_Wt, Add_Wx, Add_bh, Add_Wa,
  // Add_ba]: unpacking that list in order must put every kernel in its own field.
  using attn::Matrix;
  const Matrix<double> wt = Matrix<double>::Constant(3, 2, 1.0);
  const Matrix<double> wx = Matrix<double>::Constant(3, 2, 2.0);
  const attn::RowVector<double> bh = attn::RowVector<double>::Constant(2, 3.0);
  const Matrix<double> wa = Matrix<double>::Constant(2, 1, 4.0);
  const attn::RowVector<double> ba = attn::RowVector<double>::Constant(1, 5.0);
  const auto p = attn::SeqSelfAttentionParams<double>::additive(wt, wx, bh, wa, ba);
  CHECK(p.wt == wt);
  CHECK(p.wx == wx);
  REQUIRE(p.bh.size() == 2);
  CHECK(p.bh == bh);
  REQUIRE(p.wa.rows() == 2);
  REQUIRE(p.wa.cols() == 1);
  CHECK(p.wa == wa);
  CHECK(p.ba == ba);
  // Without the additive bias (use_additive_bias=False) the list has no Add_bh: pass {}.
  const auto q = attn::SeqSelfAttentionParams<double>::additive(wt, wx, {}, wa);
  CHECK(q.bh.size() == 0);
  CHECK(q.ba.size() == 0);
  CHECK(attn::seq_self_attention(Matrix<double>::Ones(4, 3), q).weights.rows() == 4);
}

}  // namespace test_self_attention
