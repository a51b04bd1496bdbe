// SPDX-License-Identifier: MIT
// Weight sinks on the Keras layers over one sequence (attn::seq_self_attention,
// attn::attention_pooling and attn::many_to_one, their value and `_into` forms) and on
// attn::multi_head_batch: every sink against a reduction of the full weights of the same call made with weights, bit for bit
// (each reference reduces the full matrix in the order the sink does, as tests/test_sinks.cpp),
// under every kind of mask, with the layers' own windows and self-attention's padded steps;
// output only; bad arguments.
#include "helpers.hpp"
#include "sink_references.hpp"

#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

// Everything in this file lives in namespace test_sinks_layers: the suite is a unity build.
namespace test_sinks_layers {

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
using attn_test::Visible;

// Calls one layer (`into`, `value`: its two callable objects) on `x` with a weights matrix, then
// with every sink at once, then output only, and checks each against the full call. `seen`: the
// mask the rows see (the layer's window included); rows from `padded_from` on are padded steps.
template <typename S, typename Into, typename Value, typename Params>
void check_layer(const Into& into, const Value& value, const Matrix<S>& x, const Params& params, Index rows,
                 const Mask& mask, const Mask& seen, Index padded_from, const attn::Options& options) {
  const Index t = x.rows();
  const Index d = x.cols();
  attn::Workspace<S> ws_full;
  Matrix<S> out_full(rows, d);
  Matrix<S> w(rows, t);
  const Index masked_full = into(x, params, out_full, w, ws_full, mask, options);
  const attn::RowFlags flags_full = ws_full.fully_masked();
  // Padded steps: zero rows, reported fully masked.
  for (Index i = padded_from; i < rows; ++i) {
    CHECK((w.row(i).array() == S(0)).all());
    CHECK(flags_full(i));
  }

  const std::vector<Index> picks = rows > 0 ? std::vector<Index>{rows - 1, 0, rows / 2} : std::vector<Index>{};
  Matrix<S> selected(static_cast<Index>(picks.size()), t);
  attn::SelectedRows<S> pick(picks, selected);
  ReductionSinks<S> reductions(rows, t);
  attn::Workspace<S> ws;
  Matrix<S> out(rows, d);
  const Index masked = into(x, params, out,
                            attn::Sinks<S>(pick, reductions.top, reductions.sums, reductions.stats, reductions.callback),
                            ws, mask, options);
  CHECK(masked == masked_full);
  CHECK((ws.fully_masked() == flags_full).all());
  CHECK(same_bits(out, out_full));
  if (options.return_scores) CHECK(same_bits(Matrix<S>(ws.scores()), Matrix<S>(ws_full.scores())));
  if (t > 0) {
    for (std::size_t r = 0; r < picks.size(); ++r)
      CHECK(same_bits(selected.row(static_cast<Index>(r)), w.row(picks[r])));
  }
  // Padded steps see no key in the references: TopK's -1 and ColumnSums' counts.
  reductions.check(w, Visible([&](Index i, Index j) { return i < padded_from && seen.visible(i, j, t); }), seen);

  // FullWeights beside another sink: the weights in place, the same bits.
  Matrix<S> w2 = Matrix<S>::Constant(rows, t, S(5));
  attn::FullWeights<S> full(w2);
  attn::TopK<S> top2(1);
  into(x, params, out, attn::Sinks<S>(top2, full), ws, mask, options);
  CHECK(same_bits(w2, w));
  CHECK(same_bits(out, out_full));

  // Value forms: the full call, and output only (Keras return_attention=False).
  const attn::AttentionResult<S> ref = value(x, params, mask, options);
  CHECK(same_bits(ref.output, out_full));
  CHECK(same_bits(ref.weights, w));
  const attn::OutputResult<S> none = value(x, params, attn::no_weights, mask, options);
  CHECK(same_bits(none.output, out_full));
  CHECK((none.fully_masked == flags_full).all());
  CHECK(same_bits(none.scores, ref.scores));
  attn::Workspace<S> ws_none;
  CHECK(into(x, params, out, attn::no_weights, ws_none, mask, options) == masked_full);
  CHECK(same_bits(out, out_full));
}

// Every kind of mask for self-attention over t steps, with fully masked rows among them.
std::vector<std::pair<std::string, Mask>> self_masks(Index t, std::mt19937_64& rng) {
  BoolMatrix m(t, t);
  std::bernoulli_distribution coin(0.6);
  for (Index i = 0; i < t; ++i)
    for (Index j = 0; j < t; ++j) m(i, j) = coin(rng);
  if (t > 2) m.row(1).setConstant(false);
  return {{"none", Mask()},
          {"key length (padded steps)", Mask::key_length(t / 2)},
          {"key length 0 (every step padded)", Mask::key_length(0)},
          {"causal -2 (first rows fully masked)", Mask::causal(-2)},
          {"window", Mask::window(3, 1)},
          {"matrix", Mask::matrix(m)},
          {"matrix & causal & length", Mask::matrix(m) & Mask::causal(1) & Mask::key_length(t - t / 4)}};
}

}  // namespace

TEMPLATE_TEST_CASE("layer sinks: seq_self_attention's sinks equal reductions of its full weights", "[sinks][layers]",
                   float, double) {
  using S = TestType;
  std::mt19937_64 rng(606);
  const Index d = 4, units = 5;
  // One step, one short block, one block with a short softmax chunk, two blocks (the last of 4 rows).
  for (const Index t : {Index(1), Index(6), Index(40), Index(260)}) {
    const Matrix<S> x = attn_test::random_matrix<S>(rng, t, d, -2, 2);
    std::vector<std::pair<std::string, attn::SeqSelfAttentionParams<S>>> layers = {
        {"additive", attn::SeqSelfAttentionParams<S>::additive(
                         attn_test::random_matrix<S>(rng, d, units), attn_test::random_matrix<S>(rng, d, units),
                         attn_test::random_matrix<S>(rng, 1, units), attn_test::random_matrix<S>(rng, units, 1),
                         attn_test::random_matrix<S>(rng, 1, 1))},
        {"multiplicative", attn::SeqSelfAttentionParams<S>::multiplicative(attn_test::random_matrix<S>(rng, d, d),
                                                                           attn_test::random_matrix<S>(rng, 1, 1))}};
    layers.push_back({"additive width 4 history only", layers[0].second});
    layers.back().second.width = 4;
    layers.back().second.history_only = true;
    layers.push_back({"multiplicative width 3", layers[1].second});
    layers.back().second.width = 3;
    if (t > 256) layers = {layers[0], layers[3]};  // two blocks: two variants (the test's time at -O0)
    for (const auto& [layer, params] : layers) {
      for (const auto& [name, mask] : self_masks(t, rng)) {
        const Mask seen = params.width || params.history_only
                              ? mask & attn::local_attention_mask(params.width, params.history_only)
                              : mask;
        const Index padded_from = mask.length() ? *mask.length() : t;
        for (const Probability p : attn_test::all_probabilities) {
          INFO("T " << t << ", " << layer << ", mask " << name << ", probability " << static_cast<int>(p));
          attn::Options options;
          options.probability = p;
          options.return_scores = p == Probability::softmax;
          if (p == Probability::sparsemax) options.scale = 0.75;
          check_layer<S>(attn::seq_self_attention_into, attn::seq_self_attention, x, params, t, mask, seen,
                         padded_from, options);
        }
      }
    }
  }
}

TEMPLATE_TEST_CASE("layer sinks: attention_pooling's sinks equal reductions of its full weights", "[sinks][layers]",
                   float, double) {
  using S = TestType;
  std::mt19937_64 rng(707);
  const Index d = 5;
  for (const Index t : {Index(1), Index(9), Index(300), Index(9000)}) {  // 9000: a block of one row, long keys
    const Matrix<S> x = attn_test::random_matrix<S>(rng, t, d, -2, 2);
    BoolMatrix m(1, t);
    std::bernoulli_distribution coin(0.5);
    for (Index j = 0; j < t; ++j) m(0, j) = coin(rng);
    const std::vector<std::pair<std::string, Mask>> masks = {
        {"none", Mask()},
        {"key length", Mask::key_length((t + 1) / 2)},
        {"key length 0 (fully masked)", Mask::key_length(0)},
        {"matrix", Mask::matrix(m)},
        {"matrix of no step", Mask::matrix(BoolMatrix::Zero(1, t))}};
    for (const bool tanh : {false, true}) {
      const Matrix<S> w = attn_test::random_matrix<S>(rng, d, 1);
      const attn::RowVector<S> b = attn_test::random_matrix<S>(rng, 1, 1);
      const auto params =
          tanh ? attn::PoolingParams<S>::feed_forward(w, b) : attn::PoolingParams<S>::seq_weighted(w, b);
      for (const auto& [name, mask] : masks) {
        for (const Probability p : attn_test::all_probabilities) {
          INFO("T " << t << (tanh ? ", feed-forward" : ", seq_weighted") << ", mask " << name << ", probability "
                    << static_cast<int>(p));
          attn::Options options;
          options.probability = p;
          options.return_scores = p != Probability::hardmax;
          check_layer<S>(attn::attention_pooling_into, attn::attention_pooling, x, params, 1, mask, mask, 1,
                         options);
        }
      }
    }
  }
}

namespace {

// attn::many_to_one in check_layer's shapes: its `_into` form with the context kept aside (each
// call's context appended to `contexts`), its value form as an AttentionResult.
template <typename S>
struct ManyToOneInto {
  std::vector<Matrix<S>>* contexts;
  template <typename W>
  Index operator()(const Matrix<S>& h, const attn::ManyToOneParams<S>& params, Matrix<S>& output, W&& weights,
                   attn::Workspace<S>& ws, const Mask& mask, const attn::Options& options) const {
    Matrix<S> context(1, h.cols());
    const Index masked =
        attn::many_to_one_into(h, params, output, std::forward<W>(weights), context, ws, mask, options);
    contexts->push_back(context);
    return masked;
  }
};

template <typename S>
struct ManyToOneValue {
  attn::AttentionResult<S> operator()(const Matrix<S>& h, const attn::ManyToOneParams<S>& params, const Mask& mask,
                                      const attn::Options& options) const {
    const attn::ManyToOneResult<S> r = attn::many_to_one(h, params, mask, options);
    attn::AttentionResult<S> a;
    a.output = r.output;
    a.weights = r.weights;
    a.scores = r.scores;
    a.fully_masked = r.fully_masked;
    return a;
  }
  attn::OutputResult<S> operator()(const Matrix<S>& h, const attn::ManyToOneParams<S>& params,
                                   const attn::Sinks<S>& sinks, const Mask& mask,
                                   const attn::Options& options) const {
    return attn::many_to_one(h, params, sinks, mask, options);
  }
};

}  // namespace

TEMPLATE_TEST_CASE("layer sinks: many_to_one's sinks equal reductions of its full weights", "[sinks][layers]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(909);
  const Index d = 4;
  for (const Index t : {Index(1), Index(9), Index(300)}) {
    Matrix<S> h = attn_test::random_matrix<S>(rng, t, d, -2, 2);
    if (t > 2) h(t - 1, 0) = std::numeric_limits<S>::quiet_NaN();  // in a step "key length" hides
    BoolMatrix m(1, t);
    std::bernoulli_distribution coin(0.5);
    for (Index j = 0; j < t; ++j) m(0, j) = coin(rng);
    const std::vector<std::pair<std::string, Mask>> masks = {
        {"key length", Mask::key_length((t + 1) / 2)},
        {"key length 0 (fully masked)", Mask::key_length(0)},
        {"matrix & length", Mask::matrix(m) & Mask::key_length((t + 1) / 2)},
        {"matrix of no step", Mask::matrix(BoolMatrix::Zero(1, t))}};
    const Matrix<S> wc = attn_test::random_matrix<S>(rng, 2 * d, d);  // output 1×d, as check_layer's
    for (const bool luong : {true, false}) {
      const auto params = luong ? attn::ManyToOneParams<S>::luong(attn_test::random_matrix<S>(rng, d, d), wc)
                                : attn::ManyToOneParams<S>::bahdanau(attn_test::random_matrix<S>(rng, d, 3),
                                                                     attn_test::random_matrix<S>(rng, d, 3),
                                                                     attn_test::random_matrix<S>(rng, 3, 1), wc);
      for (const auto& [name, mask] : masks) {
        for (const Probability p : attn_test::all_probabilities) {
          INFO("T " << t << (luong ? ", luong" : ", bahdanau") << ", mask " << name << ", probability "
                    << static_cast<int>(p));
          attn::Options options;
          options.probability = p;
          options.return_scores = p != Probability::hardmax;
          std::vector<Matrix<S>> contexts;
          check_layer<S>(ManyToOneInto<S>{&contexts}, ManyToOneValue<S>{}, h, params, 1, mask, mask, 1, options);
          // The context of every form: that of the call with a weights matrix (the first).
          for (const Matrix<S>& c : contexts) CHECK(same_bits(c, contexts.front()));
          CHECK(contexts.size() == 4);
        }
      }
    }
  }
  // Bad arguments: the layer's checks first, then the sinks', named by the layer.
  const Matrix<double> h = Matrix<double>::Ones(5, 2);
  const auto params = attn::ManyToOneParams<double>::luong(Matrix<double>::Ones(2, 2), Matrix<double>::Ones(4, 3));
  attn::Workspace<double> ws;
  Matrix<double> out(1, 3), context(1, 2), wide(1, 6);
  attn::FullWeights<double> full_wide(wide);
  Matrix<double> short_context(1, 1);
  CHECK(message_of<attn::invalid_argument>([&] {
          attn::many_to_one_into(h, params, out, full_wide, short_context, ws);
        }) == "attn::many_to_one: context (1x1) must be (1x2)");
  CHECK(message_of<attn::invalid_argument>([&] { attn::many_to_one_into(h, params, out, full_wide, context, ws); }) ==
        "attn::many_to_one: FullWeights (1x6) must be (1x5)");
  CHECK(message_of<attn::invalid_argument>([&] { attn::many_to_one(h, params, full_wide); }) ==
        "attn::many_to_one: FullWeights (1x6) must be (1x5)");
}

TEMPLATE_TEST_CASE("layer sinks: NaN in padded steps reaches no output, with or without sinks", "[sinks][layers]",
                   float, double) {
  using S = TestType;
  std::mt19937_64 rng(808);
  const Index t = 30, d = 4;
  Matrix<S> x = attn_test::random_matrix<S>(rng, t, d);
  x.bottomRows(5).setConstant(std::numeric_limits<S>::quiet_NaN());
  const Mask mask = Mask::key_length(t - 5);
  const auto self = attn::SeqSelfAttentionParams<S>::multiplicative(attn_test::random_matrix<S>(rng, d, d));
  const auto pool = attn::PoolingParams<S>::seq_weighted(attn_test::random_matrix<S>(rng, d, 1));
  attn::ColumnSums<S> sums;
  const attn::OutputResult<S> a = attn::seq_self_attention(x, self, sums, mask);
  CHECK(a.output.allFinite());
  CHECK(a.num_fully_masked() == 5);
  CHECK(sums.sums().allFinite());
  CHECK((sums.sums().tail(5).array() == S(0)).all());
  CHECK(sums.counts().tail(5).sum() == 0);
  CHECK(same_bits(a.output, attn::seq_self_attention(x, self, mask).output));
  const attn::OutputResult<S> b = attn::attention_pooling(x, pool, attn::no_weights, mask);
  CHECK(b.output.allFinite());
  CHECK(same_bits(b.output, attn::attention_pooling(x, pool, mask).output));
}

TEST_CASE("layer sinks: bad arguments are refused with the layer's messages", "[sinks][layers][errors]") {
  const Matrix<double> x = Matrix<double>::Ones(7, 4);
  const auto self = attn::SeqSelfAttentionParams<double>::multiplicative(Matrix<double>::Ones(4, 4));
  const auto pool = attn::PoolingParams<double>::seq_weighted(Matrix<double>::Ones(4, 1));
  attn::Workspace<double> ws;
  Matrix<double> out(7, 4);
  attn::TopK<double> top(2);

  // The layer's own checks come first, with sinks as with a matrix.
  auto bad = self;
  bad.width = 0;
  CHECK(message_of<attn::invalid_argument>([&] { attn::seq_self_attention(x, bad, top); }) ==
        "attn::seq_self_attention: params.width (0) must be > 0");
  Matrix<double> short_out(6, 4);
  CHECK(message_of<attn::invalid_argument>([&] {
          attn::seq_self_attention_into(x, self, short_out, attn::no_weights, ws);
        }) == "attn::seq_self_attention: output (6x4) must be (7x4)");
  CHECK(message_of<attn::invalid_argument>([&] {
          attn::seq_self_attention_into(x, self, out, top, ws, Mask::matrix(BoolMatrix::Ones(7, 6)));
        }) == "attn::seq_self_attention: mask matrix (7x6) must match the scores (7x7)");
  attn::Options scaled;
  scaled.scale = std::numeric_limits<double>::infinity();
  CHECK(message_of<attn::invalid_argument>([&] { attn::seq_self_attention(x, self, top, Mask(), scaled); }) ==
        "attn::seq_self_attention: options.scale must be finite");
  // Then the sinks, named by the layer.
  Matrix<double> wrong(7, 6);
  attn::FullWeights<double> full(wrong);
  CHECK(message_of<attn::invalid_argument>([&] { attn::seq_self_attention_into(x, self, out, full, ws); }) ==
        "attn::seq_self_attention: FullWeights (7x6) must be (7x7)");
  Matrix<double> w1(7, 7), w2(7, 7);
  attn::FullWeights<double> a(w1), b(w2);
  CHECK(message_of<attn::invalid_argument>([&] {
          attn::seq_self_attention(x, self, attn::Sinks<double>(a, b));
        }) == "attn::seq_self_attention: sinks hold 2 FullWeights; at most one full matrix per call");
  CHECK(message_of<attn::invalid_argument>([&] {
          attn::seq_self_attention(x, self, attn::Sinks<double>(top, a, top));
        }) == "attn::seq_self_attention: sinks[2] is sinks[0] again");
  Matrix<double> sel(1, 7);
  attn::SelectedRows<double> row7({7}, sel);
  CHECK(message_of<attn::invalid_argument>([&] { attn::seq_self_attention(x, self, row7); }) ==
        "attn::seq_self_attention: SelectedRows rows[0] (7) must be in [0, 7)");

  // Pooling: one query row.
  auto bad_pool = pool;
  bad_pool.w = Matrix<double>::Ones(3, 1);
  CHECK(message_of<attn::invalid_argument>([&] { attn::attention_pooling(x, bad_pool, attn::no_weights); }) ==
        "attn::attention_pooling: params.w (3x1) must be (4x1)");
  Matrix<double> pooled(1, 4);
  CHECK(message_of<attn::invalid_argument>([&] {
          attn::attention_pooling_into(x, pool, out, attn::no_weights, ws);
        }) == "attn::attention_pooling: output (7x4) must be (1x4)");
  CHECK(message_of<attn::invalid_argument>([&] {
          attn::attention_pooling_into(x, pool, pooled, top, ws, Mask::key_length(8));
        }) == "attn::attention_pooling: mask key length (8) exceeds the number of keys (7)");
  attn::SelectedRows<double> row1({1}, sel);
  CHECK(message_of<attn::invalid_argument>([&] { attn::attention_pooling_into(x, pool, pooled, row1, ws); }) ==
        "attn::attention_pooling: SelectedRows rows[0] (1) must be in [0, 1)");
  Matrix<double> wide(1, 8);
  attn::FullWeights<double> full_wide(wide);
  CHECK(message_of<attn::invalid_argument>([&] { attn::attention_pooling(x, pool, full_wide); }) ==
        "attn::attention_pooling: FullWeights (1x8) must be (1x7)");
}

TEMPLATE_TEST_CASE("batch sinks: multi_head_batch with HeadSinks per item equals the full batch's weights",
                   "[sinks][multi_head][batch]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(909);
  const auto p = attn_test::random_multi_head_params<S>(rng, 4, 8, 3, 5, 6);
  std::vector<Matrix<S>> qs, ks, vs;
  std::vector<Mask> masks;
  const Index tqs[] = {40, 1, 300, 0, 3};
  const Index tks[] = {6, 2, 33, 3, 0};
  for (int b = 0; b < 5; ++b) {
    qs.push_back(attn_test::random_matrix<S>(rng, tqs[b], 3));
    ks.push_back(attn_test::random_matrix<S>(rng, tks[b], 5));
    vs.push_back(attn_test::random_matrix<S>(rng, tks[b], 6));
    masks.push_back(b == 2 ? Mask::causal(-2) & Mask::key_length(30) : Mask::key_length(tks[b] / 2));
  }
  const auto ref = attn::multi_head_batch(qs, ks, vs, p, masks);
  // Item 0: the mean over heads (torch's average_attn_weights=True) and TopK of head 1; item 1:
  // the maximum over heads; item 2: ColumnSums of head 3 and head 0's whole map; items 3, 4: none.
  Matrix<S> mean0(tqs[0], tks[0]), max1(tqs[1], tks[1]), head0(tqs[2], tks[2]);
  attn::TopK<S> top(2);
  attn::ColumnSums<S> sums;
  attn::FullWeights<S> full(head0);
  std::vector<attn::HeadSinks<S>> sinks(5);
  sinks[0].reduce(attn::HeadReduction::mean, mean0).head(1, top);
  sinks[1].reduce(attn::HeadReduction::max, max1);
  sinks[2].head(3, sums).head(0, full);
  std::vector<attn::MultiHeadOutput<S>> results;
  attn::MultiHeadWorkspace<S> ws;
  for (int round = 0; round < 2; ++round) {  // a warm workspace, results and sinks give the same
    attn::multi_head_batch_into(qs, ks, vs, p, results, sinks, ws, masks);
    REQUIRE(results.size() == 5);
    for (std::size_t b = 0; b < 5; ++b) {
      INFO("round " << round << ", item " << b);
      CHECK(same_bits(results[b].output, ref[b].output));
      CHECK((results[b].fully_masked == ref[b].fully_masked).all());
      CHECK((ws.fully_masked(static_cast<Index>(b)) == ref[b].fully_masked).all());
    }
    CHECK(same_bits(mean0, ref[0].weights.mean()));
    CHECK(same_bits(max1, ref[1].weights.max()));
    const Matrix<S> w01 = ref[0].weights.head(1);
    IndexMatrix idx;
    Matrix<S> val;
    topk_reference(w01, masks[0], 2, idx, val);
    CHECK(top.indices() == idx);
    CHECK(same_bits(top.weights(), val));
    CHECK(same_bits(sums.sums(), column_sums_reference(Matrix<S>(ref[2].weights.head(3)))));
    CHECK(same_bits(head0, ref[2].weights.head(0)));
  }
  CHECK(results[4].num_fully_masked() == 3);  // no keys: every query fully masked

  // Output only (need_weights=False) for the whole batch: value and `_into` forms.
  const std::vector<attn::MultiHeadOutput<S>> none = attn::multi_head_batch(qs, ks, vs, p, attn::no_weights, masks);
  attn::multi_head_batch_into(qs, ks, vs, p, results, attn::no_weights, ws, masks);
  const std::vector<attn::MultiHeadOutput<S>> empty_list =
      attn::multi_head_batch(qs, ks, vs, p, std::vector<attn::HeadSinks<S>>(), masks);
  REQUIRE(none.size() == 5);
  for (std::size_t b = 0; b < 5; ++b) {
    CHECK(same_bits(none[b].output, ref[b].output));
    CHECK(same_bits(results[b].output, ref[b].output));
    CHECK(same_bits(empty_list[b].output, ref[b].output));
    CHECK((none[b].fully_masked == ref[b].fully_masked).all());
  }
  const std::vector<Matrix<S>> no_items;
  CHECK(attn::multi_head_batch(no_items, no_items, no_items, p, attn::no_weights).empty());
}

TEST_CASE("batch sinks: bad sinks are refused naming the item", "[sinks][multi_head][batch][errors]") {
  std::mt19937_64 rng(10);
  const auto p = attn_test::random_multi_head_params<double>(rng, 4, 8, 8, 8, 8);
  const std::vector<Matrix<double>> two = {Matrix<double>::Ones(3, 8), Matrix<double>::Ones(5, 8)};
  std::vector<attn::HeadSinks<double>> one(1);
  CHECK(message_of<attn::invalid_argument>([&] { attn::multi_head_batch(two, two, two, p, one); }) ==
        "attn::multi_head_batch: sinks.size() (1) must be 0 or q.size() (2)");
  attn::TopK<double> top(1);
  std::vector<attn::HeadSinks<double>> bad_head(2);
  bad_head[1].head(4, top);
  CHECK(message_of<attn::invalid_argument>([&] { attn::multi_head_batch(two, two, two, p, bad_head); }) ==
        "attn::multi_head_batch: item 1: HeadSinks head (4) must be in [0, 4)");
  Matrix<double> wrong(3, 4);
  std::vector<attn::HeadSinks<double>> bad_reduce(2);
  bad_reduce[0].reduce(attn::HeadReduction::mean, wrong);
  CHECK(message_of<attn::invalid_argument>([&] { attn::multi_head_batch(two, two, two, p, bad_reduce); }) ==
        "attn::multi_head_batch: item 0: HeadSinks::reduce output (3x4) must be (3x3)");
  // Two items writing to one map or one sink object (a user's two means into one matrix kept
  // item 1's alone): refused, and so are two reductions of one item into one map.
  const std::vector<Matrix<double>> alike = {Matrix<double>::Random(5, 8), Matrix<double>::Random(5, 8)};
  Matrix<double> map(5, 5);
  std::vector<attn::HeadSinks<double>> one_map(2);
  one_map[0].reduce(attn::HeadReduction::mean, map);
  one_map[1].reduce(attn::HeadReduction::mean, map);
  CHECK(message_of<attn::invalid_argument>([&] { attn::multi_head_batch(alike, alike, alike, p, one_map); }) ==
        "attn::multi_head_batch: sinks[0] and sinks[1] reduce into the same storage (HeadSinks::reduce); each item "
        "needs sinks and maps of its own");
  Matrix<double> tall(10, 5);  // rows 2..6 and 5..9 share rows 5 and 6
  std::vector<attn::HeadSinks<double>> rows_shared(2);
  rows_shared[0].reduce(attn::HeadReduction::mean, tall.middleRows(2, 5));
  rows_shared[1].reduce(attn::HeadReduction::max, tall.bottomRows(5));
  CHECK(message_of<attn::invalid_argument>([&] { attn::multi_head_batch(alike, alike, alike, p, rows_shared); }) ==
        "attn::multi_head_batch: sinks[0] and sinks[1] reduce into the same storage (HeadSinks::reduce); each item "
        "needs sinks and maps of its own");
  attn::TopK<double> shared_top(2);
  std::vector<attn::HeadSinks<double>> one_sink(2);
  one_sink[0].head(0, shared_top);
  one_sink[1].head(3, shared_top);
  CHECK(message_of<attn::invalid_argument>([&] { attn::multi_head_batch(alike, alike, alike, p, one_sink); }) ==
        "attn::multi_head_batch: sinks[0] and sinks[1] share a sink object (HeadSinks::head); each item needs sinks "
        "and maps of its own");
  attn::HeadSinks<double> twice;
  twice.reduce(attn::HeadReduction::mean, map).reduce(attn::HeadReduction::max, map.leftCols(5));
  Matrix<double> out(5, 8);
  attn::MultiHeadWorkspace<double> ws;
  CHECK(message_of<attn::invalid_argument>(
            [&] { attn::multi_head_into(alike[0], alike[0], alike[0], p, out, twice, ws); }) ==
        "attn::multi_head: HeadSinks::reduce outputs 0 and 1 share storage; each reduction needs a map of its own");
  // Disjoint parts of one matrix are the items' own: the top and bottom rows, the left and right
  // columns; each equals its item's own call.
  for (const bool by_rows : {true, false}) {
    Matrix<double> both = by_rows ? Matrix<double>(10, 5) : Matrix<double>(5, 10);
    std::vector<attn::HeadSinks<double>> parts(2);
    parts[0].reduce(attn::HeadReduction::mean, both.block(0, 0, 5, 5));
    parts[1].reduce(attn::HeadReduction::mean, by_rows ? both.block(5, 0, 5, 5) : both.block(0, 5, 5, 5));
    attn::multi_head_batch(alike, alike, alike, p, parts);
    for (std::size_t b = 0; b < 2; ++b) {
      const Matrix<double> mean = attn::multi_head(alike[b], alike[b], alike[b], p).weights.mean();
      const Index at = 5 * static_cast<Index>(b);
      const Matrix<double> got = by_rows ? both.block(at, 0, 5, 5) : both.block(0, at, 5, 5);
      CHECK(got == mean);
    }
  }
  // The storage test itself, on a buffer of 4-row columns: a takes rows 0..1 of columns 0..1;
  // b, 3 rows from row 3, runs past its column into rows 0..1 of the next (shared with a); c,
  // rows 2..3, shares nothing; d has another stride over the same entries.
  const double buffer[16] = {};
  using attn::detail::storage_overlaps;
  CHECK(storage_overlaps(buffer, 2, 2, 4, buffer + 3, 3, 1, 4));
  CHECK_FALSE(storage_overlaps(buffer, 2, 2, 4, buffer + 2, 2, 2, 4));
  CHECK(storage_overlaps(buffer + 2, 2, 2, 4, buffer, 2, 2, 4) ==
        storage_overlaps(buffer, 2, 2, 4, buffer + 2, 2, 2, 4));
  CHECK_FALSE(storage_overlaps(buffer, 2, 2, 4, buffer + 8, 4, 2, 4));
  CHECK(storage_overlaps(buffer, 2, 2, 4, buffer + 1, 2, 2, 5));
  CHECK_FALSE(storage_overlaps(buffer, 0, 2, 4, buffer, 2, 2, 4));
  // Single columns: contiguous whatever their stride says (0 included), on the other's grid.
  CHECK(storage_overlaps(buffer + 4, 2, 1, 0, buffer, 2, 2, 4));         // column 1 of the 2x2 block
  CHECK_FALSE(storage_overlaps(buffer + 2, 2, 1, 0, buffer, 2, 2, 4));   // rows 2..3 of column 0
  CHECK(storage_overlaps(buffer + 1, 3, 1, 0, buffer + 3, 2, 1, 7));     // entries 3 and 4 in both
  CHECK_FALSE(storage_overlaps(buffer, 3, 1, 0, buffer + 3, 2, 1, 7));
  // The batch's own checks first.
  CHECK(message_of<attn::invalid_argument>([&] {
          attn::multi_head_batch(two, two, two, p, attn::no_weights, {Mask::key_length(9), Mask()});
        }) == "attn::multi_head_batch: item 0: mask key length (9) exceeds the number of keys (3)");
  const std::vector<Matrix<double>> one_item = {Matrix<double>::Ones(3, 8)};
  CHECK(message_of<attn::invalid_argument>([&] { attn::multi_head_batch(two, one_item, two, p, bad_reduce); }) ==
        "attn::multi_head_batch: k.size() (1) must equal q.size() (2)");
}

}  // namespace test_sinks_layers
