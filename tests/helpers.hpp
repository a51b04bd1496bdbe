// SPDX-License-Identifier: MIT
// Test helpers: a tolerance check that prints expected, actual and difference, seeded random
// matrices, and a plain-loop float64 reference of masked attention independent of the library.
#pragma once

#include "attn_core.hpp"  // the kernels only: a test of an exporter includes its attn/io/ header

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace attn_test {

using attn::Index;
using MatrixD = Eigen::MatrixXd;

/// Default tolerance per scalar: float 1e-5, double 1e-12 (relative; absolute near zero).
template <typename Scalar>
constexpr double tolerance() {
  return std::is_same<Scalar, float>::value ? 1e-5 : 1e-12;
}

/// |a - e| <= tol·max(1, |e|): absolute near zero, relative elsewhere. NaN matches NaN only.
inline bool close(double actual, double expected, double tol) {
  if (std::isnan(expected) || std::isnan(actual)) return std::isnan(expected) && std::isnan(actual);
  if (std::isinf(expected) || std::isinf(actual)) return actual == expected;
  return std::abs(actual - expected) <= tol * std::max(1.0, std::abs(expected));
}

/// Largest scaled error max |a - e| / max(1, |e|) over all entries (shapes must match).
template <typename DA, typename DE>
double max_error(const Eigen::MatrixBase<DA>& actual, const Eigen::MatrixBase<DE>& expected) {
  double worst = 0;
  for (Index j = 0; j < expected.cols(); ++j)
    for (Index i = 0; i < expected.rows(); ++i) {
      const double e = static_cast<double>(expected(i, j));
      const double a = static_cast<double>(actual(i, j));
      if (std::isnan(e) && std::isnan(a)) continue;
      worst = std::max(worst, std::abs(a - e) / std::max(1.0, std::abs(e)));
    }
  return worst;
}

/// Empty string when `actual` matches `expected` within `tol`; otherwise a report naming the
/// first bad entry with expected, actual and difference (or the shape mismatch).
template <typename DA, typename DE>
std::string mismatch(const Eigen::MatrixBase<DA>& actual, const Eigen::MatrixBase<DE>& expected, double tol) {
  std::ostringstream os;
  os.precision(17);
  if (actual.rows() != expected.rows() || actual.cols() != expected.cols()) {
    os << "shape " << actual.rows() << "x" << actual.cols() << " != expected " << expected.rows() << "x"
       << expected.cols();
    return os.str();
  }
  for (Index i = 0; i < expected.rows(); ++i)
    for (Index j = 0; j < expected.cols(); ++j) {
      const double e = static_cast<double>(expected(i, j));
      const double a = static_cast<double>(actual(i, j));
      if (!close(a, e, tol)) {
        os << "at (" << i << "," << j << "): expected " << e << ", actual " << a << ", difference " << (a - e)
           << " (tolerance " << tol << ", max scaled error " << max_error(actual, expected) << ")";
        return os.str();
      }
    }
  return {};
}

/// Bit-for-bit equality of two matrices (distinguishes +0 from -0; NaN equals the same NaN).
template <typename DA, typename DB>
bool same_bits(const Eigen::MatrixBase<DA>& a, const Eigen::MatrixBase<DB>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Index j = 0; j < a.cols(); ++j)
    for (Index i = 0; i < a.rows(); ++i) {
      const typename DA::Scalar x = a(i, j);
      const typename DB::Scalar y = b(i, j);
      static_assert(sizeof(x) == sizeof(y), "same scalar");
      if (std::memcmp(&x, &y, sizeof(x)) != 0) return false;
    }
  return true;
}

/// What() of the exception (of type `Exception`) that `f` throws; fails the test when it
/// throws nothing.
template <typename Exception = std::exception, typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const Exception& e) {
    return e.what();
  }
  FAIL("no exception was thrown");
  return {};
}

}  // namespace attn_test

/// CHECK that two matrices agree within `tol` (absolute near zero, relative elsewhere).
#define ATTN_CHECK_CLOSE(actual, expected, tol)                           \
  do {                                                                    \
    const std::string attn_mismatch_ = ::attn_test::mismatch((actual), (expected), (tol)); \
    INFO(attn_mismatch_);                                                 \
    CHECK(attn_mismatch_.empty());                                        \
  } while (false)

namespace attn_test {

/// Seeded uniform random matrix in [lo, hi].
template <typename Scalar = double>
attn::Matrix<Scalar> random_matrix(std::mt19937_64& rng, Index rows, Index cols, double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> dist(lo, hi);
  attn::Matrix<Scalar> m(rows, cols);
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < rows; ++i) m(i, j) = static_cast<Scalar>(dist(rng));
  return m;
}

/// Seeded random multi-head parameters with biases: `heads` heads over `d` model columns, for
/// queries, keys and values `dq`, `dk` and `dv` wide (random_matrix entries, drawn in the order
/// wq, wk, wv, wo, bq, bk, bv, bo).
template <typename Scalar>
attn::MultiHeadParams<Scalar> random_multi_head_params(std::mt19937_64& rng, Index heads, Index d, Index dq, Index dk,
                                                       Index dv) {
  attn::MultiHeadParams<Scalar> p;
  p.wq = random_matrix<Scalar>(rng, dq, d);
  p.wk = random_matrix<Scalar>(rng, dk, d);
  p.wv = random_matrix<Scalar>(rng, dv, d);
  p.wo = random_matrix<Scalar>(rng, d, d);
  p.bq = random_matrix<Scalar>(rng, 1, d);
  p.bk = random_matrix<Scalar>(rng, 1, d);
  p.bv = random_matrix<Scalar>(rng, 1, d);
  p.bo = random_matrix<Scalar>(rng, 1, d);
  p.heads = heads;
  return p;
}

/// `p` as a LLaMA-style layer: `g` key/value heads (the first g·dh columns of Wk, Wv and their
/// biases) and a rotary embedding over `dims` of each head's columns (0: the whole head).
template <typename Scalar>
attn::MultiHeadParams<Scalar> grouped_rotary(attn::MultiHeadParams<Scalar> p, Index g, Index dims) {
  const Index kv = g * p.head_dim();
  p.wk = attn::Matrix<Scalar>(p.wk.leftCols(kv));
  p.wv = attn::Matrix<Scalar>(p.wv.leftCols(kv));
  p.bk = attn::RowVector<Scalar>(p.bk.head(kv));
  p.bv = attn::RowVector<Scalar>(p.bv.head(kv));
  p.kv_heads = g;
  p.rotary = attn::Rotary{};
  p.rotary->dims = dims;
  return p;
}

/// The mechanisms the property, workspace and no-malloc tests run through one interface.
enum class Kind { sdpa, luong_dot, luong_general, luong_concat, bahdanau, bahdanau_normalized };

inline constexpr Kind all_kinds[] = {Kind::sdpa,         Kind::luong_dot, Kind::luong_general,
                                     Kind::luong_concat, Kind::bahdanau,  Kind::bahdanau_normalized};
inline constexpr attn::Probability all_probabilities[] = {attn::Probability::softmax, attn::Probability::sparsemax,
                                                          attn::Probability::hardmax};

inline const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::sdpa: return "scaled_dot_product";
    case Kind::luong_dot: return "luong dot";
    case Kind::luong_general: return "luong general";
    case Kind::luong_concat: return "luong concat";
    case Kind::bahdanau: return "bahdanau";
    case Kind::bahdanau_normalized: return "bahdanau normalized";
  }
  return "?";
}

inline const char* probability_name(attn::Probability p) {
  switch (p) {
    case attn::Probability::softmax: return "softmax";
    case attn::Probability::sparsemax: return "sparsemax";
    case attn::Probability::hardmax: return "hardmax";
  }
  return "?";
}

/// The mask as an explicit Tq×Tk boolean matrix, from its definition (not from Mask::visible).
inline attn::BoolMatrix dense_mask(const attn::Mask& mask, Index tq, Index tk) {
  attn::BoolMatrix m(tq, tk);
  for (Index i = 0; i < tq; ++i)
    for (Index j = 0; j < tk; ++j) {
      bool vis = true;
      if (mask.length()) vis = vis && j < *mask.length();
      if (mask.right()) vis = vis && j <= i + *mask.right();
      if (mask.left()) vis = vis && j >= i - *mask.left();
      if (mask.chunk()) {  // c(i + offset) − left_chunks <= c(j) <= c(i + offset), c(x) = floor(x / size), in doubles
        const auto size = static_cast<double>(mask.chunk()->size);
        const double key_chunk = std::floor(static_cast<double>(j) / size);
        const double query_chunk = std::floor(static_cast<double>(i + mask.chunk()->offset) / size);
        vis = vis && key_chunk <= query_chunk &&
              key_chunk >= query_chunk - static_cast<double>(mask.chunk()->left_chunks);
      }
      if (mask.explicit_matrix()) vis = vis && (*mask.explicit_matrix())(i, j);
      m(i, j) = vis;
    }
  return m;
}

/// Plain-loop float64 reference: weights from scores under a dense visibility matrix.
/// Softmax, sparsemax (sort-based) or hardmax (first maximum); rows seeing nothing are zero.
inline MatrixD reference_probability(const MatrixD& scores, const attn::BoolMatrix& visible, attn::Probability p) {
  const Index tq = scores.rows();
  const Index tk = scores.cols();
  MatrixD w = MatrixD::Zero(tq, tk);
  for (Index i = 0; i < tq; ++i) {
    std::vector<double> z;
    for (Index j = 0; j < tk; ++j)
      if (visible(i, j)) z.push_back(scores(i, j));
    if (z.empty()) continue;
    double mx = -std::numeric_limits<double>::infinity();
    Index arg = -1;
    for (Index j = 0; j < tk; ++j)
      if (visible(i, j) && scores(i, j) > mx) {
        mx = scores(i, j);
        arg = j;
      }
    if (arg < 0) continue;  // every visible score is -inf: treated as fully masked
    if (p == attn::Probability::softmax) {
      double sum = 0;
      for (Index j = 0; j < tk; ++j)
        if (visible(i, j)) sum += std::exp(scores(i, j) - mx);
      for (Index j = 0; j < tk; ++j)
        if (visible(i, j)) w(i, j) = std::exp(scores(i, j) - mx) / sum;
    } else if (p == attn::Probability::hardmax) {
      w(i, arg) = 1.0;
    } else {
      std::sort(z.begin(), z.end(), [](double a, double b) { return a > b; });
      double cum = 0, tau = 0;
      for (std::size_t r = 0; r < z.size(); ++r) {
        cum += z[r];
        if (1.0 + static_cast<double>(r + 1) * z[r] > cum) tau = (cum - 1.0) / static_cast<double>(r + 1);
      }
      for (Index j = 0; j < tk; ++j)
        if (visible(i, j)) w(i, j) = std::max(scores(i, j) - tau, 0.0);
    }
  }
  return w;
}

/// Plain-loop reference output = weights·V summing only visible keys (so masked V content,
/// even NaN, cannot enter).
inline MatrixD reference_output(const MatrixD& weights, const MatrixD& v, const attn::BoolMatrix& visible) {
  MatrixD out = MatrixD::Zero(weights.rows(), v.cols());
  for (Index i = 0; i < weights.rows(); ++i)
    for (Index j = 0; j < weights.cols(); ++j)
      if (visible(i, j))
        for (Index c = 0; c < v.cols(); ++c) out(i, c) += weights(i, j) * v(j, c);
  return out;
}

/// Plain-loop scaled dot-product scores: scale·Σ_c q(i,c)·k(j,c).
inline MatrixD reference_dot_scores(const MatrixD& q, const MatrixD& k, double scale) {
  MatrixD s(q.rows(), k.rows());
  for (Index i = 0; i < q.rows(); ++i)
    for (Index j = 0; j < k.rows(); ++j) {
      double acc = 0;
      for (Index c = 0; c < q.cols(); ++c) acc += q(i, c) * k(j, c);
      s(i, j) = scale * acc;
    }
  return s;
}

/// Plain-loop additive scores: Σ_u v(u)·tanh(Σ_c q(i,c)·wq(c,u) + Σ_c k(j,c)·wk(c,u) + b(u)).
inline MatrixD reference_additive_scores(const MatrixD& q, const MatrixD& k, const MatrixD& wq, const MatrixD& wk,
                                         const MatrixD& v, const MatrixD& b) {
  const Index units = v.cols();
  MatrixD s(q.rows(), k.rows());
  for (Index i = 0; i < q.rows(); ++i)
    for (Index j = 0; j < k.rows(); ++j) {
      double acc = 0;
      for (Index u = 0; u < units; ++u) {
        double h = b.size() ? b(0, u) : 0.0;
        for (Index c = 0; c < q.cols(); ++c) h += q(i, c) * wq(c, u);
        for (Index c = 0; c < k.cols(); ++c) h += k(j, c) * wk(c, u);
        acc += v(0, u) * std::tanh(h);
      }
      s(i, j) = acc;
    }
  return s;
}

}  // namespace attn_test

// ---------------------------------------------------------------------------------------------
// Fixture reader: tests/fixtures/*.txt written by tests/fixtures/make_fixtures.py (float64 NumPy).
// Blocks of `case`, `mechanism`, `probability`, `mask`, `scalar`, `matrix <name> <r> <c>` + rows,
// `end`; a header `attn-fixtures 1` / `cases N` and a final `end-of-fixtures`. Any problem (missing
// file, bad token, wrong count, truncation) throws std::runtime_error naming the file and line.
#include <charconv>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <system_error>

#ifndef ATTN_FIXTURE_DIR
#define ATTN_FIXTURE_DIR "tests/fixtures"
#endif

namespace attn_test {

/// One term of a fixture mask: `key_length n`, `causal o`, `window left right` or `matrix <name>`.
struct FixtureMaskTerm {
  std::string kind;
  std::vector<Index> args;
  std::string matrix;  ///< name of the 0/1 matrix in the case (kind "matrix")
};

/// One fixture case: inputs, parameters and expected results, all as float64 matrices.
struct Fixture {
  std::string name;
  std::string mechanism;
  std::string probability;
  std::vector<FixtureMaskTerm> mask;  ///< empty: no mask; several: intersection
  std::map<std::string, double> scalars;
  std::map<std::string, MatrixD> matrices;

  bool has(const std::string& key) const { return matrices.count(key) != 0; }
  const MatrixD& matrix(const std::string& key) const {
    const auto it = matrices.find(key);
    if (it == matrices.end()) throw std::runtime_error("fixture " + name + ": no matrix '" + key + "'");
    return it->second;
  }
  std::optional<double> scalar(const std::string& key) const {
    const auto it = scalars.find(key);
    if (it == scalars.end()) return std::nullopt;
    return it->second;
  }
};

/// Absolute path of a fixture file (ATTN_FIXTURE_DIR is set by tests/CMakeLists.txt).
inline std::string fixture_path(const std::string& file) { return std::string(ATTN_FIXTURE_DIR) + "/" + file; }

namespace detail_fixtures {

inline std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream is(line);
  std::string tok;
  while (is >> tok) out.push_back(tok);
  return out;
}

// Locale-independent number parsing (accepts "nan"); the whole token must be consumed.
inline bool parse(const std::string& tok, double& x) {
  const char* end = tok.data() + tok.size();
  const auto r = std::from_chars(tok.data(), end, x);
  return r.ec == std::errc() && r.ptr == end;
}
inline bool parse(const std::string& tok, long long& x) {
  const char* end = tok.data() + tok.size();
  const auto r = std::from_chars(tok.data(), end, x);
  return r.ec == std::errc() && r.ptr == end;
}

}  // namespace detail_fixtures

/// Reads every case of a fixture file; throws std::runtime_error when the file is missing,
/// malformed, truncated, or holds a different number of cases than its header states.
inline std::vector<Fixture> read_fixtures(const std::string& path) {
  namespace df = detail_fixtures;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("attn_test::read_fixtures: cannot open '" + path + "'");
  std::string line;
  long long line_no = 0;
  auto fail = [&](const std::string& what) {
    throw std::runtime_error("attn_test::read_fixtures: " + path + ":" + std::to_string(line_no) + ": " + what);
  };
  auto next = [&](std::vector<std::string>& toks) {  // next non-empty, non-comment line
    while (std::getline(in, line)) {
      ++line_no;
      toks = df::split(line);
      if (!toks.empty() && toks[0][0] != '#') return true;
    }
    return false;
  };
  auto to_index = [&](const std::string& tok) {
    long long x = 0;
    if (!df::parse(tok, x)) fail("expected an integer, got '" + tok + "'");
    return static_cast<Index>(x);
  };

  std::vector<std::string> t;
  if (!next(t) || t.size() != 2 || t[0] != "attn-fixtures" || t[1] != "1") fail("expected 'attn-fixtures 1'");
  if (!next(t) || t.size() != 2 || t[0] != "cases") fail("expected 'cases <count>'");
  const Index count = to_index(t[1]);

  std::vector<Fixture> cases;
  bool finished = false;
  while (next(t)) {
    if (t[0] == "end-of-fixtures") {
      finished = true;
      break;
    }
    if (t[0] != "case" || t.size() != 2) fail("expected 'case <name>'");
    Fixture fx;
    fx.name = t[1];
    bool closed = false;
    while (next(t)) {
      const std::string& key = t[0];
      if (key == "end") {
        closed = true;
        break;
      } else if (key == "mechanism" && t.size() == 2) {
        fx.mechanism = t[1];
      } else if (key == "probability" && t.size() == 2) {
        fx.probability = t[1];
      } else if (key == "mask" && t.size() >= 2) {
        if (t.size() == 2 && t[1] == "none") continue;
        FixtureMaskTerm term;
        for (std::size_t a = 1; a <= t.size(); ++a) {
          if (a == t.size() || t[a] == "&") {
            if (term.kind.empty()) fail("empty mask term");
            const std::size_t want = term.kind == "window" ? 2 : term.kind == "matrix" ? 0 : 1;
            if (term.args.size() != want || (term.kind == "matrix") == term.matrix.empty())
              fail("bad mask term '" + term.kind + "'");
            fx.mask.push_back(term);
            term = FixtureMaskTerm();
          } else if (term.kind.empty()) {
            term.kind = t[a];
            if (term.kind != "key_length" && term.kind != "causal" && term.kind != "window" && term.kind != "matrix")
              fail("unknown mask kind '" + term.kind + "'");
          } else if (term.kind == "matrix") {
            if (!term.matrix.empty()) fail("matrix mask takes one name");
            term.matrix = t[a];
          } else {
            term.args.push_back(to_index(t[a]));
          }
        }
      } else if (key == "scalar" && t.size() == 3) {
        double x = 0;
        if (!df::parse(t[2], x)) fail("bad scalar '" + t[2] + "'");
        fx.scalars[t[1]] = x;
      } else if (key == "matrix" && t.size() == 4) {
        const Index rows = to_index(t[2]);
        const Index cols = to_index(t[3]);
        if (rows < 0 || cols < 0) fail("negative matrix size");
        MatrixD m(rows, cols);
        const std::string mname = t[1];
        for (Index i = 0; i < rows; ++i) {
          if (!next(t) || static_cast<Index>(t.size()) != cols)
            fail("matrix " + mname + ": row " + std::to_string(i) + " needs " + std::to_string(cols) + " values");
          for (Index j = 0; j < cols; ++j) {
            const std::string& tok = t[static_cast<std::size_t>(j)];
            double x = 0;
            if (!df::parse(tok, x)) fail("bad number '" + tok + "'");
            m(i, j) = x;
          }
        }
        if (!fx.matrices.emplace(mname, std::move(m)).second) fail("duplicate matrix " + mname);
      } else {
        fail("unexpected line '" + line + "'");
      }
    }
    if (!closed) fail("case " + fx.name + " is not closed by 'end' (truncated file?)");
    if (fx.mechanism.empty() || fx.probability.empty()) fail("case " + fx.name + " lacks mechanism/probability");
    for (const auto& term : fx.mask)
      if (term.kind == "matrix" && !fx.has(term.matrix)) fail("case " + fx.name + ": no mask matrix " + term.matrix);
    cases.push_back(std::move(fx));
  }
  if (!finished) fail("missing 'end-of-fixtures' (truncated file?)");
  if (static_cast<Index>(cases.size()) != count)
    fail("header says " + std::to_string(count) + " cases, read " + std::to_string(cases.size()));
  return cases;
}

/// The probability function a fixture names.
inline attn::Probability fixture_probability(const Fixture& fx) {
  if (fx.probability == "softmax") return attn::Probability::softmax;
  if (fx.probability == "sparsemax") return attn::Probability::sparsemax;
  if (fx.probability == "hardmax") return attn::Probability::hardmax;
  throw std::runtime_error("fixture " + fx.name + ": unknown probability '" + fx.probability + "'");
}

/// Builds the attn::Mask a fixture describes, through the public constructors and operator&.
inline attn::Mask fixture_mask(const Fixture& fx) {
  attn::Mask mask;
  for (const auto& term : fx.mask) {
    attn::Mask m;
    if (term.kind == "key_length") {
      m = attn::Mask::key_length(term.args[0]);
    } else if (term.kind == "causal") {
      m = attn::Mask::causal(term.args[0]);
    } else if (term.kind == "window") {
      m = attn::Mask::window(term.args[0], term.args[1]);
    } else {
      m = attn::Mask::matrix(fx.matrix(term.matrix).array() != 0.0);
    }
    mask = mask & m;
  }
  return mask;
}

}  // namespace attn_test

namespace attn_test {

// --- Keras-layer fixtures (tests/fixtures/keras/, format: see make_keras_fixtures.py) ------

struct KerasCase {
  std::string name;
  std::map<std::string, long> params;
  std::map<std::string, MatrixD> matrices;

  long param(const std::string& key) const {
    const auto it = params.find(key);
    INFO("case " << name << ": param " << key);
    REQUIRE(it != params.end());
    return it->second;
  }
  const MatrixD& matrix(const std::string& key) const {
    const auto it = matrices.find(key);
    INFO("case " << name << ": matrix " << key);
    REQUIRE(it != matrices.end());
    return it->second;
  }
};

/// Reads tests/fixtures/keras/<file>: blocks of `case NAME`, `param KEY N`, `matrix KEY R C values`, `end`.
inline std::vector<KerasCase> read_keras_fixture(const std::string& file) {
  const std::string path = std::string(ATTN_FIXTURE_DIR) + "/keras/" + file;
  std::ifstream in(path);
  INFO("fixture " << path);
  REQUIRE(in.is_open());
  std::vector<KerasCase> cases;
  KerasCase current;
  std::string word;
  while (in >> word) {
    if (word[0] == '#') {
      std::getline(in, word);
    } else if (word == "case") {
      current = KerasCase();
      in >> current.name;
    } else if (word == "param") {
      std::string key;
      long value = 0;
      in >> key >> value;
      current.params[key] = value;
    } else if (word == "matrix") {
      std::string key;
      Index rows = 0;
      Index cols = 0;
      in >> key >> rows >> cols;
      MatrixD m(rows, cols);
      for (Index i = 0; i < rows; ++i)
        for (Index j = 0; j < cols; ++j) in >> m(i, j);
      current.matrices[key] = m;
    } else if (word == "end") {
      cases.push_back(current);
    } else {
      FAIL("unexpected word '" << word << "' in " << path);
    }
    REQUIRE(in.good());
  }
  REQUIRE(!cases.empty());
  return cases;
}


// --- files for the I/O tests: a scratch directory, a file's bytes, xmllint --------------------

/// A fresh directory under temp_directory_path() (named `<stem>_<random>`), removed with
/// everything in it at scope exit.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& stem = "attn_test") {
    std::random_device device;
    for (int attempt = 0; attempt < 100 && path.empty(); ++attempt) {
      const auto candidate =
          std::filesystem::temp_directory_path() / (stem + "_" + std::to_string(device()) + "_" + std::to_string(attempt));
      if (std::filesystem::create_directories(candidate)) path = candidate;
    }
    if (path.empty()) throw std::runtime_error("attn_test::TempDir: cannot create a unique directory");
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  /// \return the number of regular files in the directory
  std::size_t files() const {
    std::size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(path)) n += entry.is_regular_file() ? 1 : 0;
    return n;
  }
};

/// The bytes of a file ("" when it cannot be read).
inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// How many times `what` occurs in `text`, without overlaps.
inline std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

/// Writes `text` to a file and runs `xmllint --noout` (plus `extra` flags) on it; returns ""
/// when it parses, else xmllint's complaint. Fails the test when xmllint is missing.
inline std::string xmllint_errors(const std::string& text, const std::string& extra = "") {
  if (std::system("xmllint --version >/dev/null 2>&1") != 0) {
    FAIL("xmllint is not installed (Debian: apt-get install libxml2-utils); scripts/test.sh installs it");
  }
  const TempDir dir("attn_xmllint");
  const std::filesystem::path file = dir.path / "document.xml";
  const std::filesystem::path errors = dir.path / "errors.txt";
  std::ofstream(file, std::ios::binary) << text;
  const std::string command = "xmllint --noout " + extra + " '" + file.string() + "' 2>'" + errors.string() + "'";
  const int status = std::system(command.c_str());
  std::string complaint = slurp(errors);
  if (status != 0 && complaint.empty()) complaint = "xmllint exited with status " + std::to_string(status);
  return status == 0 ? std::string() : complaint;
}

}  // namespace attn_test

/// CHECK that `text` is well-formed XML (xmllint parses it), with xmllint's complaint as INFO.
#define ATTN_CHECK_WELL_FORMED(text)                                         \
  do {                                                                       \
    const std::string attn_complaint_ = ::attn_test::xmllint_errors(text);   \
    INFO(attn_complaint_);                                                   \
    CHECK(attn_complaint_.empty());                                          \
  } while (false)

namespace attn_test {

}  // namespace attn_test
