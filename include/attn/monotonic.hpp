// SPDX-License-Identifier: MIT
// Monotonic attention mechanisms (TF BahdanauMonotonicAttention, LuongMonotonicAttention): their
// scores, then the monotonic normaliser of monotonic_attention.hpp. Q Tq×dq, K Tk×dk, V Tk×dv.
#pragma once

#include "additive.hpp"
#include "config.hpp"
#include "detail/attend.hpp"
#include "detail/binding.hpp"
#include "luong.hpp"
#include "mask.hpp"
#include "monotonic_attention.hpp"
#include "options.hpp"
#include "sinks.hpp"
#include "workspace.hpp"

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

namespace attn {

/// Result of a monotonic mechanism: like AttentionResult, plus the leaked mass and the expected
/// position per query row. `auto [output, weights] = attn::bahdanau_monotonic(...)` works.
template <typename Scalar>
struct MonotonicResult : detail::BindOutputWeights<MonotonicResult<Scalar>> {
  Matrix<Scalar> output;              ///< Tq×dv: weights·V (no renormalisation of the leaked mass)
  Matrix<Scalar> weights;             ///< Tq×Tk: the monotonic alignment, masked entries exactly 0
  Matrix<Scalar> scores;              ///< Tq×Tk: the energies `e + r` (score bias included, as TF's score), before noise and sigmoid; -inf on masked keys
  Matrix<Scalar> p_choose;            ///< Tq×Tk: the choosing probabilities `sigmoid(e + r + noise)` (0/1 in hard mode), 0 on masked keys
  RowFlags fully_masked;              ///< Tq: rows that saw no key (all-zero weights and output)
  Vector<Scalar> leaked;              ///< Tq: 1 − Σ_j weights(i, j)
  Vector<Scalar> expected_position;   ///< Tq: Σ_j j·w_ij / Σ_j w_ij, NaN for a zero row

  /// Number of queries that saw no key.
  /// \return the number of true entries of fully_masked
  Index num_fully_masked() const { return fully_masked.count(); }
};

namespace detail {

/// The monotonic engine of every mechanism's `_into` form: the scorer's scores of every query
/// row against the keys `k`, then monotonic_step. The scores stay in `ws.scores()` and the
/// choosing probabilities in `ws.p_choose()`.
template <typename Scalar, typename Scorer, typename DerivedQ, typename DerivedK, typename DerivedV,
          typename DerivedA, typename Noise>
Index monotonic_keys(const Scorer& scorer, const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                     const Eigen::MatrixBase<DerivedV>& v, const Eigen::MatrixBase<DerivedA>& previous,
                     const MonotonicParams<Scalar>& monotonic, const Mask& mask, Noise& noise,
                     Eigen::Ref<Matrix<Scalar>> output, Eigen::Ref<Matrix<Scalar>> weights, Workspace<Scalar>& ws) {
  auto scores = buffers(ws).scores.matrix(q.rows(), k.rows());
  score_keys<Scorer, DerivedQ, DerivedK, Scalar>(scorer, q, k, scores, ws);
  return monotonic_step<Scalar>(scores, previous, monotonic, mask, noise, v, output, weights, ws);
}

/// The monotonic `_into` form of the mechanism of `params` (see detail::ScorerOf). The weights go
/// to `weights`: a Tq×Tk matrix (Eigen::Ref) or attn::Sinks (begun after every other check).
template <typename Params, typename DerivedQ, typename DerivedK, typename DerivedV, typename DerivedA, typename W,
          typename Noise>
Index monotonic_with(const char* fn, const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                     const Eigen::MatrixBase<DerivedV>& v, const Eigen::MatrixBase<DerivedA>& previous,
                     const Params& params, Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output, W& weights,
                     Workspace<typename DerivedQ::Scalar>& ws,
                     const MonotonicParams<typename DerivedQ::Scalar>& monotonic, const Mask& mask, Noise& noise) {
  using Scalar = typename DerivedQ::Scalar;
  static_assert(check_scalars<DerivedQ, DerivedK, DerivedV, DerivedA>());
  const SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  check_monotonic_params(fn, monotonic, !is_no_noise<Noise>());
  check_equal(fn, "v.rows()", v.rows(), "k.rows()", k.rows());
  check_shape(fn, "previous", previous, q.rows(), k.rows());
  check_shape(fn, "output", output, q.rows(), v.cols());
  check_weights<Scalar>(fn, weights, q.rows(), k.rows());
  mask.check(fn, q.rows(), k.rows());
  const Index tk = k.rows();
  check_previous_alignment(fn, previous, [&mask, tk](Index i, Index j) { return mask.visible(i, j, tk); });
  ATTN_CHECK(!mask.bias(), std::string(fn) +
                               ": the mask adds a score bias (Mask::additive with entries other than 0 and -inf), "
                               "which monotonic attention does not take: its energies choose keys through a "
                               "sigmoid, not a softmax; pass the hidden keys alone (0 / -inf)");
  return ScorerOf<Params>::with(fn, params, q.cols(), k.cols(), Scalar(1), ws, [&](const auto& scorer) {
    if constexpr (std::is_same<std::decay_t<W>, Sinks<Scalar>>::value) {
      // The recurrence runs over every row first, then the sinks get the rows.
      return whole_to_sinks(fn, weights, q.rows(), k.rows(), mask, ws, [&](auto& whole) {
        return monotonic_keys<Scalar>(scorer, q, k, v, previous, monotonic, mask, noise, output, whole, ws);
      });
    } else {
      return monotonic_keys<Scalar>(scorer, q, k, v, previous, monotonic, mask, noise, output, weights, ws);
    }
  });
}

/// Value form on top of a monotonic `_into` call: allocates the result, runs `into`, collects
/// the scores, p_choose, fully masked rows and the alignment statistics.
template <typename Scalar, typename Into>
MonotonicResult<Scalar> run_monotonic(Index tq, Index tk, Index dv, Into&& into) {
  return run_with<MonotonicResult<Scalar>, Scalar>(tq, tk, dv, std::forward<Into>(into), [&](auto& r, auto& ws) {
    r.scores = ws.scores();
    r.p_choose = ws.p_choose();
    r.leaked.resize(tq);
    r.expected_position.resize(tq);
    alignment_stats_into(r.weights, r.leaked, r.expected_position);
  });
}

}  // namespace detail

/// The `_into` form of the monotonic mechanism whose energies come from `Params<Scalar>`
/// (attn::bahdanau_monotonic_into, attn::luong_monotonic_into): energies `e`, then
/// `p = sigmoid(e + r (+ noise))` and the monotonic recurrence from `previous` (Tq×Tk; use
/// monotonic_initial_alignment for the first step). Keys hidden by `mask` get `p = 0`.
/// Afterwards `ws.scores()` holds the energies `e + r` (-inf on masked keys), `ws.p_choose()` the
/// choosing probabilities and `ws.fully_masked()` the rows that saw no key. Allocates nothing
/// once `ws` has seen these shapes.
template <template <typename> class Params>
class MonotonicIntoFn {
 public:
  /// \param name the name error messages give, e.g. "attn::bahdanau_monotonic"
  explicit constexpr MonotonicIntoFn(const char* name) : name_(name) {}

  /// Into caller-owned `output` and `weights` with scratch `ws`.
  /// \param q queries, Tq×dq
  /// \param k keys, Tk×dk
  /// \param v values, Tk×dv
  /// \param previous previous alignment, Tq×Tk
  /// \param params the parameters of the energies
  /// \param output Tq×dv, written
  /// \param weights Tq×Tk, written (may be the same matrix as `previous`)
  /// \param ws reusable scratch; holds the energies, p_choose and fully masked rows afterwards
  /// \param monotonic mode, score bias and noise scale (default: parallel, 0, 0)
  /// \param mask which keys each query may see (default: all)
  /// \param noise the pre-sigmoid noise source: attn::NoNoise (default), a std::mt19937-like
  ///        engine or a callable returning N(0,1) samples; required when sigmoid_noise > 0
  /// \return the number of queries that saw no key
  /// \throws attn::invalid_argument when a shape or parameter does not fit, or noise is needed
  ///         but not given
  template <typename DerivedQ, typename DerivedK, typename DerivedV, typename DerivedA, typename Noise = NoNoise>
  Index operator()(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                   const Eigen::MatrixBase<DerivedV>& v, const Eigen::MatrixBase<DerivedA>& previous,
                   const Params<typename DerivedQ::Scalar>& params, Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output,
                   Eigen::Ref<Matrix<typename DerivedQ::Scalar>> weights, Workspace<typename DerivedQ::Scalar>& ws,
                   const MonotonicParams<typename DerivedQ::Scalar>& monotonic = {}, const Mask& mask = Mask(),
                   Noise&& noise = Noise()) const {
    return detail::monotonic_with(name_, q, k, v, previous, params, output, weights, ws, monotonic, mask, noise);
  }

  /// Into `output`, the weights going to `sinks` instead of a Tq×Tk matrix (attn::no_weights:
  /// output only). Output, weights, energies, p_choose and fully masked rows are those of the form
  /// with `weights`, bit for bit: the recurrence runs over every row first (into the storage of a
  /// FullWeights among the sinks, else a Tq×Tk buffer of `ws`), then the sinks get its rows in
  /// order. The new alignment is the next step's `previous`: keep it with a FullWeights.
  /// \param q queries, Tq×dq
  /// \param k keys, Tk×dk
  /// \param v values, Tk×dv
  /// \param previous previous alignment, Tq×Tk (may be the storage of a FullWeights among the sinks)
  /// \param params the parameters of the energies
  /// \param output Tq×dv, written
  /// \param sinks where the weights go (one sink, attn::Sinks<Scalar>(a, b, ...), or attn::no_weights)
  /// \param ws reusable scratch; holds the energies, p_choose and fully masked rows afterwards
  /// \param monotonic mode, score bias and noise scale (default: parallel, 0, 0)
  /// \param mask which keys each query may see (default: all)
  /// \param noise the pre-sigmoid noise source (default: none), as in the form with `weights`
  /// \return the number of queries that saw no key
  /// \throws attn::invalid_argument as the form with `weights`, or when a sink does not fit
  template <typename DerivedQ, typename DerivedK, typename DerivedV, typename DerivedA, typename Noise = NoNoise>
  Index operator()(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                   const Eigen::MatrixBase<DerivedV>& v, const Eigen::MatrixBase<DerivedA>& previous,
                   const Params<typename DerivedQ::Scalar>& params, Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output,
                   const Sinks<typename DerivedQ::Scalar>& sinks, Workspace<typename DerivedQ::Scalar>& ws,
                   const MonotonicParams<typename DerivedQ::Scalar>& monotonic = {}, const Mask& mask = Mask(),
                   Noise&& noise = Noise()) const {
    return detail::monotonic_with(name_, q, k, v, previous, params, output, sinks, ws, monotonic, mask, noise);
  }

 private:
  const char* name_;
};

/// The value form of a monotonic mechanism (attn::bahdanau_monotonic, attn::luong_monotonic):
/// the MonotonicIntoFn of the same parameters into a fresh result.
template <template <typename> class Params>
class MonotonicFn {
 public:
  /// \param name the name error messages give, e.g. "attn::bahdanau_monotonic"
  explicit constexpr MonotonicFn(const char* name) : name_(name) {}

  /// `auto [output, weights] = attn::bahdanau_monotonic(q, k, v, previous, params);` works.
  /// \param q queries, Tq×dq
  /// \param k keys, Tk×dk
  /// \param v values, Tk×dv
  /// \param previous previous alignment, Tq×Tk
  /// \param params the parameters of the energies
  /// \param monotonic mode, score bias and noise scale (default: parallel, 0, 0)
  /// \param mask which keys each query may see (default: all)
  /// \param noise the pre-sigmoid noise source (default: none)
  /// \return output Tq×dv, weights Tq×Tk, the energies, p_choose, fully_masked, leaked and
  ///         expected_position
  /// \throws attn::invalid_argument as the `_into` form does
  template <typename DerivedQ, typename DerivedK, typename DerivedV, typename DerivedA, typename Noise = NoNoise>
  MonotonicResult<typename DerivedQ::Scalar> operator()(
      const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k, const Eigen::MatrixBase<DerivedV>& v,
      const Eigen::MatrixBase<DerivedA>& previous, const Params<typename DerivedQ::Scalar>& params,
      const MonotonicParams<typename DerivedQ::Scalar>& monotonic = {}, const Mask& mask = Mask(),
      Noise&& noise = Noise()) const {
    using Scalar = typename DerivedQ::Scalar;
    return detail::run_monotonic<Scalar>(q.rows(), k.rows(), v.cols(), [&](auto& out, auto& w, auto& ws) {
      detail::monotonic_with(name_, q, k, v, previous, params, out, w, ws, monotonic, mask, noise);
    });
  }

  /// With the default parameters, for a mechanism that has them (Luong: the dot score).
  /// \param q queries, Tq×dq
  /// \param k keys, Tk×dk
  /// \param v values, Tk×dv
  /// \param previous previous alignment, Tq×Tk
  /// \return as the form with parameters
  template <typename DerivedQ, typename DerivedK, typename DerivedV, typename DerivedA,
            template <typename> class P = Params, std::enable_if_t<detail::has_default_params<P>::value, int> = 0>
  MonotonicResult<typename DerivedQ::Scalar> operator()(const Eigen::MatrixBase<DerivedQ>& q,
                                                        const Eigen::MatrixBase<DerivedK>& k,
                                                        const Eigen::MatrixBase<DerivedV>& v,
                                                        const Eigen::MatrixBase<DerivedA>& previous) const {
    return (*this)(q, k, v, previous, Params<typename DerivedQ::Scalar>{});
  }

  /// The weights go to `sinks` instead of a Tq×Tk matrix (attn::no_weights: output only): the
  /// output, the fully masked rows and the energies `e + r` as `scores` (the choosing
  /// probabilities stay in the workspace of the `_into` form).
  /// \param q queries, Tq×dq
  /// \param k keys, Tk×dk
  /// \param v values, Tk×dv
  /// \param previous previous alignment, Tq×Tk
  /// \param params the parameters of the energies
  /// \param sinks where the weights go (see sinks.hpp)
  /// \param monotonic mode, score bias and noise scale (default: parallel, 0, 0)
  /// \param mask which keys each query may see (default: all)
  /// \param noise the pre-sigmoid noise source (default: none)
  /// \return output, fully_masked and the energies as scores
  /// \throws attn::invalid_argument as the `_into` form does
  template <typename DerivedQ, typename DerivedK, typename DerivedV, typename DerivedA, typename Noise = NoNoise>
  OutputResult<typename DerivedQ::Scalar> operator()(
      const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k, const Eigen::MatrixBase<DerivedV>& v,
      const Eigen::MatrixBase<DerivedA>& previous, const Params<typename DerivedQ::Scalar>& params,
      const Sinks<typename DerivedQ::Scalar>& sinks, const MonotonicParams<typename DerivedQ::Scalar>& monotonic = {},
      const Mask& mask = Mask(), Noise&& noise = Noise()) const {
    using Scalar = typename DerivedQ::Scalar;
    Options energies;
    energies.return_scores = true;  // run_sinks then returns ws.scores(): the energies
    return detail::run_sinks<Scalar>(q.rows(), v.cols(), energies, [&](auto& out, auto& ws) {
      detail::monotonic_with(name_, q, k, v, previous, params, out, sinks, ws, monotonic, mask, noise);
    });
  }

 private:
  const char* name_;
};

/// Bahdanau-monotonic attention (TF `BahdanauMonotonicAttention`), `_into` form:
/// `attn::bahdanau_monotonic_into(q, k, v, previous, params, output, weights, ws [, monotonic,
/// mask, noise])`. Energies `e_ij = v·tanh(q_i·Wq + k_j·Wk)` (normalized form as in
/// attn::bahdanau). Arguments and errors: attn::MonotonicIntoFn.
inline constexpr MonotonicIntoFn<BahdanauParams> bahdanau_monotonic_into{"attn::bahdanau_monotonic"};

/// Bahdanau-monotonic attention, value form: `attn::bahdanau_monotonic(q, k, v, previous, params
/// [, monotonic, mask, noise])`. Arguments: attn::MonotonicFn.
inline constexpr MonotonicFn<BahdanauParams> bahdanau_monotonic{"attn::bahdanau_monotonic"};

/// Luong-monotonic attention (TF `LuongMonotonicAttention`), `_into` form:
/// `attn::luong_monotonic_into(q, k, v, previous, params, output, weights, ws [, monotonic, mask,
/// noise])`. Energies from attn::LuongParams (dot `g·Q·Kᵀ`, general `g·Q·W·Kᵀ`, concat); TF's
/// form is `LuongParams::memory_layer(W_m, g)` (keys = memory·W_m, e = g·q·keysᵀ). Arguments and
/// errors: attn::MonotonicIntoFn.
inline constexpr MonotonicIntoFn<LuongParams> luong_monotonic_into{"attn::luong_monotonic"};

/// Luong-monotonic attention, value form: `attn::luong_monotonic(q, k, v, previous [, params,
/// monotonic, mask, noise])` (default: the dot score). Arguments: attn::MonotonicFn.
inline constexpr MonotonicFn<LuongParams> luong_monotonic{"attn::luong_monotonic"};

}  // namespace attn

ATTN_BIND_OUTPUT_WEIGHTS(MonotonicResult)
