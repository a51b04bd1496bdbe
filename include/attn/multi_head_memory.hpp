// SPDX-License-Identifier: MIT
// Multi-head cross-attention against a source prepared once (attn::MultiHeadMemory): the keys
// K·Wk + bk (Tk×(g·dh), key/value head j = columns [j·dh, (j+1)·dh)) and values V·Wv + bv
// (Tk×(g·dhv)) of one source sequence, and its length. A decoder step (attn::attend_into) takes
// B query rows (beams of one source) and writes the B×O output and the per-head weights h×B×Tk;
// steady-state steps allocate nothing.
#pragma once

#include "config.hpp"
#include "detail/checks.hpp"
#include "detail/multi_head_step.hpp"
#include "head_weights.hpp"
#include "multi_head.hpp"
#include "multi_head_params.hpp"
#include "multi_head_workspace.hpp"
#include "options.hpp"

#include <cmath>
#include <optional>
#include <string>
#include <utility>

namespace attn {

template <typename Scalar>
class MultiHeadMemory;

namespace detail {
/// How prepare_memory builds a MultiHeadMemory (not part of the API).
struct MultiHeadMemoryAccess {
  template <typename Scalar>
  static MultiHeadMemory<Scalar> make(const MultiHeadParams<Scalar>& params, Matrix<Scalar> keys,
                                      Matrix<Scalar> values, Index length) {
    return MultiHeadMemory<Scalar>(params, std::move(keys), std::move(values), length);
  }
};
}  // namespace detail

/// One source sequence prepared for multi-head cross-attention (torch.nn.MultiheadAttention with
/// the encoder output as key and value): the projected keys `K·Wk + bk` (Tk×(g·dh); torch:
/// Tk×D) and values `V·Wv + bv` (Tk×(g·dhv); torch: Tk×D), g the key/value heads (h unless
/// grouped-query attention), computed once (key/value head `j` is the contiguous column block
/// `[j·dh, (j+1)·dh)` of the keys and `[j·dhv, (j+1)·dhv)` of the values, no copy per step), and
/// the source length `n` (keys `j >= n` are padding, never attended). It keeps a pointer to the
/// parameters, which must outlive it. Build it with attn::prepare_memory.
template <typename Scalar>
class MultiHeadMemory {
 public:
  /// The parameters it was prepared with (the memory points at them: they must stay alive, at
  /// one address and of one shape while it is used).
  /// \return a reference (the memory does not own them)
  /// \throws attn::invalid_argument when they no longer have the shapes they had (moved out of,
  ///         e.g. by a growing std::vector, or destroyed), saying so
  const MultiHeadParams<Scalar>& params() const {
    stamp_.check(*params_, "attn::MultiHeadMemory");
    return *params_;
  }
  /// Number of heads h. \return h
  Index heads() const { return params().heads; }
  /// Model width D = h·dh (the projected queries' columns; the keys have g·dh). \return D
  Index model_dim() const { return params().model_dim(); }
  /// Output width O of a step (torch: D). \return `params().output_dim()`
  Index output_dim() const { return params().output_dim(); }
  /// dq: the width of a query row. \return `params.wq.rows()`
  Index query_size() const { return params().wq.rows(); }
  /// Tk: keys, padding included (the width of every weights row). \return Tk
  Index max_time() const { return keys_.rows(); }
  /// n <= Tk: the keys a query may see. \return n
  Index length() const { return length_; }
  /// The projected keys `K·Wk + bk` (unscaled: the step scales the query, as torch does).
  /// \return Tk×(g·dh) (torch: Tk×D), padding rows included
  const Matrix<Scalar>& keys() const { return keys_; }
  /// The projected values `V·Wv + bv`. \return Tk×(g·dhv) (torch: Tk×D), padding rows included
  const Matrix<Scalar>& values() const { return values_; }

 private:
  friend struct detail::MultiHeadMemoryAccess;
  MultiHeadMemory(const MultiHeadParams<Scalar>& params, Matrix<Scalar> keys, Matrix<Scalar> values, Index length)
      : params_(&params),
        stamp_(detail::ParamsStamp::of(params)),
        keys_(std::move(keys)),
        values_(std::move(values)),
        length_(length) {}

  const MultiHeadParams<Scalar>* params_ = nullptr;
  detail::ParamsStamp stamp_;  // the parameters' shapes when prepared (params() checks them)
  Matrix<Scalar> keys_;
  Matrix<Scalar> values_;
  Index length_ = 0;
};

/// Prepares one source sequence for multi-head cross-attention: `K·Wk + bk` and `V·Wv + bv`
/// projected once, head by head exactly as attn::multi_head projects them (bit for bit).
/// \param k keys (encoder output), Tk×dk
/// \param v values, Tk×dv
/// \param params the multi-head parameters; they must outlive the memory (a temporary does not
///        compile)
/// \param length visible keys n (the source length), in `[0, Tk]`; unset: Tk
/// \return the prepared memory
/// \throws attn::invalid_argument for bad parameters, `k`/`v` widths that do not fit them,
///         `v.rows() != k.rows()` or a length out of range
template <typename DerivedK, typename DerivedV, typename Scalar>
MultiHeadMemory<Scalar> prepare_memory(const Eigen::MatrixBase<DerivedK>& k, const Eigen::MatrixBase<DerivedV>& v,
                                       const MultiHeadParams<Scalar>& params,
                                       std::optional<Index> length = std::nullopt) {
  constexpr const char* fn = "attn::prepare_memory";
  detail::check_multi_head_scalars<Scalar, DerivedK, DerivedV>();
  detail::check_multi_head_params(fn, params);
  detail::check_no_appended_keys(fn, params);
  ATTN_CHECK(!params.rotary, std::string(fn) + ": params.rotary is set, but a prepared source is cross-attention, whose "
                                               "keys have no positions in the queries' sequence: use a KVCache");
  ATTN_CHECK(params.alibi.empty(), std::string(fn) + ": params.alibi is set, but a prepared source is cross-attention, "
                                                   "whose keys have no positions in the queries' sequence");
  detail::check_equal(fn, "k.cols()", k.cols(), "params.wk.rows()", params.wk.rows());
  detail::check_equal(fn, "v.cols()", v.cols(), "params.wv.rows()", params.wv.rows());
  detail::check_equal(fn, "v.rows()", v.rows(), "k.rows()", k.rows());
  if (length) {
    ATTN_CHECK(*length >= 0, std::string(fn) + ": length (" + std::to_string(*length) + ") must be >= 0");
    ATTN_CHECK(*length <= k.rows(), std::string(fn) + ": length (" + std::to_string(*length) +
                                        ") exceeds the number of keys (" + std::to_string(k.rows()) + ")");
  }
  const detail::SingleThreadedEigen serial;
  const Index dh = params.head_dim();
  const Index dhv = params.value_head_dim();
  Matrix<Scalar> keys(k.rows(), params.wk.cols());
  Matrix<Scalar> values(v.rows(), params.wv.cols());
  for (Index i = 0; i < params.key_value_heads(); ++i) {  // the expressions of detail::multi_head_run
    const Index c0 = i * dh;
    const Index v0 = i * dhv;
    auto kh = keys.middleCols(c0, dh);
    auto vh = values.middleCols(v0, dhv);
    detail::product(k, params.wk.middleCols(c0, dh), kh);  // as multi_head's projections
    detail::product(v, params.wv.middleCols(v0, dhv), vh);
    if (params.bk.size() != 0) kh.rowwise() += params.bk.segment(c0, dh);
    if (params.bv.size() != 0) vh.rowwise() += params.bv.segment(v0, dhv);
  }
  if (params.k_norm) detail::norm_rows(keys, dh, *params.k_norm);  // per head, or the rows (all_heads)
  return detail::MultiHeadMemoryAccess::make(params, std::move(keys), std::move(values), length ? *length : k.rows());
}

/// The parameters must outlive the memory: a temporary is rejected at compile time.
template <typename DerivedK, typename DerivedV, typename Scalar>
MultiHeadMemory<Scalar> prepare_memory(const Eigen::MatrixBase<DerivedK>& k, const Eigen::MatrixBase<DerivedV>& v,
                                       const MultiHeadParams<Scalar>&& params,
                                       std::optional<Index> length = std::nullopt) = delete;

/// One multi-head cross-attention step: the B query rows `query` (B×dq: B = 1, or the beams of
/// one source) attend the memory. Writes `output` (B×O, after the output projection: what
/// torch.nn.MultiheadAttention returns for these query rows) and `weights` (resized to h×B×Tk:
/// head `i` is B×Tk, padding columns exactly 0; `weights.mean()` is torch's averaged form).
/// Arithmetic: torch's, `q = (x·Wq + bq)·scale`, per head `softmax(q_h·K_hᵀ)·V_h`, concatenate,
/// `·Wo + bo`. With length 0 every row sees no key: zero weights, output `bo`, and
/// `ws.fully_masked()` flags them. Allocates nothing once `ws` and `weights` have seen these shapes.
/// \param memory the prepared source
/// \param query B×dq
/// \param output B×O (torch: B×D), written
/// \param weights resized to h×B×Tk and written
/// \param ws reusable scratch; reports the fully masked rows of the last step
/// \param options probability function (per head) and scale (unset: 1/sqrt(dh)); return_scores
///        is not supported
/// \return the number of query rows that saw no key (B when length() is 0, else 0)
/// \throws attn::invalid_argument when `query` does not have dq columns, `output` is not B×O,
///         the scale is not finite or options.return_scores is set
template <typename Scalar, typename DerivedQ>
Index attend_into(const MultiHeadMemory<Scalar>& memory, const Eigen::MatrixBase<DerivedQ>& query,
                  detail::NoDeduce<Eigen::Ref<Matrix<Scalar>>> output, HeadWeights<Scalar>& weights,
                  MultiHeadWorkspace<Scalar>& ws, const Options& options = Options()) {
  static_assert(std::is_same<Scalar, typename DerivedQ::Scalar>::value,
                "attn::attend: the query must have the memory's scalar type; use .cast<T>()");
  constexpr const char* fn = "attn::attend";
  const MultiHeadParams<Scalar>& p = memory.params();
  const Index dh = p.head_dim();
  const Index dhv = p.value_head_dim();
  const Index n = memory.length();
  ATTN_CHECK(!p.rotary, std::string(fn) + ": the memory's params.rotary was set after prepare_memory, which refuses it "
                                          "(cross-attention keys have no positions in the queries' sequence)");
  ATTN_CHECK(p.alibi.empty(), std::string(fn) + ": the memory's params.alibi was set after prepare_memory, which "
                                               "refuses it (cross-attention keys have no positions in the queries' sequence)");
  detail::check_equal(fn, "query.cols()", query.cols(), "memory.query_size()", memory.query_size());
  const auto heads = [&](detail::StepScratch<Scalar>& s, HeadWeights<Scalar>& w) {
    const auto cap = detail::soft_cap_of<Scalar>(options.softcap);  // checked by run_step; the queries are scaled
    for (Index i = 0; i < p.heads; ++i) {
      const Index c0 = i * dh;
      const Index v0 = i * dhv;
      const Index j = detail::kv_head(p, i);  // the key/value head it reads
      auto wi = detail::HeadWeightsAccess::head(w, i);
      detail::step_rows(s.q.middleCols(c0, dh), memory.keys().block(0, j * dh, n, dh),
                        memory.values().block(0, j * dhv, n, dhv), wi, s.concat.middleCols(v0, dhv), s,
                        options.probability, cap);
    }
  };
  return detail::run_step(fn, p, query, memory.max_time(), n == 0, output, weights, ws, options, heads);
}

/// Value form of the multi-head memory step: output B×O, weights h×B×Tk, fully masked rows.
/// \param memory the prepared source
/// \param query B×dq
/// \param options probability function and scale (return_scores is not supported)
/// \return output, per-head weights and fully_masked (`auto [output, weights] = attn::attend(...)`)
/// \throws attn::invalid_argument as attend_into does
template <typename Scalar, typename DerivedQ>
MultiHeadResult<Scalar> attend(const MultiHeadMemory<Scalar>& memory, const Eigen::MatrixBase<DerivedQ>& query,
                               const Options& options = Options()) {
  return detail::step_result<Scalar>(query.rows(), memory.output_dim(), [&](auto& out, auto& w, auto& ws) {
    attend_into(memory, query, out, w, ws, options);
  });
}

}  // namespace attn
