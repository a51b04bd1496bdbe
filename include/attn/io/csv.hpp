// SPDX-License-Identifier: MIT
// CSV export of a matrix (attention weights are Tq×Tk: one record per query row) with optional
// row/column token labels, RFC 4180 quoting, '\n' line ends and numbers that round-trip exactly;
// the long (tidy) form for many maps (layer, head, step, query, key, weight); and read_csv(),
// which reads the wide form back with its labels, losslessly.
#pragma once

#include "../config.hpp"
#include "detail/csv_long.hpp"
#include "detail/csv_read.hpp"
#include "detail/csv_tidy.hpp"
#include "detail/csv_write.hpp"
#include "detail/write_file.hpp"

#include <Eigen/Core>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <ios>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

namespace attn::io {

namespace detail {

template <typename Maps>
void csv_check_list_labels(const Maps& heads, const std::vector<std::string>& row_labels,
                           const std::vector<std::string>& col_labels) {
  for_each_map(heads, [&](std::size_t k, const auto& m) {
    ATTN_CHECK(row_labels.empty() || static_cast<Index>(row_labels.size()) == m.rows(),
               "attn::io::write_csv_long: row_labels.size() (" + std::to_string(row_labels.size()) +
                   ") must equal heads[" + std::to_string(k) + "].rows() (" + std::to_string(m.rows()) + ")");
    ATTN_CHECK(col_labels.empty() || static_cast<Index>(col_labels.size()) == m.cols(),
               "attn::io::write_csv_long: col_labels.size() (" + std::to_string(col_labels.size()) +
                   ") must equal heads[" + std::to_string(k) + "].cols() (" + std::to_string(m.cols()) + ")");
  });
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
  static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
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
  static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
  detail::csv_check_labels(m.rows(), m.cols(), row_labels, col_labels);
  detail::write_file_atomically(path, "attn::io::write_csv", [&](std::ostream& os) {
    detail::csv_write_records(os, m, row_labels, col_labels);
  });
}

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
  static_assert(::attn::detail::check_scalar<Scalar>());
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
  static_assert(::attn::detail::check_scalar<Scalar>());
  bool layer = false, head = false, step = false;
  detail::csv_check_long(maps, row_labels, col_labels, layer, head, step);
  detail::write_file_atomically(path, "attn::io::write_csv_long", [&](std::ostream& os) {
    detail::csv_write_long_records(os, maps, row_labels, col_labels, layer, head, step);
  });
}

/// Writes a list of maps in the long form with a `head` column (map `k` is head `k`): any range of
/// Eigen matrices (`attn::head_views(w)`, a `std::vector` of matrices, Maps, Refs or
/// AlignmentHistory views) or an attn::HeadWeights. The header is
/// `head,query,key,[query_token,][key_token,]weight`; to add rows step by step under one header,
/// keep a TidyCsvWriter instead.
/// \param os the stream, written unformatted
/// \param heads the maps, Tq×Tk each (float or double)
/// \param row_labels one per query row of every map, or empty (default)
/// \param col_labels one per key column of every map, or empty (default)
/// \throws attn::invalid_argument when the labels do not fit a map, std::runtime_error on stream failure
template <typename Maps, typename = std::enable_if_t<detail::is_map_list<Maps>>>
void write_csv_long(std::ostream& os, const Maps& heads, const std::vector<std::string>& row_labels = {},
                    const std::vector<std::string>& col_labels = {}) {
  detail::csv_check_list_labels(heads, row_labels, col_labels);
  TidyCsvWriter writer(os, row_labels, col_labels);
  if (detail::map_list_size(heads) > 0) {
    writer.append_heads(heads);
    return;
  }
  if (!os) throw std::runtime_error("attn::io::write_csv_long: the output stream is not in a good state");
  std::string header = detail::csv_long_header(false, true, false, !row_labels.empty(), !col_labels.empty());
  detail::csv_put_line(os, header);
  if (!os) throw std::runtime_error("attn::io::write_csv_long: writing to the output stream failed");
}

/// Writes a list of maps in the long form with a `head` column to the file `path`, atomically
/// (a new file each time; see TidyCsvWriter to append).
/// \param path the file to write
/// \param heads the maps, Tq×Tk each (any range of Eigen matrices, or a HeadWeights)
/// \param row_labels one per query row of every map, or empty (default)
/// \param col_labels one per key column of every map, or empty (default)
/// \throws attn::invalid_argument as the stream overload does (before the file is touched),
///         std::runtime_error naming the path and the system's reason on I/O failure
template <typename Maps, typename = std::enable_if_t<detail::is_map_list<Maps>>>
void write_csv_long(const std::filesystem::path& path, const Maps& heads,
                    const std::vector<std::string>& row_labels = {}, const std::vector<std::string>& col_labels = {}) {
  detail::csv_check_list_labels(heads, row_labels, col_labels);  // before the file is touched
  detail::write_file_atomically(path, "attn::io::write_csv_long",
                                [&](std::ostream& os) { write_csv_long(os, heads, row_labels, col_labels); });
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
  static_assert(::attn::detail::check_scalar<Scalar>());
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
  static_assert(::attn::detail::check_scalar<Scalar>());
  std::ifstream file = detail::open_for_reading(path, "attn::io::read_csv");
  return detail::csv_read<Scalar>(file, labels, "attn::io::read_csv: '" + path.string() + "': ");
}

}  // namespace attn::io
