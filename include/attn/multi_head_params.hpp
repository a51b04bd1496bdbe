// SPDX-License-Identifier: MIT
// Parameters of multi-head attention (attn::MultiHeadParams, Keras layout `in×out`), their checks
// and the loaders from a torch.nn.MultiheadAttention state dict (torch's `out×in` transposed).
#pragma once

#include "config.hpp"
#include "detail/checks.hpp"
#include "head_norm.hpp"
#include "rotary.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace attn {

/// Parameters of multi-head attention (Keras kernel layout: `in×out`, applied as `x·W`).
/// Head `i` projects queries with the column block `[i·dh, (i+1)·dh)` of `wq` (`dh = head_dim()`);
/// its keys and values are those of key/value head `j = i / (h / g)` (`g = key_value_heads()`):
/// the block `[j·dh, (j+1)·dh)` of `wk` and `[j·dhv, (j+1)·dhv)` of `wv` (`dhv =
/// value_head_dim()`). With `kv_heads` unset, g = h and j = i: every head has its own keys and
/// values (torch.nn.MultiheadAttention, Keras' MultiHeadAttention). With g < h the query heads
/// share them in groups of h/g consecutive heads: grouped-query attention (Keras'
/// GroupQueryAttention, LLaMA's `n_kv_heads`, Hugging Face's `repeat_kv`), and with g = 1
/// multi-query attention. The heads' outputs, side by side (`h·dhv` wide), go through `wo`.
/// torch.nn.MultiheadAttention has `dh = dhv = D/h` and `wo` D×D (`D = wq.cols()`, the model
/// width); Keras' MultiHeadAttention may have `dh = key_dim`, `dhv = value_dim` and an output
/// width `output_shape` of its own. The input widths `dq`, `dk`, `dv` (the rows of `wq`, `wk`,
/// `wv`) may all differ (torch's kdim, vdim). Biases are one row as wide as their matrix's
/// columns, or empty (no bias).
template <typename Scalar>
struct MultiHeadParams {
  Matrix<Scalar> wq;     ///< dq×(h·dh); torch: dq×D
  Matrix<Scalar> wk;     ///< dk×(g·dh), g = key_value_heads(); torch: dk×D
  Matrix<Scalar> wv;     ///< dv×(g·dhv); torch: dv×D
  Matrix<Scalar> wo;     ///< (h·dhv)×O, O the output width; torch: D×D
  RowVector<Scalar> bq;  ///< 1×(h·dh) or empty
  RowVector<Scalar> bk;  ///< 1×(g·dh) or empty
  RowVector<Scalar> bv;  ///< 1×(g·dhv) or empty
  RowVector<Scalar> bo;  ///< 1×O or empty
  /// Number of heads h: >= 1, a divisor of `wq.cols()`.
  Index heads = 1;
  /// Number of key/value heads g (grouped-query attention: Keras' `num_key_value_heads`); 0, the
  /// default, means h. Otherwise >= 1 and a divisor of h; `wk` then has g·dh columns and `wv`
  /// g·dhv, and query head i reads key/value head i / (h / g).
  Index kv_heads = 0;
  /// torch's `add_bias_kv=True` (its state dict's `bias_k`, shape (1, 1, D)): one more key,
  /// appended after the Tk projected keys of every call, as torch concatenates it after the
  /// in-projection (`K·Wk + bk`, then this row), visible to every query whatever the mask (torch
  /// pads `attn_mask` and `key_padding_mask` with a visible column). 1×(g·dh) (torch: 1×D), key
  /// head j its columns [j·dh, (j+1)·dh); set with `bias_v`, or empty (default: no such key).
  /// Weights then have Tk + 1 columns, the last for this key (Tk + 2 with add_zero_attn).
  RowVector<Scalar> bias_k;
  /// torch's `bias_v`, the value of the `bias_k` key: 1×(g·dhv) (torch: 1×D), or empty.
  RowVector<Scalar> bias_v;
  /// torch's `add_zero_attn=True`: one more key and value, both all zero (its score is 0),
  /// appended after the projected keys (and after `bias_k`'s), visible to every query. Weights
  /// then have one more column, the last.
  bool add_zero_attn = false;
  /// RMS or layer normalisation of each head's projected queries (Qwen3's and Gemma 3's `q_norm`;
  /// a per-head weight is h×dh, Cohere's), or of all heads at once with `all_heads` (OLMo 2's:
  /// weight 1×(h·dh)), after their bias and before the rotary embedding and the scale. Unset: none.
  std::optional<HeadNorm<Scalar>> q_norm;
  /// RMS or layer normalisation of each head's projected keys (`k_norm`; a per-head weight is
  /// g×dh; with `all_heads` of all g key heads at once, weight 1×(g·dh)), after their bias and
  /// before the rotary embedding; not of torch's appended keys (bias_k, the zero key). Unset: none.
  std::optional<HeadNorm<Scalar>> k_norm;
  /// Rotary position embedding of each head's projected queries and keys (LLaMA, Mistral, Qwen,
  /// GPT-NeoX), applied after their biases: row r of the queries and row r of the keys are
  /// position r (decoder steps: KVCache keeps the positions). Unset: none (torch, Keras).
  std::optional<Rotary> rotary;
  /// ALiBi (BLOOM, MPT): one slope per query head (attn::alibi_slopes(h) gives BLOOM's), or
  /// empty (default: none). Head i adds `slope_i·(j − t)` to the score of the query at position
  /// t and the key at position j (rows from 0, as `rotary`; decoder steps: KVCache keeps the
  /// positions), after the scale and Options::softcap, before the mask. Not with torch's
  /// appended keys (no position), nor in a prepared cross-attention source.
  std::vector<double> alibi;

  /// Model width D: the projected width of the queries, all heads (torch's embed_dim).
  /// \return `wq.cols()` (h·dh)
  Index model_dim() const { return wq.cols(); }
  /// Number g of key/value heads: `kv_heads`, or h when it is 0.
  /// \return g
  Index key_value_heads() const { return kv_heads == 0 ? heads : kv_heads; }
  /// Width dh of one head's queries and keys (Keras' key_dim; torch's D / h), 0 when heads < 1.
  /// The default score scale is `1/sqrt(dh)`.
  /// \return `wq.cols() / heads`
  Index head_dim() const { return heads > 0 ? wq.cols() / heads : 0; }
  /// Width dhv of one head's values and output (Keras' value_dim; torch's D / h), 0 when there is
  /// no key/value head.
  /// \return `wv.cols() / key_value_heads()`
  Index value_head_dim() const { return key_value_heads() > 0 ? wv.cols() / key_value_heads() : 0; }
  /// Output width O: the columns of a call's output (Keras' output_shape; torch's D).
  /// \return `wo.cols()`
  Index output_dim() const { return wo.cols(); }
  /// Keys a multi_head call appends after its Tk keys: 1 for `bias_k`, 1 for `add_zero_attn`.
  /// A call's weights have Tk + appended_keys() columns.
  /// \return 0, 1 or 2
  Index appended_keys() const { return (bias_k.size() != 0 ? 1 : 0) + (add_zero_attn ? 1 : 0); }

  /// From a `torch.nn.MultiheadAttention` with `kdim == vdim == embed_dim` (its state dict):
  /// `in_proj_weight` (3D×D), `in_proj_bias` (3D, as a row or column vector; empty when the
  /// module has `bias=False`), `out_proj.weight` (D×D), `out_proj.bias` (D, or empty).
  /// torch's `out×in` Linear weights are transposed to attn's `in×out`. A module built with
  /// `add_bias_kv=True` has `bias_k` and `bias_v` besides: set the fields of those names
  /// (`p.bias_k = bias_k.reshaped(1, D)`); `add_zero_attn=True`: set `p.add_zero_attn`. (Dropout
  /// is off in eval mode.)
  /// \param in_proj_weight 3D×D, the rows of Wq, Wk, Wv stacked (torch `out×in`)
  /// \param in_proj_bias 3D values (bq, bk, bv), or empty for none
  /// \param out_proj_weight D×D (torch `out×in`)
  /// \param out_proj_bias D values, or empty for none
  /// \param num_heads h, >= 1 and a divisor of D
  /// \return the parameters in attn's `in×out` layout
  /// \throws attn::invalid_argument when a shape does not fit or h does not divide D
  template <typename DerivedW, typename DerivedB, typename DerivedWo, typename DerivedBo>
  static MultiHeadParams from_torch(const Eigen::MatrixBase<DerivedW>& in_proj_weight,
                                    const Eigen::MatrixBase<DerivedB>& in_proj_bias,
                                    const Eigen::MatrixBase<DerivedWo>& out_proj_weight,
                                    const Eigen::MatrixBase<DerivedBo>& out_proj_bias, Index num_heads);

  /// From a `torch.nn.MultiheadAttention` with `kdim` or `vdim` != `embed_dim`:
  /// `q_proj_weight` (D×dq), `k_proj_weight` (D×dk), `v_proj_weight` (D×dv), `in_proj_bias`
  /// (3D or empty), `out_proj.weight` (D×D), `out_proj.bias` (D or empty).
  template <typename DerivedWq, typename DerivedWk, typename DerivedWv, typename DerivedB, typename DerivedWo,
            typename DerivedBo>
  /// \param q_proj_weight D×dq (torch `out×in`)
  /// \param k_proj_weight D×dk
  /// \param v_proj_weight D×dv
  /// \param in_proj_bias 3D values (bq, bk, bv), or empty for none
  /// \param out_proj_weight D×D
  /// \param out_proj_bias D values, or empty for none
  /// \param num_heads h, >= 1 and a divisor of D
  /// \return the parameters in attn's `in×out` layout
  /// \throws attn::invalid_argument when a shape does not fit or h does not divide D
  static MultiHeadParams from_torch_separate(const Eigen::MatrixBase<DerivedWq>& q_proj_weight,
                                             const Eigen::MatrixBase<DerivedWk>& k_proj_weight,
                                             const Eigen::MatrixBase<DerivedWv>& v_proj_weight,
                                             const Eigen::MatrixBase<DerivedB>& in_proj_bias,
                                             const Eigen::MatrixBase<DerivedWo>& out_proj_weight,
                                             const Eigen::MatrixBase<DerivedBo>& out_proj_bias, Index num_heads);
};

/// ALiBi's slopes for `heads` heads as BLOOM and MPT compute them (transformers'
/// build_alibi_tensor): with p the largest power of two <= heads, `b^1, b^2, …, b^p` for
/// `b = 2^(-8/p)`, then for the heads past p the odd powers `c^1, c^3, …` of `c = 2^(-4/p)`.
/// For MultiHeadParams::alibi.
/// \param heads h, >= 1
/// \return h slopes, head 0's first
/// \throws attn::invalid_argument when `heads < 1`
inline std::vector<double> alibi_slopes(Index heads) {
  ATTN_CHECK(heads >= 1, "attn::alibi_slopes: heads (" + std::to_string(heads) + ") must be >= 1");
  Index p = 1;
  while (p * 2 <= heads) p *= 2;
  const double log2p = std::log2(static_cast<double>(p));
  const double base = std::pow(2.0, -std::pow(2.0, -(log2p - 3.0)));
  std::vector<double> slopes;
  for (Index i = 1; i <= p; ++i) slopes.push_back(std::pow(base, static_cast<double>(i)));
  const double extra = std::pow(2.0, -std::pow(2.0, -(log2p + 1.0 - 3.0)));
  for (Index i = 0; i < heads - p; ++i) slopes.push_back(std::pow(extra, static_cast<double>(2 * i + 1)));
  return slopes;
}

namespace detail {

/// The shapes of the MultiHeadParams a KVCache or MultiHeadMemory points at, taken when it is
/// made and compared at each use: a std::vector of parameters that grows moves its elements (the
/// old ones are left empty, then freed) and a temporary dies. Reading them then is undefined
/// behaviour all the same; the check turns its usual outcome (a message with nonsense shapes, a
/// crash) into one that says what happened and what to do.
struct ParamsStamp {
  Index shape[10] = {};

  template <typename Scalar>
  static ParamsStamp of(const MultiHeadParams<Scalar>& p) {
    return {{p.wq.rows(), p.wq.cols(), p.wk.rows(), p.wk.cols(), p.wv.rows(), p.wv.cols(), p.wo.rows(), p.wo.cols(),
             p.heads, p.kv_heads}};
  }

  /// Throws attn::invalid_argument naming `who` when `p` no longer has the stamped shapes.
  template <typename Scalar>
  void check(const MultiHeadParams<Scalar>& p, const char* who) const {
    const ParamsStamp now = of(p);
    if (std::equal(std::begin(shape), std::end(shape), std::begin(now.shape))) return;
    throw invalid_argument(std::string(who) + ": the MultiHeadParams it was made with have moved, changed shape or " +
                           "been destroyed since (wq was " + std::to_string(shape[0]) + "x" + std::to_string(shape[1]) +
                           ", heads " + std::to_string(shape[8]) + "; now " + std::to_string(now.shape[0]) + "x" +
                           std::to_string(now.shape[1]) + ", heads " + std::to_string(now.shape[8]) +
                           "): it points at them, so keep them alive, at one address and of one shape while it is "
                           "used (a std::vector of parameters that grows moves them: reserve() it before, or hold "
                           "them in a std::deque or a std::unique_ptr)");
  }
};

template <typename Scalar>
void check_bias(const char* fn, const char* what, const RowVector<Scalar>& b, Index d) {
  ATTN_CHECK(b.size() == 0 || b.cols() == d,
             std::string(fn) + ": " + what + " " + shape(b) + " must be " + shape(1, d) + " or empty" +
                 column_hint(what, b.cols(), d));
}

template <typename Scalar>
void check_multi_head_params(const char* fn, const MultiHeadParams<Scalar>& p) {
  const Index d = p.wq.cols();
  const Index dv = p.wv.cols();
  const std::string heads = "heads (" + std::to_string(p.heads) + ")";
  ATTN_CHECK(p.heads >= 1, std::string(fn) + ": " + heads + " must be >= 1");
  // Unset projections would otherwise surface as "q.cols() (8) must equal params.wq.rows() (0)".
  for (const auto& [name, w] : {std::pair<const char*, const Matrix<Scalar>*>{"wq", &p.wq}, {"wk", &p.wk},
                                {"wv", &p.wv}, {"wo", &p.wo}}) {
    ATTN_CHECK(w->size() != 0, std::string(fn) + ": params." + name + " " + shape(*w) +
                                   " is empty: set wq, wk, wv and wo (in×out: torch's Linear weights transposed), "
                                   "or make the params with MultiHeadParams::from_torch or from_torch_separate");
  }
  // What a porting user most often got wrong, said after the shapes that show it: torch's
  // q_proj.weight (out×in) given untransposed, and kv_heads left 0 for a grouped-query layer.
  const auto hints = [&p, d]() {
    const Index dq = p.wq.rows();
    const Index g = p.key_value_heads();
    if (dq != d && dq % p.heads == 0 && g >= 1 && p.wk.cols() == g * (dq / p.heads)) {
      return " (params.wq " + shape(p.wq) + " looks transposed: attn takes in×out, torch's q_proj.weight is out×in: "
             "wq = q_proj.weight.transpose())";
    }
    const Index dh = d / p.heads;
    if (p.kv_heads == 0 && p.wk.cols() < d && dh > 0 && p.wk.cols() % dh == 0 && p.heads % (p.wk.cols() / dh) == 0) {
      return " (grouped-query attention? set params.kv_heads = " + std::to_string(p.wk.cols() / dh) +
             ", the key/value heads: transformers' num_key_value_heads)";
    }
    return std::string();
  };
  ATTN_CHECK(d % p.heads == 0, std::string(fn) + ": " + heads + " must divide the model width D (" +
                                   std::to_string(d) + ")" + hints());
  if (p.kv_heads == 0) {  // one key/value head per head
    ATTN_CHECK(p.wk.cols() == d, std::string(fn) + ": params.wk.cols() (" + std::to_string(p.wk.cols()) +
                                     ") must equal params.wq.cols() (" + std::to_string(d) + ")" + hints());
    ATTN_CHECK(dv % p.heads == 0, std::string(fn) + ": " + heads + " must divide the values' width params.wv.cols() (" +
                                      std::to_string(dv) + ")");
    check_equal(fn, "params.wo.rows()", p.wo.rows(), "params.wv.cols()", dv);
  } else {  // grouped-query attention: g key/value heads, each read by h/g query heads
    const Index g = p.kv_heads;
    const std::string kv = "kv_heads (" + std::to_string(g) + ")";
    ATTN_CHECK(g >= 1 && p.heads % g == 0, std::string(fn) + ": " + kv + " must be 0 (one per head) or a divisor of " +
                                               heads + ": query head i reads key/value head i / (heads / kv_heads)");
    ATTN_CHECK(p.wk.cols() == g * p.head_dim(), std::string(fn) + ": params.wk.cols() (" +
                                                    std::to_string(p.wk.cols()) + ") must equal kv_heads·head_dim() (" +
                                                    std::to_string(g * p.head_dim()) + ")" + hints());
    ATTN_CHECK(dv % g == 0, std::string(fn) + ": " + kv + " must divide the values' width params.wv.cols() (" +
                                std::to_string(dv) + ")");
    check_equal(fn, "params.wo.rows()", p.wo.rows(), "heads·value_head_dim()", p.heads * (dv / g));
  }
  check_bias(fn, "params.bq", p.bq, d);
  check_bias(fn, "params.bk", p.bk, p.wk.cols());
  check_bias(fn, "params.bv", p.bv, dv);
  check_bias(fn, "params.bo", p.bo, p.wo.cols());
  if (p.rotary) check_rotary(fn, "params.rotary", *p.rotary, p.head_dim());
  if (p.q_norm) check_head_norm(fn, "params.q_norm", *p.q_norm, p.head_dim(), p.wq.cols());
  if (p.k_norm) check_head_norm(fn, "params.k_norm", *p.k_norm, p.head_dim(), p.wk.cols());
  if ((p.bias_k.size() == 0) != (p.bias_v.size() == 0)) {
    const bool k_set = p.bias_k.size() != 0;
    const std::string set = k_set ? "bias_k " + shape(p.bias_k) : "bias_v " + shape(p.bias_v);
    ATTN_CHECK(false, std::string(fn) + ": params." + set + " is set but params." + (k_set ? "bias_v" : "bias_k") +
                          " is empty: they come together (torch's add_bias_kv), set both or neither");
  }
  if (p.bias_k.size() != 0) {
    check_bias(fn, "params.bias_k", p.bias_k, p.wk.cols());
    check_bias(fn, "params.bias_v", p.bias_v, dv);
  }
  if (!p.alibi.empty()) {
    ATTN_CHECK(static_cast<Index>(p.alibi.size()) == p.heads,
               std::string(fn) + ": params.alibi has " + std::to_string(p.alibi.size()) + " slopes, not one per head (" +
                   heads + ")");
    for (std::size_t i = 0; i < p.alibi.size(); ++i)
      ATTN_CHECK(std::isfinite(p.alibi[i]), std::string(fn) + ": params.alibi[" + std::to_string(i) + "] (" +
                                                number_text(p.alibi[i]) + ") must be finite");
    ATTN_CHECK(p.appended_keys() == 0,
               std::string(fn) + ": params.alibi with params.bias_k or params.add_zero_attn: the appended keys have "
                                 "no position to bias by");
  }
  ATTN_CHECK(!p.rotary || p.appended_keys() == 0,
             std::string(fn) + ": params.rotary with params.bias_k or params.add_zero_attn: the appended keys have "
                               "no position to rotate by (torch's add_bias_kv and add_zero_attn have no rotary form)");
}

/// Refuses torch's appended keys (bias_k, add_zero_attn) in the decoding forms (prepare_memory,
/// KVCache), whose keys are the source's or the cache's positions only.
template <typename Scalar>
void check_no_appended_keys(const char* fn, const MultiHeadParams<Scalar>& p) {
  ATTN_CHECK(p.appended_keys() == 0,
             std::string(fn) + ": params.bias_k or params.add_zero_attn is set (torch's add_bias_kv, add_zero_attn); "
                               "only attn::multi_head and its forms append those keys; call multi_head over the whole "
                               "sequence instead");
}

/// The key/value head that query head `i` reads: `i / (h / g)` (`p` checked).
template <typename Scalar>
Index kv_head(const MultiHeadParams<Scalar>& p, Index i) {
  return i / (p.heads / p.key_value_heads());
}

template <typename Scalar, typename... Derived>
constexpr void check_multi_head_scalars() {
  static_assert(check_scalar<Scalar>());
  static_assert((std::is_same<Scalar, typename Derived::Scalar>::value && ...),
                "attn: the matrices and the MultiHeadParams of a multi-head call (multi_head and its forms, "
                "KVCache::append, prepare_memory, from_torch) must share one scalar type; use .cast<T>()");
}

template <typename Scalar, typename Derived>
RowVector<Scalar> torch_vector(const char* fn, const char* what, const Eigen::MatrixBase<Derived>& b, Index n) {
  ATTN_CHECK(b.size() == 0 || ((b.rows() == 1 || b.cols() == 1) && b.size() == n),
             std::string(fn) + ": " + what + " " + shape(b) + " must hold " + std::to_string(n) +
                 " values (a row or column vector) or none");
  if (b.size() == 0) return RowVector<Scalar>();
  return b.reshaped(1, n);
}

}  // namespace detail

// --- loading PyTorch weights -----------------------------------------------------------------

namespace detail {

/// The torch biases (in_proj_bias 3D split into bq, bk, bv; out_proj_bias as bo) and the head
/// count, then the parameter checks shared by the torch loaders.
template <typename Scalar, typename DerivedB, typename DerivedBo>
void finish_torch_params(const char* fn, MultiHeadParams<Scalar>& p, const Eigen::MatrixBase<DerivedB>& in_proj_bias,
                         const Eigen::MatrixBase<DerivedBo>& out_proj_bias, Index num_heads) {
  const Index d = p.wo.rows();
  const RowVector<Scalar> b = torch_vector<Scalar>(fn, "in_proj_bias", in_proj_bias, 3 * d);
  if (b.size() != 0) {
    p.bq = b.segment(0, d);
    p.bk = b.segment(d, d);
    p.bv = b.segment(2 * d, d);
  }
  p.bo = torch_vector<Scalar>(fn, "out_proj_bias", out_proj_bias, d);
  p.heads = num_heads;
  check_multi_head_params(fn, p);
}

}  // namespace detail

/// \cond INTERNAL
// Definitions of the loaders; their documentation is at the declarations in MultiHeadParams.
template <typename Scalar>
template <typename DerivedW, typename DerivedB, typename DerivedWo, typename DerivedBo>
MultiHeadParams<Scalar> MultiHeadParams<Scalar>::from_torch(const Eigen::MatrixBase<DerivedW>& in_proj_weight,
                                                            const Eigen::MatrixBase<DerivedB>& in_proj_bias,
                                                            const Eigen::MatrixBase<DerivedWo>& out_proj_weight,
                                                            const Eigen::MatrixBase<DerivedBo>& out_proj_bias,
                                                            Index num_heads) {
  detail::check_multi_head_scalars<Scalar, DerivedW, DerivedB, DerivedWo, DerivedBo>();
  constexpr const char* fn = "attn::MultiHeadParams::from_torch";
  const Index d = in_proj_weight.cols();
  if (in_proj_weight.rows() != 3 * d) {  // the expected shape, from out_proj_weight's D when it is square
    const Index e = out_proj_weight.rows();
    const bool known = e > 0 && out_proj_weight.cols() == e;
    const bool transposed = in_proj_weight.cols() == 3 * in_proj_weight.rows();
    ATTN_CHECK(false, std::string(fn) + ": in_proj_weight " + detail::shape(in_proj_weight) +
                          " must be (3·D)×D, the [W_q; W_k; W_v] rows of torch's state_dict" +
                          (known ? ": " + detail::shape(3 * e, e) + " for D = " + std::to_string(e) + " (out_proj_weight)"
                                 : std::string()) +
                          (transposed ? "; this one is transposed: pass in_proj_weight.transpose()" : ""));
  }
  detail::check_shape(fn, "out_proj_weight", out_proj_weight, d, d);
  MultiHeadParams p;
  p.wq = in_proj_weight.topRows(d).transpose();
  p.wk = in_proj_weight.middleRows(d, d).transpose();
  p.wv = in_proj_weight.bottomRows(d).transpose();
  p.wo = out_proj_weight.transpose();
  detail::finish_torch_params(fn, p, in_proj_bias, out_proj_bias, num_heads);
  return p;
}

template <typename Scalar>
template <typename DerivedWq, typename DerivedWk, typename DerivedWv, typename DerivedB, typename DerivedWo,
          typename DerivedBo>
MultiHeadParams<Scalar> MultiHeadParams<Scalar>::from_torch_separate(
    const Eigen::MatrixBase<DerivedWq>& q_proj_weight, const Eigen::MatrixBase<DerivedWk>& k_proj_weight,
    const Eigen::MatrixBase<DerivedWv>& v_proj_weight, const Eigen::MatrixBase<DerivedB>& in_proj_bias,
    const Eigen::MatrixBase<DerivedWo>& out_proj_weight, const Eigen::MatrixBase<DerivedBo>& out_proj_bias,
    Index num_heads) {
  detail::check_multi_head_scalars<Scalar, DerivedWq, DerivedWk, DerivedWv, DerivedB, DerivedWo, DerivedBo>();
  constexpr const char* fn = "attn::MultiHeadParams::from_torch_separate";
  const Index d = q_proj_weight.rows();
  detail::check_equal(fn, "k_proj_weight.rows()", k_proj_weight.rows(), "q_proj_weight.rows()", d);
  detail::check_equal(fn, "v_proj_weight.rows()", v_proj_weight.rows(), "q_proj_weight.rows()", d);
  detail::check_shape(fn, "out_proj_weight", out_proj_weight, d, d);
  MultiHeadParams p;
  p.wq = q_proj_weight.transpose();
  p.wk = k_proj_weight.transpose();
  p.wv = v_proj_weight.transpose();
  p.wo = out_proj_weight.transpose();
  detail::finish_torch_params(fn, p, in_proj_bias, out_proj_bias, num_heads);
  return p;
}
/// \endcond

}  // namespace attn
