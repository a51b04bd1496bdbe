// SPDX-License-Identifier: MIT
// Checked size arithmetic: a product of sizes that would overflow Index (and then allocate too
// little and write out of bounds) throws attn::invalid_argument naming the sizes instead.
#include "attn/config.hpp"
#include "attn/history.hpp"
#include "attn/multi_head.hpp"
#include "attn/scaled_dot_product.hpp"
#include "attn/workspace.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <string>

namespace test_sizes {

using attn::Index;

TEST_CASE("sizes: AlignmentHistory with steps·heads·length overflowing Index throws (no heap overflow)",
          "[sizes][history][error]") {
  // The repro: before the fix, reserve() allocated 2^64 mod 2^64 = 0 elements and the
  // record() below wrote a megabyte past them (ASan: heap-buffer-overflow).
  attn::AlignmentHistory<float> h(1, Index(1) << 20);
  CHECK_THROWS_AS(h.reserve(Index(1) << 44), attn::invalid_argument);
  CHECK_THROWS_WITH(h.reserve(Index(1) << 44),
                    "attn::AlignmentHistory::reserve: steps\xC2\xB7heads\xC2\xB7source_length "
                    "(17592186044416\xC2\xB7" "1\xC2\xB7" "1048576) is too large: the product overflows Index");
  CHECK(h.capacity(0) == 0);
  const attn::RowVector<float> row = attn::RowVector<float>::Constant(Index(1) << 20, 0.5f);
  h.record(0, row);
  CHECK(h.steps(0) == 1);
  CHECK(h.view(0)(0, (Index(1) << 20) - 1) == 0.5f);

  CHECK_THROWS_AS(attn::AlignmentHistory<double>(2, Index(1) << 40, 8, Index(1) << 40), attn::invalid_argument);
}

TEST_CASE("sizes: HeadWeights::resize with heads·rows·cols overflowing Index throws", "[sizes][multi_head][error]") {
  attn::HeadWeights<float> w;
  CHECK_THROWS_WITH(w.resize(Index(1) << 21, Index(1) << 21, Index(1) << 22),
                    "attn::HeadWeights::resize: heads\xC2\xB7rows\xC2\xB7" "cols (2097152\xC2\xB7"
                    "2097152\xC2\xB7" "4194304) is too large: the product overflows Index");
  CHECK(w.size() == 0);
  w.resize(2, 3, 4);
  CHECK(w.size() == 24);
}

TEMPLATE_TEST_CASE("sizes: Tk near Index's limit throws, output only and with sinks (no SIGFPE)", "[sizes][error]",
                   float, double) {
  // Keys and values are nullary expressions: no storage, nothing read. Sizing the call's blocks
  // multiplied Tk by sizeof(Scalar), which overflowed from Tk = 2^62 (float) or 2^61 (double)
  // and then divided by zero (SIGFPE) before any size check ran.
  using M = Eigen::Matrix<TestType, Eigen::Dynamic, Eigen::Dynamic>;
  for (const int lg : {61, 62}) {
    const Index tk = Index(1) << lg;
    INFO("Tk = 2^" << lg);
    M out(4, 1);
    attn::Workspace<TestType> ws;
    CHECK_THROWS_WITH(attn::scaled_dot_product_into(M::Constant(4, 4, 1), M::Constant(tk, 4, 1), M::Constant(tk, 1, 1),
                                                    out, attn::no_weights, ws),
                      "attn::Workspace: rows\xC2\xB7" "cols of a scratch buffer (4\xC2\xB7" + std::to_string(tk) +
                          ") is too large: the product overflows Index");
  }
}

TEST_CASE("sizes: checked_product", "[sizes][error]") {
  using attn::detail::checked_product;
  CHECK(checked_product("f", "a·b", {3, 4}) == 12);
  CHECK(checked_product("f", "a·b", {Index(1) << 62, 0}) == 0);
  CHECK(checked_product("f", "a·b·c", {Index(1) << 31, Index(1) << 31, 1}) == Index(1) << 62);
  CHECK_THROWS_WITH(checked_product("f", "a·b", {Index(1) << 32, Index(1) << 32}),
                    "f: a·b (4294967296\xC2\xB7" "4294967296) is too large: the product overflows Index");
  CHECK_THROWS_WITH(checked_product("f", "a·b", {-1, 2}), "f: a·b (-1\xC2\xB7" "2) has a negative size");
  attn::detail::Buffer<double> buffer;
  CHECK_THROWS_AS(buffer.matrix(Index(1) << 32, Index(1) << 32), attn::invalid_argument);
}

}  // namespace test_sizes
