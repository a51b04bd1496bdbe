// SPDX-License-Identifier: MIT
// Tests of the probability functions (attn::softmax, sparsemax, hardmax, normalize): hand-worked
// rows, the plain-loop float64 reference, masked entries exactly 0, fully masked rows, NaN/Inf
// handling, large scores and empty shapes. Scores and weights are Tq×Tk.
#include "helpers.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

// Everything in this file lives in namespace test_softmax: the suite is a unity build.
namespace test_softmax {

namespace {

using attn::BoolMatrix;
using attn::Index;
using attn::Mask;
using attn::Matrix;
using attn::Probability;
using attn_test::all_probabilities;
using attn_test::probability_name;
using attn_test::same_bits;

template <typename Scalar>
constexpr Scalar nan_v() {
  return std::numeric_limits<Scalar>::quiet_NaN();
}
template <typename Scalar>
constexpr Scalar inf_v() {
  return std::numeric_limits<Scalar>::infinity();
}

template <typename Scalar>
Matrix<Scalar> row_of(std::initializer_list<double> values) {
  Matrix<Scalar> m(1, static_cast<Index>(values.size()));
  Index j = 0;
  for (double x : values) m(0, j++) = static_cast<Scalar>(x);
  return m;
}

// Weights plus fully-masked flags from the kernel every mechanism and attn::normalize share
// (the value functions return the weights only).
template <typename Scalar>
attn::RowFlags flags_of(const Matrix<Scalar>& scores, const Mask& mask, Probability p) {
  Matrix<Scalar> w = scores;
  attn::RowFlags flags(scores.rows());
  attn::Vector<Scalar> buffer(attn::detail::normalize_scratch_size(scores.cols()));
  attn::detail::normalize_rows(p, w, mask, flags, buffer.data());
  return flags;
}

// A random mask of one kind (or a combination) for a tq×tk problem.
Mask random_mask(std::mt19937_64& rng, Index tq, Index tk, int kind) {
  std::uniform_int_distribution<Index> small(0, 3);
  switch (kind) {
    case 0: return Mask();
    case 1: return Mask::key_length(std::uniform_int_distribution<Index>(0, tk)(rng));
    case 2: return Mask::causal(std::uniform_int_distribution<Index>(-2, 2)(rng));
    case 3: return Mask::window(small(rng), small(rng));
    case 4: {
      std::bernoulli_distribution coin(0.6);
      BoolMatrix m(tq, tk);
      for (Index j = 0; j < tk; ++j)
        for (Index i = 0; i < tq; ++i) m(i, j) = coin(rng);
      return Mask::matrix(m);
    }
    case 5: {  // Llama 4's chunked causal attention, chunks of 1 to 20 positions (0 to 3 left chunks:
               // a streaming chunk mask)
      const Index o = std::uniform_int_distribution<Index>(-2, 2)(rng);
      return Mask::causal(o) & Mask::chunked(std::uniform_int_distribution<Index>(1, 20)(rng), o,
                                             std::uniform_int_distribution<Index>(0, 3)(rng));
    }
    default: {
      Mask m = Mask::key_length(std::uniform_int_distribution<Index>(0, tk)(rng));
      m &= Mask::causal(small(rng));
      m &= random_mask(rng, tq, tk, 4);
      return m;
    }
  }
}

}  // namespace

TEMPLATE_TEST_CASE("softmax of a hand-worked row", "[softmax][example]", float, double) {
  // exp(0) : exp(ln 2) : exp(ln 3) = 1 : 2 : 3.
  const auto s = row_of<TestType>({0.0, std::log(2.0), std::log(3.0)});
  const Matrix<TestType> w = attn::softmax(s);
  Eigen::MatrixXd expected(1, 3);
  expected << 1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0;
  ATTN_CHECK_CLOSE(w, expected, attn_test::tolerance<TestType>());

  // Equal scores: uniform weights.
  const Matrix<TestType> u = attn::softmax(Matrix<TestType>::Constant(2, 4, TestType(7)));
  ATTN_CHECK_CLOSE(u, Eigen::MatrixXd::Constant(2, 4, 0.25), attn_test::tolerance<TestType>());

  // A single visible key gets weight exactly 1.
  const Matrix<TestType> one = attn::softmax(row_of<TestType>({-3.0, 5.0, 2.0}), Mask::key_length(1));
  CHECK(one(0, 0) == TestType(1));
  CHECK(one(0, 1) == TestType(0));
  CHECK(one(0, 2) == TestType(0));
}

TEMPLATE_TEST_CASE("sparsemax of hand-worked rows", "[softmax][sparsemax][example]", float, double) {
  SECTION("[1, 0.5, -1] -> [0.75, 0.25, 0]") {
    // Sorted z = (1, 0.5, -1); support k = 2 since 1 + 2·0.5 > 1.5 but 1 + 3·(-1) < 0.5;
    // tau = (1 + 0.5 - 1) / 2 = 0.25; weights max(z - tau, 0).
    const Matrix<TestType> w = attn::sparsemax(row_of<TestType>({1.0, 0.5, -1.0}));
    CHECK(w(0, 0) == TestType(0.75));
    CHECK(w(0, 1) == TestType(0.25));
    CHECK(w(0, 2) == TestType(0));  // an exact zero, not a tiny number
  }
  SECTION("[3, 0] -> [1, 0]: a dominant score takes everything") {
    const Matrix<TestType> w = attn::sparsemax(row_of<TestType>({3.0, 0.0}));
    CHECK(w(0, 0) == TestType(1));
    CHECK(w(0, 1) == TestType(0));
  }
  SECTION("[0.1, 0.2, 0.3] -> full support, tau = -2/15") {
    const Matrix<TestType> w = attn::sparsemax(row_of<TestType>({0.1, 0.2, 0.3}));
    Eigen::MatrixXd expected(1, 3);
    expected << 0.1 + 2.0 / 15.0, 0.2 + 2.0 / 15.0, 0.3 + 2.0 / 15.0;
    ATTN_CHECK_CLOSE(w, expected, attn_test::tolerance<TestType>());
  }
  SECTION("[0.5, 0.5] -> uniform") {
    const Matrix<TestType> w = attn::sparsemax(row_of<TestType>({0.5, 0.5}));
    CHECK(w(0, 0) == TestType(0.5));
    CHECK(w(0, 1) == TestType(0.5));
  }
  SECTION("masking the top score moves the support") {
    // Visible: 0.5 and -1 (key 0 hidden). Support 2? 1 + 2·(-1) = -1 > -0.5 fails: k = 1, tau = -0.5.
    BoolMatrix m(1, 3);
    m << false, true, true;
    const Matrix<TestType> w = attn::sparsemax(row_of<TestType>({1.0, 0.5, -1.0}), Mask::matrix(m));
    CHECK(w(0, 0) == TestType(0));
    CHECK(w(0, 1) == TestType(1));
    CHECK(w(0, 2) == TestType(0));
  }
  SECTION("spread scores give exact zeros, and the rest sums to 1") {
    const auto s = row_of<TestType>({4.0, -2.0, 3.5, 0.0, -7.0, 3.9});
    const Matrix<TestType> w = attn::sparsemax(s);
    // Sorted (4, 3.9, 3.5, 0, ...): k = 3 since 1 + 3·3.5 = 11.5 > 11.4; k = 4: 1 + 0 < 11.4.
    // tau = (11.4 - 1) / 3.
    const double tau = (4.0 + 3.9 + 3.5 - 1.0) / 3.0;
    CHECK(w(0, 1) == TestType(0));
    CHECK(w(0, 3) == TestType(0));
    CHECK(w(0, 4) == TestType(0));
    CHECK(attn_test::close(static_cast<double>(w(0, 0)), 4.0 - tau, attn_test::tolerance<TestType>()));
    CHECK(attn_test::close(static_cast<double>(w(0, 2)), 3.5 - tau, attn_test::tolerance<TestType>()));
    CHECK(attn_test::close(static_cast<double>(w(0, 5)), 3.9 - tau, attn_test::tolerance<TestType>()));
    CHECK(attn_test::close(static_cast<double>(w.sum()), 1.0, attn_test::tolerance<TestType>()));
  }
}

TEMPLATE_TEST_CASE("hardmax: one-hot at the first visible maximum", "[softmax][hardmax][example]", float, double) {
  const auto s = row_of<TestType>({1.0, 3.0, 3.0, 2.0, 3.0});
  SECTION("ties pick the first maximum") {
    const Matrix<TestType> w = attn::hardmax(s);
    CHECK(same_bits(w, row_of<TestType>({0, 1, 0, 0, 0})));
  }
  SECTION("a hidden first maximum passes to the next visible one") {
    BoolMatrix m(1, 5);
    m << true, false, true, true, true;
    const Matrix<TestType> w = attn::hardmax(s, Mask::matrix(m));
    CHECK(same_bits(w, row_of<TestType>({0, 0, 1, 0, 0})));
  }
  SECTION("a window that excludes the maxima before it") {
    // Row 0 with window(0, 0) sees key 0 only.
    const Matrix<TestType> w = attn::hardmax(s, Mask::window(0, 0));
    CHECK(same_bits(w, row_of<TestType>({1, 0, 0, 0, 0})));
  }
  SECTION("all equal: the first key") {
    const Matrix<TestType> w = attn::hardmax(Matrix<TestType>::Constant(3, 4, TestType(-2)));
    Matrix<TestType> expected = Matrix<TestType>::Zero(3, 4);
    expected.col(0).setOnes();
    CHECK(same_bits(w, expected));
  }
  SECTION("-inf visible scores are not maxima when a finite one exists") {
    const auto t = row_of<TestType>({-inf_v<double>(), -5.0, -inf_v<double>()});
    CHECK(same_bits(attn::hardmax(t), row_of<TestType>({0, 1, 0})));
  }
}

TEMPLATE_TEST_CASE("normalize dispatches to the three functions", "[softmax][api]", float, double) {
  std::mt19937_64 rng(5);
  const Matrix<TestType> s = attn_test::random_matrix<TestType>(rng, 4, 6, -3, 3);
  const Mask mask = Mask::causal(1);
  CHECK(same_bits(attn::normalize(s, mask, Probability::softmax), attn::softmax(s, mask)));
  CHECK(same_bits(attn::normalize(s, mask, Probability::sparsemax), attn::sparsemax(s, mask)));
  CHECK(same_bits(attn::normalize(s, mask, Probability::hardmax), attn::hardmax(s, mask)));
  CHECK(same_bits(attn::normalize(s), attn::softmax(s)));
  // Expressions and blocks pass as well.
  const Matrix<TestType> big = attn_test::random_matrix<TestType>(rng, 6, 9, -3, 3);
  const Matrix<TestType> block = big.block(1, 2, 4, 6);
  CHECK(same_bits(attn::softmax(big.block(1, 2, 4, 6)), attn::softmax(block)));
  CHECK(same_bits(attn::softmax(TestType(2) * block), attn::softmax(Matrix<TestType>(TestType(2) * block))));
}

TEMPLATE_TEST_CASE("probability functions agree with the float64 reference", "[softmax][reference]", float,
                   double) {
  std::mt19937_64 rng(20240607);
  const Index sizes[] = {0, 1, 2, 3, 7, 16, 37};
  for (Probability p : all_probabilities) {
    for (Index tq : sizes)
      for (Index tk : sizes)
        for (int kind = 0; kind < 7; ++kind) {
          const Matrix<TestType> s = attn_test::random_matrix<TestType>(rng, tq, tk, -4, 4);
          const Mask mask = random_mask(rng, tq, tk, kind);
          const BoolMatrix visible = attn_test::dense_mask(mask, tq, tk);
          const Matrix<TestType> w = attn::normalize(s, mask, p);
          // The reference runs on the very same scores, cast exactly to double.
          const Eigen::MatrixXd expected = attn_test::reference_probability(s.template cast<double>(), visible, p);
          INFO(probability_name(p) << " tq = " << tq << " tk = " << tk << " mask kind " << kind);
          ATTN_CHECK_CLOSE(w, expected, attn_test::tolerance<TestType>());
          // Masked entries are exactly +0; visible rows sum to 1; empty rows are all 0.
          const attn::RowFlags flags = flags_of(s, mask, p);
          for (Index i = 0; i < tq; ++i) {
            bool any = false;
            for (Index j = 0; j < tk; ++j) {
              any = any || visible(i, j);
              if (!visible(i, j)) {
                CHECK(w(i, j) == TestType(0));
                CHECK_FALSE(std::signbit(w(i, j)));
              } else {
                CHECK(w(i, j) >= TestType(0));
              }
            }
            CHECK(flags(i) == !any);
            if (any)
              CHECK(attn_test::close(static_cast<double>(w.row(i).sum()), 1.0, attn_test::tolerance<TestType>()));
            else  // (no row is taken of a matrix without keys: null pointer arithmetic)
              CHECK((w.cols() == 0 || (w.row(i).array() == TestType(0)).all()));
          }
        }
  }
}

TEST_CASE("float softmax of long rows: every weight within 6 ulp of float64, rows sum to 1 within 6 ulp",
          "[softmax][reference][accuracy]") {
  // Summed in float, a row's normaliser drifts like sqrt(Tk) ulp (at Tk = 4096: row sums 3.4e-6
  // off 1, about 28 ulp); attn sums float rows in double (detail::SumScalar), so what is left is
  // each entry's own rounding: the shift, the exp and the multiply by 1/sum. Scores in [-1, 1]
  // keep the shift's rounding within 1 ulp of e. The reference is float64 on the same scores.
  // Tq = 40: two whole chunks of 16 rows and a short one (softmax_rows); Tq = 3: a row at a time
  // (softmax_short_rows); the key-length mask leaves rows of Tk - 5 keys.
  std::mt19937_64 rng(20261207);
  const double bound = 6 * static_cast<double>(std::numeric_limits<float>::epsilon());
  for (const Index tk : {Index(4096), Index(16384)})
    for (const Index tq : {Index(40), Index(3)})
      for (const Mask& mask : {Mask(), Mask::key_length(tk - 5)}) {
        const Matrix<float> s = attn_test::random_matrix<float>(rng, tq, tk, -1, 1);
        const Matrix<float> w = attn::softmax(s, mask);
        const Index visible = mask.is_all_visible() ? tk : tk - 5;
        double worst = 0, worst_sum = 0;
        for (Index i = 0; i < tq; ++i) {
          const Eigen::ArrayXd x = s.row(i).head(visible).cast<double>().transpose().array();
          const Eigen::ArrayXd e = (x - x.maxCoeff()).exp();
          const Eigen::ArrayXd expected = e / e.sum();
          const Eigen::ArrayXd got = w.row(i).head(visible).cast<double>().transpose().array();
          worst = std::max(worst, ((got - expected).abs() / expected).maxCoeff());
          worst_sum = std::max(worst_sum, std::abs(got.sum() - 1));
          CHECK((w.row(i).tail(tk - visible).array() == 0.0f).all());
        }
        INFO("Tk = " << tk << " Tq = " << tq << " visible keys " << visible);
        INFO("worst relative error " << worst << ", worst |row sum - 1| " << worst_sum << ", bound " << bound);
        CHECK(worst <= bound);
        CHECK(worst_sum <= bound);
      }
}

TEMPLATE_TEST_CASE("masked entries are exactly zero", "[softmax][mask]", float, double) {
  std::mt19937_64 rng(77);
  const Matrix<TestType> s = attn_test::random_matrix<TestType>(rng, 5, 6, -10, 10);
  // A vector, not a built-in array: GCC 12 misreads the array's unwinding path as destroying an
  // uninitialised std::optional<BoolMatrix> (-Wmaybe-uninitialized).
  std::vector<Mask> masks{Mask::key_length(2), Mask::causal(0), Mask::causal(-2), Mask::window(1, 0)};
  masks.push_back(Mask::matrix(attn_test::random_matrix<double>(rng, 5, 6).array() > 0.0));
  for (const Mask& mask : masks)
    for (Probability p : all_probabilities) {
      const Matrix<TestType> w = attn::normalize(s, mask, p);
      for (Index i = 0; i < 5; ++i)
        for (Index j = 0; j < 6; ++j)
          if (!mask.visible(i, j, 6)) {
            INFO(probability_name(p) << " (" << i << ", " << j << ")");
            CHECK(w(i, j) == TestType(0));  // ==, not approximately
          }
    }
}

TEMPLATE_TEST_CASE("fully masked rows are zero and flagged", "[softmax][fully_masked]", float, double) {
  std::mt19937_64 rng(8);
  const Matrix<TestType> s = attn_test::random_matrix<TestType>(rng, 4, 5, -2, 2);
  // causal(-2): rows 0 and 1 see nothing; row 2 sees key 0; row 3 keys 0-1.
  const Mask mask = Mask::causal(-2);
  for (Probability p : all_probabilities) {
    INFO(probability_name(p));
    const Matrix<TestType> w = attn::normalize(s, mask, p);
    CHECK(same_bits(w.topRows(2), Matrix<TestType>::Zero(2, 5)));  // +0, no NaN
    CHECK(w(2, 0) == TestType(1));
    const attn::RowFlags flags = flags_of(s, mask, p);
    CHECK(flags(0));
    CHECK(flags(1));
    CHECK_FALSE(flags(2));
    CHECK_FALSE(flags(3));

    // key_length(0): every row.
    const Matrix<TestType> none = attn::normalize(s, Mask::key_length(0), p);
    CHECK(same_bits(none, Matrix<TestType>::Zero(4, 5)));
    CHECK(flags_of(s, Mask::key_length(0), p).all());

    // An all-false matrix row.
    BoolMatrix m = BoolMatrix::Constant(4, 5, true);
    m.row(3).setConstant(false);
    const Matrix<TestType> wm = attn::normalize(s, Mask::matrix(m), p);
    CHECK(same_bits(wm.row(3), Matrix<TestType>::Zero(1, 5)));
    const attn::RowFlags fm = flags_of(s, Mask::matrix(m), p);
    CHECK(fm(3));
    CHECK(fm.head(3).count() == 0);
  }

  // The same through a public mechanism: scores = q·I with scale 1, so the flags are public.
  const Matrix<TestType> eye = Matrix<TestType>::Identity(5, 5);
  attn::Options options;
  options.scale = 1.0;
  const auto r = attn::scaled_dot_product(s, eye, eye, mask, options);
  CHECK(r.num_fully_masked() == 2);
  CHECK(r.fully_masked(0));
  CHECK(r.fully_masked(1));
  CHECK_FALSE(r.fully_masked(2));
  CHECK(same_bits(r.weights.topRows(2), Matrix<TestType>::Zero(2, 5)));
}

TEMPLATE_TEST_CASE("a row whose visible scores are all -inf is zero and flagged", "[softmax][fully_masked][nonfinite]",
                   float, double) {
  const TestType ninf = -inf_v<TestType>();
  Matrix<TestType> s(2, 4);
  s << ninf, ninf, 1, 2,  //
      ninf, ninf, ninf, ninf;
  // Row 0 sees keys 0-1 only (both -inf); row 1 sees everything (all -inf).
  BoolMatrix m(2, 4);
  m << true, true, false, false,  //
      true, true, true, true;
  for (Probability p : all_probabilities) {
    INFO(probability_name(p));
    const Matrix<TestType> w = attn::normalize(s, Mask::matrix(m), p);
    CHECK(same_bits(w, Matrix<TestType>::Zero(2, 4)));
    CHECK(flags_of(s, Mask::matrix(m), p).all());
    // Without the mask row 0 is ordinary, row 1 still all -inf.
    const Matrix<TestType> plain = attn::normalize(s, Mask(), p);
    CHECK(plain.row(0).allFinite());
    CHECK(plain(0, 0) == TestType(0));
    CHECK(plain(0, 1) == TestType(0));
    CHECK(same_bits(plain.row(1), Matrix<TestType>::Zero(1, 4)));
    const attn::RowFlags f = flags_of(s, Mask(), p);
    CHECK_FALSE(f(0));
    CHECK(f(1));
  }
}

TEMPLATE_TEST_CASE("NaN or Inf in a masked score never matters", "[softmax][nonfinite][mask]", float, double) {
  std::mt19937_64 rng(99);
  const Index tq = 5, tk = 7;
  const Matrix<TestType> clean = attn_test::random_matrix<TestType>(rng, tq, tk, -3, 3);
  const BoolMatrix bm = (attn_test::random_matrix<double>(rng, tq, tk).array() > -0.3).matrix();
  const Mask masks[] = {Mask::key_length(4), Mask::causal(0), Mask::causal(-1), Mask::window(1, 1),
                        Mask::window(2, 0), Mask::matrix(bm), Mask::key_length(5) & Mask::causal(1)};
  const TestType poison[] = {nan_v<TestType>(), inf_v<TestType>(), -inf_v<TestType>()};
  for (const Mask& mask : masks)
    for (TestType bad : poison) {
      Matrix<TestType> dirty = clean;
      for (Index i = 0; i < tq; ++i)
        for (Index j = 0; j < tk; ++j)
          if (!mask.visible(i, j, tk)) dirty(i, j) = bad;
      for (Probability p : all_probabilities) {
        INFO(probability_name(p) << " poison " << bad);
        const Matrix<TestType> w_clean = attn::normalize(clean, mask, p);
        const Matrix<TestType> w_dirty = attn::normalize(dirty, mask, p);
        CHECK(same_bits(w_dirty, w_clean));
        CHECK_FALSE(w_dirty.hasNaN());
        CHECK(flags_of(dirty, mask, p).count() == flags_of(clean, mask, p).count());
      }
    }
}

TEMPLATE_TEST_CASE("NaN in a visible score makes the row NaN", "[softmax][nonfinite]", float, double) {
  Matrix<TestType> s(3, 4);
  s << 1, nan_v<TestType>(), 2, 3,  //
      0, 1, 2, 3,                   //
      nan_v<TestType>(), nan_v<TestType>(), nan_v<TestType>(), nan_v<TestType>();
  BoolMatrix m = BoolMatrix::Constant(3, 4, true);
  m(0, 3) = false;  // row 0: key 3 masked, key 1 (NaN) visible
  for (Probability p : all_probabilities) {
    INFO(probability_name(p));
    const Matrix<TestType> w = attn::normalize(s, Mask::matrix(m), p);
    CHECK(std::isnan(w(0, 0)));
    CHECK(std::isnan(w(0, 1)));
    CHECK(std::isnan(w(0, 2)));
    CHECK(w(0, 3) == TestType(0));  // masked stays exactly 0
    CHECK(w.row(1).allFinite());    // other rows untouched
    CHECK(w.row(2).array().isNaN().all());
    // A NaN row is not "fully masked": the query did see keys.
    const attn::RowFlags f = flags_of(s, Mask::matrix(m), p);
    CHECK(f.count() == 0);
  }
}

TEMPLATE_TEST_CASE("+inf among visible scores", "[softmax][nonfinite]", float, double) {
  const auto s = row_of<TestType>({1.0, inf_v<double>(), 2.0, inf_v<double>()});
  const Matrix<TestType> soft = attn::softmax(s);
  const Matrix<TestType> sparse = attn::sparsemax(s);
  CHECK(soft.array().isNaN().all());
  CHECK(sparse.array().isNaN().all());
  // hardmax: +inf is simply the maximum (the first of the two).
  CHECK(same_bits(attn::hardmax(s), row_of<TestType>({0, 1, 0, 0})));
  // Masked +inf is harmless.
  const Matrix<TestType> masked = attn::softmax(s, Mask::key_length(1));
  CHECK(same_bits(masked, row_of<TestType>({1, 0, 0, 0})));
}

TEMPLATE_TEST_CASE("large scores stay finite", "[softmax][stability]", float, double) {
  Matrix<TestType> s(3, 3);
  s << 1e4, -1e4, 1e4 - 1,  //
      -1e4, -1e4, -1e4,     //
      1e4, 1e4 - 0.5, -1e4;
  for (Probability p : all_probabilities) {
    INFO(probability_name(p));
    const Matrix<TestType> w = attn::normalize(s, Mask(), p);
    CHECK(w.allFinite());
    // sparsemax computes z - tau with z and tau near 1e4: that difference is only known to
    // about one ulp of 1e4 (2^-10 in float, 2^-39 in double), so its weights carry an absolute
    // error of order 1e4·eps. Softmax and hardmax subtract the row maximum exactly and keep
    // the default tolerance.
    const double tol = p == Probability::sparsemax
                           ? std::max(attn_test::tolerance<TestType>(),
                                      4 * 1e4 * static_cast<double>(std::numeric_limits<TestType>::epsilon()))
                           : attn_test::tolerance<TestType>();
    for (Index i = 0; i < 3; ++i) CHECK(attn_test::close(static_cast<double>(w.row(i).sum()), 1.0, tol));
    ATTN_CHECK_CLOSE(w, attn_test::reference_probability(s.template cast<double>(), BoolMatrix::Constant(3, 3, true), p),
                     tol);
  }
  const Matrix<TestType> soft = attn::softmax(s);
  const double e = std::exp(-1.0);
  CHECK(attn_test::close(static_cast<double>(soft(0, 0)), 1.0 / (1.0 + e), attn_test::tolerance<TestType>()));
  CHECK(soft(0, 1) == TestType(0));  // exp(-2e4) underflows to an exact 0
  CHECK(attn_test::close(static_cast<double>(soft(0, 2)), e / (1.0 + e), attn_test::tolerance<TestType>()));
  // sparsemax row 2: tau = (1e4 + 1e4 - 0.5 - 1) / 2 = 1e4 - 0.75: exact in float and double.
  const Matrix<TestType> sparse = attn::sparsemax(s);
  CHECK(sparse(2, 0) == TestType(0.75));
  CHECK(sparse(2, 1) == TestType(0.25));
  CHECK(sparse(2, 2) == TestType(0));
  // -1e4 everywhere: uniform.
  ATTN_CHECK_CLOSE(soft.row(1), Eigen::MatrixXd::Constant(1, 3, 1.0 / 3.0), attn_test::tolerance<TestType>());
}

TEMPLATE_TEST_CASE("empty shapes: 0x0, 0xk and kx0", "[softmax][shape]", float, double) {
  for (Probability p : all_probabilities) {
    INFO(probability_name(p));
    const Matrix<TestType> a = attn::normalize(Matrix<TestType>(0, 0), Mask(), p);
    CHECK(a.rows() == 0);
    CHECK(a.cols() == 0);
    const Matrix<TestType> b = attn::normalize(Matrix<TestType>(0, 4), Mask::causal(), p);
    CHECK(b.rows() == 0);
    CHECK(b.cols() == 4);
    // k×0: every row sees no key, so it is (trivially) zero and flagged.
    const Matrix<TestType> c = attn::normalize(Matrix<TestType>(3, 0), Mask(), p);
    CHECK(c.rows() == 3);
    CHECK(c.cols() == 0);
    CHECK(flags_of(Matrix<TestType>(3, 0), Mask(), p).all());
    CHECK(flags_of(Matrix<TestType>(3, 0), Mask::key_length(0), p).all());
    const Matrix<TestType> d = attn::normalize(Matrix<TestType>(3, 0), Mask::matrix(BoolMatrix(3, 0)), p);
    CHECK(d.rows() == 3);
    CHECK(d.cols() == 0);
  }
}

TEMPLATE_TEST_CASE("a single key: weight exactly 1 for every function", "[softmax][shape]", float, double) {
  Matrix<TestType> s(3, 1);
  s << -1e4, 0, 123.5;
  for (Probability p : all_probabilities) {
    INFO(probability_name(p));
    CHECK(same_bits(attn::normalize(s, Mask(), p), Matrix<TestType>::Ones(3, 1)));
  }
}

// normalize_rows takes blocks of fewer than chunk_rows rows (a decoder step) through
// softmax_short_rows, which runs its lanes along the keys; longer blocks through the column sweep.
// Both must give the same bits: a decoder step equals the same row of a longer query. Tq = 48 is
// whole chunks (3 in float, 6 in double), where the sweep takes the columns every row sees in
// groups of chunks; the wide window (kind 4) leaves columns before and after those, which the
// sweep must still take in order (a row's sum is one chain over the keys, as the row alone's).
TEMPLATE_TEST_CASE("softmax: one row alone equals the same row of a taller matrix, bit for bit", "[softmax][bits]",
                   float, double) {
  using S = TestType;
  std::mt19937_64 rng(2026);
  const S inf = std::numeric_limits<S>::infinity();
  const Index widths[] = {1, 5, 16, 37, 300};
  for (int shape = 0; shape < 10; ++shape) {
    // Tq = 37: two full chunks and a short one in float, four and a short one in double.
    const Index tq = shape < 5 ? 37 : 48;
    const Index tk = widths[shape % 5];
    Matrix<S> s = attn_test::random_matrix<S>(rng, tq, tk, -30, 30);
    s(3, 0) = -inf;                       // a -inf score among finite ones
    s.row(5).setConstant(-inf);           // a row of -inf: fully masked
    if (tk > 2) s(7, tk - 2) = std::numeric_limits<S>::quiet_NaN();  // a poisoned row
    const BoolMatrix visible = attn_test::random_matrix<double>(rng, tq, tk).array() > -0.4;
    const Index length = tk / 2 + 1;
    for (int kind = 0; kind < 5; ++kind) {
      const auto mask_of_row = [&](Index i) {  // the mask `kind` as seen by row i alone
        switch (kind) {
          case 1: return Mask::key_length(length);
          case 2: return Mask::causal(i - 3);
          case 3: return Mask::matrix(visible.row(i));
          case 4: {  // keys i - 40 to i + 100
            BoolMatrix band(1, tk);
            for (Index j = 0; j < tk; ++j) band(0, j) = j >= i - 40 && j <= i + 100;
            return Mask::matrix(band);
          }
          default: return Mask();
        }
      };
      const Mask mask = kind == 1 ? Mask::key_length(length)
                        : kind == 2 ? Mask::causal(-3)
                        : kind == 3 ? Mask::matrix(visible)
                        : kind == 4 ? Mask::window(40, 100)
                                    : Mask();
      const Matrix<S> all = attn::softmax(s, mask);
      for (Index i = 0; i < tq; ++i) {
        INFO("tq " << tq << " tk " << tk << " mask kind " << kind << " row " << i);
        const Matrix<S> alone = attn::softmax(Matrix<S>(s.row(i)), mask_of_row(i));
        CHECK(same_bits(alone, Matrix<S>(all.row(i))));
      }
    }
  }
}

}  // namespace test_softmax
