// SPDX-License-Identifier: MIT
// Attention throughput (float): attn against a naive Eigen implementation and against the GEMMs
// of the same shapes alone, in one run, with 1 and 2 threads (OpenMP).
//   mha/*:  multi-head self-attention with per-head weights, h = 8, D = 512, T in {128, 512, 2048}
//           FLOPs 8·T·D² (four projections) + 4·T²·D (scores and weights·V over the heads)
//   sdpa/*: single-head attention, d = 64, T in {64, 256, 1024, 4096}; FLOPs 4·T²·d
//   peak/fma: the machine's float multiply-add peak (register-only loop), 1 and 2 threads
//   inproj/*: self-attention's input projections per head (attn) against one in_proj GEMM
// mha/attn also reports the size of the returned weights and the process's peak resident memory.
// Each benchmark reports GFLOP/s (counter "GFLOP/s", wall-clock time) of those FLOPs; softmax
// work is not counted. Variants: attn (the library, through a workspace), naive (products,
// colwise softmax and temporaries, as a user would write it with Eigen), gemm (the products
// alone, into preallocated storage, no softmax: the bound; on oneDNN in a build with
// ATTN_USE_DNNL, as attn's own float products then are).
#include <attn/multi_head.hpp>
#include <attn/scaled_dot_product.hpp>

#include "common.hpp"

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <sys/resource.h>

#include <cmath>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using attn::Index;
using attn_bench::Mat;
using attn_bench::random;
using attn_bench::Scalar;
using Row = attn::RowVector<Scalar>;

constexpr Index kHeads = 8;
constexpr Index kModel = 512;
constexpr Index kHeadDim = 64;

// Threads for this benchmark (Eigen's GEMM and attn's parallel regions both follow it).
bool set_threads(benchmark::State& state, Index threads) {
  static_cast<void>(state);
#ifdef _OPENMP
  omp_set_num_threads(static_cast<int>(threads));
  return true;
#else
  if (threads == 1) return true;
  state.SkipWithError("built without OpenMP: only 1 thread");
  return false;
#endif
}

attn::MultiHeadParams<Scalar> mha_params() { return attn_bench::mha_params(kHeads, kModel); }

void set_flops(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

double mha_flops(Index t) {
  const double T = static_cast<double>(t), D = static_cast<double>(kModel);
  return 8.0 * T * D * D + 4.0 * T * T * D;
}

double sdpa_flops(Index t) {
  const double T = static_cast<double>(t), d = static_cast<double>(kHeadDim);
  return 4.0 * T * T * d;
}

// Row-wise softmax as a user writes it with Eigen on column-major storage.
Mat naive_softmax(const Mat& s) {
  const Eigen::Matrix<Scalar, Eigen::Dynamic, 1> max = s.rowwise().maxCoeff();
  Mat e = (s.colwise() - max).array().exp();
  const Eigen::Matrix<Scalar, Eigen::Dynamic, 1> sum = e.rowwise().sum();
  return e.array().colwise() / sum.array();
}

// --- multi-head, h = 8, D = 512 ---------------------------------------------------------------

// Peak resident memory of this process so far, MiB (Linux reports ru_maxrss in KiB).
double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

void mha_attn(benchmark::State& state) {
  const Index t = state.range(0);
  if (!set_threads(state, state.range(1))) return;
  const auto p = mha_params();
  const Mat x = random(t, kModel, 9);
  Mat out(t, kModel);
  attn::HeadWeights<Scalar> w;
  attn::MultiHeadWorkspace<Scalar> ws;
  attn::multi_head_into(x, x, x, p, out, w, ws);
  for (auto _ : state) {
    attn::multi_head_into(x, x, x, p, out, w, ws);
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(w.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, mha_flops(t));
  // Memory: the returned weights against the process's peak so far. The peak is this call's
  // only when the filter selects this benchmark alone (the memory row of docs/08-performance.md does).
  state.counters["weights_MiB"] = static_cast<double>(w.size()) * sizeof(Scalar) / (1024.0 * 1024.0);
  state.counters["peak_MiB"] = peak_rss_mib();
}

void mha_naive(benchmark::State& state) {
  const Index t = state.range(0);
  if (!set_threads(state, state.range(1))) return;
  const auto p = mha_params();
  const Mat x = random(t, kModel, 9);
  const Index dh = kModel / kHeads;
  for (auto _ : state) {
    const Mat q = (x * p.wq).rowwise() + p.bq;
    const Mat k = (x * p.wk).rowwise() + p.bk;
    const Mat v = (x * p.wv).rowwise() + p.bv;
    std::vector<Mat> weights(static_cast<std::size_t>(kHeads));
    Mat concat(t, kModel);
    for (Index h = 0; h < kHeads; ++h) {
      const Mat s = q.middleCols(h * dh, dh) * k.middleCols(h * dh, dh).transpose() /
                    std::sqrt(static_cast<Scalar>(dh));
      weights[static_cast<std::size_t>(h)] = naive_softmax(s);
      concat.middleCols(h * dh, dh) = weights[static_cast<std::size_t>(h)] * v.middleCols(h * dh, dh);
    }
    const Mat out = (concat * p.wo).rowwise() + p.bo;
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(weights.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, mha_flops(t));
}

void mha_gemm(benchmark::State& state) {
  const Index t = state.range(0);
  if (!set_threads(state, state.range(1))) return;
  const auto p = mha_params();
  const Mat x = random(t, kModel, 9);
  const Index dh = kModel / kHeads;
  Mat q(t, kModel), k(t, kModel), v(t, kModel), concat(t, kModel), out(t, kModel);
  std::vector<Mat> s(static_cast<std::size_t>(kHeads), Mat::Zero(t, t));  // pages touched now
  const Scalar scale = Scalar(1) / std::sqrt(static_cast<Scalar>(dh));
  for (auto _ : state) {
    attn_bench::bound_product(x, p.wq, q);
    attn_bench::bound_product(x, p.wk, k);
    attn_bench::bound_product(x, p.wv, v);
    for (Index h = 0; h < kHeads; ++h) {
      auto& sh = s[static_cast<std::size_t>(h)];
      attn_bench::bound_product(q.middleCols(h * dh, dh), k.middleCols(h * dh, dh).transpose(), sh, scale);
      attn_bench::bound_product(sh, v.middleCols(h * dh, dh), concat.middleCols(h * dh, dh));
    }
    attn_bench::bound_product(concat, p.wo, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, mha_flops(t));
}

// --- single head, d = 64 ------------------------------------------------------------------------

void sdpa_attn(benchmark::State& state) {
  const Index t = state.range(0);
  if (!set_threads(state, state.range(1))) return;
  attn_bench::sdpa_weights_loop(state, t, kHeadDim);
  set_flops(state, sdpa_flops(t));
}

void sdpa_naive(benchmark::State& state) {
  const Index t = state.range(0);
  if (!set_threads(state, state.range(1))) return;
  const Mat q = random(t, kHeadDim, 1), k = random(t, kHeadDim, 2), v = random(t, kHeadDim, 3);
  for (auto _ : state) {
    const Mat s = q * k.transpose() / std::sqrt(static_cast<Scalar>(kHeadDim));
    const Mat w = naive_softmax(s);
    const Mat out = w * v;
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(w.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, sdpa_flops(t));
}

void sdpa_gemm(benchmark::State& state) {
  const Index t = state.range(0);
  if (!set_threads(state, state.range(1))) return;
  const Mat q = random(t, kHeadDim, 1), k = random(t, kHeadDim, 2), v = random(t, kHeadDim, 3);
  Mat out(t, kHeadDim), s(t, t);
  s.setZero();  // touch the pages now: a first write inside the loop would time page faults
  const Scalar scale = Scalar(1) / std::sqrt(static_cast<Scalar>(kHeadDim));
  for (auto _ : state) {
    attn_bench::bound_product(q, k.transpose(), s, scale);
    attn_bench::bound_product(s, v, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, sdpa_flops(t));
}

// --- the machine's peak -----------------------------------------------------------------------

// The float multiply-add peak of this machine as compiled (-march=native: its widest packets),
// per thread count: a loop of independent packet multiply-adds on registers only (12 chains,
// enough to fill two FMA pipes of 4-cycle latency), on every thread at once. The products above
// can reach at most this; bench/table.py prints each row's GFLOP/s as a share of it.
//   peak/fma/threads:N  counter GFLOP/s = 2 · lanes · chains · iterations · N / wall time
void peak_fma(benchmark::State& state) {
  const Index threads = state.range(0);
  if (!set_threads(state, threads)) return;
  using Packet = Eigen::internal::packet_traits<Scalar>::type;
  constexpr int lanes = Eigen::internal::packet_traits<Scalar>::size;
  constexpr int chains = 12;
  constexpr long iterations = 1L << 16;
  const auto run = [] {
    namespace ei = Eigen::internal;
    Packet a[chains];
    for (int c = 0; c < chains; ++c) a[c] = ei::pset1<Packet>(Scalar(1) + Scalar(c) * Scalar(1e-3));
    const Packet x = ei::pset1<Packet>(Scalar(0.999)), y = ei::pset1<Packet>(Scalar(1e-4));  // a -> 0.1
    for (long it = 0; it < iterations; ++it)
      for (int c = 0; c < chains; ++c) a[c] = ei::pmadd(a[c], x, y);
    Packet sum = a[0];
    for (int c = 1; c < chains; ++c) sum = ei::padd(sum, a[c]);
    alignas(64) Scalar out[lanes];
    ei::pstore(out, sum);
    benchmark::DoNotOptimize(out[0]);
  };
  for (auto _ : state) {
#ifdef _OPENMP
#pragma omp parallel num_threads(static_cast<int>(threads))
    run();
#else
    run();
#endif
  }
  set_flops(state, 2.0 * lanes * chains * static_cast<double>(iterations) * static_cast<double>(threads));
}

// --- self-attention's input projections: per head (attn) or one in_proj GEMM ------------------
// inproj/attn: the 3h products x·W[:, head's columns] into one head's buffer, as multi_head
// runs them (detail/multi_head_run.hpp); inproj/gemm: one product x·[Wq Wk Wv] into T×3D, as
// torch.nn.MultiheadAttention's in_proj does. FLOPs 6·T·D², one thread (issue 18 asked whether
// fusing pays: attn ÷ GEMM above 1 would say so).
void inproj_heads(benchmark::State& state) {
  const Index t = state.range(0);
  const Mat x = random(t, kModel, 9), w = random(kModel, 3 * kModel, 10);
  const Index dh = kModel / kHeads;
  Mat lane(t, dh);
  for (auto _ : state) {
    for (Index c = 0; c < 3 * kModel; c += dh) attn::detail::product(x, w.middleCols(c, dh), lane);
    benchmark::DoNotOptimize(lane.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, 6.0 * static_cast<double>(t) * kModel * kModel);
}

void inproj_fused(benchmark::State& state) {
  const Index t = state.range(0);
  const Mat x = random(t, kModel, 9), w = random(kModel, 3 * kModel, 10);
  Mat y(t, 3 * kModel);
  for (auto _ : state) {
    attn::detail::product(x, w, y);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, 6.0 * static_cast<double>(t) * kModel * kModel);
}

void inproj_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T"})->UseRealTime()->Unit(benchmark::kMillisecond);
  for (const int t : {128, 512, 2048}) b->Args({t});
}

void mha_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T", "threads"})->UseRealTime()->Unit(benchmark::kMillisecond);
  for (const int threads : {1, 2})
    for (const int t : {128, 512, 2048}) b->Args({t, threads});
}

void sdpa_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T", "threads"})->UseRealTime()->Unit(benchmark::kMicrosecond);
  for (const int threads : {1, 2})
    for (const int t : {64, 256, 1024, 4096}) b->Args({t, threads});
}

}  // namespace

BENCHMARK(peak_fma)->Name("peak/fma")->ArgNames({"threads"})->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(mha_attn)->Name("mha/attn")->Apply(mha_args);
BENCHMARK(mha_naive)->Name("mha/naive")->Apply(mha_args);
BENCHMARK(mha_gemm)->Name("mha/gemm")->Apply(mha_args);
BENCHMARK(sdpa_attn)->Name("sdpa/attn")->Apply(sdpa_args);
BENCHMARK(sdpa_naive)->Name("sdpa/naive")->Apply(sdpa_args);
BENCHMARK(sdpa_gemm)->Name("sdpa/gemm")->Apply(sdpa_args);
BENCHMARK(inproj_heads)->Name("inproj/attn")->Apply(inproj_args);
BENCHMARK(inproj_fused)->Name("inproj/gemm")->Apply(inproj_args);

BENCHMARK_MAIN();
