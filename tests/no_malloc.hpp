// SPDX-License-Identifier: MIT
// Prelude of the no-allocation suite (tests/test_no_malloc*.cpp, one program built with
// EIGEN_RUNTIME_NO_MALLOC): included before any Eigen header, it turns eigen_assert (and so
// ATTN_ASSERT and Eigen's heap check) into an exception, so that a forbidden allocation fails a
// test instead of aborting the program. Every file of that program sees this one definition.
#pragma once

#include <stdexcept>

namespace attn_test {
/// What an eigen_assert (Eigen's heap check, ATTN_ASSERT, any Eigen precondition) throws here.
struct EigenAssertion : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace attn_test

#ifdef EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(x)                                                         \
  do {                                                                          \
    if (!(x)) throw ::attn_test::EigenAssertion("eigen_assert: " #x);           \
  } while (0)
#endif
