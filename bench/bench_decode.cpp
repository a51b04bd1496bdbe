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
//
// Multi-head decoding (float, h = 8, D = 512; tests/test_no_malloc_decoding.cpp checks these
// steps allocate nothing at these shapes):
//   decode/mha_cross/*/T:<T_in>/B:<beams>: one cross-attention step of B query rows against a
//     source prepared once (attn::MultiHeadMemory) vs a naive Eigen step given the same
//     projected K and V (it re-projects nothing): query projection, per-head softmax(q·Kᵀ)·V,
//     output projection, per-head weights kept.
//   decode/mha_self/*/T:512/B:<beams>: one self-attention step over a cache of 512 positions
//     per beam: project and append the new position's key and value, attend, output projection
//     (attn::KVCache; the naive step writes into preallocated K and V). The position is dropped
//     again after each iteration (KVCache::truncate), so that every iteration sees 512.
//   decode/kv_reorder/*/T:512/B:4/parents:<p>: beam reorder of 4 caches of 512 positions
//     (keys and values, 512 wide): attn's slot indirection (copies a cache only for a parent
//     chosen twice) vs copying every beam's cache from its parent ("naive").
#include <attn/kv_cache.hpp>
#include <attn/memory.hpp>
#include <attn/multi_head_memory.hpp>

#include "common.hpp"

#include <benchmark/benchmark.h>

#include <Eigen/Core>

#include <cmath>
#include <string>
#include <vector>

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

// --- multi-head decoding ----------------------------------------------------------------------

constexpr Index kHeads = 8;
constexpr Index kModel = 512;  // D

// The naive multi-head step a user writes with Eigen, given projected K and V (n×D each): B query
// rows, per-head weights into `weights` (one B×n matrix per head), output B×D.
void naive_mha_step(const attn::MultiHeadParams<Scalar>& p, const Mat& query, const Mat& keys, const Mat& values,
                    std::vector<Mat>& weights, Mat& output) {
  const Index dh = kModel / kHeads;
  const Scalar scale = Scalar(1) / std::sqrt(static_cast<Scalar>(dh));
  const Mat q = ((query * p.wq).rowwise() + p.bq) * scale;
  Mat concat(query.rows(), kModel);
  for (Index i = 0; i < kHeads; ++i) {
    Mat e = q.middleCols(i * dh, dh) * keys.middleCols(i * dh, dh).transpose();
    const Eigen::VectorXf max = e.rowwise().maxCoeff();
    e = (e.colwise() - max).array().exp();
    const Eigen::VectorXf sum = e.rowwise().sum();
    e.array().colwise() /= sum.array();
    concat.middleCols(i * dh, dh) = e * values.middleCols(i * dh, dh);
    weights[static_cast<std::size_t>(i)] = e;
  }
  output = (concat * p.wo).rowwise() + p.bo;
}

void mha_cross_attn(benchmark::State& state) {
  const Index t_in = state.range(0);
  const Index beams = state.range(1);
  const auto p = attn_bench::mha_params(kHeads, kModel);
  const Mat source = random(t_in, kModel, 21);
  const Mat query = random(beams, kModel, 22);
  const auto memory = attn::prepare_memory(source, source, p);
  attn::MultiHeadWorkspace<Scalar> ws;
  attn::HeadWeights<Scalar> weights;
  Mat output(beams, kModel);
  attn::attend_into(memory, query, output, weights, ws);
  for (auto _ : state) {
    attn::attend_into(memory, query, output, weights, ws);
    benchmark::DoNotOptimize(output.data());
    benchmark::DoNotOptimize(weights.data());
    benchmark::ClobberMemory();
  }
}

void mha_cross_naive(benchmark::State& state) {
  const Index t_in = state.range(0);
  const Index beams = state.range(1);
  const auto p = attn_bench::mha_params(kHeads, kModel);
  const Mat source = random(t_in, kModel, 21);
  const Mat query = random(beams, kModel, 22);
  const Mat keys = (source * p.wk).rowwise() + p.bk;  // projected once, outside the loop
  const Mat values = (source * p.wv).rowwise() + p.bv;
  std::vector<Mat> weights(static_cast<std::size_t>(kHeads));
  Mat output;
  for (auto _ : state) {
    naive_mha_step(p, query, keys, values, weights, output);
    benchmark::DoNotOptimize(output.data());
    benchmark::DoNotOptimize(weights.data());
    benchmark::ClobberMemory();
  }
}

constexpr Index kCache = 512;

void mha_self_attn(benchmark::State& state) {
  const Index beams = state.range(1);
  const auto p = attn_bench::mha_params(kHeads, kModel);
  const Mat past = random(kCache - 1, kModel, 23);
  const Mat x = random(beams, kModel, 24);
  attn::KVCache<Scalar> cache(p, beams, kCache);
  Mat row(beams, kModel);
  for (Index t = 0; t + 1 < kCache; ++t) {
    for (Index b = 0; b < beams; ++b) row.row(b) = past.row(t);
    cache.append(row);
  }
  attn::MultiHeadWorkspace<Scalar> ws;
  attn::HeadWeights<Scalar> weights;
  Mat output(beams, kModel);
  for (auto _ : state) {
    cache.append(x);
    attn::attend_into(cache, x, output, weights, ws);
    cache.truncate(kCache - 1);
    benchmark::DoNotOptimize(output.data());
    benchmark::DoNotOptimize(weights.data());
    benchmark::ClobberMemory();
  }
}

void mha_self_naive(benchmark::State& state) {
  const Index beams = state.range(1);
  const auto p = attn_bench::mha_params(kHeads, kModel);
  const Mat past = random(kCache - 1, kModel, 23);
  const Mat x = random(beams, kModel, 24);
  // Per beam, K and V with room for the new position, the past projected outside the loop.
  std::vector<Mat> keys, values;
  for (Index b = 0; b < beams; ++b) {
    keys.emplace_back(kCache, kModel);
    values.emplace_back(kCache, kModel);
    keys.back().topRows(kCache - 1) = (past * p.wk).rowwise() + p.bk;
    values.back().topRows(kCache - 1) = (past * p.wv).rowwise() + p.bv;
  }
  std::vector<Mat> weights(static_cast<std::size_t>(kHeads));
  Mat output(beams, kModel), out_row;
  for (auto _ : state) {
    for (Index b = 0; b < beams; ++b) {
      Mat& k = keys[static_cast<std::size_t>(b)];
      Mat& v = values[static_cast<std::size_t>(b)];
      k.row(kCache - 1) = x.row(b) * p.wk + p.bk;
      v.row(kCache - 1) = x.row(b) * p.wv + p.bv;
      naive_mha_step(p, x.row(b), k, v, weights, out_row);
      output.row(b) = out_row;
    }
    benchmark::DoNotOptimize(output.data());
    benchmark::DoNotOptimize(weights.data());
    benchmark::ClobberMemory();
  }
}

const std::vector<std::vector<int>> kParents = {{0, 0, 1, 2}, {1, 0, 3, 2}};

void kv_reorder_attn(benchmark::State& state) {
  const auto& parents = kParents[static_cast<std::size_t>(state.range(0))];
  const auto p = attn_bench::mha_params(kHeads, kModel);
  const Mat x = random(4, kModel, 25);
  attn::KVCache<Scalar> cache(p, 4, kCache);
  for (Index t = 0; t < kCache; ++t) cache.append(x);
  for (auto _ : state) {
    cache.reorder(parents);
    benchmark::ClobberMemory();
  }
  state.counters["copies"] = static_cast<double>(cache.last_reorder_copies());
}

void kv_reorder_naive(benchmark::State& state) {
  const auto& parents = kParents[static_cast<std::size_t>(state.range(0))];
  // Every beam's cache copied from its parent's, into spare storage, then swapped in.
  std::vector<Mat> keys(4, random(kCache, kModel, 26)), values(4, random(kCache, kModel, 27));
  std::vector<Mat> spare_k = keys, spare_v = values;
  for (auto _ : state) {
    for (std::size_t b = 0; b < 4; ++b) {
      spare_k[b] = keys[static_cast<std::size_t>(parents[b])];
      spare_v[b] = values[static_cast<std::size_t>(parents[b])];
    }
    keys.swap(spare_k);
    values.swap(spare_v);
    benchmark::ClobberMemory();
  }
  state.counters["copies"] = 4;
}

void reorder_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"parents"});
  b->Arg(0)->Arg(1);  // {0, 0, 1, 2}: one parent chosen twice; {1, 0, 3, 2}: a permutation
}

}  // namespace

BENCHMARK(bahdanau_attn)->Name("decode/bahdanau/attn");
BENCHMARK(bahdanau_naive)->Name("decode/bahdanau/naive");
BENCHMARK(luong_attn)->Name("decode/luong/attn");
BENCHMARK(luong_naive)->Name("decode/luong/naive");
BENCHMARK(sdpa_attn)->Name("decode/sdpa/attn");
BENCHMARK(sdpa_naive)->Name("decode/sdpa/naive");
BENCHMARK(mha_cross_attn)->Name("decode/mha_cross/attn")->Apply(attn_bench::mha_args);
BENCHMARK(mha_cross_naive)->Name("decode/mha_cross/naive")->Apply(attn_bench::mha_args);
BENCHMARK(mha_self_attn)->Name("decode/mha_self/attn")->Apply(attn_bench::self_args);
BENCHMARK(mha_self_naive)->Name("decode/mha_self/naive")->Apply(attn_bench::self_args);
BENCHMARK(kv_reorder_attn)->Name("decode/kv_reorder/attn")->Apply(reorder_args);
BENCHMARK(kv_reorder_naive)->Name("decode/kv_reorder/naive")->Apply(reorder_args);

BENCHMARK_MAIN();
