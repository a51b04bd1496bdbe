// SPDX-License-Identifier: MIT
// Validation of enums, scales, g, probabilities and parent indices (issue 13, items 6 and 7):
// every bad parameter is an attn::invalid_argument naming it, masked inputs are never read
// (NaN in the padding of `previous`), and many_to_one's query is a step its row can see.
#include "attn/additive.hpp"
#include "attn/history.hpp"
#include "attn/luong.hpp"
#include "attn/many_to_one.hpp"
#include "attn/memory.hpp"
#include "attn/monotonic.hpp"
#include "attn/scaled_dot_product.hpp"
#include "attn/softmax.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace test_validation {

template <typename Scalar>
attn::Matrix<Scalar> seeded(attn::Index rows, attn::Index cols, int seed) {
  attn::Matrix<Scalar> m(rows, cols);
  for (attn::Index i = 0; i < m.size(); ++i)
    m.data()[i] = static_cast<Scalar>(std::sin(0.7 * static_cast<double>(i + 1) + seed));
  return m;
}

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

TEST_CASE("validation: an out-of-range Probability is rejected, never returns raw scores", "[validation][error]") {
  const auto q = seeded<float>(2, 3, 1);
  const auto k = seeded<float>(4, 3, 2);
  const auto v = seeded<float>(4, 2, 3);
  attn::Options o;
  o.probability = static_cast<attn::Probability>(7);
  CHECK_THROWS_WITH(attn::scaled_dot_product(q, k, v, attn::Mask(), o),
                    "attn::scaled_dot_product: options.probability (7) must be softmax, sparsemax or hardmax");
  CHECK_THROWS_WITH(attn::luong(q, k, v, {}, attn::Mask(), o),
                    "attn::luong: options.probability (7) must be softmax, sparsemax or hardmax");
  CHECK_THROWS_WITH(attn::normalize(q, attn::Mask(), static_cast<attn::Probability>(-1)),
                    "attn::normalize: options.probability (-1) must be softmax, sparsemax or hardmax");
}

TEST_CASE("validation: scale, g and enums must be finite / valid, named in the message", "[validation][error]") {
  const auto q = seeded<float>(2, 3, 1);
  const auto k = seeded<float>(4, 3, 2);
  const auto v = seeded<float>(4, 2, 3);
  attn::Options o;
  o.scale = 1e300;  // finite as a double, inf as a float
  CHECK_THROWS_WITH(attn::scaled_dot_product(q, k, v, attn::Mask(), o),
                    "attn::scaled_dot_product: options.scale (1e+300) overflows float");
  CHECK_NOTHROW(attn::scaled_dot_product(q.cast<double>(), k.cast<double>(), v.cast<double>(), attn::Mask(), o));
  o.scale = 1e-46;  // not 0 as a double, 0 as a float: every score would be 0
  CHECK_THROWS_WITH(attn::scaled_dot_product(q, k, v, attn::Mask(), o),
                    "attn::scaled_dot_product: options.scale (1e-46) underflows float to 0 (every score would be 0); "
                    "scale the inputs instead, or set 0 itself");
  CHECK_NOTHROW(attn::scaled_dot_product(q.cast<double>(), k.cast<double>(), v.cast<double>(), attn::Mask(), o));
  o.scale = 0.0;  // 0 itself is a choice: uniform weights over the visible keys
  CHECK(attn::scaled_dot_product(q, k, v, attn::Mask(), o).weights.isConstant(0.25f));
  o.scale = 1e-40;  // subnormal in float, not 0: kept
  CHECK_NOTHROW(attn::scaled_dot_product(q, k, v, attn::Mask(), o));

  for (const double g : {nan, inf, -inf}) {
    CHECK_THROWS_WITH(attn::luong(q, k, v, attn::LuongParams<float>::dot(static_cast<float>(g))),
                      "attn::luong: params.g must be finite");
    CHECK_THROWS_WITH(attn::prepare_memory(k, v, attn::LuongParams<float>::dot(static_cast<float>(g))),
                      "attn::prepare_memory: params.g must be finite");
    attn::BahdanauParams<float> b;
    b.wq = seeded<float>(3, 5, 4);
    b.wk = seeded<float>(3, 5, 5);
    b.v = seeded<float>(1, 5, 6);
    b.normalize = true;
    b.g = static_cast<float>(g);
    CHECK_THROWS_WITH(attn::bahdanau(q, k, v, b), "attn::bahdanau: params.g must be finite");
  }
  // g times options.scale must stay a finite, nonzero float (as the scale alone must).
  o.scale = 1e30;
  CHECK_THROWS_WITH(attn::luong(q, k, v, attn::LuongParams<float>::dot(1e30f), attn::Mask(), o),
                    "attn::luong: params.g (1e+30) times the scale (1e+30) is inf in float: fold part of g into the "
                    "queries or keys instead");
  o.scale = 1e-30;
  CHECK_THROWS_WITH(attn::luong(q, k, v, attn::LuongParams<float>::dot(1e-30f), attn::Mask(), o),
                    "attn::luong: params.g (1e-30) times the scale (1e-30) is 0 in float: fold part of g into the "
                    "queries or keys instead");
  CHECK_NOTHROW(attn::luong(q.cast<double>(), k.cast<double>(), v.cast<double>(),
                            attn::LuongParams<double>::dot(1e-30), attn::Mask(), o));
  {
    attn::BahdanauParams<float> b;
    b.wq = seeded<float>(3, 5, 4);
    b.wk = seeded<float>(3, 5, 5);
    b.v = seeded<float>(1, 5, 6);
    o.scale = 1e30;
    b.v *= 1e10f;
    CHECK_THROWS_WITH(attn::bahdanau(q, k, v, b, attn::Mask(), o),
                      "attn::bahdanau: params.v times the scale (1e+30) is not finite in float: fold part of the "
                      "factor into the queries or keys instead");
    b.v = seeded<float>(1, 5, 6);
    b.normalize = true;
    b.g = 1e-30f;
    o.scale = 1e-30;
    CHECK_THROWS_WITH(attn::bahdanau(q, k, v, b, attn::Mask(), o),
                      "attn::bahdanau: params.v times the scale (1e-30) and g/|v| is 0 in float: fold part of the "
                      "factor into the queries or keys instead");
    o.scale = 0.0;  // 0 itself is a choice
    CHECK(attn::bahdanau(q, k, v, b, attn::Mask(), o).weights.isConstant(0.25f));
  }
  attn::LuongParams<float> bad_score;
  bad_score.score = static_cast<attn::LuongScore>(5);
  CHECK_THROWS_WITH(attn::luong(q, k, v, bad_score), "attn::luong: params.score (5) must be dot, general or concat");
}

TEST_CASE("validation: monotonic_attention takes probabilities p in [0, 1] only", "[validation][monotonic][error]") {
  Eigen::MatrixXd p(1, 3);
  const Eigen::MatrixXd previous = attn::monotonic_initial_alignment<double>(1, 3);
  for (const double bad : {2.0, -1.0, nan}) {
    p << 0.5, bad, 0.5;
    CHECK_THROWS_WITH(attn::monotonic_attention(p, previous, attn::MonotonicMode::recursive),
                      Catch::StartsWith("attn::monotonic_attention: p(0, 1) (") &&
                          Catch::EndsWith(") must be a probability in [0, 1]"));
  }
  p << 0.0, 1.0, 0.25;
  CHECK_NOTHROW(attn::monotonic_attention(p, previous, attn::MonotonicMode::parallel));
}

TEST_CASE("validation: NaN in masked keys of `previous` is never read", "[validation][monotonic]") {
  const auto q = seeded<double>(2, 3, 1);
  const auto k = seeded<double>(5, 3, 2);
  const auto v = seeded<double>(5, 2, 3);
  Eigen::MatrixXd previous = Eigen::MatrixXd::Zero(2, 5);
  previous(0, 1) = 0.6;
  previous(0, 2) = 0.4;
  previous(1, 0) = 1.0;
  for (const auto mode : {attn::MonotonicMode::recursive, attn::MonotonicMode::parallel, attn::MonotonicMode::hard}) {
    attn::MonotonicParams<double> m;
    m.mode = mode;
    // Padding: keys 3 and 4 hidden.
    const auto clean = attn::luong_monotonic(q, k, v, previous, {}, m, attn::Mask::key_length(3));
    Eigen::MatrixXd poisoned = previous;
    poisoned.rightCols(2).setConstant(nan);
    const auto r = attn::luong_monotonic(q, k, v, poisoned, {}, m, attn::Mask::key_length(3));
    CHECK(r.weights.allFinite());
    CHECK(r.output.allFinite());
    CHECK(r.weights == clean.weights);
    // Key 0 hidden by a matrix mask: NaN there used to poison the whole row.
    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> visible = Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>::Constant(2, 5, true);
    visible.col(0).setConstant(false);
    Eigen::MatrixXd key0 = previous;
    key0.col(0).setConstant(nan);
    const auto r0 = attn::luong_monotonic(q, k, v, key0, {}, m, attn::Mask::matrix(visible));
    CHECK(r0.weights.allFinite());
    CHECK(r0.weights.row(0) == attn::luong_monotonic(q, k, v, previous, {}, m, attn::Mask::matrix(visible)).weights.row(0));
  }
}

TEST_CASE("validation: reorder with a non-integer parent throws before any cast", "[validation][history][error]") {
  attn::AlignmentHistory<double> h(2, 3);
  h.record(0, Eigen::RowVector3d(1, 0, 0));
  h.record(1, Eigen::RowVector3d(0, 1, 0));
  CHECK_THROWS_WITH(h.reorder(std::vector<double>{nan, 0}),
                    "attn::AlignmentHistory::reorder: parents[0] (nan) must be an integer index");
  CHECK_THROWS_WITH(h.reorder(Eigen::Vector2d(0, 1e300)),
                    Catch::StartsWith("attn::AlignmentHistory::reorder: parents[1] (1") &&
                        Catch::EndsWith(") must be an integer index"));
  CHECK_THROWS_WITH(h.reorder(std::vector<double>{0.5, 0}),
                    "attn::AlignmentHistory::reorder: parents[0] (0.500000) must be an integer index");
  h.reorder(std::vector<double>{1, 1});
  CHECK(h.matrix(0) == h.matrix(1));
}

TEST_CASE("validation: many_to_one with no visible step is all zero, its query is a visible step",
          "[validation][many_to_one]") {
  const auto h = seeded<double>(4, 3, 1);
  const auto params = attn::ManyToOneParams<double>::luong(seeded<double>(3, 3, 2), seeded<double>(6, 2, 3));
  SECTION("no visible step: causal(-1) or an all-false matrix") {
    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> none = Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>::Constant(1, 4, false);
    // (Two calls, not a loop over an initializer list of masks: GCC 12 at -O3 reports a false
    // -Wmaybe-uninitialized in the list's destructor.)
    const auto check_all_zero = [&](const attn::Mask& mask) {
      const auto r = attn::many_to_one(h, params, mask);
      CHECK(r.num_fully_masked() == 1);
      CHECK(r.output.isZero(0));
      CHECK(r.weights.isZero(0));
      CHECK(r.context.isZero(0));
    };
    check_all_zero(attn::Mask::causal(-1));
    check_all_zero(attn::Mask::matrix(none));
  }
  SECTION("a masked last step is not the query, and its NaN stays out") {
    Eigen::MatrixXd poisoned = h;
    poisoned.row(3).setConstant(nan);
    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> first3 = Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>::Constant(1, 4, true);
    first3(0, 3) = false;
    const auto r = attn::many_to_one(poisoned, params, attn::Mask::matrix(first3));
    const auto expected = attn::many_to_one(h.topRows(3), params);
    CHECK(r.output.allFinite());
    CHECK(r.output == expected.output);
    CHECK(r.weights.leftCols(3) == expected.weights);
    CHECK(r.weights(0, 3) == 0.0);
  }
}

// docs/02 "Outputs must not overlap the inputs": an _into call reads v block by block while it
// writes output and weights, so sharing storage gave wrong numbers without an error (0.09 off at
// T = 1024); now it is refused, naming both. The output over the query itself stays allowed.
TEMPLATE_TEST_CASE("validation: outputs sharing storage with the inputs are refused, naming both",
                   "[validation][error][overlap]", float, double) {
  using Scalar = TestType;
  using M = attn::Matrix<Scalar>;
  const attn::Index t = 300;  // more than one block of rows
  const attn::Index d = 8;
  const M x = seeded<Scalar>(t, d, 4);
  const auto ref = attn::scaled_dot_product(x, x, x);
  attn::Workspace<Scalar> ws;
  M w(t, t);
  const std::string fn = "attn::scaled_dot_product: ";
  const std::string tail = " (the call reads its inputs while it writes its outputs): give ";
  M q = x;
  M k = x;
  M v = x;
  CHECK_THROWS_WITH(attn::scaled_dot_product_into(q, k, v, v, w, ws),
                    fn + "output shares storage with v" + tail + "output storage of its own");
  CHECK_THROWS_WITH(attn::scaled_dot_product_into(q, k, v, k, w, ws),
                    fn + "output shares storage with k" + tail + "output storage of its own");
  CHECK_THROWS_WITH(attn::scaled_dot_product_into(q.topRows(t - 20), k, v, v.middleRows(10, t - 20), attn::no_weights, ws),
                    Catch::Contains("output shares storage with v"));
  // One row further down: the output's rows reach query rows of later blocks before they are read.
  M tall(t + 1, d);
  tall.topRows(t) = x;
  CHECK_THROWS_WITH(attn::scaled_dot_product_into(tall.topRows(t), k, v, tall.bottomRows(t), w, ws),
                    fn + "output shares storage with q" + tail + "output storage of its own");
  // The weights over the values, the output or the query (the first columns of one matrix).
  M big(t, t);
  big.leftCols(d) = x;
  M o(t, d);
  CHECK_THROWS_WITH(attn::scaled_dot_product_into(q, k, big.leftCols(d), o, big, ws),
                    fn + "weights shares storage with v" + tail + "weights storage of its own");
  CHECK_THROWS_WITH(attn::scaled_dot_product_into(q, k, v, big.leftCols(d), big, ws),
                    fn + "weights shares storage with output" + tail + "weights storage of its own");
  CHECK_THROWS_WITH(attn::scaled_dot_product_into(big.leftCols(d), k, v, o, big, ws),
                    fn + "weights shares storage with q" + tail + "weights storage of its own");
  // A row-major map of v's entries as the output is the same storage.
  Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> v_rows(v.data(), t, d);
  CHECK_THROWS_WITH(attn::scaled_dot_product_into(q, k, v_rows, v, w, ws), Catch::Contains("output shares storage with v"));
  // A mechanism's _into form and a many_to_one context.
  CHECK_THROWS_WITH(attn::luong_into(q, k, v, {}, v, w, ws), "attn::luong: output shares storage with v" + tail +
                                                                 "output storage of its own");
  const auto params = attn::ManyToOneParams<Scalar>::luong(seeded<Scalar>(d, d, 5), seeded<Scalar>(2 * d, 3, 6));
  M out(1, 3);
  M w1(1, t);
  M h = x;
  CHECK_THROWS_WITH(attn::many_to_one_into(h, params, out, w1, h.topRows(1), ws),
                    "attn::many_to_one: context shares storage with h" + tail + "context storage of its own");
  M ctx(1, d);
  CHECK_THROWS_WITH(attn::many_to_one_into(h, params, ctx.leftCols(3), w1, ctx, ws),
                    Catch::Contains("output shares storage with context"));
  // Nothing was written by a refused call.
  CHECK(v == x);
  CHECK(h == x);

  // Allowed: the output over the query itself, and disjoint blocks of one matrix; exact.
  M same = x;
  CHECK(attn::scaled_dot_product_into(same, k, v, same, w, ws) == 0);
  CHECK(same == ref.output);
  CHECK(w == ref.weights);
  M wide(t, 3 * d);
  wide << x, x, M::Zero(t, d);
  CHECK(attn::scaled_dot_product_into(wide.leftCols(d), wide.middleCols(d, d), wide.middleCols(d, d),
                                      wide.rightCols(d), w, ws) == 0);
  CHECK(M(wide.rightCols(d)) == ref.output);
}

}  // namespace test_validation
