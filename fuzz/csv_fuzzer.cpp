// SPDX-License-Identifier: MIT
// libFuzzer target for the CSV reader (attn/io/csv.hpp). Every input is read with each
// CsvLabels mode, as double and as float; the only exception allowed out of read_csv is
// std::runtime_error with a "attn::io::read_csv: " message naming a line (anything else, a
// sanitizer report, or an allocation above -malloc_limit_mb is a crash). Whatever reads
// successfully must have consistent shapes, write back with write_csv and read again (with the
// labels it has) to the same labels and the same bits (NaN as NaN). Build and run: fuzz/run.sh.
#include <attn/io/csv.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

namespace csv_fuzzer {

void require(bool condition, const std::string& what) {
  if (condition) return;
  std::fprintf(stderr, "csv_fuzzer: %s\n", what.c_str());
  std::abort();
}

template <typename Scalar>
bool same(Scalar a, Scalar b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

template <typename Scalar>
void round_trip(const attn::io::CsvMatrix<Scalar>& m) {
  require(m.row_labels.empty() || static_cast<attn::Index>(m.row_labels.size()) == m.values.rows(),
          "row labels do not fit the rows");
  require(m.col_labels.empty() || static_cast<attn::Index>(m.col_labels.size()) == m.values.cols(),
          "column labels do not fit the columns");
  std::stringstream io;
  attn::io::write_csv(io, m.values, m.row_labels, m.col_labels);
  const bool rows = !m.row_labels.empty();
  const bool cols = !m.col_labels.empty();
  const auto labels = rows && cols ? attn::io::CsvLabels::both
                      : rows       ? attn::io::CsvLabels::rows
                      : cols       ? attn::io::CsvLabels::columns
                                   : attn::io::CsvLabels::none;
  const attn::io::CsvMatrix<Scalar> back = attn::io::read_csv<Scalar>(io, labels);
  // A matrix without fields writes nothing; one without rows or columns may drop labels (as
  // read_csv documents); compare what can come back.
  if (m.values.size() == 0) return;
  require(back.values.rows() == m.values.rows() && back.values.cols() == m.values.cols(), "shape changed");
  require(back.row_labels == m.row_labels, "row labels changed");
  require(back.col_labels == m.col_labels, "column labels changed");
  for (attn::Index k = 0; k < m.values.size(); ++k) {
    require(same(back.values.data()[k], m.values.data()[k]), "a value changed");
  }
}

template <typename Scalar>
void read_all_ways(const std::string& text) {
  for (const auto labels : {attn::io::CsvLabels::automatic, attn::io::CsvLabels::none, attn::io::CsvLabels::rows,
                            attn::io::CsvLabels::columns, attn::io::CsvLabels::both}) {
    std::istringstream in(text);
    attn::io::CsvMatrix<Scalar> m;
    try {
      m = attn::io::read_csv<Scalar>(in, labels);
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      require(what.rfind("attn::io::read_csv: line ", 0) == 0, "message '" + what + "'");
      continue;
    }
    round_trip(m);
  }
}

}  // namespace csv_fuzzer

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  csv_fuzzer::read_all_ways<double>(text);
  csv_fuzzer::read_all_ways<float>(text);
  return 0;
}
