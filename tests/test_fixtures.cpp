// SPDX-License-Identifier: MIT
// Fixture tests: every core mechanism (scaled dot-product, Luong dot/general/concat, Bahdanau
// plain/normalized) × mask kind × probability function against a float64 NumPy reference
// (tests/fixtures/attention_core.txt, written by tests/fixtures/make_fixtures.py).
#include "helpers.hpp"

#include "attn_core.hpp"  // the kernels; no exporter

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_fixtures: the suite is a unity build.
namespace test_fixtures {

namespace {

using attn_test::Fixture;
using attn_test::MatrixD;
using attn::Index;

constexpr const char* kFixtureFile = "attention_core.txt";
// A floor against a vacuous pass (the exact count is checked against the file's header).
constexpr std::size_t kMinCases = 100;

/// Every case of the fixture file, read once; throws (the test fails) when it cannot be read.
const std::vector<Fixture>& fixtures() {
  static const std::vector<Fixture> all = attn_test::read_fixtures(attn_test::fixture_path(kFixtureFile));
  return all;
}

/// Runs the case's mechanism (value form) on inputs cast to Scalar.
template <typename Scalar>
attn::AttentionResult<Scalar> run_fixture(const Fixture& fx, bool return_scores) {
  attn::Options options;
  options.probability = attn_test::fixture_probability(fx);
  options.return_scores = return_scores;
  const attn::Mask mask = attn_test::fixture_mask(fx);
  const attn::Matrix<Scalar> q = fx.matrix("q").cast<Scalar>();
  const attn::Matrix<Scalar> k = fx.matrix("k").cast<Scalar>();
  const attn::Matrix<Scalar> v = fx.matrix("v").cast<Scalar>();
  std::optional<Scalar> g;
  if (const auto x = fx.scalar("g")) g = static_cast<Scalar>(*x);

  if (fx.mechanism == "scaled_dot_product") {
    if (const auto s = fx.scalar("scale")) options.scale = *s;
    return attn::scaled_dot_product(q, k, v, mask, options);
  }
  if (fx.mechanism == "luong_dot") return attn::luong(q, k, v, attn::LuongParams<Scalar>::dot(g), mask, options);
  if (fx.mechanism == "luong_general") {
    const auto params = attn::LuongParams<Scalar>::general(fx.matrix("w").cast<Scalar>(), g);
    return attn::luong(q, k, v, params, mask, options);
  }
  if (fx.mechanism == "luong_concat") {
    const attn::RowVector<Scalar> attn_v = fx.matrix("attn_v").cast<Scalar>();
    const auto params = attn::LuongParams<Scalar>::concat(fx.matrix("w").cast<Scalar>(), attn_v, g);
    return attn::luong(q, k, v, params, mask, options);
  }
  if (fx.mechanism == "bahdanau" || fx.mechanism == "bahdanau_normalized") {
    attn::BahdanauParams<Scalar> params;
    params.wq = fx.matrix("wq").cast<Scalar>();
    params.wk = fx.matrix("wk").cast<Scalar>();
    params.v = fx.matrix("attn_v").cast<Scalar>();
    params.normalize = fx.mechanism == "bahdanau_normalized";
    if (params.normalize) {
      if (!g) throw std::runtime_error("fixture " + fx.name + ": normalized Bahdanau needs scalar g");
      params.g = *g;
      if (fx.has("b")) params.b = fx.matrix("b").cast<Scalar>();
    }
    return attn::bahdanau(q, k, v, params, mask, options);
  }
  throw std::runtime_error("fixture " + fx.name + ": unknown mechanism '" + fx.mechanism + "'");
}

/// Largest scaled error (see attn_test::max_error) of scores, weights and output of one run.
struct Errors {
  double scores = 0;
  double weights = 0;
  double output = 0;
  double worst() const { return std::max(scores, std::max(weights, output)); }
};

template <typename Scalar>
Errors fixture_errors(const Fixture& fx) {
  const auto r = run_fixture<Scalar>(fx, true);
  Errors e;
  e.scores = attn_test::max_error(r.scores, fx.matrix("scores"));
  e.weights = attn_test::max_error(r.weights, fx.matrix("weights"));
  e.output = attn_test::max_error(r.output, fx.matrix("output"));
  return e;
}

template <typename Scalar>
void check_fixture(const Fixture& fx) {
  const double tol = attn_test::tolerance<Scalar>();
  const MatrixD& scores = fx.matrix("scores");
  const MatrixD& weights = fx.matrix("weights");
  const MatrixD& output = fx.matrix("output");
  const MatrixD& fully_masked = fx.matrix("fully_masked");
  const Index tq = weights.rows();
  const Index tk = weights.cols();

  const auto r = run_fixture<Scalar>(fx, true);
  ATTN_CHECK_CLOSE(r.scores, scores, tol);
  ATTN_CHECK_CLOSE(r.weights, weights, tol);
  ATTN_CHECK_CLOSE(r.output, output, tol);
  REQUIRE(r.fully_masked.size() == tq);
  Index expected_dead = 0;
  for (Index i = 0; i < tq; ++i) {
    const bool dead = fully_masked(i, 0) != 0.0;
    expected_dead += dead ? 1 : 0;
    INFO("row " << i);
    CHECK(r.fully_masked(i) == dead);
    if (dead) CHECK((r.output.row(i).array() == Scalar(0)).all());
  }
  CHECK(r.num_fully_masked() == expected_dead);

  // Masked entries are exactly 0, not merely small.
  const attn::BoolMatrix visible = attn_test::dense_mask(attn_test::fixture_mask(fx), tq, tk);
  bool masked_exactly_zero = true;
  for (Index i = 0; i < tq; ++i)
    for (Index j = 0; j < tk; ++j)
      if (!visible(i, j) && r.weights(i, j) != Scalar(0)) masked_exactly_zero = false;
  CHECK(masked_exactly_zero);

  // Without return_scores: the same output and weights, and no scores.
  const auto plain = run_fixture<Scalar>(fx, false);
  CHECK(plain.scores.size() == 0);
  CHECK(plain.weights == r.weights);
  CHECK(plain.output == r.output);
}

}  // namespace

TEMPLATE_TEST_CASE("fixtures: core mechanisms match the float64 NumPy reference", "[fixtures][reference]", float,
                   double) {
  const auto& all = fixtures();
  REQUIRE(all.size() >= kMinCases);
  for (const auto& fx : all) {
    DYNAMIC_SECTION(fx.name) { check_fixture<TestType>(fx); }
  }
}

TEST_CASE("fixtures: largest observed error per scalar type", "[fixtures][reference]") {
  const auto& all = fixtures();
  REQUIRE(all.size() >= kMinCases);
  Errors worst_float, worst_double;
  std::string where_float, where_double;
  for (const auto& fx : all) {
    const Errors f = fixture_errors<float>(fx);
    const Errors d = fixture_errors<double>(fx);
    if (f.worst() > worst_float.worst()) where_float = fx.name;
    if (d.worst() > worst_double.worst()) where_double = fx.name;
    worst_float.scores = std::max(worst_float.scores, f.scores);
    worst_float.weights = std::max(worst_float.weights, f.weights);
    worst_float.output = std::max(worst_float.output, f.output);
    worst_double.scores = std::max(worst_double.scores, d.scores);
    worst_double.weights = std::max(worst_double.weights, d.weights);
    worst_double.output = std::max(worst_double.output, d.output);
  }
  std::ostringstream report;
  report.precision(3);
  report << all.size() << " fixture cases, largest error |a-e|/max(1,|e|):\n"
         << "  float : scores " << worst_float.scores << ", weights " << worst_float.weights << ", output "
         << worst_float.output << " (worst case " << where_float << ")\n"
         << "  double: scores " << worst_double.scores << ", weights " << worst_double.weights << ", output "
         << worst_double.output << " (worst case " << where_double << ")";
  WARN(report.str());
  CHECK(worst_float.worst() <= attn_test::tolerance<float>());
  CHECK(worst_double.worst() <= attn_test::tolerance<double>());
}

TEST_CASE("fixtures: the reader fails loudly on a missing or damaged file", "[fixtures][reader]") {
  CHECK_THROWS_AS(attn_test::read_fixtures(attn_test::fixture_path("no_such_fixture_file.txt")), std::runtime_error);

  // Copy the real file, dropping its tail: the count check / end marker must catch it.
  std::ifstream in(attn_test::fixture_path(kFixtureFile));
  REQUIRE(in);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() > 10);
  const auto tmp = std::filesystem::temp_directory_path() / "attn_test_fixtures_truncated.txt";
  auto write_first = [&](std::size_t n, bool with_end_marker) {
    std::ofstream out(tmp, std::ios::trunc);
    for (std::size_t i = 0; i < n; ++i) out << lines[i] << '\n';
    if (with_end_marker) out << "end-of-fixtures\n";
  };
  // Cut inside a matrix, cut after a whole case (no end marker), whole cases but too few.
  write_first(lines.size() / 2, false);
  CHECK_THROWS_AS(attn_test::read_fixtures(tmp.string()), std::runtime_error);
  std::vector<std::size_t> ends;  // line index of every case's 'end'
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (lines[i] == "end") ends.push_back(i);
  REQUIRE(ends.size() >= 2);
  write_first(ends.back(), false);  // the last case loses its 'end', and the end marker is gone
  CHECK_THROWS_AS(attn_test::read_fixtures(tmp.string()), std::runtime_error);
  write_first(ends[ends.size() - 2] + 1, true);  // whole cases, one short of the header's count
  CHECK_THROWS_WITH(attn_test::read_fixtures(tmp.string()), Catch::Contains("cases, read"));
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
}

}  // namespace test_fixtures
