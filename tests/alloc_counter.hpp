// SPDX-License-Identifier: MIT
// The allocation counter of the allocation-counting programs (tests/test_alloc*.cpp): it
// replaces glibc's malloc family, which every allocation goes through (Eigen's aligned_malloc,
// operator new and OpenMP's runtime alike), to count bytes, calls and the peak of bytes in use.
// Include it once per program, after every other header (glibc and the compiler's headers
// declare these functions first). Linux/glibc only, not in sanitizer builds.
#pragma once

#include <malloc.h>

#include <atomic>
#include <cstddef>

namespace attn_alloc {
inline std::atomic<bool> counting{false};     // whether calls and totals are counted
inline std::atomic<long long> in_use{0};      // bytes in use now (usable sizes), always tracked
inline std::atomic<long long> peak{0};        // the largest in_use while counting
inline std::atomic<long long> allocated{0};   // bytes allocated while counting
inline std::atomic<long long> calls{0};       // allocations while counting

inline void* note(void* p) {
  if (p == nullptr) return p;
  const auto size = static_cast<long long>(malloc_usable_size(p));
  const long long now = in_use.fetch_add(size) + size;
  if (counting.load()) {
    ++calls;
    allocated += size;
    long long seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
  }
  return p;
}
inline void forget(void* p) {
  if (p != nullptr) in_use -= static_cast<long long>(malloc_usable_size(p));
}
}  // namespace attn_alloc

// glibc declares the malloc family `throw()` (noexcept) in C++: so are these.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t size) noexcept { return attn_alloc::note(__libc_malloc(size)); }
void* calloc(std::size_t n, std::size_t size) noexcept { return attn_alloc::note(__libc_calloc(n, size)); }
void* realloc(void* p, std::size_t size) noexcept {
  attn_alloc::forget(p);
  return attn_alloc::note(__libc_realloc(p, size));
}
void* memalign(std::size_t alignment, std::size_t size) noexcept { return attn_alloc::note(__libc_memalign(alignment, size)); }
void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept { return memalign(alignment, size); }
int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  void* p = memalign(alignment, size);
  if (p == nullptr) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void free(void* p) noexcept {
  attn_alloc::forget(p);
  __libc_free(p);
}
}

namespace attn_alloc {

/// What a call allocated: bytes in all, the peak of bytes in use above the start, and calls.
struct Usage {
  long long bytes = 0;
  long long peak = 0;
  long long calls = 0;
};

/// Runs `f` and reports what it allocated.
template <typename F>
Usage measure(F&& f) {
  const long long start = in_use.load();
  peak = start;
  allocated = 0;
  calls = 0;
  counting = true;
  f();
  counting = false;
  return {allocated.load(), peak.load() - start, calls.load()};
}

}  // namespace attn_alloc
