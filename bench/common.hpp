// SPDX-License-Identifier: MIT
// What every bench/bench_*.cpp shares: the scalar type and reproducible inputs.
#pragma once

#include <attn/config.hpp>

#include <cstdint>

namespace attn_bench {

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

}  // namespace attn_bench
