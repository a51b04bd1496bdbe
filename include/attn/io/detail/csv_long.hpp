// SPDX-License-Identifier: MIT
// Part of attn/io/csv.hpp (include that): the long (tidy) form for many maps at once: CsvMap
// and the records `[layer,][head,][step,]query,key,[query_token,][key_token,]weight`.
#pragma once

#include "../../config.hpp"
#include "csv_write.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace attn::io {

/// One map of a long-form CSV (write_csv_long) and where it belongs: its layer, head and
/// decoding or training step, each optional. A coordinate set on one map must be set on all.
/// \headerfile csv.hpp <attn/io/csv.hpp>
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

/// The header of the long form for the columns a map sets.
inline std::string csv_long_header(bool layer, bool head, bool step, bool query_token, bool key_token) {
  std::string line;
  if (layer) line += "layer,";
  if (head) line += "head,";
  if (step) line += "step,";
  line += "query,key,";
  if (query_token) line += "query_token,";
  if (key_token) line += "key_token,";
  line += "weight";
  return line;
}

/// Appends the records of one map (`prefix` holds its layer/head/step fields) to `os`, row by
/// row; stops early once `os` has failed.
template <typename Derived>
void csv_write_long_map(std::ostream& os, const Eigen::DenseBase<Derived>& weights, const std::string& prefix,
                        const std::vector<std::string>& row_labels, const std::vector<std::string>& col_labels) {
  std::ostringstream buffer;
  csv_setup_number_buffer<typename Derived::Scalar>(buffer);
  std::string line;
  for (Index i = 0; i < weights.rows() && os; ++i) {
    for (Index j = 0; j < weights.cols(); ++j) {
      line = prefix;
      line += std::to_string(i) + "," + std::to_string(j) + ",";
      if (!row_labels.empty()) line += csv_field(row_labels[static_cast<std::size_t>(i)]) + ",";
      if (!col_labels.empty()) line += csv_field(col_labels[static_cast<std::size_t>(j)]) + ",";
      csv_append_number(line, weights(i, j), buffer);
      csv_put_line(os, line);
    }
  }
}

/// The layer/head/step fields that start every record of a map.
inline std::string csv_long_prefix(const std::optional<Index>& layer, const std::optional<Index>& head,
                                   const std::optional<Index>& step) {
  std::string prefix;
  if (layer) prefix += std::to_string(*layer) + ",";
  if (head) prefix += std::to_string(*head) + ",";
  if (step) prefix += std::to_string(*step) + ",";
  return prefix;
}

template <typename Scalar>
void csv_write_long_records(std::ostream& os, const std::vector<CsvMap<Scalar>>& maps,
                            const std::vector<std::string>& row_labels, const std::vector<std::string>& col_labels,
                            bool layer, bool head, bool step) {
  std::string header = csv_long_header(layer, head, step, !row_labels.empty(), !col_labels.empty());
  csv_put_line(os, header);
  for (const CsvMap<Scalar>& m : maps) {
    csv_write_long_map(os, m.weights, csv_long_prefix(m.layer, m.head, m.step), row_labels, col_labels);
  }
}

}  // namespace detail
}  // namespace attn::io
