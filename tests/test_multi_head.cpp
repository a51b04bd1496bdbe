// SPDX-License-Identifier: MIT
// Tests of attn/multi_head.hpp: parity with torch.nn.MultiheadAttention (float64 fixtures made
// by tests/fixtures/make_multi_head_fixtures.py), a plain-loop reference under every mask kind,
// one head == scaled_dot_product, batch == per-item calls, head reductions, fully masked rows,
// the torch loaders and every error message.
#include "helpers.hpp"

#include <attn/multi_head.hpp>

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <locale>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#ifndef ATTN_FIXTURE_DIR
#define ATTN_FIXTURE_DIR "tests/fixtures"
#endif

#define CHECK_THROWS_ATTN(expr, message) \
  CHECK_THROWS_MATCHES(expr, attn::invalid_argument, Catch::Matchers::Message(message))

// Everything in this file lives in namespace test_multi_head: the suite is a unity build.
namespace test_multi_head {

namespace {

using attn::Index;
using MatrixD = Eigen::MatrixXd;
template <typename Scalar>
using Mat = attn::Matrix<Scalar>;

// --- fixture reader (the text format of make_multi_head_fixtures.py) -------------------------

struct Fixture {
  std::string name;
  std::map<std::string, long> ints;
  std::map<std::string, std::string> strs;
  std::map<std::string, MatrixD> mats;

  long integer(const std::string& key) const {
    const auto it = ints.find(key);
    INFO(name << ": int " << key);
    REQUIRE(it != ints.end());
    return it->second;
  }
  const std::string& str(const std::string& key) const {
    const auto it = strs.find(key);
    INFO(name << ": str " << key);
    REQUIRE(it != strs.end());
    return it->second;
  }
  bool has(const std::string& key) const { return mats.count(key) != 0; }
  const MatrixD& matrix(const std::string& key) const {
    const auto it = mats.find(key);
    INFO(name << ": matrix " << key);
    REQUIRE(it != mats.end());
    return it->second;
  }
};

// `dir`: multi_head (torch's module, make_multi_head_fixtures.py) or keras_mha (Keras' layer,
// make_keras_mha_fixtures.py), both in this format.
std::string fixture_path(const std::string& file, const std::string& dir = "multi_head") {
  return std::string(ATTN_FIXTURE_DIR) + "/" + dir + "/" + file;
}

Fixture read_fixture(const std::string& name, const std::string& dir = "multi_head") {
  Fixture f;
  f.name = name;
  std::ifstream in(fixture_path(name + ".txt", dir));
  in.imbue(std::locale::classic());
  INFO("reading " << fixture_path(name + ".txt", dir));
  REQUIRE(in.is_open());
  std::string kind;
  while (in >> kind) {
    if (kind[0] == '#') {
      std::string rest;
      std::getline(in, rest);
    } else if (kind == "int") {
      std::string key;
      long value = 0;
      in >> key >> value;
      f.ints[key] = value;
    } else if (kind == "str") {
      std::string key, value;
      in >> key >> value;
      f.strs[key] = value;
    } else if (kind == "matrix") {
      std::string key;
      Index rows = 0, cols = 0;
      in >> key >> rows >> cols;
      MatrixD m(rows, cols);
      for (Index i = 0; i < rows; ++i)
        for (Index j = 0; j < cols; ++j) in >> m(i, j);
      f.mats[key] = m;
    } else {
      FAIL("unknown record '" << kind << "' in " << name);
    }
    REQUIRE(!in.fail());
  }
  return f;
}

std::vector<std::string> fixture_cases(const std::string& dir = "multi_head") {
  std::ifstream in(fixture_path("cases.txt", dir));
  INFO("reading " << fixture_path("cases.txt", dir));
  REQUIRE(in.is_open());
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) names.push_back(line);
  return names;
}

// --- a plain-loop float64 multi-head reference, independent of the library ------------------

struct RefParams {
  MatrixD wq, wk, wv, wo;
  MatrixD bq, bk, bv, bo;  // 1×D or 0×0
  Index heads = 1;
  MatrixD bias_k, bias_v;  // torch's add_bias_kv: 1×D each, or 0×0
  bool zero_attn = false;  // torch's add_zero_attn
};

struct RefResult {
  MatrixD output;
  std::vector<MatrixD> weights;
  std::vector<MatrixD> scores;
  std::vector<bool> fully_masked;
};

MatrixD ref_linear(const MatrixD& x, const MatrixD& w, const MatrixD& b) {
  MatrixD y(x.rows(), w.cols());
  for (Index i = 0; i < x.rows(); ++i)
    for (Index c = 0; c < w.cols(); ++c) {
      double acc = b.size() ? b(0, c) : 0.0;
      for (Index r = 0; r < x.cols(); ++r) acc += x(i, r) * w(r, c);
      y(i, c) = acc;
    }
  return y;
}

RefResult reference_multi_head(const MatrixD& q, const MatrixD& k, const MatrixD& v, const RefParams& p,
                               const attn::Mask& mask, attn::Probability prob = attn::Probability::softmax,
                               double scale = -1, const std::vector<MatrixD>& biases = {}) {
  const Index d = p.wq.cols();
  const Index dh = d / p.heads;
  const MatrixD qp = ref_linear(q, p.wq, p.bq);
  // torch's add_bias_kv and add_zero_attn: rows bias_k (bias_v), then zeros, after the Tk keys
  // (values), each visible to every query with no score bias.
  const Index extra = (p.bias_k.size() != 0 ? 1 : 0) + (p.zero_attn ? 1 : 0);
  const Index tk = k.rows() + extra;
  MatrixD kp = MatrixD::Zero(tk, d);
  MatrixD vp = MatrixD::Zero(tk, d);
  kp.topRows(k.rows()) = ref_linear(k, p.wk, p.bk);
  vp.topRows(k.rows()) = ref_linear(v, p.wv, p.bv);
  if (p.bias_k.size() != 0) {
    kp.row(k.rows()) = p.bias_k;
    vp.row(k.rows()) = p.bias_v;
  }
  MatrixD concat(q.rows(), d);
  RefResult r;
  std::vector<bool> sees(static_cast<std::size_t>(q.rows()), false);  // some key in some head
  for (Index h = 0; h < p.heads; ++h) {
    // A per-head mask (Mask::per_head): head h's own visibility; `biases`: none, or head h's score bias.
    attn::BoolMatrix visible = attn::BoolMatrix::Constant(q.rows(), tk, true);
    visible.leftCols(k.rows()) = attn_test::dense_mask(mask.head(h), q.rows(), k.rows());
    MatrixD score_bias = MatrixD::Zero(q.rows(), tk);
    if (!biases.empty()) score_bias.leftCols(k.rows()) = biases[static_cast<std::size_t>(h)];
    for (Index i = 0; i < q.rows(); ++i)
      if (visible.cols() > 0 && visible.row(i).any()) sees[static_cast<std::size_t>(i)] = true;
    const MatrixD qh = qp.middleCols(h * dh, dh);
    const MatrixD kh = kp.middleCols(h * dh, dh);
    const MatrixD vh = vp.middleCols(h * dh, dh);
    const double s = scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(dh));
    const MatrixD e = attn_test::reference_dot_scores(qh, kh, s);
    const MatrixD w = attn_test::reference_probability(MatrixD(e + score_bias), visible, prob);
    concat.middleCols(h * dh, dh) = attn_test::reference_output(w, vh, visible);
    r.weights.push_back(w);
    r.scores.push_back(e);
  }
  r.output = ref_linear(concat, p.wo, p.bo);
  // (Without keys every row is fully masked; no row is taken of a matrix without storage.)
  for (Index i = 0; i < q.rows(); ++i) r.fully_masked.push_back(!sees[static_cast<std::size_t>(i)]);
  return r;
}

template <typename Scalar>
attn::MultiHeadParams<Scalar> to_params(const RefParams& r) {
  attn::MultiHeadParams<Scalar> p;
  p.wq = r.wq.cast<Scalar>();
  p.wk = r.wk.cast<Scalar>();
  p.wv = r.wv.cast<Scalar>();
  p.wo = r.wo.cast<Scalar>();
  if (r.bq.size() != 0) p.bq = r.bq.cast<Scalar>();
  if (r.bk.size() != 0) p.bk = r.bk.cast<Scalar>();
  if (r.bv.size() != 0) p.bv = r.bv.cast<Scalar>();
  if (r.bo.size() != 0) p.bo = r.bo.cast<Scalar>();
  p.heads = r.heads;
  if (r.bias_k.size() != 0) {
    p.bias_k = r.bias_k.cast<Scalar>();
    p.bias_v = r.bias_v.cast<Scalar>();
  }
  p.add_zero_attn = r.zero_attn;
  return p;
}

/// Random Scalar-representable values (so the float64 reference sees the same inputs).
template <typename Scalar>
MatrixD rounded(std::mt19937_64& rng, Index rows, Index cols, double lo = -1.0, double hi = 1.0) {
  return attn_test::random_matrix<Scalar>(rng, rows, cols, lo, hi).template cast<double>();
}

template <typename Scalar>
RefParams random_params(std::mt19937_64& rng, Index heads, Index d, Index dq, Index dk, Index dv, bool bias) {
  RefParams p;
  p.heads = heads;
  p.wq = rounded<Scalar>(rng, dq, d);
  p.wk = rounded<Scalar>(rng, dk, d);
  p.wv = rounded<Scalar>(rng, dv, d);
  p.wo = rounded<Scalar>(rng, d, d);
  if (bias) {
    p.bq = rounded<Scalar>(rng, 1, d);
    p.bk = rounded<Scalar>(rng, 1, d);
    p.bv = rounded<Scalar>(rng, 1, d);
    p.bo = rounded<Scalar>(rng, 1, d);
  }
  return p;
}

template <typename Scalar>
attn::Mask random_mask(std::mt19937_64& rng, Index tq, Index tk) {
  std::uniform_int_distribution<int> kind(0, 6);
  std::uniform_int_distribution<Index> length(0, tk);
  std::uniform_int_distribution<Index> offset(-2, 2);
  std::uniform_int_distribution<Index> width(0, 2);
  std::bernoulli_distribution coin(0.6);
  attn::BoolMatrix m(tq, tk);
  for (Index i = 0; i < tq; ++i)
    for (Index j = 0; j < tk; ++j) m(i, j) = coin(rng);
  switch (kind(rng)) {
    case 0: return attn::Mask();
    case 1: return attn::Mask::key_length(length(rng));
    case 2: return attn::Mask::causal(offset(rng));
    case 3: return attn::Mask::window(width(rng), width(rng));
    case 4: return attn::Mask::matrix(m);
    case 5: return attn::Mask::causal(offset(rng)) & attn::Mask::key_length(length(rng));
    default: return attn::Mask::window(width(rng), width(rng)) & attn::Mask::matrix(m);
  }
}

/// A random multi-head problem of the plain-loop tests: h in [1, 4] heads of width in
/// [1, max_dim], Tq and Tk in [min_len, max_len], widths of q, k, v in [1, max_dim], biases or
/// not; inputs Scalar-representable in [-2, 2].
struct RandomCase {
  Index h = 0, d = 0, tq = 0, tk = 0;
  RefParams rp;
  MatrixD q, k, v;
};

template <typename Scalar>
RandomCase random_case(std::mt19937_64& rng, Index min_len, Index max_len, Index max_dim) {
  std::uniform_int_distribution<Index> len(min_len, max_len);
  std::uniform_int_distribution<Index> dim(1, max_dim);
  std::uniform_int_distribution<Index> heads(1, 4);
  std::bernoulli_distribution coin(0.5);
  RandomCase c;
  c.h = heads(rng);
  c.d = c.h * dim(rng);
  c.tq = len(rng);
  c.tk = len(rng);
  c.rp = random_params<Scalar>(rng, c.h, c.d, dim(rng), dim(rng), dim(rng), coin(rng));
  c.q = rounded<Scalar>(rng, c.tq, c.rp.wq.rows(), -2, 2);
  c.k = rounded<Scalar>(rng, c.tk, c.rp.wk.rows(), -2, 2);
  c.v = rounded<Scalar>(rng, c.tk, c.rp.wv.rows(), -2, 2);
  return c;
}

/// A random float mask as torch takes it (tq×tk): where seen (probability `p_seen`) a
/// float-exact bias in [-3, 3), elsewhere -inf; `bias` gets the bias where seen, 0 elsewhere
/// (the plain-loop reference's, never read where hidden).
template <typename Scalar>
attn::Mask random_float_mask(std::mt19937_64& rng, Index tq, Index tk, double p_seen, MatrixD& bias) {
  std::bernoulli_distribution seen(p_seen);
  std::uniform_real_distribution<double> value(-3.0, 3.0);
  MatrixD torch_mask(tq, tk);
  bias = MatrixD::Zero(tq, tk);
  for (Index j = 0; j < tk; ++j)
    for (Index i = 0; i < tq; ++i) {
      const bool visible = seen(rng);
      const double b = static_cast<double>(static_cast<float>(value(rng)));
      torch_mask(i, j) = visible ? b : -std::numeric_limits<double>::infinity();
      if (visible) bias(i, j) = b;
    }
  return attn::Mask::additive(torch_mask.cast<Scalar>());
}

/// A multi_head result against the plain-loop reference: output and every head's weights within
/// `tol`, the same fully masked rows.
template <typename Scalar>
void check_reference(const attn::MultiHeadResult<Scalar>& r, const RefResult& ref, double tol) {
  ATTN_CHECK_CLOSE(r.output, ref.output, tol);
  REQUIRE(r.weights.heads() == static_cast<Index>(ref.weights.size()));
  for (Index i = 0; i < r.weights.heads(); ++i)
    ATTN_CHECK_CLOSE(r.weights.head(i), ref.weights[static_cast<std::size_t>(i)], tol);
  REQUIRE(r.fully_masked.size() == static_cast<Index>(ref.fully_masked.size()));
  for (Index t = 0; t < r.fully_masked.size(); ++t)
    CHECK(r.fully_masked(t) == ref.fully_masked[static_cast<std::size_t>(t)]);
}

template <typename Derived>
bool bitwise_equal(const Eigen::MatrixBase<Derived>& a, const Eigen::MatrixBase<Derived>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Index j = 0; j < a.cols(); ++j)
    for (Index i = 0; i < a.rows(); ++i) {
      const auto x = a(i, j);
      const auto y = b(i, j);
      if (!(x == y || (std::isnan(x) && std::isnan(y)))) return false;
    }
  return true;
}

template <typename Scalar>
bool same_weights(const attn::HeadWeights<Scalar>& a, const attn::HeadWeights<Scalar>& b) {
  if (a.heads() != b.heads() || a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Index h = 0; h < a.heads(); ++h)
    if (!bitwise_equal(Mat<Scalar>(a.head(h)), Mat<Scalar>(b.head(h)))) return false;
  return true;
}

template <typename Scalar>
bool same_result(const attn::MultiHeadResult<Scalar>& a, const attn::MultiHeadResult<Scalar>& b) {
  return bitwise_equal(a.output, b.output) && same_weights(a.weights, b.weights) &&
         (a.fully_masked == b.fully_masked).all();
}

/// Worst errors seen against torch, printed when ATTN_REPORT_PARITY is set.
struct ErrorTally {
  double max_abs = 0;
  double max_rel = 0;  // |a - e| / |e| over |e| >= 1e-3
  template <typename DA, typename DE>
  void add(const Eigen::MatrixBase<DA>& actual, const Eigen::MatrixBase<DE>& expected) {
    for (Index j = 0; j < expected.cols(); ++j)
      for (Index i = 0; i < expected.rows(); ++i) {
        const double e = static_cast<double>(expected(i, j));
        const double diff = std::abs(static_cast<double>(actual(i, j)) - e);
        max_abs = std::max(max_abs, diff);
        if (std::abs(e) >= 1e-3) max_rel = std::max(max_rel, diff / std::abs(e));
      }
  }
};

template <typename Scalar>
attn::Mask fixture_mask(const Fixture& f, Index b) {
  const std::string& kind = f.str("mask");
  const Index a = f.integer("mask_a");
  const Index c = f.integer("mask_b");
  attn::Mask mask;
  if (kind == "causal") {
    mask = attn::Mask::causal(a);
  } else if (kind == "window") {
    mask = attn::Mask::window(a, c);
  } else if (kind == "matrix") {
    mask = attn::Mask::matrix(f.matrix("visible").array() != 0.0);
  } else if (kind == "additive") {
    // torch's float attn_mask as the script gave it to torch: the bias, -inf where hidden.
    const MatrixD bias = (f.matrix("visible").array() != 0.0)
                             .select(f.matrix("bias_mask"), -std::numeric_limits<double>::infinity());
    mask = attn::Mask::additive(bias.cast<Scalar>());
  } else if (kind == "additive_heads") {
    // torch's 3-D float attn_mask: item b's head i at b·h + i, each its bias and -inf.
    const Index h = f.integer("heads");
    std::vector<attn::Mask> heads;
    for (Index i = 0; i < h; ++i) {
      const std::string n = "." + std::to_string(b * h + i);
      const MatrixD bias = (f.matrix("visible" + n).array() != 0.0)
                               .select(f.matrix("bias_mask" + n), -std::numeric_limits<double>::infinity());
      heads.push_back(attn::Mask::additive(bias.cast<Scalar>()));
    }
    mask = attn::Mask::per_head(std::move(heads));
  } else {
    REQUIRE(kind == "none");
  }
  if (f.has("lengths")) mask &= attn::Mask::key_length(static_cast<Index>(f.matrix("lengths")(0, b)));
  return mask;
}

/// Keys torch appended after the Tk keys in a fixture (add_bias_kv, add_zero_attn): 0 to 2.
Index appended_keys(const Fixture& f) {
  if (f.ints.count("bias_kv") == 0) return 0;
  return f.integer("bias_kv") + f.integer("zero_attn");
}

template <typename Scalar>
attn::MultiHeadParams<Scalar> fixture_params(const Fixture& f) {
  const Index heads = f.integer("heads");
  const bool bias = f.integer("bias") != 0;
  const Mat<Scalar> none;
  const Mat<Scalar> in_bias = bias ? Mat<Scalar>(f.matrix("in_proj_bias").cast<Scalar>()) : none;
  const Mat<Scalar> out_bias = bias ? Mat<Scalar>(f.matrix("out_proj_bias").cast<Scalar>()) : none;
  auto p = f.integer("separate") != 0
               ? attn::MultiHeadParams<Scalar>::from_torch_separate(
                     f.matrix("q_proj_weight").cast<Scalar>(), f.matrix("k_proj_weight").cast<Scalar>(),
                     f.matrix("v_proj_weight").cast<Scalar>(), in_bias, f.matrix("out_proj_weight").cast<Scalar>(),
                     out_bias, heads)
               : attn::MultiHeadParams<Scalar>::from_torch(f.matrix("in_proj_weight").cast<Scalar>(), in_bias,
                                                           f.matrix("out_proj_weight").cast<Scalar>(), out_bias, heads);
  // torch's add_bias_kv and add_zero_attn, as docs/03 says to set them.
  if (appended_keys(f) > 0) {
    if (f.integer("bias_kv") != 0) {
      p.bias_k = f.matrix("bias_k").cast<Scalar>();
      p.bias_v = f.matrix("bias_v").cast<Scalar>();
    }
    p.add_zero_attn = f.integer("zero_attn") != 0;
  }
  return p;
}

}  // namespace

// --- parity with torch -----------------------------------------------------------------------

TEMPLATE_TEST_CASE("multi_head matches torch.nn.MultiheadAttention (float64 fixtures)", "[multi_head][parity]", float,
                   double) {
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  const std::vector<std::string> cases = fixture_cases();
  REQUIRE(cases.size() >= 10);
  ErrorTally out_err, w_err, mean_err;
  std::vector<Index> heads_seen;

  for (const std::string& name : cases) {
    INFO("case " << name);
    const Fixture f = read_fixture(name);
    const auto params = fixture_params<Scalar>(f);
    const Index batch = f.integer("batch");
    const Index h = params.heads;
    heads_seen.push_back(h);
    const bool self = f.integer("self") != 0;

    std::vector<Mat<Scalar>> qs, ks, vs;
    std::vector<attn::Mask> masks;
    for (Index b = 0; b < batch; ++b) {
      const std::string s = "." + std::to_string(b);
      qs.push_back(f.matrix("q" + s).cast<Scalar>());
      ks.push_back(self ? qs.back() : Mat<Scalar>(f.matrix("k" + s).cast<Scalar>()));
      vs.push_back(self ? qs.back() : Mat<Scalar>(f.matrix("v" + s).cast<Scalar>()));
      masks.push_back(fixture_mask<Scalar>(f, b));
    }
    const auto batched = attn::multi_head_batch(qs, ks, vs, params, masks);
    REQUIRE(static_cast<Index>(batched.size()) == batch);

    for (Index b = 0; b < batch; ++b) {
      INFO("item " << b);
      const std::string s = "." + std::to_string(b);
      const Index tq = qs[static_cast<std::size_t>(b)].rows();
      const MatrixD& expected_w = f.matrix("weights" + s);
      const auto r = attn::multi_head(qs[static_cast<std::size_t>(b)], ks[static_cast<std::size_t>(b)],
                                      vs[static_cast<std::size_t>(b)], params, masks[static_cast<std::size_t>(b)]);
      ATTN_CHECK_CLOSE(r.output, f.matrix("output" + s), tol);
      out_err.add(r.output, f.matrix("output" + s));
      REQUIRE(r.weights.heads() == h);
      for (Index i = 0; i < h; ++i) {
        INFO("head " << i);
        ATTN_CHECK_CLOSE(r.weights.head(i), expected_w.middleRows(i * tq, tq), tol);
        w_err.add(r.weights.head(i), expected_w.middleRows(i * tq, tq));
      }
      ATTN_CHECK_CLOSE(r.weights.mean(), f.matrix("mean_weights" + s), tol);
      mean_err.add(r.weights.mean(), f.matrix("mean_weights" + s));
      CHECK(r.num_fully_masked() == 0);

      // The batch call computes exactly what the per-item call does.
      CHECK(same_result(batched[static_cast<std::size_t>(b)], r));

      // Ragged form: the keys cut to their length, no length mask, gives torch's numbers too
      // (torch's appended keys, after the Tk keys there, come right after the n keys here).
      if (f.has("lengths") && (f.str("mask") == "none" || f.str("mask") == "causal")) {
        const auto n = static_cast<Index>(f.matrix("lengths")(0, b));
        const Index e = appended_keys(f);
        attn::Mask band;
        if (f.str("mask") == "causal") band = attn::Mask::causal(f.integer("mask_a"));
        const auto cut = attn::multi_head(qs[static_cast<std::size_t>(b)],
                                          ks[static_cast<std::size_t>(b)].topRows(n),
                                          vs[static_cast<std::size_t>(b)].topRows(n), params, band);
        ATTN_CHECK_CLOSE(cut.output, f.matrix("output" + s), tol);
        REQUIRE(cut.weights.cols() == n + e);
        for (Index i = 0; i < h; ++i) {
          ATTN_CHECK_CLOSE(cut.weights.head(i).leftCols(n), expected_w.block(i * tq, 0, tq, n), tol);
          ATTN_CHECK_CLOSE(cut.weights.head(i).rightCols(e), expected_w.middleRows(i * tq, tq).rightCols(e), tol);
        }
      }
    }
  }
  for (Index h : {1, 2, 4, 8}) CHECK(std::count(heads_seen.begin(), heads_seen.end(), h) > 0);

  if (std::getenv("ATTN_REPORT_PARITY") != nullptr) {
    std::printf("multi_head vs torch (%s): output max abs %.3g rel %.3g; per-head weights max abs %.3g rel %.3g; "
                "mean weights max abs %.3g rel %.3g\n",
                std::is_same<Scalar, float>::value ? "float" : "double", out_err.max_abs, out_err.max_rel,
                w_err.max_abs, w_err.max_rel, mean_err.max_abs, mean_err.max_rel);
  }
}

TEMPLATE_TEST_CASE("multi_head: masked key and value rows never reach the result, even NaN",
                   "[multi_head][parity][nan]", float, double) {
  using Scalar = TestType;
  const Fixture f = read_fixture("h8_self_bias_causal_padding");
  const auto params = fixture_params<Scalar>(f);
  const Mat<Scalar> q = f.matrix("q.1").cast<Scalar>();
  const auto n = static_cast<Index>(f.matrix("lengths")(0, 1));
  REQUIRE(n < q.rows());
  const attn::Mask mask = fixture_mask<Scalar>(f, 1);
  Mat<Scalar> kv = q;
  kv.bottomRows(q.rows() - n).setConstant(std::numeric_limits<Scalar>::quiet_NaN());
  const auto clean = attn::multi_head(q, q, q, params, mask);
  const auto dirty = attn::multi_head(q, kv, kv, params, mask);
  CHECK(same_result(dirty, clean));
  ATTN_CHECK_CLOSE(dirty.output, f.matrix("output.1"), attn_test::tolerance<Scalar>());

  // Inf in a value row hidden by the causal mask only (not a padding prefix): only the last
  // query sees it.
  Mat<Scalar> v = q;
  const Index last = q.rows() - 1;
  v.row(last).setConstant(std::numeric_limits<Scalar>::infinity());
  const auto causal = attn::multi_head(q, q, v, params, attn::Mask::causal());
  const auto finite = attn::multi_head(q, q, q, params, attn::Mask::causal());
  ATTN_CHECK_CLOSE(causal.output.topRows(last), finite.output.topRows(last), attn_test::tolerance<Scalar>());
  CHECK(!causal.output.row(last).allFinite());
}

// --- plain-loop reference, every mask kind, every probability -------------------------------------

TEMPLATE_TEST_CASE("multi_head matches a plain-loop reference under random shapes and masks",
                   "[multi_head][reference][property]", float, double) {
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  std::mt19937_64 rng(20240531);
  const attn::Probability probs[] = {attn::Probability::softmax, attn::Probability::sparsemax,
                                     attn::Probability::hardmax};
  Index fully_masked_rows = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const RandomCase c = random_case<Scalar>(rng, 0, 7, 5);
    const auto& [h, d, tq, tk, rp, q, k, v] = c;
    const attn::Mask mask = random_mask<Scalar>(rng, tq, tk);
    // Hardmax in float could pick another of two nearly equal maxima than float64 does.
    const attn::Probability prob = probs[trial % (std::is_same<Scalar, float>::value ? 2 : 3)];
    attn::Options options;
    options.probability = prob;
    options.return_scores = trial % 4 == 0;
    INFO("trial " << trial << ": h " << h << ", D " << d << ", Tq " << tq << ", Tk " << tk);

    const auto params = to_params<Scalar>(rp);
    const RefResult ref = reference_multi_head(q, k, v, rp, mask, prob);
    const auto r = attn::multi_head(q.cast<Scalar>(), k.cast<Scalar>(), v.cast<Scalar>(), params, mask, options);
    check_reference(r, ref, tol);
    REQUIRE(r.weights.heads() == h);
    for (Index i = 0; i < h && options.return_scores; ++i)
      ATTN_CHECK_CLOSE(r.scores.head(i), ref.scores[static_cast<std::size_t>(i)], tol);
    if (!options.return_scores) CHECK(r.scores.size() == 0);
    REQUIRE(r.fully_masked.size() == tq);
    for (Index i = 0; i < tq; ++i) {
      if (!r.fully_masked(i)) continue;
      ++fully_masked_rows;
      // Documented semantics: zero weights in every head, output row exactly bo (or 0).
      // (Without keys there is no weight to check, and no row is taken of a map without storage.)
      for (Index j = 0; j < h && tk > 0; ++j) CHECK((r.weights.head(j).row(i).array() == Scalar(0)).all());
      if (params.bo.size() != 0) {
        CHECK((r.output.row(i).array() == params.bo.array()).all());
      } else {
        CHECK((r.output.row(i).array() == Scalar(0)).all());
      }
    }
  }
  CHECK(fully_masked_rows > 0);
}

TEMPLATE_TEST_CASE("multi_head with a score bias (a float attn_mask) matches the plain-loop reference",
                   "[multi_head][reference][mask]", float, double) {
  // torch adds a 2-D float attn_mask to every head's scaled scores: softmax(q·kᵀ/√dh + bias).
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  std::mt19937_64 rng(20261205);
  std::bernoulli_distribution coin(0.5);
  const attn::Probability probs[] = {attn::Probability::softmax, attn::Probability::sparsemax,
                                     attn::Probability::hardmax};
  Index fully_masked_rows = 0;
  for (int trial = 0; trial < 120; ++trial) {
    const RandomCase c = random_case<Scalar>(rng, 1, 9, 5);
    const auto& [h, d, tq, tk, rp, q, k, v] = c;
    MatrixD bias;
    attn::Mask mask = random_float_mask<Scalar>(rng, tq, tk, 0.75, bias);
    if (coin(rng)) mask &= attn::Mask::causal(tk - tq);
    // Hardmax in float could pick another of two nearly equal maxima than float64 does.
    const attn::Probability prob = probs[trial % (std::is_same<Scalar, float>::value ? 2 : 3)];
    attn::Options options;
    options.probability = prob;
    INFO("trial " << trial << ": h " << h << ", D " << d << ", Tq " << tq << ", Tk " << tk);

    const auto params = to_params<Scalar>(rp);
    const RefResult ref =
        reference_multi_head(q, k, v, rp, mask, prob, -1, std::vector<MatrixD>(static_cast<std::size_t>(h), bias));
    const auto r = attn::multi_head(q.cast<Scalar>(), k.cast<Scalar>(), v.cast<Scalar>(), params, mask, options);
    check_reference(r, ref, tol);
    fully_masked_rows += r.num_fully_masked();
    // Output only gives the same bits.
    const attn::MultiHeadOutput<Scalar> none =
        attn::multi_head(q.cast<Scalar>(), k.cast<Scalar>(), v.cast<Scalar>(), params, attn::no_weights, mask, options);
    CHECK(bitwise_equal(none.output, r.output));
  }
  CHECK(fully_masked_rows > 0);
}

TEMPLATE_TEST_CASE("multi_head with a mask per head (Mask::per_head) matches the plain-loop reference",
                   "[multi_head][reference][mask]", float, double) {
  // Each head its own mask: band kinds, matrices, float masks with a bias (torch's 3-D attn_mask);
  // a query is fully masked only where no head lets it see a key.
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  std::mt19937_64 rng(20261206);
  std::bernoulli_distribution coin(0.5);
  Index partly_masked_rows = 0;  // hidden in some head, not in all
  for (int trial = 0; trial < 100; ++trial) {
    const RandomCase c = random_case<Scalar>(rng, 0, 8, 4);
    const auto& [h, d, tq, tk, rp, q, k, v] = c;
    std::vector<attn::Mask> heads;
    std::vector<MatrixD> biases(static_cast<std::size_t>(h), MatrixD::Zero(tq, tk));
    for (Index i = 0; i < h; ++i) {  // a float mask, or a band or matrix mask
      heads.push_back(coin(rng) ? random_float_mask<Scalar>(rng, tq, tk, 0.6, biases[static_cast<std::size_t>(i)])
                                : random_mask<Scalar>(rng, tq, tk));
    }
    attn::Mask mask = attn::Mask::per_head(heads);
    if (coin(rng)) mask &= attn::Mask::key_length(tk - tk / 3);  // a shared kind goes into every head
    attn::Options options;
    options.probability = trial % 2 ? attn::Probability::sparsemax : attn::Probability::softmax;
    INFO("trial " << trial << ": h " << h << ", D " << d << ", Tq " << tq << ", Tk " << tk);

    const auto params = to_params<Scalar>(rp);
    const RefResult ref = reference_multi_head(q, k, v, rp, mask, options.probability, -1, biases);
    // Stored inputs for every form (on oneDNN an expression's products take another path).
    const auto qs = q.cast<Scalar>().eval(), ks = k.cast<Scalar>().eval(), vs = v.cast<Scalar>().eval();
    const auto r = attn::multi_head(qs, ks, vs, params, mask, options);
    check_reference(r, ref, tol);
    REQUIRE(r.weights.heads() == h);
    for (Index t = 0; t < tq; ++t) {
      bool hidden_somewhere = false;
      for (Index i = 0; i < h && tk > 0; ++i) hidden_somewhere |= (r.weights.head(i).row(t).array() == Scalar(0)).all();
      if (hidden_somewhere && !r.fully_masked(t)) ++partly_masked_rows;
    }
    // Output only, sinks of the last head and a batch of two give the same bits and numbers.
    CHECK(bitwise_equal(attn::multi_head(qs, ks, vs, params, attn::no_weights, mask, options).output, r.output));
    attn::ColumnSums<Scalar> sums;
    const auto sunk = attn::multi_head(qs, ks, vs, params, attn::HeadSinks<Scalar>().head(h - 1, attn::Sinks<Scalar>(sums)), mask, options);
    CHECK(bitwise_equal(sunk.output, r.output));
    const attn::BoolMatrix last = attn_test::dense_mask(mask.head(h - 1), tq, tk);
    for (Index j = 0; j < tk; ++j) {
      CHECK(sums.counts()(j) == last.col(j).count());  // the queries head h - 1's own mask lets see key j
      CHECK(attn_test::close(static_cast<double>(sums.sums()(j)),
                             static_cast<double>(r.weights.head(h - 1).col(j).sum()), tol));
    }
    const std::vector<Mat<Scalar>> qb{qs, qs}, kb{ks, ks}, vb{vs, vs};
    const auto batch = attn::multi_head_batch(qb, kb, vb, params, {attn::Mask(), mask}, options);
    CHECK(same_result(batch[1], r));
  }
  CHECK(partly_masked_rows > 0);
}

TEST_CASE("Mask::per_head: refused where it cannot apply, with messages that say why", "[multi_head][mask][errors]") {
  std::mt19937_64 rng(3);
  const RefParams rp = random_params<double>(rng, 2, 4, 3, 3, 3, true);
  const auto params = to_params<double>(rp);
  const MatrixD q = rounded<double>(rng, 3, 3), k = rounded<double>(rng, 5, 3);
  CHECK_THROWS_WITH(attn::Mask::per_head({}), "attn::Mask::per_head: heads is empty; give one mask per head");
  const attn::Mask two = attn::Mask::per_head({attn::Mask::causal(), attn::Mask::key_length(2)});
  CHECK_THROWS_WITH(attn::Mask::per_head({two}),
                    "attn::Mask::per_head: heads[0] is itself a per-head mask; give each head one mask");
  const attn::Mask three = attn::Mask::per_head({attn::Mask(), attn::Mask(), attn::Mask()});
  CHECK_THROWS_WITH(attn::multi_head(q, k, k, params, three),
                    "attn::multi_head: the mask has 3 heads (Mask::per_head), the call 2");
  CHECK_THROWS_WITH(attn::multi_head(q, k, k, params, attn::Mask::per_head({attn::Mask(), attn::Mask::key_length(6)})),
                    "attn::multi_head: head 1: mask key length (6) exceeds the number of keys (5)");
  CHECK_THROWS_WITH(attn::scaled_dot_product(q, k, k, two),
                    "attn::scaled_dot_product: a per-head mask (Mask::per_head, 2 heads) applies to "
                    "attn::multi_head only; here pass one head's mask, mask.head(i)");
  CHECK_THROWS_WITH(two & three, "attn::Mask::operator&: per-head masks of 2 and 3 heads");
  // Intersections go head by head; a shared mask reaches every head, on either side.
  const attn::Mask both = attn::Mask::key_length(4) & two;
  REQUIRE(both.heads() == 2);
  CHECK(attn_test::dense_mask(both.head(0), 3, 5) == attn_test::dense_mask(attn::Mask::causal() & attn::Mask::key_length(4), 3, 5));
  CHECK(attn_test::dense_mask((two & attn::Mask::key_length(1)).head(1), 3, 5) ==
        attn_test::dense_mask(attn::Mask::key_length(1), 3, 5));
  CHECK(attn_test::dense_mask((two & two).head(0), 3, 5) == attn_test::dense_mask(attn::Mask::causal(), 3, 5));
  const attn::Mask shared = attn::Mask::causal();
  CHECK(&shared.head(1) == &shared);
  CHECK(shared.heads() == 0);
  CHECK_FALSE(two.is_all_visible());
}

TEMPLATE_TEST_CASE("multi_head with torch's add_bias_kv and add_zero_attn matches the plain-loop reference under "
                   "every kind of mask, in every form",
                   "[multi_head][reference][mask][bias_kv]", float, double) {
  // The appended keys (bias_k's, then the zero key) follow the Tk keys and are visible to every
  // query whatever the mask (torch pads attn_mask and key_padding_mask with a visible column), so
  // no row is fully masked; masks of every kind, shared, per head and with a score bias.
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  std::mt19937_64 rng(20261206);
  std::bernoulli_distribution coin(0.5);
  std::uniform_int_distribution<int> which(0, 2);
  Index hidden_rows = 0;  // rows the mask alone would hide: they see only the appended keys
  Index kinds[3] = {0, 0, 0};
  for (int trial = 0; trial < 150; ++trial) {
    RandomCase c = random_case<Scalar>(rng, 0, 7, 4);
    const int appended = which(rng);  // bias_kv, zero_attn or both
    if (appended != 1) {
      c.rp.bias_k = rounded<Scalar>(rng, 1, c.d, -2, 2);
      c.rp.bias_v = rounded<Scalar>(rng, 1, c.d, -2, 2);
    }
    c.rp.zero_attn = appended != 0;
    ++kinds[appended];
    const Index e = appended == 2 ? 2 : 1;
    const auto& [h, d, tq, tk, rp, q, k, v] = c;
    std::vector<MatrixD> biases;
    attn::Mask mask;
    switch (trial % 3) {
      case 0: mask = random_mask<Scalar>(rng, tq, tk); break;
      case 1: {
        MatrixD bias;
        mask = random_float_mask<Scalar>(rng, tq, tk, 0.6, bias);
        biases.assign(static_cast<std::size_t>(h), bias);
        break;
      }
      default: {
        std::vector<attn::Mask> heads;
        biases.assign(static_cast<std::size_t>(h), MatrixD::Zero(tq, tk));
        for (Index i = 0; i < h; ++i)
          heads.push_back(coin(rng) ? random_float_mask<Scalar>(rng, tq, tk, 0.6, biases[static_cast<std::size_t>(i)])
                                    : random_mask<Scalar>(rng, tq, tk));
        mask = attn::Mask::per_head(heads);
      }
    }
    attn::Options options;
    options.probability = trial % 2 ? attn::Probability::sparsemax : attn::Probability::softmax;
    options.return_scores = trial % 4 == 0;
    INFO("trial " << trial << ": h " << h << ", D " << d << ", Tq " << tq << ", Tk " << tk << ", appended " << e);

    const auto params = to_params<Scalar>(rp);
    REQUIRE(params.appended_keys() == e);
    const RefResult ref = reference_multi_head(q, k, v, rp, mask, options.probability, -1, biases);
    const auto qs = q.cast<Scalar>().eval(), ks = k.cast<Scalar>().eval(), vs = v.cast<Scalar>().eval();
    const auto r = attn::multi_head(qs, ks, vs, params, mask, options);
    check_reference(r, ref, tol);
    REQUIRE(r.weights.cols() == tk + e);
    CHECK(r.num_fully_masked() == 0);
    std::vector<attn::BoolMatrix> seen;  // each head's mask over the Tk keys
    for (Index i = 0; i < h; ++i) seen.push_back(attn_test::dense_mask(mask.head(i), tq, tk));
    for (Index t = 0; t < tq; ++t) {  // (no row is taken of a mask without keys: it has no storage)
      bool sees_some = false;
      for (Index i = 0; i < h && tk > 0; ++i) sees_some |= seen[static_cast<std::size_t>(i)].row(t).any();
      hidden_rows += sees_some ? 0 : 1;
    }
    if (options.return_scores) {
      REQUIRE(r.scores.cols() == tk + e);
      for (Index i = 0; i < h; ++i) ATTN_CHECK_CLOSE(r.scores.head(i), ref.scores[static_cast<std::size_t>(i)], tol);
    }
    // Output only, sinks (column sums of the last head, the mean over heads) and a batch of two
    // give the same bits; the sinks see Tk + e keys.
    CHECK(bitwise_equal(attn::multi_head(qs, ks, vs, params, attn::no_weights, mask, options).output, r.output));
    attn::ColumnSums<Scalar> sums;
    Mat<Scalar> mean(tq, tk + e);
    const auto sunk = attn::multi_head(
        qs, ks, vs, params,
        attn::HeadSinks<Scalar>().head(h - 1, attn::Sinks<Scalar>(sums)).reduce(attn::HeadReduction::mean, mean),
        mask, options);
    CHECK(bitwise_equal(sunk.output, r.output));
    CHECK(bitwise_equal(mean, Mat<Scalar>(r.weights.mean())));
    REQUIRE(sums.sums().size() == tk + e);
    for (Index j = 0; j < tk + e; ++j) {
      CHECK(sums.counts()(j) == (j < tk ? seen.back().col(j).count() : tq));
      CHECK(attn_test::close(static_cast<double>(sums.sums()(j)),
                             static_cast<double>(r.weights.head(h - 1).col(j).sum()), tol));
    }
    const std::vector<Mat<Scalar>> qb{qs, qs}, kb{ks, ks}, vb{vs, vs};
    const auto batch = attn::multi_head_batch(qb, kb, vb, params, {attn::Mask(), mask}, options);
    CHECK(same_result(batch[1], r));
    std::vector<attn::MultiHeadOutput<Scalar>> outputs;
    attn::MultiHeadWorkspace<Scalar> ws;
    attn::multi_head_batch_into(qb, kb, vb, params, outputs, attn::no_weights, ws, {mask, mask}, options);
    CHECK(bitwise_equal(outputs[0].output, r.output));
  }
  CHECK(hidden_rows > 0);
  for (const Index n : kinds) CHECK(n > 0);
}

TEMPLATE_TEST_CASE("multi_head: options.scale overrides 1/sqrt(D/h)", "[multi_head][reference]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(7);
  const RefParams rp = random_params<Scalar>(rng, 2, 6, 4, 5, 3, true);
  const MatrixD q = rounded<Scalar>(rng, 4, 4);
  const MatrixD k = rounded<Scalar>(rng, 5, 5);
  const MatrixD v = rounded<Scalar>(rng, 5, 3);
  attn::Options options;
  options.scale = 0.75;
  const auto r = attn::multi_head(q.cast<Scalar>(), k.cast<Scalar>(), v.cast<Scalar>(), to_params<Scalar>(rp),
                                  attn::Mask(), options);
  const RefResult ref = reference_multi_head(q, k, v, rp, attn::Mask(), attn::Probability::softmax, 0.75);
  ATTN_CHECK_CLOSE(r.output, ref.output, attn_test::tolerance<Scalar>());
  ATTN_CHECK_CLOSE(r.weights.head(1), ref.weights[1], attn_test::tolerance<Scalar>());
}

// --- one head == scaled dot-product ---------------------------------------------------------------

TEMPLATE_TEST_CASE("multi_head with one head and identity projections is scaled_dot_product",
                   "[multi_head][property]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 40; ++trial) {
    const Index d = 1 + trial % 6;
    const Index tq = trial % 5;
    const Index tk = (trial * 7) % 9;
    const Mat<Scalar> q = attn_test::random_matrix<Scalar>(rng, tq, d, -2, 2);
    const Mat<Scalar> k = attn_test::random_matrix<Scalar>(rng, tk, d, -2, 2);
    const Mat<Scalar> v = attn_test::random_matrix<Scalar>(rng, tk, d, -2, 2);
    attn::MultiHeadParams<Scalar> p;
    p.wq = p.wk = p.wv = p.wo = Mat<Scalar>::Identity(d, d);
    p.heads = 1;
    const attn::Mask mask = random_mask<Scalar>(rng, tq, tk);
    attn::Options options;
    options.probability = trial % 3 == 0 ? attn::Probability::sparsemax : attn::Probability::softmax;
    INFO("trial " << trial);
    const auto mh = attn::multi_head(q, k, v, p, mask, options);
    const auto sdpa = attn::scaled_dot_product(q, k, v, mask, options);
    // Products with the identity are exact, so the numbers are the same bit for bit.
    CHECK(bitwise_equal(mh.output, sdpa.output));
    CHECK(bitwise_equal(Mat<Scalar>(mh.weights.head(0)), sdpa.weights));
    CHECK((mh.fully_masked == sdpa.fully_masked).all());
  }
}

TEMPLATE_TEST_CASE("multi_head: each head is scaled_dot_product on its column block", "[multi_head][property]", float,
                   double) {
  using Scalar = TestType;
  std::mt19937_64 rng(12);
  const auto p = to_params<Scalar>(random_params<Scalar>(rng, 4, 8, 5, 6, 3, true));
  const Mat<Scalar> q = attn_test::random_matrix<Scalar>(rng, 5, 5);
  const Mat<Scalar> k = attn_test::random_matrix<Scalar>(rng, 7, 6);
  const Mat<Scalar> v = attn_test::random_matrix<Scalar>(rng, 7, 3);
  const attn::Mask mask = attn::Mask::window(1, 3) & attn::Mask::key_length(6);
  const auto r = attn::multi_head(q, k, v, p, mask);
  const Mat<Scalar> qp = (q * p.wq).rowwise() + p.bq;
  const Mat<Scalar> kp = (k * p.wk).rowwise() + p.bk;
  const Mat<Scalar> vp = (v * p.wv).rowwise() + p.bv;
  Mat<Scalar> concat(5, 8);
  for (Index i = 0; i < 4; ++i) {
    const auto s = attn::scaled_dot_product(qp.middleCols(2 * i, 2), kp.middleCols(2 * i, 2),
                                            vp.middleCols(2 * i, 2), mask);
    ATTN_CHECK_CLOSE(r.weights.head(i), s.weights, attn_test::tolerance<Scalar>());
    concat.middleCols(2 * i, 2) = s.output;
  }
  const Mat<Scalar> out = (concat * p.wo).rowwise() + p.bo;
  ATTN_CHECK_CLOSE(r.output, out, attn_test::tolerance<Scalar>());
}

// --- forms: into == value, batch == per item, workspace reuse -------------------------------------

TEMPLATE_TEST_CASE("multi_head_into equals the value form and reuses its workspace across shapes",
                   "[multi_head][workspace]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(13);
  const auto p = to_params<Scalar>(random_params<Scalar>(rng, 2, 6, 6, 4, 5, true));
  attn::MultiHeadWorkspace<Scalar> ws;
  attn::HeadWeights<Scalar> w;
  attn::Options options;
  options.return_scores = true;
  for (const Index t : {9, 3, 12, 0, 5}) {
    INFO("T = " << t);
    const Mat<Scalar> q = attn_test::random_matrix<Scalar>(rng, t, 6);
    const Mat<Scalar> k = attn_test::random_matrix<Scalar>(rng, t + 1, 4);
    const Mat<Scalar> v = attn_test::random_matrix<Scalar>(rng, t + 1, 5);
    const attn::Mask mask = attn::Mask::causal(-1);
    Mat<Scalar> out(t, 6);
    const Index masked = attn::multi_head_into(q, k, v, p, out, w, ws, mask, options);
    const auto r = attn::multi_head(q, k, v, p, mask, options);
    CHECK(bitwise_equal(out, r.output));
    CHECK(same_weights(w, r.weights));
    CHECK(same_weights(ws.scores(), r.scores));
    CHECK((ws.fully_masked() == r.fully_masked).all());
    CHECK(masked == r.num_fully_masked());
    CHECK(masked == std::min<Index>(t, 1));
  }
  // Blocks and maps pass without copies; a block output works too.
  const Mat<Scalar> big = attn_test::random_matrix<Scalar>(rng, 10, 12);
  Mat<Scalar> outs = Mat<Scalar>::Zero(4, 14);
  attn::multi_head_into(big.block(1, 0, 4, 6), big.block(0, 6, 7, 4), big.block(2, 1, 7, 5), p,
                        outs.middleCols(3, 6), w, ws);
  const auto r = attn::multi_head(Mat<Scalar>(big.block(1, 0, 4, 6)), Mat<Scalar>(big.block(0, 6, 7, 4)),
                                  Mat<Scalar>(big.block(2, 1, 7, 5)), p);
  CHECK(bitwise_equal(Mat<Scalar>(outs.middleCols(3, 6)), r.output));
  CHECK((outs.leftCols(3).array() == 0).all());
  CHECK((outs.rightCols(5).array() == 0).all());
}

TEMPLATE_TEST_CASE("multi_head_batch: ragged items, own masks, equal to per-item calls bit for bit",
                   "[multi_head][batch]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(14);
  const auto p = to_params<Scalar>(random_params<Scalar>(rng, 4, 8, 3, 5, 6, true));
  std::vector<Mat<Scalar>> qs, ks, vs;
  std::vector<attn::Mask> masks;
  const Index tqs[] = {4, 1, 7, 0, 3};
  const Index tks[] = {6, 2, 7, 3, 0};
  for (int b = 0; b < 5; ++b) {
    qs.push_back(attn_test::random_matrix<Scalar>(rng, tqs[b], 3));
    ks.push_back(attn_test::random_matrix<Scalar>(rng, tks[b], 5));
    vs.push_back(attn_test::random_matrix<Scalar>(rng, tks[b], 6));
    masks.push_back(b == 2 ? attn::Mask::causal() & attn::Mask::key_length(5) : attn::Mask::key_length(tks[b] / 2));
  }
  std::vector<attn::MultiHeadResult<Scalar>> results;
  attn::MultiHeadWorkspace<Scalar> ws;
  attn::Options options;
  options.return_scores = true;
  for (int round = 0; round < 2; ++round) {  // the second round reuses results and workspace
    attn::multi_head_batch_into(qs, ks, vs, p, results, ws, masks, options);
    REQUIRE(results.size() == 5);
    for (std::size_t b = 0; b < 5; ++b) {
      INFO("round " << round << ", item " << b);
      const auto r = attn::multi_head(qs[b], ks[b], vs[b], p, masks[b], options);
      CHECK(same_result(results[b], r));
      CHECK(same_weights(results[b].scores, r.scores));
      CHECK((ws.fully_masked(static_cast<Index>(b)) == r.fully_masked).all());
    }
  }
  CHECK(results[4].num_fully_masked() == 3);  // no keys at all: every query fully masked

  // No masks: every item unmasked; an empty batch gives no results.
  const auto plain = attn::multi_head_batch(qs, ks, vs, p);
  for (std::size_t b = 0; b < 5; ++b) CHECK(same_result(plain[b], attn::multi_head(qs[b], ks[b], vs[b], p)));
  const std::vector<Mat<Scalar>> none;
  CHECK(attn::multi_head_batch(none, none, none, p).empty());
}

// --- result objects ----------------------------------------------------------------------------

// --- grouped-query attention (MultiHeadParams::kv_heads) ---------------------------------------

/// Grouped parameters with their key and value heads written out once per query head
/// (head i gets key/value head i / (h / g)): plain multi-head parameters that must give the same
/// bits, since every head projects with the same values in the same layout.
template <typename Scalar>
attn::MultiHeadParams<Scalar> repeat_kv_heads(const attn::MultiHeadParams<Scalar>& p) {
  const Index h = p.heads, g = p.key_value_heads(), dh = p.head_dim(), dhv = p.value_head_dim();
  attn::MultiHeadParams<Scalar> e = p;
  e.kv_heads = 0;
  e.wk.resize(p.wk.rows(), h * dh);
  e.wv.resize(p.wv.rows(), h * dhv);
  if (p.bk.size() != 0) e.bk.resize(h * dh);
  if (p.bv.size() != 0) e.bv.resize(h * dhv);
  for (Index i = 0; i < h; ++i) {
    const Index j = i / (h / g);
    e.wk.middleCols(i * dh, dh) = p.wk.middleCols(j * dh, dh);
    e.wv.middleCols(i * dhv, dhv) = p.wv.middleCols(j * dhv, dhv);
    if (p.bk.size() != 0) e.bk.segment(i * dh, dh) = p.bk.segment(j * dh, dh);
    if (p.bv.size() != 0) e.bv.segment(i * dhv, dhv) = p.bv.segment(j * dhv, dhv);
  }
  if (p.bias_k.size() != 0) {  // torch's appended key and value, per key/value head too
    e.bias_k.resize(h * dh);
    e.bias_v.resize(h * dhv);
    for (Index i = 0; i < h; ++i) {
      e.bias_k.segment(i * dh, dh) = p.bias_k.segment(i / (h / g) * dh, dh);
      e.bias_v.segment(i * dhv, dhv) = p.bias_v.segment(i / (h / g) * dhv, dhv);
    }
  }
  return e;
}

TEMPLATE_TEST_CASE("grouped-query attention is multi-head attention with its key and value heads repeated, bit for "
                   "bit, in every form",
                   "[multi_head][grouped]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(2311);
  Index forms = 0;
  // (h, g, dh, dhv): grouped, multi-query, and g = h written out (kv_heads = h, not 0)
  const Index shapes[][4] = {{4, 2, 3, 3}, {6, 3, 2, 4}, {4, 1, 5, 2}, {8, 2, 4, 4}, {3, 3, 2, 3}, {1, 1, 4, 4}};
  for (const auto& shape : shapes) {
    const Index h = shape[0], g = shape[1], dh = shape[2], dhv = shape[3];
    for (const bool bias : {true, false}) {
      INFO("h " << h << ", g " << g << ", dh " << dh << ", dhv " << dhv << ", bias " << bias);
      const Index dq = 7, dk = 6, dv = 5, o = 9, tq = 6, tk = 8;
      attn::MultiHeadParams<Scalar> p;
      p.heads = h;
      p.kv_heads = g;
      p.wq = attn_test::random_matrix<Scalar>(rng, dq, h * dh);
      p.wk = attn_test::random_matrix<Scalar>(rng, dk, g * dh);
      p.wv = attn_test::random_matrix<Scalar>(rng, dv, g * dhv);
      p.wo = attn_test::random_matrix<Scalar>(rng, h * dhv, o);
      if (bias) {
        p.bq = attn_test::random_matrix<Scalar>(rng, 1, h * dh);
        p.bk = attn_test::random_matrix<Scalar>(rng, 1, g * dh);
        p.bv = attn_test::random_matrix<Scalar>(rng, 1, g * dhv);
        p.bo = attn_test::random_matrix<Scalar>(rng, 1, o);
      }
      REQUIRE(p.key_value_heads() == g);
      REQUIRE(p.head_dim() == dh);
      REQUIRE(p.value_head_dim() == dhv);
      const auto e = repeat_kv_heads(p);
      const Mat<Scalar> q = attn_test::random_matrix<Scalar>(rng, tq, dq);
      const Mat<Scalar> k = attn_test::random_matrix<Scalar>(rng, tk, dk);
      const Mat<Scalar> v = attn_test::random_matrix<Scalar>(rng, tk, dv);

      // Every head its own mask: a head that reads another's keys would also take its mask.
      std::vector<attn::Mask> own;
      for (Index i = 0; i < h; ++i) own.push_back(attn::Mask::key_length(tk - i % 4) & attn::Mask::causal(i % 3));
      const attn::Mask masks[] = {attn::Mask(), attn::Mask::key_length(5), attn::Mask::causal(2),
                                  attn::Mask::per_head(own)};
      for (const attn::Mask& mask : masks) {
        const auto r = attn::multi_head(q, k, v, p, mask);
        CHECK(same_result(r, attn::multi_head(q, k, v, e, mask)));
        const attn::MultiHeadOutput<Scalar> none = attn::multi_head(q, k, v, p, attn::no_weights, mask);
        CHECK(bitwise_equal(none.output, r.output));
        const std::vector<Mat<Scalar>> qs{q, q.topRows(3)}, ks{k, k.topRows(5)}, vs{v, v.topRows(5)};
        const auto batch = attn::multi_head_batch(qs, ks, vs, p);
        const auto batch_e = attn::multi_head_batch(qs, ks, vs, e);
        CHECK((same_result(batch[0], batch_e[0]) && same_result(batch[1], batch_e[1])));
        forms += 3;
      }

      // torch's appended keys (bias_k per key/value head, the zero key) and sinks, whose heads
      // run in turn: the same bits as the repeated heads.
      auto pa = p;
      pa.bias_k = attn_test::random_matrix<Scalar>(rng, 1, g * dh);
      pa.bias_v = attn_test::random_matrix<Scalar>(rng, 1, g * dhv);
      pa.add_zero_attn = bias;
      const auto ea = repeat_kv_heads(pa);
      const Index cols = tk + pa.appended_keys();
      for (const attn::Mask& mask : masks) {
        CHECK(same_result(attn::multi_head(q, k, v, pa, mask), attn::multi_head(q, k, v, ea, mask)));
        Mat<Scalar> mean(tq, cols), mean_e(tq, cols);
        const auto sunk = attn::multi_head(q, k, v, pa, attn::HeadSinks<Scalar>().reduce(attn::HeadReduction::mean, mean),
                                           mask);
        const auto sunk_e = attn::multi_head(
            q, k, v, ea, attn::HeadSinks<Scalar>().reduce(attn::HeadReduction::mean, mean_e), mask);
        CHECK(bitwise_equal(sunk.output, sunk_e.output));
        CHECK(bitwise_equal(mean, mean_e));
        forms += 2;
      }

      // A prepared source: g heads' keys and values, the steps equal to the repeated heads' steps.
      const auto memory = attn::prepare_memory(k, v, p, tk - 2);
      const auto memory_e = attn::prepare_memory(k, v, e, tk - 2);
      REQUIRE(memory.keys().cols() == g * dh);
      REQUIRE(memory.values().cols() == g * dhv);
      for (Index i = 0; i < h; ++i) {
        const Index j = i / (h / g);
        CHECK(bitwise_equal(Mat<Scalar>(memory.keys().middleCols(j * dh, dh)),
                            Mat<Scalar>(memory_e.keys().middleCols(i * dh, dh))));
        CHECK(bitwise_equal(Mat<Scalar>(memory.values().middleCols(j * dhv, dhv)),
                            Mat<Scalar>(memory_e.values().middleCols(i * dhv, dhv))));
      }
      CHECK(same_result(attn::attend(memory, q), attn::attend(memory_e, q)));
      CHECK(same_result(attn::attend(memory, q.row(2)), attn::attend(memory_e, q.row(2))));

      // A cache of 3 beams: g heads' keys and values per position, the steps equal.
      attn::KVCache<Scalar> cache(p, 3, 2), cache_e(e, 3, 2);
      for (Index t = 0; t < 4; ++t) {
        INFO("step " << t);
        const Mat<Scalar> kt = attn_test::random_matrix<Scalar>(rng, 3, dk);
        const Mat<Scalar> vt = attn_test::random_matrix<Scalar>(rng, 3, dv);
        const Mat<Scalar> qt = attn_test::random_matrix<Scalar>(rng, 3, dq);
        cache.append(kt, vt);
        cache_e.append(kt, vt);
        CHECK(same_result(attn::attend(cache, qt), attn::attend(cache_e, qt)));
        if (t == 1) {
          cache.reorder(std::vector<Index>{2, 2, 0});
          cache_e.reorder(std::vector<Index>{2, 2, 0});
        }
      }
      REQUIRE(cache.keys(1).cols() == g * dh);
      REQUIRE(cache.values(1).cols() == g * dhv);
      forms += 2;
    }
  }
  CHECK(forms == 12 * (4 * 3 + 4 * 2 + 2));
}

TEST_CASE("grouped-query attention: bad kv_heads and widths throw with exact messages", "[multi_head][grouped][errors]") {
  std::mt19937_64 rng(2312);
  attn::MultiHeadParams<double> good;  // h = 4 query heads of dh = 2 over g = 2 key/value heads
  good.heads = 4;
  good.kv_heads = 2;
  good.wq = attn_test::random_matrix<double>(rng, 5, 8);
  good.wk = attn_test::random_matrix<double>(rng, 5, 4);
  good.wv = attn_test::random_matrix<double>(rng, 5, 6);  // dhv = 3
  good.wo = attn_test::random_matrix<double>(rng, 12, 5);
  const MatrixD x = attn_test::random_matrix<double>(rng, 3, 5);
  CHECK(attn::multi_head(x, good).output.cols() == 5);

  auto p = good;
  p.kv_heads = 3;
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: kv_heads (3) must be 0 (one per head) or a divisor of "
                                            "heads (4): query head i reads key/value head i / (heads / kv_heads)");
  p.kv_heads = -2;
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: kv_heads (-2) must be 0 (one per head) or a divisor of "
                                            "heads (4): query head i reads key/value head i / (heads / kv_heads)");
  p = good;
  p.wk = MatrixD::Zero(5, 8);  // h heads' keys for g key/value heads
  CHECK_THROWS_ATTN(attn::multi_head(x, p),
                    "attn::multi_head: params.wk.cols() (8) must equal kv_heads·head_dim() (4)");
  p = good;
  p.wv = MatrixD::Zero(5, 5);
  CHECK_THROWS_ATTN(attn::multi_head(x, p),
                    "attn::multi_head: kv_heads (2) must divide the values' width params.wv.cols() (5)");
  p = good;
  p.wo = MatrixD::Zero(6, 5);  // g·dhv rows instead of h·dhv
  CHECK_THROWS_ATTN(attn::multi_head(x, p),
                    "attn::multi_head: params.wo.rows() (6) must equal heads·value_head_dim() (12)");
  p = good;
  p.bk = Eigen::RowVectorXd::Zero(8);
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: params.bk (1x8) must be (1x4) or empty");
  p = good;
  p.bv = Eigen::RowVectorXd::Zero(12);
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: params.bv (1x12) must be (1x6) or empty");
  p = good;
  p.kv_heads = 5;
  CHECK_THROWS_ATTN(attn::KVCache<double>(p), "attn::KVCache: kv_heads (5) must be 0 (one per head) or a divisor of "
                                              "heads (4): query head i reads key/value head i / (heads / kv_heads)");
  CHECK_THROWS_ATTN(attn::prepare_memory(x, x, p), "attn::prepare_memory: kv_heads (5) must be 0 (one per head) or a "
                                                   "divisor of heads (4): query head i reads key/value head i / (heads "
                                                   "/ kv_heads)");
}

TEST_CASE("multi_head result binds as [output, per-head weights]", "[multi_head][api]") {
  std::mt19937_64 rng(15);
  const auto p = to_params<double>(random_params<double>(rng, 2, 4, 4, 4, 4, false));
  const MatrixD x = attn_test::random_matrix<double>(rng, 3, 4);
  auto [output, weights] = attn::multi_head(x, p);
  static_assert(std::is_same<decltype(output), attn::Matrix<double>>::value, "output is a matrix");
  static_assert(std::is_same<decltype(weights), attn::HeadWeights<double>>::value, "weights are per head");
  const auto r = attn::multi_head(x, x, x, p);
  CHECK(bitwise_equal(output, r.output));
  CHECK(same_weights(weights, r.weights));
  CHECK(weights.heads() == 2);
  CHECK(weights.rows() == 3);
  CHECK(weights.cols() == 3);
  CHECK(r.weights.mean() == weights.mean());
}

TEMPLATE_TEST_CASE("HeadWeights: heads are maps over one block, reductions over all or some heads",
                   "[multi_head][weights]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(16);
  const auto p = to_params<Scalar>(random_params<Scalar>(rng, 4, 8, 8, 8, 8, true));
  const Mat<Scalar> x = attn_test::random_matrix<Scalar>(rng, 3, 8, -3, 3);
  const auto r = attn::multi_head(x, p, attn::Mask::causal(1));
  const auto& w = r.weights;
  REQUIRE(w.heads() == 4);
  for (Index i = 0; i < 4; ++i) CHECK(w.head(i).data() == w.data() + i * 3 * 3);
  CHECK(w.size() == 36);
  CHECK(w.flat().rows() == 9);
  CHECK(w.flat().cols() == 4);
  CHECK(w.flat().col(2) == Eigen::Map<const attn::Vector<Scalar>>(w.head(2).data(), 9));

  const Mat<Scalar> h0 = w.head(0), h1 = w.head(1), h2 = w.head(2), h3 = w.head(3);
  const double tol = attn_test::tolerance<Scalar>();
  ATTN_CHECK_CLOSE(w.mean(), Mat<Scalar>((h0 + h1 + h2 + h3) / Scalar(4)), tol);
  ATTN_CHECK_CLOSE(w.sum(), Mat<Scalar>(h0 + h1 + h2 + h3), tol);
  CHECK(w.max() == h0.cwiseMax(h1).cwiseMax(h2).cwiseMax(h3));
  CHECK(w.min() == h0.cwiseMin(h1).cwiseMin(h2).cwiseMin(h3));
  ATTN_CHECK_CLOSE(w.mean({1, 3}), Mat<Scalar>((h1 + h3) / Scalar(2)), tol);
  CHECK(w.max({2}) == h2);
  CHECK(w.min({0, 2}) == h0.cwiseMin(h2));
  CHECK(w.sum({3, 3}) == Mat<Scalar>(h3 + h3));
  ATTN_CHECK_CLOSE(Mat<Scalar>(w.mean().rowwise().sum()), Mat<Scalar>::Ones(3, 1), tol);
  CHECK(w.mean()(0, 2) == Scalar(0));  // masked in every head: still exactly 0 in the mean

  Mat<Scalar> out(3, 3);
  w.reduce_into(attn::HeadReduction::max, {1, 2}, out);
  CHECK(out == h1.cwiseMax(h2));
  w.reduce_into(attn::HeadReduction::mean, out);
  CHECK(out == w.mean());

  attn::HeadWeights<Scalar> grown(2, 3, 4);
  const Scalar* data = grown.data();
  grown.resize(1, 2, 2);
  CHECK(grown.data() == data);  // shrinking keeps the storage
  CHECK(grown.size() == 4);
}

TEMPLATE_TEST_CASE("multi_head: a query that sees no key gets zero weights and the output row bo",
                   "[multi_head][fully_masked]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(17);
  for (const bool bias : {true, false}) {
    INFO("bias " << bias);
    const auto p = to_params<Scalar>(random_params<Scalar>(rng, 2, 4, 3, 3, 3, bias));
    const Mat<Scalar> q = attn_test::random_matrix<Scalar>(rng, 4, 3);
    const Mat<Scalar> k = attn_test::random_matrix<Scalar>(rng, 5, 3);
    // Causal with offset -2: queries 0 and 1 see nothing (torch would give NaN rows).
    const auto r = attn::multi_head(q, k, k, p, attn::Mask::causal(-2));
    CHECK(r.num_fully_masked() == 2);
    const attn::RowVector<Scalar> expected = bias ? attn::RowVector<Scalar>(p.bo) : attn::RowVector<Scalar>::Zero(4);
    for (Index i = 0; i < 4; ++i) {
      CHECK(r.fully_masked(i) == (i < 2));
      for (Index h = 0; h < 2; ++h) CHECK(r.weights.head(h).row(i).isZero(0) == (i < 2));
      if (i < 2) CHECK(r.output.row(i) == expected);
      CHECK(r.output.row(i).allFinite());
    }
    // key_length(0): every query of the item sees nothing.
    const auto none = attn::multi_head(q, k, k, p, attn::Mask::key_length(0));
    CHECK(none.num_fully_masked() == 4);
    for (Index i = 0; i < 4; ++i) CHECK(none.output.row(i) == expected);
    CHECK(none.weights.mean().isZero(0));
  }
}

TEST_CASE("MultiHeadParams::from_torch transposes torch's out×in weights", "[multi_head][torch]") {
  std::mt19937_64 rng(18);
  const MatrixD in_w = attn_test::random_matrix<double>(rng, 12, 4);
  const Eigen::VectorXd in_b = attn_test::random_matrix<double>(rng, 12, 1);
  const MatrixD out_w = attn_test::random_matrix<double>(rng, 4, 4);
  const Eigen::RowVectorXd out_b = attn_test::random_matrix<double>(rng, 1, 4);
  const auto p = attn::MultiHeadParams<double>::from_torch(in_w, in_b, out_w, out_b, 2);
  CHECK(p.heads == 2);
  CHECK(p.model_dim() == 4);
  CHECK(p.head_dim() == 2);
  CHECK(p.wq == in_w.topRows(4).transpose());
  CHECK(p.wk == in_w.middleRows(4, 4).transpose());
  CHECK(p.wv == in_w.bottomRows(4).transpose());
  CHECK(p.wo == out_w.transpose());
  CHECK(p.bq == in_b.segment(0, 4).transpose());
  CHECK(p.bk == in_b.segment(4, 4).transpose());
  CHECK(p.bv == in_b.segment(8, 4).transpose());
  CHECK(p.bo == out_b);

  const auto nobias = attn::MultiHeadParams<double>::from_torch(in_w, MatrixD(), out_w, MatrixD(), 4);
  CHECK(nobias.bq.size() == 0);
  CHECK(nobias.bo.size() == 0);

  const MatrixD qw = attn_test::random_matrix<double>(rng, 4, 3);
  const MatrixD kw = attn_test::random_matrix<double>(rng, 4, 5);
  const MatrixD vw = attn_test::random_matrix<double>(rng, 4, 2);
  const auto s = attn::MultiHeadParams<double>::from_torch_separate(qw, kw, vw, in_b.transpose(), out_w, out_b, 1);
  CHECK(s.wq == qw.transpose());
  CHECK(s.wk == kw.transpose());
  CHECK(s.wv == vw.transpose());
  CHECK(s.wo == out_w.transpose());
  CHECK(s.bk == in_b.segment(4, 4).transpose());
}

// --- errors ---------------------------------------------------------------------------------------

TEST_CASE("multi_head: bad shapes throw attn::invalid_argument with exact messages", "[multi_head][errors]") {
  std::mt19937_64 rng(19);
  const auto good = to_params<double>(random_params<double>(rng, 2, 8, 8, 8, 8, true));
  const MatrixD x = attn_test::random_matrix<double>(rng, 3, 8);
  const MatrixD k5 = attn_test::random_matrix<double>(rng, 5, 8);

  auto p = good;
  p.heads = 3;
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: heads (3) must divide the model width D (8)");
  p.heads = 0;
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: heads (0) must be >= 1");
  // Params with only the heads set (a first try): the message says what to set, not shapes.
  attn::MultiHeadParams<double> unset;
  unset.heads = 2;
  const std::string how = " is empty: set wq, wk, wv and wo (in×out: torch's Linear weights transposed), or make the "
                          "params with MultiHeadParams::from_torch or from_torch_separate";
  CHECK_THROWS_ATTN(attn::multi_head(x, unset), "attn::multi_head: params.wq (0x0)" + how);
  unset = good;
  unset.wo.resize(0, 0);
  CHECK_THROWS_ATTN(attn::KVCache<double>(unset), "attn::KVCache: params.wo (0x0)" + how);
  p = good;
  p.wk = MatrixD::Zero(8, 6);
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: params.wk.cols() (6) must equal params.wq.cols() (8)");
  {  // The two mistakes of a LLaMA port, named after the shapes: kv_heads left 0 for grouped-query
     // attention, torch's q_proj.weight (out×in) not transposed.
    attn::MultiHeadParams<double> llama;
    llama.heads = 8;
    llama.wq = MatrixD::Zero(64, 128);  // D = 64 in, 8 heads of 16
    llama.wk = MatrixD::Zero(64, 32);   // 2 key/value heads
    llama.wv = MatrixD::Zero(64, 32);
    llama.wo = MatrixD::Zero(128, 64);
    const MatrixD xl = MatrixD::Zero(3, 64);
    CHECK_THROWS_ATTN(attn::multi_head(xl, llama),
                      "attn::multi_head: params.wk.cols() (32) must equal params.wq.cols() (128) (grouped-query "
                      "attention? set params.kv_heads = 2, the key/value heads: transformers' num_key_value_heads)");
    llama.kv_heads = 2;
    CHECK(attn::multi_head(xl, llama).output.cols() == 64);
    llama.wq = MatrixD::Zero(128, 64);  // q_proj.weight as torch stores it
    CHECK_THROWS_ATTN(attn::multi_head(xl, llama),
                      "attn::multi_head: params.wk.cols() (32) must equal kv_heads·head_dim() (16) (params.wq "
                      "(128x64) looks transposed: attn takes in×out, torch's q_proj.weight is out×in: wq = "
                      "q_proj.weight.transpose())");
  }
  p = good;
  p.wv = MatrixD::Zero(8, 4);  // heads' values 2 wide: then Wo must have 4 rows
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: params.wo.rows() (8) must equal params.wv.cols() (4)");
  p.wv = MatrixD::Zero(8, 5);
  CHECK_THROWS_ATTN(attn::multi_head(x, p),
                    "attn::multi_head: heads (2) must divide the values' width params.wv.cols() (5)");
  p = good;
  p.wo = MatrixD::Zero(6, 8);
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: params.wo.rows() (6) must equal params.wv.cols() (8)");
  p = good;
  p.wo = MatrixD::Zero(8, 6);  // an output 6 wide (Keras' output_shape): bo must be too
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: params.bo (1x8) must be (1x6) or empty");
  p.bo.resize(0);
  CHECK(attn::multi_head(x, p).output.cols() == 6);
  MatrixD out86(3, 8);
  attn::HeadWeights<double> w86;
  attn::MultiHeadWorkspace<double> ws86;
  CHECK_THROWS_ATTN(attn::multi_head_into(x, x, x, p, out86, w86, ws86),
                    "attn::multi_head: output (3x8) must be (3x6)");
  p = good;
  p.bq = Eigen::RowVectorXd::Zero(5);
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: params.bq (1x5) must be (1x8) or empty");
  p = good;
  p.bk = Eigen::RowVectorXd::Zero(9);
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: params.bk (1x9) must be (1x8) or empty");
  p = good;
  p.bv = Eigen::RowVectorXd::Zero(1);
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: params.bv (1x1) must be (1x8) or empty; params.bv is 1x1, most often an n×1 "
                    "column assigned to the row vector, of which Eigen keeps the first value alone in a build with "
                    "NDEBUG: assign column.transpose(), or read a 1-D .npy");
  p = good;
  p.bo = Eigen::RowVectorXd::Zero(7);
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: params.bo (1x7) must be (1x8) or empty");
  // torch's add_bias_kv: bias_k and bias_v together, each as wide as the keys and values.
  p = good;
  p.bias_k = Eigen::RowVectorXd::Zero(8);
  CHECK_THROWS_ATTN(attn::multi_head(x, p),
                    "attn::multi_head: params.bias_k (1x8) is set but params.bias_v is empty: they come together "
                    "(torch's add_bias_kv), set both or neither");
  p.bias_k.resize(0);
  p.bias_v = Eigen::RowVectorXd::Zero(8);
  CHECK_THROWS_ATTN(attn::multi_head(x, p),
                    "attn::multi_head: params.bias_v (1x8) is set but params.bias_k is empty: they come together "
                    "(torch's add_bias_kv), set both or neither");
  p.bias_k = Eigen::RowVectorXd::Zero(8);
  p.bias_v = Eigen::RowVectorXd::Zero(6);
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: params.bias_v (1x6) must be (1x8) or empty");
  p.bias_k = Eigen::RowVectorXd::Zero(4);
  p.bias_v = Eigen::RowVectorXd::Zero(8);
  CHECK_THROWS_ATTN(attn::multi_head(x, p), "attn::multi_head: params.bias_k (1x4) must be (1x8) or empty");
  p.bias_k = Eigen::RowVectorXd::Zero(8);
  CHECK(attn::multi_head(x, p).weights.cols() == 4);
  p.rotary = attn::Rotary{};
  CHECK_THROWS_ATTN(attn::multi_head(x, p),
                    "attn::multi_head: params.rotary with params.bias_k or params.add_zero_attn: the appended keys "
                    "have no position to rotate by (torch's add_bias_kv and add_zero_attn have no rotary form)");
  p = good;
  p.add_zero_attn = true;
  CHECK(attn::multi_head(x, p).weights.cols() == 4);
  // The decoding forms keep the source's or the cache's keys only.
  const std::string decoding = ": params.bias_k or params.add_zero_attn is set (torch's add_bias_kv, add_zero_attn); "
                               "only attn::multi_head and its forms append those keys; call multi_head over the whole "
                               "sequence instead";
  CHECK_THROWS_ATTN(attn::prepare_memory(k5, k5, p), "attn::prepare_memory" + decoding);
  CHECK_THROWS_ATTN(attn::KVCache<double>(p), "attn::KVCache" + decoding);
  // A mask is checked against the Tk keys the caller gives, not the appended ones.
  CHECK_THROWS_ATTN(attn::multi_head(x, k5, k5, p, attn::Mask::key_length(6)),
                    "attn::multi_head: mask key length (6) exceeds the number of keys (5)");
  CHECK_THROWS_ATTN(attn::multi_head(x, k5, k5, p, attn::Mask::matrix(attn::BoolMatrix::Constant(3, 6, true))),
                    "attn::multi_head: mask matrix (3x6) must match the scores (3x5)");

  CHECK_THROWS_ATTN(attn::multi_head(MatrixD(3, 3), k5, k5, good),
                    "attn::multi_head: q.cols() (3) must equal params.wq.rows() (8)");
  CHECK_THROWS_ATTN(attn::multi_head(x, MatrixD(5, 2), k5, good),
                    "attn::multi_head: k.cols() (2) must equal params.wk.rows() (8)");
  CHECK_THROWS_ATTN(attn::multi_head(x, k5, MatrixD(5, 7), good),
                    "attn::multi_head: v.cols() (7) must equal params.wv.rows() (8)");
  CHECK_THROWS_ATTN(attn::multi_head(x, k5, MatrixD(4, 8), good),
                    "attn::multi_head: v.rows() (4) must equal k.rows() (5)");
  CHECK_THROWS_ATTN(attn::multi_head(x, k5, k5, good, attn::Mask::key_length(6)),
                    "attn::multi_head: mask key length (6) exceeds the number of keys (5)");
  CHECK_THROWS_ATTN(attn::multi_head(x, k5, k5, good, attn::Mask::matrix(attn::BoolMatrix::Constant(2, 2, true))),
                    "attn::multi_head: mask matrix (2x2) must match the scores (3x5)");
  attn::Options bad_scale;
  bad_scale.scale = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_ATTN(attn::multi_head(x, k5, k5, good, attn::Mask(), bad_scale),
                    "attn::multi_head: options.scale must be finite");

  attn::MultiHeadWorkspace<double> ws;
  attn::HeadWeights<double> w;
  MatrixD out(3, 7);
  CHECK_THROWS_ATTN(attn::multi_head_into(x, k5, k5, good, out, w, ws),
                    "attn::multi_head: output (3x7) must be (3x8)");
  CHECK_THROWS_ATTN(ws.fully_masked(0), "attn::MultiHeadWorkspace::fully_masked: item (0) must be in [0, 0)");
  out.resize(3, 8);
  attn::multi_head_into(x, k5, k5, good, out, w, ws);
  CHECK_THROWS_ATTN(ws.fully_masked(1), "attn::MultiHeadWorkspace::fully_masked: item (1) must be in [0, 1)");
  CHECK_THROWS_ATTN(ws.scores(-1), "attn::MultiHeadWorkspace::scores: item (-1) must be in [0, 1)");
}

TEST_CASE("multi_head_batch: bad batches throw naming the item", "[multi_head][errors][batch]") {
  std::mt19937_64 rng(20);
  const auto good = to_params<double>(random_params<double>(rng, 2, 8, 8, 8, 8, true));
  const std::vector<MatrixD> two = {attn_test::random_matrix<double>(rng, 3, 8),
                                    attn_test::random_matrix<double>(rng, 5, 8)};
  const std::vector<MatrixD> one = {two[0]};
  CHECK_THROWS_ATTN(attn::multi_head_batch(two, one, two, good),
                    "attn::multi_head_batch: k.size() (1) must equal q.size() (2)");
  CHECK_THROWS_ATTN(attn::multi_head_batch(two, two, one, good),
                    "attn::multi_head_batch: v.size() (1) must equal q.size() (2)");
  CHECK_THROWS_ATTN(attn::multi_head_batch(two, two, two, good, {attn::Mask()}),
                    "attn::multi_head_batch: masks.size() (1) must be 0 or q.size() (2)");
  CHECK_THROWS_ATTN(
      attn::multi_head_batch(two, two, two, good, {attn::Mask::key_length(9), attn::Mask()}),
      "attn::multi_head_batch: item 0: mask key length (9) exceeds the number of keys (3)");
  const std::vector<MatrixD> bad_q = {two[0], MatrixD(2, 3)};
  CHECK_THROWS_ATTN(attn::multi_head_batch(bad_q, two, two, good),
                    "attn::multi_head_batch: item 1: q.cols() (3) must equal params.wq.rows() (8)");
  auto p = good;
  p.heads = 3;
  CHECK_THROWS_ATTN(attn::multi_head_batch(two, two, two, p),
                    "attn::multi_head_batch: heads (3) must divide the model width D (8)");
}

TEST_CASE("from_torch and HeadWeights: bad arguments throw with exact messages", "[multi_head][errors][torch]") {
  const MatrixD w12 = MatrixD::Zero(12, 4);
  const MatrixD w4 = MatrixD::Zero(4, 4);
  const MatrixD none;
  using P = attn::MultiHeadParams<double>;
  CHECK_THROWS_ATTN(P::from_torch(MatrixD(5, 6), none, MatrixD(6, 6), none, 1),
                    "attn::MultiHeadParams::from_torch: in_proj_weight (5x6) must be (3·D)×D, the [W_q; W_k; W_v] "
                    "rows of torch's state_dict: (18x6) for D = 6 (out_proj_weight)");
  // Saved the other way round (numpy's .T, or Keras' layout): said so.
  CHECK_THROWS_ATTN(P::from_torch(MatrixD(4, 12), none, w4, none, 1),
                    "attn::MultiHeadParams::from_torch: in_proj_weight (4x12) must be (3·D)×D, the [W_q; W_k; W_v] "
                    "rows of torch's state_dict: (12x4) for D = 4 (out_proj_weight); this one is transposed: pass "
                    "in_proj_weight.transpose()");
  CHECK_THROWS_ATTN(P::from_torch(MatrixD(5, 6), none, MatrixD(6, 5), none, 1),
                    "attn::MultiHeadParams::from_torch: in_proj_weight (5x6) must be (3·D)×D, the [W_q; W_k; W_v] "
                    "rows of torch's state_dict");
  CHECK_THROWS_ATTN(P::from_torch(w12, none, MatrixD(4, 3), none, 1),
                    "attn::MultiHeadParams::from_torch: out_proj_weight (4x3) must be (4x4)");
  CHECK_THROWS_ATTN(P::from_torch(w12, MatrixD(5, 1), w4, none, 1),
                    "attn::MultiHeadParams::from_torch: in_proj_bias (5x1) must hold 12 values (a row or column "
                    "vector) or none");
  CHECK_THROWS_ATTN(P::from_torch(w12, none, w4, MatrixD(2, 2), 1),
                    "attn::MultiHeadParams::from_torch: out_proj_bias (2x2) must hold 4 values (a row or column "
                    "vector) or none");
  CHECK_THROWS_ATTN(P::from_torch(w12, none, w4, none, 3),
                    "attn::MultiHeadParams::from_torch: heads (3) must divide the model width D (4)");
  CHECK_THROWS_ATTN(P::from_torch_separate(MatrixD(4, 2), MatrixD(3, 5), MatrixD(4, 6), none, w4, none, 1),
                    "attn::MultiHeadParams::from_torch_separate: k_proj_weight.rows() (3) must equal "
                    "q_proj_weight.rows() (4)");
  CHECK_THROWS_ATTN(P::from_torch_separate(MatrixD(4, 2), MatrixD(4, 5), MatrixD(2, 6), none, w4, none, 1),
                    "attn::MultiHeadParams::from_torch_separate: v_proj_weight.rows() (2) must equal "
                    "q_proj_weight.rows() (4)");
  CHECK_THROWS_ATTN(P::from_torch_separate(MatrixD(4, 2), MatrixD(4, 5), MatrixD(4, 6), none, MatrixD(4, 2), none, 1),
                    "attn::MultiHeadParams::from_torch_separate: out_proj_weight (4x2) must be (4x4)");

  attn::HeadWeights<double> w(4, 3, 2);
  CHECK_THROWS_ATTN(w.head(4), "attn::HeadWeights::head: head (4) must be in [0, 4)");
  CHECK_THROWS_ATTN(w.head(-1), "attn::HeadWeights::head: head (-1) must be in [0, 4)");
  CHECK_THROWS_ATTN(w.mean(std::vector<Index>{}), "attn::HeadWeights::mean: the list of heads is empty");
  CHECK_THROWS_ATTN(w.max({0, 5}), "attn::HeadWeights::max: head (5) must be in [0, 4)");
  MatrixD out(2, 2);
  CHECK_THROWS_ATTN(w.reduce_into(attn::HeadReduction::sum, out), "attn::HeadWeights::sum: out (2x2) must be (3x2)");
  CHECK_THROWS_ATTN(attn::HeadWeights<double>().min(), "attn::HeadWeights::min: there are no heads to reduce");
  CHECK_THROWS_ATTN(w.resize(-1, 2, 3),
                    "attn::HeadWeights::resize: heads (-1), rows (2) and cols (3) must be >= 0");
}

// --- decoder steps against the torch fixtures (attn/multi_head_memory.hpp, attn/kv_cache.hpp) ---

TEMPLATE_TEST_CASE("decoder steps match torch.nn.MultiheadAttention: the memory step and the cache step",
                   "[multi_head][parity][decoding]", float, double) {
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  Index cross_cases = 0;
  Index self_cases = 0;
  for (const std::string& name : fixture_cases()) {
    const Fixture f = read_fixture(name);
    if (f.str("mask") != "none" && f.str("mask") != "causal") continue;
    if (appended_keys(f) > 0) continue;  // the decoding forms refuse them (tested in the errors)
    INFO("case " << name);
    const auto params = fixture_params<Scalar>(f);
    const Index h = params.heads;
    const bool self = f.integer("self") != 0;
    for (Index b = 0; b < f.integer("batch"); ++b) {
      INFO("item " << b);
      const std::string s = "." + std::to_string(b);
      const Mat<Scalar> q = f.matrix("q" + s).cast<Scalar>();
      const MatrixD& expected_w = f.matrix("weights" + s);
      const Index tq = q.rows();
      if (!self && f.str("mask") == "none") {
        // Cross-attention: the source prepared once with its length; every query row as a step,
        // then all rows at once as beams.
        const Mat<Scalar> k = f.matrix("k" + s).cast<Scalar>();
        const Mat<Scalar> v = f.matrix("v" + s).cast<Scalar>();
        const Index n = f.has("lengths") ? static_cast<Index>(f.matrix("lengths")(0, b)) : k.rows();
        const auto memory = attn::prepare_memory(k, v, params, n);
        for (Index t = 0; t < tq; ++t) {
          const auto step = attn::attend(memory, q.row(t));
          ATTN_CHECK_CLOSE(step.output, f.matrix("output" + s).row(t), tol);
          for (Index i = 0; i < h; ++i) ATTN_CHECK_CLOSE(step.weights.head(i), expected_w.row(i * tq + t), tol);
        }
        const auto beams = attn::attend(memory, q);
        ATTN_CHECK_CLOSE(beams.output, f.matrix("output" + s), tol);
        ATTN_CHECK_CLOSE(beams.weights.mean(), f.matrix("mean_weights" + s), tol);
        ++cross_cases;
      } else if (self && f.str("mask") == "causal" && f.integer("mask_a") == 0 && !f.has("lengths")) {
        // Causal self-attention: one position appended and attended per step.
        attn::KVCache<Scalar> cache(params);
        for (Index t = 0; t < tq; ++t) {
          cache.append(q.row(t));
          const auto step = attn::attend(cache, q.row(t));
          ATTN_CHECK_CLOSE(step.output, f.matrix("output" + s).row(t), tol);
          for (Index i = 0; i < h; ++i)
            ATTN_CHECK_CLOSE(step.weights.head(i), expected_w.row(i * tq + t).head(t + 1), tol);
        }
        ++self_cases;
      }
    }
  }
  CHECK(cross_cases >= 6);  // h1, h4, h8 (two of them, one with 4 beams and D = 64): two items each
  CHECK(self_cases >= 2);
}

// --- Keras' MultiHeadAttention: key_dim, value_dim and output_shape of its own -----------------

// The layer's kernels as docs/05 maps them: each reshaped in C order to 2-D (the fixture holds
// them so), the biases as rows; no scale option (attn's default 1/sqrt(dh) is Keras' 1/sqrt(key_dim)).
template <typename Scalar>
attn::MultiHeadParams<Scalar> keras_params(const Fixture& f) {
  attn::MultiHeadParams<Scalar> p;
  p.wq = f.matrix("query_kernel").cast<Scalar>();
  p.wk = f.matrix("key_kernel").cast<Scalar>();
  p.wv = f.matrix("value_kernel").cast<Scalar>();
  p.wo = f.matrix("output_kernel").cast<Scalar>();
  if (f.integer("bias") != 0) {
    p.bq = f.matrix("query_bias").cast<Scalar>();
    p.bk = f.matrix("key_bias").cast<Scalar>();
    p.bv = f.matrix("value_bias").cast<Scalar>();
    p.bo = f.matrix("output_bias").cast<Scalar>();
  }
  p.heads = f.integer("heads");
  if (f.ints.count("kv_heads") != 0) p.kv_heads = f.integer("kv_heads");  // GroupQueryAttention
  return p;
}

TEMPLATE_TEST_CASE("multi_head matches Keras' MultiHeadAttention with its own key_dim, value_dim and output_shape, "
                   "and GroupQueryAttention",
                   "[multi_head][parity][keras]", float, double) {
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  const std::vector<std::string> cases = fixture_cases("keras_mha");
  REQUIRE(cases.size() >= 9);
  Index steps_checked = 0;
  Index grouped = 0;
  for (const std::string& name : cases) {
    INFO("case " << name);
    const Fixture f = read_fixture(name, "keras_mha");
    const auto p = keras_params<Scalar>(f);
    const Index h = p.heads;
    const MatrixD& expected = f.matrix("output");
    const MatrixD& expected_w = f.matrix("weights");
    CHECK(p.head_dim() == f.integer("key_dim"));
    CHECK(p.value_head_dim() == f.integer("value_dim"));
    CHECK(p.output_dim() == expected.cols());
    if (f.ints.count("kv_heads") != 0) {  // g key/value heads, each read by h/g query heads
      CHECK(p.key_value_heads() == f.integer("kv_heads"));
      CHECK(p.wk.cols() == p.key_value_heads() * p.head_dim());
      grouped += p.key_value_heads() < h ? 1 : 0;
    }
    const bool self = f.integer("self") != 0;
    const Mat<Scalar> q = f.matrix("q").cast<Scalar>();
    const Mat<Scalar> k = self ? q : Mat<Scalar>(f.matrix("k").cast<Scalar>());
    const Mat<Scalar> v = self ? q : Mat<Scalar>(f.matrix("v").cast<Scalar>());
    const Index tq = q.rows();
    attn::Mask mask;
    if (f.str("mask") != "none") mask = attn::Mask::matrix(f.matrix("visible").array() != 0.0);

    const auto r = attn::multi_head(q, k, v, p, mask);
    ATTN_CHECK_CLOSE(r.output, expected, tol);
    REQUIRE(r.weights.heads() == h);
    for (Index i = 0; i < h; ++i) {
      INFO("head " << i);
      ATTN_CHECK_CLOSE(r.weights.head(i), expected_w.middleRows(i * tq, tq), tol);
    }
    CHECK(r.num_fully_masked() == 0);

    // Output only and a batch of two: the same bits.
    const attn::MultiHeadOutput<Scalar> none = attn::multi_head(q, k, v, p, attn::no_weights, mask);
    CHECK(bitwise_equal(none.output, r.output));
    const std::vector<Mat<Scalar>> qs{q, q}, ks{k, k}, vs{v, v};
    const auto batch = attn::multi_head_batch(qs, ks, vs, p, {mask, mask});
    CHECK(same_result(batch[1], r));

    // Every query fully masked: zero weights and the output row bo (zeros without bias), O wide.
    const auto hidden = attn::multi_head(q, k, v, p, attn::Mask::key_length(0));
    CHECK(hidden.num_fully_masked() == tq);
    for (Index t = 0; t < tq; ++t) {
      if (p.bo.size() != 0) {
        CHECK(bitwise_equal(Mat<Scalar>(hidden.output.row(t)), Mat<Scalar>(p.bo)));
      } else {
        CHECK(hidden.output.row(t).isZero(0));
      }
    }

    // Decoder steps: a prepared source (each row, then all rows as beams), or a growing cache.
    if (!self && f.str("mask") == "none") {
      const auto memory = attn::prepare_memory(k, v, p);
      CHECK(memory.output_dim() == expected.cols());
      for (Index t = 0; t < tq; ++t) {
        const auto step = attn::attend(memory, q.row(t));
        ATTN_CHECK_CLOSE(step.output, expected.row(t), tol);
        for (Index i = 0; i < h; ++i) ATTN_CHECK_CLOSE(step.weights.head(i), expected_w.row(i * tq + t), tol);
      }
      const auto beams = attn::attend(memory, q);
      ATTN_CHECK_CLOSE(beams.output, expected, tol);
      ++steps_checked;
    } else if (self && f.str("mask") == "causal") {
      attn::KVCache<Scalar> cache(p);
      for (Index t = 0; t < tq; ++t) {
        cache.append(q.row(t));
        const auto step = attn::attend(cache, q.row(t));
        ATTN_CHECK_CLOSE(step.output, expected.row(t), tol);
        for (Index i = 0; i < h; ++i)
          ATTN_CHECK_CLOSE(step.weights.head(i), expected_w.row(i * tq + t).head(t + 1), tol);
      }
      CHECK(cache.keys(0).cols() == p.key_value_heads() * p.head_dim());  // g heads' keys, not h
      CHECK(cache.values(0).cols() == p.key_value_heads() * p.value_head_dim());
      ++steps_checked;
    }
  }
  CHECK(steps_checked >= 7);
  CHECK(grouped == 4);
}

TEMPLATE_TEST_CASE("Keras' attention_axes on an image: the attended axes flattened in C order, the others a batch",
                   "[multi_head][parity][keras]", float, double) {
  // make_keras_mha_fixtures.py writes the layer with the axes kept (scores over both spatial
  // axes, the softmax over the key axes jointly). attn: attention_axes=(1, 2) is one sequence of
  // the A1·A2 positions in C order; (2,) makes each row of the image an item of A2 positions, (1,)
  // each column an item of A1 positions (rows y, y + A2, ...), as docs/05 says.
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  Index checked = 0;
  for (const std::string& name : fixture_cases("keras_mha_axes")) {
    INFO("case " << name);
    const Fixture f = read_fixture(name, "keras_mha_axes");
    const auto p = keras_params<Scalar>(f);
    const Index h = p.heads, a1 = f.integer("a1"), a2 = f.integer("a2");
    const std::string axes = f.str("axes");
    const Mat<Scalar> x = f.matrix("x").cast<Scalar>();  // (A1·A2)×d, position x·A2 + y
    const MatrixD& expected = f.matrix("output");
    const MatrixD& expected_w = f.matrix("weights");
    if (axes == "12") {
      const auto r = attn::multi_head(x, p);
      ATTN_CHECK_CLOSE(r.output, expected, tol);
      for (Index i = 0; i < h; ++i) ATTN_CHECK_CLOSE(r.weights.head(i), expected_w.middleRows(i * a1 * a2, a1 * a2), tol);
      // Along one axis only, it is not the same attention.
      const std::vector<Mat<Scalar>> rows_only = {x.topRows(a2)};
      CHECK_FALSE(attn::multi_head_batch(rows_only, rows_only, rows_only, p)[0].output.isApprox(
          expected.topRows(a2).cast<Scalar>(), Scalar(1e-3)));
    } else {
      const bool along_rows = axes == "2";  // items: image rows (axes 2) or columns (axes 1)
      const Index items = along_rows ? a1 : a2;
      const Index length = along_rows ? a2 : a1;
      const auto position = [&](Index item, Index t) { return along_rows ? item * a2 + t : t * a2 + item; };
      std::vector<Mat<Scalar>> xs;
      for (Index b = 0; b < items; ++b) {
        Mat<Scalar> xb(length, x.cols());
        for (Index t = 0; t < length; ++t) xb.row(t) = x.row(position(b, t));
        xs.push_back(xb);
      }
      const auto batch = attn::multi_head_batch(xs, xs, xs, p);
      for (Index b = 0; b < items; ++b) {
        INFO("item " << b);
        const auto& item = batch[static_cast<std::size_t>(b)];
        for (Index t = 0; t < length; ++t) ATTN_CHECK_CLOSE(item.output.row(t), expected.row(position(b, t)), tol);
        for (Index i = 0; i < h; ++i)
          ATTN_CHECK_CLOSE(item.weights.head(i), expected_w.middleRows((b * h + i) * length, length), tol);
      }
    }
    ++checked;
  }
  CHECK(checked == 3);
}

// --- rotary position embeddings (attn::apply_rotary) and a LLaMA attention layer ---------------

attn::Rotary fixture_rotary(const Fixture& f, Index dims) {
  attn::Rotary r;
  r.dims = dims;
  r.base = std::stod(f.str("base"));
  if (f.ints.count("interleaved") != 0 && f.integer("interleaved") != 0) r.pairs = attn::RotaryPairs::interleaved;
  if (f.has("frequencies")) {
    const MatrixD& m = f.matrix("frequencies");
    r.frequencies.assign(m.data(), m.data() + m.size());
  }
  return r;
}

TEMPLATE_TEST_CASE("apply_rotary rotates pairs of columns as complex numbers (float64 fixtures)",
                   "[rotary][parity]", float, double) {
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  Index rotations = 0;
  for (const std::string& name : fixture_cases("rotary")) {
    const Fixture f = read_fixture(name, "rotary");
    if (f.str("kind") != "rotation") continue;
    INFO("case " << name);
    const Index dh = f.integer("head_dim");
    const Index first = f.integer("first_position");
    const attn::Rotary rope = fixture_rotary(f, f.integer("dims"));
    const Mat<Scalar> x = f.matrix("x").cast<Scalar>();
    Mat<Scalar> y = x;
    attn::apply_rotary(y, dh, rope, first);
    ATTN_CHECK_CLOSE(y, f.matrix("expected"), tol);
    // Columns from dims on are not touched.
    const Index dims = rope.dims == 0 ? dh : rope.dims;
    for (Index i = 0; i < x.cols() / dh; ++i)
      CHECK(bitwise_equal(Mat<Scalar>(y.middleCols(i * dh + dims, dh - dims)),
                          Mat<Scalar>(x.middleCols(i * dh + dims, dh - dims))));
    // Row by row at its own position (a decoding step), and a block of a wider matrix: the same bits.
    for (Index r = 0; r < x.rows(); ++r) {
      Mat<Scalar> row = x.row(r);
      attn::apply_rotary(row, dh, rope, first + r);
      CHECK(bitwise_equal(row, Mat<Scalar>(y.row(r))));
    }
    Mat<Scalar> wide = Mat<Scalar>::Zero(x.rows() + 2, x.cols() + 3);
    wide.block(1, 2, x.rows(), x.cols()) = x;
    attn::apply_rotary(wide.block(1, 2, x.rows(), x.cols()), dh, rope, first);
    CHECK(bitwise_equal(Mat<Scalar>(wide.block(1, 2, x.rows(), x.cols())), y));
    CHECK(wide.col(0).isZero(0));
    ++rotations;
  }
  CHECK(rotations == 6);
}

TEMPLATE_TEST_CASE("a LLaMA attention layer (RoPE, grouped key/value heads, causal, Qwen3's, Gemma 3's and Cohere's q/k norms, "
                   "Gemma 2's softcap and window, BLOOM's ALiBi) from apply_rotary and scaled_dot_product gives "
                   "transformers' numbers",
                   "[rotary][grouped][parity]", float, double) {
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  Index layers = 0;
  Index normed_layers = 0;
  Index capped_layers = 0;
  Index alibi_layers = 0;
  for (const std::string& name : fixture_cases("rotary")) {
    const Fixture f = read_fixture(name, "rotary");
    if (f.str("kind") != "layer") continue;
    INFO("case " << name);
    const Index h = f.integer("heads"), g = f.integer("kv_heads"), dh = f.integer("head_dim");
    const attn::Rotary rope = fixture_rotary(f, 0);
    const bool rotated = rope.base != 0.0;  // BLOOM: no rotation, ALiBi's slopes instead
    std::vector<double> slopes;
    if (f.has("slopes")) {
      const MatrixD& m = f.matrix("slopes");
      slopes.assign(m.data(), m.data() + m.size());
      const std::vector<double> bloom = attn::alibi_slopes(h);  // transformers' build_alibi_tensor
      REQUIRE(bloom.size() == slopes.size());
      for (std::size_t i = 0; i < bloom.size(); ++i) CHECK(bloom[i] == slopes[i]);
    }
    const Mat<Scalar> x = f.matrix("x").cast<Scalar>();
    const Index t = x.rows();
    // Qwen3 and Gemma 3: an RMSNorm of each head's queries and keys (Gemma 3's scales by 1 +
    // weight); OLMo 2: of all heads' at once. Llama 4: a weightless L2 norm of each head after
    // the rotation, which attn does before it with a weight of ones: the same numbers, as the
    // rotation keeps each head's sum of squares.
    const Index chunk = f.ints.count("chunk") != 0 ? f.integer("chunk") : 0;  // Llama 4's attention_chunk_size
    const bool normed = f.has("q_norm") || chunk > 0;
    const bool all_heads = f.ints.count("all_heads") != 0;
    attn::HeadNorm<Scalar> q_norm, k_norm;
    if (chunk > 0) {
      q_norm.weight = k_norm.weight = attn::RowVector<Scalar>::Ones(dh);
      q_norm.eps = k_norm.eps = std::stod(f.str("eps"));
    } else if (normed) {
      q_norm.weight = f.matrix("q_norm").cast<Scalar>();
      k_norm.weight = f.matrix("k_norm").cast<Scalar>();
      q_norm.eps = k_norm.eps = std::stod(f.str("eps"));
      q_norm.one_plus = k_norm.one_plus = f.integer("one_plus") != 0;
      q_norm.all_heads = k_norm.all_heads = all_heads;
      // Cohere: a LayerNorm of each head, its weight a row per head (h×dh, g×dh).
      q_norm.subtract_mean = k_norm.subtract_mean = f.ints.count("subtract_mean") != 0;
    }
    // Gemma 2: its own scale (query_pre_attn_scalar^-1/2), the scores' soft cap, and in its
    // sliding layers a window of `window` keys (itself and the window - 1 before it).
    const bool capped = f.strs.count("softcap") != 0;
    attn::Options options;
    Index window = 0;
    if (capped) {
      options.scale = std::stod(f.str("scale"));
      options.softcap = std::stod(f.str("softcap"));
      window = f.integer("window");
    }
    const attn::Mask mask = window > 0  ? attn::Mask::causal() & attn::Mask::window(window - 1, 0)
                            : chunk > 0 ? attn::Mask::causal() & attn::Mask::chunked(chunk)
                                        : attn::Mask::causal();
    // transformers' Linear weights are out×in: x·Wᵀ.
    Mat<Scalar> q = x * f.matrix("q_proj").cast<Scalar>().transpose();  // T×(h·dh)
    Mat<Scalar> k = x * f.matrix("k_proj").cast<Scalar>().transpose();  // T×(g·dh)
    const Mat<Scalar> v = x * f.matrix("v_proj").cast<Scalar>().transpose();
    if (normed) {  // before the rotation, as transformers
      attn::apply_head_norm(q, dh, q_norm);
      attn::apply_head_norm(k, dh, k_norm);
    }
    if (rotated) {
      attn::apply_rotary(q, dh, rope);  // positions 0..T-1
      attn::apply_rotary(k, dh, rope);
    }
    Mat<Scalar> concat(t, h * dh);
    const MatrixD& expected_w = f.matrix("weights");
    for (Index i = 0; i < h; ++i) {
      INFO("head " << i);
      const Index j = i / (h / g);  // its key/value head
      attn::Options head = options;
      if (!slopes.empty()) head.alibi = attn::Alibi{slopes[static_cast<std::size_t>(i)], 0};
      const auto r = attn::scaled_dot_product(q.middleCols(i * dh, dh), k.middleCols(j * dh, dh),
                                              v.middleCols(j * dh, dh), mask, head);
      ATTN_CHECK_CLOSE(r.weights, expected_w.middleRows(i * t, t), tol);
      concat.middleCols(i * dh, dh) = r.output;
    }
    const Mat<Scalar> out = concat * f.matrix("o_proj").cast<Scalar>().transpose();
    ATTN_CHECK_CLOSE(out, f.matrix("output"), tol);

    // The same layer in one call: MultiHeadParams with kv_heads and rotary.
    attn::MultiHeadParams<Scalar> p;
    p.wq = f.matrix("q_proj").cast<Scalar>().transpose();
    p.wk = f.matrix("k_proj").cast<Scalar>().transpose();
    p.wv = f.matrix("v_proj").cast<Scalar>().transpose();
    p.wo = f.matrix("o_proj").cast<Scalar>().transpose();
    p.heads = h;
    p.kv_heads = g;
    if (rotated) p.rotary = rope;
    p.alibi = slopes;
    if (normed) {
      p.q_norm = q_norm;
      p.k_norm = k_norm;
    }
    const auto r = attn::multi_head(x, p, mask, options);
    ATTN_CHECK_CLOSE(r.output, f.matrix("output"), tol);
    for (Index i = 0; i < h; ++i) ATTN_CHECK_CLOSE(r.weights.head(i), expected_w.middleRows(i * t, t), tol);
    const attn::MultiHeadOutput<Scalar> none = attn::multi_head(x, x, x, p, attn::no_weights, mask, options);
    CHECK(bitwise_equal(none.output, r.output));
    // Without the rotation (BLOOM: without ALiBi) the numbers are not transformers': the test sees it.
    auto plain = p;
    plain.rotary.reset();
    plain.alibi.clear();
    CHECK_FALSE(attn::multi_head(x, plain, mask, options).output.isApprox(r.output, Scalar(1e-3)));
    if (normed) {  // nor without either norm
      for (const bool queries : {true, false}) {
        auto one = p;
        (queries ? one.q_norm : one.k_norm).reset();
        CHECK_FALSE(attn::multi_head(x, one, mask, options).output.isApprox(r.output, Scalar(1e-3)));
      }
    }
    if (all_heads) {  // nor with OLMo 2's norms taken per head (the first head's weights)
      auto per_head = p;
      per_head.q_norm->all_heads = per_head.k_norm->all_heads = false;
      per_head.q_norm->weight = q_norm.weight.leftCols(dh);
      per_head.k_norm->weight = k_norm.weight.leftCols(dh);
      CHECK_FALSE(attn::multi_head(x, per_head, mask, options).output.isApprox(r.output, Scalar(1e-3)));
    }
    if (q_norm.subtract_mean) {  // nor as RMSNorms, nor with the first head's row for every head
      auto rms = p;
      rms.q_norm->subtract_mean = rms.k_norm->subtract_mean = false;
      CHECK_FALSE(attn::multi_head(x, rms, mask, options).output.isApprox(r.output, Scalar(1e-3)));
      auto shared = p;
      shared.q_norm->weight = q_norm.weight.topRows(1);
      shared.k_norm->weight = k_norm.weight.topRows(1);
      CHECK_FALSE(attn::multi_head(x, shared, mask, options).output.isApprox(r.output, Scalar(1e-3)));
    }
    if (chunk > 0)  // nor without the chunks
      CHECK_FALSE(attn::multi_head(x, p, attn::Mask::causal(), options).output.isApprox(r.output, Scalar(1e-3)));
    if (capped) {  // nor without the cap
      attn::Options uncapped = options;
      uncapped.softcap.reset();
      CHECK_FALSE(attn::multi_head(x, p, mask, uncapped).output.isApprox(r.output, Scalar(1e-3)));
    }

    // Decoding token by token: the cache rotates each key at its position, the query at the last.
    attn::KVCache<Scalar> cache(p, 1, 2);
    cache.set_window(window);
    cache.set_attention_chunk(chunk);
    for (Index s = 0; s < t; ++s) {
      INFO("step " << s);
      cache.append(x.row(s));
      const auto step = attn::attend(cache, x.row(s), options);
      ATTN_CHECK_CLOSE(step.output, f.matrix("output").row(s), tol);
      for (Index i = 0; i < h; ++i)
        ATTN_CHECK_CLOSE(step.weights.head(i), expected_w.row(i * t + s).head(s + 1), tol);
    }
    ATTN_CHECK_CLOSE(cache.keys(0), k, tol);  // the rotated keys, g heads

    // The prompt in chunks of several positions (a prefill, then more): each chunk's queries at
    // their positions, as transformers' forward with past_key_values.
    for (const Index first : {Index(1), Index(3), t}) {
      INFO("first chunk " << first);
      attn::KVCache<Scalar> chunked(p);
      chunked.set_window(window);
      chunked.set_attention_chunk(chunk);
      for (Index at = 0; at < t;) {
        const Index n = at == 0 ? first : t - at;
        chunked.append(x.middleRows(at, n));
        const auto part = attn::attend(chunked, x.middleRows(at, n), options);
        ATTN_CHECK_CLOSE(part.output, f.matrix("output").middleRows(at, n), tol);
        for (Index i = 0; i < h; ++i)
          ATTN_CHECK_CLOSE(part.weights.head(i), expected_w.block(i * t + at, 0, n, at + n), tol);
        at += n;
      }
      ATTN_CHECK_CLOSE(chunked.keys(0), k, tol);
    }
    ++layers;
    normed_layers += normed ? 1 : 0;
    capped_layers += capped ? 1 : 0;
    alibi_layers += slopes.empty() ? 0 : 1;
  }
  CHECK(layers == 9);
  CHECK(alibi_layers == 1);
  CHECK(normed_layers == 5);
  CHECK(capped_layers == 1);
}

TEMPLATE_TEST_CASE("BERT's and GPT-2's attention layers (bertviz's models) and a ViT's with q/k LayerNorms are one "
                   "multi_head call each",
                   "[multi_head][parity][hf]", float, double) {
  // Written in torch float64 as transformers computes them (make_hf_fixtures.py): BERT's query,
  // key, value and output.dense Linear layers over a padded batch, GPT-2's fused Conv1D c_attn
  // (in×out: its transpose is torch's in_proj_weight) with the causal mask, and c_proj; timm's
  // ViT Attention(qk_norm=True): its qkv Linear (torch's in_proj layout), a LayerNorm with
  // weight and bias of each head's queries and keys, no mask, proj.
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  Index berts = 0;
  Index gpt2s = 0;
  Index vits = 0;
  for (const std::string& name : fixture_cases("hf_layers")) {
    const Fixture f = read_fixture(name, "hf_layers");
    INFO("case " << name);
    const Index h = f.integer("heads");
    const std::string kind = f.str("kind");
    const bool bert = kind == "bert";
    const bool vit = kind == "vit";
    const auto m = [&f](const std::string& key) { return Mat<Scalar>(f.matrix(key).cast<Scalar>()); };
    attn::MultiHeadParams<Scalar> p;
    if (bert) {  // attention.self.{query,key,value}, attention.output.dense
      const Index d = f.matrix("query_bias").cols();
      Mat<Scalar> in_bias(1, 3 * d);
      in_bias << m("query_bias"), m("key_bias"), m("value_bias");
      p = attn::MultiHeadParams<Scalar>::from_torch_separate(m("query_weight"), m("key_weight"), m("value_weight"),
                                                             in_bias, m("dense_weight"), m("dense_bias"), h);
    } else if (vit) {  // attn.qkv, attn.q_norm, attn.k_norm, attn.proj
      p = attn::MultiHeadParams<Scalar>::from_torch(m("qkv_weight"), m("qkv_bias"), m("proj_weight"), m("proj_bias"), h);
      const double eps = std::stod(f.str("eps"));
      p.q_norm = attn::HeadNorm<Scalar>{m("q_norm_weight"), eps};
      p.q_norm->subtract_mean = true;
      p.q_norm->bias = m("q_norm_bias");
      p.k_norm = attn::HeadNorm<Scalar>{m("k_norm_weight"), eps};
      p.k_norm->subtract_mean = true;
      p.k_norm->bias = m("k_norm_bias");
    } else {  // attn.c_attn and attn.c_proj, Conv1D weights in×out
      p = attn::MultiHeadParams<Scalar>::from_torch(m("c_attn_weight").transpose(), m("c_attn_bias"),
                                                    m("c_proj_weight").transpose(), m("c_proj_bias"), h);
    }
    std::vector<Mat<Scalar>> xs;
    std::vector<attn::Mask> masks;
    for (Index b = 0; b < f.integer("batch"); ++b) {
      INFO("item " << b);
      const std::string s = "." + std::to_string(b);
      xs.push_back(m("x" + s));
      const Index t = xs.back().rows();
      // BERT: the padded keys hidden (its extended attention mask), every query row kept; GPT-2:
      // causal; ViT: none.
      masks.push_back(bert ? attn::Mask::key_length(f.integer("length" + s)) : vit ? attn::Mask() : attn::Mask::causal());
      const auto r = attn::multi_head(xs.back(), p, masks.back());
      ATTN_CHECK_CLOSE(r.output, f.matrix("output" + s), tol);
      for (Index i = 0; i < h; ++i) ATTN_CHECK_CLOSE(r.weights.head(i), f.matrix("weights" + s).middleRows(i * t, t), tol);
    }
    // The padded batch in one call, each item with its own mask.
    const auto batch = attn::multi_head_batch(xs, xs, xs, p, masks);
    for (std::size_t b = 0; b < xs.size(); ++b)
      ATTN_CHECK_CLOSE(batch[b].output, f.matrix("output." + std::to_string(b)), tol);
    // Without the mask (ViT: without the norms' means or biases) the numbers are not the
    // model's: the test sees it.
    const auto differs = [&](const attn::MultiHeadParams<Scalar>& other, const attn::Mask& mask) {
      return !attn::multi_head(xs.back(), other, mask).output.isApprox(m("output." + std::to_string(xs.size() - 1)),
                                                                        Scalar(1e-3));
    };
    if (vit) {
      auto rms = p;
      rms.q_norm->subtract_mean = rms.k_norm->subtract_mean = false;
      CHECK(differs(rms, attn::Mask()));
      auto unbiased = p;
      unbiased.q_norm->bias.resize(0, 0);
      unbiased.k_norm->bias.resize(0, 0);
      CHECK(differs(unbiased, attn::Mask()));
    } else {
      CHECK(differs(p, attn::Mask()));
    }
    (bert ? berts : vit ? vits : gpt2s) += 1;
  }
  CHECK(berts == 1);
  CHECK(gpt2s == 1);
  CHECK(vits == 1);
}

TEMPLATE_TEST_CASE("params.alibi: BLOOM's slopes, one per head, and errors that name the field",
                   "[multi_head][alibi][errors]", float, double) {
  using Scalar = TestType;
  // Powers of two: 2^(-8/h), its powers (MPT's and BLOOM's for 8 heads: 1/2 … 1/256).
  const std::vector<double> eight = attn::alibi_slopes(8);
  REQUIRE(eight.size() == 8);
  for (std::size_t i = 0; i < 8; ++i) CHECK(eight[i] == std::ldexp(1.0, -static_cast<int>(i + 1)));
  CHECK(attn::alibi_slopes(1) == std::vector<double>{1.0 / 256});
  // 12 heads: the 8 of 2^(-1) … then 2^(-1/2)'s odd powers, 4 of them.
  const std::vector<double> twelve = attn::alibi_slopes(12);
  REQUIRE(twelve.size() == 12);
  for (std::size_t i = 0; i < 4; ++i) CHECK(twelve[8 + i] == Approx(std::pow(2.0, -0.5 * static_cast<double>(2 * i + 1))).epsilon(1e-15));
  CHECK(attn_test::message_of<attn::invalid_argument>([] { attn::alibi_slopes(0); }) ==
        "attn::alibi_slopes: heads (0) must be >= 1");

  std::mt19937_64 rng(3811);
  auto p = to_params<Scalar>(random_params<Scalar>(rng, 4, 16, 12, 12, 12, true));
  const Mat<Scalar> x = attn_test::random_matrix<Scalar>(rng, 5, 12);
  p.alibi = {0.5, 0.25};
  CHECK(attn_test::message_of<attn::invalid_argument>([&] { attn::multi_head(x, p); }) ==
        "attn::multi_head: params.alibi has 2 slopes, not one per head (heads (4))");
  p.alibi = {0.5, 0.25, std::numeric_limits<double>::quiet_NaN(), 0.0};
  CHECK(attn_test::message_of<attn::invalid_argument>([&] { attn::KVCache<Scalar> cache(p); }) ==
        "attn::KVCache: params.alibi[2] (nan) must be finite");
  p.alibi = attn::alibi_slopes(4);
  p.add_zero_attn = true;
  CHECK(attn_test::message_of<attn::invalid_argument>([&] { attn::multi_head(x, p); }) ==
        "attn::multi_head: params.alibi with params.bias_k or params.add_zero_attn: the appended keys have no "
        "position to bias by");
  p.add_zero_attn = false;
  // Each head: scaled_dot_product with Options::alibi, its slope, from position 0.
  const auto r = attn::multi_head(x, p, attn::Mask::causal());
  for (Index i = 0; i < 4; ++i) {
    attn::Options head;
    head.alibi = attn::Alibi{p.alibi[static_cast<std::size_t>(i)], 0};
    const Mat<Scalar> qh = x * p.wq.middleCols(i * 4, 4) + Mat<Scalar>::Ones(5, 1) * p.bq.segment(i * 4, 4);
    const Mat<Scalar> kh = x * p.wk.middleCols(i * 4, 4) + Mat<Scalar>::Ones(5, 1) * p.bk.segment(i * 4, 4);
    const Mat<Scalar> vh = x * p.wv.middleCols(i * 4, 4) + Mat<Scalar>::Ones(5, 1) * p.bv.segment(i * 4, 4);
    ATTN_CHECK_CLOSE(r.weights.head(i), attn::scaled_dot_product(qh, kh, vh, attn::Mask::causal(), head).weights,
                     attn_test::tolerance<Scalar>());
  }
}

TEMPLATE_TEST_CASE("q_norm and k_norm: a prepared memory's steps and a cache's equal the multi_head call",
                   "[multi_head][head_norm][decoding]", float, double) {
  // Cross-attention normalises the source's keys once (prepare_memory) and each step's queries;
  // the cache each appended key and each step's queries, before the scale: the numbers of the
  // full call, within rounding. Per head (Qwen3, Gemma 3), over all heads (OLMo 2), and per head
  // as a LayerNorm with a weight row and a bias row per head (Cohere's weights, Chameleon's bias).
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  const int kind = GENERATE(0, 1, 2);  // 0 per head, 1 all heads, 2 LayerNorm with per-head rows
  const bool all_heads = kind == 1;
  const bool layer = kind == 2;
  INFO("kind " << kind);
  std::mt19937_64 rng(3707);
  auto p = to_params<Scalar>(random_params<Scalar>(rng, 4, 16, 12, 10, 10, true));
  attn::HeadNorm<Scalar> qn, kn;
  const Index width = all_heads ? 16 : 4;  // weights for a head, or for the 4 heads
  const Index rows = layer ? 4 : 1;       // a row per head, or one for all
  qn.weight = attn_test::random_matrix<Scalar>(rng, rows, width, 0.5, 1.5);
  kn.weight = attn_test::random_matrix<Scalar>(rng, rows, width, -0.5, 0.5);
  kn.one_plus = true;
  kn.eps = 1e-3;
  qn.all_heads = kn.all_heads = all_heads;
  qn.subtract_mean = kn.subtract_mean = layer;
  if (layer) {
    qn.bias = attn_test::random_matrix<Scalar>(rng, 1, width, -0.5, 0.5);  // shared
    kn.bias = attn_test::random_matrix<Scalar>(rng, rows, width, -0.5, 0.5);  // per head
  }
  p.q_norm = qn;
  p.k_norm = kn;
  const Mat<Scalar> q = attn_test::random_matrix<Scalar>(rng, 5, 12, -2, 2);
  const Mat<Scalar> k = attn_test::random_matrix<Scalar>(rng, 7, 10, -2, 2);
  const auto full = attn::multi_head(q, k, k, p, attn::Mask::key_length(6));
  const auto memory = attn::prepare_memory(k, k, p, 6);
  const auto steps = attn::attend(memory, q);
  ATTN_CHECK_CLOSE(steps.output, full.output, tol);
  for (Index i = 0; i < 4; ++i) ATTN_CHECK_CLOSE(steps.weights.head(i), full.weights.head(i), tol);
  // The memory's keys are the normalised projections: K·Wk + bk, each head (each row) less its
  // mean (LayerNorm), divided by its root mean square, scaled by its row of weights and shifted
  // by its row of biases.
  Mat<Scalar> keys = k * p.wk;
  keys.rowwise() += p.bk;
  for (Index r = 0; r < keys.rows(); ++r)
    for (Index c0 = 0; c0 < 16; c0 += width) {
      const Index head = layer ? c0 / width : 0;
      const Eigen::RowVectorXd part = keys.row(r).segment(c0, width).template cast<double>();
      const double mean = layer ? part.mean() : 0.0;
      const double rms = std::sqrt((part.array() - mean).square().sum() / static_cast<double>(width) + kn.eps);
      for (Index j = 0; j < width; ++j) {
        double y = (part(j) - mean) / rms * (1.0 + static_cast<double>(kn.weight(head, j)));
        if (layer) y += static_cast<double>(kn.bias(head, j));
        keys(r, c0 + j) = static_cast<Scalar>(y);
      }
    }
  ATTN_CHECK_CLOSE(memory.keys(), keys, tol);
  Mat<Scalar> applied = k * p.wk;
  applied.rowwise() += p.bk;
  attn::apply_head_norm(applied, 4, kn);
  ATTN_CHECK_CLOSE(applied, keys, tol);

  // Self-attention through a cache, a prompt of 3 and then a step per position.
  const Mat<Scalar> x = attn_test::random_matrix<Scalar>(rng, 6, 12, -2, 2);
  auto self = to_params<Scalar>(random_params<Scalar>(rng, 4, 16, 12, 12, 12, false));
  if (all_heads) {  // with 2 key/value heads: the keys' norm spans their 8 columns
    self.kv_heads = 2;
    self.wk = self.wk.leftCols(8).eval();
    self.wv = self.wv.leftCols(8).eval();
  }
  self.q_norm = qn;
  self.k_norm = kn;
  if (all_heads) self.k_norm->weight = kn.weight.leftCols(8);
  if (layer) {  // 2 key/value heads (rows 2 and 3: a head's own row must be read, not the first)
    self.kv_heads = 2;
    self.wk = self.wk.rightCols(8).eval();
    self.wv = self.wv.rightCols(8).eval();
    self.k_norm->weight = kn.weight.bottomRows(2);
    self.k_norm->bias = kn.bias.bottomRows(2);
  }
  const auto causal = attn::multi_head(x, self, attn::Mask::causal());
  attn::KVCache<Scalar> cache(self);
  cache.append(x.topRows(3));
  const auto prompt = attn::attend(cache, x.topRows(3));
  ATTN_CHECK_CLOSE(prompt.output, causal.output.topRows(3), tol);
  for (Index s = 3; s < 6; ++s) {
    cache.append(x.row(s));
    const auto step = attn::attend(cache, x.row(s));
    ATTN_CHECK_CLOSE(step.output, causal.output.row(s), tol);
    for (Index i = 0; i < 4; ++i) ATTN_CHECK_CLOSE(step.weights.head(i), causal.weights.head(i).row(s).head(s + 1), tol);
  }
  // A batch of items of other lengths (each item's heads projected at once into its own
  // scratch with all_heads): each item as its own call.
  const std::vector<Mat<Scalar>> items = {x, x.topRows(2), attn_test::random_matrix<Scalar>(rng, 9, 12, -2, 2)};
  const auto batch = attn::multi_head_batch(items, items, items, self, {attn::Mask::causal(), attn::Mask(), attn::Mask::causal()});
  for (std::size_t b = 0; b < items.size(); ++b) {
    INFO("item " << b);
    const auto one = attn::multi_head(items[b], self, b == 1 ? attn::Mask() : attn::Mask::causal());
    ATTN_CHECK_CLOSE(batch[b].output, one.output, tol);
    for (Index i = 0; i < 4; ++i) ATTN_CHECK_CLOSE(batch[b].weights.head(i), one.weights.head(i), tol);
  }
  // And one without the query norm is not the same layer.
  auto no_q = self;
  no_q.q_norm.reset();
  CHECK_FALSE(attn::multi_head(x, no_q, attn::Mask::causal()).output.isApprox(causal.output, Scalar(1e-3)));
}

TEMPLATE_TEST_CASE("a norm over all heads is the per-head norm when there is one head",
                   "[multi_head][head_norm]", float, double) {
  // One key/value head (g = 1): k_norm over all key heads is k_norm of that head, with torch's
  // appended keys (not normalised) and a mask; one head (h = 1): q_norm likewise. The all-heads
  // form projects an item's heads at once (its own tasks): the same numbers.
  using Scalar = TestType;
  const double tol = attn_test::tolerance<Scalar>();
  std::mt19937_64 rng(3709);
  const Mat<Scalar> x = attn_test::random_matrix<Scalar>(rng, 6, 12, -2, 2);
  const Mat<Scalar> k = attn_test::random_matrix<Scalar>(rng, 9, 12, -2, 2);
  for (const Index h : {Index(1), Index(4)}) {
    INFO("heads " << h);
    auto p = to_params<Scalar>(random_params<Scalar>(rng, h, 16, 12, 12, 12, true));
    p.kv_heads = 1;
    p.wk = p.wk.leftCols(16 / h).eval();
    p.wv = p.wv.leftCols(16 / h).eval();
    p.bk = p.bk.head(16 / h).eval();
    p.bv = p.bv.head(16 / h).eval();
    p.bias_k = attn_test::random_matrix<Scalar>(rng, 1, 16 / h);
    p.bias_v = attn_test::random_matrix<Scalar>(rng, 1, 16 / h);
    p.add_zero_attn = true;
    p.q_norm = attn::HeadNorm<Scalar>{attn_test::random_matrix<Scalar>(rng, 1, 16 / h, 0.5, 1.5), 1e-5};
    p.k_norm = attn::HeadNorm<Scalar>{attn_test::random_matrix<Scalar>(rng, 1, 16 / h, -0.5, 0.5), 1e-5, true};
    const attn::Mask mask = attn::Mask::causal(3) & attn::Mask::key_length(8);
    const auto per_head = attn::multi_head(x, k, k, p, mask);
    auto all = p;
    all.k_norm->all_heads = true;
    all.q_norm->all_heads = h == 1;
    const auto whole = attn::multi_head(x, k, k, all, mask);
    ATTN_CHECK_CLOSE(whole.output, per_head.output, tol);
    for (Index i = 0; i < h; ++i) ATTN_CHECK_CLOSE(whole.weights.head(i), per_head.weights.head(i), tol);
  }
}

TEST_CASE("q_norm, k_norm and apply_head_norm: bad arguments throw with exact messages", "[head_norm][errors]") {
  std::mt19937_64 rng(3708);
  auto p = to_params<double>(random_params<double>(rng, 2, 8, 8, 8, 8, true));
  const MatrixD x = attn_test::random_matrix<double>(rng, 3, 8);
  attn::HeadNorm<double> n;
  n.weight = Eigen::RowVectorXd::Ones(3);
  p.q_norm = n;
  CHECK_THROWS_ATTN(attn::multi_head(x, p),
                    "attn::multi_head: params.q_norm.weight (1x3) must be (1x4) (every head) or (2x4) (one row per head)");
  // A weight as wide as the row without all_heads: the message says what OLMo 2's norm needs.
  n.weight = Eigen::RowVectorXd::Ones(8);
  p.q_norm = n;
  CHECK_THROWS_ATTN(attn::multi_head(x, p),
                    "attn::multi_head: params.q_norm.weight (1x8) must be (1x4) (every head) or (2x4) (one row per "
                    "head); for one norm over all heads at once (OLMo 2) set all_heads");
  p.q_norm->all_heads = true;
  CHECK_NOTHROW(attn::multi_head(x, p));
  // Per-head rows: as many as the row has heads (2 query heads; 1 key/value head with kv_heads 1).
  p.q_norm->all_heads = false;
  p.q_norm->weight = MatrixD::Ones(3, 4);
  CHECK_THROWS_ATTN(attn::multi_head(x, p),
                    "attn::multi_head: params.q_norm.weight (3x4) must be (1x4) (every head) or (2x4) (one row per head)");
  p.q_norm->weight = MatrixD::Ones(2, 4);
  CHECK_NOTHROW(attn::multi_head(x, p));
  p.q_norm->bias = MatrixD::Ones(4, 1);
  CHECK_THROWS_ATTN(attn::multi_head(x, p),
                    "attn::multi_head: params.q_norm.bias (4x1) must be empty, (1x4) (every head) or (2x4) (one row "
                    "per head)");
  p.q_norm->bias = MatrixD::Ones(1, 4);  // a shared bias beside per-head weights
  CHECK_NOTHROW(attn::multi_head(x, p));
  auto one_kv = p;
  one_kv.kv_heads = 1;
  one_kv.wk = p.wk.leftCols(4).eval();
  one_kv.wv = p.wv.leftCols(4).eval();
  one_kv.bk = p.bk.head(4).eval();
  one_kv.bv = p.bv.head(4).eval();
  one_kv.k_norm = attn::HeadNorm<double>{MatrixD::Ones(2, 4)};
  CHECK_THROWS_ATTN(attn::multi_head(x, one_kv),
                    "attn::multi_head: params.k_norm.weight (2x4) must be (1x4) (every head)");
  p.q_norm->all_heads = true;
  p.q_norm->weight = MatrixD::Ones(1, 8);
  CHECK_THROWS_ATTN(attn::multi_head(x, p),
                    "attn::multi_head: params.q_norm.bias (1x4) must be empty or (1x8) with all_heads, one entry per "
                    "column of the row (every head)");
  p.q_norm->bias.resize(0, 0);
  p.q_norm.reset();
  n.all_heads = true;
  n.weight = Eigen::RowVectorXd::Ones(4);
  p.k_norm = n;
  CHECK_THROWS_ATTN(attn::prepare_memory(x, x, p),
                    "attn::prepare_memory: params.k_norm.weight (1x4) must be (1x8) with all_heads, one entry per "
                    "column of the row (every head)");
  MatrixD wide = x;
  CHECK_THROWS_ATTN(attn::apply_head_norm(wide, 4, n),
                    "attn::apply_head_norm: norm.weight (1x4) must be (1x8) with all_heads, one entry per column of "
                    "the row (every head)");
  n.all_heads = false;
  p.k_norm.reset();
  n.eps = -1.0;
  p.k_norm = n;
  CHECK_THROWS_ATTN(attn::KVCache<double>(p), "attn::KVCache: params.k_norm.eps (-1) must be finite and >= 0");
  n.eps = std::numeric_limits<double>::quiet_NaN();
  MatrixD m = x;
  CHECK_THROWS_ATTN(attn::apply_head_norm(m, 4, n), "attn::apply_head_norm: norm.eps (nan) must be finite and >= 0");
  n.eps = 0.0;
  CHECK_THROWS_ATTN(attn::apply_head_norm(m, 3, n),
                    "attn::apply_head_norm: head_dim (3) must be >= 1 and divide x.cols() (8)");
  // eps 0 is allowed: a head of zeros then divides by 0 (NaN, as torch's rsqrt(0)·0 gives).
  attn::apply_head_norm(m, 4, n);
  const double rms = std::sqrt(x.leftCols(4).row(1).squaredNorm() / 4.0);
  ATTN_CHECK_CLOSE(m.block(1, 0, 1, 4), MatrixD(x.block(1, 0, 1, 4) / rms), 1e-12);
}

TEST_CASE("apply_rotary: bad arguments throw with exact messages", "[rotary][errors]") {
  MatrixD x = MatrixD::Ones(3, 8);
  attn::Rotary r;
  CHECK_THROWS_ATTN(attn::apply_rotary(x, 3, r),
                    "attn::apply_rotary: head_dim (3) must be >= 1 and divide x.cols() (8): x holds heads side by side");
  CHECK_THROWS_ATTN(attn::apply_rotary(x, 0, r),
                    "attn::apply_rotary: head_dim (0) must be >= 1 and divide x.cols() (8): x holds heads side by side");
  r.dims = 3;
  CHECK_THROWS_ATTN(attn::apply_rotary(x, 4, r),
                    "attn::apply_rotary: rotary.dims (3) must be even and in [0, head_dim] (4; 0: the whole head)");
  r.dims = 6;
  CHECK_THROWS_ATTN(attn::apply_rotary(x, 4, r),
                    "attn::apply_rotary: rotary.dims (6) must be even and in [0, head_dim] (4; 0: the whole head)");
  r.dims = -2;
  CHECK_THROWS_ATTN(attn::apply_rotary(x, 4, r),
                    "attn::apply_rotary: rotary.dims (-2) must be even and in [0, head_dim] (4; 0: the whole head)");
  r.dims = 0;
  r.frequencies = {1.0};
  CHECK_THROWS_ATTN(attn::apply_rotary(x, 4, r),
                    "attn::apply_rotary: rotary.frequencies holds 1 values; it must hold dims/2 (2) or none");
  r.frequencies = {1.0, std::numeric_limits<double>::quiet_NaN()};
  CHECK_THROWS_ATTN(attn::apply_rotary(x, 4, r),
                    "attn::apply_rotary: rotary.frequencies[1] is nan: the frequencies must be finite");
  r.frequencies.clear();
  r.base = 0;
  CHECK_THROWS_ATTN(attn::apply_rotary(x, 4, r), "attn::apply_rotary: rotary.base (0) must be finite and > 0");
  r.base = 10000;
  CHECK_THROWS_ATTN(attn::apply_rotary(x, 4, r, -1), "attn::apply_rotary: first_position (-1) must be >= 0");
  CHECK(x == MatrixD::Ones(3, 8));  // nothing rotated by a refused call
  attn::apply_rotary(x, 4, r);      // row 0 is position 0: unchanged
  CHECK(x.row(0) == Eigen::RowVectorXd::Ones(8));
  CHECK(x.row(1) != Eigen::RowVectorXd::Ones(8));

  std::mt19937_64 rng(2313);
  auto p = to_params<double>(random_params<double>(rng, 2, 8, 8, 8, 8, true));
  p.rotary = attn::Rotary{};
  p.rotary->dims = 6;  // heads are 4 wide
  const MatrixD q = attn_test::random_matrix<double>(rng, 3, 8);
  CHECK_THROWS_ATTN(attn::multi_head(q, p),
                    "attn::multi_head: params.rotary.dims (6) must be even and in [0, head_dim] (4; 0: the whole head)");
  CHECK_THROWS_ATTN(attn::KVCache<double>(p), "attn::KVCache: params.rotary.dims (6) must be even and in [0, "
                                              "head_dim] (4; 0: the whole head)");
  p.rotary->dims = 2;
  CHECK(attn::multi_head(q, p).output.allFinite());
  CHECK_THROWS_ATTN(attn::prepare_memory(q, q, p),
                    "attn::prepare_memory: params.rotary is set, but a prepared source is cross-attention, whose keys "
                    "have no positions in the queries' sequence: use a KVCache");
  p.rotary.reset();
  const auto memory = attn::prepare_memory(q, q, p);
  p.rotary = attn::Rotary{};
  CHECK_THROWS_ATTN(attn::attend(memory, q), "attn::attend: the memory's params.rotary was set after prepare_memory, "
                                             "which refuses it (cross-attention keys have no positions in the queries' "
                                             "sequence)");
}

// Options::query_offset: the last queries of a sequence alone (SnapKV's observation window, a
// prompt's later chunk) are rotated and biased at their own positions, so they give the rows of
// the full causal call (which the LLaMA and BLOOM fixtures check against torch float64). Before
// it they were rotated at 0 to m − 1 without an error (docs/03: 6.7e-3 off at T = 2048).
TEMPLATE_TEST_CASE("options.query_offset: the last queries alone are the full causal call's rows",
                   "[multi_head][rotary][alibi][query_offset]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(4409);
  const Index t = 300;  // more than one block of rows
  const Index m = 40;
  auto p = to_params<Scalar>(random_params<Scalar>(rng, 4, 16, 16, 16, 16, true));
  const Mat<Scalar> x = attn_test::random_matrix<Scalar>(rng, t, 16);
  const Mat<Scalar> last_rows = x.bottomRows(m);
  for (const int kind : {0, 1, 2}) {  // rotary, ALiBi, both
    INFO("kind " << kind);
    p.rotary.reset();
    p.alibi.clear();
    if (kind != 1) p.rotary = attn::Rotary{};
    if (kind != 0) p.alibi = attn::alibi_slopes(4);
    const auto full = attn::multi_head(x, p, attn::Mask::causal());
    attn::Options o;
    o.query_offset = t - m;
    const auto last = attn::multi_head(last_rows, x, x, p, attn::Mask::causal(t - m), o);
    for (Index i = 0; i < 4; ++i) CHECK(Mat<Scalar>(last.weights.head(i)) == full.weights.head(i).bottomRows(m));
    CHECK(last.output == full.output.bottomRows(m));
    // The batch form and the sinks form position them alike.
    const auto batch = attn::multi_head_batch(std::vector<Mat<Scalar>>{last_rows}, std::vector<Mat<Scalar>>{x},
                                              std::vector<Mat<Scalar>>{x}, p, {attn::Mask::causal(t - m)}, o);
    CHECK(batch[0].output == last.output);
    Mat<Scalar> out(m, 16);
    attn::MultiHeadWorkspace<Scalar> ws;
    attn::multi_head_into(last_rows, x, x, p, out, attn::HeadSinks<Scalar>(), ws, attn::Mask::causal(t - m), o);
    CHECK(out == last.output);
    // Unmoved, the rotation is wrong (ALiBi alone changes each row by a constant: the same
    // weights but for rounding).
    const auto unmoved = attn::multi_head(last_rows, x, x, p, attn::Mask::causal(t - m));
    const double off = static_cast<double>((unmoved.output - full.output.bottomRows(m)).cwiseAbs().maxCoeff());
    if (kind != 1) CHECK(off > 1e-3);
    if (kind == 1) CHECK(off < 100 * attn_test::tolerance<Scalar>());
  }
  attn::Options o;
  o.query_offset = -1;
  CHECK_THROWS_ATTN(attn::multi_head(x, p, attn::Mask(), o), "attn::multi_head: options.query_offset (-1) must be >= 0");
  o.query_offset = 3;
  attn::KVCache<Scalar> cache(p);
  cache.append(x.topRows(4));
  CHECK_THROWS_ATTN(attn::attend(cache, x.middleRows(3, 1), o),
                    "attn::attend: options.query_offset (3) positions a multi_head call's queries for params.rotary "
                    "and params.alibi, and nothing else (a single-head call's ALiBi takes Alibi::offset, a mask "
                    "Mask::causal(offset), a KVCache keeps its own positions)");
  CHECK_THROWS_ATTN(attn::scaled_dot_product(x, x, x, attn::Mask(), o),
                    "attn::scaled_dot_product: options.query_offset (3) positions a multi_head call's queries for "
                    "params.rotary and params.alibi, and nothing else (a single-head call's ALiBi takes "
                    "Alibi::offset, a mask Mask::causal(offset), a KVCache keeps its own positions)");
  p.rotary.reset();
  p.alibi.clear();
  CHECK_THROWS_ATTN(attn::multi_head(x, p, attn::Mask(), o),
                    "attn::multi_head: options.query_offset (3) positions the queries for params.rotary and "
                    "params.alibi, and this call has neither (a mask takes its own offset: Mask::causal(offset))");
  CHECK_THROWS_ATTN(attn::multi_head_batch(std::vector<Mat<Scalar>>{x}, std::vector<Mat<Scalar>>{x},
                                           std::vector<Mat<Scalar>>{x}, p, {}, o),
                    "attn::multi_head_batch: options.query_offset (3) positions the queries for params.rotary and "
                    "params.alibi, and this call has neither (a mask takes its own offset: Mask::causal(offset))");
}

}  // namespace test_multi_head
