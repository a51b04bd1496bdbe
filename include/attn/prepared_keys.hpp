// SPDX-License-Identifier: MIT
// prepare_keys: the key side of a mechanism's scores, computed once per memory and reused by
// every query (the decoder-step case), for the mechanisms with parameters (Bahdanau, Luong).
#pragma once

#include "config.hpp"
#include "detail/forms.hpp"
#include "detail/scorers.hpp"

#include <type_traits>

namespace attn {

/// Projects the memory's keys once for the mechanism of `params`: attn::BahdanauKeys `K·Wk`
/// (`+ b` when normalized) for attn::BahdanauParams; attn::LuongKeys `g·K` (dot), `g·K·Wᵀ`
/// (general) or `K·W[dq:]` (concat) for attn::LuongParams. Pass them in place of the keys to
/// bahdanau(), bahdanau_into(), luong() or luong_into() with the same `params`: same arithmetic as
/// passing `k`.
/// \param params the mechanism's parameters (attn::BahdanauParams or attn::LuongParams)
/// \param k keys, Tk×dk
/// \return the prepared keys (Tk×units, or Tk×dk / Tk×dq for Luong dot / general) and what they
///         were prepared for
/// \throws attn::invalid_argument when `params` does not fit dk
template <typename Params, typename DerivedK>
typename detail::ScorerOf<Params>::Keys prepare_keys(const Params& params, const Eigen::MatrixBase<DerivedK>& k) {
  static_assert(std::is_same<typename detail::ScorerOf<Params>::Scalar, typename DerivedK::Scalar>::value,
                "attn::prepare_keys: params and k must share one scalar type; use .cast<T>()");
  return detail::prepare_keys_with("attn::prepare_keys", params, k);
}

}  // namespace attn
