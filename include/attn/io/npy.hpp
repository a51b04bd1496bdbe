// SPDX-License-Identifier: MIT
// NumPy .npy files: read and write matrices (weights Tq×Tk, parameters in×out) and N-D arrays
// (per-head stacks h×Tq×Tk). Format versions 1.0/2.0/3.0, C and Fortran order, little-endian
// float16/32/64, integer and bool data read and converted; float32/float64 written.
#pragma once

#include "../config.hpp"
#include "detail/write_file.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ios>
#include <istream>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace attn::io {

/// Thrown when a .npy file or stream is malformed, unsupported or truncated. Derived from
/// std::runtime_error; the message names the function, the path (when there is one) and
/// what was wrong, e.g. ``attn::io::read_npy: 'w.npy': unsupported descr '>f8': big-endian ...``.
class npy_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Memory order of the data in a .npy file: C (row-major, last index fastest; what np.save
/// writes for ordinary arrays) or Fortran (column-major, first index fastest).
enum class NpyOrder { c, fortran };

/// NumPy's own limit on the header length (numpy.lib.format, `max_header_size`): longer
/// headers are rejected before they are read.
inline constexpr std::size_t npy_max_header_length = 10000;
/// NumPy's limit on the number of dimensions (NPY_MAXDIMS in NumPy 1.x).
inline constexpr std::size_t npy_max_dimensions = 32;

namespace detail {

/// Product of `shape` (1 for no dimension, 0 when any dimension is 0), or -1 when a dimension
/// is negative or the product does not fit in Index.
inline Index npy_element_count(const std::vector<Index>& shape) {
  for (const Index d : shape) {
    if (d < 0) return -1;
  }
  for (const Index d : shape) {
    if (d == 0) return 0;
  }
  Index n = 1;
  for (const Index d : shape) {
    if (n > std::numeric_limits<Index>::max() / d) return -1;
    n *= d;
  }
  return n;
}

}  // namespace detail

/// What the header of a .npy file says, validated.
struct NpyHeader {
  int major_version = 1;       ///< 1, 2 or 3
  int minor_version = 0;       ///< always 0
  std::string descr;           ///< NumPy type string as written, e.g. "<f8", "|u1"
  bool fortran_order = false;  ///< data order in the file
  std::vector<Index> shape;    ///< empty for a 0-D (scalar) array
  std::size_t item_size = 0;   ///< bytes per element (from descr)
  std::size_t data_offset = 0; ///< bytes from the start of the array to its first data byte

  /// Number of elements: the product of `shape` (1 for a 0-D array).
  /// \return the element count
  Index size() const { return detail::npy_element_count(shape); }
};

/// An N-D array as read from or written to a .npy file. `data` always holds the elements in
/// C order (row-major: the last index varies fastest), whatever order the file used; so for a
/// per-head stack of shape (h, Tq, Tk) entry (k, i, j) is `data[(k*Tq + i)*Tk + j]`.
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
    ATTN_CHECK(shape.size() == 3, "attn::io::NpyArray::matrix: the array has " +
                                      std::to_string(shape.size()) + " dimensions, must have 3");
    ATTN_CHECK(static_cast<Index>(data.size()) == size(),
               "attn::io::NpyArray::matrix: data.size() (" + std::to_string(data.size()) +
                   ") must equal the product of shape (" + std::to_string(size()) + ")");
    ATTN_CHECK(k >= 0 && k < shape[0], "attn::io::NpyArray::matrix: k (" + std::to_string(k) +
                                           ") must be in [0, " + std::to_string(shape[0]) + ")");
    const Index rows = shape[1];
    const Index cols = shape[2];
    if (rows == 0 || cols == 0) return Matrix<Scalar>(rows, cols);  // no O(rows + cols) loop
    using RowMajor = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    return Eigen::Map<const RowMajor>(data.data() + k * rows * cols, rows, cols);
  }

  /// A 0-D, 1-D or 2-D array as a matrix, with read_npy()'s rule: 0-D → 1×1, 1-D of n → 1×n
  /// (a row vector, like the library's biases), 2-D (r, c) → r×c. Throws
  /// attn::invalid_argument for other dimensions or when `data` does not hold size() elements.
  /// \return 1×1, 1×n or r×c, a copy
  Matrix<Scalar> to_matrix() const {
    ATTN_CHECK(shape.size() <= 2, "attn::io::NpyArray::to_matrix: the array has " +
                                      std::to_string(shape.size()) +
                                      " dimensions, must have 0, 1 or 2");
    ATTN_CHECK(static_cast<Index>(data.size()) == size(),
               "attn::io::NpyArray::to_matrix: data.size() (" + std::to_string(data.size()) +
                   ") must equal the product of shape (" + std::to_string(size()) + ")");
    const Index rows = shape.size() == 2 ? shape[0] : 1;
    const Index cols = shape.empty() ? 1 : shape.back();
    if (rows == 0 || cols == 0) return Matrix<Scalar>(rows, cols);  // (0, 10^18) costs nothing
    using RowMajor = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    return Eigen::Map<const RowMajor>(data.data(), rows, cols);
  }
};

/// Stacks equally shaped `r×c` matrices into a 3-D array of shape (maps.size(), r, c), e.g.
/// per-head weights into h×Tq×Tk for write_npy(). Throws attn::invalid_argument when the
/// shapes differ.
/// \param maps the matrices, r×c each; none gives shape (0, 0, 0)
/// \return the array, data in C order
template <typename Scalar>
NpyArray<Scalar> npy_stack(const std::vector<Matrix<Scalar>>& maps) {
  ::attn::detail::check_scalar<Scalar>();
  NpyArray<Scalar> array;
  const Index rows = maps.empty() ? 0 : maps.front().rows();
  const Index cols = maps.empty() ? 0 : maps.front().cols();
  for (std::size_t k = 0; k < maps.size(); ++k) {
    ATTN_CHECK(maps[k].rows() == rows && maps[k].cols() == cols,
               "attn::io::npy_stack: maps[" + std::to_string(k) + "] " +
                   ::attn::detail::shape(maps[k]) + " must match maps[0] " +
                   ::attn::detail::shape(rows, cols));
  }
  array.shape = {static_cast<Index>(maps.size()), rows, cols};
  array.data.resize(maps.size() * static_cast<std::size_t>(rows * cols));
  using RowMajor = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  for (std::size_t k = 0; k < maps.size(); ++k) {
    Eigen::Map<RowMajor>(array.data.data() + static_cast<Index>(k) * rows * cols, rows, cols) = maps[k];
  }
  return array;
}

namespace detail {

enum class NpyKind { float16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64, boolean };

struct NpyType {
  NpyKind kind;
  std::size_t size;
};

/// `context` is the message prefix: "attn::io::read_npy: 'path': " or "attn::io::read_npy: ".
[[noreturn]] inline void npy_fail(const std::string& context, const std::string& what) {
  throw npy_error(context + what);
}

inline std::string npy_shape_text(const std::vector<Index>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) text += ",";
  return text + ")";
}

/// Printable form of header text for messages: at most 40 bytes, control and non-ASCII bytes
/// as \xNN.
inline std::string npy_printable(std::string_view text) {
  static const char* const hex = "0123456789abcdef";
  std::string out;
  const std::size_t shown = std::min<std::size_t>(text.size(), 40);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  if (shown < text.size()) out += "...";
  return out;
}

/// Validates a descr string; throws with a message saying why it is not supported.
inline NpyType npy_parse_descr(const std::string& descr, const std::string& context) {
  const std::string quoted = "'" + npy_printable(descr) + "'";
  if (descr.empty()) npy_fail(context, "empty descr: the header must name the data type, e.g. '<f8'");
  if (descr.size() == 3) {
    const char order = descr[0];
    const std::string code = descr.substr(1);
    struct Entry {
      const char* code;
      NpyKind kind;
      std::size_t size;
    };
    static const Entry table[] = {
        {"f2", NpyKind::float16, 2}, {"f4", NpyKind::float32, 4}, {"f8", NpyKind::float64, 8},
        {"i1", NpyKind::int8, 1},    {"i2", NpyKind::int16, 2},   {"i4", NpyKind::int32, 4},
        {"i8", NpyKind::int64, 8},   {"u1", NpyKind::uint8, 1},   {"u2", NpyKind::uint16, 2},
        {"u4", NpyKind::uint32, 4},  {"u8", NpyKind::uint64, 8},  {"b1", NpyKind::boolean, 1}};
    for (const Entry& entry : table) {
      if (code != entry.code) continue;
      if (entry.size == 1 && (order == '|' || order == '<' || order == '>')) return {entry.kind, 1};
      if (order == '<') return {entry.kind, entry.size};
      if (order == '>') {
        npy_fail(context, "unsupported descr " + quoted +
                              ": big-endian data is not supported; save it little-endian, e.g. "
                              "a.astype('<" + code + "')");
      }
      if (order == '=') {
        npy_fail(context, "unsupported descr " + quoted +
                              ": native byte order '=' is ambiguous in a file; expected '<" + code + "'");
      }
      if (order == '|') {
        npy_fail(context, "unsupported descr " + quoted + ": '|' (no byte order) is only valid for 1-byte types");
      }
    }
  }
  npy_fail(context, "unsupported descr " + quoted +
                        " (supported: little-endian '<f2', '<f4', '<f8', '<i2'..'<i8', '<u2'..'<u8', "
                        "and '|i1', '|u1', '|b1')");
}

/// Parser for the header's Python dict literal, e.g.
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }` plus padding. It accepts the
/// subset of Python literal syntax that NumPy writers produce (single or double quoted strings
/// without escapes, True/False, tuples of non-negative integers with an optional Python 2 `L`
/// suffix) and rejects anything else with a message giving the offset.
class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, const std::string& context) : text_(text), context_(context) {}

  NpyHeader parse() {
    NpyHeader header;
    bool seen_descr = false;
    bool seen_order = false;
    bool seen_shape = false;
    skip_space();
    expect('{', "the header must be a dictionary literal starting with '{'");
    skip_space();
    while (peek() != '}') {
      const std::size_t key_at = pos_;
      if (peek() != '\'' && peek() != '"') fail("expected a quoted key or '}'");
      const std::string key = parse_string();
      skip_space();
      expect(':', "expected ':' after key '" + npy_printable(key) + "'");
      skip_space();
      if (key == "descr") {
        if (seen_descr) fail_at(key_at, "duplicate key 'descr'");
        seen_descr = true;
        if (peek() == '[') fail("descr is a list: structured (record) dtypes are not supported");
        if (peek() != '\'' && peek() != '"') fail("descr must be a quoted string such as '<f8'");
        header.descr = parse_string();
      } else if (key == "fortran_order") {
        if (seen_order) fail_at(key_at, "duplicate key 'fortran_order'");
        seen_order = true;
        header.fortran_order = parse_bool();
      } else if (key == "shape") {
        if (seen_shape) fail_at(key_at, "duplicate key 'shape'");
        seen_shape = true;
        header.shape = parse_shape();
      } else {
        fail_at(key_at, "unexpected key '" + npy_printable(key) +
                            "' (a .npy header has exactly 'descr', 'fortran_order' and 'shape')");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
      } else if (peek() != '}') {
        fail("expected ',' or '}' after the value of '" + key + "'");
      }
    }
    ++pos_;  // '}'
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the closing '}'");
    if (!seen_descr) npy_fail(context_, "malformed header: missing key 'descr'");
    if (!seen_order) npy_fail(context_, "malformed header: missing key 'fortran_order'");
    if (!seen_shape) npy_fail(context_, "malformed header: missing key 'shape'");
    return header;
  }

 private:
  [[noreturn]] void fail_at(std::size_t at, const std::string& what) const {
    npy_fail(context_, "malformed header at offset " + std::to_string(at) + ": " + what);
  }
  /// Fails at the current position, quoting the next few bytes.
  [[noreturn]] void fail(const std::string& what) const {
    if (pos_ >= text_.size()) fail_at(pos_, what + ", found the end of the header");
    fail_at(pos_, what + ", found \"" + npy_printable(text_.substr(pos_, 10)) + "\"");
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool at_end() const { return pos_ >= text_.size(); }
  void expect(char c, const std::string& what) {
    if (at_end() || text_[pos_] != c) fail(what);
    ++pos_;
  }
  void skip_space() {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                         text_[pos_] == '\r' || text_[pos_] == '\f')) {
      ++pos_;
    }
  }
  std::string parse_string() {
    const char quote = text_[pos_++];
    const std::size_t start = pos_;
    while (!at_end() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') fail("escape sequences in header strings are not supported");
      if (text_[pos_] == '\n' || text_[pos_] == '\0') fail("unterminated string");
      ++pos_;
    }
    if (at_end()) fail("unterminated string");
    std::string value(text_.substr(start, pos_ - start));
    ++pos_;  // closing quote
    return value;
  }
  bool parse_bool() {
    bool value = false;
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      value = true;
    } else if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
    } else {
      fail("fortran_order must be True or False");
    }
    const char next = peek();
    if (std::isalnum(static_cast<unsigned char>(next)) || next == '_') fail("fortran_order must be True or False");
    return value;
  }
  std::vector<Index> parse_shape() {
    if (peek() != '(') fail("shape must be a tuple of integers such as (3, 4)");
    ++pos_;
    std::vector<Index> shape;
    bool comma = false;  // a 1-element tuple needs its trailing comma: (3) is the integer 3
    skip_space();
    while (peek() != ')') {
      if (shape.size() == npy_max_dimensions) {
        fail("shape has more than " + std::to_string(npy_max_dimensions) + " dimensions (NumPy's limit)");
      }
      shape.push_back(parse_dimension());
      skip_space();
      if (peek() == ',') {
        ++pos_;
        comma = true;
        skip_space();
      } else if (peek() != ')') {
        fail("expected ',' or ')' in shape");
      }
    }
    ++pos_;  // ')'
    if (shape.size() == 1 && !comma) {
      fail_at(pos_ - 1, "shape (" + std::to_string(shape[0]) +
                            ") is an integer, not a tuple (a 1-D shape is written (" +
                            std::to_string(shape[0]) + ",))");
    }
    return shape;
  }
  Index parse_dimension() {
    const std::size_t start = pos_;
    if (peek() == '-') {
      ++pos_;
      while (!at_end() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      fail_at(start, "negative dimension " + npy_printable(text_.substr(start, pos_ - start)) + " in shape");
    }
    if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("shape must hold non-negative integers");
    const auto limit = static_cast<std::uint64_t>(std::numeric_limits<Index>::max());
    std::uint64_t value = 0;
    while (!at_end() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      const auto digit = static_cast<std::uint64_t>(text_[pos_] - '0');
      if (value > (limit - digit) / 10) fail_at(start, "dimension in shape is too large");
      value = value * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 long, written by old NumPy
    return static_cast<Index>(value);
  }

  std::string_view text_;
  const std::string& context_;
  std::size_t pos_ = 0;
};

inline std::uint64_t npy_load_le(const unsigned char* p, std::size_t size) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < size; ++i) value |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return value;
}

inline void npy_store_le(unsigned char* p, std::uint64_t value, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<unsigned char>((value >> (8 * i)) & 0xffu);
}

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

/// Reads exactly `size` bytes or throws; `prefix` starts the message.
inline void npy_read_exact(std::istream& is, unsigned char* buffer, std::size_t size, const std::string& context,
                           const std::string& what) {
  is.read(reinterpret_cast<char*>(buffer), static_cast<std::streamsize>(size));
  if (static_cast<std::size_t>(is.gcount()) != size) {
    npy_fail(context, what + " (the input ends after " + std::to_string(is.gcount()) + " of " +
                          std::to_string(size) + " bytes)");
  }
}

/// Reads and validates the header; `is` is left at the first data byte.
inline NpyHeader npy_read_header(std::istream& is, const std::string& context) {
  if (!is) npy_fail(context, "the input stream is not in a good state");
  unsigned char prelude[8];
  is.read(reinterpret_cast<char*>(prelude), 8);
  const auto got = static_cast<std::size_t>(is.gcount());
  static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (got < 6 || std::memcmp(prelude, magic, 6) != 0) {
    if (got == 0) npy_fail(context, "not a NumPy .npy file: the input is empty");
    if (got >= 6 || std::memcmp(prelude, magic, got) != 0) {
      npy_fail(context, "not a NumPy .npy file: it does not start with the magic string \\x93NUMPY");
    }
    npy_fail(context, "not a NumPy .npy file: the input ends inside the magic string (" + std::to_string(got) +
                          " bytes)");
  }
  if (got < 8) npy_fail(context, "truncated .npy file: the input ends before the format version");
  NpyHeader header;
  header.major_version = prelude[6];
  header.minor_version = prelude[7];
  if (header.major_version < 1 || header.major_version > 3 || header.minor_version != 0) {
    npy_fail(context, "unsupported .npy format version " + std::to_string(header.major_version) + "." +
                          std::to_string(header.minor_version) + " (supported: 1.0, 2.0, 3.0)");
  }
  const std::size_t length_size = header.major_version == 1 ? 2 : 4;
  unsigned char length_bytes[4];
  npy_read_exact(is, length_bytes, length_size, context, "truncated .npy file: the header length is incomplete");
  const std::uint64_t length = npy_load_le(length_bytes, length_size);
  if (length > npy_max_header_length) {
    npy_fail(context, "header length (" + std::to_string(length) + " bytes) exceeds the limit of " +
                          std::to_string(npy_max_header_length) + " bytes (NumPy's own limit)");
  }
  std::string text(static_cast<std::size_t>(length), '\0');
  npy_read_exact(is, reinterpret_cast<unsigned char*>(text.data()), text.size(), context,
                 "truncated .npy file: the header is incomplete");

  NpyHeader parsed = NpyHeaderParser(text, context).parse();
  const NpyType type = npy_parse_descr(parsed.descr, context);
  parsed.major_version = header.major_version;
  parsed.minor_version = header.minor_version;
  parsed.item_size = type.size;
  parsed.data_offset = 8 + length_size + static_cast<std::size_t>(length);

  // The byte count must fit in Index (hence in size_t and std::streamsize).
  const Index count = npy_element_count(parsed.shape);
  if (count < 0 || count > std::numeric_limits<Index>::max() / static_cast<Index>(type.size)) {
    npy_fail(context, "shape " + npy_shape_text(parsed.shape) + " has too many elements: the byte count overflows");
  }
  return parsed;
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

inline std::ifstream npy_open(const std::filesystem::path& path, const char* who) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    throw std::runtime_error(std::string(who) + ": cannot open '" + path.string() +
                             "' for reading: " + system_reason(EISDIR));
  }
  errno = 0;
  std::ifstream file(path, std::ios_base::in | std::ios_base::binary);
  if (!file.is_open()) {
    const int error = errno;
    throw std::runtime_error(std::string(who) + ": cannot open '" + path.string() +
                             "' for reading: " + system_reason(error));
  }
  return file;
}

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

}  // namespace detail

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
  ::attn::detail::check_scalar<Scalar>();
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
  ::attn::detail::check_scalar<Scalar>();
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
  ::attn::detail::check_scalar<Scalar>();
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
  ::attn::detail::check_scalar<Scalar>();
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
  ::attn::detail::check_scalar<typename Derived::Scalar>();
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
  ::attn::detail::check_scalar<typename Derived::Scalar>();
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
