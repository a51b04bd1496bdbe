// SPDX-License-Identifier: MIT
// Compile-failure test of the AttentionLoop cell trap (CTest compile.attention_loop_cell.*, run
// by tests/compile/expect_compile.cmake): a cell written as `(const Matrix& x, const Matrix& h)
// -> Matrix` used to compile and run with an all-zero query at every step. ATTN_CELL selects the
// cell; every case but `good` must fail to compile with AttentionLoop::step's static_assert.
#include <attn/attention_loop.hpp>

#include <Eigen/Core>

using M = attn::Matrix<double>;

#define ATTN_CELL_good 0
#define ATTN_CELL_returns_matrix 1
#define ATTN_CELL_const_output 2
#define ATTN_CELL_output_by_value 3
#define ATTN_CELL_wrong_arity 4
#define ATTN_CELL_SELECT2(name) ATTN_CELL_##name
#define ATTN_CELL_SELECT(name) ATTN_CELL_SELECT2(name)

namespace {
#if ATTN_CELL_SELECT(ATTN_CELL) == 0
// The signature the loop expects, also as a generic lambda below.
void cell(const M& x, M& h) { h = x.leftCols(h.cols()); }
#elif ATTN_CELL_SELECT(ATTN_CELL) == 1
// The natural guess: returns the new state instead of writing it.
M cell(const M& x, const M& h) { return x.leftCols(h.cols()); }
#elif ATTN_CELL_SELECT(ATTN_CELL) == 2
// Writes nothing it could: its output parameter is const (and it returns nothing).
void cell(const M& x, const M& h) { (void)x; (void)h; }
#elif ATTN_CELL_SELECT(ATTN_CELL) == 3
// Writes into its own copy.
void cell(const M& x, M h) { h = x; }
#elif ATTN_CELL_SELECT(ATTN_CELL) == 4
void cell(const M& x) { (void)x; }
#else
#error "ATTN_CELL must be good, returns_matrix, const_output, output_by_value or wrong_arity"
#endif
}  // namespace

int main() {
  const M memory_values = M::Ones(3, 2);
  const auto memory = attn::prepare_memory(memory_values, memory_values, attn::ScaledDotProductParams{});
  attn::AttentionLoopOptions<double> options;
  options.input_size = 1;
  attn::AttentionLoop<double> loop(memory, options);
  loop.step(M::Ones(1, 1), cell);
  loop.step(M::Ones(1, 1), [](const M& x, M& h) { cell(x, h); });
#if ATTN_CELL_SELECT(ATTN_CELL) == 0
  loop.step(M::Ones(1, 1), [](const auto& x, auto& h) { h = x.leftCols(h.cols()); });
#endif
  return 0;
}
