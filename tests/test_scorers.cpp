// SPDX-License-Identifier: MIT
// One attention pipeline: every mechanism of the NumPy fixtures (scaled dot-product, Luong
// dot/general/concat, Bahdanau plain/normalized, with and without g or scale) in every form —
// value, `_into`, a prepared-memory step and a monotonic step — against the fixture and against
// each other. Where two forms do the same arithmetic they must agree bit for bit:
// - `_into` = value form;
// - a memory step of all Tq rows at once = the full call (the same scorer, the same products);
// - the monotonic `_into` = its value form = a monotonic memory step of all rows.
// A step of one query row goes through Eigen's matrix-vector product, which sums in another
// order than the matrix-matrix product of the full call: that agrees within the fixture
// tolerance (1e-12 double, 1e-5 float), not bit for bit.
#include "helpers.hpp"

#include "attn_core.hpp"  // the kernels; no exporter

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_scorers: the suite is a unity build.
namespace test_scorers {

namespace {

using attn::Index;
using attn_test::Fixture;

const std::vector<Fixture>& fixtures() {
  static const std::vector<Fixture> all = attn_test::read_fixtures(attn_test::fixture_path("attention_core.txt"));
  return all;
}

/// The key length of a fixture whose mask a memory can hold (none or one key_length), else nothing.
std::optional<std::optional<Index>> memory_length(const Fixture& fx) {
  if (fx.mask.empty()) return std::optional<Index>();
  if (fx.mask.size() == 1 && fx.mask[0].kind == "key_length") return std::optional<Index>(fx.mask[0].args[0]);
  return std::nullopt;
}

/// Every form of one fixture's mechanism, on inputs cast to Scalar.
template <typename Scalar>
struct Forms {
  using M = attn::Matrix<Scalar>;
  std::function<attn::AttentionResult<Scalar>(const attn::Options&)> value;
  std::function<Index(Eigen::Ref<M>, Eigen::Ref<M>, attn::Workspace<Scalar>&, const attn::Options&)> into;
  std::function<attn::Memory<Scalar>(std::optional<Index>)> memory;
  // Monotonic value and `_into` forms (empty for scaled dot-product: a memory step only).
  std::function<attn::MonotonicResult<Scalar>(const M&, const attn::MonotonicParams<Scalar>&)> monotonic;
  std::function<Index(const M&, const attn::MonotonicParams<Scalar>&, Eigen::Ref<M>, Eigen::Ref<M>,
                      attn::Workspace<Scalar>&)>
      monotonic_into;
};

template <typename Scalar>
Forms<Scalar> forms_of(const Fixture& fx, const attn::Matrix<Scalar>& q, const attn::Matrix<Scalar>& k,
                       const attn::Matrix<Scalar>& v, const attn::Mask& mask) {
  using M = attn::Matrix<Scalar>;
  Forms<Scalar> f;
  std::optional<Scalar> g;
  if (const auto x = fx.scalar("g")) g = static_cast<Scalar>(*x);
  if (fx.mechanism == "scaled_dot_product") {
    const std::optional<double> scale = fx.scalar("scale");
    f.value = [&, scale](attn::Options o) {
      o.scale = scale;
      return attn::scaled_dot_product(q, k, v, mask, o);
    };
    f.into = [&, scale](Eigen::Ref<M> out, Eigen::Ref<M> w, attn::Workspace<Scalar>& ws, attn::Options o) {
      o.scale = scale;
      return attn::scaled_dot_product_into(q, k, v, out, w, ws, mask, o);
    };
    f.memory = [&, scale](std::optional<Index> n) { return attn::prepare_memory(k, v, attn::ScaledDotProductParams{scale}, n); };
    return f;
  }
  if (fx.mechanism.rfind("luong", 0) == 0) {
    attn::LuongParams<Scalar> p = attn::LuongParams<Scalar>::dot(g);
    if (fx.mechanism == "luong_general") p = attn::LuongParams<Scalar>::general(fx.matrix("w").cast<Scalar>(), g);
    if (fx.mechanism == "luong_concat") {
      const attn::RowVector<Scalar> av = fx.matrix("attn_v").cast<Scalar>();
      p = attn::LuongParams<Scalar>::concat(fx.matrix("w").cast<Scalar>(), av, g);
    }
    f.value = [&, p](const attn::Options& o) { return attn::luong(q, k, v, p, mask, o); };
    f.into = [&, p](Eigen::Ref<M> out, Eigen::Ref<M> w, attn::Workspace<Scalar>& ws, const attn::Options& o) {
      return attn::luong_into(q, k, v, p, out, w, ws, mask, o);
    };
    f.memory = [&, p](std::optional<Index> n) { return attn::prepare_memory(k, v, p, n); };
    f.monotonic = [&, p](const M& prev, const attn::MonotonicParams<Scalar>& m) {
      return attn::luong_monotonic(q, k, v, prev, p, m, mask);
    };
    f.monotonic_into = [&, p](const M& prev, const attn::MonotonicParams<Scalar>& m, Eigen::Ref<M> out, Eigen::Ref<M> w,
                              attn::Workspace<Scalar>& ws) {
      return attn::luong_monotonic_into(q, k, v, prev, p, out, w, ws, m, mask);
    };
    return f;
  }
  attn::BahdanauParams<Scalar> p;
  p.wq = fx.matrix("wq").cast<Scalar>();
  p.wk = fx.matrix("wk").cast<Scalar>();
  p.v = fx.matrix("attn_v").cast<Scalar>();
  p.normalize = fx.mechanism == "bahdanau_normalized";
  if (p.normalize) {
    p.g = *g;
    if (fx.has("b")) p.b = fx.matrix("b").cast<Scalar>();
  }
  f.value = [&, p](const attn::Options& o) { return attn::bahdanau(q, k, v, p, mask, o); };
  f.into = [&, p](Eigen::Ref<M> out, Eigen::Ref<M> w, attn::Workspace<Scalar>& ws, const attn::Options& o) {
    return attn::bahdanau_into(q, attn::prepare_keys(p, k), v, p, out, w, ws, mask, o);
  };
  f.memory = [&, p](std::optional<Index> n) { return attn::prepare_memory(k, v, p, n); };
  f.monotonic = [&, p](const M& prev, const attn::MonotonicParams<Scalar>& m) {
    return attn::bahdanau_monotonic(q, k, v, prev, p, m, mask);
  };
  f.monotonic_into = [&, p](const M& prev, const attn::MonotonicParams<Scalar>& m, Eigen::Ref<M> out, Eigen::Ref<M> w,
                            attn::Workspace<Scalar>& ws) {
    return attn::bahdanau_monotonic_into(q, k, v, prev, p, out, w, ws, m, mask);
  };
  return f;
}

/// Entry for entry equal, NaN equal to NaN (padding keys of the `nan_pad` fixtures hold NaN).
template <typename A, typename B>
bool same(const A& a, const B& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         (a.array() == b.array() || (a.array() != a.array() && b.array() != b.array())).all();
}

/// The monotonic alignment computed from the public pieces: the full call's scores (checked
/// against the fixture), p = sigmoid(e + r) on visible keys (0 elsewhere), the recurrence.
template <typename Scalar>
attn::Matrix<Scalar> monotonic_reference(const attn::Matrix<Scalar>& scores, const attn::Matrix<Scalar>& previous,
                                         const attn::MonotonicParams<Scalar>& m, std::optional<Index> n) {
  attn::Matrix<Scalar> p = attn::Matrix<Scalar>::Zero(scores.rows(), scores.cols());
  attn::Matrix<Scalar> prev = previous;
  const Index visible = n ? *n : scores.cols();
  for (Index i = 0; i < scores.rows(); ++i)
    for (Index j = 0; j < scores.cols(); ++j) {
      if (j < visible) {
        p(i, j) = Scalar(1) / (Scalar(1) + std::exp(-(scores(i, j) + m.score_bias)));
      } else {
        prev(i, j) = 0;
      }
    }
  return attn::monotonic_attention(p, prev, m.mode);
}

template <typename Scalar>
void check_every_form(const Fixture& fx, std::optional<Index> length) {
  using M = attn::Matrix<Scalar>;
  const double tol = attn_test::tolerance<Scalar>();
  const M q = fx.matrix("q").cast<Scalar>();
  const M k = fx.matrix("k").cast<Scalar>();
  const M v = fx.matrix("v").cast<Scalar>();
  const attn::Mask mask = attn_test::fixture_mask(fx);
  const Index tq = q.rows();
  const Index tk = k.rows();
  const Index n = length ? *length : tk;
  const auto f = forms_of<Scalar>(fx, q, k, v, mask);
  attn::Options options;
  options.probability = attn_test::fixture_probability(fx);
  options.return_scores = true;

  // Value form against the fixture.
  const auto r = f.value(options);
  ATTN_CHECK_CLOSE(r.scores, fx.matrix("scores"), tol);
  ATTN_CHECK_CLOSE(r.weights, fx.matrix("weights"), tol);
  ATTN_CHECK_CLOSE(r.output, fx.matrix("output"), tol);

  // `_into` = value form, bit for bit.
  attn::Workspace<Scalar> ws;
  M out(tq, v.cols());
  M w(tq, tk);
  f.into(out, w, ws, options);
  CHECK(w == r.weights);
  CHECK(out == r.output);
  CHECK(same(ws.scores(), r.scores));

  // A prepared memory: all rows in one step = the full call, bit for bit; one row per step
  // within the tolerance; the energies of visible keys as the full call's, -inf on padding.
  const auto memory = f.memory(length).with_probability(options.probability);
  M context(tq, v.cols());
  M alignment(tq, tk);
  attn::attend_into(memory, q, context, alignment, ws);
  CHECK(alignment == r.weights);
  CHECK(context == r.output);
  CHECK(M(ws.scores().leftCols(n)) == M(r.scores.leftCols(n)));
  CHECK((ws.scores().rightCols(tk - n).array() == -std::numeric_limits<Scalar>::infinity()).all());
  for (Index i = 0; i < tq; ++i) {
    INFO("one step of query row " << i);
    const auto step = attn::attend(memory, q.row(i));
    ATTN_CHECK_CLOSE(step.weights, fx.matrix("weights").row(i), tol);
    ATTN_CHECK_CLOSE(step.output, fx.matrix("output").row(i), tol);
  }

  // Monotonic: the value form (Luong, Bahdanau), its `_into` form and a monotonic memory step of
  // every row agree bit for bit, and match the recurrence run on the fixture-checked scores.
  M previous(tq, tk);
  std::mt19937_64 rng(7);
  previous = attn_test::random_matrix<Scalar>(rng, tq, tk, 0.0, 1.0);
  for (Index i = 0; i < tq; ++i)
    if (previous.row(i).sum() > Scalar(0)) previous.row(i) /= previous.row(i).sum();
  for (const auto mode : {attn::MonotonicMode::recursive, attn::MonotonicMode::parallel}) {
    INFO("monotonic mode " << static_cast<int>(mode));
    attn::MonotonicParams<Scalar> m;
    m.mode = mode;
    m.score_bias = Scalar(-0.25);
    const auto mono_memory = f.memory(length).with_monotonic(m);
    M a(tq, tk);
    M c(tq, v.cols());
    attn::Workspace<Scalar> step_ws;
    attn::attend_into(mono_memory, q, previous, c, a, step_ws);
    ATTN_CHECK_CLOSE(a, monotonic_reference<Scalar>(r.scores, previous, m, length), 50 * tol);
    if (!f.monotonic) continue;
    const auto mono = f.monotonic(previous, m);
    CHECK(mono.weights == a);
    CHECK(mono.output == c);
    CHECK(mono.scores == M(step_ws.scores()));
    CHECK(mono.p_choose == M(step_ws.p_choose()));
    attn::Workspace<Scalar> into_ws;
    M a2(tq, tk);
    M c2(tq, v.cols());
    f.monotonic_into(previous, m, c2, a2, into_ws);
    CHECK(a2 == mono.weights);
    CHECK(c2 == mono.output);
    CHECK(M(into_ws.p_choose()) == mono.p_choose);
  }
}

}  // namespace

TEMPLATE_TEST_CASE("every mechanism in every form: value, _into, memory step, monotonic", "[scorers][fixtures]", float,
                   double) {
  Index cases = 0;
  for (const auto& fx : fixtures()) {
    const auto length = memory_length(fx);
    if (!length) continue;  // a memory holds a key length only
    ++cases;
    INFO("fixture " << fx.name);
    check_every_form<TestType>(fx, *length);
  }
  CHECK(cases >= 40);  // none and key_length cases of every mechanism, not a vacuous pass
}

TEST_CASE("options.scale is a factor on the scores of every mechanism", "[scorers][scale]") {
  std::mt19937_64 rng(11);
  using M = attn::Matrix<double>;
  const M q = attn_test::random_matrix(rng, 3, 4);
  const M k = attn_test::random_matrix(rng, 5, 4);
  const M v = attn_test::random_matrix(rng, 5, 2);
  attn::Options half;
  half.scale = 0.5;
  half.return_scores = true;
  attn::Options plain;
  plain.return_scores = true;
  const auto expect_scaled = [&](const attn::AttentionResult<double>& scaled, const attn::AttentionResult<double>& base) {
    // softmax(0.5·e): the weights of the halved scores.
    const M expected = attn::normalize(M(0.5 * base.scores), attn::Mask());
    ATTN_CHECK_CLOSE(scaled.weights, expected, 1e-12);
  };
  // Luong dot: options.scale multiplies g, exactly as g would.
  const auto luong_half = attn::luong(q, k, v, attn::LuongParams<double>::dot(), attn::Mask(), half);
  const auto luong_g = attn::luong(q, k, v, attn::LuongParams<double>::dot(0.5), attn::Mask(), plain);
  CHECK(luong_half.weights == luong_g.weights);
  expect_scaled(luong_half, attn::luong(q, k, v, attn::LuongParams<double>::dot(), attn::Mask(), plain));
  attn::BahdanauParams<double> b;
  b.wq = attn_test::random_matrix(rng, 4, 3);
  b.wk = attn_test::random_matrix(rng, 4, 3);
  b.v = attn_test::random_matrix(rng, 1, 3);
  expect_scaled(attn::bahdanau(q, k, v, b, attn::Mask(), half), attn::bahdanau(q, k, v, b, attn::Mask(), plain));
  const auto sa = attn::SeqSelfAttentionParams<double>::multiplicative(attn_test::random_matrix(rng, 4, 4));
  const auto sa_half = attn::seq_self_attention(k, sa, attn::Mask(), half);
  const auto sa_plain = attn::seq_self_attention(k, sa, attn::Mask(), plain);
  ATTN_CHECK_CLOSE(sa_half.weights, attn::normalize(M(0.5 * sa_plain.scores), attn::Mask()), 1e-12);
  const auto pool = attn::PoolingParams<double>::seq_weighted(attn_test::random_matrix(rng, 4, 1));
  const auto pool_half = attn::attention_pooling(k, pool, attn::Mask(), half);
  const auto pool_plain = attn::attention_pooling(k, pool, attn::Mask(), plain);
  ATTN_CHECK_CLOSE(pool_half.weights, attn::normalize(M(0.5 * pool_plain.scores), attn::Mask()), 1e-12);
}

TEST_CASE("Luong prepared keys: prepare_keys once, luong(q, keys, ...) per call, as the full call",
          "[scorers][luong]") {
  std::mt19937_64 rng(5);
  using M = attn::Matrix<double>;
  const M q = attn_test::random_matrix(rng, 4, 3);
  const M k = attn_test::random_matrix(rng, 6, 2);
  const M v = attn_test::random_matrix(rng, 6, 2);
  const std::vector<attn::LuongParams<double>> all = {
      attn::LuongParams<double>::general(attn_test::random_matrix(rng, 3, 2), 0.8),
      attn::LuongParams<double>::concat(attn_test::random_matrix(rng, 5, 4), attn_test::random_matrix(rng, 1, 4), 1.5)};
  attn::Options half;
  half.scale = 0.5;
  for (const auto& p : all) {
    const auto keys = attn::prepare_keys(p, k);
    for (const auto& o : {attn::Options(), half}) {
      const auto full = attn::luong(q, k, v, p, attn::Mask::key_length(4), o);
      const auto prepared = attn::luong(q, keys, v, p, attn::Mask::key_length(4), o);
      ATTN_CHECK_CLOSE(prepared.weights, full.weights, 1e-14);
      ATTN_CHECK_CLOSE(prepared.output, full.output, 1e-14);
    }
  }
  // Keys prepared with another W of the same score: refused by their width, never read out of bounds.
  const auto concat_keys = attn::prepare_keys(all[1], k);
  const auto wider = attn::LuongParams<double>::concat(attn_test::random_matrix(rng, 5, 6),
                                                       attn_test::random_matrix(rng, 1, 6), 1.5);
  CHECK_THROWS_WITH(attn::luong(q, concat_keys, v, wider),
                    "attn::luong: keys.projected.cols() (4) must equal the key width of params (6)");
  const auto dot_keys = attn::prepare_keys(attn::LuongParams<double>::dot(), q);
  CHECK_THROWS_WITH(attn::luong(q, dot_keys, q, attn::LuongParams<double>::dot(2.0)),
                    "attn::luong: the keys were prepared for other parameters (score or g); prepare_keys(params, k) again");
  CHECK_THROWS_WITH(attn::luong(q, dot_keys, q, all[0]),
                    "attn::luong: the keys were prepared for other parameters (score or g); prepare_keys(params, k) again");
  // Concat keys and queries as wide as W has rows: no key width is left (it would be read out of bounds).
  const M q5 = attn_test::random_matrix(rng, 4, 5);
  CHECK_THROWS_WITH(attn::luong(q5, concat_keys, v, all[1]),
                    "attn::luong: params.w.rows() (5) must exceed q.cols() (5) for concat");
  // Dot keys (g·K): the same as the full call too.
  const M kd = attn_test::random_matrix(rng, 6, 3);
  const auto dot = attn::LuongParams<double>::dot(0.7);
  const auto dot_prepared = attn::prepare_keys(dot, kd);
  for (const auto& o : {attn::Options(), half}) {
    const auto full = attn::luong(q, kd, v, dot, attn::Mask::key_length(4), o);
    const auto prepared = attn::luong(q, dot_prepared, v, dot, attn::Mask::key_length(4), o);
    ATTN_CHECK_CLOSE(prepared.weights, full.weights, 1e-14);
    ATTN_CHECK_CLOSE(prepared.output, full.output, 1e-14);
  }
}

TEST_CASE("Bahdanau on keys or on prepared keys: one function, the same arithmetic", "[scorers][bahdanau]") {
  std::mt19937_64 rng(9);
  using M = attn::Matrix<double>;
  const M q = attn_test::random_matrix(rng, 3, 4);
  const M k = attn_test::random_matrix(rng, 5, 2);
  const M v = attn_test::random_matrix(rng, 5, 3);
  attn::BahdanauParams<double> p;
  p.wq = attn_test::random_matrix(rng, 4, 6);
  p.wk = attn_test::random_matrix(rng, 2, 6);
  p.v = attn_test::random_matrix(rng, 1, 6);
  const auto keys = attn::prepare_keys(p, k);
  attn::Workspace<double> ws;
  M out_k(3, 3), w_k(3, 5), out_p(3, 3), w_p(3, 5);
  CHECK(attn::bahdanau_into(q, k, v, p, out_k, w_k, ws, attn::Mask::key_length(4)) == 0);
  CHECK(attn::bahdanau_into(q, keys, v, p, out_p, w_p, ws, attn::Mask::key_length(4)) == 0);
  CHECK(w_k == w_p);
  CHECK(out_k == out_p);
  const auto value = attn::bahdanau(q, k, v, p, attn::Mask::key_length(4));
  CHECK(value.weights == w_k);
  CHECK(value.output == out_k);
  // Checked against the formula: e_ij = v·tanh(q_i·Wq + k_j·Wk), softmax over the first 4 keys.
  for (attn::Index i = 0; i < 3; ++i) {
    Eigen::RowVectorXd e(4);
    for (attn::Index j = 0; j < 4; ++j) e(j) = (p.v.array() * (q.row(i) * p.wq + k.row(j) * p.wk).array().tanh()).sum();
    const Eigen::RowVectorXd a = (e.array() - e.maxCoeff()).exp() / (e.array() - e.maxCoeff()).exp().sum();
    CHECK((w_k.row(i).head(4) - a).cwiseAbs().maxCoeff() < 1e-14);
    CHECK(w_k(i, 4) == 0.0);
  }
  CHECK_THROWS_WITH(attn::bahdanau_into(q, k.leftCols(1), v, p, out_k, w_k, ws),
                    Catch::StartsWith("attn::bahdanau: k.cols() (1) must equal params.wk.rows() (2): the keys are Tk×dk"));
}

}  // namespace test_scorers

namespace test_scorers {

TEST_CASE("monotonic _into forms: bad shapes and missing noise are refused with their messages",
          "[scorers][monotonic][error]") {
  std::mt19937_64 rng(9);
  using M = attn::Matrix<double>;
  const M q = attn_test::random_matrix(rng, 2, 3);
  const M k = attn_test::random_matrix(rng, 4, 3);
  const M v = attn_test::random_matrix(rng, 4, 2);
  const M previous = attn::monotonic_initial_alignment<double>(2, 4);
  attn::BahdanauParams<double> b;
  b.wq = attn_test::random_matrix(rng, 3, 5);
  b.wk = attn_test::random_matrix(rng, 3, 5);
  b.v = attn_test::random_matrix(rng, 1, 5);
  attn::Workspace<double> ws;
  M out(2, 2);
  M w(2, 4);
  M wrong(2, 3);
  CHECK_THROWS_WITH(attn::bahdanau_monotonic_into(q, k, v, previous, b, wrong, w, ws),
                    "attn::bahdanau_monotonic: output (2x3) must be (2x2)");
  CHECK_THROWS_WITH(attn::luong_monotonic_into(q, k, v, previous, attn::LuongParams<double>::dot(), out, wrong, ws),
                    "attn::luong_monotonic: weights (2x3) must be (2x4)");
  CHECK_THROWS_WITH(attn::luong_monotonic_into(q, k, v, wrong, attn::LuongParams<double>::dot(), out, w, ws),
                    "attn::luong_monotonic: previous (2x3) must be (2x4)");
  attn::MonotonicParams<double> noisy;
  noisy.sigmoid_noise = 1.0;
  CHECK_THROWS_WITH(attn::bahdanau_monotonic_into(q, k, v, previous, b, out, w, ws, noisy),
                    Catch::Contains("attn::bahdanau_monotonic: monotonic sigmoid_noise > 0 needs a noise generator"));
  CHECK_NOTHROW(attn::bahdanau_monotonic_into(q, k, v, previous, b, out, w, ws, noisy, attn::Mask(), std::mt19937(1)));
}

}  // namespace test_scorers
