// SPDX-License-Identifier: MIT
// Luong (multiplicative) attention, TF LuongAttention / Keras Attention: dot e = Q·Kᵀ,
// general e = Q·W·Kᵀ (W dq×dk; from a key-side kernel W_m with LuongParams::memory_layer), concat e_ij = v·tanh([q_i, k_j]·W) (W (dq+dk)×u, v 1×u);
// an optional scalar g multiplies the score (TF scale=True). Q Tq×dq, K Tk×dk, V Tk×dv.
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
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace attn {

/// Luong score functions.
enum class LuongScore { dot, general, concat };

template <typename Scalar>
struct LuongParams;

namespace detail {
/// The score is one of the enumerators and `g`, when set, is finite.
template <typename Scalar>
void check_luong_params(const char* fn, const LuongParams<Scalar>& p) {
  ATTN_CHECK(p.score == LuongScore::dot || p.score == LuongScore::general || p.score == LuongScore::concat,
             std::string(fn) + ": params.score (" + std::to_string(static_cast<int>(p.score)) +
                 ") must be dot, general or concat");
  ATTN_CHECK(!p.g || std::isfinite(*p.g), std::string(fn) + ": params.g must be finite");
}
}  // namespace detail

/// Parameters of Luong attention (Keras kernel layout: `in×out`, applied as `x·W`).
template <typename Scalar>
struct LuongParams {
  LuongScore score = LuongScore::dot;  ///< which score function
  Matrix<Scalar> w;         ///< general: dq×dk; concat: (dq+dk)×units; dot: unused (empty)
  RowVector<Scalar> v;      ///< concat: 1×units; otherwise unused (empty)
  std::optional<Scalar> g;  ///< scalar multiplying the score (TF `scale=True`); unset = 1
  /// Set by memory_layer(): `w` holds the transpose of the caller's kernel W_m, and shape
  /// errors speak of W_m as given, not of `w` (set it back to false if you assign `w` yourself).
  bool from_memory_kernel = false;

  /// e = g·Q·Kᵀ
  /// \param g score factor (TF `scale=True`); unset: 1
  /// \return parameters of the dot score (dq must equal dk)
  static LuongParams dot(std::optional<Scalar> g = std::nullopt) { return {LuongScore::dot, {}, {}, g}; }
  /// e = g·Q·W·Kᵀ, W dq×dk
  /// \param w dq×dk
  /// \param g score factor; unset: 1
  /// \return parameters of the general score
  static LuongParams general(Matrix<Scalar> w, std::optional<Scalar> g = std::nullopt) {
    return {LuongScore::general, std::move(w), {}, g};
  }
  /// The general score from the kernel a framework applies to the keys, as it is: TF
  /// `LuongAttention`'s `memory_layer` kernel (keys = memory·W_m, e = g·q·keysᵀ) or
  /// keras-attention's `luong_w` (attn::many_to_one). e = g·Q·(K·W_m)ᵀ = g·Q·W_mᵀ·Kᵀ, so this is
  /// `general(W_m.transpose(), g)`: the prepared memory holds the keys `K·W_m`.
  /// \param memory_kernel dk×dq, Keras layout (applied as `K·W_m`)
  /// \param g score factor (TF `scale=True`); unset: 1
  /// \return parameters of the general score with `w` = memory_kernelᵀ (dq×dk)
  static LuongParams memory_layer(const Matrix<Scalar>& memory_kernel, std::optional<Scalar> g = std::nullopt) {
    return {LuongScore::general, memory_kernel.transpose(), {}, g, true};
  }
  /// e_ij = g·v·tanh([q_i, k_j]·W), W (dq+dk)×units, v 1×units
  /// \param w (dq+dk)×units: its first dq rows apply to the query, the rest to the key
  /// \param v 1×units
  /// \param g score factor; unset: 1
  /// \return parameters of the concat score
  /// \throws attn::invalid_argument when `v` is not a vector (1×units or units×1); the call
  ///         checks the sizes
  static LuongParams concat(Matrix<Scalar> w, const Matrix<Scalar>& v, std::optional<Scalar> g = std::nullopt) {
    return {LuongScore::concat, std::move(w),
            detail::factory_vector<Scalar>("attn::LuongParams::concat", "v", v,
                                           "the arguments are w ((dq+dk)xunits), then v (1xunits)"),
            g};
  }
};

/// Keys projected once per memory for Luong attention (prepare_keys): `g·K` (dot), `g·K·Wᵀ`
/// (general), or `K·W[dq:]` (concat; g rides on v then), Tk×(dk, dq or units).
template <typename Scalar>
struct LuongKeys {
  Matrix<Scalar> projected;              ///< Tk×(dk, dq or units)
  LuongScore score = LuongScore::dot;    ///< the score function they were prepared for
  Scalar g = Scalar(1);                  ///< the `g` they were prepared with (1 when unset)
};

namespace detail {

/// dq of a Luong memory of key width `dk`: dk (dot), `w.rows()` (general), `w.rows() - dk` (concat).
template <typename Scalar>
Index luong_query_size(const char* fn, const LuongParams<Scalar>& p, Index dk) {
  check_luong_params(fn, p);
  if (p.score == LuongScore::dot) return dk;
  if (p.score == LuongScore::general) return p.w.rows();
  ATTN_CHECK(p.w.rows() > dk, std::string(fn) + ": params.w.rows() (" + std::to_string(p.w.rows()) +
                                   ") must exceed k.cols() (" + std::to_string(dk) + ") for concat");
  return p.w.rows() - dk;
}

/// The Luong scorer (see detail::ScorerOf): dot and general are DotScorers with scale
/// `g·scale`, concat an AdditiveScorer whose `v` is `g·scale·v` (in `ws`'s vector buffer when
/// that factor is not 1).
template <typename S>
struct ScorerOf<LuongParams<S>> {
  using Scalar = S;
  using Keys = LuongKeys<Scalar>;

  static Index query_size(const char* fn, const LuongParams<Scalar>& p, Index dk) { return luong_query_size(fn, p, dk); }

  template <typename F>
  static Index with(const char* fn, const LuongParams<Scalar>& p, Index dq, Index dk, Scalar scale,
                    Workspace<Scalar>& ws, F&& f) {
    check_luong_params(fn, p);
    const Scalar g = (p.g ? *p.g : Scalar(1)) * scale;
    // The product must stay a finite, nonzero Scalar when both factors are (as options.scale
    // alone must: check_scale): 1e30 · 1e30 in float is inf (NaN weights), 1e-30 · 1e-30 is 0
    // (every score 0, uniform weights).
    ATTN_CHECK(std::isfinite(g) && (g != Scalar(0) || !p.g || *p.g == Scalar(0) || scale == Scalar(0)),
               std::string(fn) + ": params.g (" + number_text(static_cast<double>(p.g ? *p.g : Scalar(1))) +
                   ") times the scale (" + number_text(static_cast<double>(scale)) + ") is " +
                   number_text(static_cast<double>(g)) + " in " +
                   (std::is_same<Scalar, float>::value ? "float" : "double") +
                   ": fold part of g into the queries or keys instead");
    if (p.score == LuongScore::concat) {
      const Index units = p.v.cols();
      check_shape(fn, "params.w", p.w, dq + dk, units);
      const Scalar* v = p.v.size() == 0 ? nullptr : p.v.data();
      if (g != Scalar(1)) {
        auto gv = buffers(ws).vector.matrix(1, units);
        gv = g * p.v;
        v = gv.data();
      }
      const AdditiveScorer<Scalar> scorer{parameter_rows(p.w, 0, dq), parameter_rows(p.w, dq, dk),
                                          RowView<Scalar>(nullptr, 0), RowView<Scalar>(v, units), Scalar(0)};
      return f(scorer);
    }
    if (p.score == LuongScore::dot) {
      check_equal(fn, "q.cols()", dq, "k.cols()", dk);
    } else if (p.from_memory_kernel) {
      // dq is W_m's column count whenever the query's width is not known yet (prepare_memory),
      // so the message names the two widths rather than a made-up expected shape.
      ATTN_CHECK(p.w.rows() == dq && p.w.cols() == dk,
                 std::string(fn) + ": params from LuongParams::memory_layer(W_m): W_m (" + std::to_string(p.w.cols()) +
                     "x" + std::to_string(p.w.rows()) + ") must have k.cols() (" + std::to_string(dk) +
                     ") rows, the memory's depth, and the query's width (" + std::to_string(dq) +
                     ") in columns: TF's memory_layer kernel as it is (depth×units); the keys are Tk×dk, one "
                     "row per source step (a memory passed transposed shows its length as k.cols())");
    } else {
      ATTN_CHECK(p.w.rows() == dq && p.w.cols() == dk,
                 std::string(fn) + ": params.w " + shape(p.w.rows(), p.w.cols()) + " must have the query's width (" +
                     std::to_string(dq) + ") in rows and k.cols() (" + std::to_string(dk) +
                     ") in columns (general's W is dq×dk); TF's memory_layer kernel (dk×units) goes in as "
                     "LuongParams::memory_layer(W_m), as it is");
    }
    const DotScorer<Scalar> scorer{p.score == LuongScore::general ? view(p.w) : no_parameter<Scalar>(), true, g, Scalar(0)};
    return f(scorer);
  }

  static Keys keys_for(const LuongParams<Scalar>& p) {
    Keys keys;
    keys.score = p.score;
    keys.g = p.g ? *p.g : Scalar(1);
    return keys;
  }

  /// The key width the parameters imply (the prepared keys no longer show it).
  static Index check_keys(const char* fn, const Keys& keys, const LuongParams<Scalar>& p, Index dq) {
    ATTN_CHECK(keys.score == p.score && keys.g == (p.g ? *p.g : Scalar(1)),
               std::string(fn) + ": the keys were prepared for other parameters (score or g); prepare_keys(params, k) again");
    if (p.score == LuongScore::dot) {
      check_equal(fn, "q.cols()", dq, "keys.projected.cols()", keys.projected.cols());
      return keys.projected.cols();
    }
    if (p.score == LuongScore::general) {
      check_equal(fn, "q.cols()", dq, "keys.projected.cols()", keys.projected.cols());
      return p.w.cols();
    }
    ATTN_CHECK(p.w.rows() > dq, std::string(fn) + ": params.w.rows() (" + std::to_string(p.w.rows()) +
                                    ") must exceed q.cols() (" + std::to_string(dq) + ") for concat");
    return p.w.rows() - dq;
  }
};

/// `attn::luong(q, k, v)` is the dot score, as `LuongParams<Scalar>{}` is.
template <>
struct has_default_params<LuongParams> : std::true_type {};
}  // namespace detail

/// Luong attention (TF `LuongAttention`), value forms: `attn::luong(q, k, v [, params, mask,
/// options])` (default: the dot score) returns output (Tq×dv), weights (Tq×Tk), fully masked
/// rows and, with `options.return_scores`, the scores; `attn::luong(q, k, v, params, sinks [,
/// mask, options])` sends the weights to sinks. `k` is the keys (Tk×dk) or the LuongKeys
/// `prepare_keys(params, keys)` made of them. `options.scale` is a factor on g. Arguments and
/// errors: attn::AttentionFn.
inline constexpr AttentionFn<LuongParams> luong{"attn::luong"};

/// Luong attention into caller-owned `output` and `weights` (or sinks) with scratch `ws`:
/// `attn::luong_into(q, k, v, params, output, weights, ws [, mask, options])`. Returns the number
/// of fully masked query rows. Keys prepared for another score, g or width are refused.
/// Arguments and errors: attn::AttentionIntoFn.
inline constexpr AttentionIntoFn<LuongParams> luong_into{"attn::luong"};

}  // namespace attn
