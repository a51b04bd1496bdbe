// SPDX-License-Identifier: MIT
// Part of attn/io/npy.hpp (include that): NpyArray, an N-D array in C order (per-head stacks
// h×Tq×Tk), npy_stack(), and the conversion from Fortran to C order.
#pragma once

#include "../../config.hpp"
#include "map_source.hpp"
#include "npy_header.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

namespace attn::io {
namespace detail {

/// Throws attn::invalid_argument unless an array's data hold the elements its shape says:
/// "fn: data_name.size() (n) must equal the product of shape_name (m)".
inline void npy_check_data(const char* fn, const std::string& data_name, std::size_t data_size, Index size,
                           const char* shape_name) {
  ATTN_CHECK(static_cast<Index>(data_size) == size, std::string(fn) + ": " + data_name + ".size() (" +
                                                        std::to_string(data_size) + ") must equal the product of " +
                                                        shape_name + " (" + std::to_string(size) + ")");
}

/// The `rows×cols` matrix whose elements are row-major in C-order `data` from element `first`,
/// as a column-major copy (empty without touching `data`: a (0, 10^18) array costs nothing).
template <typename Scalar>
Matrix<Scalar> npy_block(const std::vector<Scalar>& data, Index first, Index rows, Index cols) {
  if (rows == 0 || cols == 0) return Matrix<Scalar>(rows, cols);
  using RowMajor = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  return Eigen::Map<const RowMajor>(data.data() + first, rows, cols);
}

}  // namespace detail

/// An N-D array as read from or written to a .npy file. `data` always holds the elements in
/// C order (row-major: the last index varies fastest), whatever order the file used; so for a
/// per-head stack of shape (h, Tq, Tk) entry (k, i, j) is `data[(k*Tq + i)*Tk + j]`.
/// \headerfile npy.hpp <attn/io/npy.hpp>
template <typename Scalar = double>
struct NpyArray {
  static_assert(std::is_floating_point<Scalar>::value,
                "attn::io::NpyArray: Scalar must be float or double");
  std::vector<Index> shape;  ///< NumPy shape; empty for a 0-D array
  std::vector<Scalar> data;  ///< size() elements in C order

  /// Number of dimensions.
  /// \return `shape.size()`
  Index ndim() const { return static_cast<Index>(shape.size()); }
  /// Number of elements: the product of `shape` (1 for a 0-D array; -1 when a dimension is
  /// negative or the product overflows Index).
  /// \return the element count, or -1
  Index size() const { return detail::npy_element_count(shape); }

  /// The `k`-th matrix of a 3-D stack of shape (n, rows, cols), as a `rows×cols` matrix
  /// (head `k` of per-head weights h×Tq×Tk). Throws attn::invalid_argument when the array is
  /// not 3-D, `k` is out of range or `data` does not hold size() elements.
  /// \param k index along the first dimension, in `[0, shape[0])`
  /// \return rows×cols, a copy
  Matrix<Scalar> matrix(Index k) const {
    ATTN_CHECK(shape.size() == 3, "attn::io::NpyArray::matrix: the array has " + std::to_string(shape.size()) +
                                      " dimensions, must have 3" +
                                      (shape.size() > 3 ? std::string("; matrix({i, j, ...}) picks a matrix of "
                                                                      "more, as NumPy's w[i, j]")
                                                        : std::string()));
    detail::npy_check_data("attn::io::NpyArray::matrix", "data", data.size(), size(), "shape");
    ATTN_CHECK(k >= 0 && k < shape[0], "attn::io::NpyArray::matrix: k (" + std::to_string(k) +
                                           ") must be in [0, " + std::to_string(shape[0]) + ")");
    return detail::npy_block(data, k * shape[1] * shape[2], shape[1], shape[2]);
  }

  /// The matrix at `index` of an array of two or more dimensions, as NumPy's `w[i, j]`: `index`
  /// picks along every axis but the last two, so `{b, h}` of PyTorch's per-head weights of a
  /// batch (B, h, Tq, Tk) (`need_weights=True, average_attn_weights=False`) is head h of item b,
  /// `{l, b, h}` of a `torch.stack` of Hugging Face's attentions (L, B, h, Tq, Tk) the same in
  /// layer l, `{k}` of a 3-D stack is matrix(k) and an empty index (a `std::vector<Index>()`;
  /// `matrix({})` is matrix(0)) of a 2-D array is to_matrix(). Unlike
  /// NumPy, a negative index is refused. Throws attn::invalid_argument when `index` does not
  /// have two entries fewer than the array has dimensions, an entry is out of range or `data`
  /// does not hold size() elements.
  /// \param index one index per leading axis, each in `[0, shape[axis])`
  /// \return rows×cols (the last two dimensions), a copy
  Matrix<Scalar> matrix(const std::vector<Index>& index) const {
    constexpr const char* fn = "attn::io::NpyArray::matrix";
    ATTN_CHECK(shape.size() >= 2, std::string(fn) + ": the array has " + std::to_string(shape.size()) +
                                      " dimensions, must have 2 or more to hold a matrix");
    ATTN_CHECK(index.size() + 2 == shape.size(),
               std::string(fn) + ": the array has " + std::to_string(shape.size()) + " dimensions, so index " +
                   "needs " + std::to_string(shape.size() - 2) + " entries (one per axis but the last two), not " +
                   std::to_string(index.size()));
    detail::npy_check_data(fn, "data", data.size(), size(), "shape");
    Index first = 0;  // the picked matrix's first element, in C order (no overflow: size() fits)
    for (std::size_t axis = 0; axis < index.size(); ++axis) {
      ATTN_CHECK(index[axis] >= 0 && index[axis] < shape[axis],
                 std::string(fn) + ": index[" + std::to_string(axis) + "] (" + std::to_string(index[axis]) +
                     ") must be in [0, " + std::to_string(shape[axis]) + ")");
      first = first * shape[axis] + index[axis];
    }
    const Index rows = shape[shape.size() - 2];
    const Index cols = shape.back();
    return detail::npy_block(data, first * rows * cols, rows, cols);
  }

  /// A 0-D, 1-D or 2-D array as a matrix, with read_npy()'s rule: 0-D → 1×1, 1-D of n → 1×n
  /// (a row vector, like the library's biases), 2-D (r, c) → r×c. Throws
  /// attn::invalid_argument for other dimensions or when `data` does not hold size() elements.
  /// \return 1×1, 1×n or r×c, a copy
  Matrix<Scalar> to_matrix() const {
    ATTN_CHECK(shape.size() <= 2, "attn::io::NpyArray::to_matrix: the array has " +
                                      std::to_string(shape.size()) +
                                      " dimensions, must have 0, 1 or 2");
    detail::npy_check_data("attn::io::NpyArray::to_matrix", "data", data.size(), size(), "shape");
    return detail::npy_block(data, 0, shape.size() == 2 ? shape[0] : 1, shape.empty() ? 1 : shape.back());
  }
};

/// Stacks equally shaped `r×c` maps into a 3-D array of shape (number of maps, r, c), e.g.
/// per-head weights into h×Tq×Tk for write_npy(). The maps are any list: a range of Eigen
/// matrices (`std::vector<attn::Matrix<S>>`, `attn::head_views(w)`, Maps, Refs, AlignmentHistory
/// views) or an attn::HeadWeights. Throws attn::invalid_argument when the shapes differ.
/// \param maps the matrices (float or double), r×c each; none gives shape (0, 0, 0)
/// \return the array, data in C order, of the maps' scalar
template <typename Maps, typename = std::enable_if_t<detail::is_map_list<Maps>>>
NpyArray<detail::map_list_scalar<Maps>> npy_stack(const Maps& maps) {
  using Scalar = detail::map_list_scalar<Maps>;
  static_assert(::attn::detail::check_scalar<Scalar>());
  NpyArray<Scalar> array;
  const std::size_t count = detail::map_list_size(maps);
  Index rows = 0;
  Index cols = 0;
  detail::for_each_map(maps, [&](std::size_t k, const auto& m) {
    if (k == 0) {
      rows = m.rows();
      cols = m.cols();
    }
    ATTN_CHECK(m.rows() == rows && m.cols() == cols,
               "attn::io::npy_stack: maps[" + std::to_string(k) + "] " + ::attn::detail::shape(m.rows(), m.cols()) +
                   " must match maps[0] " + ::attn::detail::shape(rows, cols));
  });
  array.shape = {static_cast<Index>(count), rows, cols};
  array.data.resize(count * static_cast<std::size_t>(rows * cols));
  using RowMajor = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  detail::for_each_map(maps, [&](std::size_t k, const auto& m) {
    Eigen::Map<RowMajor>(array.data.data() + static_cast<Index>(k) * rows * cols, rows, cols) = m;
  });
  return array;
}

/// Stacks equally shaped arrays along a new first axis, as NumPy's `np.stack`: the per-head
/// stacks (h, Tq, Tk) of a batch's items (npy_stack() of each item's weights) into (B, h, Tq, Tk),
/// the shape PyTorch gives per-head weights of a batch; what matrix({b, h}) reads back. As
/// `np.stack`, an empty list is refused. Throws attn::invalid_argument when `arrays` is empty, the
/// shapes differ, an array's `data` does not hold its size() elements or the result would have
/// more than npy_max_dimensions (32).
/// \param arrays the arrays, all of one shape
/// \return shape (arrays.size(), shape of each...), data in C order
template <typename Scalar>
NpyArray<Scalar> npy_stack(const std::vector<NpyArray<Scalar>>& arrays) {
  constexpr const char* fn = "attn::io::npy_stack";
  ATTN_CHECK(!arrays.empty(), std::string(fn) + ": no arrays to stack (np.stack needs at least one too)");
  const std::vector<Index>& shape = arrays.front().shape;
  ATTN_CHECK(shape.size() < npy_max_dimensions, std::string(fn) + ": arrays[0] has " +
                                                   std::to_string(shape.size()) + " dimensions, the stack would "
                                                   "have more than " + std::to_string(npy_max_dimensions));
  for (std::size_t k = 0; k < arrays.size(); ++k) {
    ATTN_CHECK(arrays[k].shape == shape, std::string(fn) + ": arrays[" + std::to_string(k) + "] has shape " +
                                             detail::npy_shape_text(arrays[k].shape) + ", arrays[0] " +
                                             detail::npy_shape_text(shape));
    detail::npy_check_data(fn, "arrays[" + std::to_string(k) + "].data", arrays[k].data.size(), arrays[k].size(),
                           "its shape");
  }
  NpyArray<Scalar> stack;
  stack.shape.reserve(shape.size() + 1);
  stack.shape.push_back(static_cast<Index>(arrays.size()));
  stack.shape.insert(stack.shape.end(), shape.begin(), shape.end());
  stack.data.reserve(arrays.size() * arrays.front().data.size());  // each array holds its size()
  for (const NpyArray<Scalar>& a : arrays) stack.data.insert(stack.data.end(), a.data.begin(), a.data.end());
  return stack;
}

namespace detail {

/// Converts `count` elements stored with the first index fastest (Fortran) into C order.
template <typename Scalar>
void npy_fortran_to_c(const Scalar* from, Scalar* to, const std::vector<Index>& shape) {
  const std::size_t n = shape.size();
  const Index count = npy_element_count(shape);  // 0 for (0, 2^32, 2^32): no stride is formed
  if (count <= 0) return;
  std::vector<Index> c_stride(n, 1), index(n, 0);
  for (std::size_t k = n; k-- > 1;) c_stride[k - 1] = c_stride[k] * shape[k];
  Index target = 0;
  for (Index f = 0; f < count; ++f) {
    to[target] = from[f];
    for (std::size_t k = 0; k < n; ++k) {  // increment the multi-index, first index fastest
      target += c_stride[k];
      if (++index[k] < shape[k]) break;
      target -= c_stride[k] * shape[k];
      index[k] = 0;
    }
  }
}

}  // namespace detail
}  // namespace attn::io
