// SPDX-License-Identifier: MIT
// Part of attn/io/csv.hpp (include that): the reader of the wide form: CsvLabels, CsvMatrix,
// an RFC 4180 record reader, exact number parsing in the C locale and label detection.
#pragma once

#include "../../config.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <ios>
#include <istream>
#include <limits>
#include <locale>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attn::io {

/// Which labels a wide CSV holds, for read_csv(): `automatic` detects them (below); the
/// explicit values say it, which is needed when labels look like numbers ("1", "2.5").
enum class CsvLabels { automatic, none, rows, columns, both };

/// What read_csv() returns: the values and the labels (each empty when the file has none).
/// \headerfile csv.hpp <attn/io/csv.hpp>
template <typename Scalar = double>
struct CsvMatrix {
  /// The numbers, records × fields (labels excluded).
  Matrix<Scalar> values;
  /// The first field of each record, when the file has row labels; else empty.
  std::vector<std::string> row_labels;
  /// The header record (without its corner cell), when the file has one; else empty.
  std::vector<std::string> col_labels;
};

namespace detail {

/// One record in compact form: the fields' bytes back to back and where each ends (a few
/// bytes per field, not a std::string each), and the line it starts on (for messages).
struct CsvRecord {
  std::string data;
  std::vector<std::size_t> ends;
  std::size_t line = 0;
  std::size_t size() const { return ends.size(); }
  std::string_view field(std::size_t k) const {
    const std::size_t begin = k == 0 ? 0 : ends[k - 1];
    return std::string_view(data).substr(begin, ends[k] - begin);
  }
};

/// Streams RFC 4180 text record by record: fields separated by ',', records by LF or CRLF (a
/// lone CR too), quoted fields may hold ',', CR, LF and '""' (one '"'). Empty lines are
/// skipped; an unquoted UTF-8 byte order mark at the very start is dropped. Throws
/// std::runtime_error (`context` + line number) for a '"' inside an unquoted field, text after a
/// closing quote, or a quoted field left open at the end. Holds one record at a time.
class CsvReader {
 public:
  CsvReader(std::istream& is, std::string context) : is_(is), buffer_(is.rdbuf()), context_(std::move(context)) {
    if (peek() == 0xEF) {  // a BOM?
      get();
      if (peek() == 0xBB) {
        get();
        if (peek() == 0xBF) {
          get();
        } else {
          pending_ = "\xEF\xBB";
        }
      } else {
        pending_ = "\xEF";
      }
    }
  }

  /// Reads the next record into `record`; false at the end of the input.
  bool next(CsvRecord& record) {
    record.data.clear();
    record.ends.clear();
    for (;;) {  // skip empty lines
      const int c = peek();
      if (c == eof) {
        if (is_.bad()) throw std::runtime_error(context_ + "reading the input failed");
        return false;
      }
      if (c != '\n' && c != '\r') break;
      end_of_line();
    }
    record.line = line_;
    for (;;) {  // one field per pass
      if (peek() == '"') {
        const std::size_t opened = line_;
        get();
        for (;;) {
          const int c = get();
          if (c == eof) fail(opened, "a quoted field is not closed");
          if (c == '"') {
            if (peek() == '"') {
              record.data.push_back('"');
              get();
            } else {
              break;
            }
          } else {
            if (c == '\n' || (c == '\r' && peek() != '\n')) ++line_;
            record.data.push_back(static_cast<char>(c));
          }
        }
        const int after = peek();
        if (after != eof && after != ',' && after != '\n' && after != '\r') {
          fail(line_, "text after the closing quote of a field");
        }
      } else {
        for (int c = peek(); c != eof && c != ',' && c != '\n' && c != '\r'; c = peek()) {
          if (c == '"') fail(line_, "a '\"' inside an unquoted field (quote the field and double the '\"')");
          record.data.push_back(static_cast<char>(get()));
        }
      }
      record.ends.push_back(record.data.size());
      if (peek() == ',') {
        get();
        continue;
      }
      if (peek() != eof) end_of_line();
      return true;
    }
  }

  [[noreturn]] void fail(std::size_t at_line, const std::string& what) const {
    throw std::runtime_error(context_ + "line " + std::to_string(at_line) + ": " + what);
  }

 private:
  static constexpr int eof = std::char_traits<char>::eof();
  int peek() {
    if (!pending_.empty()) return static_cast<unsigned char>(pending_.front());
    if (buffer_ == nullptr) return eof;
    const auto c = buffer_->sgetc();
    if (c == std::char_traits<char>::eof()) return eof;
    return static_cast<unsigned char>(std::char_traits<char>::to_char_type(c));
  }
  int get() {
    const int c = peek();
    if (!pending_.empty()) {
      pending_.erase(0, 1);
    } else if (c != eof) {
      buffer_->sbumpc();
    }
    return c;
  }
  void end_of_line() {  // at '\n', '\r' or "\r\n"
    if (get() == '\r' && peek() == '\n') get();
    ++line_;
  }

  std::istream& is_;
  std::streambuf* buffer_;
  std::string context_;
  std::string pending_;
  std::size_t line_ = 1;
};

/// Parses a whole field as a number of type Scalar, in the C locale, exactly (strtod/strtof
/// rounding); "nan", "inf", "-inf", "infinity" in any case are accepted, as is an overflowing
/// decimal (±inf). Leading or trailing spaces make it not a number.
template <typename Scalar>
bool csv_parse_number(const std::string& field, Scalar& value) {
  if (field.empty()) return false;
  std::string lower;
  for (const char c : field) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  const bool negative = lower[0] == '-';
  const std::string body = (lower[0] == '-' || lower[0] == '+') ? lower.substr(1) : lower;
  if (body == "nan") {
    value = std::numeric_limits<Scalar>::quiet_NaN();
    return true;
  }
  if (body == "inf" || body == "infinity") {
    value = negative ? -std::numeric_limits<Scalar>::infinity() : std::numeric_limits<Scalar>::infinity();
    return true;
  }
  // The decimal grammar: [+-] digits [. digits] [e [+-] digits], at least one mantissa digit.
  std::size_t k = 0;
  std::size_t digits = 0;
  const auto is_digit = [&body](std::size_t at) { return at < body.size() && body[at] >= '0' && body[at] <= '9'; };
  for (; is_digit(k); ++k) ++digits;
  if (k < body.size() && body[k] == '.') {
    for (++k; is_digit(k); ++k) ++digits;
  }
  if (digits == 0) return false;
  if (k < body.size() && body[k] == 'e') {
    ++k;
    if (k < body.size() && (body[k] == '+' || body[k] == '-')) ++k;
    const std::size_t exponent_start = k;
    while (is_digit(k)) ++k;
    if (k == exponent_start) return false;
  }
  if (k != body.size()) return false;
  std::istringstream in(field);
  in.imbue(std::locale::classic());
  in.unsetf(std::ios_base::skipws);
  Scalar parsed = 0;
  in >> parsed;
  if (in.fail()) {  // well-formed but out of range: strtod's overflow
    value = negative ? -std::numeric_limits<Scalar>::infinity() : std::numeric_limits<Scalar>::infinity();
    return true;
  }
  value = parsed;
  return true;
}

inline bool csv_is_number(const std::string& field) {
  double ignored = 0;
  return csv_parse_number(field, ignored);
}

template <typename Scalar>
CsvMatrix<Scalar> csv_read(std::istream& is, CsvLabels labels, const std::string& context) {
  if (!is) throw std::runtime_error(context + "the input stream is not in a good state");
  CsvReader reader(is, context);
  CsvMatrix<Scalar> result;
  CsvRecord first;
  if (!reader.next(first)) return result;
  const std::size_t width = first.size();
  const bool automatic = labels == CsvLabels::automatic;
  const bool maybe_rows = automatic || labels == CsvLabels::rows || labels == CsvLabels::both;

  const auto not_a_number = [&](std::size_t line, std::size_t field, std::string_view text, bool first_record) {
    std::string shown = text.size() > 40 ? std::string(text.substr(0, 40)) + "..." : std::string(text);
    std::string hint;
    if (first_record && automatic) hint = " (if line " + std::to_string(line) + " is a header, say which labels the file has)";
    throw std::runtime_error(context + "line " + std::to_string(line) + ", field " + std::to_string(field) + ": '" +
                             shown + "' is not a number" + hint);
  };
  const auto number = [&](const CsvRecord& record, std::size_t k, Scalar& value) {
    if (!csv_parse_number(std::string(record.field(k)), value)) not_a_number(record.line, k + 1, record.field(k), &record == &first);
  };

  // The records after the first, checked and converted as they stream by: fields 2.. are
  // numbers, field 1 is kept as text and as a number while it may be a row label.
  std::vector<Scalar> rest;             // fields 2.. of each record, record after record
  std::vector<Scalar> leading;          // field 1 as a number (0 when it is not one)
  std::string label_text;               // field 1 as text, back to back
  std::vector<std::size_t> label_ends;
  bool any_label = false;
  CsvRecord record;
  std::size_t count = 0;
  while (reader.next(record)) {
    if (record.size() != width) {
      reader.fail(record.line, std::to_string(record.size()) + " fields, expected " + std::to_string(width) +
                                   " (as on line " + std::to_string(first.line) + ")");
    }
    ++count;
    if (width == 0) continue;
    if (maybe_rows) {
      label_text += record.field(0);
      label_ends.push_back(label_text.size());
      Scalar value = 0;
      const bool is_number = csv_parse_number(std::string(record.field(0)), value);
      if (!is_number && automatic) any_label = true;
      leading.push_back(is_number ? value : Scalar(0));
    } else {
      Scalar value = 0;
      number(record, 0, value);
      leading.push_back(value);
    }
    for (std::size_t k = 1; k < width; ++k) {
      Scalar value = 0;
      number(record, k, value);
      rest.push_back(value);
    }
  }

  // Labels: what the caller says, or detected. A header needs data records after it when it
  // starts with write_csv's empty corner, and otherwise has no number among its value fields:
  // a first record mixing numbers and text is a malformed data record, not a header.
  const bool corner = width >= 2 && first.field(0).empty() && count > 0;
  bool has_rows = labels == CsvLabels::rows || labels == CsvLabels::both || (automatic && (corner || any_label));
  bool has_cols = labels == CsvLabels::columns || labels == CsvLabels::both;
  if (automatic) {
    // (A lone record of empty fields is no header either: such labels would say nothing.)
    bool all_text = width > (has_rows ? 1u : 0u);
    bool any_text = false;
    for (std::size_t k = has_rows ? 1 : 0; k < width && all_text; ++k) {
      all_text = !csv_is_number(std::string(first.field(k)));
      any_text = any_text || !first.field(k).empty();
    }
    has_cols = corner || (all_text && (any_text || count > 0));
  }
  if (has_rows && width == 1) has_cols = false;  // no value column, so no header (as write_csv)
  const std::size_t skip = has_rows ? 1 : 0;
  const auto cols = static_cast<Index>(width - skip);
  const auto rows = static_cast<Index>(count + (has_cols ? 0 : 1));
  if (has_cols) {
    for (std::size_t k = skip; k < width; ++k) result.col_labels.emplace_back(first.field(k));
  }
  result.values.resize(rows, cols);
  Index i = 0;
  if (!has_cols) {  // the first record is data
    if (has_rows) result.row_labels.emplace_back(first.field(0));
    for (std::size_t k = skip; k < width; ++k) number(first, k, result.values(0, static_cast<Index>(k - skip)));
    i = 1;
  }
  for (std::size_t r = 0; r < count; ++r, ++i) {
    if (has_rows) {
      const std::size_t begin = r == 0 ? 0 : label_ends[r - 1];
      result.row_labels.push_back(label_text.substr(begin, label_ends[r] - begin));
    } else if (width > 0) {
      result.values(i, 0) = leading[r];  // every field 1 was a number, or has_rows would be set
    }
    for (Index j = has_rows ? 0 : 1; j < cols; ++j) {
      result.values(i, j) = rest[r * (width - 1) + static_cast<std::size_t>(has_rows ? j : j - 1)];
    }
  }
  return result;
}

}  // namespace detail
}  // namespace attn::io
