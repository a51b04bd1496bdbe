// SPDX-License-Identifier: MIT
// Multi-head attention, numerically torch.nn.MultiheadAttention: project Q·Wq+bq, K·Wk+bk,
// V·Wv+bv, split the columns into h heads, scaled dot-product per head (scale 1/sqrt(dh)),
// concatenate, ·Wo+bo. Q is Tq×dq, K Tk×dk, V Tk×dv; output Tq×O (torch: Tq×D); weights
// h×Tq×Tk per head (torch's add_bias_kv and add_zero_attn append keys: MultiHeadParams::bias_k).
// Keras' MultiHeadAttention too: its key_dim is dh, value_dim dhv, output_shape O.
#pragma once

#include "config.hpp"
#include "detail/binding.hpp"
#include "detail/attend.hpp"
#include "detail/multi_head_run.hpp"
#include "head_weights.hpp"
#include "multi_head_params.hpp"
#include "multi_head_workspace.hpp"
#include "mask.hpp"
#include "result.hpp"
#include "scaled_dot_product.hpp"
#include "workspace.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// Semantics worth knowing (docs/03-multi-head.md explains them for users):
//
// - Weights: `result.weights` holds every head, h×Tq×Tk in one contiguous block (head-major,
//   each head column-major like attn::Matrix); `weights.head(i)` is an Eigen::Map on it (no
//   copy). `result.weights.mean()` is torch's default `average_attn_weights=True`.
//   `auto [output, weights] = attn::multi_head(...)` binds the output and the PER-HEAD
//   weights (attn's point is the heads; the mean is one cheap call away: `weights.mean()`).
// - Masks: one attn::Mask applies to every head, or Mask::per_head gives each head its own
//   (torch's 3-D attn_mask). A query that sees no key in any head gets all-zero weights and a
//   zero attention output before the output projection, so its output row is exactly `bo`
//   (zero without bias) and it is flagged in `fully_masked`. torch returns NaN for such a row;
//   attn never does.
// - Threads: when the consumer compiles with OpenMP (-fopenmp), heads and batch items run in
//   parallel (one task per item and head; then one per item and block of output columns).
//   Each task writes only its own slices, its own workspace and its thread's lane of scratch
//   (projections, blocks of weights: one set per thread, not per head), and Eigen's GEMM runs
//   single-threaded (detail::SingleThreadedEigen: also in a team of one thread, as
//   OMP_DYNAMIC or OMP_THREAD_LIMIT may give, unless Eigen::setNbThreads asked for more), so
//   results are bit-identical with and without OpenMP, for any thread count and setting.
//   Consequence: one head of one sequence is one task; a single head (attn::scaled_dot_product
//   and the other mechanisms) shares its blocks of query rows among the threads instead
//   (detail::attend_rows), and never inside this region. Called from inside an active
//   parallel region of the caller, attn's region has one thread.
// - Inputs are best passed as matrices, maps or column-major blocks: other expressions are
//   evaluated (into temporaries) by every product that reads them.

namespace attn {

/// Output and per-head weights of one multi-head call.
///
/// `auto [output, weights] = attn::multi_head(...)` binds `output` (Tq×O) and the per-head
/// `weights` (HeadWeights, h×Tq×Tk); `weights.mean()` gives torch's averaged weights.
template <typename Scalar>
struct MultiHeadResult : detail::BindOutputWeights<MultiHeadResult<Scalar>> {
  Matrix<Scalar> output;        ///< Tq×O (torch: Tq×D); a query that saw no key gets the row `bo` (0 without bias)
  HeadWeights<Scalar> weights;  ///< h×Tq×(Tk + appended keys); rows sum to 1 over visible keys, masked entries 0
  HeadWeights<Scalar> scores;   ///< h×Tq×(Tk + appended keys) scaled scores (Options::return_scores), else empty
  RowFlags fully_masked;        ///< Tq; true where the query saw no key in every head

  /// Number of queries that saw no key.
  /// \return the number of true entries of fully_masked
  Index num_fully_masked() const { return fully_masked.count(); }
};

namespace detail {

/// `T` in a parameter that must not take part in template argument deduction.
template <typename T>
struct NoDeduceT {
  using type = T;
};
template <typename T>
using NoDeduce = typename NoDeduceT<T>::type;

/// Every check scaled_dot_product_into would make for any head, made once before the
/// (possibly parallel) work starts: nothing may throw inside an OpenMP region.
template <typename Scalar, typename DerivedQ, typename DerivedK, typename DerivedV>
void check_multi_head_inputs(const char* fn, const Eigen::MatrixBase<DerivedQ>& q,
                             const Eigen::MatrixBase<DerivedK>& k, const Eigen::MatrixBase<DerivedV>& v,
                             const MultiHeadParams<Scalar>& p, const Mask& mask) {
  check_equal(fn, "q.cols()", q.cols(), "params.wq.rows()", p.wq.rows());
  check_equal(fn, "k.cols()", k.cols(), "params.wk.rows()", p.wk.rows());
  check_equal(fn, "v.cols()", v.cols(), "params.wv.rows()", p.wv.rows());
  check_equal(fn, "v.rows()", v.rows(), "k.rows()", k.rows());
  mask.check_heads(fn, p.heads, q.rows(), k.rows());
}

/// The options every multi-head call and step checks: a finite scale, a known probability
/// function, a valid softcap, and no single head's ALiBi (the slopes are params.alibi).
template <typename Scalar>
void check_multi_head_options(const char* fn, const Options& options) {
  detail::check_scale<Scalar>(fn, options.scale);
  detail::check_probability(fn, options.probability);
  detail::check_softcap<Scalar>(fn, options.softcap);
  ATTN_CHECK(!options.alibi, std::string(fn) + ": options.alibi is one head's bias; a multi-head layer takes one slope "
                                               "per head in params.alibi");
}

/// Throws attn::invalid_argument unless `options.query_offset` is >= 0 and, when not 0, has a
/// rotary embedding or ALiBi slopes to position (else it would move nothing, silently: the mask
/// takes its own offset).
template <typename Scalar>
void check_query_offset(const char* fn, const Options& options, const MultiHeadParams<Scalar>& p) {
  ATTN_CHECK(options.query_offset >= 0,
             std::string(fn) + ": options.query_offset (" + std::to_string(options.query_offset) + ") must be >= 0");
  ATTN_CHECK(options.query_offset == 0 || p.rotary || !p.alibi.empty(),
             std::string(fn) + ": options.query_offset (" + std::to_string(options.query_offset) +
                 ") positions the queries for params.rotary and params.alibi, and this call has neither (a mask "
                 "takes its own offset: Mask::causal(offset))");
}

/// The checks of a one-item multi_head_into call (with HeadWeights or with HeadSinks).
template <typename Scalar, typename DerivedQ, typename DerivedK, typename DerivedV>
void check_multi_head_call(const char* fn, const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                           const Eigen::MatrixBase<DerivedV>& v, const MultiHeadParams<Scalar>& params,
                           const Eigen::Ref<Matrix<Scalar>>& output, const Mask& mask, const Options& options) {
  check_multi_head_scalars<Scalar, DerivedQ, DerivedK, DerivedV>();
  check_multi_head_params(fn, params);
  check_multi_head_inputs(fn, q, k, v, params, mask);
  check_shape(fn, "output", output, q.rows(), params.output_dim());
  check_multi_head_options<Scalar>(fn, options);
  check_query_offset(fn, options, params);
}

/// "fn: item b: rest" from an exception message "fn: rest".
inline std::string item_message(const char* fn, Index b, const std::string& message) {
  const std::string prefix = std::string(fn) + ": ";
  const std::string rest = message.compare(0, prefix.size(), prefix) == 0 ? message.substr(prefix.size()) : message;
  return prefix + "item " + std::to_string(b) + ": " + rest;
}

/// Every check of a multi_head_batch call (both forms): the batch sizes, the parameters and
/// options, each item's inputs (the message naming the item). Returns the batch size.
template <typename QSeq, typename KSeq, typename VSeq, typename Scalar>
Index check_batch(const char* fn, const QSeq& q, const KSeq& k, const VSeq& v, const MultiHeadParams<Scalar>& params,
                  const std::vector<Mask>& masks, const Options& options) {
  using Q = std::decay_t<decltype(q[0])>;
  using K = std::decay_t<decltype(k[0])>;
  using V = std::decay_t<decltype(v[0])>;
  check_multi_head_scalars<Scalar, Q, K, V>();
  const Index batch = static_cast<Index>(q.size());
  check_equal(fn, "k.size()", static_cast<Index>(k.size()), "q.size()", batch);
  check_equal(fn, "v.size()", static_cast<Index>(v.size()), "q.size()", batch);
  ATTN_CHECK(masks.empty() || static_cast<Index>(masks.size()) == batch,
             std::string(fn) + ": masks.size() (" + std::to_string(masks.size()) + ") must be 0 or q.size() (" +
                 std::to_string(batch) + ")");
  check_multi_head_params(fn, params);
  check_multi_head_options<Scalar>(fn, options);
  check_query_offset(fn, options, params);
  const Mask none;
  for (Index b = 0; b < batch; ++b) {
    const auto i = static_cast<std::size_t>(b);
    try {
      check_multi_head_inputs(fn, q[i], k[i], v[i], params, masks.empty() ? none : masks[i]);
    } catch (const invalid_argument& e) {
      throw invalid_argument(item_message(fn, b, e.what()));
    }
  }
  return batch;
}

/// The masks of a batch call whose parameters append keys (MultiHeadParams::appended_keys):
/// item b's appended_keys_mask(), or its own mask where that serves; empty when `masks` serve as
/// they are (no appended key, or no mask).
template <typename QSeq, typename KSeq, typename Scalar>
std::vector<Mask> batch_call_masks(const QSeq& q, const KSeq& k, const MultiHeadParams<Scalar>& params,
                                   const std::vector<Mask>& masks) {
  std::vector<Mask> extended;
  const Index extra = params.appended_keys();
  if (extra == 0 || masks.empty()) return extended;
  for (std::size_t b = 0; b < masks.size(); ++b)
    extended.push_back(appended_keys_mask(masks[b], q[b].rows(), k[b].rows(), extra).value_or(masks[b]));
  return extended;
}

/// A checked batch through multi_head_run: `results` (MultiHeadResult or MultiHeadOutput items)
/// resized to the batch, item b's output Tq_b×O and fully masked rows written, the weights going
/// where `heads_to` puts them. `masks` are the call's (batch_call_masks, when keys are appended).
template <typename QSeq, typename KSeq, typename VSeq, typename Scalar, typename Result, typename HeadsTo>
void run_batch(const QSeq& q, const KSeq& k, const VSeq& v, const MultiHeadParams<Scalar>& params,
               const std::vector<Mask>& masks, std::vector<Result>& results, const HeadsTo& heads_to,
               MultiHeadWorkspace<Scalar>& ws, const Options& options) {
  using Q = std::decay_t<decltype(q[0])>;
  using K = std::decay_t<decltype(k[0])>;
  using V = std::decay_t<decltype(v[0])>;
  const Index batch = static_cast<Index>(q.size());
  const Mask none;
  const auto mask_of = [&](Index b) -> const Mask& {
    return masks.empty() ? none : masks[static_cast<std::size_t>(b)];
  };
  if (static_cast<Index>(results.size()) != batch) results.resize(static_cast<std::size_t>(batch));
  for (Index b = 0; b < batch; ++b) {
    results[static_cast<std::size_t>(b)].output.resize(q[static_cast<std::size_t>(b)].rows(), params.output_dim());
  }
  multi_head_run(
      batch, [&](Index b) -> const Q& { return q[static_cast<std::size_t>(b)]; },
      [&](Index b) -> const K& { return k[static_cast<std::size_t>(b)]; },
      [&](Index b) -> const V& { return v[static_cast<std::size_t>(b)]; }, mask_of, params,
      [&](Index b) -> Matrix<Scalar>& { return results[static_cast<std::size_t>(b)].output; }, heads_to, ws, options);
  for (Index b = 0; b < batch; ++b) {
    auto& r = results[static_cast<std::size_t>(b)];
    const auto flags = ws.fully_masked(b);
    if (r.fully_masked.size() != flags.size()) r.fully_masked.resize(flags.size());
    r.fully_masked = flags;
  }
}

}  // namespace detail

/// Multi-head attention into caller-owned `output` (Tq×O, O = `params.output_dim()`) and
/// `weights` (resized to h×Tq×Tk; storage grows only), with scratch `ws`; allocates nothing
/// once `ws` and `weights` have seen shapes this large. `options.scale` overrides 1/sqrt(dh);
/// `options.probability` applies per head. Returns the number of queries that saw no key
/// (which ones: `ws.fully_masked()`; per-head scores: `ws.scores()`).
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params projections, biases and the head count h
/// \param output Tq×O, written
/// \param weights resized to h×Tq×Tk (h×Tq×(Tk + e) with e = `params.appended_keys()`, torch's
///        bias_k and zero key, their columns last) and written; rows sum to 1 over visible keys
/// \param ws reusable scratch; reports the fully masked rows and the scores of the last call
/// \param mask which keys each query may see, in every head or per head (Mask::per_head;
///        default: all)
/// \param options probability function, return_scores and the scale
/// \return the number of queries that saw no key
/// \throws attn::invalid_argument for bad parameters (h < 1 or not dividing `wq.cols()` or
///         `wv.cols()`, shapes), inputs whose widths do not match them, an `output` not Tq×O, a
///         mask that does not fit, or a non-finite scale
template <typename DerivedQ, typename DerivedK, typename DerivedV, typename Scalar>
Index multi_head_into(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                      const Eigen::MatrixBase<DerivedV>& v, const MultiHeadParams<Scalar>& params,
                      detail::NoDeduce<Eigen::Ref<Matrix<Scalar>>> output, HeadWeights<Scalar>& weights,
                      MultiHeadWorkspace<Scalar>& ws,
                      const Mask& mask = Mask(), const Options& options = Options()) {
  constexpr const char* fn = "attn::multi_head";
  detail::check_multi_head_call(fn, q, k, v, params, output, mask, options);
  const auto weights_of = [&](Index) -> HeadWeights<Scalar>& { return weights; };
  const detail::CallMask call_mask(mask, q.rows(), k.rows(), params.appended_keys());
  detail::multi_head_run(
      1, [&](Index) -> const DerivedQ& { return q.derived(); }, [&](Index) -> const DerivedK& { return k.derived(); },
      [&](Index) -> const DerivedV& { return v.derived(); }, [&](Index) -> const Mask& { return call_mask.get(); },
      params,
      [&](Index) -> Eigen::Ref<Matrix<Scalar>>& { return output; }, detail::FullHeads<decltype(weights_of)>{weights_of},
      ws, options);
  return ws.num_fully_masked(0);
}

/// Multi-head attention (cross attention: Q Tq×dq attends to K Tk×dk, V Tk×dv). Returns the
/// output (Tq×O), the per-head weights (h×Tq×Tk), the fully masked rows and, with
/// `options.return_scores`, the per-head scaled scores.
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params projections, biases and the head count h
/// \param mask which keys each query may see, in every head or per head (Mask::per_head;
///        default: all)
/// \param options probability function, return_scores and the scale
/// \return output, per-head weights, fully_masked (and scores when asked)
/// \throws attn::invalid_argument as multi_head_into does
template <typename DerivedQ, typename DerivedK, typename DerivedV, typename Scalar>
MultiHeadResult<Scalar> multi_head(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                                   const Eigen::MatrixBase<DerivedV>& v, const MultiHeadParams<Scalar>& params,
                                   const Mask& mask = Mask(), const Options& options = Options()) {
  detail::check_multi_head_scalars<Scalar, DerivedQ, DerivedK, DerivedV>();
  // Shape checks first, so that a bad call throws before anything is allocated.
  detail::check_multi_head_params("attn::multi_head", params);
  MultiHeadResult<Scalar> r;
  r.output.resize(q.rows(), params.output_dim());
  MultiHeadWorkspace<Scalar> ws;
  multi_head_into(q, k, v, params, r.output, r.weights, ws, mask, options);
  r.fully_masked = ws.fully_masked(0);
  if (options.return_scores) r.scores = ws.scores(0);
  return r;
}

/// Multi-head self-attention: `multi_head(x, x, x, params, mask, options)`.
/// \param x the sequence, T×d (queries, keys and values)
/// \param params projections, biases and the head count h
/// \param mask which keys each query may see (default: all; Mask::causal() for a decoder)
/// \param options probability function, return_scores and the scale
/// \return output T×O, per-head weights h×T×T, fully_masked (and scores when asked)
/// \throws attn::invalid_argument as multi_head_into does
template <typename DerivedX, typename Scalar>
MultiHeadResult<Scalar> multi_head(const Eigen::MatrixBase<DerivedX>& x, const MultiHeadParams<Scalar>& params,
                                   const Mask& mask = Mask(), const Options& options = Options()) {
  return multi_head(x, x, x, params, mask, options);
}

/// Multi-head attention over a batch of sequences, each with its own lengths, in one call:
/// item `b` is `q[b]` (Tq_b×dq), `k[b]` (Tk_b×dk), `v[b]` (Tk_b×dv) under `masks[b]`
/// (`masks` empty: no mask; else one per item, e.g. Mask::key_length(n_b) for padded keys).
/// `q`, `k`, `v` are any containers with size() and operator[] giving Eigen matrices, maps or
/// blocks (std::vector<Eigen::MatrixXf>, ...). Results go to `results[b]` (resized to the
/// batch; an item's output and weights are reallocated only when its shape changes).
/// Items and heads run in parallel under OpenMP; results equal per-item multi_head calls bit
/// for bit. Fully masked rows of item b: `results[b].fully_masked` and `ws.fully_masked(b)`.
/// \param q queries per item, Tq_b×dq
/// \param k keys per item, Tk_b×dk
/// \param v values per item, Tk_b×dv
/// \param params projections, biases and the head count h, shared by every item
/// \param results resized to the batch; item b's output Tq_b×O, weights h×Tq_b×Tk_b, flags
///        (and scores when asked) are written
/// \param ws reusable scratch for every item and head
/// \param masks empty (default), or one mask per item (shared by its heads, or Mask::per_head)
/// \param options probability function, return_scores and the scale
/// \throws attn::invalid_argument when `k`, `v` or a non-empty `masks` differ in size from
///         `q`, or as multi_head_into does for an item (the message names the item)
template <typename QSeq, typename KSeq, typename VSeq, typename Scalar>
void multi_head_batch_into(const QSeq& q, const KSeq& k, const VSeq& v, const MultiHeadParams<Scalar>& params,
                           std::vector<MultiHeadResult<Scalar>>& results, MultiHeadWorkspace<Scalar>& ws,
                           const std::vector<Mask>& masks = {}, const Options& options = Options()) {
  const Index batch = detail::check_batch("attn::multi_head_batch", q, k, v, params, masks, options);
  const auto weights_of = [&](Index b) -> HeadWeights<Scalar>& { return results[static_cast<std::size_t>(b)].weights; };
  const std::vector<Mask> extended = detail::batch_call_masks(q, k, params, masks);
  detail::run_batch(q, k, v, params, extended.empty() ? masks : extended, results,
                    detail::FullHeads<decltype(weights_of)>{weights_of}, ws, options);
  for (Index b = 0; b < batch; ++b) {
    auto& r = results[static_cast<std::size_t>(b)];
    if (options.return_scores) {
      const auto& s = ws.scores(b);
      r.scores.resize(s.heads(), s.rows(), s.cols());
      Eigen::Map<Vector<Scalar>>(r.scores.data(), s.size()) = Eigen::Map<const Vector<Scalar>>(s.data(), s.size());
    }
  }
}

/// Value form of multi_head_batch_into: one MultiHeadResult per item.
/// \param q queries per item, Tq_b×dq
/// \param k keys per item, Tk_b×dk
/// \param v values per item, Tk_b×dv
/// \param params projections, biases and the head count h
/// \param masks empty (default), or one mask per item (shared by its heads, or Mask::per_head)
/// \param options probability function, return_scores and the scale
/// \return `q.size()` results, in item order
/// \throws attn::invalid_argument as multi_head_batch_into does
template <typename QSeq, typename KSeq, typename VSeq, typename Scalar>
std::vector<MultiHeadResult<Scalar>> multi_head_batch(const QSeq& q, const KSeq& k, const VSeq& v,
                                                      const MultiHeadParams<Scalar>& params,
                                                      const std::vector<Mask>& masks = {},
                                                      const Options& options = Options()) {
  std::vector<MultiHeadResult<Scalar>> results;
  MultiHeadWorkspace<Scalar> ws;
  multi_head_batch_into(q, k, v, params, results, ws, masks, options);
  return results;
}

}  // namespace attn

ATTN_BIND_OUTPUT_WEIGHTS(MultiHeadResult)
