// SPDX-License-Identifier: MIT
// Weight sinks (attn/sinks.hpp, attn/sink_reductions.hpp): every sink against a reduction of the
// full weights of the same call made with a weights matrix, several sinks in one call, every
// kind of mask and fully masked rows, the output-only path, and the bad-input messages.
// Comparisons are bit for bit throughout: the sinks see the very blocks the full matrix holds,
// and each reference below reduces the full matrix in the order the sink does (stated per sink).
#include "helpers.hpp"
#include "sink_references.hpp"

#include <attn/io/npy.hpp>
#include <attn/io/npy_stream.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

// Everything in this file lives in namespace test_sinks: the suite is a unity build.
namespace test_sinks {

// Whether this program runs under AddressSanitizer (GCC defines the macro, Clang the feature).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
constexpr bool sanitized = __has_feature(address_sanitizer);
#else
constexpr bool sanitized = false;
#endif

namespace {

using attn::BoolMatrix;
using attn::Index;
using attn::IndexMatrix;
using attn::IndexVector;
using attn::Mask;
using attn::Matrix;
using attn::Probability;
using attn_test::column_sums_reference;
using attn_test::counts_reference;
using attn_test::message_of;
using attn_test::ReductionSinks;
using attn_test::same_bits;
using attn_test::topk_reference;

// Every kind of mask for a tq×tk problem, including ones that leave rows fully masked.
std::vector<std::pair<std::string, Mask>> masks_for(Index tq, Index tk, std::mt19937_64& rng) {
  BoolMatrix m(tq, tk);
  std::bernoulli_distribution coin(0.6);
  for (Index i = 0; i < tq; ++i)
    for (Index j = 0; j < tk; ++j) m(i, j) = coin(rng);
  if (tq > 2 && tk > 0) m.row(1).setConstant(false);  // a fully masked row (a 0-column matrix has no storage)
  std::vector<std::pair<std::string, Mask>> out = {
      {"none", Mask()},
      {"key length", Mask::key_length(tk / 2)},
      {"key length 0 (every row fully masked)", Mask::key_length(0)},
      {"causal", Mask::causal()},
      {"causal -2 (first rows fully masked)", Mask::causal(-2)},
      {"window", Mask::window(3, 1)},
      {"matrix", Mask::matrix(m)},
      {"matrix & causal & length", Mask::matrix(m) & Mask::causal(1) & Mask::key_length(tk - tk / 4)},
  };
  return out;
}

// Runs scaled_dot_product_into with a full matrix, then with every sink at once (no full
// matrix), and checks each sink against the full weights.
template <typename S>
void check_all_sinks(Index tq, Index tk, const Mask& mask, Probability probability, std::mt19937_64& rng,
                     Index rows_per_block = 256) {
  const Index d = 6;
  const Index dv = 5;
  const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, d, -2, 2);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, d, -2, 2);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, dv);
  attn::Options options;
  options.probability = probability;

  attn::Workspace<S> ws_full;
  Matrix<S> out_full(tq, dv);
  Matrix<S> w(tq, tk);
  const Index masked_full = attn::scaled_dot_product_into(q, k, v, out_full, w, ws_full, mask, options);
  const attn::RowFlags flags_full = ws_full.fully_masked();

  const std::vector<Index> rows = tq > 0 ? std::vector<Index>{tq - 1, 0, tq / 2, 0} : std::vector<Index>{};
  Matrix<S> selected(static_cast<Index>(rows.size()), tk);
  attn::SelectedRows<S> pick(rows, selected);
  ReductionSinks<S> r(tq, tk);

  attn::Workspace<S> ws;
  Matrix<S> out(tq, dv);
  const Index masked = attn::scaled_dot_product_into(
      q, k, v, out, attn::Sinks<S>(pick, r.top, r.sums, r.stats, r.callback), ws, mask, options);
  // The output and the fully masked rows: the same bits as with the full matrix.
  CHECK(masked == masked_full);
  CHECK((ws.fully_masked() == flags_full).all());
  CHECK(same_bits(out, out_full));
  CHECK(attn::detail::block_rows_for<S>(tk) == rows_per_block);
  r.check(w, mask);
  // SelectedRows: the rows of the full matrix, bit for bit.
  // (Rows of a matrix without columns have no storage to point into: compared only when tk > 0.)
  CHECK(selected.cols() == tk);
  if (tk > 0)
    for (std::size_t t = 0; t < rows.size(); ++t) CHECK(same_bits(selected.row(static_cast<Index>(t)), w.row(rows[t])));
}

}  // namespace

TEMPLATE_TEST_CASE("sinks: every sink equals a reduction of the full weights, under every mask", "[sinks]", float,
                   double) {
  std::mt19937_64 rng(2024);
  // 1 row (a decoder step), short blocks, one block of 256, several blocks with a short last one
  // (257: a last block of one row), no key, no query.
  const std::vector<std::pair<Index, Index>> shapes = {{1, 7},   {5, 9},   {17, 33}, {256, 40},
                                                        {257, 19}, {530, 70}, {4, 0},   {0, 6}};
  for (const auto& [tq, tk] : shapes) {
    for (const auto& [name, mask] : masks_for(tq, tk, rng)) {
      for (const Probability p : attn_test::all_probabilities) {
        INFO("tq " << tq << ", tk " << tk << ", mask " << name << ", probability " << static_cast<int>(p));
        check_all_sinks<TestType>(tq, tk, mask, p, rng);
      }
    }
  }
}

TEMPLATE_TEST_CASE("sinks: long keys cut the rows into shorter blocks, every sink still equals the full call's",
                   "[sinks]", float, double) {
  using S = TestType;
  // Blocks hold about 8 MiB: 256 rows up to Tk = 8192 floats, then fewer, in whole softmax chunks.
  CHECK(attn::detail::block_rows_for<float>(8192) == 256);
  CHECK(attn::detail::block_rows_for<float>(16384) == 128);
  CHECK(attn::detail::block_rows_for<float>(32768) == 64);
  CHECK(attn::detail::block_rows_for<float>(20000) == 96);
  CHECK(attn::detail::block_rows_for<double>(32768) == 32);
  CHECK(attn::detail::block_rows_for<float>(Index(1) << 30) == 32);  // never fewer than two chunks
  CHECK(attn::detail::block_rows_for<double>(Index(1) << 30) == 16);
  std::mt19937_64 rng(31);
  const Index tq = 100, tk = 20000;  // float: blocks of 96 rows (96 + 4); double: 48 (48 + 48 + 4)
  const Index rows = attn::detail::block_rows_for<S>(tk);
  REQUIRE(rows < tq);
  // Two million weights per call: under a sanitizer (-O0) each mask takes half a minute, so
  // there only the masked case runs (it crosses the same block boundaries).
  std::vector<Mask> masks{Mask::causal(tk - tq) & Mask::key_length(tk - 7)};
  if (!sanitized) masks.push_back(Mask());
  for (const Mask& mask : masks) {
    check_all_sinks<S>(tq, tk, mask, Probability::softmax, rng, rows);
  }
}

TEMPLATE_TEST_CASE("sinks: Luong (every score, keys and prepared keys) and Bahdanau give the full call's weights",
                   "[sinks]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(77);
  const Index tq = 530, tk = 37, d = 6, units = 5;
  const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, d);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, d);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, 4);
  attn::BahdanauParams<S> bahdanau;
  bahdanau.wq = attn_test::random_matrix<S>(rng, d, units);
  bahdanau.wk = attn_test::random_matrix<S>(rng, d, units);
  bahdanau.v = attn_test::random_matrix<S>(rng, 1, units);
  const std::vector<std::pair<std::string, attn::LuongParams<S>>> luongs = {
      {"dot", attn::LuongParams<S>::dot(S(0.7))},
      {"general", attn::LuongParams<S>::general(attn_test::random_matrix<S>(rng, d, d))},
      {"concat", attn::LuongParams<S>::concat(attn_test::random_matrix<S>(rng, 2 * d, units),
                                              attn_test::random_matrix<S>(rng, 1, units))}};
  for (const auto& named_mask : masks_for(tq, tk, rng)) {
    const std::string& name = named_mask.first;
    const Mask& mask = named_mask.second;
    // Each case: the full call, then the same call with a callback gathering the blocks and
    // ColumnSums; output and weights must be the same bits.
    const auto check = [&](const std::string& what, const auto& full, const auto& with_sinks) {
      INFO(what << ", mask " << name);
      Matrix<S> out_full(tq, 4), w(tq, tk), out(tq, 4);
      Matrix<S> gathered = Matrix<S>::Constant(tq, tk, S(-1));
      attn::Workspace<S> ws_full, ws;
      full(out_full, w, ws_full);
      auto gather = attn::callback_sink<S>(
          [&](Index i0, const attn::WeightBlock<S>& block) { gathered.middleRows(i0, block.rows()) = block; });
      attn::ColumnSums<S> sums;
      with_sinks(out, attn::Sinks<S>(gather, sums), ws);
      CHECK(same_bits(out, out_full));
      CHECK(same_bits(gathered, w));
      CHECK(same_bits(sums.sums(), column_sums_reference(w)));
      CHECK((ws.fully_masked() == ws_full.fully_masked()).all());
    };
    for (const auto& luong : luongs) {
      const std::string& score = luong.first;
      const attn::LuongParams<S>& params = luong.second;
      check("luong " + score, [&](auto& o, auto& w, auto& ws) { attn::luong_into(q, k, v, params, o, w, ws, mask); },
            [&](auto& o, const attn::Sinks<S>& s, auto& ws) { attn::luong_into(q, k, v, params, o, s, ws, mask); });
      const attn::LuongKeys<S> keys = attn::prepare_keys(params, k);
      check("luong prepared " + score,
            [&](auto& o, auto& w, auto& ws) { attn::luong_into(q, keys, v, params, o, w, ws, mask); },
            [&](auto& o, const attn::Sinks<S>& s, auto& ws) { attn::luong_into(q, keys, v, params, o, s, ws, mask); });
    }
    const attn::BahdanauKeys<S> keys = attn::prepare_keys(bahdanau, k);
    check("bahdanau", [&](auto& o, auto& w, auto& ws) { attn::bahdanau_into(q, keys, v, bahdanau, o, w, ws, mask); },
          [&](auto& o, const attn::Sinks<S>& s, auto& ws) { attn::bahdanau_into(q, keys, v, bahdanau, o, s, ws, mask); });
  }
  // The value forms with no_weights.
  const auto ref_l = attn::luong(q, k, v, luongs[2].second);
  CHECK(same_bits(attn::luong(q, k, v, luongs[2].second, attn::no_weights).output, ref_l.output));
  const auto ref_b = attn::bahdanau(q, k, v, bahdanau);
  CHECK(same_bits(attn::bahdanau(q, k, v, bahdanau, attn::no_weights).output, ref_b.output));
}

TEMPLATE_TEST_CASE("sinks: FullWeights in a list computes in place beside other sinks", "[sinks]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(5);
  const Index tq = 300, tk = 45;
  const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, 8);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 8);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, 3);
  const Mask mask = Mask::causal(4);
  const attn::AttentionResult<S> ref = attn::scaled_dot_product(q, k, v, mask);

  Matrix<S> big = Matrix<S>::Constant(tq + 3, tk + 2, S(9));  // weights in a block of a larger matrix
  attn::FullWeights<S> full(big.block(1, 2, tq, tk));
  attn::RowStats<S> stats;
  Matrix<S> out(tq, 3);
  attn::Workspace<S> ws;
  attn::scaled_dot_product_into(q, k, v, out, attn::Sinks<S>(stats, full), ws, mask);
  CHECK(same_bits(out, ref.output));
  CHECK(same_bits(big.block(1, 2, tq, tk), ref.weights));
  CHECK((big.row(0).array() == S(9)).all());  // nothing outside the block written
  CHECK((big.col(1).array() == S(9)).all());
  CHECK(same_bits(stats.entropy(), attn::row_entropy(ref.weights, mask)));
  // With FullWeights the per-thread block scratch is never used.
  CHECK(attn::detail::buffers(ws).block.view().size() == 0);
}

TEMPLATE_TEST_CASE("sinks: no_weights gives the output only, equal to the full call", "[sinks]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(8);
  for (const Index tq : {Index(1), Index(20), Index(600)}) {
    const Index tk = 50;
    const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, 16);
    const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 16);
    Matrix<S> v = attn_test::random_matrix<S>(rng, tk, 4);
    v(tk - 1, 2) = std::numeric_limits<S>::quiet_NaN();  // NaN in a masked key's value row
    const Mask mask = Mask::key_length(tk - 1) & Mask::causal(-1);
    attn::Options options;
    options.return_scores = true;
    const attn::AttentionResult<S> ref = attn::scaled_dot_product(q, k, v, mask, options);
    const attn::OutputResult<S> r = attn::scaled_dot_product(q, k, v, attn::no_weights, mask, options);
    CHECK(same_bits(r.output, ref.output));
    CHECK(r.output.allFinite());
    CHECK(same_bits(r.scores, ref.scores));
    CHECK((r.fully_masked == ref.fully_masked).all());
    CHECK(r.num_fully_masked() == 1);  // row 0 sees no key under causal(-1)
    // One sink converts to a list.
    attn::TopK<S> top(2);
    const attn::OutputResult<S> r2 = attn::scaled_dot_product(q, k, v, top, mask);
    CHECK(same_bits(r2.output, ref.output));
    CHECK(top.indices()(0, 0) == -1);
  }
}

TEMPLATE_TEST_CASE("sinks: a prepared Memory's step, monotonic too, gives the alignment of the form with `alignment`", "[sinks]",
                   float, double) {
  using S = TestType;
  std::mt19937_64 rng(9);
  const Index tk = 37, n = 30, dq = 8, dv = 5;
  const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, dq);
  Matrix<S> v = attn_test::random_matrix<S>(rng, tk, dv);
  v(tk - 1, 1) = std::numeric_limits<S>::infinity();  // Inf in a padded key's value row
  attn::BahdanauParams<S> bahdanau;
  bahdanau.wq = attn_test::random_matrix<S>(rng, dq, 6);
  bahdanau.wk = attn_test::random_matrix<S>(rng, dq, 6);
  bahdanau.v = attn_test::random_matrix<S>(rng, 1, 6);
  const auto general = attn::LuongParams<S>::general(attn_test::random_matrix<S>(rng, dq, dq));
  const std::vector<std::pair<std::string, attn::Memory<S>>> memories = {
      {"scaled dot-product", attn::prepare_memory(k, v, attn::ScaledDotProductParams{}, n)},
      {"luong general", attn::prepare_memory(k, v, general, n)},
      {"bahdanau", attn::prepare_memory(k, v, bahdanau, n)}};
  for (const auto& [name, memory] : memories) {
    for (const Index b : {Index(1), Index(3), Index(40)}) {  // a step, beams, rows enough for attn's gemm
      INFO(name << ", B = " << b);
      const Matrix<S> q = attn_test::random_matrix<S>(rng, b, dq);
      const attn::StepResult<S> ref = attn::attend(memory, q);
      attn::Workspace<S> ws;
      Matrix<S> context(b, dv);
      Matrix<S> held(b, tk);
      attn::FullWeights<S> full(held);
      attn::TopK<S> top(3);
      attn::ColumnSums<S> sums;
      attn::RowStats<S> stats;
      CHECK(attn::attend_into(memory, q, context, attn::Sinks<S>(full, top, sums, stats), ws) == 0);
      CHECK(same_bits(context, ref.output));
      CHECK(same_bits(held, ref.weights));
      CHECK(same_bits(Matrix<S>(ws.scores()), ref.scores));
      attn::IndexMatrix idx;
      Matrix<S> val;
      attn_test::topk_reference(ref.weights, memory.mask(), 3, idx, val);
      CHECK(top.indices() == idx);
      CHECK(same_bits(top.weights(), val));
      CHECK(same_bits(sums.sums(), column_sums_reference(ref.weights)));
      CHECK((sums.counts().head(n).array() == b).all());
      CHECK((sums.counts().tail(tk - n).array() == 0).all());
      CHECK(same_bits(stats.entropy(), attn::row_entropy(ref.weights, memory.mask())));
      // Context only; and the value form.
      Matrix<S> context2(b, dv);
      attn::attend_into(memory, q, context2, attn::no_weights, ws);
      CHECK(same_bits(context2, ref.output));
      const attn::OutputResult<S> r = attn::attend(memory, q, attn::no_weights);
      CHECK(same_bits(r.output, ref.output));
      CHECK(same_bits(r.scores, ref.scores));
      CHECK(r.num_fully_masked() == 0);
    }
  }
  // A monotonic memory's step with `previous` (engine noise: the same seed, the same draws): the
  // form with `alignment`, bit for bit; its new alignment may go over `previous` (FullWeights).
  for (const attn::MonotonicMode mode : {attn::MonotonicMode::parallel, attn::MonotonicMode::recursive}) {
    const auto memory = attn::prepare_memory(k, v, bahdanau, n).with_monotonic({mode, S(-0.5), S(0.5)});
    for (const Index b : {Index(1), Index(40)}) {
      INFO("monotonic mode " << static_cast<int>(mode) << ", B = " << b);
      const Matrix<S> q = attn_test::random_matrix<S>(rng, b, dq);
      const Matrix<S> start = attn::Matrix<S>::Ones(b, tk) / S(tk);
      attn::Workspace<S> ws_ref;
      Matrix<S> context_ref(b, dv), alignment(b, tk);
      std::mt19937 noise_ref(5);
      const Index masked_ref = attn::attend_into(memory, q, start, context_ref, alignment, ws_ref, noise_ref);
      attn::Workspace<S> ws;
      Matrix<S> context(b, dv);
      Matrix<S> held = start;
      attn::FullWeights<S> full(held);
      attn::TopK<S> top(2);
      attn::ColumnSums<S> sums;
      std::mt19937 noise(5);
      CHECK(attn::attend_into(memory, q, held, context, attn::Sinks<S>(top, full, sums), ws, noise) == masked_ref);
      CHECK(same_bits(context, context_ref));
      CHECK(same_bits(held, alignment));
      CHECK(same_bits(Matrix<S>(ws.scores()), Matrix<S>(ws_ref.scores())));
      CHECK(same_bits(Matrix<S>(ws.p_choose()), Matrix<S>(ws_ref.p_choose())));
      attn::IndexMatrix idx;
      Matrix<S> val;
      attn_test::topk_reference(alignment, memory.mask(), 2, idx, val);
      CHECK(top.indices() == idx);
      CHECK(same_bits(top.weights(), val));
      CHECK(same_bits(sums.sums(), column_sums_reference(alignment)));
      // Without a FullWeights (the alignment in the workspace), and context only.
      attn::ColumnSums<S> sums2;
      std::mt19937 noise2(5);
      attn::attend_into(memory, q, start, context, sums2, ws, noise2);
      CHECK(same_bits(sums2.sums(), sums.sums()));
      std::mt19937 noise3(5);
      attn::attend_into(memory, q, start, context, attn::no_weights, ws, noise3);
      CHECK(same_bits(context, context_ref));
    }
  }
  // A non-monotonic memory in the form with `previous`: not read, the form without it.
  {
    const Matrix<S> q = attn_test::random_matrix<S>(rng, 3, dq);
    attn::ColumnSums<S> with, without;
    attn::Workspace<S> ws;
    Matrix<S> c1(3, dv), c2(3, dv);
    attn::attend_into(memories[2].second, q, Matrix<S>(0, 0), c1, with, ws);
    attn::attend_into(memories[2].second, q, c2, without, ws);
    CHECK(same_bits(c1, c2));
    CHECK(same_bits(with.sums(), without.sums()));
  }
  // A monotonic memory without `previous`, a wrong context, a sink of another shape, a wrong
  // `previous` before a wrong sink: refused with a message.
  const auto monotonic = attn::prepare_memory(k, v, attn::ScaledDotProductParams{}, n).with_monotonic({});
  Matrix<S> context(2, dv);
  attn::Workspace<S> ws;
  const Matrix<S> q = attn_test::random_matrix<S>(rng, 2, dq);
  CHECK(message_of([&] { attn::attend_into(monotonic, q, context, attn::no_weights, ws); }) ==
        "attn::attend: a monotonic memory's step needs the previous alignment: attend_into(memory, query, previous, "
        "context, sinks, ws)");
  Matrix<S> narrow(2, tk - 1);
  attn::FullWeights<S> narrow_sink(narrow);
  CHECK(message_of([&] { attn::attend_into(monotonic, q, Matrix<S>(2, tk - 1), context, narrow_sink, ws); }) ==
        "attn::attend: previous (2x" + std::to_string(tk - 1) + ") must be (2x" + std::to_string(tk) + ")");
  CHECK(message_of([&] { attn::attend_into(monotonic, q, monotonic.initial_alignment(2), context, narrow_sink, ws); })
            .find("attn::attend: FullWeights") == 0);
  Matrix<S> wrong(3, dv);
  CHECK(message_of([&] { attn::attend_into(memories[0].second, q, wrong, attn::no_weights, ws); }) ==
        "attn::attend: context (3x5) must be (2x5)");
  Matrix<S> small(2, tk - 1);
  attn::FullWeights<S> full(small);
  CHECK_THAT(message_of([&] { attn::attend_into(memories[0].second, q, context, full, ws); }),
             Catch::Matchers::Contains("attn::attend"));
}

TEMPLATE_TEST_CASE("sinks: the monotonic mechanisms give the weights of the form with `weights`",
                   "[sinks][monotonic]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(12);
  const Index d = 5, dv = 3;
  attn::BahdanauParams<S> bahdanau;
  bahdanau.wq = attn_test::random_matrix<S>(rng, d, 4);
  bahdanau.wk = attn_test::random_matrix<S>(rng, d, 4);
  bahdanau.v = attn_test::random_matrix<S>(rng, 1, 4);
  const auto dot = attn::LuongParams<S>::dot();
  // (Tq, Tk): one block; two blocks of rows (the second shorter); no key.
  for (const auto& [tq, tk] : {std::pair<Index, Index>{7, 37}, {300, 9}, {4, 0}}) {
    const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, d);
    const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, d);
    Matrix<S> v = attn_test::random_matrix<S>(rng, tk, dv);
    if (tk > 0) v(tk - 1, 0) = std::numeric_limits<S>::quiet_NaN();  // NaN in a key that "key length" hides
    // The previous alignment: one step from the initial one.
    const Matrix<S> previous =
        attn::luong_monotonic(q, k, v, attn::monotonic_initial_alignment<S>(tq, tk), dot).weights;
    for (const auto& entry : masks_for(tq, tk, rng)) {
      const Mask& mask = entry.second;  // not a structured binding: C++17 lambdas cannot capture one
      for (const attn::MonotonicMode mode : {attn::MonotonicMode::parallel, attn::MonotonicMode::recursive}) {
        for (const bool luong : {false, true}) {
          INFO("Tq = " << tq << ", Tk = " << tk << ", mask " << entry.first << ", mode " << static_cast<int>(mode)
                       << (luong ? ", luong" : ", bahdanau"));
          attn::MonotonicParams<S> m;
          m.mode = mode;
          m.score_bias = S(-0.5);
          m.sigmoid_noise = S(0.5);
          // Each call draws its noise from an engine of the same seed: the same draws.
          const auto call = [&](auto& output, auto&& weights, attn::Workspace<S>& ws, const Matrix<S>& prev) {
            std::mt19937 noise(77);
            return luong ? attn::luong_monotonic_into(q, k, v, prev, dot, output, weights, ws, m, mask, noise)
                         : attn::bahdanau_monotonic_into(q, k, v, prev, bahdanau, output, weights, ws, m, mask, noise);
          };
          attn::Workspace<S> ws_full;
          Matrix<S> out_full(tq, dv);
          Matrix<S> w(tq, tk);
          const Index masked_full = call(out_full, w, ws_full, previous);

          ReductionSinks<S> r(tq, tk);
          attn::Workspace<S> ws;
          Matrix<S> out(tq, dv);
          CHECK(call(out, attn::Sinks<S>(r.top, r.sums, r.stats, r.callback), ws, previous) == masked_full);
          CHECK((ws.fully_masked() == ws_full.fully_masked()).all());
          CHECK(same_bits(out, out_full));
          CHECK(same_bits(Matrix<S>(ws.scores()), Matrix<S>(ws_full.scores())));
          CHECK(same_bits(Matrix<S>(ws.p_choose()), Matrix<S>(ws_full.p_choose())));
          r.check(w, mask);

          // A FullWeights over the previous alignment's storage: the step writes the new one there.
          Matrix<S> held = previous;
          attn::FullWeights<S> full(held);
          attn::RowStats<S> stats2;
          Matrix<S> out2(tq, dv);
          call(out2, attn::Sinks<S>(full, stats2), ws, held);
          CHECK(same_bits(held, w));
          CHECK(same_bits(out2, out_full));
          CHECK(same_bits(stats2.entropy(), r.stats.entropy()));
          // Output only, and the value form (the energies as its scores).
          Matrix<S> out3(tq, dv);
          call(out3, attn::Sinks<S>(attn::no_weights), ws, previous);
          CHECK(same_bits(out3, out_full));
          std::mt19937 noise(77);
          const attn::OutputResult<S> value =
              luong ? attn::luong_monotonic(q, k, v, previous, dot, attn::no_weights, m, mask, noise)
                    : attn::bahdanau_monotonic(q, k, v, previous, bahdanau, attn::no_weights, m, mask, noise);
          CHECK(same_bits(value.output, out_full));
          CHECK(same_bits(value.scores, Matrix<S>(ws_full.scores())));
          CHECK((value.fully_masked == ws_full.fully_masked()).all());
        }
      }
    }
  }
  // Bad arguments: the call's own checks come before the sinks', whose messages name the mechanism.
  const Matrix<S> q = attn_test::random_matrix<S>(rng, 2, d);
  const Matrix<S> k = attn_test::random_matrix<S>(rng, 6, d);
  const Matrix<S> v = attn_test::random_matrix<S>(rng, 6, dv);
  const Matrix<S> previous = attn::monotonic_initial_alignment<S>(2, 6);
  Matrix<S> out(2, dv);
  attn::Workspace<S> ws;
  Matrix<S> small(2, 5);
  attn::FullWeights<S> wrong(small);
  CHECK(message_of([&] { attn::bahdanau_monotonic_into(q, k, v, previous, bahdanau, out, wrong, ws); }) ==
        "attn::bahdanau_monotonic: FullWeights (2x5) must be (2x6)");
  CHECK(message_of([&] { attn::luong_monotonic_into(q, k, v, Matrix<S>(3, 6), dot, out, wrong, ws); }) ==
        "attn::luong_monotonic: previous (3x6) must be (2x6)");
  attn::MonotonicParams<S> noisy;
  noisy.sigmoid_noise = S(1);
  CHECK_THAT(message_of([&] { attn::luong_monotonic(q, k, v, previous, dot, attn::no_weights, noisy); }),
             Catch::Matchers::StartsWith("attn::luong_monotonic: "));
}

TEMPLATE_TEST_CASE("sinks: a sink reused for calls of other shapes holds the last call's results", "[sinks]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(12);
  attn::TopK<S> top(4);
  attn::TopK<S> wide(300);  // longer than the lists TopK builds on the stack (256): built in place
  attn::ColumnSums<S> sums;
  attn::Workspace<S> ws;
  for (const Index t : {Index(400), Index(30), Index(260)}) {
    const Matrix<S> q = attn_test::random_matrix<S>(rng, t, 4);
    const Matrix<S> k = attn_test::random_matrix<S>(rng, t + 1, 4);
    const Matrix<S> v = attn_test::random_matrix<S>(rng, t + 1, 2);
    Matrix<S> out(t, 2);
    attn::scaled_dot_product_into(q, k, v, out, attn::Sinks<S>(top, sums, wide), ws);
    const attn::AttentionResult<S> ref = attn::scaled_dot_product(q, k, v);
    CHECK(same_bits(sums.sums(), column_sums_reference(ref.weights)));
    IndexMatrix idx;
    Matrix<S> val;
    topk_reference(ref.weights, Mask(), 4, idx, val);
    CHECK(top.indices() == idx);
    CHECK(same_bits(top.weights(), val));
    topk_reference(ref.weights, Mask(), 300, idx, val);  // rows of 31 and 261 keys: padded with -1 and 0
    CHECK(wide.indices() == idx);
    CHECK(same_bits(wide.weights(), val));
  }
}

TEST_CASE("sinks: ties in TopK go to the lower key, NaN ranks last", "[sinks]") {
  // Equal queries against equal keys: every weight of a row is equal.
  const Matrix<double> q = Matrix<double>::Ones(3, 2);
  const Matrix<double> k = Matrix<double>::Ones(5, 2);
  Matrix<double> kn = k;
  kn(2, 0) = std::numeric_limits<double>::quiet_NaN();
  const Matrix<double> v = Matrix<double>::Ones(5, 1);
  attn::TopK<double> top(3);
  attn::scaled_dot_product(q, k, v, top, Mask::window(1, 4));
  // Row 0 sees keys 0..4, row 2 keys 1..4 (window left 1): the lowest visible keys first.
  CHECK(top.indices().row(0) == (IndexMatrix(1, 3) << 0, 1, 2).finished());
  CHECK(top.indices().row(2) == (IndexMatrix(1, 3) << 1, 2, 3).finished());
  CHECK(top.weights()(0, 0) == 0.2);
  // A visible NaN score makes the row's visible weights NaN: NaN entries rank by key index.
  attn::TopK<double> top_nan(2);
  attn::scaled_dot_product(q, kn, v, top_nan, Mask::key_length(4));
  CHECK(top_nan.indices().row(0) == (IndexMatrix(1, 2) << 0, 1).finished());
  CHECK(std::isnan(top_nan.weights()(0, 1)));
}

TEMPLATE_TEST_CASE("sinks: multi-head per-head sinks and reductions over heads equal the full call's", "[sinks]",
                   float, double) {
  using S = TestType;
  std::mt19937_64 rng(91);
  attn::MultiHeadParams<S> p;
  const Index dm = 24;
  p.heads = 4;
  p.wq = attn_test::random_matrix<S>(rng, dm, dm);
  p.wk = attn_test::random_matrix<S>(rng, dm, dm);
  p.wv = attn_test::random_matrix<S>(rng, dm, dm);
  p.wo = attn_test::random_matrix<S>(rng, dm, dm);
  p.bq = attn_test::random_matrix<S>(rng, 1, dm);
  p.bo = attn_test::random_matrix<S>(rng, 1, dm);
  for (const Index tq : {Index(1), Index(40), Index(300)}) {
    const Index tk = 33;
    const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, dm);
    const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, dm);
    const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, dm);
    for (const auto& named : masks_for(tq, tk, rng)) {
      const Mask& mask = named.second;
      INFO("tq " << tq << ", mask " << named.first);
      const attn::MultiHeadResult<S> ref = attn::multi_head(q, k, v, p, mask);
      attn::TopK<S> top(4);
      attn::RowStats<S> stats0, stats3;
      Matrix<S> mean(tq, tk), max(tq, tk), sum(tq, tk);
      Matrix<S> head2(tq, tk);
      attn::FullWeights<S> full2(head2);  // one selected head's whole map
      attn::HeadSinks<S> sinks;
      sinks.head(1, top).head(0, stats0).head(3, stats3).head(2, full2);
      sinks.reduce(attn::HeadReduction::mean, mean).reduce(attn::HeadReduction::max, max);
      sinks.reduce(attn::HeadReduction::sum, sum);
      Matrix<S> out(tq, dm);
      attn::MultiHeadWorkspace<S> ws;
      for (int repeat = 0; repeat < 2; ++repeat) {  // a warm workspace and warm sinks give the same
        attn::multi_head_into(q, k, v, p, out, sinks, ws, mask);
        CHECK(same_bits(out, ref.output));
        CHECK((ws.fully_masked() == ref.fully_masked).all());
        // Reductions: the same order of operations as HeadWeights::reduce_into, bit for bit.
        CHECK(same_bits(mean, ref.weights.mean()));
        CHECK(same_bits(max, ref.weights.max()));
        CHECK(same_bits(sum, ref.weights.sum()));
        IndexMatrix idx;
        Matrix<S> val;
        topk_reference(Matrix<S>(ref.weights.head(1)), mask, 4, idx, val);
        CHECK(top.indices() == idx);
        CHECK(same_bits(top.weights(), val));
        CHECK(same_bits(stats0.entropy(), attn::row_entropy(ref.weights.head(0), mask)));
        CHECK(same_bits(stats3.entropy(), attn::row_entropy(ref.weights.head(3), mask)));
        CHECK(same_bits(head2, ref.weights.head(2)));
        // Memory: heads that run in turn share one set of blocks (none left in a head's workspace).
        for (auto& hw : attn::detail::MultiHeadWorkspaceAccess::heads(ws))
          CHECK(attn::detail::buffers(hw).block.view().size() == 0);
      }
      // Output only: the inference call.
      const attn::MultiHeadOutput<S> none = attn::multi_head(q, k, v, p, attn::no_weights, mask);
      CHECK(same_bits(none.output, ref.output));
      CHECK((none.fully_masked == ref.fully_masked).all());
    }
  }
  // Bad HeadSinks.
  const Matrix<S> x = attn_test::random_matrix<S>(rng, 5, dm);
  Matrix<S> out(5, dm);
  attn::MultiHeadWorkspace<S> ws;
  attn::TopK<S> top(2);
  attn::HeadSinks<S> bad_head;
  bad_head.head(4, top);
  CHECK(message_of<attn::invalid_argument>([&] { attn::multi_head_into(x, x, x, p, out, bad_head, ws); }) ==
        "attn::multi_head: HeadSinks head (4) must be in [0, 4)");
  attn::HeadSinks<S> shared;
  shared.head(0, top).head(2, top);
  CHECK(message_of<attn::invalid_argument>([&] { attn::multi_head_into(x, x, x, p, out, shared, ws); }) ==
        "attn::multi_head: a sink of HeadSinks head (2) is given twice; each head needs sink objects of its own");
  Matrix<S> wrong(5, 4);
  attn::HeadSinks<S> bad_reduce;
  bad_reduce.reduce(attn::HeadReduction::mean, wrong);
  CHECK(message_of<attn::invalid_argument>([&] { attn::multi_head_into(x, x, x, p, out, bad_reduce, ws); }) ==
        "attn::multi_head: HeadSinks::reduce output (5x4) must be (5x5)");
}

TEMPLATE_TEST_CASE("sinks: bad sinks are refused with a message", "[sinks][errors]", float, double) {
  using S = TestType;
  const Matrix<S> q = Matrix<S>::Ones(4, 2);
  const Matrix<S> k = Matrix<S>::Ones(3, 2);
  const Matrix<S> v = Matrix<S>::Ones(3, 2);
  Matrix<S> out(4, 2);
  attn::Workspace<S> ws;
  CHECK(message_of<attn::invalid_argument>([] { attn::TopK<S> t(0); }) == "attn::TopK: k (0) must be >= 1");
  Matrix<S> wrong(4, 4);
  attn::FullWeights<S> full(wrong);
  CHECK(message_of<attn::invalid_argument>([&] { attn::scaled_dot_product_into(q, k, v, out, full, ws); }) ==
        "attn::scaled_dot_product: FullWeights (4x4) must be (4x3)");
  Matrix<S> w1(4, 3), w2(4, 3);
  attn::FullWeights<S> a(w1), b(w2);
  CHECK(message_of<attn::invalid_argument>([&] {
          attn::scaled_dot_product_into(q, k, v, out, attn::Sinks<S>(a, b), ws);
        }) == "attn::scaled_dot_product: sinks hold 2 FullWeights; at most one full matrix per call");
  attn::RowStats<S> stats;
  CHECK(message_of<attn::invalid_argument>([&] {
          attn::scaled_dot_product_into(q, k, v, out, attn::Sinks<S>(stats, a, stats), ws);
        }) == "attn::scaled_dot_product: sinks[2] is sinks[0] again");
  Matrix<S> sel(2, 3);
  attn::SelectedRows<S> bad_row({0, 4}, sel);
  CHECK(message_of<attn::invalid_argument>([&] { attn::scaled_dot_product_into(q, k, v, out, bad_row, ws); }) ==
        "attn::scaled_dot_product: SelectedRows rows[1] (4) must be in [0, 4)");
  attn::SelectedRows<S> bad_shape({0}, sel);
  CHECK(message_of<attn::invalid_argument>([&] { attn::scaled_dot_product_into(q, k, v, out, bad_shape, ws); }) ==
        "attn::scaled_dot_product: SelectedRows output (2x3) must be (1x3) (rows.size() x Tk)");
  // The mechanism's own checks come first.
  Matrix<S> bad_out(3, 2);
  CHECK(message_of<attn::invalid_argument>([&] {
          attn::scaled_dot_product_into(q, k, v, bad_out, attn::no_weights, ws);
        }) == "attn::scaled_dot_product: output (3x2) must be (4x2)");
}

TEMPLATE_TEST_CASE("sinks: NpyWeightsWriter streams the map to the bytes write_npy writes", "[sinks][npy]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(41);
  attn_test::TempDir dir;
  for (const auto& shape : std::vector<std::pair<Index, Index>>{{530, 70}, {3, 5}, {300, 0}, {0, 4}}) {
    const Index tq = shape.first, tk = shape.second;
    const Matrix<S> q = attn_test::random_matrix<S>(rng, tq, 8);
    const Matrix<S> k = attn_test::random_matrix<S>(rng, tk, 8);
    const Matrix<S> v = attn_test::random_matrix<S>(rng, tk, 3);
    const Mask mask = tk > 0 ? Mask::causal(-1) & Mask::key_length(tk - 1) : Mask();
    INFO("tq " << tq << ", tk " << tk);
    const attn::AttentionResult<S> ref = attn::scaled_dot_product(q, k, v, mask);
    const auto streamed = dir.path / "streamed.npy";
    const auto whole = dir.path / "whole.npy";
    attn::io::NpyWeightsWriter<S> writer(streamed);
    attn::TopK<S> top(2);
    const attn::OutputResult<S> r = attn::scaled_dot_product(q, k, v, attn::Sinks<S>(writer, top), mask);
    CHECK(same_bits(r.output, ref.output));
    attn::io::write_npy(whole, ref.weights);
    // Byte for byte what write_npy writes for the full matrix (NumPy 1.24's np.save bytes).
    CHECK(attn_test::slurp(streamed) == attn_test::slurp(whole));
    const Matrix<S> back = attn::io::read_npy<S>(streamed);
    CHECK(same_bits(back, ref.weights));
  }
  // Nothing left behind but the two files.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), std::filesystem::directory_iterator()) == 2);
}

TEST_CASE("sinks: NpyWeightsWriter failures leave the target as it was and say why", "[sinks][npy][errors]") {
  attn_test::TempDir dir;
  const Matrix<double> q = Matrix<double>::Ones(300, 2);
  const Matrix<double> k = Matrix<double>::Ones(4, 2);
  // A directory at the path is refused before any block.
  attn::io::NpyWeightsWriter<double> to_dir(dir.path);
  CHECK(message_of<std::runtime_error>([&] { attn::scaled_dot_product(q, k, k, to_dir); }) ==
        "attn::io::NpyWeightsWriter: cannot write '" + dir.path.string() +
            "': it is a directory, and only a regular file is replaced");
  // A write that fails mid-call: the call throws at its end, the old file stays, no temporary is left.
  const auto target = dir.path / "w.npy";
  { std::ofstream(target) << "old"; }
  int writes = 0;
  attn::io::detail::write_fault_hook() = [&](attn::io::detail::WriteStep step, const std::filesystem::path&) {
    return step == attn::io::detail::WriteStep::write && ++writes == 2 ? ENOSPC : 0;
  };
  attn::io::NpyWeightsWriter<double> writer(target);
  const std::string message = message_of<std::runtime_error>([&] { attn::scaled_dot_product(q, k, k, writer); });
  attn::io::detail::write_fault_hook() = nullptr;
  CHECK(message == "attn::io::NpyWeightsWriter: cannot write '" + target.string() +
                       "': writing the temporary file failed: " + attn::io::detail::system_reason(ENOSPC));
  CHECK(attn_test::slurp(target) == "old");
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), std::filesystem::directory_iterator()) == 1);
  // The same writer works again.
  attn::scaled_dot_product(q, k, k, writer);
  CHECK(attn::io::read_npy<double>(target).rows() == 300);
}

TEST_CASE("sinks: NumPy memory-maps a streamed map (tests/fixtures/make_npy_stream_check.py)", "[sinks][npy]") {
  // The script streams a causal 2048 x 2048 float map with NpyWeightsWriter, opens it with
  // np.load(mmap_mode='r') and compares it with a float64 NumPy softmax; its verdicts are committed.
  const std::string check = attn_test::slurp(std::string(ATTN_FIXTURE_DIR) + "/npy/stream_check.txt");
  CHECK(check == "attn NpyWeightsWriter streamed map, read by np.load(mmap_mode='r')\n"
                 "memmap True\nshape 2048 2048\ndtype <f4\nfortran_order False\n"
                 "masked entries exactly 0: True\nmax |w - float64 NumPy| <= 1e-6: True\n"
                 "max |row sum - 1| <= 1e-5: True\n");
}

}  // namespace test_sinks
