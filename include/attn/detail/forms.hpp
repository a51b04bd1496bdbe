// SPDX-License-Identifier: MIT
// The forms of a mechanism given by its parameters (BahdanauParams, LuongParams), written once
// over detail::ScorerOf: prepared keys, and the `_into` form on keys or on prepared keys. The
// prepared memory and the monotonic forms are in prepared_memory.hpp and monotonic.hpp.
#pragma once

#include "../config.hpp"
#include "../mask.hpp"
#include "../options.hpp"
#include "../workspace.hpp"
#include "attend.hpp"
#include "checks.hpp"
#include "scorers.hpp"
#include "threads.hpp"

#include <optional>
#include <type_traits>

namespace attn {
namespace detail {

/// Whether `K` is the prepared keys of `Params` (else it must be an Eigen matrix of keys).
template <typename Params, typename K>
constexpr bool is_prepared_keys = std::is_same<K, typename ScorerOf<Params>::Keys>::value;

/// The number of keys in `k`: an Eigen matrix of keys (Tk×dk) or keys prepared from one.
template <typename Params, typename K>
Index key_count(const K& k) {
  if constexpr (is_prepared_keys<Params, K>) {
    return k.projected.rows();
  } else {
    static_assert(std::is_base_of<Eigen::EigenBase<K>, K>::value,
                  "attn: k must be an Eigen matrix of keys, or what prepare_keys(params, k) returned for "
                  "parameters of the same type and scalar");
    return k.rows();
  }
}

/// prepare_keys for the mechanism of `params`: the key side of its scores, once.
template <typename Params, typename DerivedK>
typename ScorerOf<Params>::Keys prepare_keys_with(const char* fn, const Params& params,
                                                  const Eigen::MatrixBase<DerivedK>& k) {
  using Scalar = typename DerivedK::Scalar;
  const SerialCall<Scalar> serial;  // Eigen's products single-threaded (bit-identical results)
  const Index dk = k.cols();
  auto keys = ScorerOf<Params>::keys_for(params);
  Workspace<Scalar> ws;
  ScorerOf<Params>::with(fn, params, ScorerOf<Params>::query_size(fn, params, dk), dk, Scalar(1), ws,
                         [&](const auto& scorer) {
                           keys.projected.resize(k.rows(), scorer.prepared_size(dk));
                           scorer.prepare(k, keys.projected);
                           return Index(0);
                         });
  return keys;
}

/// The `_into` form of the mechanism of `params`, on keys `k` (Tk×dk) or on keys prepared by
/// prepare_keys_with (the decoder-step case): the same arithmetic either way. The weights go to
/// `weights`: a Tq×Tk matrix (Eigen::Ref) or attn::Sinks (begun after every other check).
template <typename Params, typename DerivedQ, typename K, typename DerivedV, typename W>
Index attend_with(const char* fn, const Eigen::MatrixBase<DerivedQ>& q, const K& k, const Eigen::MatrixBase<DerivedV>& v,
                  const Params& params, Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output, W& weights,
                  Workspace<typename DerivedQ::Scalar>& ws, const Mask& mask, const Options& options) {
  using Scalar = typename DerivedQ::Scalar;
  constexpr bool prepared = is_prepared_keys<Params, K>;
  const Index tk = key_count<Params>(k);
  const SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  check_equal(fn, "v.rows()", v.rows(), prepared ? "keys.projected.rows()" : "k.rows()", tk);
  check_into<Scalar>(fn, q.rows(), tk, v.cols(), output, weights, mask, options);
  const auto keys = [&k] {
    if constexpr (prepared) {
      return storage_of(k.projected);
    } else {
      return storage_of(k);
    }
  }();
  check_outputs_apart<Scalar>(fn, {"q", storage_of(q)}, {prepared ? "keys.projected" : "k", keys}, {"v", storage_of(v)},
                              output, weights);
  const Scalar scale = score_scale<Scalar>(fn, options, Scalar(1));
  if constexpr (prepared) {
    static_assert(check_scalars<DerivedQ, DerivedV>());
    const Index dk = ScorerOf<Params>::check_keys(fn, k, params, q.cols());
    return ScorerOf<Params>::with(fn, params, q.cols(), dk, scale, ws, [&](const auto& scorer) {
      check_equal(fn, "keys.projected.cols()", k.projected.cols(), "the key width of params", scorer.prepared_size(dk));
      // A DotScorer's prepared keys carry the parameters' factor (Luong's g) but not the
      // options' scale: that is applied before the softmax. An AdditiveScorer folds both into v.
      const Scalar rest = std::decay_t<decltype(scorer)>::parallel_blocks ? scale : Scalar(1);
      const auto target = target_of<Scalar>(fn, weights, q.rows(), tk, mask);
      return attend_prepared<Scalar>(scorer, q, k.projected, v, output, target, ws, mask, options, std::nullopt, rest);
    });
  } else {
    static_assert(check_scalars<DerivedQ, K, DerivedV>());
    return ScorerOf<Params>::with(fn, params, q.cols(), k.cols(), scale, ws, [&](const auto& scorer) {
      const auto target = target_of<Scalar>(fn, weights, q.rows(), tk, mask);
      return attend_keys<Scalar>(scorer, q, k, v, output, target, ws, mask, options);
    });
  }
}

}  // namespace detail
}  // namespace attn
