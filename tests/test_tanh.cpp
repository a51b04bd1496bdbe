// SPDX-License-Identifier: MIT
// The tanh of additive scores (detail/tanh.hpp) against the correctly rounded tanh (std::tanh in
// double, rounded to float) on sampled floats, its special values, and the one-row additive
// step kernel (projection spread over the tanh pass) against the kernels it must equal bit for
// bit: project_row and additive_scores_transposed.
#include "helpers.hpp"

#include <attn/detail/memory_step.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

// Everything in this file lives in namespace test_tanh: the suite is a unity build.
namespace test_tanh {

namespace {

using attn::Index;
using attn::Matrix;
using attn_test::same_bits;

namespace ei = Eigen::internal;
using Packet = ei::packet_traits<float>::type;
constexpr int kLanes = ei::packet_traits<float>::size;

// A float's position on the number line as an integer: neighbours differ by 1.
std::int64_t ordinal(float f) {
  std::int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i < 0 ? -static_cast<std::int64_t>(i & 0x7fffffff) : i;
}

float from_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// tanh_rational of each input, a packet at a time (the tail padded with zeros).
std::vector<float> rational(const std::vector<float>& x) {
  std::vector<float> out(x.size());
  alignas(64) float in[kLanes];
  alignas(64) float res[kLanes];
  const std::size_t lanes = kLanes;
  for (std::size_t i = 0; i < x.size(); i += lanes) {
    for (std::size_t l = 0; l < lanes; ++l) in[l] = i + l < x.size() ? x[i + l] : 0.0f;
    ei::pstore(res, attn::detail::tanh_rational(ei::pload<Packet>(in)));
    for (std::size_t l = 0; l < lanes && i + l < x.size(); ++l) out[i + l] = res[l];
  }
  return out;
}

}  // namespace

TEST_CASE("tanh_rational: within 6 ulp of the correctly rounded tanh, odd, exact at the ends", "[kernels][tanh]") {
  // Every 1021st float from 2^-30 to 12 (past 9 the result is ±1), and every float around the
  // largest errors found by checking all of them (3.55-3.75; 8.4-9.1, where it reaches 1).
  std::vector<float> x;
  for (std::uint32_t u = 0x30800000u; u < 0x41400000u; u += 1021u) x.push_back(from_bits(u));
  const std::size_t strided = x.size();
  for (float f = 3.55f; f < 3.75f; f = std::nextafter(f, 4.0f)) x.push_back(f);
  for (float f = 8.4f; f < 8.45f; f = std::nextafter(f, 9.0f)) x.push_back(f);
  for (float f = 7.99f; f < 8.02f; f = std::nextafter(f, 10.0f)) x.push_back(f);
  for (float f = 8.99f; f < 9.02f; f = std::nextafter(f, 10.0f)) x.push_back(f);
  const std::vector<float> y = rational(x);
  std::vector<float> minus(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) minus[i] = -x[i];
  const std::vector<float> y_minus = rational(minus);
  std::int64_t worst = 0;
  float worst_at = 0.0f;
  double total = 0.0;  // over the strided samples
  std::size_t odd_failures = 0, out_of_range = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float reference = static_cast<float>(std::tanh(static_cast<double>(x[i])));
    const std::int64_t d = std::llabs(ordinal(y[i]) - ordinal(reference));
    if (i < strided) total += static_cast<double>(d);
    if (!(std::abs(y[i]) <= 1.0f)) ++out_of_range;
    if (d > worst) {
      worst = d;
      worst_at = x[i];
    }
    if (ordinal(y_minus[i]) != -ordinal(y[i])) ++odd_failures;
  }
  INFO("worst " << worst << " ulp at " << worst_at << ", " << x.size() << " floats");
  CHECK(worst <= 6);                                      // Eigen 3.4's packet tanh: 7 without FMA
  CHECK(total / static_cast<double>(strided) < 0.4);  // Eigen's: 0.44-0.46 on every float
  CHECK(odd_failures == 0);
  CHECK(out_of_range == 0);

  // Special values: signed zeros, a subnormal, the clamp, infinities, NaN.
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> special = {0.0f, -0.0f, 1e-40f, -1e-40f, 1e-20f, 9.0f, -9.0f, 30.0f, -30.0f, inf, -inf,
                                      std::numeric_limits<float>::quiet_NaN()};
  const std::vector<float> s = rational(special);
  CHECK(s[0] == 0.0f);
  CHECK_FALSE(std::signbit(s[0]));
  CHECK(s[1] == 0.0f);
  CHECK(std::signbit(s[1]));
  CHECK(std::llabs(ordinal(s[2]) - ordinal(1e-40f)) <= 1);
  CHECK(std::llabs(ordinal(s[3]) - ordinal(-1e-40f)) <= 1);
  CHECK(std::llabs(ordinal(s[4]) - ordinal(1e-20f)) <= 1);
  // Past the clamp at 8: tanh(±8), within 4 ulp of ±1.
  for (std::size_t i = 5; i <= 10; ++i) {
    INFO("tanh(" << special[i] << ") = " << s[i]);
    CHECK(std::llabs(ordinal(std::abs(s[i])) - ordinal(1.0f)) <= 4);
    CHECK(std::abs(s[i]) <= 1.0f);
    CHECK(std::signbit(s[i]) == std::signbit(special[i]));
  }
  CHECK(std::isnan(s[11]));
}

TEMPLATE_TEST_CASE("additive_step_scores: the fused one-row kernel equals project_row and "
                   "additive_scores_transposed bit for bit",
                   "[kernels][tanh][memory]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(31);
  // (dq, units, keys): the benchmark's shape; q and Wq shorter than a packet; ragged tails of
  // q, of the units and of the keys; one key; more steps than keys.
  const Index shapes[][3] = {{256, 256, 50}, {3, 40, 7}, {37, 40, 7}, {16, 16, 3}, {70, 33, 1}, {256, 64, 2}, {5, 2, 4}, {29, 117, 9}};
  for (const auto& shape : shapes) {
    const Index dq = shape[0], units = shape[1], n = shape[2];
    INFO("dq " << dq << " units " << units << " keys " << n);
    const Matrix<S> q = attn_test::random_matrix<S>(rng, dq, 1);
    const Matrix<S> wq = attn_test::random_matrix<S>(rng, dq + 3, units, -0.3, 0.3);  // columns dq + 3 apart
    const Matrix<S> kt = attn_test::random_matrix<S>(rng, units, n, -2.0, 2.0);
    const Matrix<S> v = attn_test::random_matrix<S>(rng, units, 1);
    Matrix<S> pq(units, 1), acc(attn::detail::additive_step_sums<S>(n), 1), e(n, 1);
    attn::detail::additive_step_scores(q.data(), dq, wq.data(), wq.rows(), kt.data(), units, n, v.data(), pq.data(),
                                       acc.data(), e.data());
    Matrix<S> pq_ref(units, 1), e_ref(n, 1);
    attn::detail::project_row(q.data(), dq, wq.data(), wq.rows(), units, pq_ref.data());
    attn::detail::additive_scores_transposed(kt.data(), units, n, pq_ref.data(), v.data(), e_ref.data());
    CHECK(same_bits(pq, pq_ref));
    CHECK(same_bits(e, e_ref));
    // And both are the scores: v·tanh(q·Wq + k_j), to rounding.
    const Eigen::VectorXd pq_exact = wq.topRows(dq).template cast<double>().transpose() * q.template cast<double>();
    const Eigen::VectorXd v_exact = v.template cast<double>();
    for (Index j = 0; j < n; ++j) {
      const Eigen::VectorXd k_exact = kt.col(j).template cast<double>();
      const double exact = (pq_exact + k_exact).array().tanh().matrix().dot(v_exact);
      CHECK(std::abs(static_cast<double>(e(j)) - exact) < 1e-4 * static_cast<double>(units));
    }
  }
}

}  // namespace test_tanh
