// SPDX-License-Identifier: MIT
// OpenMP plumbing: how many threads a region of attn's would get, this thread's number, and the
// guard that keeps Eigen's products single-threaded (bit-identical results for any setting).
// Without OpenMP every function here is trivial.
#pragma once

#include "../config.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace attn {
namespace detail {

#ifdef _OPENMP
/// This thread's record of the outermost SingleThreadedEigen in force (see there).
struct SerialState {
  int depth = 0;    // guards in force on this thread
  int threads = 1;  // omp_get_max_threads() before the outermost one
  int level = 0;    // omp_get_level() then
};
inline SerialState& serial_state() {
  static thread_local SerialState state;
  return state;
}
#endif

/// Threads a parallel region started here would have: 1 without OpenMP, inside an active
/// parallel region, and inside a region attn started (a region attn opens there has one
/// thread: nested, but never more threads); else what omp_get_max_threads() said before
/// SingleThreadedEigen set it to 1.
inline Index max_threads() {
#ifdef _OPENMP
  if (omp_in_parallel()) return 1;
  const SerialState& state = serial_state();
  if (state.depth == 0) return static_cast<Index>(omp_get_max_threads());
  return omp_get_level() > state.level ? 1 : static_cast<Index>(state.threads);
#else
  return 1;
#endif
}

/// For its lifetime, every product Eigen computes on this thread is single-threaded, whatever
/// the OpenMP settings; attn's own parallel regions still take max_threads() threads.
///
/// Why: with OpenMP, Eigen's GEMM threads itself unless it runs in a team of more than one
/// thread, asking for Eigen::nbThreads() threads (by default omp_get_max_threads()) and
/// blocking the product for that count. In a team of one (OMP_DYNAMIC=true on a busy machine,
/// OMP_THREAD_LIMIT=1) or outside any region it would take that path, and the other blocking
/// rounds differently: 1 ulp apart from the single-threaded product a team of two runs.
/// The guard sets the calling task's nthreads-var (omp_set_num_threads(1)) and restores it on
/// exit; that value is per task (an OpenMP internal control variable), so no other thread and
/// nothing after the call sees the change. A count set with Eigen::setNbThreads(n > 1) takes
/// precedence over it: then results are bit-identical only for a fixed OpenMP setting (README).
/// Without OpenMP it does nothing.
class SingleThreadedEigen {
 public:
  SingleThreadedEigen() {
#ifdef _OPENMP
    SerialState& state = serial_state();
    if (state.depth++ == 0) {
      state.threads = omp_get_max_threads();
      state.level = omp_get_level();
      omp_set_num_threads(1);
    }
#endif
  }
  ~SingleThreadedEigen() {
#ifdef _OPENMP
    SerialState& state = serial_state();
    if (--state.depth == 0) omp_set_num_threads(state.threads);
#endif
  }
  SingleThreadedEigen(const SingleThreadedEigen&) = delete;
  SingleThreadedEigen& operator=(const SingleThreadedEigen&) = delete;
};

/// The start of a kernel call on `Scalar` that runs Eigen's products single-threaded (see
/// SingleThreadedEigen) until the end of its scope, with the scalar type checked at compile time.
template <typename Scalar>
class SerialCall : SingleThreadedEigen {
 public:
  SerialCall() { static_assert(check_scalar<Scalar>()); }
};

/// This thread's number in the current team (0 without OpenMP).
inline Index thread_id() {
#ifdef _OPENMP
  return static_cast<Index>(omp_get_thread_num());
#else
  return 0;
#endif
}

}  // namespace detail
}  // namespace attn
