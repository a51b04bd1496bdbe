// SPDX-License-Identifier: MIT
// CSV export of a matrix (attention weights are Tq×Tk: one record per query row) with optional
// row/column token labels, RFC 4180 quoting, '\n' line ends and numbers that round-trip exactly.
#pragma once

#include "../config.hpp"

#include <Eigen/Core>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <ios>
#include <limits>
#include <locale>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#if defined(_WIN32)
#include <process.h>
#else
#include <unistd.h>
#endif

namespace attn::io {

/// One CSV field, quoted per RFC 4180 when needed: a field that contains a comma, a double
/// quote, CR or LF, or that starts or ends with a space or a tab, is wrapped in `"` with each
/// inner `"` doubled; any other field (the empty one included) comes back unchanged. Bytes are
/// copied as they are, so UTF-8 passes through untouched.
inline std::string csv_field(std::string_view text) {
  bool quote = !text.empty() && (text.front() == ' ' || text.front() == '\t' || text.back() == ' ' ||
                                 text.back() == '\t');
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

inline std::string csv_system_reason(int error) {
  return error != 0 ? std::generic_category().message(error) : std::string("unknown error");
}

/// `path` + ".tmp.<process id>.<counter>": unique per process and call, in `path`'s directory
/// so that the final rename stays on one file system.
inline std::filesystem::path csv_temporary_path(const std::filesystem::path& path) {
  static std::atomic<unsigned long long> counter{0};
#if defined(_WIN32)
  const long long pid = static_cast<long long>(::_getpid());
#else
  const long long pid = static_cast<long long>(::getpid());
#endif
  std::filesystem::path temporary = path;
  temporary += ".tmp." + std::to_string(pid) + "." + std::to_string(counter.fetch_add(1));
  return temporary;
}

/// Runs `write(std::ostream&)` into a temporary file next to `path`, flushes and checks it, then
/// renames it onto `path`. On any failure the temporary file is removed, `path` is untouched and
/// std::runtime_error names `who`, the path and the system's reason.
template <typename Writer>
void csv_write_file_atomically(const std::filesystem::path& path, const char* who, Writer&& write) {
  namespace fs = std::filesystem;
  const fs::path temporary = csv_temporary_path(path);
  const std::string prefix = std::string(who) + ": cannot write '" + path.string() + "': ";
  const auto remove_temporary = [&temporary] {
    std::error_code ignored;
    fs::remove(temporary, ignored);
  };

  errno = 0;
  std::ofstream file(temporary, std::ios_base::out | std::ios_base::binary | std::ios_base::trunc);
  if (!file.is_open()) {
    const int error = errno;
    throw std::runtime_error(prefix + "cannot open '" + temporary.string() +
                             "' for writing: " + csv_system_reason(error));
  }

  int error = 0;
  bool ok = false;
  try {
    errno = 0;
    std::forward<Writer>(write)(static_cast<std::ostream&>(file));
    if (file) file.flush();
    ok = static_cast<bool>(file);
    if (ok) {
      file.close();
      ok = !file.fail();
    }
    error = errno;
  } catch (...) {
    file.close();
    remove_temporary();
    throw;
  }
  if (!ok) {
    file.close();
    remove_temporary();
    throw std::runtime_error(prefix + "writing '" + temporary.string() +
                             "' failed: " + csv_system_reason(error));
  }

  std::error_code rename_error;
  fs::rename(temporary, path, rename_error);
  if (rename_error) {
    remove_temporary();
    throw std::runtime_error(prefix + "cannot rename '" + temporary.string() + "' to '" +
                             path.string() + "': " + rename_error.message());
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
template <typename Derived>
void write_csv(const std::filesystem::path& path, const Eigen::DenseBase<Derived>& m,
               const std::vector<std::string>& row_labels = {},
               const std::vector<std::string>& col_labels = {}) {
  ::attn::detail::check_scalar<typename Derived::Scalar>();
  detail::csv_check_labels(m.rows(), m.cols(), row_labels, col_labels);
  detail::csv_write_file_atomically(path, "attn::io::write_csv", [&](std::ostream& os) {
    detail::csv_write_records(os, m, row_labels, col_labels);
  });
}

}  // namespace attn::io
