// SPDX-License-Identifier: MIT
// LibTorch's torch::nn::MultiheadAttention on the inputs of bench_attention.cpp's mha rows, for
// the side-by-side table of docs/08-performance.md. Built as attn_bench_attention_torch only when
// CMake finds LibTorch (Debian's libtorch-dev; bench/CMakeLists.txt); never a dependency of the
// library or the tests. Float, CPU, inference mode (no autograd).
//   mha/torch/T:<T>/threads:<n>: forward(x, x, x) of self-attention, h = 8, D = 512, attn's
//     parameters (attn_bench::mha_params, the same seeds as mha/attn), per-head weights returned
//     (need_weights = true, average_attn_weights = false), as mha/attn returns them; LibTorch on
//     n intra-op threads. LibTorch's products go to the BLAS its build links (Debian 12:
//     libblas.so.3, which is OpenBLAS when libopenblas0 is installed, else the reference BLAS).
#include "common.hpp"
#include "torch_common.hpp"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

namespace {

using attn::Index;
using attn_bench::random;

void mha_torch(benchmark::State& state) {
  const Index t = state.range(0);
  attn_bench::torch_threads(static_cast<int>(state.range(1)));
  const attn_bench::Mha m;
  auto module = m.module();
  torch::InferenceMode guard;
  const torch::Tensor x = attn_bench::tensor(random(t, attn_bench::kTorchModel, 9)).unsqueeze(1);  // T×1×D
  module->forward(x, x, x, {}, true, {}, false);
  for (auto _ : state) {
    auto out = module->forward(x, x, x, {}, true, {}, false);
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  const double T = static_cast<double>(t), D = static_cast<double>(attn_bench::kTorchModel);
  state.counters["GFLOP/s"] =
      benchmark::Counter((8.0 * T * D * D + 4.0 * T * T * D) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void mha_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T", "threads"})->UseRealTime()->Unit(benchmark::kMillisecond);
  for (const int threads : {1, 2})
    for (const int t : {128, 512, 2048}) b->Args({t, threads});
}

}  // namespace

BENCHMARK(mha_torch)->Name("mha/torch")->Apply(mha_args);

BENCHMARK_MAIN();
