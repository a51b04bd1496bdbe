// SPDX-License-Identifier: MIT
// attn::AlignmentHistory: shapes and contents for a batch with unequal source lengths, per-head
// rows, reserving and growing past the reservation, beam reordering against a hand-built beam,
// CSV export with token labels, and every argument check.
#include "helpers.hpp"

#include <attn/attn.hpp>
#include <attn/history.hpp>
#include <attn/io/csv.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <random>
#include <sstream>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_history: the suite is a unity build.
namespace test_history {

namespace {

using attn::Index;
using Eigen::MatrixXd;
using MatrixD = Eigen::MatrixXd;

/// Alignment row of beam `b` at step `t` in a Tk-wide row: 10t + b + j/100 (distinct everywhere).
MatrixD beam_row(Index t, Index b, Index tk) {
  MatrixD r(1, tk);
  for (Index j = 0; j < tk; ++j)
    r(0, j) = 10.0 * static_cast<double>(t) + static_cast<double>(b) + static_cast<double>(j) / 100.0;
  return r;
}

}  // namespace

TEMPLATE_TEST_CASE("history: a batch with unequal source lengths", "[history]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(10);
  attn::AlignmentHistory<Scalar> h(std::vector<Index>{5, 2, 0}, 1, 4);
  CHECK(h.batch_size() == 3);
  CHECK(h.heads() == 1);
  CHECK(h.source_length(0) == 5);
  CHECK(h.source_length(1) == 2);
  CHECK(h.source_length(2) == 0);
  CHECK(h.capacity(1) == 4);
  std::vector<attn::Matrix<Scalar>> rows;
  for (Index t = 0; t < 6; ++t) {  // past the reservation of 4
    rows.push_back(attn_test::random_matrix<Scalar>(rng, 3, 5, 0.0, 1.0));
    rows.back().row(1).tail(3).setZero();  // padding past each source length
    rows.back().row(2).setZero();
    h.record(rows.back());
  }
  for (Index b = 0; b < 3; ++b) {
    CHECK(h.steps(b) == 6);
    CHECK(h.capacity(b) >= 6);
    const attn::Matrix<Scalar> m = h.matrix(b);
    REQUIRE(m.rows() == 6);
    REQUIRE(m.cols() == h.source_length(b));
    // (A sequence of source length 0 has no entries to compare, and a row of a matrix without
    // storage would be pointer arithmetic on null.)
    if (m.cols() > 0)
      for (Index t = 0; t < 6; ++t) CHECK(m.row(t) == rows[static_cast<std::size_t>(t)].row(b).head(m.cols()));
    CHECK(attn::Matrix<Scalar>(h.view(b)) == m);
  }
  // one sequence at a time; only that sequence advances
  h.record(1, attn::Matrix<Scalar>::Ones(1, 2));
  CHECK(h.steps(1) == 7);
  CHECK(h.steps(0) == 6);
  CHECK(h.view(1).row(6).isOnes(0));
  h.clear();
  CHECK(h.steps(0) == 0);
  CHECK(h.matrix(0).rows() == 0);
  CHECK(h.capacity(0) >= 6);
}

TEST_CASE("history: reserve ahead, then growing past the reservation keeps every row", "[history]") {
  attn::AlignmentHistory<double> h(2, 3, 1, 2);
  CHECK(h.capacity(0) == 2);
  h.reserve(1);  // never shrinks
  CHECK(h.capacity(0) == 2);
  MatrixXd expected(40, 3);
  for (Index t = 0; t < 40; ++t) {
    const MatrixD row = beam_row(t, 0, 3);
    expected.row(t) = row;
    h.record(0, row);
  }
  CHECK(h.capacity(0) >= 40);
  CHECK(h.matrix(0) == expected);
  CHECK(h.steps(1) == 0);
  h.reserve(100);
  CHECK(h.capacity(1) == 100);
  CHECK(h.matrix(0) == expected);  // reserve keeps the rows
}

TEST_CASE("history: beam reordering follows the parent pointers of a hand-built beam", "[history][beam]") {
  const Index beams = 3;
  const Index tk = 4;
  attn::AlignmentHistory<double> h(beams, tk, 1, 8);
  const std::array<std::vector<int>, 4> parents = {
      std::vector<int>{0, 0, 1}, std::vector<int>{2, 0, 0}, std::vector<int>{1, 1, 2}, std::vector<int>{0, 2, 1}};
  for (Index t = 0; t < 4; ++t) {
    MatrixXd step(beams, tk);
    for (Index b = 0; b < beams; ++b) step.row(b) = beam_row(t, b, tk);
    h.record(step);  // beam b's alignment at step t (from its own state) ...
    h.reorder(parents[static_cast<std::size_t>(t)]);  // ... then the survivors pick their parents
  }
  // Final beam 0: parents at step 3 -> 0, step 2 -> parents2[0] = 1, step 1 -> parents1[1] = 0,
  // step 0 -> parents0[0] = 0: rows (t, beam) = (0,0) (1,0) (2,1) (3,0).
  MatrixXd beam0(4, tk);
  beam0 << beam_row(0, 0, tk), beam_row(1, 0, tk), beam_row(2, 1, tk), beam_row(3, 0, tk);
  CHECK(h.matrix(0) == beam0);
  // Every final beam: walk the parent pointers back.
  for (Index b = 0; b < beams; ++b) {
    MatrixXd path(4, tk);
    Index k = b;
    for (Index t = 3; t >= 0; --t) {
      k = parents[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)];
      path.row(t) = beam_row(t, k, tk);
    }
    INFO("beam " << b);
    CHECK(h.matrix(b) == path);
    CHECK(h.steps(b) == 4);
  }
  // An Eigen vector of parents works too; the identity leaves everything in place.
  const MatrixXd before = h.matrix(2);
  Eigen::VectorXi identity(3);
  identity << 0, 1, 2;
  h.reorder(identity);
  CHECK(h.matrix(2) == before);
}

TEST_CASE("history: beams keep their source length, reorder after growth", "[history][beam]") {
  // Two source sentences x two beams each, flattened as TF's BeamSearchDecoder does.
  attn::AlignmentHistory<float> h(std::vector<Index>{3, 3, 5, 5});
  attn::Matrix<float> step = attn::Matrix<float>::Zero(4, 5);
  for (Index t = 0; t < 20; ++t) {  // no reservation: grows while beams are reordered
    for (Index b = 0; b < 4; ++b) step.row(b).head(h.source_length(b)).setConstant(static_cast<float>(100 * t + b));
    h.record(step);
    h.reorder({1, 1, 2, 2});  // a braced list
  }
  for (Index b = 0; b < 4; ++b) {
    const attn::Matrix<float> m = h.matrix(b);
    REQUIRE(m.rows() == 20);
    REQUIRE(m.cols() == h.source_length(b));
    for (Index t = 0; t < 20; ++t) CHECK(m(t, 0) == static_cast<float>(100 * t + (b < 2 ? 1 : 2)));
  }
}

TEST_CASE("history: per-head rows and their mean", "[history][heads]") {
  attn::AlignmentHistory<double> h(std::vector<Index>{3, 2}, 2, 1);
  CHECK(h.heads() == 2);
  MatrixXd step0(4, 3);  // rows: seq 0 head 0, seq 0 head 1, seq 1 head 0, seq 1 head 1
  step0 << 0.1, 0.2, 0.7,  //
      0.3, 0.3, 0.4,       //
      0.5, 0.5, 0.0,       //
      1.0, 0.0, 0.0;
  MatrixXd step1 = step0.colwise().reverse();
  step1.bottomRows(2).col(2).setZero();  // sequence 1's padding
  h.record(step0);
  h.record(step1);
  CHECK(h.view(0, 0).rows() == 2);
  CHECK(h.view(0, 1).row(0) == step0.row(1));
  CHECK(h.view(0, 1).row(1) == step1.row(1));
  CHECK(h.view(1, 0).row(0) == step0.row(2).head(2));
  CHECK(h.view(1, 1).row(1) == step1.row(3).head(2));
  const MatrixXd mean = h.head_weights(0).mean();
  CHECK(mean.row(0).isApprox(0.5 * (step0.row(0) + step0.row(1))));
  CHECK(mean.row(1).isApprox(0.5 * (step1.row(0) + step1.row(1))));
  h.record(1, step0.bottomRows(2));
  CHECK(h.steps(1) == 3);
  CHECK(h.steps(0) == 2);
}

TEST_CASE("history: exported through the CSV writer with token labels", "[history][csv]") {
  attn::AlignmentHistory<double> h(std::vector<Index>{3});
  MatrixXd a(2, 3);
  a << 0.5, 0.25, 0.25,  //
      0, 1, 0;
  h.record(0, a.row(0));
  h.record(0, a.row(1));
  std::ostringstream os;
  attn::io::write_csv(os, h.view(0), {"le", "chat"}, {"the", "cat", "<pad>"});
  CHECK(os.str() == ",the,cat,<pad>\nle,0.5,0.25,0.25\nchat,0,1,0\n");
}

TEST_CASE("history argument checks", "[history][errors]") {
  CHECK_THROWS_WITH(attn::AlignmentHistory<double>(std::vector<Index>{2}, 0),
                    "attn::AlignmentHistory: heads (0) must be >= 1");
  CHECK_THROWS_WITH(attn::AlignmentHistory<double>(std::vector<Index>{2, -2}),
                    "attn::AlignmentHistory: source_lengths[1] (-2) must be >= 0");
  CHECK_THROWS_WITH(attn::AlignmentHistory<double>(-1, 3), "attn::AlignmentHistory: batch_size (-1) must be >= 0");
  attn::AlignmentHistory<double> h(std::vector<Index>{4, 4, 2}, 1);
  CHECK_THROWS_WITH(h.reserve(-1), "attn::AlignmentHistory::reserve: steps (-1) must be >= 0");
  CHECK_THROWS_WITH(h.record(0, MatrixXd(1, 3)),
                    "attn::AlignmentHistory::record: weights (1x3) must have 1 row(s) and at least 4 columns (the "
                    "source length of sequence 0)");
  CHECK_THROWS_WITH(h.record(0, MatrixXd(2, 4)),
                    "attn::AlignmentHistory::record: weights (2x4) must have 1 row(s) and at least 4 columns (the "
                    "source length of sequence 0)");
  CHECK_THROWS_WITH(h.record(MatrixXd(2, 4)),
                    "attn::AlignmentHistory::record: weights.rows() (2) must equal batch_size()·heads() (3)");
  CHECK_THROWS_WITH(h.record(3, MatrixXd(1, 4)), "attn::AlignmentHistory::record: sequence (3) must be in [0, 3)");
  CHECK_THROWS_WITH(h.view(-1), "attn::AlignmentHistory::view: sequence (-1) must be in [0, 3)");
  CHECK_THROWS_WITH(h.view(0, 1), "attn::AlignmentHistory::view: head (1) must be in [0, 1)");
  CHECK_THROWS_WITH(h.steps(5), "attn::AlignmentHistory::steps: sequence (5) must be in [0, 3)");
  CHECK_THROWS_WITH(h.source_length(5), "attn::AlignmentHistory::source_length: sequence (5) must be in [0, 3)");
  CHECK_THROWS_WITH(h.capacity(5), "attn::AlignmentHistory::capacity: sequence (5) must be in [0, 3)");
  CHECK_THROWS_WITH(h.reorder(std::vector<int>{0, 1}),
                    "attn::AlignmentHistory::reorder: parents.size() (2) must equal batch_size() (3)");
  CHECK_THROWS_WITH(h.reorder(std::vector<int>{0, 3, 2}),
                    "attn::AlignmentHistory::reorder: parents[1] (3) must be in [0, 3)");
  // A weight past the source length (a memory prepared without the sequence's length) is refused,
  // and a batch step records nothing when one sequence's row is refused.
  MatrixXd leaked = MatrixXd::Zero(3, 5);
  leaked.row(0) << 0.25, 0.25, 0.25, 0.25, 0.0;
  leaked.row(1) << 0.25, 0.25, 0.25, 0.25, 0.0;
  leaked.row(2) << 0.25, 0.25, 0.0, 0.5, 0.0;
  CHECK_THROWS_WITH(h.record(leaked),
                    "attn::AlignmentHistory::record: sequence 2, head 0 holds 0.5 at column 3, past its source "
                    "length (2): only padding (weight 0) is dropped; give the memory the sequence's length "
                    "(prepare_memory's length, TF's memory_sequence_length) or make the history with the lengths "
                    "the memory has");
  CHECK(h.steps(0) == 0);
  CHECK_THROWS_WITH(h.record(0, leaked.row(0) + MatrixXd::Constant(1, 5, 1e-300)),
                    Catch::Contains("sequence 0, head 0 holds 1e-300 at column 4, past its source length (4)"));
  h.record(0, leaked.row(0));  // zeros past the length are padding
  leaked(2, 3) = 0.0;
  h.record(leaked);
  CHECK(h.steps(0) == 2);
  CHECK(h.steps(2) == 1);
  CHECK_THROWS_WITH(h.reorder(std::vector<int>{2, 1, 2}),
                    "attn::AlignmentHistory::reorder: parents[0] (2) has source length 2 but sequence 0 has 4");
}

}  // namespace test_history
