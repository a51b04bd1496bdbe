// SPDX-License-Identifier: MIT
// How every attn result binds as `auto [output, weights] = attn::f(...)`: the result derives from
// detail::BindOutputWeights<Result> (the get<I>() members) and ATTN_BIND_OUTPUT_WEIGHTS(Result),
// at global scope after the class, gives std::tuple_size / std::tuple_element.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

namespace attn::detail {

/// CRTP base of a result with members `output` and `weights`: the tuple-like protocol of
/// structured bindings. An lvalue result binds references to its members, a const result
/// const references, a temporary moves them out.
template <typename Result>
struct BindOutputWeights {
  template <std::size_t I>
  decltype(auto) get() & {
    return member<I>(static_cast<Result&>(*this));
  }
  template <std::size_t I>
  decltype(auto) get() const& {
    return member<I>(static_cast<const Result&>(*this));
  }
  template <std::size_t I>
  decltype(auto) get() && {
    return std::move(member<I>(static_cast<Result&>(*this)));
  }

 private:
  template <std::size_t I, typename R>
  static decltype(auto) member(R& r) {
    static_assert(I < 2, "attn results bind as [output, weights]");
    if constexpr (I == 0) return (r.output); else return (r.weights);
  }
};

/// std::tuple_element<I, Result>::type: the declared type of the member get<I>() names.
template <std::size_t I, typename Result>
struct BoundMember {
  using type = std::remove_reference_t<decltype(std::declval<Result&>().template get<I>())>;
};

}  // namespace attn::detail

/// std::tuple_size and std::tuple_element for the result template `attn::Result<Scalar>`
/// (derived from attn::detail::BindOutputWeights); use at global scope.
#define ATTN_BIND_OUTPUT_WEIGHTS(Result)                                                       \
  template <typename Scalar>                                                                   \
  struct std::tuple_size<attn::Result<Scalar>> : std::integral_constant<std::size_t, 2> {};    \
  template <std::size_t I, typename Scalar>                                                    \
  struct std::tuple_element<I, attn::Result<Scalar>> : attn::detail::BoundMember<I, attn::Result<Scalar>> {};
