// SPDX-License-Identifier: MIT
// Decoder steps against a prepared memory (attn::Memory, attn::attend / attend_into): equal to
// the core kernels under a key-length mask for every score function × probability function,
// monotonic memories against the TF-formula fixtures chained over steps, padding never leaking,
// the into form reusing its workspace, and every argument check.
#include "helpers.hpp"

#include "attn_core.hpp"  // the kernels; no exporter
#include <attn/memory.hpp>
#include <attn/monotonic.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_memory: the suite is a unity build.
namespace test_memory {

namespace {

using attn::Index;
using attn::Matrix;
using attn::MonotonicMode;
using attn::Probability;
using attn_test::Fixture;
using attn_test::MatrixD;

/// A mechanism both as a prepared memory and as the core kernel it must equal.
template <typename Scalar>
struct Mechanism {
  std::string name;
  std::function<attn::Memory<Scalar>(const Matrix<Scalar>& k, const Matrix<Scalar>& v, Index n)> prepare;
  std::function<attn::AttentionResult<Scalar>(const Matrix<Scalar>& q, const Matrix<Scalar>& k,
                                              const Matrix<Scalar>& v, const attn::Mask& mask,
                                              const attn::Options& options)>
      core;
  Index dq;
};

template <typename Scalar>
std::vector<Mechanism<Scalar>> mechanisms(std::mt19937_64& rng, Index dk) {
  using M = Matrix<Scalar>;
  std::vector<Mechanism<Scalar>> all;
  all.push_back({"scaled_dot_product",
                 [](const M& k, const M& v, Index n) {
                   return attn::prepare_memory(k, v, attn::ScaledDotProductParams{}, n);
                 },
                 [](const M& q, const M& k, const M& v, const attn::Mask& mask, const attn::Options& o) {
                   return attn::scaled_dot_product(q, k, v, mask, o);
                 },
                 dk});
  all.push_back({"scaled_dot_product scale 0.7",
                 [](const M& k, const M& v, Index n) {
                   return attn::prepare_memory(k, v, attn::ScaledDotProductParams{0.7}, n);
                 },
                 [](const M& q, const M& k, const M& v, const attn::Mask& mask, attn::Options o) {
                   o.scale = 0.7;
                   return attn::scaled_dot_product(q, k, v, mask, o);
                 },
                 dk});
  const auto dot = attn::LuongParams<Scalar>::dot(Scalar(1.5));
  all.push_back({"luong dot g", [dot](const M& k, const M& v, Index n) { return attn::prepare_memory(k, v, dot, n); },
                 [dot](const M& q, const M& k, const M& v, const attn::Mask& mask, const attn::Options& o) {
                   return attn::luong(q, k, v, dot, mask, o);
                 },
                 dk});
  const Index dq = dk + 1;
  const auto general = attn::LuongParams<Scalar>::general(attn_test::random_matrix<Scalar>(rng, dq, dk));
  all.push_back({"luong general",
                 [general](const M& k, const M& v, Index n) { return attn::prepare_memory(k, v, general, n); },
                 [general](const M& q, const M& k, const M& v, const attn::Mask& mask, const attn::Options& o) {
                   return attn::luong(q, k, v, general, mask, o);
                 },
                 dq});
  const auto concat = attn::LuongParams<Scalar>::concat(attn_test::random_matrix<Scalar>(rng, dq + dk, 5),
                                                        attn_test::random_matrix<Scalar>(rng, 1, 5), Scalar(0.8));
  all.push_back({"luong concat g",
                 [concat](const M& k, const M& v, Index n) { return attn::prepare_memory(k, v, concat, n); },
                 [concat](const M& q, const M& k, const M& v, const attn::Mask& mask, const attn::Options& o) {
                   return attn::luong(q, k, v, concat, mask, o);
                 },
                 dq});
  attn::BahdanauParams<Scalar> plain;
  plain.wq = attn_test::random_matrix<Scalar>(rng, dq, 6);
  plain.wk = attn_test::random_matrix<Scalar>(rng, dk, 6);
  plain.v = attn_test::random_matrix<Scalar>(rng, 1, 6);
  all.push_back({"bahdanau",
                 [plain](const M& k, const M& v, Index n) { return attn::prepare_memory(k, v, plain, n); },
                 [plain](const M& q, const M& k, const M& v, const attn::Mask& mask, const attn::Options& o) {
                   return attn::bahdanau(q, k, v, plain, mask, o);
                 },
                 dq});
  attn::BahdanauParams<Scalar> normalized = plain;
  normalized.normalize = true;
  normalized.g = Scalar(0.6);
  normalized.b = attn_test::random_matrix<Scalar>(rng, 1, 6);
  all.push_back({"bahdanau normalized",
                 [normalized](const M& k, const M& v, Index n) { return attn::prepare_memory(k, v, normalized, n); },
                 [normalized](const M& q, const M& k, const M& v, const attn::Mask& mask, const attn::Options& o) {
                   return attn::bahdanau(q, k, v, normalized, mask, o);
                 },
                 dq});
  return all;
}

const std::vector<Fixture>& monotonic_fixtures() {
  static const std::vector<Fixture> all =
      attn_test::read_fixtures(attn_test::fixture_path("monotonic/monotonic.txt"));
  return all;
}

std::string step_name(const char* what, Index s) { return std::string(what) + "_" + std::to_string(s); }

struct FixtureNoise {
  std::vector<double> values;
  std::size_t next = 0;
  double operator()() {
    if (next >= values.size()) throw std::runtime_error("FixtureNoise: more draws than the fixture holds");
    return values[next++];
  }
};

/// The monotonic memory a mechanism fixture describes.
template <typename Scalar>
attn::Memory<Scalar> fixture_memory(const Fixture& fx, Index n) {
  const Matrix<Scalar> k = fx.matrix("k").cast<Scalar>();
  const Matrix<Scalar> v = fx.matrix("v").cast<Scalar>();
  attn::MonotonicParams<Scalar> m;
  m.mode = fx.probability == "recursive" ? MonotonicMode::recursive
           : fx.probability == "parallel" ? MonotonicMode::parallel
                                          : MonotonicMode::hard;
  m.score_bias = static_cast<Scalar>(fx.scalar("score_bias").value_or(0.0));
  m.sigmoid_noise = static_cast<Scalar>(fx.scalar("sigmoid_noise").value_or(0.0));
  if (fx.mechanism == "bahdanau_monotonic") {
    attn::BahdanauParams<Scalar> p;
    p.wq = fx.matrix("wq").cast<Scalar>();
    p.wk = fx.matrix("wk").cast<Scalar>();
    p.v = fx.matrix("attn_v").cast<Scalar>();
    if (fx.scalar("normalize").value_or(0.0) != 0.0) {
      p.normalize = true;
      p.g = static_cast<Scalar>(*fx.scalar("g"));
      p.b = fx.matrix("b").cast<Scalar>();
    }
    return attn::prepare_memory(k, v, p, n).with_monotonic(m);
  }
  std::optional<Scalar> g;
  if (const auto x = fx.scalar("g")) g = static_cast<Scalar>(*x);
  const auto params = fx.has("w") ? attn::LuongParams<Scalar>::general(fx.matrix("w").cast<Scalar>(), g)
                                  : attn::LuongParams<Scalar>::dot(g);
  return attn::prepare_memory(k, v, params, n).with_monotonic(m);
}

}  // namespace

TEMPLATE_TEST_CASE("attend equals the core kernel for every score and probability function",
                   "[memory][decoding]", float, double) {
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  std::mt19937_64 rng(2024);
  const Index tk = 7;
  const Index dk = 4;
  const Index dv = 3;
  const Matrix<Scalar> k = attn_test::random_matrix<Scalar>(rng, tk, dk);
  const Matrix<Scalar> v = attn_test::random_matrix<Scalar>(rng, tk, dv);
  Index checked = 0;
  for (const auto& mech : mechanisms<Scalar>(rng, dk)) {
    for (const Probability prob : {Probability::softmax, Probability::sparsemax, Probability::hardmax}) {
      for (const Index n : {tk, Index(4), Index(1), Index(0)}) {
        for (const Index b : {Index(1), Index(3)}) {
          INFO(mech.name << " probability " << static_cast<int>(prob) << " length " << n << " rows " << b);
          const Matrix<Scalar> q = attn_test::random_matrix<Scalar>(rng, b, mech.dq, -2.0, 2.0);
          const attn::Memory<Scalar> memory = mech.prepare(k, v, n).with_probability(prob);
          CHECK(memory.length() == n);
          CHECK(memory.max_time() == tk);
          CHECK(memory.query_size() == mech.dq);
          CHECK(memory.value_size() == dv);
          CHECK(memory.probability() == prob);
          CHECK_FALSE(memory.is_monotonic());

          attn::Options options;
          options.probability = prob;
          options.return_scores = true;
          const auto core = mech.core(q, k, v, attn::Mask::key_length(n), options);
          const auto step = attn::attend(memory, q);
          ATTN_CHECK_CLOSE(step.output, core.output, tol);
          ATTN_CHECK_CLOSE(step.weights, core.weights, tol);
          ATTN_CHECK_CLOSE(Matrix<Scalar>(step.scores.leftCols(n)), Matrix<Scalar>(core.scores.leftCols(n)), tol);
          CHECK((step.scores.rightCols(tk - n).array() == -std::numeric_limits<Scalar>::infinity()).all());
          CHECK(step.weights.rightCols(tk - n).isZero(0));
          CHECK(step.fully_masked.matrix() == core.fully_masked.matrix());
          CHECK(step.num_fully_masked() == (n == 0 ? b : 0));

          // into form, workspace reused over several calls
          attn::Workspace<Scalar> ws;
          Matrix<Scalar> context(b, dv);
          Matrix<Scalar> alignment(b, tk);
          for (int rep = 0; rep < 3; ++rep) {
            const Index masked = attn::attend_into(memory, q, context, alignment, ws);
            CHECK(masked == step.num_fully_masked());
            CHECK(context == step.output);
            CHECK(alignment == step.weights);
            CHECK(Matrix<Scalar>(ws.scores()) == step.scores);
          }
          ++checked;
        }
      }
    }
  }
  CHECK(checked == 7 * 3 * 4 * 2);
}

TEMPLATE_TEST_CASE("monotonic memories match the TF-formula fixtures, chained, previous overwritten in place",
                   "[memory][monotonic][fixture]", float, double) {
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  Index checked = 0;
  for (const Fixture& fx : monotonic_fixtures()) {
    if (fx.mechanism == "monotonic_attention") continue;
    ++checked;
    SECTION(fx.name) {
      const auto steps = static_cast<Index>(*fx.scalar("steps"));
      const Index tk = fx.matrix("k").rows();
      const Index n = fx.mask.empty() ? tk : fx.mask.front().args.front();
      const Index b = fx.matrix("q_0").rows();
      const bool noisy = fx.scalar("sigmoid_noise").value_or(0.0) > 0.0;
      const attn::Memory<Scalar> memory = fixture_memory<Scalar>(fx, n);
      REQUIRE(memory.is_monotonic());
      Matrix<Scalar> alignment = memory.initial_alignment(b);
      CHECK(alignment == attn::monotonic_initial_alignment<Scalar>(b, tk));
      Matrix<Scalar> context(b, memory.value_size());
      attn::Workspace<Scalar> ws;
      for (Index s = 0; s < steps; ++s) {
        INFO(fx.name << " step " << s);
        const Matrix<Scalar> q = fx.matrix(step_name("q", s)).cast<Scalar>();
        const Matrix<Scalar> previous = alignment;
        const auto value = noisy ? attn::StepResult<Scalar>() : attn::attend(memory, q, previous);
        if (noisy) {
          FixtureNoise noise;
          const MatrixD& z = fx.matrix(step_name("noise", s));
          for (Index i = 0; i < b; ++i)
            for (Index j = 0; j < n; ++j) noise.values.push_back(z(i, j));
          attn::attend_into(memory, q, alignment, context, alignment, ws, noise);
          CHECK(noise.next == noise.values.size());
        } else {
          attn::attend_into(memory, q, alignment, context, alignment, ws);
          CHECK(value.output == context);
          CHECK(value.weights == alignment);
          ATTN_CHECK_CLOSE(value.leaked, fx.matrix(step_name("leaked", s)), tol);
          ATTN_CHECK_CLOSE(value.expected_position, fx.matrix(step_name("position", s)), tol);
        }
        // TF's score: the energies (the fixture's) plus the score bias.
        ATTN_CHECK_CLOSE(Matrix<Scalar>(ws.scores().leftCols(n)),
                         MatrixD(fx.matrix(step_name("scores", s)).leftCols(n).array() +
                                 fx.scalar("score_bias").value_or(0.0)),
                         tol);
        CHECK(ws.p_choose().rows() == b);
        CHECK(ws.p_choose().rightCols(tk - n).isZero(0));
        if (!noisy) CHECK(Matrix<Scalar>(ws.p_choose()) == value.p_choose);
        ATTN_CHECK_CLOSE(alignment, fx.matrix(step_name("a", s)), tol);
        ATTN_CHECK_CLOSE(context, fx.matrix(step_name("context", s)), tol);
      }
    }
  }
  CHECK(checked == 11);
}

TEMPLATE_TEST_CASE("monotonic memory step equals the value-form mechanisms, beams are independent rows",
                   "[memory][monotonic]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(99);
  const Matrix<Scalar> k = attn_test::random_matrix<Scalar>(rng, 9, 4);
  const Matrix<Scalar> v = attn_test::random_matrix<Scalar>(rng, 9, 3);
  attn::BahdanauParams<Scalar> params;
  params.wq = attn_test::random_matrix<Scalar>(rng, 5, 6);
  params.wk = attn_test::random_matrix<Scalar>(rng, 4, 6);
  params.v = attn_test::random_matrix<Scalar>(rng, 1, 6, -2, 2);
  for (const MonotonicMode mode : {MonotonicMode::recursive, MonotonicMode::parallel, MonotonicMode::hard}) {
    attn::MonotonicParams<Scalar> m;
    m.mode = mode;
    m.score_bias = Scalar(-0.25);
    const auto memory = attn::prepare_memory(k, v, params, Index(7)).with_monotonic(m);
    Matrix<Scalar> prev = memory.initial_alignment(3);
    for (int s = 0; s < 4; ++s) {
      const Matrix<Scalar> q = attn_test::random_matrix<Scalar>(rng, 3, 5);
      const auto step = attn::attend(memory, q, prev);
      const auto value = attn::bahdanau_monotonic(q, k, v, prev, params, m, attn::Mask::key_length(7));
      ATTN_CHECK_CLOSE(step.weights, value.weights, attn_test::tolerance<Scalar>());
      ATTN_CHECK_CLOSE(step.output, value.output, attn_test::tolerance<Scalar>());
      CHECK(step.weights.rightCols(2).isZero(0));
      for (Index r = 0; r < 3; ++r) {  // each beam row on its own
        const auto one = attn::attend(memory, Matrix<Scalar>(q.row(r)), Matrix<Scalar>(prev.row(r)));
        ATTN_CHECK_CLOSE(one.weights, Matrix<Scalar>(step.weights.row(r)), attn_test::tolerance<Scalar>());
      }
      prev = step.weights;
    }
  }
}

TEMPLATE_TEST_CASE("attend: all rows in one step give the full call's bits with few rows, padding and a last row alone",
                   "[memory]", float, double) {
  // Found by a randomized comparison of the forms: a few rows (fewer than a packet) against a
  // memory with padding went to Eigen's product, whose bits follow the shape (n columns here, Tk
  // in the full call); and B = 257 scored its last row with the GEMM where the full call's last
  // block of one row takes the one-row kernel.
  using S = TestType;
  std::mt19937_64 rng(21);
  for (const Index tk : {Index(7), Index(129)}) {
    const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 16);
    const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, 5);
    const auto general = attn::LuongParams<S>::general(attn_test::random_matrix<S>(rng, 16, 16));
    for (const Index n : {tk - 5, tk}) {
      const attn::Mask mask = attn::Mask::key_length(n);
      for (const Index b : {Index(2), Index(3), Index(5), Index(15), Index(257), Index(513)}) {
        INFO("Tk " << tk << " n " << n << " B " << b);
        const Matrix<S> q = attn_test::random_matrix<S>(rng, b, 16);
        const auto dot = attn::attend(attn::prepare_memory(k, v, attn::ScaledDotProductParams{}, n), q);
        const auto full_dot = attn::scaled_dot_product(q, k, v, mask);
        const auto luong = attn::attend(attn::prepare_memory(k, v, general, n), q);
        const auto full_luong = attn::luong(q, k, v, general, mask);
        if (attn::detail::gemm_own_for<S>()) {
          CHECK(attn_test::same_bits(dot.weights, full_dot.weights));
          CHECK(attn_test::same_bits(dot.output, full_dot.output));
          CHECK(attn_test::same_bits(luong.weights, full_luong.weights));
          CHECK(attn_test::same_bits(luong.output, full_luong.output));
        } else {  // oneDNN's bits follow the shape: the step's one product, the call's blocks
          ATTN_CHECK_CLOSE(dot.weights, full_dot.weights, attn_test::tolerance<S>());
          ATTN_CHECK_CLOSE(dot.output, full_dot.output, attn_test::tolerance<S>());
          ATTN_CHECK_CLOSE(luong.weights, full_luong.weights, attn_test::tolerance<S>());
          ATTN_CHECK_CLOSE(luong.output, full_luong.output, attn_test::tolerance<S>());
        }
      }
    }
  }
}

TEST_CASE("attend: padding never reaches the context, length 0 is fully masked", "[memory][mask]") {
  std::mt19937_64 rng(8);
  Eigen::MatrixXd k = attn_test::random_matrix(rng, 5, 3);
  Eigen::MatrixXd v = attn_test::random_matrix(rng, 5, 2);
  k.bottomRows(2).setConstant(std::numeric_limits<double>::quiet_NaN());
  v.bottomRows(2).setConstant(std::numeric_limits<double>::infinity());
  const Eigen::MatrixXd q = attn_test::random_matrix(rng, 1, 3);
  attn::BahdanauParams<double> p;
  p.wq = attn_test::random_matrix(rng, 3, 4);
  p.wk = attn_test::random_matrix(rng, 3, 4);
  p.v = attn_test::random_matrix(rng, 1, 4);
  for (const bool monotonic : {false, true}) {
    auto memory = attn::prepare_memory(k, v, p, Index(3));
    if (monotonic) memory.with_monotonic();
    const auto r = attn::attend(memory, q, memory.initial_alignment());
    CHECK(r.output.allFinite());
    CHECK(r.weights.allFinite());
    CHECK(r.weights.rightCols(2).isZero(0));
    CHECK(r.num_fully_masked() == 0);
  }
  auto empty = attn::prepare_memory(k, v, p, Index(0));
  const auto r = attn::attend(empty, q);
  CHECK(r.output.isZero(0));
  CHECK(r.weights.isZero(0));
  CHECK(r.fully_masked(0));
  CHECK(r.leaked(0) == 1.0);
  CHECK(std::isnan(r.expected_position(0)));
  empty.with_monotonic();
  const auto m = attn::attend(empty, q, empty.initial_alignment());
  CHECK(m.output.isZero(0));
  CHECK(m.weights.isZero(0));
  CHECK(m.num_fully_masked() == 1);
}

TEST_CASE("Memory: keys are projected once, structured binding, initial alignments", "[memory]") {
  std::mt19937_64 rng(1);
  const Eigen::MatrixXd k = attn_test::random_matrix(rng, 4, 3);
  const Eigen::MatrixXd v = attn_test::random_matrix(rng, 4, 2);
  attn::BahdanauParams<double> p;
  p.wq = attn_test::random_matrix(rng, 2, 5);
  p.wk = attn_test::random_matrix(rng, 3, 5);
  p.v = attn_test::random_matrix(rng, 1, 5);
  const auto memory = attn::prepare_memory(k, v, p);
  CHECK(memory.score() == attn::MemoryScore::bahdanau);
  CHECK(memory.keys().isApprox(k * p.wk));
  CHECK(memory.values() == v);
  CHECK(memory.length() == 4);
  CHECK(*memory.mask().length() == 4);
  const auto general = attn::LuongParams<double>::general(attn_test::random_matrix(rng, 2, 3));
  CHECK(attn::prepare_memory(k, v, general).keys().isApprox(k * general.w.transpose()));
  // TF LuongAttention's memory_layer kernel goes in as it is: the prepared keys are memory·W_m.
  const Eigen::MatrixXd memory_kernel = general.w.transpose();
  CHECK(attn::prepare_memory(k, v, attn::LuongParams<double>::memory_layer(memory_kernel)).keys() ==
        attn::prepare_memory(k, v, general).keys());
  CHECK(attn::prepare_memory(k, v, attn::LuongParams<double>::memory_layer(memory_kernel)).keys().isApprox(k * memory_kernel));
  CHECK(attn::prepare_memory(k, v, attn::ScaledDotProductParams{}).score() == attn::MemoryScore::scaled_dot_product);
  CHECK(attn::prepare_memory(k, v, general).score() == attn::MemoryScore::luong);

  const Eigen::MatrixXd q = attn_test::random_matrix(rng, 1, 2);
  auto [output, weights] = attn::attend(memory, q);
  CHECK(output.rows() == 1);
  CHECK(output.cols() == 2);
  CHECK(weights.sum() == Approx(1.0));

  CHECK(memory.initial_alignment(2).isZero(0));
  CHECK(memory.initial_alignment(2).cols() == 4);
  auto mono = attn::prepare_memory(k, v, p);
  mono.with_monotonic({MonotonicMode::recursive, -1.0, 0.0});
  CHECK(mono.monotonic().mode == MonotonicMode::recursive);
  CHECK(mono.monotonic().score_bias == -1.0);
  Eigen::MatrixXd a = Eigen::MatrixXd::Constant(2, 4, 3.0);
  mono.initial_alignment_into(a);
  CHECK(a == attn::monotonic_initial_alignment<double>(2, 4));
  mono.with_probability(Probability::sparsemax);
  CHECK_FALSE(mono.is_monotonic());
  CHECK(mono.probability() == Probability::sparsemax);
}

TEST_CASE("Memory and attend argument checks", "[memory][errors]") {
  const Eigen::MatrixXd k = Eigen::MatrixXd::Ones(3, 3);
  const Eigen::MatrixXd v = Eigen::MatrixXd::Ones(3, 2);
  const attn::ScaledDotProductParams sdp;
  CHECK_THROWS_WITH(attn::prepare_memory(k, Eigen::MatrixXd(2, 2), sdp),
                    "attn::prepare_memory: v.rows() (2) must equal k.rows() (3)");
  CHECK_THROWS_WITH(attn::prepare_memory(k, v, sdp, Index(-1)), "attn::prepare_memory: length (-1) must be >= 0");
  CHECK_THROWS_WITH(attn::prepare_memory(k, v, sdp, Index(4)),
                    "attn::prepare_memory: length (4) exceeds the number of keys (3)");
  CHECK_THROWS_WITH(attn::prepare_memory(k, v, attn::ScaledDotProductParams{std::nan("")}),
                    "attn::prepare_memory: params.scale must be finite");
  CHECK_THROWS_WITH(attn::prepare_memory(k, v, attn::LuongParams<double>::general(Eigen::MatrixXd(3, 2))),
                    Catch::StartsWith("attn::prepare_memory: params.w (3x2) must have the query's width (3) in rows and "
                                     "k.cols() (3) in columns (general's W is dq×dk)"));
  CHECK_THROWS_WITH(attn::prepare_memory(k, v, attn::LuongParams<double>::concat(Eigen::MatrixXd(5, 4),
                                                                                 Eigen::RowVectorXd(3))),
                    "attn::prepare_memory: params.w (5x4) must be (5x3)");
  CHECK_THROWS_WITH(attn::prepare_memory(k, v, attn::LuongParams<double>::concat(Eigen::MatrixXd(3, 4),
                                                                                 Eigen::RowVectorXd(4))),
                    "attn::prepare_memory: params.w.rows() (3) must exceed k.cols() (3) for concat");
  // concat's v is a vector (a row as a .npy of (units,) reads, or a column as Eigen::VectorXd and
  // a Keras Dense(1) kernel are); a matrix is refused by the factory, naming it, where Eigen's
  // conversion to a row vector would abort.
  CHECK_THROWS_WITH(attn::LuongParams<double>::concat(Eigen::MatrixXd(5, 4), Eigen::MatrixXd(4, 2)),
                    "attn::LuongParams::concat: v (4x2) must be a vector (1xn or nx1) or empty; the arguments are "
                    "w ((dq+dk)xunits), then v (1xunits)");
  CHECK(attn::LuongParams<double>::concat(Eigen::MatrixXd(5, 4), Eigen::MatrixXd::Ones(1, 4)).v ==
        Eigen::RowVectorXd::Ones(4));
  CHECK(attn::LuongParams<double>::concat(Eigen::MatrixXd(5, 4), Eigen::VectorXd::Ones(4)).v ==
        Eigen::RowVectorXd::Ones(4));
  attn::BahdanauParams<double> p;
  p.wq = Eigen::MatrixXd::Ones(2, 4);
  p.wk = Eigen::MatrixXd::Ones(2, 4);
  p.v = Eigen::RowVectorXd::Ones(4);
  CHECK_THROWS_WITH(attn::prepare_memory(k, v, p), Catch::StartsWith("attn::prepare_memory: k.cols() (3) must equal params.wk.rows() (2): the keys are Tk×dk"));
  p.wk = Eigen::MatrixXd::Ones(3, 5);
  CHECK_THROWS_WITH(attn::prepare_memory(k, v, p),
                    "attn::prepare_memory: params.wk.cols() (5) must equal params.v.cols() (4)" +
                        std::string(" (wq is dq×units, wk dk×units and v 1×units: TF's query_layer, "
                                    "memory_layer and attention_v as they are, inputs×outputs)"));

  auto memory = attn::prepare_memory(k, v, sdp);
  attn::Workspace<double> ws;
  Eigen::MatrixXd context(1, 2), alignment(1, 3);
  CHECK_THROWS_WITH(attn::attend_into(memory, Eigen::MatrixXd::Ones(1, 2), context, alignment, ws),
                    "attn::attend: query.cols() (2) must equal memory.query_size() (3)");
  Eigen::MatrixXd bad_context(1, 3), bad_alignment(2, 3);
  CHECK_THROWS_WITH(attn::attend_into(memory, Eigen::MatrixXd::Ones(1, 3), bad_context, alignment, ws),
                    "attn::attend: context (1x3) must be (1x2)");
  CHECK_THROWS_WITH(attn::attend_into(memory, Eigen::MatrixXd::Ones(1, 3), context, bad_alignment, ws),
                    "attn::attend: alignment (2x3) must be (1x3)");
  CHECK_THROWS_WITH(memory.monotonic(), "attn::Memory::monotonic: the memory is not monotonic");
  CHECK_THROWS_WITH(memory.initial_alignment(-1), "attn::Memory::initial_alignment: rows (-1) must be >= 0");
  Eigen::MatrixXd narrow(1, 2);
  CHECK_THROWS_WITH(memory.initial_alignment_into(narrow),
                    "attn::Memory::initial_alignment: alignment (1x2) must be (1x3)");

  attn::MonotonicParams<double> bad;
  bad.sigmoid_noise = -1;
  CHECK_THROWS_WITH(memory.with_monotonic(bad),
                    "attn::Memory::with_monotonic: monotonic sigmoid_noise (-1.000000) must be finite and >= 0");
  bad.sigmoid_noise = 0.5;
  memory.with_monotonic(bad);
  CHECK_THROWS_WITH(attn::attend_into(memory, Eigen::MatrixXd::Ones(1, 3), context, alignment, ws),
                    "attn::attend: a monotonic memory needs the previous alignment (Memory::initial_alignment at "
                    "step 0)");
  CHECK_THROWS_WITH(attn::attend(memory, Eigen::MatrixXd::Ones(1, 3)),
                    "attn::attend: a monotonic memory needs the previous alignment (Memory::initial_alignment at "
                    "step 0)");
  const Eigen::MatrixXd prev = memory.initial_alignment();
  CHECK_THROWS_WITH(attn::attend(memory, Eigen::MatrixXd::Ones(1, 3), prev),
                    "attn::attend: monotonic sigmoid_noise > 0 needs a noise generator (pass a std::mt19937-like "
                    "engine or a callable returning N(0,1) samples)");
  CHECK_THROWS_WITH(attn::attend(memory, Eigen::MatrixXd::Ones(1, 3), Eigen::MatrixXd(1, 2), [] { return 0.0; }),
                    "attn::attend: previous (1x2) must be (1x3)");
  CHECK_NOTHROW(attn::attend(memory, Eigen::MatrixXd::Ones(1, 3), prev, [] { return 0.0; }));
}

TEST_CASE("memory: values_finite looks at the visible value rows only", "[memory]") {
  std::mt19937_64 rng(5);
  const Matrix<double> k = attn_test::random_matrix<double>(rng, 5, 3);
  Matrix<double> v = attn_test::random_matrix<double>(rng, 5, 2);
  const attn::ScaledDotProductParams sdp;
  CHECK(attn::prepare_memory(k, v, sdp).values_finite());
  v(4, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_FALSE(attn::prepare_memory(k, v, sdp).values_finite());
  CHECK(attn::prepare_memory(k, v, sdp, Index(4)).values_finite());  // row 4 is padding
  v(4, 1) = 0.5;
  v(0, 0) = -std::numeric_limits<double>::infinity();
  CHECK_FALSE(attn::prepare_memory(k, v, sdp, Index(4)).values_finite());
}

}  // namespace test_memory
