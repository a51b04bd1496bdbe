// SPDX-License-Identifier: MIT
// Bahdanau (additive) attention, TF BahdanauAttention: e_ij = v·tanh(q_i·Wq + k_j·Wk);
// normalized: e_ij = (g·v/‖v‖)·tanh(q_i·Wq + k_j·Wk + b). Q Tq×dq, K Tk×dk, V Tk×dv.
// K·Wk (+ b) depends on the memory only: prepare it once with prepare_keys, reuse it per query.
#pragma once

#include "config.hpp"
#include "detail/attend.hpp"
#include "detail/forms.hpp"
#include "mechanism.hpp"
#include "prepared_keys.hpp"
#include "mask.hpp"
#include "result.hpp"
#include "detail/scorers.hpp"
#include "workspace.hpp"

#include <cmath>
#include <string>
#include <type_traits>

namespace attn {

/// Parameters of Bahdanau attention (Keras kernel layout, `x·W`). TF names in brackets.
template <typename Scalar>
struct BahdanauParams {
  Matrix<Scalar> wq;        ///< dq×units  [query_layer kernel]
  Matrix<Scalar> wk;        ///< dk×units  [memory_layer kernel]
  RowVector<Scalar> v;      ///< 1×units   [attention_v]
  bool normalize = false;   ///< weight normalization (TF `normalize=True`)
  Scalar g = Scalar(1);     ///< normalized only [attention_g]
  RowVector<Scalar> b;      ///< normalized only, 1×units or empty for zeros [attention_b]

  /// \return the number of hidden units, `v.cols()`
  Index units() const { return v.cols(); }
};

/// Keys projected once per memory: `K·Wk (+ b when normalized)`, Tk×units.
template <typename Scalar>
struct BahdanauKeys {
  Matrix<Scalar> projected;  ///< Tk×units
  bool normalized = false;  ///< whether `b` is folded in
};

namespace detail {

template <typename Scalar>
void check_params(const char* fn, const BahdanauParams<Scalar>& p) {
  const Index u = p.units();
  const char* layout = " (wq is dq×units, wk dk×units and v 1×units: TF's query_layer, memory_layer and "
                       "attention_v as they are, inputs×outputs)";
  ATTN_CHECK(p.wq.cols() == u, std::string(fn) + ": params.wq.cols() (" + std::to_string(p.wq.cols()) +
                                   ") must equal params.v.cols() (" + std::to_string(u) + ")" + layout +
                                   column_hint("params.v", u, p.wq.cols()));
  ATTN_CHECK(p.wk.cols() == u, std::string(fn) + ": params.wk.cols() (" + std::to_string(p.wk.cols()) +
                                   ") must equal params.v.cols() (" + std::to_string(u) + ")" + layout);
  if (p.normalize) {
    ATTN_CHECK(p.b.size() == 0 || p.b.cols() == u,
               std::string(fn) + ": params.b " + shape(p.b.rows(), p.b.cols()) + " must be " + shape(1, u) +
                   " or empty" + column_hint("params.b", p.b.cols(), u));
    ATTN_CHECK(p.v.squaredNorm() > Scalar(0), std::string(fn) + ": params.v must be non-zero when normalize is set");
    ATTN_CHECK(std::isfinite(p.g), std::string(fn) + ": params.g must be finite");
  } else {
    ATTN_CHECK(p.b.size() == 0, std::string(fn) + ": params.b is only used when normalize is set");
    ATTN_CHECK(p.g == Scalar(1), std::string(fn) + ": params.g is only used when normalize is set");
  }
}

/// The scorer of `p` (checked): an AdditiveScorer with keys `K·Wk (+ b when normalized)` and the
/// effective `v` (`scale·v`, or `scale·g·v/‖v‖` when normalized) in `ws`'s vector buffer when it
/// differs from `p.v`.
template <typename Scalar>
AdditiveScorer<Scalar> bahdanau_scorer(const char* fn, const BahdanauParams<Scalar>& p, Scalar scale,
                                       Workspace<Scalar>& ws) {
  check_params(fn, p);
  const Index units = p.units();
  const Scalar* v = p.v.size() == 0 ? nullptr : p.v.data();
  if (p.normalize || scale != Scalar(1)) {
    auto effective = buffers(ws).vector.matrix(1, units);
    if (p.normalize) {
      effective = (scale * p.g / p.v.norm()) * p.v;  // g·v/‖v‖
    } else {
      effective = scale * p.v;
    }
    // Finite, and not all 0 unless a factor is (1e30·v in float is inf: NaN weights; 1e-30·1e-30·v
    // is 0: every score 0, uniform weights), as options.scale alone must be (check_scale).
    const bool vanished = !effective.isZero(0) ? false : scale != Scalar(0) && (!p.normalize || p.g != Scalar(0)) &&
                                                             !p.v.isZero(0);
    ATTN_CHECK(effective.allFinite() && !vanished,
               std::string(fn) + ": params.v times the scale (" + number_text(static_cast<double>(scale)) +
                   (p.normalize ? ") and g/|v|" : ")") + " is " + (vanished ? "0" : "not finite") + " in " +
                   (std::is_same<Scalar, float>::value ? "float" : "double") +
                   ": fold part of the factor into the queries or keys instead");
    v = effective.data();
  }
  const bool with_b = p.normalize && p.b.size() != 0;
  return {view(p.wq), view(p.wk), with_b ? view(p.b) : RowView<Scalar>(nullptr, 0), RowView<Scalar>(v, units), Scalar(0)};
}

/// The Bahdanau scorer (see detail::ScorerOf).
template <typename S>
struct ScorerOf<BahdanauParams<S>> {
  using Scalar = S;
  using Keys = BahdanauKeys<Scalar>;

  static Index query_size(const char* fn, const BahdanauParams<Scalar>& p, Index) {
    check_params(fn, p);
    return p.wq.rows();
  }

  template <typename F>
  static Index with(const char* fn, const BahdanauParams<Scalar>& p, Index dq, Index dk, Scalar scale,
                    Workspace<Scalar>& ws, F&& f) {
    const auto scorer = bahdanau_scorer(fn, p, scale, ws);
    check_equal(fn, "q.cols()", dq, "params.wq.rows()", p.wq.rows());
    scorer.check(fn, dk);
    return f(scorer);
  }

  static Keys keys_for(const BahdanauParams<Scalar>& p) {
    Keys keys;
    keys.normalized = p.normalize;
    return keys;
  }

  static Index check_keys(const char* fn, const Keys& keys, const BahdanauParams<Scalar>& p, Index) {
    ATTN_CHECK(keys.normalized == p.normalize,
               std::string(fn) + ": keys were prepared with normalize = " + (keys.normalized ? "true" : "false") +
                   " but params.normalize is " + (p.normalize ? "true" : "false"));
    check_equal(fn, "keys.projected.cols()", keys.projected.cols(), "params.v.cols()", p.units());
    return p.wk.rows();
  }
};

}  // namespace detail

/// Bahdanau attention (TF `BahdanauAttention`), value forms: `attn::bahdanau(q, k, v, params
/// [, mask, options])` returns output (Tq×dv), weights (Tq×Tk), fully masked rows and, with
/// `options.return_scores`, the scores; `attn::bahdanau(q, k, v, params, sinks [, mask,
/// options])` sends the weights to sinks. `k` is the keys (Tk×dk) or the BahdanauKeys
/// `prepare_keys(params, keys)` made of them. Arguments and errors: attn::AttentionFn.
inline constexpr AttentionFn<BahdanauParams> bahdanau{"attn::bahdanau"};

/// Bahdanau attention into caller-owned `output` and `weights` (or sinks) with scratch `ws`:
/// `attn::bahdanau_into(q, k, v, params, output, weights, ws [, mask, options])`. Returns the
/// number of fully masked query rows. Keys prepared with another `normalize` are refused.
/// Arguments and errors: attn::AttentionIntoFn.
inline constexpr AttentionIntoFn<BahdanauParams> bahdanau_into{"attn::bahdanau"};

}  // namespace attn
