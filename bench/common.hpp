// SPDX-License-Identifier: MIT
// What every bench/bench_*.cpp shares: the scalar type, reproducible inputs, the multi-head
// parameters and the timed loop of the full-weights scaled dot-product call.
#pragma once

#include <attn/config.hpp>
#include <attn/detail/gemm.hpp>
#include <attn/multi_head_params.hpp>
#include <attn/scaled_dot_product.hpp>

#include <benchmark/benchmark.h>

#include <cmath>

#include <cstdint>

namespace attn_bench {

/// c = alpha·a·b for the bound rows (the products alone), on the product backend attn's float
/// products use in this build: oneDNN's dnnl_sgemm with ATTN_USE_DNNL (through
/// attn::detail::product, which has no alpha: the scale is left out there, as free as Eigen's),
/// else Eigen's GEMM (a BLAS's with EIGEN_USE_BLAS), which takes alpha into the product.
template <typename A, typename B, typename C>
void bound_product(const A& a, const B& b, C&& c, typename A::Scalar alpha = 1) {
#ifdef ATTN_USE_DNNL
  static_cast<void>(alpha);
  attn::detail::product(a, b, c);
#else
  c.noalias() = alpha * a * b;
#endif
}

using Scalar = float;
using Mat = attn::Matrix<Scalar>;

/// A rows×cols matrix of values in [-1, 1] from a small LCG seeded with `seed`: reproducible
/// inputs without <random>'s per-call cost.
inline Mat random(attn::Index rows, attn::Index cols, std::uint32_t seed) {
  Mat m(rows, cols);
  std::uint32_t s = seed;
  for (attn::Index i = 0; i < m.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    m.data()[i] = static_cast<Scalar>(s >> 8) / static_cast<Scalar>(1u << 23) - Scalar(1);
  }
  return m;
}

/// Multi-head parameters of the benchmarks: `heads` heads of width `model` / `heads`, the four
/// model×model kernels scaled by 1/sqrt(model), and biases.
inline attn::MultiHeadParams<Scalar> mha_params(attn::Index heads, attn::Index model) {
  attn::MultiHeadParams<Scalar> p;
  const Scalar g = Scalar(1) / std::sqrt(static_cast<Scalar>(model));
  p.wq = random(model, model, 1) * g;
  p.wk = random(model, model, 2) * g;
  p.wv = random(model, model, 3) * g;
  p.wo = random(model, model, 4) * g;
  p.bq = random(1, model, 5);
  p.bk = random(1, model, 6);
  p.bv = random(1, model, 7);
  p.bo = random(1, model, 8);
  p.heads = heads;
  return p;
}

/// The timed loop of scaled_dot_product_into returning every weight (warm workspace): T×d
/// random Q, K, V.
inline void sdpa_weights_loop(benchmark::State& state, attn::Index t, attn::Index d) {
  const Mat q = random(t, d, 1), k = random(t, d, 2), v = random(t, d, 3);
  Mat out(t, d), w(t, t);
  attn::Workspace<Scalar> ws;
  attn::scaled_dot_product_into(q, k, v, out, w, ws);
  for (auto _ : state) {
    attn::scaled_dot_product_into(q, k, v, out, w, ws);
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(w.data());
    benchmark::ClobberMemory();
  }
}

/// The multi-head decoder-step shapes of bench_decode and torch_decode (side by side in docs/04):
/// cross-attention over T_in ∈ {50, 512} with B ∈ {1, 4} beams.
inline void mha_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T", "B"});
  for (const int t : {50, 512})
    for (const int beams : {1, 4}) b->Args({t, beams});
}

/// Self-attention over a cache of 512 with B ∈ {1, 4} beams.
inline void self_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T", "B"});
  for (const int beams : {1, 4}) b->Args({512, beams});
}

}  // namespace attn_bench
