// SPDX-License-Identifier: MIT
// Property tests of the mechanisms (scaled dot-product, Luong dot/general/concat, Bahdanau
// plain/normalized) over seeded random shapes and masks of every kind: weights rows are
// distributions over visible keys, masked entries exactly 0, fully masked rows zero and flagged,
// shift invariance, key permutation equivariance, agreement with the plain-loop float64
// reference, masked NaN/Inf content that cannot reach the results, and every form of a call
// (weights, output only, sinks, a memory's step) giving the same bits.
#include "helpers.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// Everything in this file lives in namespace test_properties: the suite is a unity build.
namespace test_properties {

namespace {

using attn::BoolMatrix;
using attn::Index;
using attn::Mask;
using attn::Matrix;
using attn::Probability;
using attn_test::MatrixD;
using attn_test::all_kinds;
using attn_test::all_probabilities;
using attn_test::Kind;
using attn_test::probability_name;
using attn_test::same_bits;

// ---- the mechanisms under test, behind one interface ------------------------------------

// One attention problem: inputs and the parameters of its mechanism.
template <typename S>
struct Problem {
  Kind kind = Kind::sdpa;
  Matrix<S> q, k, v;
  std::optional<double> scale;  // scaled_dot_product only
  attn::LuongParams<S> luong;
  attn::BahdanauParams<S> bahdanau;
};

// Widths (dq, dk, dv, units) drawn from `dims`.
constexpr Index small_dims[] = {1, 3, 5};

template <typename S>
Problem<S> make_problem(std::mt19937_64& rng, Kind kind, Index tq, Index tk, const Index (&dims)[3] = small_dims) {
  std::uniform_int_distribution<int> pick(0, 2);
  std::bernoulli_distribution coin(0.5);
  std::uniform_real_distribution<double> gain(0.5, 2.0);
  const Index dq = dims[pick(rng)];
  const Index dk = (kind == Kind::sdpa || kind == Kind::luong_dot) ? dq : dims[pick(rng)];
  const Index dv = dims[pick(rng)];
  const Index units = dims[pick(rng)];
  Problem<S> p;
  p.kind = kind;
  p.q = attn_test::random_matrix<S>(rng, tq, dq);
  p.k = attn_test::random_matrix<S>(rng, tk, dk);
  p.v = attn_test::random_matrix<S>(rng, tk, dv);
  const std::optional<S> g = coin(rng) ? std::optional<S>(static_cast<S>(gain(rng))) : std::nullopt;
  switch (kind) {
    case Kind::sdpa:
      if (coin(rng)) p.scale = gain(rng);
      break;
    case Kind::luong_dot: p.luong = attn::LuongParams<S>::dot(g); break;
    case Kind::luong_general: p.luong = attn::LuongParams<S>::general(attn_test::random_matrix<S>(rng, dq, dk), g); break;
    case Kind::luong_concat:
      p.luong = attn::LuongParams<S>::concat(attn_test::random_matrix<S>(rng, dq + dk, units),
                                             attn_test::random_matrix<S>(rng, 1, units), g);
      break;
    case Kind::bahdanau:
    case Kind::bahdanau_normalized:
      p.bahdanau.wq = attn_test::random_matrix<S>(rng, dq, units);
      p.bahdanau.wk = attn_test::random_matrix<S>(rng, dk, units);
      p.bahdanau.v = attn_test::random_matrix<S>(rng, 1, units, 0.1, 1.0);  // never all zero
      if (kind == Kind::bahdanau_normalized) {
        p.bahdanau.normalize = true;
        p.bahdanau.g = static_cast<S>(gain(rng));
        if (coin(rng)) p.bahdanau.b = attn_test::random_matrix<S>(rng, 1, units);
      }
      break;
  }
  return p;
}

template <typename S>
Problem<double> to_double(const Problem<S>& p) {
  Problem<double> d;
  d.kind = p.kind;
  d.q = p.q.template cast<double>();
  d.k = p.k.template cast<double>();
  d.v = p.v.template cast<double>();
  d.scale = p.scale;
  d.luong.score = p.luong.score;
  d.luong.w = p.luong.w.template cast<double>();
  d.luong.v = p.luong.v.template cast<double>();
  if (p.luong.g) d.luong.g = static_cast<double>(*p.luong.g);
  d.bahdanau.wq = p.bahdanau.wq.template cast<double>();
  d.bahdanau.wk = p.bahdanau.wk.template cast<double>();
  d.bahdanau.v = p.bahdanau.v.template cast<double>();
  d.bahdanau.normalize = p.bahdanau.normalize;
  d.bahdanau.g = static_cast<double>(p.bahdanau.g);
  d.bahdanau.b = p.bahdanau.b.template cast<double>();
  return d;
}

template <typename S>
attn::AttentionResult<S> call(const Problem<S>& p, const Mask& mask, attn::Options options) {
  switch (p.kind) {
    case Kind::sdpa:
      options.scale = p.scale;
      return attn::scaled_dot_product(p.q, p.k, p.v, mask, options);
    case Kind::luong_dot:
    case Kind::luong_general:
    case Kind::luong_concat: return attn::luong(p.q, p.k, p.v, p.luong, mask, options);
    case Kind::bahdanau:
    case Kind::bahdanau_normalized: return attn::bahdanau(p.q, p.k, p.v, p.bahdanau, mask, options);
  }
  return {};
}

template <typename S>
attn::AttentionResult<S> call(const Problem<S>& p, const Mask& mask, Probability probability) {
  attn::Options options;
  options.probability = probability;
  return call(p, mask, options);
}

// The problem's call with its weights going to `sinks` (output only with attn::no_weights).
template <typename S>
attn::OutputResult<S> call_sinks(const Problem<S>& p, const attn::Sinks<S>& sinks, const Mask& mask,
                                 attn::Options options = attn::Options()) {
  switch (p.kind) {
    case Kind::sdpa:
      options.scale = p.scale;
      return attn::scaled_dot_product(p.q, p.k, p.v, sinks, mask, options);
    case Kind::luong_dot:
    case Kind::luong_general:
    case Kind::luong_concat: return attn::luong(p.q, p.k, p.v, p.luong, sinks, mask, options);
    case Kind::bahdanau:
    case Kind::bahdanau_normalized: return attn::bahdanau(p.q, p.k, p.v, p.bahdanau, sinks, mask, options);
  }
  return {};
}

// The problem's keys and values prepared as a decoder's memory with n visible keys.
template <typename S>
attn::Memory<S> memory_of(const Problem<S>& p, Index n) {
  switch (p.kind) {
    case Kind::sdpa: {
      attn::ScaledDotProductParams params;
      params.scale = p.scale;
      return attn::prepare_memory(p.k, p.v, params, n);
    }
    case Kind::luong_dot:
    case Kind::luong_general:
    case Kind::luong_concat: return attn::prepare_memory(p.k, p.v, p.luong, n);
    case Kind::bahdanau:
    case Kind::bahdanau_normalized: break;
  }
  return attn::prepare_memory(p.k, p.v, p.bahdanau, n);
}

// Plain-loop float64 scores of the problem's mechanism.
MatrixD reference_scores(const Problem<double>& p) {
  const Index dq = p.q.cols();
  const Index dk = p.k.cols();
  switch (p.kind) {
    case Kind::sdpa:
      return attn_test::reference_dot_scores(p.q, p.k, p.scale ? *p.scale : 1.0 / std::sqrt(static_cast<double>(dk)));
    case Kind::luong_dot: return attn_test::reference_dot_scores(p.q, p.k, p.luong.g ? *p.luong.g : 1.0);
    case Kind::luong_general: {
      MatrixD qw = MatrixD::Zero(p.q.rows(), dk);
      for (Index i = 0; i < p.q.rows(); ++i)
        for (Index c = 0; c < dk; ++c)
          for (Index r = 0; r < dq; ++r) qw(i, c) += p.q(i, r) * p.luong.w(r, c);
      return attn_test::reference_dot_scores(qw, p.k, p.luong.g ? *p.luong.g : 1.0);
    }
    case Kind::luong_concat: {
      const MatrixD top = p.luong.w.topRows(dq);
      const MatrixD bottom = p.luong.w.bottomRows(dk);
      return (p.luong.g ? *p.luong.g : 1.0) *
             attn_test::reference_additive_scores(p.q, p.k, top, bottom, p.luong.v, MatrixD());
    }
    case Kind::bahdanau: return attn_test::reference_additive_scores(p.q, p.k, p.bahdanau.wq, p.bahdanau.wk, p.bahdanau.v, MatrixD());
    case Kind::bahdanau_normalized: {
      double norm2 = 0;
      for (Index u = 0; u < p.bahdanau.v.cols(); ++u) norm2 += p.bahdanau.v(0, u) * p.bahdanau.v(0, u);
      const MatrixD vv = (p.bahdanau.g / std::sqrt(norm2)) * p.bahdanau.v;
      return attn_test::reference_additive_scores(p.q, p.k, p.bahdanau.wq, p.bahdanau.wk, vv, p.bahdanau.b);
    }
  }
  return {};
}

// A random mask of the given kind for a tq×tk problem: 0 none, 1 key length, 2 causal,
// 3 window, 4 history-only window, 5 explicit matrix, 6 chunked and causal (Llama 4; with left
// chunks, a streaming chunk mask), 7 all of
// them intersected; and 8, taken by the tests that know of score biases (mask_kinds_with_bias):
// PyTorch's float attn_mask with a score bias (Mask::additive), intersected with a key length.
constexpr int mask_kinds = 8;
constexpr int mask_kinds_with_bias = 9;

BoolMatrix random_bool(std::mt19937_64& rng, Index tq, Index tk, double p_visible) {
  std::bernoulli_distribution coin(p_visible);
  BoolMatrix m(tq, tk);
  for (Index j = 0; j < tk; ++j)
    for (Index i = 0; i < tq; ++i) m(i, j) = coin(rng);
  return m;
}

Mask random_mask(std::mt19937_64& rng, Index tq, Index tk, int kind) {
  std::uniform_int_distribution<Index> width(0, 3);
  switch (kind) {
    case 0: return Mask();
    case 1: return Mask::key_length(std::uniform_int_distribution<Index>(0, tk)(rng));
    case 2: {  // offsets around tk - tq (a query block at the end of the keys)
      const Index hi = tk - tq + 2;
      return Mask::causal(std::uniform_int_distribution<Index>(std::min(Index(-2), hi), hi)(rng));
    }
    case 3: return Mask::window(width(rng), width(rng));
    case 4: return Mask::window(width(rng), 0);
    case 5: return Mask::matrix(random_bool(rng, tq, tk, 0.6));
    case 6: {  // chunks of 1 to 5 positions, queries at the end of the keys or around; 0 to 2 left chunks
      const Index o = std::uniform_int_distribution<Index>(-1, std::max(Index(0), tk - tq) + 1)(rng);
      return Mask::causal(o) & Mask::chunked(std::uniform_int_distribution<Index>(1, 5)(rng), o,
                                             std::uniform_int_distribution<Index>(0, 2)(rng));
    }
    case 8: {  // a float bias in [-3, 3) (float-exact, so float and double calls add the same), -inf hiding
      const BoolMatrix visible = random_bool(rng, tq, tk, 0.75);
      std::uniform_real_distribution<double> bias(-3.0, 3.0);
      MatrixD m(tq, tk);
      for (Index j = 0; j < tk; ++j)
        for (Index i = 0; i < tq; ++i)
          m(i, j) = visible(i, j) ? static_cast<double>(static_cast<float>(bias(rng)))
                                  : -std::numeric_limits<double>::infinity();
      return Mask::additive(m) & Mask::key_length(std::uniform_int_distribution<Index>(tk / 2, tk)(rng));
    }
    default: {
      Mask m = Mask::key_length(std::uniform_int_distribution<Index>(0, tk)(rng));
      m &= Mask::causal(std::uniform_int_distribution<Index>(0, tk)(rng));
      m &= Mask::window(width(rng) + 1, width(rng) + 1);
      m &= Mask::chunked(std::uniform_int_distribution<Index>(2, 6)(rng), width(rng));
      m &= Mask::matrix(random_bool(rng, tq, tk, 0.8));
      return m;
    }
  }
}

template <typename S>
constexpr double tol() {
  return attn_test::tolerance<S>();
}

const Index sizes[] = {0, 1, 2, 3, 7, 37};

// A memory's step of every row against the full call: the same bits with attn's own products;
// oneDNN's bits follow the shape of a product (the step's one product, the call's blocks).
template <typename S>
void check_step_is_call(const Matrix<S>& alignment, const Matrix<S>& context, const attn::AttentionResult<S>& call) {
  if (attn::detail::gemm_own_for<S>()) {
    CHECK(same_bits(alignment, call.weights));
    CHECK(same_bits(context, call.output));
  } else {
    ATTN_CHECK_CLOSE(alignment, call.weights, tol<S>());
    ATTN_CHECK_CLOSE(context, call.output, tol<S>());
  }
}

// The INFO of a random problem: mechanism, probability, shapes and mask kind.
template <typename S>
std::string describe(Kind kind, Probability prob, Index tq, Index tk, int mk, const Problem<S>& p) {
  std::ostringstream os;
  os << kind_name(kind) << ", " << probability_name(prob) << ", tq = " << tq << ", tk = " << tk << ", mask kind " << mk
     << ", dq = " << p.q.cols() << ", dk = " << p.k.cols() << ", dv = " << p.v.cols();
  return os.str();
}

}  // namespace

TEMPLATE_TEST_CASE("weights are distributions over visible keys, fully masked rows are zero and flagged",
                   "[mechanism][property]", float, double) {
  std::mt19937_64 rng(1);
  for (Kind kind : all_kinds)
    for (Index tq : sizes)
      for (Index tk : sizes)
        for (int mk = 0; mk < mask_kinds_with_bias; ++mk)
          for (Probability prob : all_probabilities) {
            const Problem<TestType> p = make_problem<TestType>(rng, kind, tq, tk);
            const Mask mask = random_mask(rng, tq, tk, mk);
            const BoolMatrix visible = attn_test::dense_mask(mask, tq, tk);
            const auto r = call(p, mask, prob);
            INFO(describe(kind, prob, tq, tk, mk, p));
            REQUIRE(r.output.rows() == tq);
            REQUIRE(r.output.cols() == p.v.cols());
            REQUIRE(r.weights.rows() == tq);
            REQUIRE(r.weights.cols() == tk);
            REQUIRE(r.fully_masked.size() == tq);
            CHECK(r.scores.size() == 0);  // not requested
            Index expected_fully = 0;
            for (Index i = 0; i < tq; ++i) {
              INFO("row " << i);
              // No .row() of a matrix without columns: Eigen offsets its null data pointer (UBSan).
              const bool sees = tk > 0 && visible.row(i).any();
              CHECK(r.fully_masked(i) == !sees);
              if (!sees) {
                ++expected_fully;
                if (tk > 0) CHECK(same_bits(r.weights.row(i), Matrix<TestType>::Zero(1, tk)));
                if (p.v.cols() > 0) CHECK(same_bits(r.output.row(i), Matrix<TestType>::Zero(1, p.v.cols())));
                continue;
              }
              double sum = 0;
              for (Index j = 0; j < tk; ++j) {
                if (visible(i, j)) {
                  CHECK(r.weights(i, j) >= TestType(0));
                  sum += static_cast<double>(r.weights(i, j));
                } else {
                  CHECK(r.weights(i, j) == TestType(0));  // exactly
                }
              }
              CHECK(attn_test::close(sum, 1.0, tol<TestType>()));
              if (p.v.cols() > 0) CHECK(r.output.row(i).allFinite());
            }
            CHECK(r.num_fully_masked() == expected_fully);
          }
}

TEMPLATE_TEST_CASE("mechanisms agree with the plain-loop float64 reference", "[mechanism][reference]", float, double) {
  std::mt19937_64 rng(2);
  for (Kind kind : all_kinds)
    for (Index tq : sizes)
      for (Index tk : sizes)
        for (int mk = 0; mk < mask_kinds_with_bias; ++mk)
          for (Probability prob : all_probabilities) {
            const Problem<TestType> p = make_problem<TestType>(rng, kind, tq, tk);
            const Mask mask = random_mask(rng, tq, tk, mk);
            const BoolMatrix visible = attn_test::dense_mask(mask, tq, tk);
            attn::Options options;
            options.probability = prob;
            options.return_scores = true;
            const auto r = call(p, mask, options);

            // The reference runs in float64 on the very inputs the library saw (float inputs
            // are cast exactly to double).
            const Problem<double> pd = to_double(p);
            const MatrixD scores = reference_scores(pd);
            // The probability function sees the scores plus the mask's bias (the test's own
            // input, kept exactly by Mask: test_mask.cpp); the returned scores are without it.
            const MatrixD biased = mask.bias() ? MatrixD(scores + *mask.bias()) : scores;
            const MatrixD weights = attn_test::reference_probability(biased, visible, prob);
            const MatrixD output = attn_test::reference_output(weights, pd.v, visible);
            INFO(describe(kind, prob, tq, tk, mk, p));
            ATTN_CHECK_CLOSE(r.scores, scores, tol<TestType>());
            ATTN_CHECK_CLOSE(r.weights, weights, tol<TestType>());
            ATTN_CHECK_CLOSE(r.output, output, tol<TestType>());
          }
}

TEMPLATE_TEST_CASE("every form of a call gives the same bits, on shapes across block, part and packet boundaries",
                   "[mechanism][property][forms]", float, double) {
  // The value form with weights, output only, sinks and a prepared memory's step of every row at
  // once (twice, the second on a warm workspace), on random shapes where blocks (256 rows), parts
  // and packets leave tails: a few rows, a last block of one row, keys around 128 and 256.
  // Such a comparison found the cases fixed in 0.12.4 (CHANGELOG).
  using S = TestType;
  std::mt19937_64 rng(31);
  constexpr Index wide_dims[] = {9, 16, 40};
  const Index tqs[] = {2, 3, 5, 9, 15, 17, 33, 257, 300, 513};
  const Index tks[] = {1, 2, 7, 31, 129, 300};
  std::uniform_int_distribution<int> pick_tq(0, 9);
  std::uniform_int_distribution<int> pick_tk(0, 5);
  std::uniform_int_distribution<int> pick_mask(0, mask_kinds - 1);
  std::mt19937_64 bias_rng(32);
  for (const Kind kind : all_kinds) {
    // Six trials of the band and matrix kinds, then two with a score bias (Mask::additive), from
    // a generator of their own (the first six draw what they drew before biases existed).
    for (int trial = 0; trial < 8; ++trial) {
      std::mt19937_64& g = trial < 6 ? rng : bias_rng;
      const Index tq = tqs[pick_tq(g)];
      const Index tk = tks[pick_tk(g)];
      const int mk = trial < 6 ? pick_mask(g) : mask_kinds_with_bias - 1;
      // Widths past a packet, so that sums in another order show (with widths of a few the
      // one-row kernel's tail and the GEMM's chain sum alike).
      const Problem<S> p = make_problem<S>(g, kind, tq, tk, wide_dims);
      const Mask mask = random_mask(g, tq, tk, mk);
      INFO(describe(kind, Probability::softmax, tq, tk, mk, p));
      const attn::AttentionResult<S> full = call(p, mask, Probability::softmax);
      CHECK(same_bits(call_sinks(p, attn::Sinks<S>(attn::no_weights), mask).output, full.output));
      attn::ColumnSums<S> sums;
      attn::TopK<S> top(2);
      CHECK(same_bits(call_sinks(p, attn::Sinks<S>(sums, top), mask).output, full.output));
      // The memory: n visible keys, the full call under key_length(n).
      const Index n = std::uniform_int_distribution<Index>(0, tk)(g);
      const attn::AttentionResult<S> padded = call(p, Mask::key_length(n), Probability::softmax);
      const attn::Memory<S> memory = memory_of(p, n);
      attn::Workspace<S> ws;
      Matrix<S> context(tq, p.v.cols());
      Matrix<S> alignment(tq, tk);
      for (int twice = 0; twice < 2; ++twice) {  // the second on a warm workspace
        attn::attend_into(memory, p.q, context, alignment, ws);
        check_step_is_call(alignment, context, padded);
      }
    }
  }
}

TEMPLATE_TEST_CASE("return_scores returns the raw scores, otherwise scores are empty", "[mechanism][scores]", float,
                   double) {
  std::mt19937_64 rng(3);
  for (Kind kind : all_kinds)
    for (Probability prob : all_probabilities) {
      const Problem<TestType> p = make_problem<TestType>(rng, kind, 4, 6);
      const Mask mask = Mask::causal(1);
      attn::Options with;
      with.probability = prob;
      with.return_scores = true;
      attn::Options without;
      without.probability = prob;
      const auto a = call(p, mask, with);
      const auto b = call(p, mask, without);
      INFO(kind_name(kind) << ", " << probability_name(prob));
      REQUIRE(a.scores.rows() == 4);
      REQUIRE(a.scores.cols() == 6);
      CHECK(b.scores.rows() == 0);
      CHECK(b.scores.cols() == 0);
      // The raw scores before the probability function, masked entries included.
      ATTN_CHECK_CLOSE(a.scores, reference_scores(to_double(p)), tol<TestType>());
      // Asking for them changes nothing else.
      CHECK(same_bits(a.weights, b.weights));
      CHECK(same_bits(a.output, b.output));
      CHECK((a.fully_masked == b.fully_masked).all());
      // The weights are the probability function of exactly those scores.
      CHECK(same_bits(attn::normalize(a.scores, mask, prob), a.weights));
    }
}

TEMPLATE_TEST_CASE("adding a constant to a score row changes nothing", "[mechanism][property][shift]", float, double) {
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> shift(-5.0, 5.0);
  for (Kind kind : all_kinds)
    for (Index tq : {Index(1), Index(3), Index(7)})
      for (Index tk : {Index(1), Index(2), Index(7), Index(37)})
        for (int mk = 0; mk < mask_kinds; ++mk) {
          const Problem<TestType> p = make_problem<TestType>(rng, kind, tq, tk);
          const Mask mask = random_mask(rng, tq, tk, mk);
          attn::Options options;
          options.return_scores = true;
          const auto r = call(p, mask, options);
          INFO(kind_name(kind) << ", tq = " << tq << ", tk = " << tk << ", mask kind " << mk);
          // The mechanism's weights are softmax of its raw scores, bit for bit.
          CHECK(same_bits(attn::softmax(r.scores, mask), r.weights));
          // One constant for the whole matrix, and one per row.
          const TestType c = static_cast<TestType>(shift(rng));
          const Matrix<TestType> shifted = (r.scores.array() + c).matrix();
          ATTN_CHECK_CLOSE(attn::softmax(shifted, mask), r.weights, tol<TestType>());
          Matrix<TestType> per_row = r.scores;
          for (Index i = 0; i < tq; ++i) per_row.row(i).array() += static_cast<TestType>(shift(rng));
          ATTN_CHECK_CLOSE(attn::softmax(per_row, mask), r.weights, tol<TestType>());
          // sparsemax is shift-invariant too.
          ATTN_CHECK_CLOSE(attn::sparsemax(per_row, mask), attn::sparsemax(r.scores, mask), tol<TestType>());
        }
}

TEMPLATE_TEST_CASE("permuting keys with values permutes weight columns and keeps the output",
                   "[mechanism][property][permutation]", float, double) {
  std::mt19937_64 rng(5);
  for (Kind kind : all_kinds)
    for (Index tq : {Index(1), Index(3), Index(7)})
      for (Index tk : {Index(1), Index(2), Index(3), Index(7), Index(37)})
        for (int mk = 0; mk < mask_kinds; ++mk)
          for (Probability prob : all_probabilities) {
            const Problem<TestType> p = make_problem<TestType>(rng, kind, tq, tk);
            const Mask mask = random_mask(rng, tq, tk, mk);
            const BoolMatrix visible = attn_test::dense_mask(mask, tq, tk);
            std::vector<Index> perm(static_cast<std::size_t>(tk));
            std::iota(perm.begin(), perm.end(), Index(0));
            std::shuffle(perm.begin(), perm.end(), rng);
            // Key j moves to position perm[j]; the mask columns move with it (as a matrix).
            Problem<TestType> pp = p;
            BoolMatrix moved(tq, tk);
            for (Index j = 0; j < tk; ++j) {
              const Index to = perm[static_cast<std::size_t>(j)];
              pp.k.row(to) = p.k.row(j);
              pp.v.row(to) = p.v.row(j);
              moved.col(to) = visible.col(j);
            }
            const auto a = call(p, mask, prob);
            const auto b = call(pp, Mask::matrix(moved), prob);
            INFO(kind_name(kind) << ", " << probability_name(prob) << ", tq = " << tq << ", tk = " << tk
                                 << ", mask kind " << mk);
            Matrix<TestType> back(tq, tk);
            for (Index j = 0; j < tk; ++j) back.col(j) = b.weights.col(perm[static_cast<std::size_t>(j)]);
            ATTN_CHECK_CLOSE(back, a.weights, tol<TestType>());
            ATTN_CHECK_CLOSE(b.output, a.output, tol<TestType>());
            CHECK((a.fully_masked == b.fully_masked).all());
          }
}

TEMPLATE_TEST_CASE("band masks equal their explicit-matrix form", "[mechanism][property][mask]", float, double) {
  std::mt19937_64 rng(6);
  for (Kind kind : all_kinds)
    for (int mk = 1; mk < mask_kinds; ++mk)
      for (Probability prob : all_probabilities) {
        const Problem<TestType> p = make_problem<TestType>(rng, kind, 7, 9);
        const Mask mask = random_mask(rng, 7, 9, mk);
        const auto a = call(p, mask, prob);
        const auto b = call(p, Mask::matrix(attn_test::dense_mask(mask, 7, 9)), prob);
        INFO(kind_name(kind) << ", " << probability_name(prob) << ", mask kind " << mk);
        // Same scores and same per-row arithmetic; the output may sum in another order when a
        // key-length mask shortens the product, hence a tolerance there.
        CHECK(same_bits(a.weights, b.weights));
        ATTN_CHECK_CLOSE(a.output, b.output, tol<TestType>());
        CHECK((a.fully_masked == b.fully_masked).all());
      }
}

TEMPLATE_TEST_CASE("band masks on blocks of many rows: the band's columns alone are scored and ·V, with the bits "
                   "of the explicit-matrix form",
                   "[mechanism][property][mask][band]", float, double) {
  // attend_blocks scores and multiplies only the columns a block's rows may see under the band
  // kinds (causal, window, chunked, key length), for blocks of chunk_rows rows or more; the
  // explicit-matrix form of the same mask takes every column. On attn's gemm the two give the
  // same bits (a chain that only leaves out exact zeros); on another backend the output may
  // sum in another order. Shapes: several blocks and parts, Tq > Tk and Tq < Tk, offsets that
  // leave the first rows without a key and the last with every key. Blocks of fewer rows than
  // the sweep's (a decoder step: 1, 3 or 7 queries) score the mask's visible prefix alone, and
  // only those keys are transposed (a step against 200 keys under key_length(0) cost 28× a
  // step on no keys): the same bits again.
  using S = TestType;
  std::mt19937_64 rng(20261207);
  const std::pair<Index, Index> shapes[] = {{40, 129}, {300, 700}, {600, 301}, {17, 1000}, {515, 515},
                                            {1, 300},  {3, 129},   {7, 1000}};
  for (const auto& [tq, tk] : shapes) {
    const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, 24);
    const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 24);
    const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, 19);
    // The float64 reference's scores, which no mask changes (once per shape: the plain loops take
    // most of this test's time in the sanitizer build).
    const MatrixD scores = attn_test::reference_dot_scores(q.template cast<double>(), k.template cast<double>(),
                                                           1.0 / std::sqrt(24.0));
    const Mask masks[] = {Mask::causal(),
                          Mask::causal(37),
                          Mask::causal(-20),
                          Mask::causal(tk - tq),
                          Mask::window(30, 5),
                          Mask::chunked(64, 37) & Mask::causal(37),
                          Mask::chunked(64, 37, 2) & Mask::causal(37),
                          Mask::chunked(40, 0, 1),  // a streaming encoder: its chunk, the one before, no causal
                          Mask::chunked(48, 0, Mask::all_chunks),
                          Mask::key_length(tk / 2) & Mask::causal(10),
                          Mask::key_length(tk / 3),
                          Mask::key_length(0),
                          Mask::key_length(tk - 1) & Mask::window(2, 300)};
    for (std::size_t mk = 0; mk < std::size(masks); ++mk) {
      INFO("Tq = " << tq << ", Tk = " << tk << ", mask " << mk);
      const Mask& mask = masks[mk];
      const BoolMatrix visible = attn_test::dense_mask(mask, tq, tk);
      const auto a = attn::scaled_dot_product(q, k, v, mask);
      const auto b = attn::scaled_dot_product(q, k, v, Mask::matrix(visible));
      CHECK(same_bits(a.weights, b.weights));
      CHECK((a.fully_masked == b.fully_masked).all());
      if (attn::detail::gemm_own_for<S>())
        CHECK(same_bits(a.output, b.output));
      else
        ATTN_CHECK_CLOSE(a.output, b.output, tol<S>());
      // Output only and column sums: the full call's bits; and into weights that held NaN (the
      // columns a block does not score are never read).
      Matrix<S> out(tq, v.cols());
      attn::Workspace<S> ws;
      Matrix<S> stale = Matrix<S>::Constant(tq, tk, std::numeric_limits<S>::quiet_NaN());
      attn::scaled_dot_product_into(q, k, v, out, stale, ws, mask);
      CHECK(same_bits(stale, a.weights));
      CHECK(same_bits(out, a.output));
      attn::scaled_dot_product_into(q, k, v, out, attn::no_weights, ws, mask);
      CHECK(same_bits(out, a.output));
      attn::ColumnSums<S> sums;
      attn::scaled_dot_product_into(q, k, v, out, attn::Sinks<S>(sums), ws, mask);
      CHECK(same_bits(out, a.output));
      Matrix<S> received = Matrix<S>::Zero(1, tk);  // in increasing query order, as ColumnSums adds
      for (Index i = 0; i < tq; ++i) received += a.weights.row(i);
      CHECK(same_bits(sums.sums().transpose(), received));
      // And the float64 reference on the same inputs.
      const MatrixD w = attn_test::reference_probability(scores, visible, Probability::softmax);
      ATTN_CHECK_CLOSE(a.weights, w, tol<S>());
      ATTN_CHECK_CLOSE(a.output, attn_test::reference_output(w, v.template cast<double>(), visible), tol<S>());
    }
  }
}

TEMPLATE_TEST_CASE("NaN or Inf in a masked key or value row leaves output and weights unchanged",
                   "[mechanism][property][nonfinite]", float, double) {
  std::mt19937_64 rng(7);
  constexpr Index tq = 5, tk = 8;
  const TestType poisons[] = {std::numeric_limits<TestType>::quiet_NaN(), std::numeric_limits<TestType>::infinity(),
                              -std::numeric_limits<TestType>::infinity()};
  // Each case lists the keys that no query sees under its mask (5 queries, 8 keys): those
  // key/value rows get the poison. The matrix also hides random other entries.
  BoolMatrix m = random_bool(rng, tq, tk, 0.7);
  m.col(1).setConstant(false);
  m.col(6).setConstant(false);
  struct Case {
    const char* label;
    Mask mask;
    std::vector<Index> hidden;  // keys no query sees
  };
  const Case cases[] = {{"key_length", Mask::key_length(5), {5, 6, 7}},
                        {"causal", Mask::causal(0), {5, 6, 7}},
                        {"causal(-2)", Mask::causal(-2), {3, 4, 5, 6, 7}},
                        {"matrix", Mask::matrix(m), {1, 6}},
                        {"key_length & causal", Mask::key_length(7) & Mask::causal(1), {6, 7}}};
  for (Kind kind : all_kinds)
    for (const Case& c : cases)
      for (Probability prob : all_probabilities) {
        const Problem<TestType> p = make_problem<TestType>(rng, kind, tq, tk);
        const auto clean = call(p, c.mask, prob);
        REQUIRE(clean.output.allFinite());
        for (TestType bad : poisons)
          for (int where = 0; where < 3; ++where) {  // 0: key row, 1: value row, 2: both
            Problem<TestType> dirty = p;
            for (Index j : c.hidden) {
              if (where != 1) dirty.k.row(j).setConstant(bad);
              if (where != 0) dirty.v.row(j).setConstant(bad);
            }
            const auto r = call(dirty, c.mask, prob);
            INFO(kind_name(kind) << ", " << probability_name(prob) << ", mask " << c.label << ", poison " << bad
                                 << " in " << (where == 0 ? "keys" : where == 1 ? "values" : "keys and values"));
            CHECK(same_bits(r.weights, clean.weights));
            CHECK(same_bits(r.output, clean.output));
            CHECK((r.fully_masked == clean.fully_masked).all());

            // A single poisoned entry too (not a whole row).
            Problem<TestType> one = p;
            const Index j = c.hidden.back();
            if (where != 1) one.k(j, 0) = bad;
            if (where != 0) one.v(j, one.v.cols() - 1) = bad;
            const auto s = call(one, c.mask, prob);
            CHECK(same_bits(s.weights, clean.weights));
            CHECK(same_bits(s.output, clean.output));
          }
      }
}

TEMPLATE_TEST_CASE("NaN or Inf in masked prepared Bahdanau keys leaves results unchanged",
                   "[bahdanau][property][nonfinite]", float, double) {
  std::mt19937_64 rng(8);
  for (Kind kind : {Kind::bahdanau, Kind::bahdanau_normalized}) {
    const Problem<TestType> p = make_problem<TestType>(rng, kind, 4, 6);
    const Mask mask = Mask::key_length(4);
    const auto keys = attn::prepare_keys(p.bahdanau, p.k);
    const auto clean = attn::bahdanau(p.q, keys, p.v, p.bahdanau, mask);
    auto dirty = keys;
    dirty.projected.row(4).setConstant(std::numeric_limits<TestType>::quiet_NaN());
    dirty.projected.row(5).setConstant(std::numeric_limits<TestType>::infinity());
    const auto r = attn::bahdanau(p.q, dirty, p.v, p.bahdanau, mask);
    INFO(kind_name(kind));
    CHECK(same_bits(r.weights, clean.weights));
    CHECK(same_bits(r.output, clean.output));
  }
}

TEMPLATE_TEST_CASE("NaN in a visible value row shows in the output rows that see it",
                   "[mechanism][property][nonfinite]", float, double) {
  std::mt19937_64 rng(9);
  constexpr Index tq = 5, tk = 5;
  for (Kind kind : all_kinds)
    for (Probability prob : all_probabilities) {
      const Problem<TestType> p = make_problem<TestType>(rng, kind, tq, tk);
      Problem<TestType> dirty = p;
      dirty.v(2, 0) = std::numeric_limits<TestType>::quiet_NaN();
      INFO(kind_name(kind) << ", " << probability_name(prob));

      // Causal: queries 2, 3, 4 see key 2; queries 0 and 1 do not.
      const auto clean = call(p, Mask::causal(0), prob);
      const auto r = call(dirty, Mask::causal(0), prob);
      CHECK(same_bits(r.weights, clean.weights));  // weights never depend on V
      CHECK(same_bits(r.output.topRows(2), clean.output.topRows(2)));
      for (Index i = 2; i < tq; ++i) {
        INFO("row " << i);
        CHECK(std::isnan(r.output(i, 0)));
        // Other columns of V are clean: those outputs stay as they were (up to summation order).
        ATTN_CHECK_CLOSE(r.output.row(i).tail(p.v.cols() - 1), clean.output.row(i).tail(p.v.cols() - 1),
                         tol<TestType>());
      }

      // No mask: every query sees key 2.
      const auto all = call(dirty, Mask(), prob);
      CHECK(all.output.col(0).array().isNaN().all());

      // A whole NaN row reaches every column of the rows that see it.
      Problem<TestType> row = p;
      row.v.row(3).setConstant(std::numeric_limits<TestType>::quiet_NaN());
      const auto rr = call(row, Mask::window(1, 0), prob);  // queries 3 and 4 see key 3
      const auto rc = call(p, Mask::window(1, 0), prob);
      CHECK(same_bits(rr.output.topRows(3), rc.output.topRows(3)));
      CHECK(rr.output.bottomRows(2).array().isNaN().all());
    }
}

TEMPLATE_TEST_CASE("prepared Bahdanau keys reused across query calls equal the unprepared call",
                   "[bahdanau][prepare]", float, double) {
  std::mt19937_64 rng(10);
  for (Kind kind : {Kind::bahdanau, Kind::bahdanau_normalized})
    for (Probability prob : all_probabilities) {
      const Problem<TestType> p = make_problem<TestType>(rng, kind, 1, 9);
      const auto keys = attn::prepare_keys(p.bahdanau, p.k);
      REQUIRE(keys.projected.rows() == 9);
      REQUIRE(keys.projected.cols() == p.bahdanau.units());
      CHECK(keys.normalized == p.bahdanau.normalize);
      attn::Options options;
      options.probability = prob;
      options.return_scores = true;
      // A decoder: one query per step, plus a block of queries, against the same memory.
      for (int step = 0; step < 6; ++step) {
        const Index tq = step < 4 ? 1 : 3 + step;
        const Matrix<TestType> q = attn_test::random_matrix<TestType>(rng, tq, p.q.cols());
        const Mask mask = step % 2 ? Mask::key_length(7) : Mask();
        const auto a = attn::bahdanau(q, keys, p.v, p.bahdanau, mask, options);
        const auto b = attn::bahdanau(q, p.k, p.v, p.bahdanau, mask, options);
        INFO(kind_name(kind) << ", " << probability_name(prob) << ", step " << step);
        CHECK(same_bits(a.output, b.output));
        CHECK(same_bits(a.weights, b.weights));
        CHECK(same_bits(a.scores, b.scores));
        CHECK((a.fully_masked == b.fully_masked).all());
      }
    }
}

TEMPLATE_TEST_CASE("structured binding: auto [out, w] = ...", "[mechanism][api]", float, double) {
  std::mt19937_64 rng(11);
  const Matrix<TestType> q = attn_test::random_matrix<TestType>(rng, 3, 4);
  const Matrix<TestType> k = attn_test::random_matrix<TestType>(rng, 5, 4);
  const Matrix<TestType> v = attn_test::random_matrix<TestType>(rng, 5, 2);
  const auto full = attn::scaled_dot_product(q, k, v);
  {
    auto [out, w] = attn::scaled_dot_product(q, k, v);
    static_assert(std::is_same<decltype(out), Matrix<TestType>>::value, "output binds as a Matrix");
    static_assert(std::is_same<decltype(w), Matrix<TestType>>::value, "weights bind as a Matrix");
    CHECK(same_bits(out, full.output));
    CHECK(same_bits(w, full.weights));
  }
  {
    const auto& [out, w] = full;  // binding to an lvalue result refers to its members
    CHECK(&out == &full.output);
    CHECK(&w == &full.weights);
  }
  {
    auto [out, w] = attn::luong(q, k, v);
    const auto ref = attn::luong(q, k, v);
    CHECK(same_bits(out, ref.output));
    CHECK(same_bits(w, ref.weights));
  }
  {
    attn::BahdanauParams<TestType> params;
    params.wq = attn_test::random_matrix<TestType>(rng, 4, 3);
    params.wk = attn_test::random_matrix<TestType>(rng, 4, 3);
    params.v = attn_test::random_matrix<TestType>(rng, 1, 3);
    auto [out, w] = attn::bahdanau(q, k, v, params, Mask::causal(1));
    const auto ref = attn::bahdanau(q, k, v, params, Mask::causal(1));
    CHECK(same_bits(out, ref.output));
    CHECK(same_bits(w, ref.weights));
  }
}

// Every result type binds through detail::BindOutputWeights: references into an lvalue, const
// references into a const result, moved members out of a temporary.
template <typename R, typename Weights>
void check_binding_categories() {
  using Out = decltype(std::declval<R&>().output);
  static_assert(std::tuple_size<R>::value == 2, "results bind two names");
  static_assert(std::is_same<std::tuple_element_t<0, R>, Out>::value, "get<0> is output");
  static_assert(std::is_same<std::tuple_element_t<1, R>, Weights>::value, "get<1> is weights");
  static_assert(std::is_same<decltype(std::declval<R&>().template get<0>()), Out&>::value, "lvalue");
  static_assert(std::is_same<decltype(std::declval<const R&>().template get<1>()), const Weights&>::value, "const");
  static_assert(std::is_same<decltype(std::declval<R&&>().template get<1>()), Weights&&>::value, "rvalue");
}

TEMPLATE_TEST_CASE("structured binding: every result binds [output, weights] alike", "[mechanism][api]", float,
                   double) {
  check_binding_categories<attn::AttentionResult<TestType>, Matrix<TestType>>();
  check_binding_categories<attn::StepResult<TestType>, Matrix<TestType>>();
  check_binding_categories<attn::MonotonicResult<TestType>, Matrix<TestType>>();
  check_binding_categories<attn::ManyToOneResult<TestType>, Matrix<TestType>>();
  check_binding_categories<attn::MultiHeadResult<TestType>, attn::HeadWeights<TestType>>();

  attn::StepResult<TestType> step;
  step.output = Matrix<TestType>::Ones(1, 2);
  step.weights = Matrix<TestType>::Ones(1, 3);
  {
    auto& [out, w] = step;
    CHECK(&out == &step.output);
    CHECK(&w == &step.weights);
  }
  {
    auto [out, w] = std::move(step);  // binding a temporary moves its members
    CHECK(out.cols() == 2);
    CHECK(w.cols() == 3);
    CHECK(step.output.size() == 0);
    CHECK(step.weights.size() == 0);
  }
}

TEMPLATE_TEST_CASE("bahdanau with zero units or zero keys: scores 0, no row taken of an empty matrix",
                   "[mechanism][bahdanau][shape]", float, double) {
  // Zero units: every score is the empty sum v·tanh(·) = 0, so the weights are uniform over the
  // visible keys (the plain-loop reference gives the same) and the output is their mean.
  std::mt19937_64 rng(31);
  const Matrix<TestType> q = attn_test::random_matrix<TestType>(rng, 3, 4);
  const Matrix<TestType> k = attn_test::random_matrix<TestType>(rng, 5, 4);
  const Matrix<TestType> v = attn_test::random_matrix<TestType>(rng, 5, 2);
  attn::BahdanauParams<TestType> params;
  params.wq.resize(4, 0);
  params.wk.resize(4, 0);
  params.v.resize(1, 0);
  attn::Options options;
  options.return_scores = true;
  const auto r = attn::bahdanau(q, k, v, params, Mask::key_length(4), options);
  CHECK((r.scores.leftCols(4).array() == TestType(0)).all());
  const attn::BoolMatrix visible = attn_test::dense_mask(Mask::key_length(4), 3, 5);
  const MatrixD reference = attn_test::reference_probability(MatrixD::Zero(3, 5), visible, attn::Probability::softmax);
  ATTN_CHECK_CLOSE(r.weights, reference, attn_test::tolerance<TestType>());
  ATTN_CHECK_CLOSE(r.output, attn_test::reference_output(reference, v.template cast<double>(), visible),
                   attn_test::tolerance<TestType>());

  // Zero keys: every row is fully masked, the output is zero.
  attn::BahdanauParams<TestType> some_units;
  some_units.wq = attn_test::random_matrix<TestType>(rng, 4, 3);
  some_units.wk = attn_test::random_matrix<TestType>(rng, 4, 3);
  some_units.v = attn_test::random_matrix<TestType>(rng, 1, 3);
  const auto none = attn::bahdanau(q, Matrix<TestType>(0, 4), Matrix<TestType>(0, 2), some_units);
  CHECK(none.weights.cols() == 0);
  CHECK(none.num_fully_masked() == 3);
  CHECK((none.output.array() == TestType(0)).all());
}

TEMPLATE_TEST_CASE("inputs may be blocks and expressions", "[mechanism][api]", float, double) {
  std::mt19937_64 rng(12);
  for (Kind kind : all_kinds) {
    const Problem<TestType> p = make_problem<TestType>(rng, kind, 4, 6);
    // Embed each input in a bigger matrix and pass the block.
    Matrix<TestType> bq = Matrix<TestType>::Zero(p.q.rows() + 2, p.q.cols() + 3);
    Matrix<TestType> bk = Matrix<TestType>::Zero(p.k.rows() + 1, p.k.cols() + 2);
    Matrix<TestType> bv = Matrix<TestType>::Zero(p.v.rows() + 3, p.v.cols() + 1);
    bq.block(2, 1, p.q.rows(), p.q.cols()) = p.q;
    bk.block(1, 2, p.k.rows(), p.k.cols()) = p.k;
    bv.block(0, 1, p.v.rows(), p.v.cols()) = p.v;
    const auto q = bq.block(2, 1, p.q.rows(), p.q.cols());
    const auto k = bk.block(1, 2, p.k.rows(), p.k.cols());
    const auto v = bv.block(0, 1, p.v.rows(), p.v.cols());
    const Mask mask = Mask::causal(2);
    const auto ref = call(p, mask, Probability::softmax);
    attn::AttentionResult<TestType> r;
    switch (kind) {
      case Kind::sdpa: {
        attn::Options o;
        o.scale = p.scale;
        r = attn::scaled_dot_product(q, k, v, mask, o);
        break;
      }
      case Kind::luong_dot:
      case Kind::luong_general:
      case Kind::luong_concat: r = attn::luong(q, k, v, p.luong, mask); break;
      default: r = attn::bahdanau(q, k, v, p.bahdanau, mask); break;
    }
    INFO(kind_name(kind));
    ATTN_CHECK_CLOSE(r.weights, ref.weights, tol<TestType>());
    ATTN_CHECK_CLOSE(r.output, ref.output, tol<TestType>());
  }
  // An expression input: 2·q with scale 1/2 equals q with scale 1.
  const Matrix<TestType> q = attn_test::random_matrix<TestType>(rng, 3, 4);
  const Matrix<TestType> k = attn_test::random_matrix<TestType>(rng, 5, 4);
  const Matrix<TestType> v = attn_test::random_matrix<TestType>(rng, 5, 2);
  attn::Options half, one;
  half.scale = 0.5;
  one.scale = 1.0;
  const auto a = attn::scaled_dot_product(TestType(2) * q, k, v, Mask(), half);
  const auto b = attn::scaled_dot_product(q, k, v, Mask(), one);
  ATTN_CHECK_CLOSE(a.weights, b.weights, tol<TestType>());
  ATTN_CHECK_CLOSE(a.output, b.output, tol<TestType>());
}

TEMPLATE_TEST_CASE("zero-width inputs: empty dot products give uniform weights", "[mechanism][shape]", float, double) {
  std::mt19937_64 rng(13);
  const Matrix<TestType> q(3, 0), k(5, 0);
  const Matrix<TestType> v = attn_test::random_matrix<TestType>(rng, 5, 2);
  const Mask mask = Mask::causal(1);  // row i sees keys 0..i+1
  for (int which = 0; which < 2; ++which) {
    const auto r = which == 0 ? attn::scaled_dot_product(q, k, v, mask) : attn::luong(q, k, v, {}, mask);
    INFO((which == 0 ? "scaled_dot_product" : "luong dot"));
    REQUIRE(r.weights.rows() == 3);
    REQUIRE(r.weights.cols() == 5);
    for (Index i = 0; i < 3; ++i) {
      const Index n = i + 2;
      Eigen::MatrixXd expected_w = Eigen::MatrixXd::Zero(1, 5);
      expected_w.leftCols(n).setConstant(1.0 / static_cast<double>(n));
      ATTN_CHECK_CLOSE(r.weights.row(i), expected_w, tol<TestType>());
      const Eigen::MatrixXd mean = v.template cast<double>().topRows(n).colwise().mean();
      ATTN_CHECK_CLOSE(r.output.row(i), mean, tol<TestType>());
    }
    CHECK(r.num_fully_masked() == 0);
  }
  // Zero-width values: the output has no columns, the weights are unaffected.
  const Matrix<TestType> v0(5, 0);
  const auto r0 = attn::scaled_dot_product(q, k, v0, mask);
  CHECK(r0.output.rows() == 3);
  CHECK(r0.output.cols() == 0);
  CHECK(same_bits(r0.weights, attn::scaled_dot_product(q, k, v, mask).weights));
}

// ---- options.softcap and options.alibi ----------------------------------------------------------

// Every mechanism, every pair of sizes and every kind of mask (a score bias too): a random
// problem and mask, then f(problem, mask, its dense visibility, mask kind) draws what else it needs.
template <typename S, typename F>
void for_each_problem(std::mt19937_64& rng, F&& f) {
  for (Kind kind : all_kinds)
    for (Index tq : sizes)
      for (Index tk : sizes)
        for (int mk = 0; mk < mask_kinds_with_bias; ++mk) {
          const Problem<S> p = make_problem<S>(rng, kind, tq, tk);
          const Mask mask = random_mask(rng, tq, tk, mk);
          f(p, mask, attn_test::dense_mask(mask, tq, tk), mk);
        }
}

TEMPLATE_TEST_CASE("options.softcap caps every mechanism's scaled scores before the mask's bias, as the plain-loop "
                   "reference",
                   "[mechanism][reference][softcap]", float, double) {
  // Gemma 2's order: scores (with the scale) → softcap·tanh(s / softcap) → + the mask's bias →
  // the probability function. Softmax and sparsemax: hardmax of capped scores is the hardmax of
  // scores that float can round to a tie (tanh saturates), which the reference in double does not see.
  std::mt19937_64 rng(41);
  const double caps[] = {0.25, 1.0, 4.0};
  std::uniform_int_distribution<int> pick_cap(0, 2);
  std::bernoulli_distribution sparse(0.3);
  for_each_problem<TestType>(rng, [&](const Problem<TestType>& p, const Mask& mask, const BoolMatrix& visible, int mk) {
    const Index tq = p.q.rows(), tk = p.k.rows();
    const double cap = caps[pick_cap(rng)];
    const Probability prob = sparse(rng) ? Probability::sparsemax : Probability::softmax;
    attn::Options options;
    options.probability = prob;
    options.return_scores = true;
    options.softcap = cap;
    const auto r = call(p, mask, options);

    const MatrixD capped = reference_scores(to_double(p)).unaryExpr([cap](double e) { return cap * std::tanh(e / cap); });
    const MatrixD biased = mask.bias() ? MatrixD(capped + *mask.bias()) : capped;
    const MatrixD weights = attn_test::reference_probability(biased, visible, prob);
    INFO(describe(p.kind, prob, tq, tk, mk, p) << ", softcap " << cap);
    ATTN_CHECK_CLOSE(r.scores, capped, tol<TestType>());  // the returned scores are the capped ones
    CHECK((r.scores.array().abs() <= static_cast<TestType>(cap)).all());
    ATTN_CHECK_CLOSE(r.weights, weights, tol<TestType>());
    ATTN_CHECK_CLOSE(r.output, attn_test::reference_output(weights, to_double(p).v, visible), tol<TestType>());
  });
}

TEMPLATE_TEST_CASE("options.softcap: every form of a call gives the same bits, a memory's step too",
                   "[mechanism][property][forms][softcap]", float, double) {
  // As "every form of a call gives the same bits" with a cap: the value form with weights,
  // output only, sinks, and a prepared memory's step (Memory::with_softcap) of every row at once
  // and of one row, on shapes that leave block, part and packet tails.
  using S = TestType;
  std::mt19937_64 rng(43);
  constexpr Index wide_dims[] = {9, 16, 40};
  const Index tqs[] = {1, 2, 5, 17, 33, 257, 300};
  const Index tks[] = {1, 7, 31, 129, 300};
  std::uniform_int_distribution<int> pick_tq(0, 6);
  std::uniform_int_distribution<int> pick_tk(0, 4);
  std::uniform_int_distribution<int> pick_mask(0, mask_kinds_with_bias - 1);
  for (const Kind kind : all_kinds) {
    for (int trial = 0; trial < 6; ++trial) {
      const Index tq = tqs[pick_tq(rng)];
      const Index tk = tks[pick_tk(rng)];
      const int mk = pick_mask(rng);
      const Problem<S> p = make_problem<S>(rng, kind, tq, tk, wide_dims);
      const Mask mask = random_mask(rng, tq, tk, mk);
      attn::Options options;
      options.softcap = trial % 2 == 0 ? 0.5 : 3.0;
      if (kind == Kind::sdpa) options.scale = p.scale;
      INFO(describe(kind, Probability::softmax, tq, tk, mk, p) << ", softcap " << *options.softcap);
      const attn::AttentionResult<S> full = call(p, mask, options);
      attn::Options with_scores = options;
      with_scores.return_scores = true;
      attn::Options uncapped = with_scores;
      uncapped.softcap.reset();
      CHECK_FALSE(same_bits(call(p, mask, with_scores).scores, call(p, mask, uncapped).scores));  // the cap is applied
      CHECK(same_bits(call_sinks(p, attn::Sinks<S>(attn::no_weights), mask, options).output, full.output));
      Matrix<S> kept(tq, tk);
      attn::FullWeights<S> whole(kept);
      attn::ColumnSums<S> sums;
      CHECK(same_bits(call_sinks(p, attn::Sinks<S>(whole, sums), mask, options).output, full.output));
      CHECK(same_bits(kept, full.weights));
      // The memory: n visible keys, the full call under key_length(n).
      const Index n = std::uniform_int_distribution<Index>(0, tk)(rng);
      const attn::AttentionResult<S> padded = call(p, Mask::key_length(n), options);
      const attn::Memory<S> memory = memory_of(p, n).with_softcap(options.softcap);
      attn::Workspace<S> ws;
      Matrix<S> context(tq, p.v.cols());
      Matrix<S> alignment(tq, tk);
      attn::attend_into(memory, p.q, context, alignment, ws);
      check_step_is_call(alignment, context, padded);
      // A step of the last row alone (the one-row kernels) against the call of that row alone.
      Problem<S> one = p;
      one.q = p.q.bottomRows(1);
      const attn::AttentionResult<S> single = call(one, Mask::key_length(n), with_scores);
      Matrix<S> row_context(1, p.v.cols());
      Matrix<S> row_alignment(1, tk);
      attn::attend_into(memory, one.q, row_context, row_alignment, ws);
      CHECK(same_bits(row_alignment, single.weights));
      CHECK(same_bits(row_context, single.output));
      // The workspace keeps the step's capped energies, the call's returned scores, and -inf on
      // the padding (as without a cap).
      CHECK(same_bits(ws.scores().leftCols(n), single.scores.leftCols(n)));
      CHECK((ws.scores().rightCols(tk - n).array() == -std::numeric_limits<S>::infinity()).all());
    }
  }
}

TEMPLATE_TEST_CASE("options.alibi adds slope·(j − i − offset) after the scale and the softcap, before the mask's bias, "
                   "as the plain-loop reference, and every form gives the same bits",
                   "[mechanism][reference][alibi]", float, double) {
  std::mt19937_64 rng(53);
  std::uniform_real_distribution<double> slope(-1.0, 1.0);
  std::uniform_int_distribution<Index> offset(-3, 5);
  std::bernoulli_distribution coin(0.5);
  for_each_problem<TestType>(rng, [&](const Problem<TestType>& p, const Mask& mask, const BoolMatrix& visible, int mk) {
    const Index tq = p.q.rows(), tk = p.k.rows();
    const attn::Alibi alibi{slope(rng), offset(rng)};
    const std::optional<double> cap = coin(rng) ? std::optional<double>(1.5) : std::nullopt;
    attn::Options options;
    options.return_scores = true;
    options.alibi = alibi;
    options.softcap = cap;
    const auto r = call(p, mask, options);

    MatrixD scores = reference_scores(to_double(p));
    if (cap) scores = scores.unaryExpr([c = *cap](double e) { return c * std::tanh(e / c); });
    MatrixD biased = scores;
    for (Index i = 0; i < tq; ++i)
      for (Index j = 0; j < tk; ++j) biased(i, j) += alibi.slope * static_cast<double>(j - i - alibi.offset);
    if (mask.bias()) biased += *mask.bias();
    const MatrixD weights = attn_test::reference_probability(biased, visible, Probability::softmax);
    INFO(describe(p.kind, Probability::softmax, tq, tk, mk, p) << ", slope " << alibi.slope << ", offset "
                                                             << alibi.offset << (cap ? ", softcap 1.5" : ""));
    ATTN_CHECK_CLOSE(r.scores, scores, tol<TestType>());  // without the bias, as a mask's
    ATTN_CHECK_CLOSE(r.weights, weights, tol<TestType>());
    ATTN_CHECK_CLOSE(r.output, attn_test::reference_output(weights, to_double(p).v, visible), tol<TestType>());
    // Output only and sinks: the same bits.
    options.return_scores = false;
    CHECK(same_bits(call_sinks(p, attn::Sinks<TestType>(attn::no_weights), mask, options).output, r.output));
    Matrix<TestType> kept(tq, tk);
    attn::FullWeights<TestType> whole(kept);
    CHECK(same_bits(call_sinks(p, attn::Sinks<TestType>(whole), mask, options).output, r.output));
    CHECK(same_bits(kept, r.weights));
  });
}

TEMPLATE_TEST_CASE("options.alibi: the bias is 0 at the query's position, so float keeps its precision far from key 0",
                   "[mechanism][alibi]", float, double) {
  // The weights do not depend on the offset in exact arithmetic (a constant per row), but float
  // rounds `slope·(j − i − offset)` where it is large: a query at position 4095 of 4096 keys, slope
  // 0.7, biased from its own position, gets e^(−0.7·d) / Σ for the key d positions back (the
  // scores are 0), to float's precision; biased from far away (an offset of the wrong sign) the
  // biases near it would be about 5700, whose float ulp is 2^−10.
  using S = TestType;
  const Index tk = 4096;
  const Matrix<S> q = Matrix<S>::Zero(1, 8);
  const Matrix<S> k = Matrix<S>::Zero(tk, 8);
  Matrix<S> v = Matrix<S>::Zero(tk, 1);
  v(tk - 2, 0) = 1;  // the output is the weight of the key one position back
  attn::Options options;
  options.alibi = attn::Alibi{0.7, tk - 1};
  const auto r = attn::scaled_dot_product(q, k, v, Mask::causal(tk - 1), options);
  double sum = 0;
  for (Index d = 0; d < tk; ++d) sum += std::exp(-0.7 * static_cast<double>(d));
  for (Index d = 0; d < 20; ++d)
    CHECK(attn_test::close(r.weights(0, tk - 1 - d), std::exp(-0.7 * static_cast<double>(d)) / sum, tol<S>()));
  CHECK(attn_test::close(r.output(0, 0), std::exp(-0.7) / sum, tol<S>()));
}

TEMPLATE_TEST_CASE("options.softcap: a cap that is not positive and finite is refused, naming the call and the option",
                   "[mechanism][errors][softcap]", float, double) {
  using S = TestType;
  using attn_test::message_of;
  std::mt19937_64 rng(47);
  const Matrix<S> q = attn_test::random_matrix<S>(rng, 3, 4);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, 5, 4);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (const double bad : {0.0, -1.0, nan, inf, -inf}) {
    INFO("softcap " << bad);
    attn::Options options;
    options.softcap = bad;
    const std::string sdpa = message_of<attn::invalid_argument>([&] { attn::scaled_dot_product(q, k, k, Mask(), options); });
    CHECK(sdpa.find("attn::scaled_dot_product: options.softcap (") == 0);
    CHECK(sdpa.find("must be positive and finite; leave it unset for no capping") != std::string::npos);
    CHECK(message_of<attn::invalid_argument>([&] {
            attn::scaled_dot_product(q, k, k, attn::Sinks<S>(attn::no_weights), Mask(), options);
          }).find("options.softcap") != std::string::npos);
    CHECK(message_of<attn::invalid_argument>([&] { attn::luong(q, k, k, {}, Mask(), options); })
              .find("attn::luong: options.softcap") == 0);
    attn::BahdanauParams<S> b;
    b.wq = attn_test::random_matrix<S>(rng, 4, 3);
    b.wk = attn_test::random_matrix<S>(rng, 4, 3);
    b.v = attn_test::random_matrix<S>(rng, 1, 3);
    CHECK(message_of<attn::invalid_argument>([&] { attn::bahdanau(q, k, k, b, Mask(), options); })
              .find("attn::bahdanau: options.softcap") == 0);
    auto memory = attn::prepare_memory(k, k, attn::ScaledDotProductParams());
    CHECK(message_of<attn::invalid_argument>([&] { memory.with_softcap(bad); })
              .find("attn::Memory::with_softcap: softcap (") == 0);
    CHECK_FALSE(memory.softcap());  // unchanged
  }
  // A cap float cannot hold, or whose reciprocal it cannot: double takes it.
  for (const double edge : {1e39, 1e-39}) {
    attn::Options options;
    options.softcap = edge;
    if (std::is_same<S, float>::value) {
      CHECK(message_of<attn::invalid_argument>([&] { attn::scaled_dot_product(q, k, k, Mask(), options); })
                .find("is out of float's range (it and 1/softcap must be finite)") != std::string::npos);
    } else {
      CHECK(attn::scaled_dot_product(q, k, k, Mask(), options).weights.allFinite());
    }
  }
  // A monotonic memory takes no cap, in either order.
  auto capped = attn::prepare_memory(k, k, attn::ScaledDotProductParams()).with_softcap(2.0);
  CHECK(*capped.softcap() == 2.0);
  CHECK(message_of<attn::invalid_argument>([&] { capped.with_monotonic(); })
            == "attn::Memory::with_monotonic: the memory has a softcap (2), which monotonic attention does not take "
               "(its energies go through a sigmoid); call with_softcap(std::nullopt) first");
  CHECK_FALSE(capped.is_monotonic());
  auto monotonic = attn::prepare_memory(k, k, attn::ScaledDotProductParams()).with_monotonic();
  CHECK(message_of<attn::invalid_argument>([&] { monotonic.with_softcap(2.0); })
            == "attn::Memory::with_softcap: a monotonic memory takes no softcap (its energies go through a sigmoid); "
               "call with_probability first");
  CHECK_FALSE(monotonic.with_softcap(std::nullopt).softcap());
  // ALiBi: a slope must be finite.
  attn::Options bent;
  bent.alibi = attn::Alibi{std::numeric_limits<double>::infinity(), 0};
  CHECK(message_of<attn::invalid_argument>([&] { attn::scaled_dot_product(q, k, k, Mask(), bent); }) ==
        "attn::scaled_dot_product: options.alibi.slope (inf) must be finite");
  CHECK(message_of<attn::invalid_argument>([&] { attn::luong(q, k, k, {}, Mask(), bent); }) ==
        "attn::luong: options.alibi.slope (inf) must be finite");
}

}  // namespace test_properties
