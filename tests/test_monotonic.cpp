// SPDX-License-Identifier: MIT
// Monotonic attention: monotonic_attention (recursive / parallel / hard) and the Bahdanau- and
// Luong-monotonic mechanisms against float64 NumPy fixtures that follow TF's formulas, chained
// over several steps from the one-hot start (tests/fixtures/monotonic/monotonic.txt, written by
// tests/fixtures/make_monotonic_fixtures.py); parallel-vs-recursive agreement up to Tk = 4096;
// noise sources, statistics and every argument check.
#include "helpers.hpp"

#include "attn_core.hpp"  // the kernels; no exporter
#include <attn/monotonic.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_monotonic: the suite is a unity build.
namespace test_monotonic {

namespace {

using attn::Index;
using attn::Matrix;
using attn::MonotonicMode;
using attn_test::Fixture;
using attn_test::MatrixD;

const std::vector<Fixture>& monotonic_fixtures() {
  static const std::vector<Fixture> all =
      attn_test::read_fixtures(attn_test::fixture_path("monotonic/monotonic.txt"));
  return all;
}

MonotonicMode fixture_mode(const Fixture& fx) {
  if (fx.probability == "recursive") return MonotonicMode::recursive;
  if (fx.probability == "parallel") return MonotonicMode::parallel;
  if (fx.probability == "hard") return MonotonicMode::hard;
  throw std::runtime_error("fixture " + fx.name + ": unknown mode " + fx.probability);
}

std::string step_name(const char* what, Index s) { return std::string(what) + "_" + std::to_string(s); }

/// Pre-sigmoid noise read from a fixture: the values of `noise` at visible keys, row-major.
struct FixtureNoise {
  std::vector<double> values;
  std::size_t next = 0;
  double operator()() {
    if (next >= values.size()) throw std::runtime_error("FixtureNoise: more draws than the fixture holds");
    return values[next++];
  }
};

FixtureNoise fixture_noise(const MatrixD& noise, Index length) {
  FixtureNoise n;
  for (Index i = 0; i < noise.rows(); ++i)
    for (Index j = 0; j < length; ++j) n.values.push_back(noise(i, j));
  return n;
}

/// Columns [0, n) of a matrix (the visible part of a scores matrix).
MatrixD visible_cols(const MatrixD& m, Index n) { return m.leftCols(n); }

template <typename Scalar>
attn::MonotonicParams<Scalar> fixture_params(const Fixture& fx) {
  attn::MonotonicParams<Scalar> m;
  m.mode = fixture_mode(fx);
  m.score_bias = static_cast<Scalar>(fx.scalar("score_bias").value_or(0.0));
  m.sigmoid_noise = static_cast<Scalar>(fx.scalar("sigmoid_noise").value_or(0.0));
  return m;
}

/// One step of a mechanism fixture through the value forms.
template <typename Scalar, typename Noise>
attn::MonotonicResult<Scalar> run_mechanism(const Fixture& fx, const Matrix<Scalar>& q, const Matrix<Scalar>& prev,
                                            Noise&& noise) {
  const Matrix<Scalar> k = fx.matrix("k").cast<Scalar>();
  const Matrix<Scalar> v = fx.matrix("v").cast<Scalar>();
  const attn::Mask mask = attn_test::fixture_mask(fx);
  const auto m = fixture_params<Scalar>(fx);
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
    return attn::bahdanau_monotonic(q, k, v, prev, p, m, mask, noise);
  }
  std::optional<Scalar> g;
  if (const auto x = fx.scalar("g")) g = static_cast<Scalar>(*x);
  const auto params = fx.has("w") ? attn::LuongParams<Scalar>::general(fx.matrix("w").cast<Scalar>(), g)
                                  : attn::LuongParams<Scalar>::dot(g);
  return attn::luong_monotonic(q, k, v, prev, params, m, mask, noise);
}

/// Largest |a - b| over two matrices of one shape.
template <typename DA, typename DB>
double max_abs_diff(const Eigen::MatrixBase<DA>& a, const Eigen::MatrixBase<DB>& b) {
  return (a.template cast<double>() - b.template cast<double>()).cwiseAbs().maxCoeff();
}

/// c_j = prod_{k<j} (1 - p_k) in double; true when every key holding previous mass has c_j >= floor
/// (TF's clip(c, 1e-10, 1) then never changes the parallel result).
template <typename Scalar>
bool clip_inactive(const Matrix<Scalar>& p, const Matrix<Scalar>& prev, double floor = 1e-10) {
  for (Index i = 0; i < p.rows(); ++i) {
    double c = 1;
    for (Index j = 0; j < p.cols(); ++j) {
      if (prev(i, j) != Scalar(0) && c < floor) return false;
      c *= 1.0 - static_cast<double>(p(i, j));
    }
  }
  return true;
}

template <typename Scalar>
Matrix<Scalar> uniform(std::mt19937_64& rng, Index rows, Index cols, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  Matrix<Scalar> m(rows, cols);
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < rows; ++i) m(i, j) = static_cast<Scalar>(d(rng));
  return m;
}

/// Log-uniform in [lo, hi] (both > 0).
template <typename Scalar>
Matrix<Scalar> log_uniform(std::mt19937_64& rng, Index rows, Index cols, double lo, double hi) {
  std::uniform_real_distribution<double> d(std::log(lo), std::log(hi));
  Matrix<Scalar> m(rows, cols);
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < rows; ++i) m(i, j) = static_cast<Scalar>(std::exp(d(rng)));
  return m;
}

}  // namespace

TEMPLATE_TEST_CASE("monotonic_attention matches the TF-formula fixtures, chained from one-hot", "[monotonic][fixture]",
                   float, double) {
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  Index checked = 0;
  for (const Fixture& fx : monotonic_fixtures()) {
    if (fx.mechanism != "monotonic_attention") continue;
    SECTION(fx.name) {
      const MonotonicMode mode = fixture_mode(fx);
      const auto steps = static_cast<Index>(*fx.scalar("steps"));
      const MatrixD& p0 = fx.matrix("p_0");
      Matrix<Scalar> prev = attn::monotonic_initial_alignment<Scalar>(p0.rows(), p0.cols());
      Matrix<Scalar> in_place = prev;
      for (Index s = 0; s < steps; ++s) {
        INFO(fx.name << " step " << s);
        const Matrix<Scalar> p = fx.matrix(step_name("p", s)).cast<Scalar>();
        const Matrix<Scalar> a = attn::monotonic_attention(p, prev, mode);
        ATTN_CHECK_CLOSE(a, fx.matrix(step_name("a", s)), tol);
        // into form, writing over the previous alignment
        attn::monotonic_attention_into(p, in_place, mode, in_place);
        CHECK(in_place == a);
        prev = a;
      }
    }
    ++checked;
  }
  CHECK(checked == 9);
}

TEMPLATE_TEST_CASE("Bahdanau- and Luong-monotonic match the TF-formula fixtures", "[monotonic][fixture]", float,
                   double) {
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
      Matrix<Scalar> prev = attn::monotonic_initial_alignment<Scalar>(b, tk);
      for (Index s = 0; s < steps; ++s) {
        INFO(fx.name << " step " << s);
        const Matrix<Scalar> q = fx.matrix(step_name("q", s)).cast<Scalar>();
        attn::MonotonicResult<Scalar> r;
        if (noisy) {
          FixtureNoise noise = fixture_noise(fx.matrix(step_name("noise", s)), n);
          r = run_mechanism<Scalar>(fx, q, prev, noise);
          CHECK(noise.next == noise.values.size());
        } else {
          r = run_mechanism<Scalar>(fx, q, prev, attn::NoNoise{});
        }
        // scores are TF's score: the energies plus the score bias, -inf on masked keys (the
        // fixture stores the energies before the bias).
        const double bias = fx.scalar("score_bias").value_or(0.0);
        const MatrixD expected_scores = visible_cols(fx.matrix(step_name("scores", s)), n).array() + bias;
        ATTN_CHECK_CLOSE(MatrixD(r.scores.template cast<double>().leftCols(n)), expected_scores, tol);
        CHECK((r.scores.rightCols(tk - n).array() == -std::numeric_limits<Scalar>::infinity()).all());
        // p_choose: sigmoid of that score (plus the fixture's noise), 1[score > 0] in hard mode.
        REQUIRE(r.p_choose.rows() == b);
        REQUIRE(r.p_choose.cols() == tk);
        CHECK(r.p_choose.rightCols(tk - n).isZero(0));
        MatrixD x = expected_scores;
        if (noisy) x += *fx.scalar("sigmoid_noise") * fx.matrix(step_name("noise", s)).leftCols(n);
        const MatrixD expected_p = fx.probability == "hard"
                                       ? MatrixD((x.array() > 0.0).cast<double>())
                                       : MatrixD(1.0 / (1.0 + (-x.array()).exp()));
        ATTN_CHECK_CLOSE(MatrixD(r.p_choose.template cast<double>().leftCols(n)), expected_p, tol);
        ATTN_CHECK_CLOSE(r.weights, fx.matrix(step_name("a", s)), tol);
        ATTN_CHECK_CLOSE(r.output, fx.matrix(step_name("context", s)), tol);
        ATTN_CHECK_CLOSE(r.leaked, fx.matrix(step_name("leaked", s)), tol);
        ATTN_CHECK_CLOSE(r.expected_position, fx.matrix(step_name("position", s)), tol);
        CHECK(r.weights.rightCols(tk - n).isZero(0));
        CHECK(r.num_fully_masked() == 0);
        prev = r.weights;
      }
    }
  }
  CHECK(checked == 11);
}

TEMPLATE_TEST_CASE("parallel agrees with recursive wherever TF's clip does not apply, up to Tk = 4096",
                   "[monotonic][property]", float, double) {
  using Scalar = TestType;
  const double tol = std::is_same<Scalar, float>::value ? 1e-4 : 1e-9;
  std::mt19937_64 rng(4096);
  double worst = 0;
  Index cases = 0;
  auto check = [&](const Matrix<Scalar>& p, const Matrix<Scalar>& prev, const char* what) {
    INFO(what << " Tk = " << p.cols());
    REQUIRE(clip_inactive(p, prev));
    const Matrix<Scalar> rec = attn::monotonic_attention(p, prev, MonotonicMode::recursive);
    const Matrix<Scalar> par = attn::monotonic_attention(p, prev, MonotonicMode::parallel);
    CHECK(rec.allFinite());
    CHECK(par.allFinite());
    const double diff = max_abs_diff(par, rec);
    worst = std::max(worst, diff);
    CHECK(diff <= tol);
    ++cases;
    return rec;
  };
  for (const Index tk : {Index(1), Index(2), Index(17), Index(512), Index(4096)}) {
    const Matrix<Scalar> start = attn::monotonic_initial_alignment<Scalar>(2, tk);
    // first step from the one-hot start: any p in [1e-6, 1 - 1e-6]
    check(uniform<Scalar>(rng, 2, tk, 1e-6, 1 - 1e-6), start, "uniform p");
    check(log_uniform<Scalar>(rng, 2, tk, 1e-6, 1e-1), start, "log-uniform small p");
    check(Matrix<Scalar>((Scalar(1) - log_uniform<Scalar>(rng, 2, tk, 1e-6, 1e-1).array()).matrix()), start,
          "p near 1");
    check(Matrix<Scalar>::Constant(2, tk, Scalar(1e-6)), start, "p = 1e-6");
    check(Matrix<Scalar>::Constant(2, tk, Scalar(1 - 1e-6)), start, "p = 1 - 1e-6");
    Matrix<Scalar> alternating(2, tk);
    for (Index j = 0; j < tk; ++j) alternating.col(j).setConstant(j % 2 ? Scalar(1 - 1e-6) : Scalar(1e-6));
    check(alternating, start, "alternating extremes");
    // chained steps with small p: c_j = prod (1 - p) stays above 1e-10 over 4096 keys
    Matrix<Scalar> prev = start;
    for (int s = 0; s < 4; ++s) prev = check(uniform<Scalar>(rng, 2, tk, 1e-6, 5e-3), prev, "chained small p");
    // previous mass spread over a prefix [0, K] of small p, then any p in [1e-6, 1 - 1e-6]
    const Index k_last = std::max<Index>(0, tk / 3);
    Matrix<Scalar> spread = Matrix<Scalar>::Zero(2, tk);
    spread.leftCols(k_last + 1) = uniform<Scalar>(rng, 2, k_last + 1, 0.0, 1.0);
    for (Index i = 0; i < 2; ++i) spread.row(i) /= spread.row(i).sum() * Scalar(1.25);
    Matrix<Scalar> p = uniform<Scalar>(rng, 2, tk, 1e-6, 1 - 1e-6);
    p.leftCols(k_last) = log_uniform<Scalar>(rng, 2, k_last, 1e-6, 1e-3);
    check(p, spread, "prefix mass, then any p");
  }
  CHECK(cases == 5 * 11);
  INFO("worst |parallel - recursive| = " << worst);
  CHECK(worst <= tol);
}

TEMPLATE_TEST_CASE("parallel stays finite everywhere, and where TF's clip applies it returns less mass",
                   "[monotonic][property]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(77);
  // chained steps with p anywhere in [1e-6, 1 - 1e-6], plus exact 0 and 1: finite, sum <= 1
  Matrix<Scalar> prev_par = attn::monotonic_initial_alignment<Scalar>(3, 4096);
  Matrix<Scalar> prev_rec = prev_par;
  for (int s = 0; s < 6; ++s) {
    Matrix<Scalar> p = uniform<Scalar>(rng, 3, 4096, 1e-6, 1 - 1e-6);
    if (s == 2) p.row(1).setConstant(Scalar(1));
    if (s == 3) p.row(2).setZero();
    if (s == 4) p.row(0).setConstant(Scalar(1e-6));
    prev_par = attn::monotonic_attention(p, prev_par, MonotonicMode::parallel);
    prev_rec = attn::monotonic_attention(p, prev_rec, MonotonicMode::recursive);
    INFO("step " << s);
    CHECK(prev_par.allFinite());
    CHECK(prev_rec.allFinite());
    CHECK((prev_par.array() >= Scalar(0)).all());
    CHECK((prev_par.rowwise().sum().array() <= Scalar(1) + Scalar(1e-5)).all());
    CHECK((prev_rec.rowwise().sum().array() <= Scalar(1) + Scalar(1e-5)).all());
  }

  // The documented difference: previous mass at key 3 while c_3 = (1 - 0.99999)^3 = 1e-15 < 1e-10.
  Matrix<Scalar> prev = Matrix<Scalar>::Zero(1, 6);
  prev(0, 3) = Scalar(1);
  const Matrix<Scalar> p = Matrix<Scalar>::Constant(1, 6, Scalar(0.99999));
  const Matrix<Scalar> rec = attn::monotonic_attention(p, prev, MonotonicMode::recursive);
  const Matrix<Scalar> par = attn::monotonic_attention(p, prev, MonotonicMode::parallel);
  CHECK_FALSE(clip_inactive(p, prev));
  CHECK(rec(0, 3) == Approx(0.99999).epsilon(1e-6));  // exact: the mass stops at key 3
  CHECK(par.allFinite());
  CHECK(par(0, 3) < Scalar(1e-3) * rec(0, 3));         // clipped: scaled by c_3 / 1e-10
  CHECK((par.array() <= rec.array() + Scalar(1e-12)).all());
}

TEST_CASE("monotonic_attention: hand-computed values for the three modes", "[monotonic]") {
  Eigen::MatrixXd prev(1, 4);
  prev << 1, 0, 0, 0;
  Eigen::MatrixXd p(1, 4);
  p << 0.5, 0.5, 0.5, 0.5;
  Eigen::MatrixXd expected(1, 4);
  expected << 0.5, 0.25, 0.125, 0.0625;
  CHECK(attn::monotonic_attention(p, prev, MonotonicMode::recursive).isApprox(expected, 1e-15));
  CHECK(attn::monotonic_attention(p, prev, MonotonicMode::parallel).isApprox(expected, 1e-15));

  // previous attention split over keys 0 and 2: q = [0.5, 0.25, 0.625, 0.3125]
  prev << 0.5, 0, 0.5, 0;
  expected << 0.25, 0.125, 0.3125, 0.15625;
  CHECK(attn::monotonic_attention(p, prev, MonotonicMode::recursive).isApprox(expected, 1e-15));
  CHECK(attn::monotonic_attention(p, prev, MonotonicMode::parallel).isApprox(expected, 1e-15));

  // hard: attended key 1 last step; keys 0 and 3 would stop, key 0 is behind: stop at 3
  prev << 0, 1, 0, 0;
  p << 1, 0, 0, 1;
  expected << 0, 0, 0, 1;
  CHECK(attn::monotonic_attention(p, prev, MonotonicMode::hard) == expected);
  p << 1, 1, 0, 1;  // stays at key 1
  expected << 0, 1, 0, 0;
  CHECK(attn::monotonic_attention(p, prev, MonotonicMode::hard) == expected);
  p << 1, 0, 0, 0;  // nothing at or after key 1 stops: all mass leaks
  CHECK(attn::monotonic_attention(p, prev, MonotonicMode::hard).isZero(0));
}

TEST_CASE("monotonic hard mode: the attended key never moves backwards", "[monotonic][property]") {
  std::mt19937_64 rng(5);
  std::bernoulli_distribution coin(0.3);
  Eigen::MatrixXd prev = attn::monotonic_initial_alignment<double>(4, 20);
  Eigen::VectorXi last = Eigen::VectorXi::Zero(4);
  for (int s = 0; s < 10; ++s) {
    Eigen::MatrixXd p(4, 20);
    for (Index i = 0; i < 4; ++i)
      for (Index j = 0; j < 20; ++j) p(i, j) = coin(rng) ? 1.0 : 0.0;
    const Eigen::MatrixXd a = attn::monotonic_attention(p, prev, MonotonicMode::hard);
    for (Index i = 0; i < 4; ++i) {
      const double sum = a.row(i).sum();
      CHECK((sum == 0.0 || sum == 1.0));
      CHECK(((a.row(i).array() == 0.0) || (a.row(i).array() == 1.0)).all());
      if (sum == 1.0) {
        Index j = 0;
        a.row(i).maxCoeff(&j);
        CHECK(j >= last(i));
        last(i) = static_cast<int>(j);
      }
    }
    prev = a;
  }
}

TEST_CASE("alignment_stats: leaked mass and expected position", "[monotonic]") {
  Eigen::MatrixXd a(3, 4);
  a << 0.5, 0.25, 0.125, 0.0625,  //
      0, 0, 0, 0,                  //
      0, 0, 1, 0;
  const auto s = attn::alignment_stats(a);
  CHECK(s.leaked(0) == Approx(0.0625));
  CHECK(s.expected_position(0) == Approx((0.25 + 0.25 + 0.1875) / 0.9375));
  CHECK(s.leaked(1) == 1.0);
  CHECK(std::isnan(s.expected_position(1)));
  CHECK(s.leaked(2) == 0.0);
  CHECK(s.expected_position(2) == 2.0);

  Eigen::VectorXd leaked(3), position(3);
  attn::alignment_stats_into(a, leaked, position);
  CHECK(leaked == s.leaked);
  Eigen::VectorXd wrong(2);
  CHECK_THROWS_WITH(attn::alignment_stats_into(a, wrong, position),
                    "attn::alignment_stats: leaked (2x1) must be (3x1)");
  CHECK_THROWS_WITH(attn::alignment_stats_into(a, leaked, wrong),
                    "attn::alignment_stats: expected_position (2x1) must be (3x1)");
}

TEST_CASE("monotonic mechanisms: masking, structured binding, initial alignment", "[monotonic]") {
  std::mt19937_64 rng(11);
  const Eigen::MatrixXd q = attn_test::random_matrix(rng, 2, 3);
  Eigen::MatrixXd k = attn_test::random_matrix(rng, 5, 3);
  Eigen::MatrixXd v = attn_test::random_matrix(rng, 5, 2);
  k.row(4).setConstant(std::numeric_limits<double>::quiet_NaN());
  v.row(4).setConstant(std::numeric_limits<double>::infinity());
  const Eigen::MatrixXd prev = attn::monotonic_initial_alignment<double>(2, 5);
  CHECK(prev.col(0).isOnes(0));
  CHECK(prev.rightCols(4).isZero(0));
  CHECK(attn::monotonic_initial_alignment<float>(1, 0).size() == 0);

  attn::MonotonicParams<double> m;
  m.mode = MonotonicMode::recursive;
  auto [out, w] = attn::luong_monotonic(q, k, v, prev, attn::LuongParams<double>::dot(), m, attn::Mask::key_length(4));
  CHECK(out.allFinite());
  CHECK(w.col(4).isZero(0));
  CHECK(w.allFinite());

  // A window mask hides keys; hidden keys get p = 0 and the mass flows past them.
  const auto r = attn::luong_monotonic(q, k.topRows(4), v.topRows(4), prev.leftCols(4),
                                       attn::LuongParams<double>::dot(), m, attn::Mask::window(0, 0));
  CHECK(r.weights(0, 1) == 0.0);
  CHECK(r.weights(1, 0) == 0.0);  // row 1 sees only key 1
  CHECK(r.num_fully_masked() == 0);

  // A fully masked row: zero weights and output, flagged, all mass leaked.
  const auto z = attn::luong_monotonic(q, k.topRows(4), v.topRows(4), prev.leftCols(4),
                                       attn::LuongParams<double>::dot(), m, attn::Mask::key_length(0));
  CHECK(z.weights.isZero(0));
  CHECK(z.output.isZero(0));
  CHECK(z.num_fully_masked() == 2);
  CHECK(z.leaked.isOnes(0));
}

TEST_CASE("monotonic noise: a std::mt19937 engine and a callable", "[monotonic]") {
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd q = attn_test::random_matrix(rng, 2, 3);
  const Eigen::MatrixXd k = attn_test::random_matrix(rng, 6, 3);
  const Eigen::MatrixXd v = attn_test::random_matrix(rng, 6, 2);
  const Eigen::MatrixXd prev = attn::monotonic_initial_alignment<double>(2, 6);
  attn::MonotonicParams<double> m;
  m.mode = MonotonicMode::parallel;
  m.score_bias = -0.5;
  m.sigmoid_noise = 2.0;
  const auto dot = attn::LuongParams<double>::dot();
  const attn::Mask mask = attn::Mask::key_length(5);

  // Expected: the same engine through std::normal_distribution<double>, visible keys, row-major.
  std::mt19937 engine(123);
  const auto r = attn::luong_monotonic(q, k, v, prev, dot, m, mask, engine);
  std::mt19937 replay(123);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd p = Eigen::MatrixXd::Zero(2, 6);
  const Eigen::MatrixXd e = q * k.transpose();
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 5; ++j) p(i, j) = 1.0 / (1.0 + std::exp(-(e(i, j) - 0.5 + 2.0 * normal(replay))));
  ATTN_CHECK_CLOSE(r.weights, attn::monotonic_attention(p, prev, MonotonicMode::parallel), 1e-14);
  CHECK(engine == replay);  // the caller's engine advanced by exactly the draws made

  // A callable returning N(0,1) samples; a different engine seed changes the result.
  int calls = 0;
  const auto c = attn::luong_monotonic(q, k, v, prev, dot, m, mask, [&calls] {
    ++calls;
    return 0.0;
  });
  CHECK(calls == 10);
  m.sigmoid_noise = 0;
  ATTN_CHECK_CLOSE(c.weights, attn::luong_monotonic(q, k, v, prev, dot, m, mask).weights, 1e-15);

  // Hard mode with noise thresholds the noisy energy.
  m.mode = MonotonicMode::hard;
  m.sigmoid_noise = 1.0;
  const auto h = attn::luong_monotonic(q, k, v, prev, dot, m, mask, [] { return 100.0; });
  Eigen::MatrixXd first = Eigen::MatrixXd::Zero(2, 6);
  first.col(0).setOnes();
  CHECK(h.weights == first);  // every key would stop: the first one does
}

TEST_CASE("monotonic argument checks", "[monotonic][errors]") {
  const Eigen::MatrixXd p = Eigen::MatrixXd::Constant(2, 3, 0.5);
  const Eigen::MatrixXd prev = attn::monotonic_initial_alignment<double>(2, 3);
  Eigen::MatrixXd out(2, 3);
  CHECK_THROWS_WITH(attn::monotonic_attention(p, Eigen::MatrixXd(2, 4), MonotonicMode::parallel),
                    "attn::monotonic_attention: previous (2x4) must be (2x3)");
  Eigen::MatrixXd bad_out(1, 3);
  CHECK_THROWS_WITH(attn::monotonic_attention_into(p, prev, MonotonicMode::parallel, bad_out),
                    "attn::monotonic_attention: out (1x3) must be (2x3)");
  CHECK_THROWS_WITH(attn::monotonic_attention(p, prev, static_cast<MonotonicMode>(7)),
                    "attn::monotonic_attention: mode (7) must be recursive, parallel or hard");
  CHECK_THROWS_AS(attn::monotonic_initial_alignment<double>(-1, 3), attn::invalid_argument);
  CHECK_THROWS_WITH(attn::monotonic_initial_alignment<double>(1, -3),
                    "attn::monotonic_initial_alignment: shape (1x-3) must not be negative");

  const Eigen::MatrixXd q = Eigen::MatrixXd::Ones(2, 3);
  const Eigen::MatrixXd k = Eigen::MatrixXd::Ones(3, 3);
  const Eigen::MatrixXd v = Eigen::MatrixXd::Ones(3, 2);
  attn::MonotonicParams<double> m;
  m.sigmoid_noise = 1.0;
  const auto dot = attn::LuongParams<double>::dot();
  CHECK_THROWS_WITH(attn::luong_monotonic(q, k, v, prev, dot, m),
                    "attn::luong_monotonic: monotonic sigmoid_noise > 0 needs a noise generator (pass a "
                    "std::mt19937-like engine or a callable returning N(0,1) samples)");
  m.sigmoid_noise = -1.0;
  CHECK_THROWS_WITH(attn::luong_monotonic(q, k, v, prev, dot, m),
                    "attn::luong_monotonic: monotonic sigmoid_noise (-1.000000) must be finite and >= 0");
  m.sigmoid_noise = 0.0;
  m.score_bias = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(attn::luong_monotonic(q, k, v, prev, dot, m),
                    "attn::luong_monotonic: monotonic score_bias must be finite");
  m.score_bias = 0.0;
  CHECK_THROWS_WITH(attn::luong_monotonic(q, k, v, Eigen::MatrixXd(2, 2), dot, m),
                    "attn::luong_monotonic: previous (2x2) must be (2x3)");
  // previous is an alignment: probabilities, rows summing to at most 1 (less, 0 even, is mass
  // that ran past the last key). A negative entry or a row of 2 would be carried into every step.
  const std::string previous_is = ": previous is the last step's alignment, or memory.initial_alignment() (one-hot at "
                                  "key 0, TF's initial_alignments) for the first step";
  Eigen::MatrixXd bad_previous = prev;
  bad_previous(1, 2) = -0.25;
  CHECK_THROWS_WITH(attn::luong_monotonic(q, k, v, bad_previous, dot, m),
                    "attn::luong_monotonic: previous(1, 2) is -0.25, not a probability in [0, 1]" + previous_is);
  bad_previous(1, 2) = std::nan("");
  CHECK_THROWS_WITH(attn::luong_monotonic(q, k, v, bad_previous, dot, m),
                    "attn::luong_monotonic: previous(1, 2) is nan, not a probability in [0, 1]" + previous_is);
  bad_previous = Eigen::MatrixXd::Constant(2, 3, 0.5);
  CHECK_THROWS_WITH(attn::monotonic_attention(Eigen::MatrixXd::Constant(2, 3, 0.5), bad_previous,
                                              attn::MonotonicMode::recursive),
                    "attn::monotonic_attention: previous row 0 sums to 1.5, more than 1" + previous_is);
  const auto memory = attn::prepare_memory(k, v, dot).with_monotonic(m);
  CHECK_THROWS_WITH(attn::attend(memory, q, bad_previous),
                    Catch::StartsWith("attn::attend: previous row 0 sums to 1.5, more than 1"));
  bad_previous = Eigen::MatrixXd::Zero(2, 3);  // every mass lost: allowed
  bad_previous(0, 0) = 1.0 + 1e-4;             // rounding of a long row: allowed
  CHECK_NOTHROW(attn::luong_monotonic(q, k, v, bad_previous, dot, m));
  CHECK_THROWS_WITH(attn::luong_monotonic(q, k, Eigen::MatrixXd(2, 2), prev, dot, m),
                    "attn::luong_monotonic: v.rows() (2) must equal k.rows() (3)");
  CHECK_THROWS_WITH(attn::luong_monotonic(q, k, v, prev, dot, m, attn::Mask::key_length(4)),
                    "attn::luong_monotonic: mask key length (4) exceeds the number of keys (3)");
  // A float mask of 0 and -inf hides keys; one with a score bias is refused.
  Eigen::MatrixXd torch_mask = Eigen::MatrixXd::Zero(2, 3);
  torch_mask(0, 2) = -std::numeric_limits<double>::infinity();
  CHECK(attn::luong_monotonic(q, k, v, prev, dot, m, attn::Mask::additive(torch_mask)).weights(0, 2) == 0.0);
  torch_mask(1, 1) = -0.5;
  CHECK_THROWS_WITH(attn::luong_monotonic(q, k, v, prev, dot, m, attn::Mask::additive(torch_mask)),
                    "attn::luong_monotonic: the mask adds a score bias (Mask::additive with entries other than 0 "
                    "and -inf), which monotonic attention does not take: its energies choose keys through a "
                    "sigmoid, not a softmax; pass the hidden keys alone (0 / -inf)");
  CHECK_THROWS_WITH(attn::luong_monotonic(Eigen::MatrixXd(2, 2), k, v, prev, dot, m),
                    "attn::luong_monotonic: q.cols() (2) must equal k.cols() (3)");
  CHECK_THROWS_WITH(attn::luong_monotonic(q, k, v, prev, attn::LuongParams<double>::general(Eigen::MatrixXd(2, 2)), m),
                    Catch::StartsWith("attn::luong_monotonic: params.w (2x2) must have the query's width (3) in rows and "
                                      "k.cols() (3) in columns"));
  CHECK_THROWS_WITH(attn::luong_monotonic(q, k, v, prev,
                                          attn::LuongParams<double>::concat(Eigen::MatrixXd(2, 2), Eigen::RowVectorXd(4)),
                                          m),
                    "attn::luong_monotonic: params.w (2x2) must be (6x4)");

  attn::BahdanauParams<double> b;
  b.wq = Eigen::MatrixXd::Ones(3, 4);
  b.wk = Eigen::MatrixXd::Ones(3, 4);
  b.v = Eigen::RowVectorXd::Ones(4);
  CHECK_THROWS_WITH(attn::bahdanau_monotonic(Eigen::MatrixXd(2, 2), k, v, prev, b, m),
                    "attn::bahdanau_monotonic: q.cols() (2) must equal params.wq.rows() (3)");
  CHECK_THROWS_WITH(attn::bahdanau_monotonic(q, Eigen::MatrixXd(3, 2), v, prev, b, m),
                    Catch::StartsWith("attn::bahdanau_monotonic: k.cols() (2) must equal params.wk.rows() (3): the keys are Tk×dk"));
  CHECK_THROWS_WITH(attn::bahdanau_monotonic(q, k, Eigen::MatrixXd(2, 2), prev, b, m),
                    "attn::bahdanau_monotonic: v.rows() (2) must equal k.rows() (3)");
  b.v = Eigen::RowVectorXd::Ones(5);
  CHECK_THROWS_WITH(attn::bahdanau_monotonic(q, k, v, prev, b, m),
                    "attn::bahdanau_monotonic: params.wq.cols() (4) must equal params.v.cols() (5)" +
                        std::string(" (wq is dq×units, wk dk×units and v 1×units: TF's query_layer, "
                                    "memory_layer and attention_v as they are, inputs×outputs)"));
}

}  // namespace test_monotonic
