// SPDX-License-Identifier: MIT
// Part of attn/io/npy.hpp (include that): the .npy vocabulary (npy_error, NpyOrder, NpyHeader,
// the limits) and the header: descr validation, the dict parser, reading and validating it.
#pragma once

#include "../../config.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <istream>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace attn::io {

/// Thrown when a .npy file or stream is malformed, unsupported or truncated. Derived from
/// std::runtime_error; the message names the function, the path (when there is one) and
/// what was wrong, e.g. ``attn::io::read_npy: 'w.npy': unsupported descr '>f8': big-endian ...``.
/// \headerfile npy.hpp <attn/io/npy.hpp>
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
/// \headerfile npy.hpp <attn/io/npy.hpp>
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
  // '|O': np.save of a list of arrays (or of arrays of different shapes) pickles Python objects.
  const std::string objects =
      descr == "|O" ? "; an object array (np.save of a Python list of arrays, such as layer.get_weights()?): save "
                      "each array with its own np.save, or all of them with np.savez(path, **{name: array}) for "
                      "attn::io::read_npz; arrays of one shape can be stacked, np.save(path, np.stack(arrays))"
                    : "";
  npy_fail(context, "unsupported descr " + quoted +
                        " (supported: little-endian '<f2', '<f4', '<f8', '<i2'..'<i8', '<u2'..'<u8', "
                        "and '|i1', '|u1', '|b1')" + objects);
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
      // Files people pass for a .npy: a Keras model or weights file, an .npz archive.
      std::string kind;
      if (got >= 4 && std::memcmp(prelude, "\x89HDF", 4) == 0) {
        kind = "; it is an HDF5 file (Keras' .h5 / .hdf5 model or weights): attn reads no HDF5; in Python, "
               "load the model and np.save each array of layer.get_weights() (docs/05-keras-and-pytorch.md)";
      } else if (got >= 4 && std::memcmp(prelude, "PK\x03\x04", 4) == 0) {
        kind = "; it is a zip archive (np.savez's .npz?): read its arrays with attn::io::read_npz(path, name)";
      }
      npy_fail(context, "not a NumPy .npy file: it does not start with the magic string \\x93NUMPY" + kind);
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

}  // namespace detail
}  // namespace attn::io
