// SPDX-License-Identifier: MIT
// attn_long_context: single-head scaled dot-product attention over T = 32768 tokens (d = 64) in
// one call whose weights never exist as a T×T matrix (4 GiB in float): the output goes to the
// caller, the weights go block by block (256 query rows) to two sinks, attn::ColumnSums (the
// attention each key received, what KV-cache eviction such as H2O ranks keys by) and
// attn::RowStats (each query's entropy and argmax). Prints the ten keys that received the most
// attention, the mean row entropy, the call's wall time and the process's peak resident memory.
//
//   attn_long_context [T] [--check]
//
// The inputs are seeded random Gaussians; a few keys ("sink tokens", like the first token of a
// language model's context) share a direction with every query, so they collect the most
// attention. --check (T <= 8192) recomputes every weight row with plain double loops, one row at
// a time, and compares the ten keys and the mean entropy: exit status 1 when they differ.

#include <attn/attn.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using Index = Eigen::Index;
constexpr Index kDim = 64;
constexpr Index kTop = 10;

// Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB).
double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// The `count` keys of largest total, largest first (ties: lower index first).
template <typename Vec>
std::vector<Index> top_keys(const Vec& totals, Index count) {
  std::vector<Index> order(static_cast<std::size_t>(totals.size()));
  std::iota(order.begin(), order.end(), Index(0));
  const auto n = static_cast<std::ptrdiff_t>(std::min<Index>(count, totals.size()));
  std::partial_sort(order.begin(), order.begin() + n, order.end(), [&](Index a, Index b) {
    return totals(a) > totals(b) || (totals(a) == totals(b) && a < b);
  });
  order.resize(static_cast<std::size_t>(n));
  return order;
}

struct Reference {
  Eigen::VectorXd sums;  // attention received per key
  double mean_entropy = 0;
};

// Every weights row again in double with plain loops (scores, max, exp, normalise), one row in
// memory at a time: the independent computation --check compares with.
Reference reference(const Eigen::MatrixXf& q, const Eigen::MatrixXf& k) {
  const Index t = q.rows(), tk = k.rows(), d = q.cols();
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  Reference r;
  r.sums = Eigen::VectorXd::Zero(tk);
  std::vector<double> row(static_cast<std::size_t>(tk));
  double entropy = 0;
  for (Index i = 0; i < t; ++i) {
    double max = -INFINITY;
    for (Index j = 0; j < tk; ++j) {
      double s = 0;
      for (Index c = 0; c < d; ++c) s += static_cast<double>(q(i, c)) * static_cast<double>(k(j, c));
      row[static_cast<std::size_t>(j)] = s * scale;
      max = std::max(max, s * scale);
    }
    double total = 0;
    for (double& x : row) total += (x = std::exp(x - max));
    for (Index j = 0; j < tk; ++j) {
      const double w = row[static_cast<std::size_t>(j)] / total;
      r.sums(j) += w;
      if (w > 0) entropy -= w * std::log(w);
    }
  }
  r.mean_entropy = t > 0 ? entropy / static_cast<double>(t) : 0.0;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Index t = 32768;
  bool check = false;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--check") {
      check = true;
    } else {
      char* end = nullptr;
      const long long value = std::strtoll(arg.c_str(), &end, 10);
      if (end == arg.c_str() || *end != '\0' || value < 1) {
        std::fprintf(stderr, "usage: attn_long_context [T >= 1] [--check]\n");
        return 2;
      }
      t = static_cast<Index>(value);
    }
  }
  if (check && t > 8192) {
    std::fprintf(stderr, "attn_long_context: --check recomputes T^2 weights in double; use T <= 8192\n");
    return 2;
  }

  // Seeded Gaussian Q, K, V; queries lean along dimension 0, and a few keys ("sinks") stand far
  // out along it, so that they draw attention from every query.
  std::mt19937 rng(2026);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const auto gaussian = [&](Index rows) {
    Eigen::MatrixXf m(rows, kDim);
    for (Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
    return m;
  };
  Eigen::MatrixXf q = gaussian(t), k = gaussian(t), v = gaussian(t);
  q.col(0).array() += 2.0f;
  std::uniform_int_distribution<Index> any_key(0, t - 1);
  for (int s = 0; s < 6; ++s) k(s == 0 ? 0 : any_key(rng), 0) += 8.0f + 2.0f * static_cast<float>(s);
  const double inputs_mib = 3.0 * static_cast<double>(t * kDim) * sizeof(float) / (1024.0 * 1024.0);

  // One call: output only (no T×T matrix anywhere), the weights to two sinks.
  Eigen::MatrixXf out(t, kDim);
  attn::Workspace<float> ws;
  attn::ColumnSums<float> received;
  attn::RowStats<float> stats;
  const auto start = std::chrono::steady_clock::now();
  attn::scaled_dot_product_into(q, k, v, out, attn::Sinks<float>(received, stats), ws);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double mean_entropy = static_cast<double>(stats.entropy().cast<double>().mean());
  const std::vector<Index> top = top_keys(received.sums(), kTop);

  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  const double map_gib = static_cast<double>(t) * static_cast<double>(t) * sizeof(float) / (1024.0 * 1024.0 * 1024.0);
  std::printf("scaled dot-product attention, T = %lld queries and keys, d = %lld, float, %d thread(s)\n",
              static_cast<long long>(t), static_cast<long long>(kDim), threads);
  std::printf("the T x T weights would take %.3f GiB; sinks: ColumnSums + RowStats, output only\n", map_gib);
  std::printf("keys that received the most attention (sum over the %lld queries):\n", static_cast<long long>(t));
  for (std::size_t r = 0; r < top.size(); ++r)
    std::printf("  %2zu. key %6lld  %.3f\n", r + 1, static_cast<long long>(top[r]),
                static_cast<double>(received.sums()(top[r])));
  std::printf("mean row entropy: %.6f nats (uniform over all keys: %.6f)\n", mean_entropy,
              std::log(static_cast<double>(t)));
  std::printf("wall time of the call: %.3f s\n", seconds);
  std::printf("peak resident memory: %.1f MiB (inputs Q, K, V: %.1f MiB)\n", peak_rss_mib(), inputs_mib);

  if (!check) return 0;
  const Reference ref = reference(q, k);
  const std::vector<Index> expected = top_keys(ref.sums, kTop);
  bool ok = expected == top;
  for (std::size_t r = 0; r < top.size(); ++r) {
    const double got = static_cast<double>(received.sums()(top[r]));
    const double want = ref.sums(top[r]);
    if (std::abs(got - want) > 1e-4 * std::max(1.0, std::abs(want))) ok = false;
  }
  for (std::size_t r = 0; r < expected.size(); ++r)
    std::printf("check: reference key %6lld  %.3f\n", static_cast<long long>(expected[r]), ref.sums(expected[r]));
  std::printf("check: reference mean row entropy %.6f\n", ref.mean_entropy);
  if (std::abs(mean_entropy - ref.mean_entropy) > 1e-5 * std::max(1.0, ref.mean_entropy)) ok = false;
  std::printf("check: %s\n", ok ? "the sinks agree with the double-precision reference" : "MISMATCH");
  return ok ? 0 : 1;
}
