// SPDX-License-Identifier: MIT
// Tests of the `_into` forms and attn::Workspace: bitwise agreement with the value forms for
// every mechanism, one workspace reused across growing and shrinking shapes, outputs written
// into blocks of bigger matrices, and ws.fully_masked() / ws.scores() reporting the last call.
#include "helpers.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <utility>
#include <vector>

// Everything in this file lives in namespace test_workspace: the suite is a unity build.
namespace test_workspace {

namespace {

using attn::BoolMatrix;
using attn::Index;
using attn::Mask;
using attn::Matrix;
using attn::Probability;
using attn_test::all_kinds;
using attn_test::all_probabilities;
using attn_test::Kind;
using attn_test::same_bits;

// Parameters of one mechanism for fixed widths; the inputs vary per call.
template <typename S>
struct Mechanism {
  using Scalar = S;
  Kind kind = Kind::sdpa;
  Index dq = 0, dk = 0, dv = 0;
  std::optional<double> scale;
  attn::LuongParams<S> luong;
  attn::BahdanauParams<S> bahdanau;
};

template <typename S>
Mechanism<S> make_mechanism(std::mt19937_64& rng, Kind kind, Index dq, Index dk, Index dv, Index units) {
  Mechanism<S> m;
  m.kind = kind;
  m.dq = dq;
  m.dk = (kind == Kind::sdpa || kind == Kind::luong_dot) ? dq : dk;
  m.dv = dv;
  switch (kind) {
    case Kind::sdpa: m.scale = 0.8; break;
    case Kind::luong_dot: m.luong = attn::LuongParams<S>::dot(S(1.5)); break;
    case Kind::luong_general: m.luong = attn::LuongParams<S>::general(attn_test::random_matrix<S>(rng, dq, m.dk)); break;
    case Kind::luong_concat:
      m.luong = attn::LuongParams<S>::concat(attn_test::random_matrix<S>(rng, dq + m.dk, units),
                                             attn_test::random_matrix<S>(rng, 1, units), S(0.7));
      break;
    case Kind::bahdanau:
    case Kind::bahdanau_normalized:
      m.bahdanau.wq = attn_test::random_matrix<S>(rng, dq, units);
      m.bahdanau.wk = attn_test::random_matrix<S>(rng, m.dk, units);
      m.bahdanau.v = attn_test::random_matrix<S>(rng, 1, units, 0.1, 1.0);
      if (kind == Kind::bahdanau_normalized) {
        m.bahdanau.normalize = true;
        m.bahdanau.g = S(1.3);
        m.bahdanau.b = attn_test::random_matrix<S>(rng, 1, units);
      }
      break;
  }
  return m;
}

template <typename S>
attn::AttentionResult<S> call_value(const Mechanism<S>& m, const Matrix<S>& q, const Matrix<S>& k,
                                    const Matrix<S>& v, const Mask& mask, attn::Options options) {
  switch (m.kind) {
    case Kind::sdpa:
      options.scale = m.scale;
      return attn::scaled_dot_product(q, k, v, mask, options);
    case Kind::luong_dot:
    case Kind::luong_general:
    case Kind::luong_concat: return attn::luong(q, k, v, m.luong, mask, options);
    default: return attn::bahdanau(q, k, v, m.bahdanau, mask, options);
  }
}

template <typename S>
Index call_into(const Mechanism<S>& m, const Matrix<S>& q, const Matrix<S>& k, const Matrix<S>& v,
                // Non-deduced: S comes from the mechanism, so blocks convert to Eigen::Ref here.
                Eigen::Ref<Matrix<typename Mechanism<S>::Scalar>> output,
                Eigen::Ref<Matrix<typename Mechanism<S>::Scalar>> weights, attn::Workspace<S>& ws,
                const Mask& mask, attn::Options options) {
  switch (m.kind) {
    case Kind::sdpa:
      options.scale = m.scale;
      return attn::scaled_dot_product_into(q, k, v, output, weights, ws, mask, options);
    case Kind::luong_dot:
    case Kind::luong_general:
    case Kind::luong_concat: return attn::luong_into(q, k, v, m.luong, output, weights, ws, mask, options);
    default: {
      const auto keys = attn::prepare_keys(m.bahdanau, k);
      return attn::bahdanau_into(q, keys, v, m.bahdanau, output, weights, ws, mask, options);
    }
  }
}

Mask mask_for(std::mt19937_64& rng, Index tq, Index tk, int kind) {
  switch (kind % 5) {
    case 0: return Mask();
    case 1: return Mask::key_length(std::uniform_int_distribution<Index>(0, tk)(rng));
    case 2: return Mask::causal(tk - tq - 1);  // the first query of a block sees one key less
    case 3: return Mask::window(1, 0);
    default: {
      std::bernoulli_distribution coin(0.6);
      BoolMatrix b(tq, tk);
      for (Index j = 0; j < tk; ++j)
        for (Index i = 0; i < tq; ++i) b(i, j) = coin(rng);
      return Mask::matrix(b);
    }
  }
}

// Shapes (tq, tk) visited in order by one workspace: growing, shrinking, empty, growing again.
const std::pair<Index, Index> shape_sequence[] = {{3, 5}, {7, 37}, {1, 1}, {0, 4}, {4, 0}, {37, 7},
                                                  {2, 3}, {16, 16}, {1, 37}, {0, 0}, {37, 37}, {5, 2}};

}  // namespace

TEMPLATE_TEST_CASE("into forms equal the value forms bit for bit, one workspace across shapes",
                   "[workspace][into]", float, double) {
  std::mt19937_64 rng(31);
  for (Kind kind : all_kinds)
    for (Probability prob : all_probabilities) {
      const Mechanism<TestType> m = make_mechanism<TestType>(rng, kind, 3, 5, 4, 6);
      attn::Workspace<TestType> ws;  // one workspace for the whole sequence
      int call = 0;
      for (const auto& [tq, tk] : shape_sequence) {
        ++call;
        const Matrix<TestType> q = attn_test::random_matrix<TestType>(rng, tq, m.dq);
        const Matrix<TestType> k = attn_test::random_matrix<TestType>(rng, tk, m.dk);
        const Matrix<TestType> v = attn_test::random_matrix<TestType>(rng, tk, m.dv);
        const Mask mask = mask_for(rng, tq, tk, call);
        attn::Options options;
        options.probability = prob;
        options.return_scores = call % 2 == 0;
        const auto r = call_value(m, q, k, v, mask, options);

        Matrix<TestType> output = Matrix<TestType>::Constant(tq, m.dv, TestType(42));  // stale content
        Matrix<TestType> weights = Matrix<TestType>::Constant(tq, tk, TestType(-42));
        const Index n = call_into(m, q, k, v, output, weights, ws, mask, options);
        INFO(kind_name(kind) << ", probability " << static_cast<int>(prob) << ", call " << call << " (" << tq << "x"
                             << tk << ")");
        CHECK(same_bits(output, r.output));
        CHECK(same_bits(weights, r.weights));
        CHECK(n == r.num_fully_masked());
        CHECK(ws.num_fully_masked() == n);
        REQUIRE(ws.fully_masked().size() == tq);
        CHECK((ws.fully_masked() == r.fully_masked).all());
        if (options.return_scores) {
          REQUIRE(ws.scores().rows() == tq);
          REQUIRE(ws.scores().cols() == tk);
          CHECK(same_bits(ws.scores(), r.scores));
        }
      }
    }
}

TEMPLATE_TEST_CASE("into forms write into blocks of bigger matrices", "[workspace][into][ref]", float, double) {
  std::mt19937_64 rng(32);
  const TestType sentinel = TestType(-7.25);
  for (Kind kind : all_kinds)
    for (Probability prob : all_probabilities) {
      const Mechanism<TestType> m = make_mechanism<TestType>(rng, kind, 5, 3, 2, 4);
      attn::Workspace<TestType> ws;
      int call = 0;
      for (const auto& [tq, tk] : shape_sequence) {
        ++call;
        const Matrix<TestType> q = attn_test::random_matrix<TestType>(rng, tq, m.dq);
        const Matrix<TestType> k = attn_test::random_matrix<TestType>(rng, tk, m.dk);
        const Matrix<TestType> v = attn_test::random_matrix<TestType>(rng, tk, m.dv);
        const Mask mask = mask_for(rng, tq, tk, call + 1);
        attn::Options options;
        options.probability = prob;
        options.return_scores = true;
        const auto r = call_value(m, q, k, v, mask, options);
        INFO(kind_name(kind) << ", probability " << static_cast<int>(prob) << ", call " << call << " (" << tq << "x"
                             << tk << ")");

        // middleCols of a matrix with the same row count: column blocks, contiguous.
        Matrix<TestType> big_out = Matrix<TestType>::Constant(tq, m.dv + 3, sentinel);
        Matrix<TestType> big_w = Matrix<TestType>::Constant(tq, tk + 5, sentinel);
        const Index n = call_into(m, q, k, v, big_out.middleCols(1, m.dv), big_w.middleCols(3, tk), ws, mask, options);
        CHECK(n == r.num_fully_masked());
        CHECK(same_bits(big_out.middleCols(1, m.dv), r.output));
        CHECK(same_bits(big_w.middleCols(3, tk), r.weights));
        CHECK((big_out.leftCols(1).array() == sentinel).all());
        CHECK((big_out.rightCols(2).array() == sentinel).all());
        CHECK((big_w.leftCols(3).array() == sentinel).all());
        CHECK((big_w.rightCols(2).array() == sentinel).all());

        // A general block with an outer stride: rows 2.. of a taller matrix.
        Matrix<TestType> tall_out = Matrix<TestType>::Constant(tq + 5, m.dv + 2, sentinel);
        Matrix<TestType> tall_w = Matrix<TestType>::Constant(tq + 3, tk + 1, sentinel);
        call_into(m, q, k, v, tall_out.block(2, 1, tq, m.dv), tall_w.block(1, 0, tq, tk), ws, mask, options);
        CHECK(same_bits(tall_out.block(2, 1, tq, m.dv), r.output));
        CHECK(same_bits(tall_w.block(1, 0, tq, tk), r.weights));
        Matrix<TestType> check_out = tall_out;
        check_out.block(2, 1, tq, m.dv).setConstant(sentinel);
        CHECK((check_out.array() == sentinel).all());
        Matrix<TestType> check_w = tall_w;
        check_w.block(1, 0, tq, tk).setConstant(sentinel);
        CHECK((check_w.array() == sentinel).all());
        CHECK((ws.fully_masked() == r.fully_masked).all());
        CHECK(same_bits(ws.scores(), r.scores));
      }
    }
}

TEMPLATE_TEST_CASE("the workspace reports the last call", "[workspace][report]", float, double) {
  std::mt19937_64 rng(33);
  attn::Workspace<TestType> ws;
  // Before any call: nothing to report.
  CHECK(ws.fully_masked().size() == 0);
  CHECK(ws.num_fully_masked() == 0);
  CHECK(ws.scores().size() == 0);

  const Matrix<TestType> q = attn_test::random_matrix<TestType>(rng, 4, 3);
  const Matrix<TestType> k = attn_test::random_matrix<TestType>(rng, 6, 3);
  const Matrix<TestType> v = attn_test::random_matrix<TestType>(rng, 6, 2);
  attn::Options scores_on;
  scores_on.return_scores = true;

  // Call 1: causal(-2) hides everything from queries 0 and 1.
  Matrix<TestType> out(4, 2), w(4, 6);
  CHECK(attn::scaled_dot_product_into(q, k, v, out, w, ws, Mask::causal(-2), scores_on) == 2);
  CHECK(ws.num_fully_masked() == 2);
  CHECK(ws.fully_masked()(0));
  CHECK(ws.fully_masked()(1));
  CHECK_FALSE(ws.fully_masked()(2));
  CHECK_FALSE(ws.fully_masked()(3));
  const Eigen::MatrixXd expected_scores =
      attn_test::reference_dot_scores(q.template cast<double>(), k.template cast<double>(), 1.0 / std::sqrt(3.0));
  ATTN_CHECK_CLOSE(ws.scores(), expected_scores, attn_test::tolerance<TestType>());
  CHECK((out.topRows(2).array() == TestType(0)).all());

  // Call 2: a smaller problem with no fully masked rows: the flags follow it.
  Matrix<TestType> out2(2, 2), w2(2, 6);
  CHECK(attn::scaled_dot_product_into(q.topRows(2), k, v, out2, w2, ws, Mask(), scores_on) == 0);
  CHECK(ws.fully_masked().size() == 2);
  CHECK(ws.num_fully_masked() == 0);
  REQUIRE(ws.scores().rows() == 2);
  REQUIRE(ws.scores().cols() == 6);
  ATTN_CHECK_CLOSE(ws.scores(), expected_scores.topRows(2), attn_test::tolerance<TestType>());

  // Call 3: key_length(0) with another mechanism, bigger than before: every row flagged.
  const Matrix<TestType> q3 = attn_test::random_matrix<TestType>(rng, 9, 3);
  Matrix<TestType> out3(9, 2), w3(9, 6);
  CHECK(attn::luong_into(q3, k, v, attn::LuongParams<TestType>::dot(), out3, w3, ws, Mask::key_length(0), scores_on) ==
        9);
  CHECK(ws.fully_masked().size() == 9);
  CHECK(ws.fully_masked().all());
  CHECK(ws.num_fully_masked() == 9);
  CHECK((out3.array() == TestType(0)).all());
  CHECK((w3.array() == TestType(0)).all());
  ATTN_CHECK_CLOSE(ws.scores(), attn_test::reference_dot_scores(q3.template cast<double>(), k.template cast<double>(), 1.0),
                   attn_test::tolerance<TestType>());

  // Call 4: zero queries.
  Matrix<TestType> out4(0, 2), w4(0, 6);
  CHECK(attn::scaled_dot_product_into(q.topRows(0), k, v, out4, w4, ws) == 0);
  CHECK(ws.fully_masked().size() == 0);
  CHECK(ws.num_fully_masked() == 0);
}

TEMPLATE_TEST_CASE("a workspace shared by different mechanisms in turn", "[workspace][into]", float, double) {
  std::mt19937_64 rng(34);
  attn::Workspace<TestType> ws;
  std::vector<Mechanism<TestType>> mechanisms;
  for (Kind kind : all_kinds) mechanisms.push_back(make_mechanism<TestType>(rng, kind, 4, 4, 3, 5));
  for (int round = 0; round < 3; ++round)
    for (const auto& m : mechanisms) {
      const Index tq = 2 + 3 * round, tk = 9 - 2 * round;
      const Matrix<TestType> q = attn_test::random_matrix<TestType>(rng, tq, m.dq);
      const Matrix<TestType> k = attn_test::random_matrix<TestType>(rng, tk, m.dk);
      const Matrix<TestType> v = attn_test::random_matrix<TestType>(rng, tk, m.dv);
      const Mask mask = Mask::causal(-1);
      attn::Options options;
      options.return_scores = true;
      const auto r = call_value(m, q, k, v, mask, options);
      Matrix<TestType> out(tq, m.dv), w(tq, tk);
      call_into(m, q, k, v, out, w, ws, mask, options);
      INFO(kind_name(m.kind) << ", round " << round);
      CHECK(same_bits(out, r.output));
      CHECK(same_bits(w, r.weights));
      CHECK(same_bits(ws.scores(), r.scores));
      CHECK((ws.fully_masked() == r.fully_masked).all());
    }
}

TEMPLATE_TEST_CASE("prepared keys reused by bahdanau_into across decoder steps", "[workspace][into][bahdanau]", float,
                   double) {
  std::mt19937_64 rng(35);
  for (Kind kind : {Kind::bahdanau, Kind::bahdanau_normalized}) {
    const Mechanism<TestType> m = make_mechanism<TestType>(rng, kind, 3, 4, 2, 5);
    const Matrix<TestType> k = attn_test::random_matrix<TestType>(rng, 11, m.dk);
    const Matrix<TestType> v = attn_test::random_matrix<TestType>(rng, 11, m.dv);
    const auto keys = attn::prepare_keys(m.bahdanau, k);
    attn::Workspace<TestType> ws;
    Matrix<TestType> history(8, 11);  // alignment history: one weights row per step
    Matrix<TestType> outputs(8, m.dv);
    for (Index step = 0; step < 8; ++step) {
      const Matrix<TestType> q = attn_test::random_matrix<TestType>(rng, 1, m.dq);
      const Mask mask = Mask::key_length(9);
      // middleRows(step, 1): a 1-row block with an outer stride, as Eigen::Ref accepts it.
      attn::bahdanau_into(q, keys, v, m.bahdanau, outputs.middleRows(step, 1), history.middleRows(step, 1), ws, mask);
      const auto r = attn::bahdanau(q, k, v, m.bahdanau, mask);
      INFO(kind_name(kind) << ", step " << step);
      CHECK(same_bits(history.row(step), r.weights));
      CHECK(same_bits(outputs.row(step), r.output));
    }
  }
}

}  // namespace test_workspace
