// SPDX-License-Identifier: MIT
// Part of attn/io/npy.hpp (include that): reading .npy data: type conversion (float16,
// integers, bool), bounded reads of the data bytes, arrays and matrices in C order.
#pragma once

#include "../../config.hpp"
#include "npy_array.hpp"
#include "npy_header.hpp"
#include "write_file.hpp"  // open_for_reading

#include <Eigen/Core>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ios>
#include <istream>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

namespace attn::io::detail {

inline float npy_half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits = 0;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf / nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa != 0) {  // subnormal half: normalise
    std::uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  } else {
    bits = sign;
  }
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

/// double → Scalar without undefined behaviour for values outside float's range (they become ±inf).
template <typename Scalar>
Scalar npy_narrow(double value) {
  if constexpr (std::is_same<Scalar, float>::value) {
    constexpr double top = static_cast<double>(std::numeric_limits<float>::max());
    constexpr double overflow = 0x1.ffffffp127;  // FLT_MAX + half an ulp: rounds to infinity
    constexpr float inf = std::numeric_limits<float>::infinity();
    if (value >= overflow) return inf;
    if (value <= -overflow) return -inf;
    if (value > top) return std::numeric_limits<float>::max();
    if (value < -top) return -std::numeric_limits<float>::max();
    return static_cast<float>(value);
  } else {
    return static_cast<Scalar>(value);
  }
}

/// Decodes `count` little-endian elements of `type` from `bytes` into `out`, in file order.
template <typename Scalar>
void npy_decode(const unsigned char* bytes, std::size_t count, NpyType type, Scalar* out) {
  for (std::size_t i = 0; i < count; ++i, bytes += type.size) {
    const std::uint64_t raw = npy_load_le(bytes, type.size);
    switch (type.kind) {
      case NpyKind::float16:
        out[i] = static_cast<Scalar>(npy_half_to_float(static_cast<std::uint16_t>(raw)));
        break;
      case NpyKind::float32: {
        const auto bits = static_cast<std::uint32_t>(raw);
        float value;
        std::memcpy(&value, &bits, sizeof value);
        out[i] = static_cast<Scalar>(value);
        break;
      }
      case NpyKind::float64: {
        double value;
        std::memcpy(&value, &raw, sizeof value);
        out[i] = npy_narrow<Scalar>(value);
        break;
      }
      case NpyKind::int8:
        out[i] = static_cast<Scalar>(static_cast<std::int8_t>(raw));
        break;
      case NpyKind::int16:
        out[i] = static_cast<Scalar>(static_cast<std::int16_t>(raw));
        break;
      case NpyKind::int32:
        out[i] = static_cast<Scalar>(static_cast<std::int32_t>(raw));
        break;
      case NpyKind::int64:
        out[i] = static_cast<Scalar>(static_cast<std::int64_t>(raw));
        break;
      case NpyKind::boolean:
        out[i] = raw != 0 ? Scalar(1) : Scalar(0);
        break;
      default:  // unsigned 8..64 bits
        out[i] = static_cast<Scalar>(raw);
        break;
    }
  }
}

/// Bytes left in `is` after the current position, or -1 when the stream cannot tell.
inline long long npy_bytes_left(std::istream& is) {
  const std::istream::pos_type here = is.tellg();
  if (here == std::istream::pos_type(-1)) {
    is.clear();
    return -1;
  }
  is.seekg(0, std::ios_base::end);
  const std::istream::pos_type end = is.tellg();
  is.clear();
  is.seekg(here);
  if (end == std::istream::pos_type(-1) || !is) {
    is.clear();
    is.seekg(here);
    return -1;
  }
  return static_cast<long long>(end - here);
}

/// Reads the data bytes of `header`: the size is checked against what the stream holds
/// before anything large is allocated (a stream that cannot seek is read in chunks, so the
/// buffer never grows beyond the bytes really present).
inline std::vector<unsigned char> npy_read_data(std::istream& is, const NpyHeader& header, const std::string& context) {
  const auto count = static_cast<std::uint64_t>(header.size());
  const std::uint64_t need = count * header.item_size;
  const auto truncated = [&](std::uint64_t have) {
    npy_fail(context, "truncated data: shape " + npy_shape_text(header.shape) + " of '" + header.descr + "' needs " +
                          std::to_string(need) + " bytes, only " + std::to_string(have) + " follow the header");
  };
  std::vector<unsigned char> bytes;
  const long long left = npy_bytes_left(is);
  if (left >= 0) {
    if (static_cast<std::uint64_t>(left) < need) truncated(static_cast<std::uint64_t>(left));
    bytes.resize(static_cast<std::size_t>(need));
    is.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(need));
    if (static_cast<std::uint64_t>(is.gcount()) != need) truncated(static_cast<std::uint64_t>(is.gcount()));
    return bytes;
  }
  constexpr std::uint64_t chunk = std::uint64_t{1} << 20;
  std::uint64_t have = 0;
  while (have < need) {
    const std::uint64_t step = std::min(chunk, need - have);
    bytes.resize(static_cast<std::size_t>(have + step));
    is.read(reinterpret_cast<char*>(bytes.data() + have), static_cast<std::streamsize>(step));
    have += static_cast<std::uint64_t>(is.gcount());
    if (static_cast<std::uint64_t>(is.gcount()) != step) truncated(have);
  }
  return bytes;
}

inline std::string npy_read_context(const char* who, const std::filesystem::path* path) {
  return path ? std::string(who) + ": '" + path->string() + "': " : std::string(who) + ": ";
}

template <typename Scalar>
NpyArray<Scalar> npy_read_array(std::istream& is, const std::string& context) {
  const NpyHeader header = npy_read_header(is, context);
  const std::vector<unsigned char> bytes = npy_read_data(is, header, context);
  const NpyType type = npy_parse_descr(header.descr, context);
  NpyArray<Scalar> array;
  array.shape = header.shape;
  const auto count = static_cast<std::size_t>(header.size());
  array.data.resize(count);
  if (header.fortran_order && header.shape.size() > 1) {
    std::vector<Scalar> file_order(count);
    npy_decode(bytes.data(), count, type, file_order.data());
    npy_fortran_to_c(file_order.data(), array.data.data(), header.shape);
  } else {
    npy_decode(bytes.data(), count, type, array.data.data());
  }
  return array;
}

template <typename Scalar>
Matrix<Scalar> npy_read_matrix(std::istream& is, const std::string& context) {
  const NpyHeader header = npy_read_header(is, context);
  if (header.shape.size() > 2) {
    npy_fail(context, "the array has " + std::to_string(header.shape.size()) + " dimensions " +
                          npy_shape_text(header.shape) +
                          "; read_npy returns a matrix and reads 0-D, 1-D or 2-D arrays (use read_npy_array)");
  }
  const std::vector<unsigned char> bytes = npy_read_data(is, header, context);
  const NpyType type = npy_parse_descr(header.descr, context);
  const Index rows = header.shape.size() == 2 ? header.shape[0] : 1;
  const Index cols = header.shape.empty() ? 1 : header.shape.back();
  // An empty array may still claim a huge other dimension, e.g. (0, 10^18): never loop over it.
  if (rows == 0 || cols == 0) return Matrix<Scalar>(rows, cols);
  if (header.fortran_order || header.shape.size() < 2) {  // column-major already (or a single row)
    Matrix<Scalar> m(rows, cols);
    npy_decode(bytes.data(), static_cast<std::size_t>(rows * cols), type, m.data());
    return m;
  }
  Matrix<Scalar> transposed(cols, rows);
  npy_decode(bytes.data(), static_cast<std::size_t>(rows * cols), type, transposed.data());
  return transposed.transpose();
}

inline std::ifstream npy_open(const std::filesystem::path& path, const char* who) { return open_for_reading(path, who); }

}  // namespace attn::io::detail
