// SPDX-License-Identifier: MIT
// Weight sinks (float, 1 thread): the time and memory of calls whose weights never form a T×T
// matrix, against the products alone, in one run (docs/08-performance.md, "Weights at any length").
//   long/*:   single head, d = 64, T = 32768. colsum: scaled_dot_product_into with a ColumnSums
//             sink, output only; gemm: the two products alone, block of 256 query rows by block
//             into one reused 256×T buffer (a T×T score matrix would be 4 GiB), no softmax.
//   out/*:    single head, d = 64, T in {1024, 4096}. none: output only (attn::no_weights);
//             gemm: the two products writing the full T×T scores; full: the call returning weights.
//   mhsink/*: multi-head h = 8, D = 512, T = 8192. mean: HeadSinks::reduce(mean) into one T×T
//             map; none: output only.
// Memory counters (MiB): peak_above_inputs is the process's peak resident memory during the
// benchmark above its resident memory once the inputs exist (the peak is reset first by writing
// 5 to /proc/self/clear_refs, Linux; where that fails the counter is -1); inputs_MiB is the size
// of the inputs; map_MiB one T×T float map; full_sink_MiB the h maps of the full per-head sink.
#include <attn/multi_head_sinks.hpp>
#include <attn/scaled_dot_product.hpp>
#include <attn/sink_reductions.hpp>

#include "common.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>

namespace {

using attn::Index;
using attn_bench::Mat;
using attn_bench::random;
using attn_bench::Scalar;

constexpr Index kDim = 64;
constexpr double kMiB = 1024.0 * 1024.0;

// A field of /proc/self/status ("VmRSS", "VmHWM") in MiB, or -1.
double status_mib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, field.size() + 1, field + ":") == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  return -1;
}

// Resets the process's peak resident memory to its current resident memory; returns that, or -1.
double reset_peak() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  if (!clear) return -1;
  return status_mib("VmRSS");
}

// Sets the memory counters: the peak since `base` (reset_peak's value) above it.
void set_memory(benchmark::State& state, double base, double inputs_mib) {
  const double hwm = status_mib("VmHWM");
  state.counters["peak_above_inputs_MiB"] = base >= 0 && hwm >= 0 ? hwm - base : -1;
  state.counters["inputs_MiB"] = inputs_mib;
}

double mib(Index scalars) { return static_cast<double>(scalars) * sizeof(Scalar) / kMiB; }

// --- long: T = 32768 --------------------------------------------------------------------------

void long_colsum(benchmark::State& state) {
  const Index t = state.range(0);
  const Mat q = random(t, kDim, 1), k = random(t, kDim, 2), v = random(t, kDim, 3);
  const double base = reset_peak();
  Mat out(t, kDim);
  attn::Workspace<Scalar> ws;
  attn::ColumnSums<Scalar> sums;
  for (auto _ : state) {
    attn::scaled_dot_product_into(q, k, v, out, attn::Sinks<Scalar>(sums), ws);
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(sums.sums().data());
    benchmark::ClobberMemory();
  }
  set_memory(state, base, mib(3 * t * kDim));
}

void long_gemm(benchmark::State& state) {
  const Index t = state.range(0);
  const Mat q = random(t, kDim, 1), k = random(t, kDim, 2), v = random(t, kDim, 3);
  const double base = reset_peak();
  Mat out(t, kDim);
  const Index rows = 256;
  Mat block = Mat::Zero(rows, t);  // pages touched now
  const Mat kt = (Scalar(1) / std::sqrt(static_cast<Scalar>(kDim))) * k.transpose();
  for (auto _ : state) {
    for (Index i0 = 0; i0 < t; i0 += rows) {
      const Index r = std::min(rows, t - i0);
      auto b = block.topRows(r);
      b.noalias() = q.middleRows(i0, r) * kt;
      out.middleRows(i0, r).noalias() = b * v;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_memory(state, base, mib(3 * t * kDim));
}

// --- out: output only at T = 1024, 4096 ----------------------------------------------------------

// Output only under `mask`: out/none takes no mask; out/causal a causal one, where a part of rows
// scores and multiplies only the columns left of its diagonal (docs/08 "Band masks skip what no
// row sees"), about half of out/none's products.
void out_masked(benchmark::State& state, const attn::Mask& mask) {
  const Index t = state.range(0);
  const Mat q = random(t, kDim, 1), k = random(t, kDim, 2), v = random(t, kDim, 3);
  Mat out(t, kDim);
  attn::Workspace<Scalar> ws;
  attn::scaled_dot_product_into(q, k, v, out, attn::no_weights, ws, mask);
  for (auto _ : state) {
    attn::scaled_dot_product_into(q, k, v, out, attn::no_weights, ws, mask);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
}
void out_none(benchmark::State& state) { out_masked(state, attn::Mask()); }
void out_causal(benchmark::State& state) { out_masked(state, attn::Mask::causal()); }

void out_gemm(benchmark::State& state) {
  const Index t = state.range(0);
  const Mat q = random(t, kDim, 1), k = random(t, kDim, 2), v = random(t, kDim, 3);
  Mat out(t, kDim);
  Mat s = Mat::Zero(t, t);  // pages touched now
  const Scalar scale = Scalar(1) / std::sqrt(static_cast<Scalar>(kDim));
  for (auto _ : state) {
    s.noalias() = scale * q * k.transpose();
    out.noalias() = s * v;
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
}

void out_full(benchmark::State& state) { attn_bench::sdpa_weights_loop(state, state.range(0), kDim); }

// --- mhsink: multi-head h = 8, D = 512, T = 8192 -------------------------------------------------

constexpr Index kHeads = 8;
constexpr Index kModel = 512;

void mhsink(benchmark::State& state, bool mean) {
  const Index t = state.range(0);
  const attn::MultiHeadParams<Scalar> p = attn_bench::mha_params(kHeads, kModel);
  const Mat x = random(t, kModel, 9);
  const double base = reset_peak();
  Mat out(t, kModel);
  Mat map;
  attn::HeadSinks<Scalar> sinks;
  if (mean) {
    map.resize(t, t);
    sinks.reduce(attn::HeadReduction::mean, map);
  }
  attn::MultiHeadWorkspace<Scalar> ws;
  for (auto _ : state) {
    attn::multi_head_into(x, x, x, p, out, sinks, ws);
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(map.data());
    benchmark::ClobberMemory();
  }
  set_memory(state, base, mib(t * kModel + 4 * kModel * kModel + 4 * kModel));
  state.counters["map_MiB"] = mib(t * t);
  state.counters["full_sink_MiB"] = mib(kHeads * t * t);
}

void mhsink_mean(benchmark::State& state) { mhsink(state, true); }
void mhsink_none(benchmark::State& state) { mhsink(state, false); }

}  // namespace

BENCHMARK(long_colsum)->Name("long/colsum")->ArgName("T")->Arg(32768)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(long_gemm)->Name("long/gemm")->ArgName("T")->Arg(32768)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(out_none)->Name("out/none")->ArgName("T")->Arg(1024)->Arg(4096)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(out_causal)->Name("out/causal")->ArgName("T")->Arg(1024)->Arg(4096)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(out_gemm)->Name("out/gemm")->ArgName("T")->Arg(1024)->Arg(4096)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(out_full)->Name("out/full")->ArgName("T")->Arg(1024)->Arg(4096)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(mhsink_mean)->Name("mhsink/mean")->ArgName("T")->Arg(8192)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(mhsink_none)->Name("mhsink/none")->ArgName("T")->Arg(8192)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
