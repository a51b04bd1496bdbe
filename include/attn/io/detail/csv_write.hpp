// SPDX-License-Identifier: MIT
// Part of attn/io/csv.hpp (include that): the wide CSV writer: csv_field() (RFC 4180 quoting),
// labels, numbers in the C locale that round-trip exactly, and the records of a matrix.
#pragma once

#include "../../config.hpp"

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <ios>
#include <limits>
#include <locale>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
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

/// Ends `line` with a newline and writes it to `os` (one record of a CSV writer).
inline void csv_put_line(std::ostream& os, std::string& line) {
  line.push_back('\n');
  os.write(line.data(), static_cast<std::streamsize>(line.size()));
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
  const auto put_line = [&os, &line] { csv_put_line(os, line); };

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

}  // namespace attn::io
