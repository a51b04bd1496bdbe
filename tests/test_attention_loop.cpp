// SPDX-License-Identifier: MIT
// attn::AttentionLoop: a toy cell against hand-computed two-step examples (with and without an
// attention layer), the loop against the same steps composed by hand (GRU-like cell, padded
// Bahdanau memory, monotonic memory), options and every argument check.
#include "helpers.hpp"

#include <attn/attention_loop.hpp>
#include "attn_core.hpp"  // the kernels; no exporter

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <type_traits>

// Everything in this file lives in namespace test_attention_loop: the suite is a unity build.
namespace test_attention_loop {

namespace {

using attn::Index;
using Eigen::MatrixXd;

/// Luong-dot memory with K = V = I (2×2): scores = the query itself, context = the weights.
attn::Memory<double> identity_memory() {
  const MatrixXd eye = MatrixXd::Identity(2, 2);
  return attn::prepare_memory(eye, eye, attn::LuongParams<double>::dot());
}

/// Stateless linear toy cell: cell_output = cell_input · C, C (3×2); counts its calls.
struct ToyCell {
  MatrixXd c;
  int calls = 0;
  void operator()(const MatrixXd& cell_input, MatrixXd& cell_output) {
    ++calls;
    cell_output = cell_input * c;
  }
};

MatrixXd toy_c(double row2_scale) {
  const double ln3 = std::log(3.0);
  MatrixXd c(3, 2);
  c << ln3, 0,  //
      0, 0,     //
      0, row2_scale * ln3;
  return c;
}

MatrixXd row(double a, double b) {
  MatrixXd r(1, 2);
  r << a, b;
  return r;
}

}  // namespace

TEST_CASE("AttentionLoop: toy cell, two steps by hand", "[loop]") {
  // Step 1: input 1, attention_0 = [0, 0]: cell_input [1, 0, 0], cell_output [ln 3, 0],
  //         weights [3/4, 1/4], context = attention_1 = [0.75, 0.25].
  // Step 2: input 0: cell_input [0, 0.75, 0.25], cell_output 0.25·[0, 4 ln 3] = [0, ln 3],
  //         weights [1/4, 3/4], context = attention_2 = [0.25, 0.75].
  const auto memory = identity_memory();
  attn::AttentionLoopOptions<double> options;
  options.input_size = 1;
  attn::AttentionLoop<double> loop(memory, options);
  CHECK(loop.time() == 0);
  CHECK(loop.cell_input_size() == 3);
  CHECK(loop.attention_size() == 2);
  CHECK(loop.output_size() == 2);
  CHECK(loop.alignment().isZero(0));  // softmax memory: zero initial alignment
  ToyCell cell{toy_c(4.0)};

  const MatrixXd out1 = loop.step(MatrixXd::Ones(1, 1), cell);
  CHECK(loop.cell_input().isApprox(MatrixXd((MatrixXd(1, 3) << 1, 0, 0).finished())));
  CHECK(loop.cell_output().isApprox(row(std::log(3.0), 0)));
  CHECK(loop.alignment().isApprox(row(0.75, 0.25), 1e-15));
  CHECK(out1.isApprox(row(0.75, 0.25), 1e-15));

  const MatrixXd out2 = loop.step(MatrixXd::Zero(1, 1), cell);
  CHECK(loop.cell_input().isApprox(MatrixXd((MatrixXd(1, 3) << 0, 0.75, 0.25).finished()), 1e-15));
  CHECK(loop.cell_output().isApprox(row(0, std::log(3.0)), 1e-15));
  CHECK(out2.isApprox(row(0.25, 0.75), 1e-15));
  CHECK(loop.context().isApprox(row(0.25, 0.75), 1e-15));
  CHECK(loop.scores().isApprox(row(0, std::log(3.0)), 1e-15));
  CHECK(loop.time() == 2);
  CHECK(cell.calls == 2);

  MatrixXd expected(2, 2);
  expected << 0.75, 0.25,  //
      0.25, 0.75;
  CHECK(loop.alignments().isApprox(expected, 1e-15));
  CHECK(loop.history().steps(0) == 2);

  loop.reset();
  CHECK(loop.time() == 0);
  CHECK(loop.attention().isZero(0));
  CHECK(loop.history().steps(0) == 0);
  loop.step(MatrixXd::Ones(1, 1), cell);
  CHECK(loop.alignment().isApprox(row(0.75, 0.25), 1e-15));
}

TEST_CASE("AttentionLoop: attention layer and cell output, two steps by hand", "[loop]") {
  // W = [0 0; 0 0; 2 0; 0 2]: attention = 2·context.
  // Step 1: as above, attention_1 = [1.5, 0.5]; output = cell_output = [ln 3, 0].
  // Step 2: cell_input [0, 1.5, 0.5], cell_output 0.5·[0, 4 ln 3] = [0, 2 ln 3],
  //         weights [1/10, 9/10], attention_2 = [0.2, 1.8]; output [0, 2 ln 3].
  const auto memory = identity_memory();
  attn::AttentionLoopOptions<double> options;
  options.input_size = 1;
  options.attention_layer = MatrixXd::Zero(4, 2);
  options.attention_layer(2, 0) = 2;
  options.attention_layer(3, 1) = 2;
  options.output_attention = false;
  attn::AttentionLoop<double> loop(memory, options);
  ToyCell cell{toy_c(4.0)};
  const MatrixXd out1 = loop.step(MatrixXd::Ones(1, 1), cell);
  CHECK(out1.isApprox(row(std::log(3.0), 0), 1e-15));
  CHECK(loop.attention().isApprox(row(1.5, 0.5), 1e-15));
  const MatrixXd out2 = loop.step(MatrixXd::Zero(1, 1), cell);
  CHECK(out2.isApprox(row(0, 2 * std::log(3.0)), 1e-15));
  CHECK(loop.alignment().isApprox(row(0.1, 0.9), 1e-14));
  CHECK(loop.attention().isApprox(row(0.2, 1.8), 1e-14));
  CHECK(loop.output_size() == 2);
}

TEMPLATE_TEST_CASE("AttentionLoop equals the steps composed by hand", "[loop]", float, double) {
  using Scalar = TestType;
  using M = attn::Matrix<Scalar>;
  std::mt19937_64 rng(31);
  const Index tk = 6, n = 4, dk = 5, dv = 3, dq = 4, din = 2, units = 7, att = 5;
  const M k = attn_test::random_matrix<Scalar>(rng, tk, dk);
  const M v = attn_test::random_matrix<Scalar>(rng, tk, dv);
  attn::BahdanauParams<Scalar> params;
  params.wq = attn_test::random_matrix<Scalar>(rng, dq, units);
  params.wk = attn_test::random_matrix<Scalar>(rng, dk, units);
  params.v = attn_test::random_matrix<Scalar>(rng, 1, units);
  const M w_in = attn_test::random_matrix<Scalar>(rng, din + att, dq);
  const M w_h = attn_test::random_matrix<Scalar>(rng, dq, dq);
  const M layer = attn_test::random_matrix<Scalar>(rng, dq + dv, att);
  const std::vector<M> inputs = {attn_test::random_matrix<Scalar>(rng, 1, din),
                                 attn_test::random_matrix<Scalar>(rng, 1, din),
                                 attn_test::random_matrix<Scalar>(rng, 1, din)};

  for (const bool monotonic : {false, true}) {
    INFO("monotonic " << monotonic);
    auto memory = attn::prepare_memory(k, v, params, n);
    if (monotonic) memory.with_monotonic({attn::MonotonicMode::recursive, Scalar(0.5), Scalar(0)});
    attn::AttentionLoopOptions<Scalar> options;
    options.input_size = din;
    options.attention_layer = layer;
    options.reserve_steps = 2;  // the third step grows the history
    attn::AttentionLoop<Scalar> loop(memory, options);
    M state = M::Zero(1, dq);  // a tiny tanh RNN: h = tanh(x·W_in + h·W_h)
    auto cell = [&](const M& x, M& h) {
      state = (x * w_in + state * w_h).array().tanh().matrix();
      h = state;
    };
    // by hand
    M h = M::Zero(1, dq);
    M attention = M::Zero(1, att);
    M alignment = memory.initial_alignment();
    M history(0, n);
    for (std::size_t t = 0; t < inputs.size(); ++t) {
      M x(1, din + att);
      x << inputs[t], attention;
      h = (x * w_in + h * w_h).array().tanh().matrix();
      const auto r = attn::attend(memory, h, alignment);
      alignment = r.weights;
      M hc(1, dq + dv);
      hc << h, r.output;
      attention = hc * layer;
      history.conservativeResize(history.rows() + 1, n);
      history.bottomRows(1) = alignment.leftCols(n);

      const M out = loop.step(inputs[t], cell);
      const double tol = attn_test::tolerance<Scalar>();
      ATTN_CHECK_CLOSE(out, attention, tol);
      ATTN_CHECK_CLOSE(loop.cell_output(), h, tol);
      ATTN_CHECK_CLOSE(loop.context(), r.output, tol);
      ATTN_CHECK_CLOSE(loop.alignment(), alignment, tol);
    }
    ATTN_CHECK_CLOSE(loop.alignments(), history, attn_test::tolerance<Scalar>());
    CHECK(loop.alignments().rows() == 3);
    CHECK(loop.alignments().cols() == n);
  }
}

TEST_CASE("AttentionLoop: initial alignments and a custom cell-input builder", "[loop]") {
  std::mt19937_64 rng(4);
  const MatrixXd k = attn_test::random_matrix(rng, 5, 2);
  auto memory = attn::prepare_memory(k, k, attn::LuongParams<double>::dot());
  memory.with_monotonic({attn::MonotonicMode::parallel, 0.0, 0.0});
  attn::AttentionLoopOptions<double> options;
  options.input_size = 2;
  {
    attn::AttentionLoop<double> loop(memory, options);  // automatic: one-hot for monotonic
    CHECK(loop.alignment() == attn::monotonic_initial_alignment<double>(1, 5));
  }
  options.initial_alignment = attn::InitialAlignment::zeros;
  {
    attn::AttentionLoop<double> loop(memory, options);
    CHECK(loop.alignment().isZero(0));
    loop.step(MatrixXd::Ones(1, 2), [](const MatrixXd&, MatrixXd& h) { h.setOnes(); });
    CHECK(loop.alignment().isZero(0));  // no previous mass: nothing to attend
    CHECK(loop.context().isZero(0));
  }
  options.initial_alignment = attn::InitialAlignment::one_hot;
  const auto softmax_memory = attn::prepare_memory(k, k, attn::LuongParams<double>::dot());
  {
    attn::AttentionLoop<double> loop(softmax_memory, options);
    CHECK(loop.alignment()(0, 0) == 1.0);
  }
  // custom builder: the cell sees only the input, twice; no history
  options.cell_input_fn = [](const MatrixXd& input, const MatrixXd& attention, MatrixXd& cell_input) {
    CHECK(attention.cols() == 2);
    cell_input << input, input;
  };
  options.cell_input_size = 4;
  options.alignment_history = false;
  attn::AttentionLoop<double> loop(softmax_memory, options);
  CHECK(loop.cell_input_size() == 4);
  MatrixXd seen;
  MatrixXd in(1, 2);
  in << 3, 4;
  loop.step(in, [&](const MatrixXd& x, MatrixXd& h) {
    seen = x;
    h = x.leftCols(2);
  });
  CHECK(seen == (MatrixXd(1, 4) << 3, 4, 3, 4).finished());
  CHECK_THROWS_WITH(loop.history(), "attn::AttentionLoop::history: options.alignment_history is off");
}

TEST_CASE("AttentionLoop argument checks", "[loop][errors]") {
  static_assert(!std::is_constructible<attn::AttentionLoop<double>, attn::Memory<double>&&>::value,
                "the loop must not bind a temporary memory");
  const auto memory = identity_memory();
  attn::AttentionLoopOptions<double> options;
  options.input_size = -1;
  CHECK_THROWS_WITH(attn::AttentionLoop<double>(memory, options),
                    "attn::AttentionLoop: options.input_size (-1) must be >= 0");
  options.input_size = 1;
  options.reserve_steps = -2;
  CHECK_THROWS_WITH(attn::AttentionLoop<double>(memory, options),
                    "attn::AttentionLoop: options.reserve_steps (-2) must be >= 0");
  options.reserve_steps = 0;
  options.attention_layer = MatrixXd::Zero(3, 2);
  CHECK_THROWS_WITH(attn::AttentionLoop<double>(memory, options),
                    "attn::AttentionLoop: options.attention_layer (3x2) must have dq + dv (4) rows");
  options.attention_layer.resize(0, 0);
  options.cell_input_fn = [](const MatrixXd&, const MatrixXd&, MatrixXd& c) { c.resize(1, 1); };
  CHECK_THROWS_WITH(attn::AttentionLoop<double>(memory, options),
                    "attn::AttentionLoop: options.cell_input_size (-1) must be set (>= 0) with options.cell_input_fn");
  options.cell_input_size = 3;
  attn::AttentionLoop<double> resizing(memory, options);
  ToyCell cell{toy_c(1.0)};
  CHECK_THROWS_WITH(resizing.step(MatrixXd::Ones(1, 1), cell),
                    "attn::AttentionLoop::step: cell_input (after options.cell_input_fn) (1x1) must be (1x3)");
  options.cell_input_fn = nullptr;
  attn::AttentionLoop<double> loop(memory, options);
  CHECK_THROWS_WITH(loop.step(MatrixXd::Ones(1, 2), cell), "attn::AttentionLoop::step: input (1x2) must be (1x1), 1 x options.input_size (AttentionLoopOptions::input_size, the width of the per-step input, 0 unless set)");
  CHECK_THROWS_WITH(loop.step(MatrixXd::Ones(1, 1), [](const MatrixXd&, MatrixXd& h) { h.resize(1, 3); }),
                    "attn::AttentionLoop::step: cell_output (after the cell) (1x3) must be (1x2)");
  // A cell that skips its output, or part of it, on some step: an error, not the previous
  // step's query (a user's cell forgot to write on step 1 and got step 0's alignment again).
  attn::AttentionLoop<double> forgetful(memory, options);
  forgetful.step(MatrixXd::Ones(1, 1), cell);
  CHECK_THROWS_WITH(forgetful.step(MatrixXd::Ones(1, 1), [](const MatrixXd&, MatrixXd&) {}),
                    "attn::AttentionLoop::step: the cell left cell_output(0, 0) unwritten, or computed it from "
                    "cell_output's previous value: it must write the whole 1x2 query on every step (cell_output "
                    "does not keep the previous step's; keep the cell's state in the cell)");
  CHECK_THROWS_WITH(forgetful.step(MatrixXd::Ones(1, 1), [](const MatrixXd&, MatrixXd& h) { h(0, 0) = 1; }),
                    "attn::AttentionLoop::step: the cell left cell_output(0, 1) unwritten, or computed it from "
                    "cell_output's previous value: it must write the whole 1x2 query on every step (cell_output "
                    "does not keep the previous step's; keep the cell's state in the cell)");
  // A noisy monotonic memory without a noise source: refused by step() itself, before the cell
  // runs (the attend() inside it named itself, after the cell had run).
  auto noisy = identity_memory();
  noisy.with_monotonic({attn::MonotonicMode::parallel, 0.0, 1.0});
  attn::AttentionLoop<double> noiseless(noisy, options);
  int cell_calls = 0;
  CHECK_THROWS_WITH(noiseless.step(MatrixXd::Ones(1, 1),
                                   [&cell_calls](const MatrixXd&, MatrixXd& h) {
                                     ++cell_calls;
                                     h.setOnes();
                                   }),
                    "attn::AttentionLoop::step: monotonic sigmoid_noise > 0 needs a noise generator (pass a "
                    "std::mt19937-like engine or a callable returning N(0,1) samples)");
  CHECK(cell_calls == 0);
  // A NaN the cell computes is its output (the marker is a NaN no arithmetic makes).
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_NOTHROW(forgetful.step(MatrixXd::Ones(1, 1), [&](const MatrixXd&, MatrixXd& h) { h.setConstant(nan * 2.0); }));
  CHECK(std::isnan(forgetful.cell_output()(0, 1)));
  CHECK(std::isnan(attn::detail::unwritten_marker<float>()));
  const attn::Matrix<float> computed = attn::Matrix<float>::Constant(1, 3, std::numeric_limits<float>::quiet_NaN());
  CHECK(attn::detail::first_unwritten(computed) == -1);
}

}  // namespace test_attention_loop
