// SPDX-License-Identifier: MIT
// CSV export of a matrix (attention weights are Tq×Tk: one record per query row) with optional
// row/column token labels, RFC 4180 quoting, '\n' line ends and numbers that round-trip exactly;
// the long (tidy) form for many maps (layer, head, step, query, key, weight); and read_csv(),
// which reads the wide form back with its labels, losslessly.
#pragma once

#include "../config.hpp"
#include "detail/write_file.hpp"

#include <Eigen/Core>

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <ios>
#include <istream>
#include <iterator>
#include <limits>
#include <locale>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace attn::io {

/// One CSV field, quoted per RFC 4180 when needed: a field that contains a comma, a double
/// quote, CR or LF, or that starts or ends with a space or a tab, is wrapped in double quotes
/// with each inner double quote doubled; any other field (the empty one included) comes back
/// unchanged. Bytes are copied as they are, so UTF-8 passes through untouched.
/// \param text the field's text
/// \return the field as it goes between commas
inline std::string csv_field(std::string_view text) {
  // A leading U+FEFF is quoted, so a reader never takes it for a byte order mark.
  bool quote = !text.empty() && (text.front() == ' ' || text.front() == '\t' || text.back() == ' ' ||
                                 text.back() == '\t' || text.compare(0, 3, "\xEF\xBB\xBF") == 0);
  for (const char c : text) {
    if (c == ',' || c == '"' || c == '\r' || c == '\n') {
      quote = true;
      break;
    }
  }
  if (!quote) return std::string(text);
  std::string quoted;
  quoted.reserve(text.size() + 2);
  quoted.push_back('"');
  for (const char c : text) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

namespace detail {

inline void csv_check_labels(Index rows, Index cols, const std::vector<std::string>& row_labels,
                             const std::vector<std::string>& col_labels) {
  ATTN_CHECK(row_labels.empty() || static_cast<Index>(row_labels.size()) == rows,
             "attn::io::write_csv: row_labels.size() (" + std::to_string(row_labels.size()) +
                 ") must equal m.rows() (" + std::to_string(rows) + ")");
  ATTN_CHECK(col_labels.empty() || static_cast<Index>(col_labels.size()) == cols,
             "attn::io::write_csv: col_labels.size() (" + std::to_string(col_labels.size()) +
                 ") must equal m.cols() (" + std::to_string(cols) + ")");
}

/// Appends a label field; `lone` marks a record made of this one field, where an empty label
/// is written `""` so that the record is not mistaken for a blank line (as Python's csv does).
inline void csv_append_label(std::string& line, const std::string& label, bool lone) {
  if (lone && label.empty()) {
    line += "\"\"";
  } else {
    line += csv_field(label);
  }
}

/// Appends `value` in the C locale with max_digits10 significant digits (printf `%.*g`):
/// `0`, `-0`, `0.5`, `1e+20`, and `nan`, `inf`, `-inf` for the non-finite values.
/// `buffer` is a reusable stream already set up by csv_number_buffer().
template <typename Scalar>
void csv_append_number(std::string& line, Scalar value, std::ostringstream& buffer) {
  if (std::isnan(value)) {
    line += "nan";
  } else if (std::isinf(value)) {
    line += value > 0 ? "inf" : "-inf";
  } else {
    buffer.str(std::string());
    buffer << value;
    line += buffer.str();
  }
}

template <typename Scalar>
void csv_setup_number_buffer(std::ostringstream& buffer) {
  buffer.imbue(std::locale::classic());
  buffer.unsetf(std::ios_base::floatfield);  // defaultfloat: %g
  buffer.precision(std::numeric_limits<Scalar>::max_digits10);
}

/// Writes the records to `os` with unformatted writes only (the stream's width, precision,
/// flags and locale are neither used nor changed); stops early once `os` has failed.
template <typename Derived>
void csv_write_records(std::ostream& os, const Eigen::DenseBase<Derived>& m,
                       const std::vector<std::string>& row_labels,
                       const std::vector<std::string>& col_labels) {
  using Scalar = typename Derived::Scalar;
  const auto& values = m.eval();  // expressions are evaluated once; plain matrices are not copied
  const Index rows = values.rows();
  const Index cols = values.cols();
  const bool has_row_labels = !row_labels.empty();

  std::ostringstream buffer;
  csv_setup_number_buffer<Scalar>(buffer);
  std::string line;
  const auto put_line = [&os, &line] {
    line.push_back('\n');
    os.write(line.data(), static_cast<std::streamsize>(line.size()));
  };

  if (!col_labels.empty()) {
    line.clear();
    if (has_row_labels) line.push_back(',');  // empty top-left corner cell
    for (Index j = 0; j < cols; ++j) {
      if (j > 0) line.push_back(',');
      csv_append_label(line, col_labels[static_cast<std::size_t>(j)], !has_row_labels && cols == 1);
    }
    put_line();
  }
  if (!has_row_labels && cols == 0) return;  // records with no field at all are not written
  for (Index i = 0; i < rows && os; ++i) {
    line.clear();
    if (has_row_labels) csv_append_label(line, row_labels[static_cast<std::size_t>(i)], cols == 0);
    for (Index j = 0; j < cols; ++j) {
      if (has_row_labels || j > 0) line.push_back(',');
      csv_append_number(line, values(i, j), buffer);
    }
    put_line();
  }
}

}  // namespace detail

/// Writes `m` (any float/double Eigen expression, e.g. weights `Tq×Tk`) to `os` as CSV:
/// - `col_labels` (if not empty) become a header record; when `row_labels` are given too, the
///   header's first (top-left) cell is empty. `row_labels` (if not empty) start each record.
///   Labels go through csv_field(): RFC 4180 quoting, UTF-8 byte for byte.
/// - Numbers use the C locale (never the stream's or the global one) with max_digits10
///   significant digits, printf `%.*g` style, so strtod/strtof read back the exact value:
///   `0`, `-0`, `0.5`, `0.100000001` (0.1f), `1e+20`; non-finite values are `nan`, `inf`,
///   `-inf` (what NumPy's savetxt writes and NumPy and pandas read back). Numbers are never
///   quoted.
/// - Records end with a bare LF, not RFC 4180's CRLF: what NumPy and pandas write by default,
///   and what Python's csv, pandas, NumPy, R and spreadsheets read. A record with no field (no
///   row labels and no columns) is not written; a record that is one empty label is `""`.
/// - Only unformatted writes: the stream's precision, width, flags and locale are left as they
///   were. The stream is not flushed.
/// Throws attn::invalid_argument when a non-empty `row_labels` / `col_labels` does not have
/// m.rows() / m.cols() entries, std::runtime_error when the stream is not good before the call
/// or fails during it.
/// \param os the stream, written unformatted
/// \param m the matrix, rows×cols
/// \param row_labels one per row, or empty (default) for none
/// \param col_labels one per column, or empty (default) for no header
template <typename Derived>
void write_csv(std::ostream& os, const Eigen::DenseBase<Derived>& m,
               const std::vector<std::string>& row_labels = {},
               const std::vector<std::string>& col_labels = {}) {
  ::attn::detail::check_scalar<typename Derived::Scalar>();
  detail::csv_check_labels(m.rows(), m.cols(), row_labels, col_labels);
  if (!os) throw std::runtime_error("attn::io::write_csv: the output stream is not in a good state");
  detail::csv_write_records(os, m, row_labels, col_labels);
  if (!os) throw std::runtime_error("attn::io::write_csv: writing to the output stream failed");
}

/// Writes `m` as CSV (same format as the stream overload) to the file `path` (a
/// std::filesystem::path, std::string or string literal), replacing it atomically: the text
/// goes to `path` + ".tmp.<pid>.<n>" in the same directory, which is flushed, checked and
/// renamed onto `path`. A failed write leaves neither a half-written `path` nor the temporary
/// file. Throws attn::invalid_argument on a label-count mismatch (before touching the file
/// system) and std::runtime_error naming the path and the system's reason on I/O failure.
/// \param path the file to write
/// \param m the matrix, rows×cols
/// \param row_labels one per row, or empty (default) for none
/// \param col_labels one per column, or empty (default) for no header
template <typename Derived>
void write_csv(const std::filesystem::path& path, const Eigen::DenseBase<Derived>& m,
               const std::vector<std::string>& row_labels = {},
               const std::vector<std::string>& col_labels = {}) {
  ::attn::detail::check_scalar<typename Derived::Scalar>();
  detail::csv_check_labels(m.rows(), m.cols(), row_labels, col_labels);
  detail::write_file_atomically(path, "attn::io::write_csv", [&](std::ostream& os) {
    detail::csv_write_records(os, m, row_labels, col_labels);
  });
}

}  // namespace attn::io

// ---------------------------------------------------------------------------------------------
// Long (tidy) form for many maps at once, and a reader of the wide form that gives back exactly
// what write_csv wrote (labels and every bit of every number).
// ---------------------------------------------------------------------------------------------
namespace attn::io {

/// One map of a long-form CSV (write_csv_long) and where it belongs: its layer, head and
/// decoding or training step, each optional. A coordinate set on one map must be set on all.
template <typename Scalar>
struct CsvMap {
  /// The `layer` column; unset: no such column.
  std::optional<Index> layer;
  /// The `head` column; unset: no such column.
  std::optional<Index> head;
  /// The `step` column; unset: no such column.
  std::optional<Index> step;
  Matrix<Scalar> weights;  ///< Tq×Tk
};

/// Which labels a wide CSV holds, for read_csv(): `automatic` detects them (below); the
/// explicit values say it, which is needed when labels look like numbers ("1", "2.5").
enum class CsvLabels { automatic, none, rows, columns, both };

/// What read_csv() returns: the values and the labels (each empty when the file has none).
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

template <typename Scalar>
void csv_check_long(const std::vector<CsvMap<Scalar>>& maps, const std::vector<std::string>& row_labels,
                    const std::vector<std::string>& col_labels, bool& layer, bool& head, bool& step) {
  const char* who = "attn::io::write_csv_long";
  layer = !maps.empty() && maps.front().layer.has_value();
  head = !maps.empty() && maps.front().head.has_value();
  step = !maps.empty() && maps.front().step.has_value();
  for (std::size_t k = 0; k < maps.size(); ++k) {
    const CsvMap<Scalar>& m = maps[k];
    const std::string at = std::string(who) + ": maps[" + std::to_string(k) + "].";
    ATTN_CHECK(m.layer.has_value() == layer, at + "layer is " + (layer ? "unset" : "set") + " but maps[0].layer is " +
                                                 (layer ? "set" : "unset"));
    ATTN_CHECK(m.head.has_value() == head, at + "head is " + (head ? "unset" : "set") + " but maps[0].head is " +
                                               (head ? "set" : "unset"));
    ATTN_CHECK(m.step.has_value() == step, at + "step is " + (step ? "unset" : "set") + " but maps[0].step is " +
                                               (step ? "set" : "unset"));
    ATTN_CHECK(row_labels.empty() || static_cast<Index>(row_labels.size()) == m.weights.rows(),
               std::string(who) + ": row_labels.size() (" + std::to_string(row_labels.size()) + ") must equal maps[" +
                   std::to_string(k) + "].weights.rows() (" + std::to_string(m.weights.rows()) + ")");
    ATTN_CHECK(col_labels.empty() || static_cast<Index>(col_labels.size()) == m.weights.cols(),
               std::string(who) + ": col_labels.size() (" + std::to_string(col_labels.size()) + ") must equal maps[" +
                   std::to_string(k) + "].weights.cols() (" + std::to_string(m.weights.cols()) + ")");
  }
}

template <typename Scalar>
void csv_write_long_records(std::ostream& os, const std::vector<CsvMap<Scalar>>& maps,
                            const std::vector<std::string>& row_labels, const std::vector<std::string>& col_labels,
                            bool layer, bool head, bool step) {
  std::ostringstream buffer;
  csv_setup_number_buffer<Scalar>(buffer);
  std::string line;
  const auto put_line = [&os, &line] {
    line.push_back('\n');
    os.write(line.data(), static_cast<std::streamsize>(line.size()));
  };
  if (layer) line += "layer,";
  if (head) line += "head,";
  if (step) line += "step,";
  line += "query,key,";
  if (!row_labels.empty()) line += "query_token,";
  if (!col_labels.empty()) line += "key_token,";
  line += "weight";
  put_line();
  for (const CsvMap<Scalar>& m : maps) {
    std::string prefix;
    if (layer) prefix += std::to_string(*m.layer) + ",";
    if (head) prefix += std::to_string(*m.head) + ",";
    if (step) prefix += std::to_string(*m.step) + ",";
    for (Index i = 0; i < m.weights.rows() && os; ++i) {
      for (Index j = 0; j < m.weights.cols(); ++j) {
        line = prefix;
        line += std::to_string(i) + "," + std::to_string(j) + ",";
        if (!row_labels.empty()) line += csv_field(row_labels[static_cast<std::size_t>(i)]) + ",";
        if (!col_labels.empty()) line += csv_field(col_labels[static_cast<std::size_t>(j)]) + ",";
        csv_append_number(line, m.weights(i, j), buffer);
        put_line();
      }
    }
  }
}

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

/// Writes many maps in the long ("tidy") form, one record per weight, for pandas, R or a
/// spreadsheet: a header `[layer,][head,][step,]query,key,[query_token,][key_token,]weight`
/// (each of layer/head/step present when the maps set it; query_token / key_token when
/// `row_labels` / `col_labels` are given), then for each map in order, row by row, its
/// coordinates, the 0-based query and key indices, the labels and the weight. Numbers and
/// quoting as in write_csv(). Throws attn::invalid_argument when the maps do not all set the
/// same coordinates or the labels do not fit a map, std::runtime_error on stream failure.
/// \param os the stream, written unformatted
/// \param maps the maps, in the order written
/// \param row_labels one per query row of every map, or empty (default)
/// \param col_labels one per key column of every map, or empty (default)
template <typename Scalar>
void write_csv_long(std::ostream& os, const std::vector<CsvMap<Scalar>>& maps,
                    const std::vector<std::string>& row_labels = {}, const std::vector<std::string>& col_labels = {}) {
  ::attn::detail::check_scalar<Scalar>();
  bool layer = false, head = false, step = false;
  detail::csv_check_long(maps, row_labels, col_labels, layer, head, step);
  if (!os) throw std::runtime_error("attn::io::write_csv_long: the output stream is not in a good state");
  detail::csv_write_long_records(os, maps, row_labels, col_labels, layer, head, step);
  if (!os) throw std::runtime_error("attn::io::write_csv_long: writing to the output stream failed");
}

/// Writes the long form to the file `path`, atomically (see the wide write_csv path overload).
/// \param path the file to write
/// \param maps the maps, in the order written
/// \param row_labels one per query row of every map, or empty (default)
/// \param col_labels one per key column of every map, or empty (default)
/// \throws attn::invalid_argument as the stream overload does (before the file is touched),
///         std::runtime_error naming the path and the system's reason on I/O failure
template <typename Scalar>
void write_csv_long(const std::filesystem::path& path, const std::vector<CsvMap<Scalar>>& maps,
                    const std::vector<std::string>& row_labels = {}, const std::vector<std::string>& col_labels = {}) {
  ::attn::detail::check_scalar<Scalar>();
  bool layer = false, head = false, step = false;
  detail::csv_check_long(maps, row_labels, col_labels, layer, head, step);
  detail::write_file_atomically(path, "attn::io::write_csv_long", [&](std::ostream& os) {
    detail::csv_write_long_records(os, maps, row_labels, col_labels, layer, head, step);
  });
}

/// Reads a matrix in the wide form that write_csv() writes, with its labels: what write_csv
/// wrote comes back exactly (every bit of every number, -0, nan and ±inf included, as `Scalar`
/// was written; labels byte for byte). RFC 4180 quoting, LF or CRLF line ends, a UTF-8 BOM and
/// empty lines are accepted. `labels` says which labels the file has; `automatic` takes the
/// first field of the records as row labels when one of them (after the first record) is not
/// a number, and the first record as a header when one of its fields (after the row label)
/// is not a number; a first record starting with an empty field and more fields after it is
/// a header with the empty corner cell of write_csv (so both labels). Labels that look like
/// numbers need an explicit `labels`. (write_csv writes no row labels for a matrix without
/// rows, no header for one without columns, and nothing at all without fields: such files
/// read back with the labels they do hold, and an empty file as a 0×0 matrix.) Throws std::runtime_error naming the line (and field)
/// for malformed CSV, records of different lengths, or a value that is not a number.
/// \tparam Scalar float or double (default double)
/// \param is the stream, read to its end
/// \param labels which labels the file holds (default: detect them)
/// \return the values and the labels
template <typename Scalar = double>
CsvMatrix<Scalar> read_csv(std::istream& is, CsvLabels labels = CsvLabels::automatic) {
  ::attn::detail::check_scalar<Scalar>();
  return detail::csv_read<Scalar>(is, labels, "attn::io::read_csv: ");
}

/// Reads the CSV file at `path` as read_csv(std::istream&) does; messages name the path, and
/// a file that cannot be opened throws std::runtime_error with the system's reason.
/// \tparam Scalar float or double (default double)
/// \param path the file to read
/// \param labels which labels the file holds (default: detect them)
/// \return the values and the labels
template <typename Scalar = double>
CsvMatrix<Scalar> read_csv(const std::filesystem::path& path, CsvLabels labels = CsvLabels::automatic) {
  ::attn::detail::check_scalar<Scalar>();
  std::error_code ignored;
  const bool directory = std::filesystem::is_directory(path, ignored);
  errno = 0;
  std::ifstream file;
  if (!directory) file.open(path, std::ios_base::in | std::ios_base::binary);
  if (!file.is_open()) {
    const int error = directory ? EISDIR : errno;
    throw std::runtime_error("attn::io::read_csv: cannot open '" + path.string() +
                             "' for reading: " + detail::system_reason(error));
  }
  return detail::csv_read<Scalar>(file, labels, "attn::io::read_csv: '" + path.string() + "': ");
}

}  // namespace attn::io
