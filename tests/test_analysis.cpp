// SPDX-License-Identifier: MIT
// Tests of attn/analysis.hpp and attn/io/pharaoh.hpp: row entropy, head reductions over
// matrices, maps of one contiguous buffer and Refs, attention rollout against a hand-worked
// three-layer example, hard alignments, Pharaoh text, and AER on a hand-made gold alignment.
#include "helpers.hpp"

#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)

#include <attn/analysis.hpp>
#include <attn/io/pharaoh.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

// Everything in this file lives in namespace test_analysis: the suite is a unity build.
namespace test_analysis {

namespace {

using attn::Index;
using attn::Matrix;
using MatrixD = Eigen::MatrixXd;

std::string links_text(const attn::Alignment& a) { return attn::io::pharaoh_line(a); }

}  // namespace

// --- entropy -----------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("row_entropy: uniform rows give log n, one-hot rows 0", "[analysis][entropy]", float, double) {
  using Scalar = TestType;
  const Scalar nan = std::numeric_limits<Scalar>::quiet_NaN();
  const double tol = attn_test::tolerance<Scalar>();

  // No mask: uniform over 5 keys, one-hot, uniform over 2 of 5 (zeros are 0·log 0 = 0).
  MatrixD wd(3, 5);
  wd << 0.2, 0.2, 0.2, 0.2, 0.2,  //
      0, 0, 1, 0, 0,              //
      0.5, 0, 0, 0.5, 0;
  const Matrix<Scalar> w = wd.cast<Scalar>();
  const auto h = attn::row_entropy(w);
  REQUIRE(h.size() == 3);
  CHECK(attn_test::close(h(0), std::log(5.0), tol));
  CHECK(h(1) == Scalar(0));
  CHECK(!std::signbit(h(1)));
  CHECK(attn_test::close(h(2), std::log(2.0), tol));

  // Masked entries are excluded whatever they hold: uniform over the 4 visible keys of a
  // key_length(4) mask with NaN in the padding is log 4.
  Matrix<Scalar> p(2, 5);
  p << 0.25f, 0.25f, 0.25f, 0.25f, nan,  //
      1, 0, 0, 0, nan;
  const auto hp = attn::row_entropy(p, attn::Mask::key_length(4));
  CHECK(attn_test::close(hp(0), std::log(4.0), tol));
  CHECK(hp(1) == Scalar(0));

  // A window mask: row i sees only key i, weight 1 -> 0; a fully masked row is 0.
  const Matrix<Scalar> eye = Matrix<Scalar>::Identity(3, 3);
  CHECK(attn::row_entropy(eye, attn::Mask::window(0, 0)).isZero(0));
  CHECK(attn::row_entropy(Matrix<Scalar>::Constant(2, 3, nan), attn::Mask::key_length(0)).isZero(0));

  // An explicit matrix mask excludes entries one by one.
  attn::BoolMatrix visible = attn::BoolMatrix::Ones(1, 4);
  visible(0, 1) = false;
  Matrix<Scalar> q(1, 4);
  q << Scalar(1) / 3, nan, Scalar(1) / 3, Scalar(1) / 3;
  CHECK(attn_test::close(attn::row_entropy(q, attn::Mask::matrix(visible))(0), std::log(3.0), tol));

  CHECK_THROWS_WITH(attn::row_entropy(w, attn::Mask::key_length(6)),
                    "attn::row_entropy: mask key length (6) exceeds the number of keys (5)");
}

TEMPLATE_TEST_CASE("row_entropy: a row's entropy has the same bits in a chunk of any number of rows",
                   "[analysis][entropy]", float, double) {
  // row_entropy (and the RowStats sink) take a chunk of a few rows with the keys in the lanes and
  // a full chunk with the rows in the lanes: each row, alone or among others, the same bits.
  using Scalar = TestType;
  std::mt19937_64 rng(41);
  const Index tq = 37, tk = 70;  // 70 keys: four groups of 16 floats (8 doubles) and a rest
  Matrix<Scalar> w = attn_test::random_matrix<Scalar>(rng, tq, tk, 0, 1);
  w(3, 5) = 0;                                                // 0·log 0 = 0
  w(4, 6) = std::numeric_limits<Scalar>::denorm_min();        // below the smallest normal
  w(5, 7) = Scalar(-0.25);                                    // a negative weight: NaN
  w(6, 69) = std::numeric_limits<Scalar>::quiet_NaN();        // NaN in the last group
  attn::BoolMatrix m(tq, tk);
  std::bernoulli_distribution coin(0.7);
  for (Index i = 0; i < tq; ++i)
    for (Index j = 0; j < tk; ++j) m(i, j) = coin(rng);
  for (const attn::Mask& mask : {attn::Mask(), attn::Mask::causal(20), attn::Mask::window(9, 30),
                                 attn::Mask::key_length(33), attn::Mask::matrix(m)}) {
    const attn::Vector<Scalar> all = attn::row_entropy(w, mask);
    const attn::BoolMatrix seen = attn_test::dense_mask(mask, tq, tk);
    for (const Index rows : {Index(1), Index(2), Index(3), Index(4), Index(5)}) {
      for (Index i = 0; i + rows <= tq; ++i) {
        INFO(rows << " rows from row " << i);
        const attn::Vector<Scalar> part =
            attn::row_entropy(Matrix<Scalar>(w.middleRows(i, rows)), attn::Mask::matrix(seen.middleRows(i, rows)));
        CHECK(attn_test::same_bits(part, all.segment(i, rows)));
      }
    }
  }
}

// --- head reductions ---------------------------------------------------------------------------

TEMPLATE_TEST_CASE("reduce_heads: mean, max, min and subsets over any list of heads", "[analysis][heads]", float,
                   double) {
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  std::vector<MatrixD> hd(3, MatrixD(2, 3));
  hd[0] << 0.2, 0.3, 0.5, 1.0, 0.0, 0.0;
  hd[1] << 0.6, 0.1, 0.3, 0.0, 0.5, 0.5;
  hd[2] << 0.1, 0.8, 0.1, 0.4, 0.4, 0.2;
  std::vector<Matrix<Scalar>> heads;
  for (const auto& m : hd) heads.push_back(m.cast<Scalar>());

  // By hand: mean row 0 = (0.9, 1.2, 0.9)/3, row 1 = (1.4, 0.9, 0.7)/3.
  MatrixD mean(2, 3);
  mean << 0.3, 0.4, 0.3, 1.4 / 3, 0.3, 0.7 / 3;
  MatrixD max(2, 3);
  max << 0.6, 0.8, 0.5, 1.0, 0.5, 0.5;
  MatrixD min(2, 3);
  min << 0.1, 0.1, 0.1, 0.0, 0.0, 0.0;
  MatrixD subset_mean(2, 3);  // heads 0 and 2
  subset_mean << 0.15, 0.55, 0.3, 0.7, 0.2, 0.1;

  ATTN_CHECK_CLOSE(attn::reduce_heads(heads, attn::HeadReduction::mean), mean, tol);
  ATTN_CHECK_CLOSE(attn::reduce_heads(heads, attn::HeadReduction::max), max, tol);
  ATTN_CHECK_CLOSE(attn::reduce_heads(heads, attn::HeadReduction::min), min, tol);
  ATTN_CHECK_CLOSE(attn::reduce_heads(heads, attn::HeadReduction::mean, {0, 2}), subset_mean, tol);
  CHECK(attn::reduce_heads(heads, attn::HeadReduction::max, {1}) == heads[1]);
  ATTN_CHECK_CLOSE(attn::reduce_heads(heads, attn::HeadReduction::sum), (3 * mean).eval(), tol);

  // A multi-head result's HeadWeights, viewed head by head, reduce like HeadWeights itself.
  attn::HeadWeights<Scalar> hw(3, 2, 3);
  for (Index k = 0; k < 3; ++k) hw.head(k) = heads[static_cast<std::size_t>(k)];
  for (const auto how : {attn::HeadReduction::mean, attn::HeadReduction::sum, attn::HeadReduction::max,
                         attn::HeadReduction::min}) {
    CHECK(attn::reduce_heads(attn::head_views(hw), how) == hw.reduce(how));
    CHECK(attn::reduce_heads(attn::head_views(hw), how, {2, 0, 2}) == hw.reduce(how, {2, 0, 2}));
  }

  // One contiguous h×Tq×Tk buffer (head k at offset k·Tq·Tk, column-major), viewed as maps.
  std::vector<Scalar> buffer;
  for (const auto& m : heads) buffer.insert(buffer.end(), m.data(), m.data() + m.size());
  const auto views = attn::head_views(buffer.data(), 3, 2, 3);
  REQUIRE(views.size() == 3);
  CHECK(views[2] == heads[2]);
  CHECK(attn::reduce_heads(views, attn::HeadReduction::mean) == attn::reduce_heads(heads, attn::HeadReduction::mean));
  CHECK(attn::reduce_heads(views, attn::HeadReduction::min, {2, 0}) ==
        attn::reduce_heads(heads, attn::HeadReduction::min, {0, 2}));

  // Refs to column blocks of a wider matrix (no copies).
  Matrix<Scalar> wide(2, 9);
  for (Index k = 0; k < 3; ++k) wide.middleCols(3 * k, 3) = heads[static_cast<std::size_t>(k)];
  std::vector<Eigen::Ref<const Matrix<Scalar>>> refs;
  for (Index k = 0; k < 3; ++k) refs.emplace_back(wide.middleCols(3 * k, 3));
  CHECK(attn::reduce_heads(refs, attn::HeadReduction::max) == attn::reduce_heads(heads, attn::HeadReduction::max));

  // Errors.
  CHECK_THROWS_WITH(attn::reduce_heads(std::vector<Matrix<Scalar>>{}, attn::HeadReduction::mean),
                    "attn::reduce_heads: heads is empty");
  auto bad = heads;
  bad[1] = Matrix<Scalar>::Zero(3, 3);
  CHECK_THROWS_WITH(attn::reduce_heads(bad, attn::HeadReduction::mean),
                    "attn::reduce_heads: heads[1] (3x3) must be (2x3)");
  CHECK_THROWS_WITH(attn::reduce_heads(heads, attn::HeadReduction::mean, {0, 3}),
                    "attn::reduce_heads: subset[1] (3) must be in [0, 3)");
  CHECK_THROWS_WITH(attn::reduce_heads(heads, attn::HeadReduction::mean, {-1}),
                    "attn::reduce_heads: subset[0] (-1) must be in [0, 3)");
  CHECK_THROWS_WITH(attn::reduce_heads(heads, attn::HeadReduction::mean, std::vector<Index>{}),
                    "attn::reduce_heads: subset is empty");
  CHECK_THROWS_WITH(attn::head_views(buffer.data(), -1, 2, 3),
                    "attn::head_views: heads (-1), tq (2) and tk (3) must be >= 0");
}

// --- rollout -----------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("attention_rollout matches a hand-worked three-layer example", "[analysis][rollout]", float,
                   double) {
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  // Three layers of 2 tokens; Â = 0.5·A + 0.5·I, rows rescaled to sum to 1, R_l = Â_l·R_{l-1}.
  //
  // A1 = [1 0; 1 1] (rows need not sum to 1, e.g. a max over heads)
  //   0.5·A1 + 0.5·I = [1 0; 0.5 1]; row 1 sums to 1.5 -> Â1 = [1 0; 1/3 2/3]
  //   R1 = Â1 = [1 0; 1/3 2/3]
  // A2 = [0.2 0.8; 0.6 0.4] -> Â2 = [0.6 0.4; 0.3 0.7] (rows already sum to 1)
  //   R2 = Â2·R1: row 0 = 0.6·(1, 0) + 0.4·(1/3, 2/3) = (0.6 + 2/15, 4/15) = (11/15, 4/15)
  //               row 1 = 0.3·(1, 0) + 0.7·(1/3, 2/3) = (9/30 + 7/30, 14/30) = (8/15, 7/15)
  // A3 = [0.5 0.5; 0 1] -> Â3 = [0.75 0.25; 0 1]
  //   R3 = Â3·R2: row 0 = 0.75·(11/15, 4/15) + 0.25·(8/15, 7/15) = (10.25/15, 4.75/15) = (41/60, 19/60)
  //               row 1 = (8/15, 7/15)
  std::vector<MatrixD> ld(3, MatrixD(2, 2));
  ld[0] << 1, 0, 1, 1;
  ld[1] << 0.2, 0.8, 0.6, 0.4;
  ld[2] << 0.5, 0.5, 0, 1;
  std::vector<Matrix<Scalar>> layers;
  for (const auto& m : ld) layers.push_back(m.cast<Scalar>());
  MatrixD r1(2, 2), r2(2, 2), r3(2, 2);
  r1 << 1, 0, 1.0 / 3, 2.0 / 3;
  r2 << 11.0 / 15, 4.0 / 15, 8.0 / 15, 7.0 / 15;
  r3 << 41.0 / 60, 19.0 / 60, 8.0 / 15, 7.0 / 15;

  const auto r = attn::attention_rollout(layers);
  REQUIRE(r.steps.size() == 3);
  ATTN_CHECK_CLOSE(r.steps[0], r1, tol);
  ATTN_CHECK_CLOSE(r.steps[1], r2, tol);
  ATTN_CHECK_CLOSE(r.steps[2], r3, tol);
  CHECK(r.rollout == r.steps[2]);
  for (const auto& s : r.steps) ATTN_CHECK_CLOSE(s.rowwise().sum(), MatrixD::Ones(2, 1), tol);

  // identity_weight 0: the plain product of the (renormalised) maps; 1: the identity.
  const auto plain = attn::attention_rollout(layers, 0.0);
  MatrixD a1(2, 2);
  a1 << 1, 0, 0.5, 0.5;
  ATTN_CHECK_CLOSE(plain.rollout, (ld[2] * ld[1] * a1).eval(), tol);
  CHECK(attn::attention_rollout(layers, 1.0).rollout == Matrix<Scalar>::Identity(2, 2));

  // A fully masked (zero) row with identity_weight 0 stays zero.
  std::vector<Matrix<Scalar>> zero_row{Matrix<Scalar>::Zero(2, 2)};
  zero_row[0](0, 1) = 1;
  const auto z = attn::attention_rollout(zero_row, 0.0);
  CHECK(z.rollout(1, 0) == Scalar(0));
  CHECK(z.rollout(1, 1) == Scalar(0));

  // Per-head weights of one buffer, reduced per layer, then rolled out.
  std::vector<Scalar> buffer;
  for (const auto& m : layers) buffer.insert(buffer.end(), m.data(), m.data() + m.size());
  ATTN_CHECK_CLOSE(attn::attention_rollout(attn::head_views(buffer.data(), 3, 2, 2)).rollout, r3, tol);

  CHECK_THROWS_WITH(attn::attention_rollout(std::vector<Matrix<Scalar>>{}), "attn::attention_rollout: layers is empty");
  CHECK_THROWS_WITH(attn::attention_rollout(std::vector<Matrix<Scalar>>{Matrix<Scalar>::Zero(2, 3)}),
                    "attn::attention_rollout: layers[0] (2x3) must be square");
  auto bad = layers;
  bad[2] = Matrix<Scalar>::Identity(3, 3);
  CHECK_THROWS_WITH(attn::attention_rollout(bad), "attn::attention_rollout: layers[2] (3x3) must be (2x2)");
  CHECK_THROWS_WITH(attn::attention_rollout(layers, 1.5),
                    "attn::attention_rollout: identity_weight (1.5) must be in [0, 1]");
  CHECK_THROWS_WITH(attn::attention_rollout(layers, -0.25),
                    "attn::attention_rollout: identity_weight (-0.25) must be in [0, 1]");
}

// --- hard alignments, Pharaoh, AER ---------------------------------------------------------------

TEMPLATE_TEST_CASE("argmax and threshold alignments", "[analysis][alignment]", float, double) {
  using Scalar = TestType;
  // Rows are target words, columns source words.
  Matrix<Scalar> w(4, 4);
  w << 0.7f, 0.1f, 0.1f, 0.1f,  //
      0.1f, 0.2f, 0.6f, 0.1f,   //
      0.1f, 0.5f, 0.3f, 0.1f,   //
      0.1f, 0.1f, 0.3f, 0.5f;
  const attn::Alignment argmax = attn::argmax_alignment(w);
  CHECK(links_text(argmax) == "0-0 1-2 2-1 3-3");
  CHECK(links_text(attn::threshold_alignment(w, 0.25)) == "0-0 1-2 2-1 2-2 3-2 3-3");
  CHECK(links_text(attn::threshold_alignment(w, 0.5)) == "0-0 1-2");  // strictly above
  CHECK(attn::threshold_alignment(w, 1.0).empty());

  // Masks: with key_length(2), row 1's best visible key is 1; rows that see nothing get no link.
  CHECK(links_text(attn::argmax_alignment(w, attn::Mask::key_length(2))) == "0-0 1-1 2-1 3-0");
  CHECK(links_text(attn::argmax_alignment(w, attn::Mask::causal(-2))) == "2-0 3-0");
  CHECK(links_text(attn::threshold_alignment(w, 0.25, attn::Mask::window(0, 0))) == "0-0 2-2 3-3");

  // Ties go to the first maximum; zero and NaN rows give no link.
  Matrix<Scalar> t(3, 3);
  t << 0.4f, 0.2f, 0.4f,  //
      0, 0, 0,            //
      std::numeric_limits<Scalar>::quiet_NaN(), 0.3f, 0.7f;
  CHECK(links_text(attn::argmax_alignment(t)) == "0-0 2-2");
  CHECK_THROWS_WITH(attn::threshold_alignment(w, std::nan("")), "attn::threshold_alignment: threshold must not be NaN");
  CHECK_THROWS_WITH(attn::argmax_alignment(w, attn::Mask::key_length(5)),
                    "attn::argmax_alignment: mask key length (5) exceeds the number of keys (4)");
}

TEST_CASE("Pharaoh text: writing, orders, files and parsing", "[analysis][pharaoh][io]") {
  const attn::Alignment a{{0, 0}, {1, 2}, {2, 1}, {3, 3}};
  CHECK(attn::io::pharaoh_line(a) == "0-0 1-2 2-1 3-3");
  CHECK(attn::io::pharaoh_line(a, attn::io::PharaohOrder::col_row) == "0-0 2-1 1-2 3-3");
  CHECK(attn::io::pharaoh_line({}).empty());

  std::ostringstream os;
  attn::io::write_pharaoh(os, std::vector<attn::Alignment>{a, {}, {{1, 1}}});
  CHECK(os.str() == "0-0 1-2 2-1 3-3\n\n1-1\n");
  std::ostringstream one;
  attn::io::write_pharaoh(one, a, attn::io::PharaohOrder::col_row);
  CHECK(one.str() == "0-0 2-1 1-2 3-3\n");

  CHECK(attn::io::parse_pharaoh("0-0 1-2  2-1\t3-3\n") == a);
  CHECK(attn::io::parse_pharaoh("0-0 2-1 1-2 3-3", attn::io::PharaohOrder::col_row) == a);
  CHECK(attn::io::parse_pharaoh("").empty());
  const auto gold = attn::io::parse_pharaoh_gold("0-0 1-1 2-1 1p2 3p3 3?2");
  CHECK(links_text(gold.sure) == "0-0 1-1 2-1");
  CHECK(links_text(gold.possible) == "1-2 3-3 3-2");

  CHECK_THROWS_WITH(attn::io::parse_pharaoh("0-0 1x2"), "attn::io::parse_pharaoh: token '1x2' is not of the form i-j");
  CHECK_THROWS_WITH(attn::io::parse_pharaoh("-1"), "attn::io::parse_pharaoh: token '-1' is not of the form i-j");
  CHECK_THROWS_WITH(attn::io::parse_pharaoh("1-"), "attn::io::parse_pharaoh: token '1-' is not of the form i-j");
  CHECK_THROWS_WITH(attn::io::parse_pharaoh("1-2-3"), "attn::io::parse_pharaoh: token '1-2-3' is not of the form i-j");
  CHECK_THROWS_WITH(attn::io::parse_pharaoh("99999999999999999999-1"),
                    "attn::io::parse_pharaoh: index in token '99999999999999999999-1' is too large");
  CHECK_THROWS_WITH(attn::io::parse_pharaoh("0-0 1p2"),
                    "attn::io::parse_pharaoh: possible links (ipj, i?j) need parse_pharaoh_gold");
  CHECK_THROWS_WITH(attn::io::pharaoh_line({{-1, 2}}), "attn::io::pharaoh_line: links[0] (-1, 2) must be >= 0");

  // The path overload replaces the file atomically and leaves no temporary file behind.
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("attn_pharaoh_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path file = dir / "align.txt";
  attn::io::write_pharaoh(file, {a, {{0, 1}}});
  {
    std::ifstream in(file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text == "0-0 1-2 2-1 3-3\n0-1\n");
  }
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
  CHECK_THROWS_AS(attn::io::write_pharaoh(dir / "missing" / "x.txt", {a}), std::runtime_error);
  fs::remove_all(dir);
}

TEST_CASE("AER against a hand-made gold alignment", "[analysis][aer]") {
  // Gold for 4 target × 4 source words: sure S = {0-0, 1-1, 2-1}, possible {1-2, 3-3, 3-2},
  // so P = S ∪ possible = {0-0, 1-1, 2-1, 1-2, 3-3, 3-2}.
  const auto gold = attn::io::parse_pharaoh_gold("0-0 1-1 2-1 1p2 3p3 3p2");

  // Hypothesis A = argmax alignment {0-0, 1-2, 2-1, 3-3}: |A| = 4, |S| = 3,
  // A∩S = {0-0, 2-1} -> 2, A∩P = {0-0, 1-2, 2-1, 3-3} -> 4,
  // AER = 1 - (2 + 4)/(4 + 3) = 1/7; precision = 4/4 = 1; recall = 2/3.
  Eigen::Matrix4d w;
  w << 0.7, 0.1, 0.1, 0.1, 0.1, 0.2, 0.6, 0.1, 0.1, 0.5, 0.3, 0.1, 0.1, 0.1, 0.3, 0.5;
  const auto a = attn::argmax_alignment(w);
  const auto s = attn::alignment_scores(a, gold.sure, gold.possible);
  CHECK(s.hypothesis == 4);
  CHECK(s.sure == 3);
  CHECK(s.possible == 6);
  CHECK(s.hits_sure == 2);
  CHECK(s.hits_possible == 4);
  CHECK(s.aer == Approx(1.0 / 7).epsilon(1e-15));
  CHECK(s.precision == 1.0);
  CHECK(s.recall == Approx(2.0 / 3).epsilon(1e-15));
  CHECK(attn::alignment_error_rate(a, gold.sure, gold.possible) == s.aer);

  // Threshold 0.25: A' = {0-0, 1-2, 2-1, 2-2, 3-2, 3-3}: |A'| = 6, A'∩S = 2, A'∩P = 5
  // ({0-0, 1-2, 2-1, 3-2, 3-3}); AER = 1 - 7/9 = 2/9; precision 5/6; recall 2/3.
  const auto t = attn::alignment_scores(attn::threshold_alignment(w, 0.25), gold.sure, gold.possible);
  CHECK(t.aer == Approx(2.0 / 9).epsilon(1e-15));
  CHECK(t.precision == Approx(5.0 / 6).epsilon(1e-15));
  CHECK(t.recall == Approx(2.0 / 3).epsilon(1e-15));

  // Sets: duplicates count once, order does not matter; possible links given without the sure
  // ones are completed (S ⊆ P).
  const attn::Alignment shuffled{{3, 3}, {2, 1}, {0, 0}, {1, 2}, {2, 1}};
  CHECK(attn::alignment_error_rate(shuffled, gold.sure, gold.possible) == Approx(1.0 / 7).epsilon(1e-15));
  const attn::Alignment full_p{{0, 0}, {1, 1}, {2, 1}, {1, 2}, {3, 3}, {3, 2}};
  CHECK(attn::alignment_error_rate(a, gold.sure, full_p) == Approx(1.0 / 7).epsilon(1e-15));

  // Perfect: A = S gives AER 0; empty cases.
  CHECK(attn::alignment_error_rate(gold.sure, gold.sure, gold.possible) == 0.0);
  const auto empty = attn::alignment_scores({}, {}, {});
  CHECK(empty.aer == 0.0);
  CHECK(empty.precision == 1.0);
  CHECK(empty.recall == 1.0);
  const auto none = attn::alignment_scores({}, gold.sure, gold.possible);
  CHECK(none.aer == 1.0);
  CHECK(none.recall == 0.0);
}

// Alignment diagnostics against float64 NumPy (tests/fixtures/make_analysis_fixtures.py: the
// focus rate of FastSpeech and ESPnet, the guided attention loss of Tachibana et al. as ESPnet's
// GuidedAttentionLoss computes it): TTS-like diagonal alignments, a padded one whose padding holds
// 0.7, a causal one, one whose first row sees nothing. The weights are float32 values, so float
// and double give the same numbers (both computed in double).
TEMPLATE_TEST_CASE("focus_rate and guided_attention_loss equal ESPnet's formulas (float64 fixtures)",
                   "[analysis][diagnostics]", float, double) {
  using Scalar = TestType;
  const auto cases = attn_test::read_fixtures(std::string(ATTN_FIXTURE_DIR) + "/analysis/diagnostics.txt");
  REQUIRE(cases.size() == 4);
  for (const auto& fx : cases) {
    INFO(fx.name);
    const Matrix<Scalar> w = fx.matrix("weights").cast<Scalar>();
    const attn::Mask mask = attn_test::fixture_mask(fx);
    const double focus = attn::focus_rate(w, mask);
    const double loss = attn::guided_attention_loss(w, *fx.scalar("g"), mask);
    CHECK(std::abs(focus - *fx.scalar("focus_rate")) <= 1e-14);
    CHECK(std::abs(loss - *fx.scalar("guided_loss")) <= 1e-15);
  }
  // A hard diagonal alignment: focus 1, loss 0; one far from it: loss near 1.
  const Matrix<Scalar> eye = Matrix<Scalar>::Identity(50, 50);
  CHECK(attn::focus_rate(eye) == 1.0);
  CHECK(attn::guided_attention_loss(eye) == 0.0);
  const Matrix<Scalar> flipped = eye.rowwise().reverse();
  CHECK(attn::guided_attention_loss(flipped) > 0.01);  // 50 weights of 1 among 2500 entries: at most 0.02
  CHECK(attn::focus_rate(Matrix<Scalar>::Constant(3, 4, Scalar(0.25))) == 0.25);
  // Nothing visible: NaN; bad arguments name themselves.
  CHECK(std::isnan(attn::focus_rate(eye, attn::Mask::key_length(0))));
  CHECK(std::isnan(attn::guided_attention_loss(eye, 0.2, attn::Mask::key_length(0))));
  CHECK_THROWS_WITH(attn::guided_attention_loss(eye, 0.0),
                    "attn::guided_attention_loss: g (0) must be > 0 and finite");
  CHECK_THROWS_WITH(attn::focus_rate(eye, attn::Mask::key_length(51)),
                    "attn::focus_rate: mask key length (51) exceeds the number of keys (50)");
}

}  // namespace test_analysis
