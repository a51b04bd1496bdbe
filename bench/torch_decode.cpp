// SPDX-License-Identifier: MIT
// LibTorch's decoder steps on the inputs of bench_decode.cpp, for the side-by-side tables of
// docs/08-performance.md. Built as attn_bench_decode_torch only when CMake finds LibTorch
// (Debian's libtorch-dev; bench/CMakeLists.txt); never a dependency of the library or the tests.
// One intra-op and one inter-op thread, float, CPU, inference mode (no autograd).
//   decode/<bahdanau|luong|sdpa>/torch: the single-head steps with torch ops on the same prepared
//     keys (T_in = 50, width 256): scores, softmax, context; the alignment is returned.
//   decode/mha_cross/torch_ops/T:<T_in>/B:<beams>: a cross-attention step with torch ops on the
//     source projected once (K, V split into heads outside the loop), per-head weights kept: what
//     attn::MultiHeadMemory does.
//   decode/mha_cross/torch_module/...: torch::nn::MultiheadAttention::forward(query, source,
//     source) with attn's parameters, per-head weights (average_attn_weights = false): the module
//     cannot be given projected keys, so it projects the source again at every step.
//   decode/mha_self/torch_ops/T:512/B:<beams>: a self-attention step over a cache of 512
//     positions per beam: project the new position, write its key and value into preallocated
//     cache tensors, attend with torch ops (attn::KVCache's work).
//   decode/mha_self/torch_module/...: MultiheadAttention::forward over the 512 cached inputs
//     (again re-projecting all of them, as the module must).
#include "common.hpp"
#include "torch_common.hpp"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cmath>

namespace {

using attn::Index;
using attn_bench::Mat;
using attn_bench::random;
using attn_bench::Scalar;
using attn_bench::Mha;
using attn_bench::one_thread;
using attn_bench::tensor;

constexpr Index kInputs = 50;
constexpr Index kWidth = 256;
constexpr Index kHeads = 8;
constexpr Index kModel = 512;
constexpr Index kCache = 512;

// The inputs of bench_decode.cpp (same seeds).
struct Inputs {
  Scalar g = Scalar(1) / std::sqrt(static_cast<Scalar>(kWidth));
  torch::Tensor keys = tensor(random(kInputs, kWidth, 1));
  torch::Tensor values = tensor(random(kInputs, kWidth, 2));
  torch::Tensor query = tensor(random(1, kWidth, 3));
  torch::Tensor wq = tensor(Mat(random(kWidth, kWidth, 4) * g));
  torch::Tensor wk = tensor(Mat(random(kWidth, kWidth, 5) * g));
  torch::Tensor v = tensor(random(1, kWidth, 6));
};

template <typename Step>
void run(benchmark::State& state, Step&& step) {
  one_thread();
  torch::InferenceMode guard;
  step();
  for (auto _ : state) {
    auto out = step();
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
}

void bahdanau_torch(benchmark::State& state) {
  const Inputs in;
  torch::InferenceMode guard;
  const torch::Tensor keys = torch::matmul(in.keys, in.wk);  // the memory layer, once
  run(state, [&] {
    const auto pq = torch::matmul(in.query, in.wq);                   // 1×units
    const auto e = torch::matmul(torch::tanh(keys + pq), in.v.t());  // Tk×1
    const auto a = torch::softmax(e.t(), 1);
    return std::make_pair(torch::matmul(a, in.values), a);
  });
}

void luong_torch(benchmark::State& state) {
  const Inputs in;
  torch::InferenceMode guard;
  const torch::Tensor keys = torch::matmul(in.keys, in.wq.t());  // the keys side of q·W·Kᵀ, once
  run(state, [&] {
    const auto a = torch::softmax(torch::matmul(in.query, keys.t()), 1);
    return std::make_pair(torch::matmul(a, in.values), a);
  });
}

void sdpa_torch(benchmark::State& state) {
  const Inputs in;
  const double scale = 1.0 / std::sqrt(static_cast<double>(kWidth));
  run(state, [&] {
    const auto a = torch::softmax(torch::matmul(in.query, in.keys.t()) * scale, 1);
    return std::make_pair(torch::matmul(a, in.values), a);
  });
}

// One step of `query` (B×D) against per-head keys and values (B or 1)×h×T×dh: output B×D and the
// per-head weights B×h×1×T.
std::pair<torch::Tensor, torch::Tensor> heads_step(const Mha& m, const torch::Tensor& query, const torch::Tensor& k,
                                                   const torch::Tensor& v) {
  const Index dh = kModel / kHeads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
  const auto q = ((torch::matmul(query, m.wq) + m.bq) * scale).view({query.size(0), kHeads, 1, dh});
  const auto w = torch::softmax(torch::matmul(q, k.transpose(-2, -1)), -1);  // B×h×1×T
  const auto concat = torch::matmul(w, v).reshape({query.size(0), kModel});
  return {torch::matmul(concat, m.wo) + m.bo, w};
}

// Projected source T×D as h×T×dh.
torch::Tensor split_heads(const torch::Tensor& x) {
  return x.view({x.size(0), kHeads, kModel / kHeads}).transpose(0, 1).contiguous();
}

void mha_cross_torch_ops(benchmark::State& state) {
  const Index t_in = state.range(0);
  const Index beams = state.range(1);
  const Mha m;
  const torch::Tensor source = tensor(random(t_in, kModel, 21));
  const torch::Tensor query = tensor(random(beams, kModel, 22));
  torch::InferenceMode guard;
  const auto k = split_heads(torch::matmul(source, m.wk) + m.bk);  // projected once
  const auto v = split_heads(torch::matmul(source, m.wv) + m.bv);
  run(state, [&] { return heads_step(m, query, k, v); });
}

void mha_cross_torch_module(benchmark::State& state) {
  const Index t_in = state.range(0);
  const Index beams = state.range(1);
  const Mha m;
  auto module = m.module();
  const torch::Tensor source = tensor(random(t_in, kModel, 21));
  const torch::Tensor query = tensor(random(beams, kModel, 22));
  torch::InferenceMode guard;
  const auto q = query.unsqueeze(0);                                       // 1×B×D
  const auto kv = source.unsqueeze(1).expand({t_in, beams, kModel});       // T×B×D
  run(state, [&] { return module->forward(q, kv, kv, {}, true, {}, false); });
}

void mha_self_torch_ops(benchmark::State& state) {
  const Index beams = state.range(1);
  const Mha m;
  const torch::Tensor past = tensor(random(kCache - 1, kModel, 23));
  const torch::Tensor x = tensor(random(beams, kModel, 24));
  torch::InferenceMode guard;
  // Per beam h×T×dh caches with room for the new position, the past projected outside the loop.
  auto k = split_heads(torch::matmul(past, m.wk) + m.bk);
  auto v = split_heads(torch::matmul(past, m.wv) + m.bv);
  torch::Tensor kc = torch::zeros({beams, kHeads, kCache, kModel / kHeads});
  torch::Tensor vc = torch::zeros({beams, kHeads, kCache, kModel / kHeads});
  kc.narrow(2, 0, kCache - 1).copy_(k.unsqueeze(0).expand({beams, -1, -1, -1}));
  vc.narrow(2, 0, kCache - 1).copy_(v.unsqueeze(0).expand({beams, -1, -1, -1}));
  const Index dh = kModel / kHeads;
  run(state, [&] {
    const auto kn = (torch::matmul(x, m.wk) + m.bk).view({beams, kHeads, 1, dh});
    const auto vn = (torch::matmul(x, m.wv) + m.bv).view({beams, kHeads, 1, dh});
    kc.narrow(2, kCache - 1, 1).copy_(kn);
    vc.narrow(2, kCache - 1, 1).copy_(vn);
    return heads_step(m, x, kc, vc);
  });
}

void mha_self_torch_module(benchmark::State& state) {
  const Index beams = state.range(1);
  const Mha m;
  auto module = m.module();
  const torch::Tensor past = tensor(random(kCache - 1, kModel, 23));
  const torch::Tensor x = tensor(random(beams, kModel, 24));
  torch::InferenceMode guard;
  // The 512 inputs of every beam, T×B×D: the past and the new position.
  torch::Tensor inputs = torch::empty({kCache, beams, kModel});
  inputs.narrow(0, 0, kCache - 1).copy_(past.unsqueeze(1).expand({kCache - 1, beams, kModel}));
  inputs[kCache - 1].copy_(x);
  const auto q = x.unsqueeze(0);
  run(state, [&] { return module->forward(q, inputs, inputs, {}, true, {}, false); });
}

}  // namespace

BENCHMARK(bahdanau_torch)->Name("decode/bahdanau/torch");
BENCHMARK(luong_torch)->Name("decode/luong/torch");
BENCHMARK(sdpa_torch)->Name("decode/sdpa/torch");
BENCHMARK(mha_cross_torch_ops)->Name("decode/mha_cross/torch_ops")->Apply(attn_bench::mha_args);
BENCHMARK(mha_cross_torch_module)->Name("decode/mha_cross/torch_module")->Apply(attn_bench::mha_args);
BENCHMARK(mha_self_torch_ops)->Name("decode/mha_self/torch_ops")->Apply(attn_bench::self_args);
BENCHMARK(mha_self_torch_module)->Name("decode/mha_self/torch_module")->Apply(attn_bench::self_args);

BENCHMARK_MAIN();
