// SPDX-License-Identifier: MIT
// One decoder step (float, one query row, T_in = 50 encoder states): attn's prepared Memory
// against a naive Eigen step, in one run.
//   decode/bahdanau/*: e_j = v·tanh(q·Wq + k_j·Wk), 256 units, query 256, keys and values 256
//   decode/luong/*:    e = q·W·Kᵀ (Luong general), 256×256
//   decode/sdpa/*:     e = q·Kᵀ/sqrt(256)
// Both sides project the keys once, outside the timed loop (TF's memory layer does the same),
// and both return the context and the alignment. The naive step is what a user writes with
// Eigen: expressions, temporaries, a broadcast tanh and softmax. attn steps through a Workspace
// (attn::attend_into) and allocates nothing per step: tests/test_no_malloc_decoding.cpp checks
// that at these shapes.
#include <attn/memory.hpp>

#include "common.hpp"

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <cmath>

namespace {

using attn::Index;
using attn_bench::Mat;
using attn_bench::random;
using attn_bench::Scalar;
using Row = attn::RowVector<Scalar>;

constexpr Index kInputs = 50;  // T_in
constexpr Index kWidth = 256;  // query, key and value width; Bahdanau units

struct Inputs {
  Mat keys = random(kInputs, kWidth, 1);
  Mat values = random(kInputs, kWidth, 2);
  Mat query = random(1, kWidth, 3);
  Scalar g = Scalar(1) / std::sqrt(static_cast<Scalar>(kWidth));
  Mat wq = random(kWidth, kWidth, 4) * g;
  Mat wk = random(kWidth, kWidth, 5) * g;
  Row v = random(1, kWidth, 6);
};

// The naive step's softmax over one row and its context.
void naive_finish(const Row& e, const Mat& values, Row& alignment, Row& context) {
  alignment = (e.array() - e.maxCoeff()).exp();
  alignment /= alignment.sum();
  context = alignment * values;
}

template <typename Params>
void step_attn(benchmark::State& state, const Params& params) {
  const Inputs in;
  const auto memory = attn::prepare_memory(in.keys, in.values, params);
  attn::Workspace<Scalar> ws;
  Mat context(1, kWidth), alignment(1, kInputs);
  attn::attend_into(memory, in.query, context, alignment, ws);
  for (auto _ : state) {
    attn::attend_into(memory, in.query, context, alignment, ws);
    benchmark::DoNotOptimize(context.data());
    benchmark::DoNotOptimize(alignment.data());
    benchmark::ClobberMemory();
  }
}

void bahdanau_attn(benchmark::State& state) {
  const Inputs in;
  attn::BahdanauParams<Scalar> p;
  p.wq = in.wq;
  p.wk = in.wk;
  p.v = in.v;
  step_attn(state, p);
}

void bahdanau_naive(benchmark::State& state) {
  const Inputs in;
  const Mat keys = in.keys * in.wk;  // the memory layer, once
  Row alignment, context;
  for (auto _ : state) {
    const Row pq = in.query * in.wq;
    const Mat hidden = (keys.rowwise() + pq).array().tanh();
    const Row e = (hidden * in.v.transpose()).transpose();
    naive_finish(e, in.values, alignment, context);
    benchmark::DoNotOptimize(context.data());
    benchmark::DoNotOptimize(alignment.data());
    benchmark::ClobberMemory();
  }
}

void luong_attn(benchmark::State& state) {
  const Inputs in;
  step_attn(state, attn::LuongParams<Scalar>::general(in.wq));
}

void luong_naive(benchmark::State& state) {
  const Inputs in;
  const Mat keys = in.keys * in.wq.transpose();  // W·Kᵀ's keys side, once
  Row alignment, context;
  for (auto _ : state) {
    const Row e = in.query * keys.transpose();
    naive_finish(e, in.values, alignment, context);
    benchmark::DoNotOptimize(context.data());
    benchmark::DoNotOptimize(alignment.data());
    benchmark::ClobberMemory();
  }
}

void sdpa_attn(benchmark::State& state) { step_attn(state, attn::ScaledDotProductParams{}); }

void sdpa_naive(benchmark::State& state) {
  const Inputs in;
  const Scalar scale = Scalar(1) / std::sqrt(static_cast<Scalar>(kWidth));
  Row alignment, context;
  for (auto _ : state) {
    const Row e = in.query * in.keys.transpose() * scale;
    naive_finish(e, in.values, alignment, context);
    benchmark::DoNotOptimize(context.data());
    benchmark::DoNotOptimize(alignment.data());
    benchmark::ClobberMemory();
  }
}

}  // namespace

BENCHMARK(bahdanau_attn)->Name("decode/bahdanau/attn");
BENCHMARK(bahdanau_naive)->Name("decode/bahdanau/naive");
BENCHMARK(luong_attn)->Name("decode/luong/attn");
BENCHMARK(luong_naive)->Name("decode/luong/naive");
BENCHMARK(sdpa_attn)->Name("decode/sdpa/attn");
BENCHMARK(sdpa_naive)->Name("decode/sdpa/naive");

BENCHMARK_MAIN();
