// SPDX-License-Identifier: MIT
// NumPy .npy files: read and write matrices (weights Tq×Tk, parameters in×out) and N-D arrays
// (per-head stacks h×Tq×Tk). Format versions 1.0/2.0/3.0, C and Fortran order, little-endian
// float16/32/64, integer and bool data read and converted; float32/float64 written.
#pragma once

#include "../config.hpp"
#include "detail/npy_array.hpp"
#include "detail/npy_header.hpp"
#include "detail/npy_read.hpp"
#include "detail/npy_write.hpp"
#include "detail/write_file.hpp"

#include <Eigen/Core>

#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <stdexcept>

namespace attn::io {

/// Reads and validates the header of the .npy array at the current position of `is`, leaving
/// `is` at its first data byte. Throws attn::io::npy_error (a std::runtime_error) for a bad
/// magic string or version, a header longer than npy_max_header_length, a malformed header
/// (duplicate, missing or unexpected keys, bad fortran_order, a shape that is not a tuple of
/// non-negative integers or whose byte count overflows) and unsupported descr values
/// (big-endian, structured, complex, strings, ...).
/// \param is the stream, at the start of an array
/// \return the validated header
inline NpyHeader read_npy_header(std::istream& is) {
  return detail::npy_read_header(is, detail::npy_read_context("attn::io::read_npy_header", nullptr));
}

/// Reads one .npy array of any dimension from `is` into C order (see NpyArray), converting
/// the file's type to `Scalar` (float16/32/64, little-endian integers and bool; int64 values
/// beyond 2^53 round). The stream is left after the array, so arrays written one after the
/// other can be read in turn. The data size is checked against the bytes the stream holds
/// before anything is allocated. Throws attn::io::npy_error (a std::runtime_error) naming
/// what is wrong; see read_npy_header() for the header checks, plus truncated data.
/// \tparam Scalar float or double (default double)
/// \param is the stream, at the start of an array
/// \return shape and data (C order)
template <typename Scalar = double>
NpyArray<Scalar> read_npy_array(std::istream& is) {
  static_assert(::attn::detail::check_scalar<Scalar>());
  return detail::npy_read_array<Scalar>(is, detail::npy_read_context("attn::io::read_npy_array", nullptr));
}

/// Reads the .npy file at `path` as read_npy_array(std::istream&) does. Throws
/// std::runtime_error naming the path and the system's reason when it cannot be opened, and
/// attn::io::npy_error naming the path when its content is bad. Bytes after the array are
/// ignored (as NumPy does).
/// \tparam Scalar float or double (default double)
/// \param path the file to read
/// \return shape and data (C order)
template <typename Scalar = double>
NpyArray<Scalar> read_npy_array(const std::filesystem::path& path) {
  static_assert(::attn::detail::check_scalar<Scalar>());
  std::ifstream file = detail::npy_open(path, "attn::io::read_npy_array");
  return detail::npy_read_array<Scalar>(file, detail::npy_read_context("attn::io::read_npy_array", &path));
}

/// Reads a 0-D, 1-D or 2-D .npy array from `is` as a matrix: 0-D → 1×1, 1-D of n → `1×n` (a
/// row vector, as the library's biases are), 2-D (r, c) → `r×c`, whatever the file's order.
/// Types convert as in read_npy_array(). Arrays with more dimensions are rejected with
/// attn::io::npy_error before their data is read (use read_npy_array for those).
/// \tparam Scalar float or double (default double)
/// \param is the stream, at the start of an array; left after it
/// \return 1×1, 1×n or r×c
template <typename Scalar = double>
Matrix<Scalar> read_npy(std::istream& is) {
  static_assert(::attn::detail::check_scalar<Scalar>());
  return detail::npy_read_matrix<Scalar>(is, detail::npy_read_context("attn::io::read_npy", nullptr));
}

/// Reads the .npy file at `path` as a matrix, as read_npy(std::istream&) does. Throws
/// std::runtime_error naming the path and the system's reason when it cannot be opened, and
/// attn::io::npy_error naming the path when its content is bad.
/// \tparam Scalar float or double (default double)
/// \param path the file to read
/// \return 1×1, 1×n or r×c
template <typename Scalar = double>
Matrix<Scalar> read_npy(const std::filesystem::path& path) {
  static_assert(::attn::detail::check_scalar<Scalar>());
  std::ifstream file = detail::npy_open(path, "attn::io::read_npy");
  return detail::npy_read_matrix<Scalar>(file, detail::npy_read_context("attn::io::read_npy", &path));
}

/// Writes `m` (any float/double Eigen expression, `r×c`) to `os` as a 2-D .npy array of shape
/// (r, c): '<f4' for float, '<f8' for double, format 1.0, the header padded so that the data
/// starts on a 64-byte boundary, byte for byte what NumPy 1.24's np.save writes. `order`
/// chooses the data order in the file (C by default, like np.save). Throws
/// std::runtime_error when the stream is not good before the call or fails during it.
/// \param os the stream, written unformatted
/// \param m the matrix, r×c, float or double
/// \param order data order in the file (default C)
template <typename Derived>
void write_npy(std::ostream& os, const Eigen::DenseBase<Derived>& m, NpyOrder order = NpyOrder::c) {
  static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
  if (!os) throw std::runtime_error("attn::io::write_npy: the output stream is not in a good state");
  detail::npy_write_matrix(os, m, order);
  if (!os) throw std::runtime_error("attn::io::write_npy: writing to the output stream failed");
}

/// Writes `m` as a .npy file at `path`, replacing it atomically (temporary file in the same
/// directory, flushed, checked, renamed); a failed write leaves neither a half-written `path`
/// nor the temporary file. Throws std::runtime_error naming the path and the system's reason.
/// \param path the file to write
/// \param m the matrix, r×c, float or double
/// \param order data order in the file (default C)
template <typename Derived>
void write_npy(const std::filesystem::path& path, const Eigen::DenseBase<Derived>& m, NpyOrder order = NpyOrder::c) {
  static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
  detail::write_file_atomically(path, "attn::io::write_npy",
                                [&](std::ostream& os) { detail::npy_write_matrix(os, m, order); });
}

/// Writes an N-D array (shape as given, data in C order; e.g. from npy_stack()) to `os`.
/// Throws attn::invalid_argument when a dimension is negative, there are more than 32, or
/// `array.data.size()` is not the product of `array.shape`; std::runtime_error on stream failure.
/// \param os the stream, written unformatted
/// \param array shape and data (C order)
/// \param order data order in the file (default C)
template <typename Scalar>
void write_npy(std::ostream& os, const NpyArray<Scalar>& array, NpyOrder order = NpyOrder::c) {
  detail::npy_check_array(array, "attn::io::write_npy");
  if (!os) throw std::runtime_error("attn::io::write_npy: the output stream is not in a good state");
  detail::npy_write_array(os, array, order);
  if (!os) throw std::runtime_error("attn::io::write_npy: writing to the output stream failed");
}

/// Writes an N-D array as a .npy file at `path`, atomically (see the matrix overload).
/// \param path the file to write
/// \param array shape and data (C order)
/// \param order data order in the file (default C)
/// \throws attn::invalid_argument as the stream overload does (before the file is touched),
///         std::runtime_error naming the path and the system's reason on I/O failure
template <typename Scalar>
void write_npy(const std::filesystem::path& path, const NpyArray<Scalar>& array, NpyOrder order = NpyOrder::c) {
  detail::npy_check_array(array, "attn::io::write_npy");
  detail::write_file_atomically(path, "attn::io::write_npy",
                                [&](std::ostream& os) { detail::npy_write_array(os, array, order); });
}

}  // namespace attn::io
