// SPDX-License-Identifier: MIT
// The tanh of additive scores (detail/tanh.hpp) against the correctly rounded tanh (std::tanh in
// double, rounded to float) on sampled floats, its special values, and the one-row additive
// step kernel (projection spread over the tanh pass) against the kernels it must equal bit for
// bit: project_row and additive_scores_transposed.
#include "helpers.hpp"

#include <attn/detail/memory_step.hpp>
#include <attn/detail/softcap.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
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

TEST_CASE("tanh_rational of one float gives its lane's bits, and soft_cap caps packets, tails and strided rows alike",
          "[kernels][tanh][softcap]") {
  // options.softcap caps a block's columns in packets and a one-row block's scores one by one
  // (detail/softcap.hpp): for the forms of a call to agree bit for bit, tanh_rational of a plain
  // float must compute what its lane of a packet does (fused multiply-adds where Eigen's packets
  // use them: this file is also compiled with -march=native, attn_tests_native).
  std::mt19937_64 rng(58);
  std::uniform_real_distribution<float> wide(-12.0f, 12.0f);
  std::vector<float> x(4099);
  for (float& f : x) f = wide(rng);
  const float specials[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 8.0f, -8.0f, 8.5f, std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 0.5f, 3.0f};
  std::copy(std::begin(specials), std::end(specials), x.begin());
  const std::vector<float> lanes = rational(x);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float one = attn::detail::tanh_rational(x[i]);
    std::uint32_t a, b;
    std::memcpy(&a, &one, sizeof a);
    std::memcpy(&b, &lanes[i], sizeof b);
    differ += a != b ? 1 : 0;
  }
  CHECK(differ == 0);

  // soft_cap: cap·tanh(factor·s) in place, the same bits however the scores are laid out.
  attn::detail::SoftCap<float> cap = attn::detail::soft_cap_of<float>(2.5, 0.7f);
  CHECK(cap.cap == 2.5f);
  CHECK(cap.factor == 0.7f / 2.5f);
  const Index rows = 37, cols = 5;
  Matrix<float> block = Eigen::Map<const Matrix<float>>(x.data(), rows, cols);
  Matrix<float> by_column = block;
  attn::detail::soft_cap(by_column.data(), rows, cols, rows, cap);  // columns: packets and a tail of 5
  Matrix<float> one_by_one = block;
  for (Index r = 0; r < rows; ++r)  // one row at a time: its scores `rows` apart
    attn::detail::soft_cap(one_by_one.data() + r, 1, cols, rows, cap);
  Matrix<float> flat = block;
  attn::detail::soft_cap(flat.data(), rows * cols, cap);  // one run of 185
  CHECK(same_bits(by_column, one_by_one));
  CHECK(same_bits(by_column, flat));
  for (Index j = 0; j < cols; ++j)
    for (Index r = 0; r < rows; ++r) {
      const double expected = 2.5 * std::tanh(static_cast<double>(block(r, j) * cap.factor));
      CHECK(std::abs(by_column(r, j) - expected) <= 1e-6 * 2.5);
      CHECK(std::abs(by_column(r, j)) <= 2.5f);
    }
  float nan = std::numeric_limits<float>::quiet_NaN();
  attn::detail::soft_cap(&nan, 1, cap);
  CHECK(std::isnan(nan));
  // Double: std::tanh, one by one.
  Matrix<double> d = block.cast<double>();
  const attn::detail::SoftCap<double> dcap = attn::detail::soft_cap_of<double>(2.5);
  attn::detail::soft_cap(d.data(), rows, cols, rows, dcap);
  CHECK(d(3, 2) == 2.5 * std::tanh(static_cast<double>(block(3, 2)) * (1.0 / 2.5)));
}

}  // namespace test_tanh
