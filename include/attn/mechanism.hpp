// SPDX-License-Identifier: MIT
// The entry points of a mechanism given by its parameter type (attn::bahdanau, attn::luong and
// their `_into` forms; the Keras layers over one sequence, attn::attention_pooling and
// attn::seq_self_attention), written once: each is a callable object of these types, so its
// value form, `_into` form and sink forms take the same arguments in the same order as every
// other mechanism's, and do the same checks.
#pragma once

#include "config.hpp"
#include "detail/attend.hpp"
#include "detail/forms.hpp"
#include "mask.hpp"
#include "options.hpp"
#include "result.hpp"
#include "sinks.hpp"
#include "workspace.hpp"

#include <type_traits>

namespace attn {
namespace detail {

/// Whether `Params<Scalar>{}` is a meaningful default (Luong's dot score), so that the value
/// form may be called without parameters. Specialised next to such a parameter type.
template <template <typename> class Params>
struct has_default_params : std::false_type {};

/// What a Keras layer over one sequence `x` (T×d) with parameters `Params` does beyond the
/// frame of SequenceLayerIntoFn, specialised beside the parameters. A specialisation gives:
/// - `query_rows(t)`: the rows of output and weights (1 for pooling, T for self-attention);
/// - `check(fn, params, d)`: throws unless the parameters fit width d;
/// - `padded_from(mask, t)`: the first query row that is padding (zero weights and output,
///   fully masked), or query_rows(t) when none;
/// - `with_mask(params, mask, f)`: returns `f(m)`, `m` the mask the rows see (`mask` and what the
///   parameters add, such as a window);
/// - `attend(x, params, output, target, ws, mask, options, scale)`: the layer's scores through
///   the engine (detail::attend_blocks) into `target` (the weights matrix or the sinks), after
///   every check, with Eigen single-threaded; returns the number of fully masked rows.
template <typename Params>
struct LayerOf {};

}  // namespace detail

/// The `_into` forms of the mechanism whose parameters are `Params<Scalar>`: caller-owned
/// output and weights (or sinks) and a reusable Workspace; nothing is allocated once the
/// workspace has seen the shapes. Each returns the number of fully masked query rows, and
/// leaves in `ws` the fully masked rows (`ws.fully_masked()`) and the scores (`ws.scores()`).
template <template <typename> class Params>
class AttentionIntoFn {
 public:
  /// \param name the name error messages give, e.g. "attn::bahdanau"
  explicit constexpr AttentionIntoFn(const char* name) : name_(name) {}

  /// Into `output` (Tq×dv) and `weights` (Tq×Tk).
  /// \param q queries, Tq×dq
  /// \param k keys, Tk×dk (any Eigen expression), or prepared keys (the decoder-step case:
  ///        prepare once, call per step; same arithmetic)
  /// \param v values, Tk×dv
  /// \param params the mechanism's parameters
  /// \param output Tq×dv, written
  /// \param weights Tq×Tk, written
  /// \param ws reusable scratch; reports the fully masked rows and the scores of the last call
  /// \param mask which keys each query may see (default: all)
  /// \param options probability function, return_scores and the scale (a factor on the scores)
  /// \return the number of queries that saw no key
  /// \throws attn::invalid_argument when a shape or parameter does not fit, or the keys were
  ///         prepared for other parameters
  template <typename DerivedQ, typename K, typename DerivedV>
  Index operator()(const Eigen::MatrixBase<DerivedQ>& q, const K& k, const Eigen::MatrixBase<DerivedV>& v,
                   const Params<typename DerivedQ::Scalar>& params,
                   Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output,
                   Eigen::Ref<Matrix<typename DerivedQ::Scalar>> weights, Workspace<typename DerivedQ::Scalar>& ws,
                   const Mask& mask = Mask(), const Options& options = Options()) const {
    return detail::attend_with(name_, q, k, v, params, output, weights, ws, mask, options);
  }

  /// Into `output`, the weights going to `sinks` (attn::no_weights: output only). Output and
  /// reports are those of the form with `weights`, bit for bit. A scorer whose blocks depend on
  /// each other (Bahdanau, Luong concat) scores the blocks on one thread when no
  /// attn::FullWeights is among the sinks.
  /// \param q queries, Tq×dq
  /// \param k keys, Tk×dk, or prepared keys
  /// \param v values, Tk×dv
  /// \param params the mechanism's parameters
  /// \param output Tq×dv, written
  /// \param sinks where the weights go (one sink, attn::Sinks<Scalar>(a, b, ...), or attn::no_weights)
  /// \param ws reusable scratch (also holds a block of weights per thread: 256×Tk, fewer rows past
  ///        Tk = 8192 floats so that a block stays near 8 MiB)
  /// \param mask which keys each query may see
  /// \param options probability function, return_scores and the scale
  /// \return the number of queries that saw no key
  /// \throws attn::invalid_argument as the form with `weights`, or when a sink does not fit
  template <typename DerivedQ, typename K, typename DerivedV>
  Index operator()(const Eigen::MatrixBase<DerivedQ>& q, const K& k, const Eigen::MatrixBase<DerivedV>& v,
                   const Params<typename DerivedQ::Scalar>& params,
                   Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output,
                   const Sinks<typename DerivedQ::Scalar>& sinks, Workspace<typename DerivedQ::Scalar>& ws,
                   const Mask& mask = Mask(), const Options& options = Options()) const {
    return detail::attend_with(name_, q, k, v, params, output, sinks, ws, mask, options);
  }

 private:
  const char* name_;
};

/// The value forms of the mechanism whose parameters are `Params<Scalar>`: called as a function,
/// `attn::bahdanau(q, k, v, params)` or `attn::luong(q, k, v, params, mask, options)`. The key
/// argument `k` is the keys (Tk×dk, any Eigen expression) or what `prepare_keys(params, keys)`
/// made of them, with the same arithmetic.
template <template <typename> class Params>
class AttentionFn {
 public:
  /// \param name the name error messages give, e.g. "attn::bahdanau"
  explicit constexpr AttentionFn(const char* name) : name_(name) {}

  /// Returns output (Tq×dv), weights (Tq×Tk), the fully masked rows and, with
  /// `options.return_scores`, the scores. `auto [output, weights] = attn::luong(q, k, v);` works.
  /// \param q queries, Tq×dq
  /// \param k keys, Tk×dk, or prepared keys
  /// \param v values, Tk×dv
  /// \param params the mechanism's parameters
  /// \param mask which keys each query may see (default: all)
  /// \param options probability function, return_scores and the scale (a factor on the scores)
  /// \return output, weights, fully_masked (and scores when asked)
  /// \throws attn::invalid_argument when a shape or parameter does not fit
  template <typename DerivedQ, typename K, typename DerivedV>
  AttentionResult<typename DerivedQ::Scalar> operator()(const Eigen::MatrixBase<DerivedQ>& q, const K& k,
                                                        const Eigen::MatrixBase<DerivedV>& v,
                                                        const Params<typename DerivedQ::Scalar>& params,
                                                        const Mask& mask = Mask(),
                                                        const Options& options = Options()) const {
    using Scalar = typename DerivedQ::Scalar;
    const Index tk = detail::key_count<Params<Scalar>>(k);
    return detail::run<Scalar>(q.rows(), tk, v.cols(), options, [&](auto& out, auto& w, auto& ws) {
      const AttentionIntoFn<Params> into(name_);
      into(q, k, v, params, out, w, ws, mask, options);
    });
  }

  /// The same with the default parameters, for a mechanism that has them (Luong: the dot score).
  /// \param q queries, Tq×dq
  /// \param k keys, Tk×dk, or prepared keys
  /// \param v values, Tk×dv
  /// \return output, weights and fully_masked
  template <typename DerivedQ, typename K, typename DerivedV, template <typename> class P = Params,
            std::enable_if_t<detail::has_default_params<P>::value, int> = 0>
  AttentionResult<typename DerivedQ::Scalar> operator()(const Eigen::MatrixBase<DerivedQ>& q, const K& k,
                                                        const Eigen::MatrixBase<DerivedV>& v) const {
    return (*this)(q, k, v, Params<typename DerivedQ::Scalar>{});
  }

  /// The weights go to `sinks` instead of a Tq×Tk matrix (attn::no_weights: output only, PyTorch
  /// `need_weights=False`): output, fully masked rows (and the scores when asked).
  /// \param q queries, Tq×dq
  /// \param k keys, Tk×dk, or prepared keys
  /// \param v values, Tk×dv
  /// \param params the mechanism's parameters
  /// \param sinks where the weights go (see sinks.hpp)
  /// \param mask which keys each query may see
  /// \param options probability function, return_scores and the scale
  /// \return output, fully_masked (and scores when asked)
  /// \throws attn::invalid_argument as the form with weights, or when a sink does not fit
  template <typename DerivedQ, typename K, typename DerivedV>
  OutputResult<typename DerivedQ::Scalar> operator()(const Eigen::MatrixBase<DerivedQ>& q, const K& k,
                                                     const Eigen::MatrixBase<DerivedV>& v,
                                                     const Params<typename DerivedQ::Scalar>& params,
                                                     const Sinks<typename DerivedQ::Scalar>& sinks,
                                                     const Mask& mask = Mask(),
                                                     const Options& options = Options()) const {
    using Scalar = typename DerivedQ::Scalar;
    return detail::run_sinks<Scalar>(q.rows(), v.cols(), options, [&](auto& out, auto& ws) {
      const AttentionIntoFn<Params> into(name_);
      into(q, k, v, params, out, sinks, ws, mask, options);
    });
  }

 private:
  const char* name_;
};

/// The `_into` forms of a Keras layer over one sequence `x` (T×d) whose parameters are
/// `Params<Scalar>` (attn::attention_pooling_into, attn::seq_self_attention_into): caller-owned
/// `output` and `weights` (or sinks), a reusable Workspace; nothing is allocated once the
/// workspace has seen the shapes. Returns the number of fully masked rows, and leaves them in
/// `ws.fully_masked()` (and, with `options.return_scores`, the scores in `ws.scores()`).
template <template <typename> class Params>
class SequenceLayerIntoFn {
 public:
  /// \param name the name error messages give, e.g. "attn::seq_self_attention"
  explicit constexpr SequenceLayerIntoFn(const char* name) : name_(name) {}

  /// \param x the sequence, T×d
  /// \param params the layer's kernels and settings
  /// \param output rows×d, written (1×d for pooling, T×d for self-attention)
  /// \param weights rows×T, written
  /// \param ws reusable scratch; reports the fully masked rows and the scores of the last call
  /// \param mask which steps each row may see (default: all)
  /// \param options probability function, return_scores and the scale (a factor on the scores)
  /// \return the number of fully masked rows
  /// \throws attn::invalid_argument when a kernel or bias of `params` does not fit d, an output
  ///         has another shape, the mask does not fit, or `options.scale` is not finite
  template <typename DerivedX>
  Index operator()(const Eigen::MatrixBase<DerivedX>& x, const Params<typename DerivedX::Scalar>& params,
                   Eigen::Ref<Matrix<typename DerivedX::Scalar>> output,
                   Eigen::Ref<Matrix<typename DerivedX::Scalar>> weights, Workspace<typename DerivedX::Scalar>& ws,
                   const Mask& mask = Mask(), const Options& options = Options()) const {
    return run(x, params, output, weights, ws, mask, options);
  }

  /// Into `output`, the weights going to `sinks` (attn::no_weights: output only, Keras
  /// `return_attention=False`). Output and reports are those of the form with `weights`, bit for
  /// bit, and the sinks see its rows. Padded steps (self-attention's rows past a key length) are
  /// zero rows that the reductions treat as seeing no key (SinkCall::padded_from).
  /// \param x the sequence, T×d
  /// \param params the layer's kernels and settings
  /// \param output rows×d, written (1×d for pooling, T×d for self-attention)
  /// \param sinks where the rows×T weights go (one sink, attn::Sinks<Scalar>(a, b, ...), or attn::no_weights)
  /// \param ws reusable scratch (also holds a block of weights per thread when no sink is a
  ///        FullWeights); reports the fully masked rows and the scores of the last call
  /// \param mask which steps each row may see (default: all)
  /// \param options probability function, return_scores and the scale
  /// \return the number of fully masked rows
  /// \throws attn::invalid_argument as the form with `weights`, or when a sink does not fit
  template <typename DerivedX>
  Index operator()(const Eigen::MatrixBase<DerivedX>& x, const Params<typename DerivedX::Scalar>& params,
                   Eigen::Ref<Matrix<typename DerivedX::Scalar>> output,
                   const Sinks<typename DerivedX::Scalar>& sinks, Workspace<typename DerivedX::Scalar>& ws,
                   const Mask& mask = Mask(), const Options& options = Options()) const {
    return run(x, params, output, sinks, ws, mask, options);
  }

 private:
  // Both forms: the checks, then the layer's scores through the engine into the weights or sinks.
  template <typename DerivedX, typename W>
  Index run(const Eigen::MatrixBase<DerivedX>& x, const Params<typename DerivedX::Scalar>& params,
            Eigen::Ref<Matrix<typename DerivedX::Scalar>> output, W& weights, Workspace<typename DerivedX::Scalar>& ws,
            const Mask& mask, const Options& options) const {
    using Scalar = typename DerivedX::Scalar;
    using Layer = detail::LayerOf<Params<Scalar>>;
    const detail::SerialCall<Scalar> serial;  // Eigen's products single-threaded (bit-identical results)
    const Index rows = Layer::query_rows(x.rows());
    Layer::check(name_, params, x.cols());
    detail::check_into<Scalar>(name_, rows, x.rows(), x.cols(), output, weights, mask, options);
    const detail::NamedInput<Scalar> seq{"x", detail::storage_of(x)};
    detail::check_outputs_apart<Scalar>(name_, seq, seq, seq, output, weights);
    const Scalar scale = detail::score_scale<Scalar>(name_, options, Scalar(1));
    return Layer::with_mask(params, mask, [&](const Mask& seen) {
      const Index padded_from = Layer::padded_from(mask, x.rows());
      const auto target = detail::target_of<Scalar>(name_, weights, rows, x.rows(), seen, padded_from);
      return Layer::attend(x, params, output, target, ws, seen, options, scale);
    });
  }

  const char* name_;
};

/// The value form of a Keras layer over one sequence (attn::attention_pooling,
/// attn::seq_self_attention): the SequenceLayerIntoFn of the same parameters into a fresh result.
template <template <typename> class Params>
class SequenceLayerFn {
 public:
  /// \param name the name error messages give, e.g. "attn::seq_self_attention"
  explicit constexpr SequenceLayerFn(const char* name) : name_(name) {}

  /// `auto [output, weights] = attn::seq_self_attention(x, params);` works.
  /// \param x the sequence, T×d
  /// \param params the layer's kernels and settings
  /// \param mask which steps each row may see (default: all)
  /// \param options probability function, return_scores and the scale
  /// \return output, weights, fully_masked (and scores when asked)
  /// \throws attn::invalid_argument as the `_into` form does
  template <typename DerivedX>
  AttentionResult<typename DerivedX::Scalar> operator()(const Eigen::MatrixBase<DerivedX>& x,
                                                        const Params<typename DerivedX::Scalar>& params,
                                                        const Mask& mask = Mask(),
                                                        const Options& options = Options()) const {
    using Scalar = typename DerivedX::Scalar;
    const Index rows = detail::LayerOf<Params<Scalar>>::query_rows(x.rows());
    return detail::run<Scalar>(rows, x.rows(), x.cols(), options, [&](auto& out, auto& w, auto& ws) {
      const SequenceLayerIntoFn<Params> into(name_);
      into(x, params, out, w, ws, mask, options);
    });
  }

  /// The weights go to `sinks` instead of a matrix (attn::no_weights: output only, Keras
  /// `return_attention=False`): output, fully masked rows (and the scores when asked).
  /// \param x the sequence, T×d
  /// \param params the layer's kernels and settings
  /// \param sinks where the rows×T weights go (see sinks.hpp)
  /// \param mask which steps each row may see (default: all)
  /// \param options probability function, return_scores and the scale
  /// \return output, fully_masked (and scores when asked)
  /// \throws attn::invalid_argument as the `_into` form does, or when a sink does not fit
  template <typename DerivedX>
  OutputResult<typename DerivedX::Scalar> operator()(const Eigen::MatrixBase<DerivedX>& x,
                                                     const Params<typename DerivedX::Scalar>& params,
                                                     const Sinks<typename DerivedX::Scalar>& sinks,
                                                     const Mask& mask = Mask(),
                                                     const Options& options = Options()) const {
    using Scalar = typename DerivedX::Scalar;
    const Index rows = detail::LayerOf<Params<Scalar>>::query_rows(x.rows());
    return detail::run_sinks<Scalar>(rows, x.cols(), options, [&](auto& out, auto& ws) {
      const SequenceLayerIntoFn<Params> into(name_);
      into(x, params, out, sinks, ws, mask, options);
    });
  }

 private:
  const char* name_;
};

}  // namespace attn
