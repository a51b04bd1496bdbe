// SPDX-License-Identifier: MIT
// Part of the attn::io exporters (include attn/io/svg.hpp, npy.hpp or csv.hpp): what a "list of
// maps" may be — any range of Eigen matrices (std::vector<Matrix>, the Maps of head_views(), a
// vector of Refs or of AlignmentHistory views) or an attn::HeadWeights (one map per head).
#pragma once

#include "../../config.hpp"
#include "../../head_weights.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <iterator>
#include <type_traits>
#include <utility>

namespace attn::io::detail {

template <typename T>
struct is_head_weights : std::false_type {};
template <typename Scalar>
struct is_head_weights<HeadWeights<Scalar>> : std::true_type {};

template <typename T>
using range_element = std::decay_t<decltype(*std::begin(std::declval<const T&>()))>;

// (An Eigen matrix is not a list of maps: its begin(), where it has one, walks coefficients.)
template <typename T, bool = std::is_base_of<Eigen::EigenBase<T>, T>::value, typename = void>
struct is_eigen_range : std::false_type {};
template <typename T>
struct is_eigen_range<T, false, std::void_t<range_element<T>>>
    : std::is_base_of<Eigen::EigenBase<range_element<T>>, range_element<T>> {};

/// True for what the exporters accept as a list of maps.
template <typename T>
inline constexpr bool is_map_list = is_eigen_range<T>::value || is_head_weights<T>::value;

template <typename T, typename = void>
struct map_list_scalar_impl {};
template <typename Scalar>
struct map_list_scalar_impl<HeadWeights<Scalar>> {
  using type = Scalar;
};
template <typename T>
struct map_list_scalar_impl<T, std::enable_if_t<is_eigen_range<T>::value>> {
  using type = typename range_element<T>::Scalar;
};
/// The scalar of the maps of a list (float or double).
template <typename T>
using map_list_scalar = typename map_list_scalar_impl<T>::type;

/// Number of maps in the list.
template <typename Maps>
std::size_t map_list_size(const Maps& maps) {
  if constexpr (is_head_weights<Maps>::value) {
    return static_cast<std::size_t>(maps.heads());
  } else {
    return static_cast<std::size_t>(std::distance(std::begin(maps), std::end(maps)));
  }
}

/// Calls `f(k, map_k)` for every map of the list, in order (map_k an Eigen expression, no copy).
template <typename Maps, typename F>
void for_each_map(const Maps& maps, F&& f) {
  static_assert(is_map_list<Maps>,
                "attn::io: a list of maps is a range of Eigen matrices (std::vector<attn::Matrix<S>>, "
                "attn::head_views(w), a std::vector of Eigen::Map, Eigen::Ref or AlignmentHistory views) "
                "or an attn::HeadWeights");
  if constexpr (is_head_weights<Maps>::value) {
    for (Index k = 0; k < maps.heads(); ++k) f(static_cast<std::size_t>(k), maps.head(k));
  } else {
    std::size_t k = 0;
    for (const auto& m : maps) f(k++, m);
  }
}

}  // namespace attn::io::detail
