// SPDX-License-Identifier: MIT
// Part of attn/io/npy.hpp (include that): writing .npy files as NumPy 1.24's np.save does:
// the padded header, little-endian float32/float64 data in C or Fortran order.
#pragma once

#include "../../config.hpp"
#include "npy_array.hpp"
#include "npy_header.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

namespace attn::io::detail {

/// The header text as NumPy 1.24 writes it (sorted keys, a spare-space tail for the growth
/// axis), padded with spaces and '\n' so that the data starts on a 64-byte boundary.
inline std::string npy_header_bytes(const char* descr, bool fortran_order, const std::vector<Index>& shape) {
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': " +
                     (fortran_order ? "True" : "False") + ", 'shape': " + npy_shape_text(shape) + ", }";
  if (!shape.empty()) {
    const std::string growth = std::to_string(fortran_order ? shape.back() : shape.front());
    if (growth.size() < 21) dict.append(21 - growth.size(), ' ');
  }
  const std::size_t text_length = dict.size() + 1;  // + '\n'
  int major = 1;
  std::size_t length_size = 2;
  std::size_t pad = 64 - (8 + 2 + text_length) % 64;
  if (text_length + pad > 65535) {
    major = 2;
    length_size = 4;
    pad = 64 - (8 + 4 + text_length) % 64;
  }
  const std::size_t length = text_length + pad;
  std::string bytes = "\x93NUMPY";
  bytes.push_back(static_cast<char>(major));
  bytes.push_back('\0');
  unsigned char length_bytes[4];
  npy_store_le(length_bytes, length, length_size);
  bytes.append(reinterpret_cast<const char*>(length_bytes), length_size);
  bytes += dict;
  bytes.append(pad, ' ');
  bytes.push_back('\n');
  return bytes;
}

/// Writes the elements `value(0) .. value(count-1)` (in file order) little-endian.
template <typename Scalar, typename Get>
void npy_write_data(std::ostream& os, Index count, Get&& value) {
  constexpr std::size_t size = sizeof(Scalar);
  using Bits = std::conditional_t<size == 4, std::uint32_t, std::uint64_t>;
  unsigned char buffer[8192];
  std::size_t used = 0;
  for (Index i = 0; i < count && os; ++i) {
    const Scalar v = value(i);
    Bits bits;
    std::memcpy(&bits, &v, size);
    npy_store_le(buffer + used, bits, size);
    used += size;
    if (used == sizeof buffer) {
      os.write(reinterpret_cast<const char*>(buffer), static_cast<std::streamsize>(used));
      used = 0;
    }
  }
  if (used > 0 && os) os.write(reinterpret_cast<const char*>(buffer), static_cast<std::streamsize>(used));
}

template <typename Scalar>
constexpr const char* npy_descr_of() {
  return std::is_same<Scalar, float>::value ? "<f4" : "<f8";
}

template <typename Derived>
void npy_write_matrix(std::ostream& os, const Eigen::DenseBase<Derived>& m, NpyOrder order) {
  using Scalar = typename Derived::Scalar;
  const auto& values = m.eval();
  const Index rows = values.rows();
  const Index cols = values.cols();
  const bool fortran = order == NpyOrder::fortran;
  const std::string header = npy_header_bytes(npy_descr_of<Scalar>(), fortran, {rows, cols});
  os.write(header.data(), static_cast<std::streamsize>(header.size()));
  if (fortran) {
    npy_write_data<Scalar>(os, rows * cols, [&](Index k) { return values(k % rows, k / rows); });
  } else {
    npy_write_data<Scalar>(os, rows * cols, [&](Index k) { return values(k / cols, k % cols); });
  }
}

template <typename Scalar>
void npy_check_array(const NpyArray<Scalar>& array, const char* who) {
  ATTN_CHECK(array.shape.size() <= npy_max_dimensions,
             std::string(who) + ": array.shape has " + std::to_string(array.shape.size()) +
                 " dimensions, at most " + std::to_string(npy_max_dimensions) + " are allowed");
  for (std::size_t k = 0; k < array.shape.size(); ++k) {
    ATTN_CHECK(array.shape[k] >= 0, std::string(who) + ": array.shape[" + std::to_string(k) + "] (" +
                                        std::to_string(array.shape[k]) + ") must be >= 0");
  }
  const Index count = npy_element_count(array.shape);
  ATTN_CHECK(count >= 0 && static_cast<std::size_t>(count) == array.data.size(),
             std::string(who) + ": array.data.size() (" + std::to_string(array.data.size()) +
                 ") must equal the product of array.shape " + npy_shape_text(array.shape));
}

template <typename Scalar>
void npy_write_array(std::ostream& os, const NpyArray<Scalar>& array, NpyOrder order) {
  const bool fortran = order == NpyOrder::fortran && array.shape.size() > 1;
  const std::string header = npy_header_bytes(npy_descr_of<Scalar>(), order == NpyOrder::fortran, array.shape);
  os.write(header.data(), static_cast<std::streamsize>(header.size()));
  const auto count = static_cast<Index>(array.data.size());
  if (!fortran) {
    npy_write_data<Scalar>(os, count, [&](Index k) { return array.data[static_cast<std::size_t>(k)]; });
    return;
  }
  std::vector<Scalar> file_order(array.data.size());
  // Fortran order of shape s is C order of the reversed shape with reversed indices.
  std::vector<Index> reversed(array.shape.rbegin(), array.shape.rend());
  // C data of shape s, read as Fortran data of reversed shape, is its transpose: converting
  // that "Fortran" buffer to C order of the reversed shape gives s in Fortran order.
  npy_fortran_to_c(array.data.data(), file_order.data(), reversed);
  npy_write_data<Scalar>(os, count, [&](Index k) { return file_order[static_cast<std::size_t>(k)]; });
}

}  // namespace attn::io::detail
