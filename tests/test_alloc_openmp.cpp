// SPDX-License-Identifier: MIT
// Warm calls allocate nothing under OpenMP either. With one thread (OMP_NUM_THREADS=1, or a call
// from inside the caller's own parallel region) attn starts no parallel region: libgomp allocates
// a team for every region, even of one thread, and the no_malloc suite cannot see it
// (EIGEN_RUNTIME_NO_MALLOC watches Eigen's allocations only). Its own program, built with OpenMP
// where the compiler has it (tests/CMakeLists.txt: attn_tests_alloc_openmp), counting every
// allocation with tests/alloc_counter.hpp.
#include "helpers.hpp"

#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "alloc_counter.hpp"  // after every header: it replaces the malloc family

// Everything in this file lives in namespace test_alloc_openmp.
namespace test_alloc_openmp {

namespace {

using attn::Index;
using Eigen::MatrixXf;

// Small enough that Eigen's products block on the stack (no packing buffer on the heap):
// whatever a warm call allocates is attn's or OpenMP's.
constexpr Index kT = 20;
constexpr Index kD = 32;
constexpr Index kHeads = 4;
constexpr int kCalls = 50;

attn::MultiHeadParams<float> params() {
  attn::MultiHeadParams<float> p;
  p.wq = MatrixXf::Random(kD, kD);
  p.wk = MatrixXf::Random(kD, kD);
  p.wv = MatrixXf::Random(kD, kD);
  p.wo = MatrixXf::Random(kD, kD);
  p.bq = attn::RowVector<float>::Random(kD);
  p.bo = attn::RowVector<float>::Random(kD);
  p.heads = kHeads;
  return p;
}

/// One caller's calls: its own workspaces and results, shared const inputs and parameters.
struct Caller {
  attn::MultiHeadWorkspace<float> mh_ws;
  attn::HeadWeights<float> mh_weights;
  MatrixXf mh_out{kT, kD};
  attn::Workspace<float> ws;
  MatrixXf out{kT, kD};
  MatrixXf weights{kT, kT};

  void call(const MatrixXf& x, const attn::MultiHeadParams<float>& p) {
    attn::multi_head_into(x, x, x, p, mh_out, mh_weights, mh_ws, attn::Mask::causal());
    attn::scaled_dot_product_into(x, x, x, out, weights, ws, attn::Mask::causal());
  }
};

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(n);
#else
  static_cast<void>(n);
#endif
}

}  // namespace

TEST_CASE("warm multi_head_into and scaled_dot_product_into allocate nothing with one OpenMP thread",
          "[alloc][openmp]") {
  const MatrixXf x = MatrixXf::Random(kT, kD);
  const attn::MultiHeadParams<float> p = params();
  const int before = max_threads();
  set_threads(1);
  Caller caller;
  caller.call(x, p);  // warm-up: the workspaces and results grow here
  caller.call(x, p);
  const attn_alloc::Usage warm = attn_alloc::measure([&] {
    for (int c = 0; c < kCalls; ++c) caller.call(x, p);
  });
  set_threads(before);
  CHECK(warm.calls == 0);
  CHECK(warm.bytes == 0);
}

TEST_CASE("warm calls from inside a caller's parallel region of two threads allocate nothing", "[alloc][openmp]") {
  // A service's own threads, each with its workspaces: attn's calls see a team already running
  // and start none (a nested region would be a team of one thread, allocated per call).
  const MatrixXf x = MatrixXf::Random(kT, kD);
  const attn::MultiHeadParams<float> p = params();
  std::vector<Caller> callers(2);
  std::vector<MatrixXf> first(2);
  const auto run = [&](int calls) {
#ifdef _OPENMP
#pragma omp parallel num_threads(2)
#endif
    {
#ifdef _OPENMP
      const auto t = static_cast<std::size_t>(omp_get_thread_num());
#else
      for (std::size_t t = 0; t < 2; ++t)
#endif
      for (int c = 0; c < calls; ++c) callers[t].call(x, p);
    }
  };
  run(2);  // warm-up, and the caller's team of two threads is made once
  for (std::size_t t = 0; t < 2; ++t) first[t] = callers[t].mh_out;
  const attn_alloc::Usage warm = attn_alloc::measure([&] { run(kCalls); });
  CHECK(warm.calls == 0);
  CHECK(warm.bytes == 0);
  // Both callers computed the same thing, and the same as before.
  for (std::size_t t = 0; t < 2; ++t) CHECK(callers[t].mh_out == first[0]);
}

}  // namespace test_alloc_openmp
