// SPDX-License-Identifier: MIT
// Tests of transformer decoding: attn::MultiHeadMemory (cross-attention step), attn::KVCache
// (self-attention over a growing cache, beam reordering) and attn::DecoderHistory. Decoding token
// by token is compared with one full-sequence attn::multi_head call (key padding for the memory,
// the causal mask for the cache); torch parity of the cross step is in test_multi_head.cpp.
//
// Why a tolerance and not bit equality: a step of one query row runs Eigen's GEMV where the full
// call runs GEMM over every row (another summation order), and the step scales the query as
// torch does (q·s)·Kᵀ while attn::multi_head scales the keys q·(s·K)ᵀ. Every other operation (the
// projections of K and V, the masked softmax of a row, the output projection) is the same; so the
// results agree to a few ulps: 1e-6 in float and 1e-12 in double, relative (absolute near 0).

#include "helpers.hpp"

#include <algorithm>
#include <cstddef>
#include <random>
#include <string>
#include <utility>
#include <vector>

// Everything in this file lives in namespace test_multi_head_decoding: the suite is a unity build.
namespace test_multi_head_decoding {

namespace {

using attn::Index;
template <typename Scalar>
using Mat = attn::Matrix<Scalar>;

template <typename Scalar>
constexpr double step_tolerance() {
  return std::is_same<Scalar, float>::value ? 1e-6 : 1e-12;
}

/// torch-like parameters: weights uniform in ±1/sqrt(fan_in), biases in ±0.5.
template <typename Scalar>
attn::MultiHeadParams<Scalar> make_params(std::mt19937_64& rng, Index heads, Index d, Index dq, Index dk, Index dv,
                                          bool bias = true) {
  const auto uniform = [&](Index r, Index c, double bound) {
    return attn_test::random_matrix<Scalar>(rng, r, c, -bound, bound);
  };
  attn::MultiHeadParams<Scalar> p;
  p.wq = uniform(dq, d, 1.0 / std::sqrt(double(dq)));
  p.wk = uniform(dk, d, 1.0 / std::sqrt(double(dk)));
  p.wv = uniform(dv, d, 1.0 / std::sqrt(double(dv)));
  p.wo = uniform(d, d, 1.0 / std::sqrt(double(d)));
  if (bias) {
    p.bq = uniform(1, d, 0.5);
    p.bk = uniform(1, d, 0.5);
    p.bv = uniform(1, d, 0.5);
    p.bo = uniform(1, d, 0.5);
  }
  p.heads = heads;
  return p;
}

/// Row `r` of every head of `w` (h×B×Tk) as h×Tk.
template <typename Scalar>
Mat<Scalar> beam_rows(const attn::HeadWeights<Scalar>& w, Index r) {
  Mat<Scalar> rows(w.heads(), w.cols());
  for (Index i = 0; i < w.heads(); ++i) rows.row(i) = w.head(i).row(r);
  return rows;
}

}  // namespace

// --- cross-attention: MultiHeadMemory ---------------------------------------------------------

TEMPLATE_TEST_CASE("MultiHeadMemory: token-by-token steps equal one full multi_head call with key padding",
                   "[multi_head][decoding][memory]", float, double) {
  using Scalar = TestType;
  const double tol = step_tolerance<Scalar>();
  std::mt19937_64 rng(1701);
  for (const Index heads : {1, 3, 4}) {
    for (const bool bias : {true, false}) {
      const Index d = 12, dq = 10, dk = 7, dv = 5, tq = 9, tk = 11;
      const auto p = make_params<Scalar>(rng, heads, d, dq, dk, dv, bias);
      const Mat<Scalar> q = attn_test::random_matrix<Scalar>(rng, tq, dq);
      const Mat<Scalar> k = attn_test::random_matrix<Scalar>(rng, tk, dk);
      const Mat<Scalar> v = attn_test::random_matrix<Scalar>(rng, tk, dv);
      for (const Index n : {tk, Index(6), Index(1)}) {
        INFO("heads " << heads << ", bias " << bias << ", length " << n);
        const auto full = attn::multi_head(q, k, v, p, attn::Mask::key_length(n));
        const auto memory = attn::prepare_memory(k, v, p, n);
        REQUIRE(memory.length() == n);
        REQUIRE(memory.max_time() == tk);

        // The memory's projections are multi_head's, bit for bit (the same product, detail/gemm.hpp,
        // of the same shapes).
        Mat<Scalar> kp(tk, d);
        for (Index i = 0; i < heads; ++i) {
          const Index dh = d / heads;
          attn::detail::product(k, p.wk.middleCols(i * dh, dh), kp.middleCols(i * dh, dh));
          if (bias) kp.middleCols(i * dh, dh).rowwise() += p.bk.segment(i * dh, dh);
        }
        CHECK(attn_test::same_bits(memory.keys(), kp));

        attn::MultiHeadWorkspace<Scalar> ws;
        attn::HeadWeights<Scalar> w;
        Mat<Scalar> out(1, d);
        for (Index t = 0; t < tq; ++t) {
          INFO("step " << t);
          CHECK(attn::attend_into(memory, q.row(t), out, w, ws) == 0);
          ATTN_CHECK_CLOSE(out, full.output.row(t), tol);
          REQUIRE(w.heads() == heads);
          REQUIRE(w.rows() == 1);
          REQUIRE(w.cols() == tk);
          for (Index i = 0; i < heads; ++i) ATTN_CHECK_CLOSE(w.head(i), full.weights.head(i).row(t), tol);
          CHECK((w.flat().bottomRows(tk - n).array() == Scalar(0)).all());  // padding exactly 0
        }
        // All query rows at once: B beams against the one source.
        const auto beams = attn::attend(memory, q);
        ATTN_CHECK_CLOSE(beams.output, full.output, tol);
        for (Index i = 0; i < heads; ++i) ATTN_CHECK_CLOSE(beams.weights.head(i), full.weights.head(i), tol);
        ATTN_CHECK_CLOSE(beams.weights.mean(), full.weights.mean(), tol);
        CHECK(beams.num_fully_masked() == 0);
      }
    }
  }
}

TEMPLATE_TEST_CASE("MultiHeadMemory: sparsemax, hardmax and a scale option as multi_head", "[multi_head][decoding][memory]",
                   float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(1702);
  const auto p = make_params<Scalar>(rng, 2, 8, 8, 8, 8);
  const Mat<Scalar> q = attn_test::random_matrix<Scalar>(rng, 5, 8, -3, 3);
  const Mat<Scalar> k = attn_test::random_matrix<Scalar>(rng, 7, 8, -3, 3);
  for (const auto probability : {attn::Probability::sparsemax, attn::Probability::hardmax}) {
    attn::Options options;
    options.probability = probability;
    options.scale = 0.7;
    const auto full = attn::multi_head(q, k, k, p, attn::Mask::key_length(6), options);
    const auto memory = attn::prepare_memory(k, k, p, 6);
    for (Index t = 0; t < q.rows(); ++t) {
      const auto step = attn::attend(memory, q.row(t), options);
      ATTN_CHECK_CLOSE(step.output, full.output.row(t), step_tolerance<Scalar>());
      for (Index i = 0; i < 2; ++i) ATTN_CHECK_CLOSE(step.weights.head(i), full.weights.head(i).row(t), 1e-5);
    }
  }
}

TEMPLATE_TEST_CASE("options.softcap and params.alibi: MultiHeadMemory and KVCache steps (rows one by one, through "
                   "GEMM, in a window) equal one full multi_head call",
                   "[multi_head][decoding][softcap][alibi]", float, double) {
  // The cap applies to each head's scaled scores in the steps as in the full call: B rows up to
  // step_gemv_rows (8) go one by one, more through one product; a cache's chunk of more than 8
  // positions is a scaled_dot_product per head. With ALiBi's slopes (the second round) the cache's
  // steps add each head's bias from the positions it keeps (a prepared source refuses them).
  using Scalar = TestType;
  const double tol = step_tolerance<Scalar>();
  for (const bool alibi : {false, true}) {
    INFO((alibi ? "with ALiBi" : "without ALiBi"));
    std::mt19937_64 rng(1741);
    auto p = make_params<Scalar>(rng, 4, 16, 16, 16, 16);
    attn::Options options;
    options.softcap = 0.75;
    options.scale = 0.6;
    attn::Options uncapped = options;
    uncapped.softcap.reset();
    const Mat<Scalar> x = attn_test::random_matrix<Scalar>(rng, 13, 16, -2, 2);
    const Mat<Scalar> src = attn_test::random_matrix<Scalar>(rng, 9, 16, -2, 2);

    if (!alibi) {
      const auto cross = attn::multi_head(x, src, src, p, attn::Mask::key_length(7), options);
      CHECK_FALSE(cross.output.isApprox(attn::multi_head(x, src, src, p, attn::Mask::key_length(7), uncapped).output,
                                        Scalar(1e-3)));
      const auto memory = attn::prepare_memory(src, src, p, 7);
      for (const Index b : {Index(3), Index(13)}) {
        INFO("memory, " << b << " rows");
        const auto step = attn::attend(memory, x.topRows(b), options);
        ATTN_CHECK_CLOSE(step.output, cross.output.topRows(b), tol);
        for (Index i = 0; i < 4; ++i) ATTN_CHECK_CLOSE(step.weights.head(i), cross.weights.head(i).topRows(b), tol);
      }
      // A bad cap is refused by the memory's steps, naming them.
      attn::Options bad;
      bad.softcap = -1.0;
      CHECK(attn_test::message_of<attn::invalid_argument>([&] { attn::attend(memory, x.row(0), bad); }) ==
            "attn::attend: options.softcap (-1) must be positive and finite; leave it unset for no capping");
      // ALiBi's slopes set on the parameters after the source was prepared: refused at the step.
      auto q = p;  // the memory keeps a pointer to its parameters
      const auto later = attn::prepare_memory(src, src, q, 7);
      q.alibi = attn::alibi_slopes(4);
      CHECK(attn_test::message_of<attn::invalid_argument>([&] { attn::attend(later, x.row(0)); }) ==
            "attn::attend: the memory's params.alibi was set after prepare_memory, which refuses it (cross-attention "
            "keys have no positions in the queries' sequence)");
    } else {
      p.alibi = attn::alibi_slopes(4);
      CHECK(attn_test::message_of<attn::invalid_argument>([&] { attn::prepare_memory(src, src, p, 7); }) ==
            "attn::prepare_memory: params.alibi is set, but a prepared source is cross-attention, whose keys have no "
            "positions in the queries' sequence");
      auto flat = p;
      flat.alibi.assign(4, 0.0);  // slopes of 0: no bias, the numbers without ALiBi
      auto none = p;
      none.alibi.clear();
      CHECK(attn::multi_head(x, flat, attn::Mask::causal(), options).output ==
            attn::multi_head(x, none, attn::Mask::causal(), options).output);
      CHECK_FALSE(attn::multi_head(x, p, attn::Mask::causal(), options)
                      .output.isApprox(attn::multi_head(x, flat, attn::Mask::causal(), options).output, Scalar(1e-3)));
    }

    for (const auto& [window, chunk] : {std::pair<Index, Index>(0, 0), std::pair<Index, Index>(5, 0),
                                        std::pair<Index, Index>(0, 3)}) {
      INFO("window " << window << ", chunk " << chunk);
      const attn::Mask mask = window > 0  ? attn::Mask::causal() & attn::Mask::window(window - 1, 0)
                              : chunk > 0 ? attn::Mask::causal() & attn::Mask::chunked(chunk)
                                          : attn::Mask::causal();
      const auto full = attn::multi_head(x, x, x, p, mask, options);
      attn::KVCache<Scalar> cache(p);
      cache.set_window(window);
      cache.set_attention_chunk(chunk);
      for (Index t = 0; t < x.rows(); ++t) {
        INFO("step " << t);
        cache.append(x.row(t));
        const auto step = attn::attend(cache, x.row(t), options);
        ATTN_CHECK_CLOSE(step.output, full.output.row(t), tol);
        for (Index i = 0; i < 4; ++i) ATTN_CHECK_CLOSE(step.weights.head(i), full.weights.head(i).row(t).head(t + 1), tol);
      }
      attn::KVCache<Scalar> chunked(p);
      chunked.set_window(window);
      chunked.set_attention_chunk(chunk);
      for (const auto& [at, n] : {std::pair<Index, Index>(0, 4), std::pair<Index, Index>(4, 9)}) {
        INFO("chunk of " << n << " at " << at);
        chunked.append(x.middleRows(at, n));
        const auto part = attn::attend(chunked, x.middleRows(at, n), options);
        ATTN_CHECK_CLOSE(part.output, full.output.middleRows(at, n), tol);
        for (Index i = 0; i < 4; ++i)
          ATTN_CHECK_CLOSE(part.weights.head(i), full.weights.head(i).block(at, 0, n, at + n), tol);
      }
    }

    // A bad cap is refused by the cache's steps and multi_head, naming them; so is a single head's
    // ALiBi in a multi-head call (the slopes are the parameters').
    attn::Options bad;
    bad.softcap = -1.0;
    attn::KVCache<Scalar> cache(p);
    cache.append(x.row(0));
    CHECK(attn_test::message_of<attn::invalid_argument>([&] { attn::attend(cache, x.row(0), bad); }) ==
          "attn::attend: options.softcap (-1) must be positive and finite; leave it unset for no capping");
    CHECK(attn_test::message_of<attn::invalid_argument>([&] { attn::multi_head(x, p, attn::Mask(), bad); }) ==
          "attn::multi_head: options.softcap (-1) must be positive and finite; leave it unset for no capping");
    attn::Options one_head;
    one_head.alibi = attn::Alibi{0.5, 0};
    const std::string per_head = "options.alibi is one head's bias; a multi-head layer takes one slope per head in "
                                 "params.alibi";
    CHECK(attn_test::message_of<attn::invalid_argument>([&] { attn::attend(cache, x.row(0), one_head); }) ==
          "attn::attend: " + per_head);
    CHECK(attn_test::message_of<attn::invalid_argument>([&] { attn::multi_head(x, p, attn::Mask(), one_head); }) ==
          "attn::multi_head: " + per_head);
  }
}

TEMPLATE_TEST_CASE("MultiHeadMemory: a source of length 0 gives zero weights and the output bias",
                   "[multi_head][decoding][memory][masked]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(1703);
  const auto p = make_params<Scalar>(rng, 2, 6, 6, 6, 6);
  Mat<Scalar> k = attn_test::random_matrix<Scalar>(rng, 4, 6);
  k.row(2).setConstant(std::numeric_limits<Scalar>::quiet_NaN());  // padding: never read
  const Mat<Scalar> q = attn_test::random_matrix<Scalar>(rng, 3, 6);
  const auto empty = attn::attend(attn::prepare_memory(k, k, p, 0), q);
  CHECK(empty.num_fully_masked() == 3);
  CHECK((empty.weights.flat().array() == Scalar(0)).all());
  for (Index r = 0; r < 3; ++r) CHECK(empty.output.row(r) == p.bo);
  // NaN in a padding row of the source does not reach a step.
  const auto memory = attn::prepare_memory(k, k, p, 2);
  const auto clean = attn::attend(attn::prepare_memory(k.topRows(2), k.topRows(2), p), q);
  const auto step = attn::attend(memory, q);
  // The padded memory projects 4 rows, the clean one 2: the same bits where the product's bits
  // follow only the row (attn's gemm), close on a backend whose bits follow the shape (oneDNN, a BLAS).
  if (attn::detail::gemm_own_for<Scalar>())
    CHECK(attn_test::same_bits(step.output, clean.output));
  else
    ATTN_CHECK_CLOSE(step.output, clean.output, step_tolerance<Scalar>());
  CHECK(step.output.allFinite());
}

TEST_CASE("MultiHeadMemory: errors name the function, the argument and the shapes", "[multi_head][decoding][errors]") {
  std::mt19937_64 rng(1704);
  const auto p = make_params<double>(rng, 2, 6, 5, 4, 3);
  const Mat<double> k = attn_test::random_matrix<double>(rng, 4, 4);
  const Mat<double> v = attn_test::random_matrix<double>(rng, 4, 3);
  CHECK(attn_test::message_of([&] { attn::prepare_memory(k, v, p, 5); }) ==
        "attn::prepare_memory: length (5) exceeds the number of keys (4)");
  CHECK(attn_test::message_of([&] { attn::prepare_memory(v, v, p); }) ==
        "attn::prepare_memory: k.cols() (3) must equal params.wk.rows() (4)");
  const auto memory = attn::prepare_memory(k, v, p, 3);
  attn::MultiHeadWorkspace<double> ws;
  attn::HeadWeights<double> w;
  Mat<double> out(2, 6);
  CHECK(attn_test::message_of([&] { attn::attend_into(memory, Mat<double>(2, 6), out, w, ws); }) ==
        "attn::attend: query.cols() (6) must equal memory.query_size() (5)");
  CHECK(attn_test::message_of([&] { attn::attend_into(memory, Mat<double>(3, 5), out, w, ws); })
            .find("attn::attend: output (2x6) must be (3x6)") == 0);
  attn::Options scores;
  scores.return_scores = true;
  CHECK(attn_test::message_of([&] { attn::attend(memory, Mat<double>::Zero(1, 5), scores); }).find(
            "attn::attend: options.return_scores is not supported") == 0);
}

// --- self-attention: KVCache -------------------------------------------------------------------

TEMPLATE_TEST_CASE("KVCache: token-by-token steps equal one full causal multi_head call, through growth",
                   "[multi_head][decoding][cache]", float, double) {
  using Scalar = TestType;
  const double tol = step_tolerance<Scalar>();
  std::mt19937_64 rng(1711);
  for (const Index heads : {1, 2, 4}) {
    const Index d = 16, tq = 21;
    const auto p = make_params<Scalar>(rng, heads, d, d, d, d);
    const Mat<Scalar> x = attn_test::random_matrix<Scalar>(rng, tq, d);
    const auto full = attn::multi_head(x, x, x, p, attn::Mask::causal());
    attn::KVCache<Scalar> cache(p, 1, 3);  // grows 3 -> 8 -> 16 -> 32
    attn::MultiHeadWorkspace<Scalar> ws;
    attn::HeadWeights<Scalar> w;
    Mat<Scalar> out(1, d);
    for (Index t = 0; t < tq; ++t) {
      INFO("heads " << heads << ", step " << t);
      cache.append(x.row(t));
      REQUIRE(cache.steps() == t + 1);
      CHECK(attn::attend_into(cache, x.row(t), out, w, ws) == 0);
      ATTN_CHECK_CLOSE(out, full.output.row(t), tol);
      REQUIRE(w.cols() == t + 1);
      for (Index i = 0; i < heads; ++i) {
        ATTN_CHECK_CLOSE(w.head(i), full.weights.head(i).row(t).head(t + 1), tol);
        CHECK((full.weights.head(i).row(t).tail(tq - t - 1).array() == Scalar(0)).all());
      }
    }
    CHECK(cache.capacity() == 32);
    ATTN_CHECK_CLOSE(cache.keys(0), (x * p.wk).rowwise() + p.bk, tol);
    ATTN_CHECK_CLOSE(cache.values(0), (x * p.wv).rowwise() + p.bv, tol);
  }
}

TEMPLATE_TEST_CASE("KVCache: 9 beams with their own inputs, and keys and values of other widths",
                   "[multi_head][decoding][cache]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(1712);
  const Index d = 8, beams = 9, steps = 6;  // more than detail::step_gemv_rows: GEMM projections
  const auto p = make_params<Scalar>(rng, 2, d, 5, 6, 7);  // dq, dk, dv all differ from D
  std::vector<Mat<Scalar>> q, k, v;
  for (Index b = 0; b < beams; ++b) {
    q.push_back(attn_test::random_matrix<Scalar>(rng, steps, 5));
    k.push_back(attn_test::random_matrix<Scalar>(rng, steps, 6));
    v.push_back(attn_test::random_matrix<Scalar>(rng, steps, 7));
  }
  attn::KVCache<Scalar> cache(p, beams, steps);
  attn::MultiHeadWorkspace<Scalar> ws;
  attn::HeadWeights<Scalar> w;
  Mat<Scalar> out(beams, d), qs(beams, 5), ks(beams, 6), vs(beams, 7);
  for (Index t = 0; t < steps; ++t) {
    for (Index b = 0; b < beams; ++b) {
      qs.row(b) = q[std::size_t(b)].row(t);
      ks.row(b) = k[std::size_t(b)].row(t);
      vs.row(b) = v[std::size_t(b)].row(t);
    }
    cache.append(ks, vs);
    attn::attend_into(cache, qs, out, w, ws);
    for (Index b = 0; b < beams; ++b) {
      INFO("step " << t << ", beam " << b);
      const auto full = attn::multi_head(q[std::size_t(b)], k[std::size_t(b)], v[std::size_t(b)], p, attn::Mask::causal());
      ATTN_CHECK_CLOSE(out.row(b), full.output.row(t), step_tolerance<Scalar>());
      for (Index i = 0; i < 2; ++i)
        ATTN_CHECK_CLOSE(w.head(i).row(b), full.weights.head(i).row(t).head(t + 1), step_tolerance<Scalar>());
    }
  }
  CHECK(cache.capacity() == steps);  // reserved ahead: no growth
}

TEMPLATE_TEST_CASE("KVCache: beam search reorders by parents, each beam continues its path's decoding",
                   "[multi_head][decoding][cache][beam]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(1713);
  const Index d = 8, beams = 4, steps = 9;
  const auto p = make_params<Scalar>(rng, 2, d, d, d, d);
  attn::KVCache<Scalar> cache(p, beams, 4);
  attn::MultiHeadWorkspace<Scalar> ws;
  attn::HeadWeights<Scalar> w;
  Mat<Scalar> out(beams, d);
  std::vector<Mat<Scalar>> path(beams, Mat<Scalar>(0, d));  // the inputs along each beam's path
  std::uniform_int_distribution<int> pick(0, int(beams) - 1);
  const std::vector<std::vector<int>> fixed = {{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 1, 1, 1}};
  for (Index t = 0; t < steps; ++t) {
    const Mat<Scalar> x = attn_test::random_matrix<Scalar>(rng, beams, d);
    cache.append(x);
    for (Index b = 0; b < beams; ++b) {
      Mat<Scalar> grown(t + 1, d);
      grown << path[std::size_t(b)], x.row(b);
      path[std::size_t(b)] = grown;
    }
    attn::attend_into(cache, x, out, w, ws);
    for (Index b = 0; b < beams; ++b) {
      INFO("step " << t << ", beam " << b);
      const auto full = attn::multi_head(path[std::size_t(b)], p, attn::Mask::causal());
      ATTN_CHECK_CLOSE(out.row(b), full.output.row(t), step_tolerance<Scalar>());
      for (Index i = 0; i < 2; ++i) ATTN_CHECK_CLOSE(w.head(i).row(b), full.weights.head(i).row(t), step_tolerance<Scalar>());
    }
    std::vector<int> parents(beams);
    if (t < Index(fixed.size())) {
      parents = fixed[std::size_t(t)];
    } else {
      for (auto& parent : parents) parent = pick(rng);
    }
    std::vector<Mat<Scalar>> keys_before;
    for (Index b = 0; b < beams; ++b) keys_before.push_back(cache.keys(b));
    cache.reorder(parents);
    // A parent chosen by k beams is copied k - 1 times; a permutation copies nothing.
    std::vector<int> chosen(beams, 0);
    for (const int parent : parents) ++chosen[std::size_t(parent)];
    Index duplicates = 0;
    for (const int c : chosen) duplicates += std::max(0, c - 1);
    CHECK(cache.last_reorder_copies() == duplicates);
    if (t == 0) CHECK(cache.last_reorder_copies() == 0);
    if (t == 2) CHECK(cache.last_reorder_copies() == 3);
    std::vector<Mat<Scalar>> reordered;
    for (Index b = 0; b < beams; ++b) {
      CHECK(cache.keys(b) == keys_before[std::size_t(parents[std::size_t(b)])]);
      reordered.push_back(path[std::size_t(parents[std::size_t(b)])]);
    }
    path = reordered;
  }
}

/// `p` with g key/value heads and a rotary embedding over `dims` columns of each head (g = 0: p
/// unchanged, torch's heads).
template <typename Scalar>
attn::MultiHeadParams<Scalar> grouped_rotary(const attn::MultiHeadParams<Scalar>& p, Index g, Index dims) {
  return g == 0 ? p : attn_test::grouped_rotary(p, g, dims);
}

TEMPLATE_TEST_CASE("a streaming encoder chunk by chunk, each chunk over its window of keys, equals the full call "
                   "with Mask::chunked(C, 0, left)",
                   "[multi_head][decoding][mask]", float, double) {
  // docs/04's recipe for WeNet's forward_chunk: the chunk [s, s + C) over the keys [k0, s + C),
  // k0 = max(0, s − left·C), with Mask::chunked(C, s − k0, left): each frame sees the later frames
  // of its own chunk, which a KVCache (causal) does not give.
  using Scalar = TestType;
  std::mt19937_64 rng(1207);
  const Index d = 16, heads = 4, length = 37, C = 8;
  const auto p = make_params<Scalar>(rng, heads, d, d, d, d);
  const Mat<Scalar> x = attn_test::random_matrix<Scalar>(rng, length, d);
  for (const Index left : {Index(0), Index(1), Index(2), attn::Mask::all_chunks}) {
    const auto full = attn::multi_head(x, p, attn::Mask::chunked(C, 0, left));
    for (Index s = 0; s < length; s += C) {
      INFO("left chunks " << left << ", chunk at " << s);
      const Index n = std::min(C, length - s);
      const Index k0 = left >= s / C ? 0 : s - left * C;
      const auto keys = x.middleRows(k0, s + n - k0);
      const auto part = attn::multi_head(x.middleRows(s, n), keys, keys, p, attn::Mask::chunked(C, s - k0, left));
      ATTN_CHECK_CLOSE(part.output, full.output.middleRows(s, n), step_tolerance<Scalar>());
      for (Index i = 0; i < heads; ++i) {
        ATTN_CHECK_CLOSE(part.weights.head(i), full.weights.head(i).block(s, k0, n, s + n - k0), step_tolerance<Scalar>());
        CHECK(full.weights.head(i).block(s, 0, n, k0).isZero(0));  // before the left chunks
        if (s + n < length) CHECK(full.weights.head(i).block(s, s + n, n, length - s - n).isZero(0));  // later chunks
      }
    }
  }
}

TEMPLATE_TEST_CASE("KVCache: P positions per append and attend (a prompt, then chunks) equal one full causal "
                   "multi_head call",
                   "[multi_head][decoding][cache][prefill]", float, double) {
  using Scalar = TestType;
  const double tol = step_tolerance<Scalar>();
  std::mt19937_64 rng(1715);
  const Index d = 16, heads = 4, beams = 2, length = 25;
  // torch's heads; grouped with a rotary embedding on half of each head; sliding windows of 1, 5
  // and 10 keys (0: none; the window mask of the full call implies the causal one); attention
  // chunks of 4 and 7 positions (Llama 4's; 7: the last chunk of 9 starts inside a chunk), and
  // chunks of 3 and 4 with 1 or 2 left chunks or every earlier one (a streaming decoder's).
  struct Layer {
    Index g, window, chunk, left;
  };
  constexpr Index all = attn::Mask::all_chunks;
  for (const auto& [g, window, chunk, left] :
       std::vector<Layer>{{0, 0, 0, 0}, {2, 0, 0, 0}, {0, 5, 0, 0}, {2, 10, 0, 0}, {2, 1, 0, 0}, {2, 0, 4, 0},
                          {0, 0, 7, 0}, {2, 0, 3, 1}, {0, 0, 4, 2}, {2, 0, 3, all}}) {
    const auto p = grouped_rotary(make_params<Scalar>(rng, heads, d, d, d, d), g, 2);
    const attn::Mask mask = window > 0  ? attn::Mask::window(window - 1, 0)
                            : chunk > 0 ? attn::Mask::causal() & attn::Mask::chunked(chunk, 0, left)
                                        : attn::Mask::causal();
    std::vector<Mat<Scalar>> x;
    std::vector<attn::MultiHeadResult<Scalar>> full;
    for (Index b = 0; b < beams; ++b) {
      x.push_back(attn_test::random_matrix<Scalar>(rng, length, d));
      full.push_back(attn::multi_head(x.back(), p, mask));
    }
    // Chunks of both paths: a prompt of 12 positions (more than 8: one causal scaled dot-product
    // per beam and head), 1 and 3 (row by row, as steps), 9 (a scaled dot-product after a past).
    const std::vector<Index> sizes = {12, 1, 3, 9};
    attn::KVCache<Scalar> cache(p, beams);
    cache.set_window(window);
    cache.set_attention_chunk(chunk, left);
    REQUIRE(cache.window() == window);
    REQUIRE(cache.attention_chunk() == chunk);
    REQUIRE(cache.attention_left_chunks() == left);
    attn::MultiHeadWorkspace<Scalar> ws;
    attn::HeadWeights<Scalar> w;
    Index at = 0;
    for (const Index n : sizes) {
      INFO("kv heads " << g << ", window " << window << ", chunk " << chunk << ", left chunks " << left
                       << ", positions " << at << " to " << at + n - 1);
      Mat<Scalar> in(beams * n, d);
      for (Index b = 0; b < beams; ++b) in.middleRows(b * n, n) = x[std::size_t(b)].middleRows(at, n);
      cache.append(in);
      REQUIRE(cache.steps() == at + n);
      Mat<Scalar> out(beams * n, d);
      CHECK(attn::attend_into(cache, in, out, w, ws) == 0);
      REQUIRE(w.rows() == beams * n);
      REQUIRE(w.cols() == at + n);
      for (Index b = 0; b < beams; ++b) {
        ATTN_CHECK_CLOSE(out.middleRows(b * n, n), full[std::size_t(b)].output.middleRows(at, n), tol);
        for (Index i = 0; i < heads; ++i) {
          // Past a query's own position its weights are exactly 0, as the full call's.
          ATTN_CHECK_CLOSE(w.head(i).middleRows(b * n, n), full[std::size_t(b)].weights.head(i).block(at, 0, n, at + n),
                           tol);
          for (Index r = 0; r < n; ++r) {
            // Hidden by the window, or before the chunk's left chunks.
            const Index own_chunk = chunk > 0 ? (at + r) / chunk : 0;
            const Index before = window > 0  ? std::max<Index>(0, at + r - window + 1)
                                 : chunk > 0 ? (own_chunk > left ? (own_chunk - left) * chunk : 0)
                                             : 0;
            CHECK((w.head(i).row(b * n + r).tail(n - r - 1).array() == Scalar(0)).all());
            CHECK((w.head(i).row(b * n + r).head(before).array() == Scalar(0)).all());
            CHECK((w.head(i).row(b * n + r).segment(before, at + r + 1 - before).array() > Scalar(0)).all());
          }
        }
      }
      at += n;
    }
    REQUIRE(at == length);
    for (Index b = 0; b < beams; ++b) {
      Mat<Scalar> keys = (x[std::size_t(b)].topRows(at) * p.wk).rowwise() + p.bk;
      if (p.rotary) attn::apply_rotary(keys, p.head_dim(), *p.rotary);  // each at its position
      ATTN_CHECK_CLOSE(cache.keys(b), keys, tol);
      ATTN_CHECK_CLOSE(cache.values(b), (x[std::size_t(b)].topRows(at) * p.wv).rowwise() + p.bv, tol);
    }
  }
}

TEMPLATE_TEST_CASE("KVCache: up to 8 rows in all, P positions at once are P steps bit for bit, and draft tokens "
                   "roll back",
                   "[multi_head][decoding][cache][prefill]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(1716);
  const Index d = 16, beams = 2;
  struct Layer {
    Index g, window, chunk;
  };
  for (const auto& [g, window, chunk_size] : std::vector<Layer>{{0, 0, 0}, {2, 0, 0}, {2, 3, 0}, {2, 0, 2}}) {
    const auto p = grouped_rotary(make_params<Scalar>(rng, 4, d, d, d, d), g, 0);
    const Mat<Scalar> prompt = attn_test::random_matrix<Scalar>(rng, beams * 3, d);  // 3 per beam
    const Mat<Scalar> next = attn_test::random_matrix<Scalar>(rng, beams * 4, d);    // then 4 per beam
    attn::KVCache<Scalar> chunked(p, beams), stepped(p, beams);
    chunked.set_window(window);
    stepped.set_window(window);
    chunked.set_attention_chunk(chunk_size);
    stepped.set_attention_chunk(chunk_size);
    chunked.append(prompt);
    const auto chunk = attn::attend(chunked, prompt);
    chunked.append(next);
    const auto chunk2 = attn::attend(chunked, next);
    Mat<Scalar> in(beams, d);
    for (Index r = 0; r < 7; ++r) {
      INFO("kv heads " << g << ", window " << window << ", chunk " << chunk_size << ", position " << r);
      const Mat<Scalar>& src = r < 3 ? prompt : next;
      const Index n = r < 3 ? 3 : 4;
      const Index k = r < 3 ? r : r - 3;
      for (Index b = 0; b < beams; ++b) in.row(b) = src.row(b * n + k);
      stepped.append(in);
      const auto step = attn::attend(stepped, in);
      const auto& ref = r < 3 ? chunk : chunk2;
      for (Index b = 0; b < beams; ++b) {
        CHECK(attn_test::same_bits(step.output.row(b), ref.output.row(b * n + k)));
        for (Index i = 0; i < 4; ++i)
          CHECK(attn_test::same_bits(step.weights.head(i).row(b), ref.weights.head(i).row(b * n + k).head(r + 1)));
      }
    }
    for (Index b = 0; b < beams; ++b) {
      CHECK(attn_test::same_bits(chunked.keys(b), stepped.keys(b)));
      CHECK(attn_test::same_bits(chunked.values(b), stepped.values(b)));
    }

    // Speculative decoding: 4 draft positions verified in one call, 2 accepted (truncate), then
    // one more step: as if only the accepted ones had been appended.
    const Mat<Scalar> drafts = attn_test::random_matrix<Scalar>(rng, beams * 4, d);
    chunked.append(drafts);
    CHECK(attn::attend(chunked, drafts).weights.cols() == 11);
    chunked.truncate(9);
    Mat<Scalar> accepted(beams * 2, d);
    for (Index b = 0; b < beams; ++b) accepted.middleRows(b * 2, 2) = drafts.middleRows(b * 4, 2);
    stepped.append(accepted);
    const Mat<Scalar> last = attn_test::random_matrix<Scalar>(rng, beams, d);
    chunked.append(last);
    stepped.append(last);
    const auto a = attn::attend(chunked, last);
    const auto e = attn::attend(stepped, last);
    CHECK(attn_test::same_bits(a.output, e.output));
    for (Index i = 0; i < 4; ++i) CHECK(attn_test::same_bits(a.weights.head(i), e.weights.head(i)));
  }
}

TEMPLATE_TEST_CASE("KVCache: a NaN at a later position of a chunk reaches no earlier query, on both paths",
                   "[multi_head][decoding][cache][prefill][masks]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(1717);
  const Index d = 8;
  const auto p = make_params<Scalar>(rng, 2, d, d, d, d);
  for (const Index n : {5, 12}) {  // row by row; one scaled dot-product per head
    INFO(n << " positions");
    Mat<Scalar> x = attn_test::random_matrix<Scalar>(rng, n, d);
    x(n - 1, 3) = std::numeric_limits<Scalar>::quiet_NaN();  // the last position's key and value
    attn::KVCache<Scalar> cache(p);
    cache.append(x);
    const auto r = attn::attend(cache, x);
    CHECK(r.output.topRows(n - 1).allFinite());
    for (Index i = 0; i < 2; ++i) {
      CHECK(r.weights.head(i).topRows(n - 1).allFinite());
      CHECK((r.weights.head(i).col(n - 1).head(n - 1).array() == Scalar(0)).all());
    }
    const auto clean = attn::multi_head(x.topRows(n - 1), p, attn::Mask::causal());
    ATTN_CHECK_CLOSE(r.output.topRows(n - 1), clean.output, step_tolerance<Scalar>());
  }
}

TEST_CASE("KVCache: an empty cache, clear, and the errors", "[multi_head][decoding][cache][errors]") {
  std::mt19937_64 rng(1714);
  const auto p = make_params<double>(rng, 2, 6, 6, 6, 6);
  attn::KVCache<double> cache(p, 2);
  const Mat<double> x = attn_test::random_matrix<double>(rng, 2, 6);
  // Attending before appending: the query would see nothing, not even itself (a new user's
  // decoder gave plausible, wrong numbers). Refused, saying the order.
  const std::string empty = "attn::attend: the cache is empty (steps() is 0): append each beam's position first, then "
                            "attend (cache.append(x); attend(cache, x)): a self-attention query sees itself and the "
                            "positions before it";
  CHECK(attn_test::message_of([&] { (void)attn::attend(cache, x); }) == empty);
  cache.append(x);
  cache.reorder({1, 1});  // a braced list, as std::vector<int>{1, 1}
  CHECK(cache.slot(0) == 1);
  cache.append(2 * x);
  const Mat<double> first_keys = cache.keys(0);
  cache.append(3 * x);
  cache.truncate(2);  // a rollback: the third position is gone, the first two stay
  CHECK(cache.steps() == 2);
  CHECK(cache.keys(0) == first_keys);
  CHECK(attn_test::message_of([&] { cache.truncate(3); }) == "attn::KVCache::truncate: steps (3) must be in [0, 2]");
  cache.clear();
  CHECK(cache.steps() == 0);
  CHECK(cache.slot(0) == 0);

  using attn_test::message_of;
  CHECK(message_of([&] { attn::KVCache<double>(p, 0); }) == "attn::KVCache: beams (0) must be >= 1");
  CHECK(message_of([&] { cache.append(Mat<double>(3, 6)); }) ==
        "attn::KVCache::append: k.rows() (3) must be beams() (2) times P >= 1, the positions appended to each beam "
        "(beam b's in rows [b·P, (b+1)·P))");
  CHECK(message_of([&] { cache.append(Mat<double>(0, 6)); }).find("attn::KVCache::append: k.rows() (0) must be") == 0);
  CHECK(message_of([&] { cache.append(Mat<double>(4, 5)); }) == "attn::KVCache::append: k (4x5) must be (4x6)");
  CHECK(message_of([&] { cache.append(Mat<double>(4, 6), Mat<double>(2, 6)); }) ==
        "attn::KVCache::append: v (2x6) must be (4x6)");
  CHECK(message_of([&] { cache.reorder(std::vector<int>{0}); }) ==
        "attn::KVCache::reorder: parents.size() (1) must equal beams() (2)");
  CHECK(message_of([&] { cache.reorder(std::vector<int>{0, 2}); }) ==
        "attn::KVCache::reorder: parents[1] (2) must be in [0, 2)");
  CHECK(message_of([&] { cache.reorder(std::vector<double>{0.5, 1}); }) ==
        "attn::KVCache::reorder: parents[0] (0.500000) must be an integer index");
  CHECK(message_of([&] { cache.keys(2); }) == "attn::KVCache::keys: beam (2) must be in [0, 2)");
  CHECK(message_of([&] { cache.reserve(-1); }) == "attn::KVCache::reserve: steps (-1) must be >= 0");
  CHECK(message_of([&] { cache.set_window(-1); }) ==
        "attn::KVCache::set_window: window (-1) must be >= 0 (0: no window, every earlier position)");
  CHECK(cache.window() == 0);
  CHECK(message_of([&] { cache.set_attention_chunk(-2); }) ==
        "attn::KVCache::set_attention_chunk: size (-2) must be >= 0 (0: no chunks, every earlier position)");
  CHECK(message_of([&] { cache.set_attention_chunk(4, -1); }) ==
        "attn::KVCache::set_attention_chunk: left_chunks (-1) must be >= 0; every earlier chunk is "
        "attn::Mask::all_chunks");
  CHECK(message_of([&] { cache.set_attention_chunk(0, 1); }) ==
        "attn::KVCache::set_attention_chunk: left_chunks (1) needs chunks, but size is 0 (no chunks, every earlier "
        "position)");
  CHECK(cache.attention_chunk() == 0);
  CHECK(cache.attention_left_chunks() == 0);
  cache.set_attention_chunk(4);
  CHECK(message_of([&] { cache.set_window(3); }) ==
        "attn::KVCache::set_window: the cache has attention chunks of 4 (set_attention_chunk); a layer has a sliding "
        "window or chunks, not both");
  cache.set_attention_chunk(0);
  cache.set_window(3);
  CHECK(message_of([&] { cache.set_attention_chunk(4); }) ==
        "attn::KVCache::set_attention_chunk: the cache has a sliding window of 3 (set_window); a layer has a sliding "
        "window or chunks, not both");
  cache.set_window(0);
  CHECK(cache.attention_chunk() == 0);
  attn::MultiHeadWorkspace<double> ws;
  attn::HeadWeights<double> w;
  Mat<double> out(2, 6);
  // An empty cache is refused whatever the query; P positions need P cached.
  CHECK(message_of([&] { attn::attend_into(cache, Mat<double>(2, 6), out, w, ws); }) == empty);
  CHECK(message_of([&] { attn::attend_into(cache, Mat<double>(4, 6), out, w, ws); }) == empty);
  cache.append(Mat<double>::Ones(2, 6));  // one position per beam
  CHECK(message_of([&] { attn::attend_into(cache, Mat<double>(1, 6), out, w, ws); }) ==
        "attn::attend: query.rows() (1) must be beams() (2) times P, each beam's last P positions, P in [1, "
        "steps()] (1)");
  CHECK(message_of([&] { attn::attend_into(cache, Mat<double>(4, 6), out, w, ws); }) ==
        "attn::attend: query.rows() (4) must be beams() (2) times P, each beam's last P positions, P in [1, "
        "steps()] (1)");
  CHECK(message_of([&] { attn::attend_into(cache, Mat<double>(2, 5), out, w, ws); }) ==
        "attn::attend: query (2x5) must be (2x6)");
  cache.append(Mat<double>::Ones(2, 6));  // two positions per beam
  CHECK(message_of([&] { attn::attend_into(cache, Mat<double>::Ones(4, 6), out, w, ws); }) ==
        "attn::attend: output (2x6) must be (4x6)");
  CHECK(message_of([&] { attn::attend_into(cache, Mat<double>(6, 6), out, w, ws); }) ==
        "attn::attend: query.rows() (6) must be beams() (2) times P, each beam's last P positions, P in [1, "
        "steps()] (2)");
}

TEST_CASE("KVCache and MultiHeadMemory: parameters moved out or reshaped since are named, not read",
          "[multi_head][decoding][cache][memory][errors]") {
  // A std::vector<MultiHeadParams> that grows moves its elements and frees the old ones: a cache
  // or memory made from an element then reads freed memory (a new user's "must equal
  // memory.query_size() (-7582710846823185737)"). Moving out of them (what the vector does
  // first) leaves them alive and empty here, so the check is tested without the undefined read.
  std::mt19937_64 rng(1741);
  using attn_test::message_of;
  const std::string moved = "the MultiHeadParams it was made with have moved, changed shape or been destroyed since "
                            "(wq was 8x8, heads 2; now 0x0, heads 2): it points at them, so keep them alive, at one "
                            "address and of one shape while it is used (a std::vector of parameters that grows moves "
                            "them: reserve() it before, or hold them in a std::deque or a std::unique_ptr)";
  const Mat<double> x = attn_test::random_matrix<double>(rng, 1, 8);
  Mat<double> out(1, 8);
  attn::HeadWeights<double> w;
  attn::MultiHeadWorkspace<double> ws;
  {
    auto p = make_params<double>(rng, 2, 8, 8, 8, 8);
    attn::KVCache<double> cache(p, 1, 4);
    cache.append(x);
    attn::attend_into(cache, x, out, w, ws);  // fine while they are in place
    const auto elsewhere = std::move(p);
    CHECK(message_of([&] { cache.append(x); }) == "attn::KVCache: " + moved);
    CHECK(message_of([&] { attn::attend_into(cache, x, out, w, ws); }) == "attn::KVCache: " + moved);
    CHECK(elsewhere.wq.rows() == 8);
  }
  {
    auto p = make_params<double>(rng, 2, 8, 8, 8, 8);
    const Mat<double> source = attn_test::random_matrix<double>(rng, 5, 8);
    const auto memory = attn::prepare_memory(source, source, p);
    attn::attend_into(memory, x, out, w, ws);
    const auto elsewhere = std::move(p);
    CHECK(message_of([&] { attn::attend_into(memory, x, out, w, ws); }) == "attn::MultiHeadMemory: " + moved);
    CHECK(message_of([&] { (void)memory.query_size(); }) == "attn::MultiHeadMemory: " + moved);
  }
  {  // reshaped in place: the cache's keys were projected with the old shapes
    auto p = make_params<double>(rng, 2, 8, 8, 8, 8);
    attn::KVCache<double> cache(p, 1, 4);
    p.wq = attn_test::random_matrix<double>(rng, 8, 16);
    CHECK_THAT(message_of([&] { cache.append(x); }),
               Catch::StartsWith("attn::KVCache: the MultiHeadParams it was made with have moved, changed shape or "
                                 "been destroyed since (wq was 8x8, heads 2; now 8x16, heads 2)"));
    p.wq = attn_test::random_matrix<double>(rng, 8, 8);  // new values, the old shapes: fine
    cache.append(x);
    attn::attend_into(cache, x, out, w, ws);
    CHECK(w.cols() == 1);
  }
}

// --- DecoderHistory ---------------------------------------------------------------------------

TEMPLATE_TEST_CASE("DecoderHistory: a finished beam keeps exactly the alignments along its path",
                   "[multi_head][decoding][history][beam]", float, double) {
  using Scalar = TestType;
  std::mt19937_64 rng(1721);
  const Index layers = 2, d = 8, heads = 2, beams = 3, tk = 7, n = 5, steps = 6;
  std::vector<attn::MultiHeadParams<Scalar>> self_p, cross_p;
  for (Index l = 0; l < layers; ++l) {
    self_p.push_back(make_params<Scalar>(rng, heads, d, d, d, d));
    cross_p.push_back(make_params<Scalar>(rng, heads, d, d, d, d));
  }
  const Mat<Scalar> source = attn_test::random_matrix<Scalar>(rng, tk, d);
  std::vector<attn::MultiHeadMemory<Scalar>> memories;
  std::vector<attn::KVCache<Scalar>> caches;
  for (Index l = 0; l < layers; ++l) {
    memories.push_back(attn::prepare_memory(source, source, cross_p[std::size_t(l)], n));
    caches.emplace_back(self_p[std::size_t(l)], beams, steps);
  }
  attn::DecoderHistory<Scalar> history(layers, heads, beams, n, steps);
  // What each beam's path recorded, step by step: [beam][layer] -> rows (step·heads + head)×width.
  using Log = std::vector<std::vector<Mat<Scalar>>>;
  Log cross_log(beams, std::vector<Mat<Scalar>>(layers)), self_log = cross_log;
  attn::MultiHeadWorkspace<Scalar> ws;
  attn::HeadWeights<Scalar> w;
  Mat<Scalar> x = attn_test::random_matrix<Scalar>(rng, beams, d), y(beams, d);
  std::uniform_int_distribution<int> pick(0, int(beams) - 1);
  const auto log_rows = [&](Log& log, Index l, Index width) {
    for (Index b = 0; b < beams; ++b) {
      Mat<Scalar> rows = Mat<Scalar>::Zero(heads, width);
      const Mat<Scalar> r = beam_rows(w, b);
      rows.leftCols(std::min(width, r.cols())) = r.leftCols(std::min(width, r.cols()));
      Mat<Scalar>& m = log[std::size_t(b)][std::size_t(l)];
      if (m.rows() == 0) {
        m = rows;
      } else {
        Mat<Scalar> grown(m.rows() + heads, width);
        grown << m, rows;
        m = grown;
      }
    }
  };
  for (Index t = 0; t < steps; ++t) {
    for (Index l = 0; l < layers; ++l) {
      caches[std::size_t(l)].append(x);
      attn::attend_into(caches[std::size_t(l)], x, y, w, ws);
      history.record_self(l, w);
      log_rows(self_log, l, steps);
      attn::attend_into(memories[std::size_t(l)], y, x, w, ws);
      history.record_cross(l, w);
      log_rows(cross_log, l, n);
    }
    std::vector<int> parents(beams);
    for (auto& parent : parents) parent = pick(rng);
    history.reorder(parents);
    for (auto& c : caches) c.reorder(parents);
    Log c2 = cross_log, s2 = self_log;
    for (Index b = 0; b < beams; ++b) {
      c2[std::size_t(b)] = cross_log[std::size_t(parents[std::size_t(b)])];
      s2[std::size_t(b)] = self_log[std::size_t(parents[std::size_t(b)])];
    }
    cross_log = c2;
    self_log = s2;
    Mat<Scalar> next(beams, d);
    for (Index b = 0; b < beams; ++b) next.row(b) = x.row(parents[std::size_t(b)]);
    x = next;
  }
  for (Index l = 0; l < layers; ++l) {
    for (Index b = 0; b < beams; ++b) {
      for (Index i = 0; i < heads; ++i) {
        INFO("layer " << l << ", beam " << b << ", head " << i);
        Mat<Scalar> expected_cross(steps, n), expected_self(steps, steps);
        for (Index t = 0; t < steps; ++t) {
          expected_cross.row(t) = cross_log[std::size_t(b)][std::size_t(l)].row(t * heads + i);
          expected_self.row(t) = self_log[std::size_t(b)][std::size_t(l)].row(t * heads + i);
        }
        CHECK(history.cross(l).matrix(b, i) == expected_cross);
        CHECK(history.self(l).matrix(b, i) == expected_self);
        CHECK(Mat<Scalar>(history.self(l).matrix(b, i).template triangularView<Eigen::StrictlyUpper>()).isZero(0));
      }
    }
  }
  // A braced list of parents (beams 0 and 1 continue beam 2): every layer follows.
  const Mat<Scalar> cross_of_2 = history.cross(1).matrix(2, 1);
  history.reorder({2, 2, 0});
  CHECK(history.cross(1).matrix(0, 1) == cross_of_2);
  CHECK(history.cross(1).matrix(1, 1) == cross_of_2);
  using attn_test::message_of;
  CHECK(message_of([&] { history.record_cross(2, w); }) ==
        "attn::DecoderHistory::record_cross: layer (2) must be in [0, 2)");
  attn::HeadWeights<Scalar> narrow(heads, beams, 3);
  CHECK(message_of([&] { history.record_cross(0, narrow); }) ==
        "attn::DecoderHistory::record_cross: weights have 3 columns, fewer than the source length (5)");
  attn::HeadWeights<Scalar> wide(heads, beams, steps + 1);
  CHECK(message_of([&] { history.record_self(0, wide); }) ==
        "attn::DecoderHistory::record_self: weights have 7 columns, more than max_steps (6)");
  attn::HeadWeights<Scalar> one_beam(heads, 1, 5);
  CHECK(message_of([&] { history.record_cross(0, one_beam); }) ==
        "attn::DecoderHistory::record_cross: weights (2 heads, 1 rows) must have 2 heads and 3 rows (one per beam), "
        "or a multiple of 3 (P steps per beam, beam by beam)");
  // Columns past the source length are dropped only when they are padding (weight 0): a
  // memory of more visible keys than source_length would lose mass without a word.
  attn::HeadWeights<Scalar> wider(heads, beams, 7);
  for (Index i = 0; i < heads; ++i) wider.head(i).setZero();
  wider.head(1)(2, 6) = Scalar(0.25);
  CHECK(message_of([&] { history.record_cross(0, wider); }) ==
        "attn::DecoderHistory::record_cross: head 1, row 2 holds 0.25 at column 6, past the source length (5): only "
        "padding (weight 0) is dropped; make the history with the memory's length() as source_length");
  attn::HeadWeights<Scalar> three_heads(3, beams, 5);
  CHECK(message_of([&] { history.record_cross(0, three_heads); }) ==
        "attn::DecoderHistory::record_cross: weights (3 heads, 3 rows) must have 2 heads and 3 rows (one per beam), "
        "or a multiple of 3 (P steps per beam, beam by beam)");
}

TEMPLATE_TEST_CASE("DecoderHistory: a prompt attended in one call is recorded as P steps per beam",
                   "[multi_head][decoding][history]", float, double) {
  // A KVCache attends a prompt of P positions per beam in one call (weights h×B·P×P, beam by
  // beam); record_self and record_cross take those rows as P steps, then one step per token.
  // Expected maps: the rows of the calls' own weights, placed by hand.
  using Scalar = TestType;
  std::mt19937_64 rng(1723);
  const Index d = 8, heads = 2, beams = 2, tk = 6, prompt = 3, steps = 5;
  const auto self_p = make_params<Scalar>(rng, heads, d, d, d, d);
  const auto cross_p = make_params<Scalar>(rng, heads, d, d, d, d);
  const Mat<Scalar> source = attn_test::random_matrix<Scalar>(rng, tk, d);
  const auto memory = attn::prepare_memory(source, source, cross_p, tk);
  attn::KVCache<Scalar> cache(self_p, beams, steps);
  attn::DecoderHistory<Scalar> history(1, heads, beams, tk, steps);
  // expected[b][i]: beam b's steps×width map of head i
  std::vector<std::vector<Mat<Scalar>>> self_maps(beams, std::vector<Mat<Scalar>>(heads, Mat<Scalar>::Zero(steps, steps)));
  std::vector<std::vector<Mat<Scalar>>> cross_maps(beams, std::vector<Mat<Scalar>>(heads, Mat<Scalar>::Zero(steps, tk)));
  Index done = 0;  // steps recorded so far
  const auto note = [&](const attn::HeadWeights<Scalar>& w, Index p, std::vector<std::vector<Mat<Scalar>>>& maps) {
    for (Index b = 0; b < beams; ++b)
      for (Index i = 0; i < heads; ++i)
        for (Index r = 0; r < p; ++r) maps[std::size_t(b)][std::size_t(i)].row(done + r).head(w.cols()) = w.head(i).row(b * p + r);
  };
  attn::MultiHeadWorkspace<Scalar> ws;
  attn::HeadWeights<Scalar> w;
  for (const Index p : {prompt, Index(1), Index(1)}) {
    const Mat<Scalar> x = attn_test::random_matrix<Scalar>(rng, beams * p, d);
    Mat<Scalar> y(beams * p, d), z(beams * p, d);
    cache.append(x);
    attn::attend_into(cache, x, y, w, ws);
    REQUIRE(w.rows() == beams * p);
    history.record_self(0, w);
    note(w, p, self_maps);
    attn::attend_into(memory, y, z, w, ws);
    history.record_cross(0, w);
    note(w, p, cross_maps);
    done += p;
  }
  REQUIRE(done == steps);
  for (Index b = 0; b < beams; ++b) {
    for (Index i = 0; i < heads; ++i) {
      INFO("beam " << b << ", head " << i);
      CHECK(history.self(0).matrix(b, i) == self_maps[std::size_t(b)][std::size_t(i)]);
      CHECK(history.cross(0).matrix(b, i) == cross_maps[std::size_t(b)][std::size_t(i)]);
      // The prompt's rows are causal: row r has r + 1 weights summing to 1.
      for (Index r = 0; r < steps; ++r) {
        CHECK(std::abs(history.self(0).matrix(b, i).row(r).head(r + 1).sum() - Scalar(1)) < Scalar(1e-5));
        CHECK(history.self(0).matrix(b, i).row(r).tail(steps - r - 1).isZero(0));
      }
    }
  }
}

}  // namespace test_multi_head_decoding
