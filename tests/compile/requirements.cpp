// SPDX-License-Identifier: MIT
// Compile test: what attn needs of the compiler (C++17, exceptions) is said by config.hpp in one
// line each, before the errors Eigen and attn would give otherwise (tests/CMakeLists.txt compiles
// this with -std=c++14 and with -fno-exceptions); the version and backend macros and functions;
// the message for a scalar other than float and double.
#include <attn/config.hpp>
#ifdef ATTN_REQUIREMENTS_UMBRELLA  // (-std=c++14, -fno-exceptions: config.hpp must stop the compile
#include <attn/attn.hpp>           // before the other headers add their own errors)
#endif

static_assert(ATTN_VERSION_AT_LEAST(ATTN_VERSION_MAJOR, ATTN_VERSION_MINOR, ATTN_VERSION_PATCH), "this version");
static_assert(ATTN_VERSION_AT_LEAST(0, 0, 0), "an older version");
static_assert(!ATTN_VERSION_AT_LEAST(ATTN_VERSION_MAJOR, ATTN_VERSION_MINOR, ATTN_VERSION_PATCH + 1),
              "the next patch");
static_assert(!ATTN_VERSION_AT_LEAST(ATTN_VERSION_MAJOR, ATTN_VERSION_MINOR + 1, 0), "the next minor version");
static_assert(!ATTN_VERSION_AT_LEAST(ATTN_VERSION_MAJOR + 1, 0, 0), "the next major version");
#if ATTN_VERSION_MINOR > 0
static_assert(ATTN_VERSION_AT_LEAST(ATTN_VERSION_MAJOR, ATTN_VERSION_MINOR - 1, 99), "an older minor version");
#endif

// The backend this file is compiled for (ATTN_EXPECT_BACKEND, from the test's -D).
static_assert(attn::product_backend<float>() == attn::ProductBackend::ATTN_EXPECT_BACKEND, "float's backend");
static_assert(attn::product_backend<double>() ==
                  (attn::ProductBackend::ATTN_EXPECT_BACKEND == attn::ProductBackend::blas ? attn::ProductBackend::blas
                                                                                           : attn::ProductBackend::own),
              "double's backend: a BLAS takes both, oneDNN float only");

int main() {
#ifdef ATTN_EXPECT_HALF  // a float16 matrix (torch's half, a model's fp16 weights): says what to do
  static_assert(attn::detail::check_scalar<Eigen::half>());
#endif
#ifdef ATTN_EXPECT_LONG_DOUBLE  // long double is a floating type, but not one attn computes in
  static_assert(attn::detail::check_scalar<long double>());
#endif
  return 0;
}
