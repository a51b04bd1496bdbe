// SPDX-License-Identifier: MIT
// Part of attn/io/csv.hpp (include that): TidyCsvWriter, the long (tidy) CSV written map by map
// (a decoder step, a training epoch at a time) with ONE header, to a stream or appended to a file.
#pragma once

#include "../../config.hpp"
#include "csv_long.hpp"
#include "csv_write.hpp"
#include "map_source.hpp"
#include "write_file.hpp"

#include <Eigen/Core>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace attn::io {

/// Where one map of a tidy CSV belongs: its layer, head and step, each optional (unset: no such
/// column). `CsvKey().with_step(t)`, `CsvKey().with_layer(l).with_head(h)`.
/// \headerfile csv.hpp <attn/io/csv.hpp>
struct CsvKey {
  std::optional<Index> layer;  ///< the `layer` column
  std::optional<Index> head;   ///< the `head` column
  std::optional<Index> step;   ///< the `step` column (decoder step, epoch, ...)
  /// A copy with `layer` set. \param v the layer \return the key
  CsvKey with_layer(Index v) const {
    CsvKey k = *this;
    k.layer = v;
    return k;
  }
  /// A copy with `head` set. \param v the head \return the key
  CsvKey with_head(Index v) const {
    CsvKey k = *this;
    k.head = v;
    return k;
  }
  /// A copy with `step` set. \param v the step \return the key
  CsvKey with_step(Index v) const {
    CsvKey k = *this;
    k.step = v;
    return k;
  }
};

/// The long (tidy) CSV of write_csv_long(), written a map at a time with one header: keep the
/// object and call append() after each decoder step or epoch. The first append fixes the columns
/// (`[layer,][head,][step,]query,key,[query_token,][key_token,]weight`, as its key sets them)
/// and writes the header; later appends must set the same coordinates and write records only.
///
/// To a stream: the caller keeps the stream open. To a file: the file is opened for appending
/// (created when missing; only a regular file, never through a symbolic link); an existing
/// non-empty file must start with the same header (it is then continued without a second one)
/// and end with a line break, else append() throws std::runtime_error and the file is left as it
/// was. Each append is written as one block and flushed; when that write fails, the file is cut
/// back to its size before the append, so it never holds half a map.
/// \headerfile csv.hpp <attn/io/csv.hpp>
class TidyCsvWriter {
 public:
  /// A writer to `os` (which must outlive it).
  /// \param os the stream, written unformatted
  /// \param row_labels one per query row of every map (the `query_token` column), or empty
  /// \param col_labels one per key column of every map (the `key_token` column), or empty
  explicit TidyCsvWriter(std::ostream& os, std::vector<std::string> row_labels = {},
                         std::vector<std::string> col_labels = {})
      : os_(&os), row_labels_(std::move(row_labels)), col_labels_(std::move(col_labels)) {}

  /// A writer that appends to the file `path` (opened at the first append).
  /// \param path the CSV file; created when missing, continued when it holds the same header
  /// \param row_labels one per query row of every map, or empty
  /// \param col_labels one per key column of every map, or empty
  explicit TidyCsvWriter(std::filesystem::path path, std::vector<std::string> row_labels = {},
                         std::vector<std::string> col_labels = {})
      : path_(std::move(path)), row_labels_(std::move(row_labels)), col_labels_(std::move(col_labels)) {}

  /// Appends one map (any float/double Eigen expression, Map or Ref, e.g. weights Tq×Tk or an
  /// AlignmentHistory view) with its coordinates.
  /// \param weights Tq×Tk
  /// \param key its layer / head / step (default: none)
  /// \throws attn::invalid_argument when the key sets other coordinates than the first append's
  ///         or the labels do not fit; std::runtime_error on I/O failure (see the class)
  template <typename Derived>
  void append(const Eigen::DenseBase<Derived>& weights, const CsvKey& key = {}) {
    static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
    const char* who = "attn::io::TidyCsvWriter::append";
    check(who, key, "key", weights.rows(), weights.cols(), "weights");
    write(who, key, weights.rows() * weights.cols(), [&](std::ostream& os) {
      detail::csv_write_long_map(os, weights, detail::csv_long_prefix(key.layer, key.head, key.step), row_labels_,
                                 col_labels_);
    });
  }

  /// Appends every map of a list (a range of Eigen matrices such as attn::head_views(w), or an
  /// attn::HeadWeights), map `k` with `head = k`.
  /// \param heads the maps, Tq×Tk each
  /// \param key their layer / step; its head must be unset
  /// \throws attn::invalid_argument as append() does, or when `key.head` is set
  template <typename Maps, typename = std::enable_if_t<detail::is_map_list<Maps>>>
  void append_heads(const Maps& heads, const CsvKey& key = {}) {
    static_assert(::attn::detail::check_scalar<detail::map_list_scalar<Maps>>());
    const char* who = "attn::io::TidyCsvWriter::append_heads";
    ATTN_CHECK(!key.head, std::string(who) + ": key.head must be unset (each map's head is its index)");
    const CsvKey columns = key.with_head(0);
    Index count = 0;
    detail::for_each_map(heads, [&](std::size_t k, const auto& m) {
      check(who, columns, "key", m.rows(), m.cols(), ("heads[" + std::to_string(k) + "]").c_str());
      count += m.rows() * m.cols();
    });
    if (detail::map_list_size(heads) == 0) return;
    write(who, columns, count, [&](std::ostream& os) {
      detail::for_each_map(heads, [&](std::size_t k, const auto& m) {
        detail::csv_write_long_map(os, m, detail::csv_long_prefix(key.layer, static_cast<Index>(k), key.step),
                                   row_labels_, col_labels_);
      });
    });
  }

  /// Appends maps in write_csv_long()'s form (each with its own coordinates).
  /// \param maps the maps, in the order written
  /// \throws attn::invalid_argument as append() does
  template <typename Scalar>
  void append(const std::vector<CsvMap<Scalar>>& maps) {
    static_assert(::attn::detail::check_scalar<Scalar>());
    const char* who = "attn::io::TidyCsvWriter::append";
    Index count = 0;
    for (std::size_t k = 0; k < maps.size(); ++k) {
      // every map against the first one's columns (or the header's)
      const CsvKey key{maps[k].layer, maps[k].head, maps[k].step};
      const std::string name = "maps[" + std::to_string(k) + "]";
      check(who, key, name.c_str(), maps[k].weights.rows(), maps[k].weights.cols(), (name + ".weights").c_str());
      if (header_.empty()) {
        ATTN_CHECK(key.layer.has_value() == maps[0].layer.has_value() && key.head.has_value() == maps[0].head.has_value() &&
                       key.step.has_value() == maps[0].step.has_value(),
                   std::string(who) + ": " + name + " sets other coordinates (layer, head, step) than maps[0]");
      }
      count += maps[k].weights.rows() * maps[k].weights.cols();
    }
    if (maps.empty()) return;
    write(who, CsvKey{maps[0].layer, maps[0].head, maps[0].step}, count, [&](std::ostream& os) {
      for (const CsvMap<Scalar>& m : maps) {
        detail::csv_write_long_map(os, m.weights, detail::csv_long_prefix(m.layer, m.head, m.step), row_labels_,
                                   col_labels_);
      }
    });
  }

  /// The header line (without its line break); empty before the first append.
  /// \return the header
  const std::string& header() const { return header_; }
  /// Records (weights) written by this object so far, header not counted.
  /// \return the count
  Index records() const { return records_; }

 private:
  void check(const char* who, const CsvKey& key, const char* key_name, Index rows, Index cols, const char* name) const {
    ATTN_CHECK(row_labels_.empty() || static_cast<Index>(row_labels_.size()) == rows,
               std::string(who) + ": row_labels.size() (" + std::to_string(row_labels_.size()) + ") must equal " +
                   name + ".rows() (" + std::to_string(rows) + ")");
    ATTN_CHECK(col_labels_.empty() || static_cast<Index>(col_labels_.size()) == cols,
               std::string(who) + ": col_labels.size() (" + std::to_string(col_labels_.size()) + ") must equal " +
                   name + ".cols() (" + std::to_string(cols) + ")");
    if (header_.empty()) return;
    const auto same = [&](const std::optional<Index>& v, bool column, const char* field) {
      ATTN_CHECK(v.has_value() == column, std::string(who) + ": " + key_name + "." + field + " is " +
                                              (column ? "unset" : "set") + " but the header '" + header_ +
                                              "' (fixed by the first append) has " + (column ? "a" : "no") + " " +
                                              field + " column");
    };
    same(key.layer, layer_, "layer");
    same(key.head, head_, "head");
    same(key.step, step_, "step");
  }

  template <typename Records>
  void write(const char* who, const CsvKey& key, Index count, Records&& records) {
    const bool first = header_.empty();
    const std::string header = detail::csv_long_header(key.layer.has_value(), key.head.has_value(),
                                                       key.step.has_value(), !row_labels_.empty(), !col_labels_.empty());
    if (os_ != nullptr) {
      if (!*os_) throw std::runtime_error(std::string(who) + ": the output stream is not in a good state");
      if (first) {
        std::string line = header;
        detail::csv_put_line(*os_, line);
      }
      records(*os_);
      if (!*os_) throw std::runtime_error(std::string(who) + ": writing to the output stream failed");
    } else {
      std::ostringstream block;
      records(block);
      append_to_file(who, header, block.str());
    }
    if (first) {
      header_ = header;
      layer_ = key.layer.has_value();
      head_ = key.head.has_value();
      step_ = key.step.has_value();
    }
    records_ += count;
  }

  void append_to_file(const char* who, const std::string& header, std::string block) {
    namespace fs = std::filesystem;
    const std::string prefix = std::string(who) + ": cannot append to '" + path_.string() + "': ";
    std::error_code ec;
    const fs::file_status status = fs::symlink_status(path_, ec);
    std::uintmax_t size = 0;
    if (fs::exists(status)) {
      if (!fs::is_regular_file(status)) throw std::runtime_error(prefix + "it is not a regular file");
      size = fs::file_size(path_, ec);
      if (ec) throw std::runtime_error(prefix + ec.message());
    }
    if (header_.empty()) {  // first append: a new file gets the header; an old one must have it
      if (size == 0) {
        block.insert(0, header + "\n");
      } else {
        std::ifstream in(path_, std::ios_base::binary);
        std::string first;
        std::getline(in, first);
        if (!first.empty() && first.back() == '\r') first.pop_back();
        if (first.compare(0, 3, "\xEF\xBB\xBF") == 0) first.erase(0, 3);
        if (first != header) {
          throw std::runtime_error(prefix + "its header '" + first + "' is not this writer's '" + header +
                                   "' (another kind of table): append to a new file, or move this one away");
        }
      }
    }
    if (size > 0) {
      std::ifstream in(path_, std::ios_base::binary);
      in.seekg(-1, std::ios_base::end);
      char last = '\n';
      if (!in.get(last) || last != '\n') throw std::runtime_error(prefix + "it does not end with a line break");
    }
    std::ofstream out(path_, std::ios_base::binary | std::ios_base::app);
    if (!out.is_open()) throw std::runtime_error(prefix + detail::system_reason(errno));
    out.write(block.data(), static_cast<std::streamsize>(block.size()));
    out.flush();
    const bool ok = static_cast<bool>(out);
    out.close();
    if (!ok || out.fail()) {
      fs::resize_file(path_, size, ec);  // never half a map
      throw std::runtime_error(prefix + "writing failed" + (ec ? " and the file could not be cut back: " + ec.message() : ""));
    }
  }

  std::ostream* os_ = nullptr;
  std::filesystem::path path_;
  std::vector<std::string> row_labels_;
  std::vector<std::string> col_labels_;
  std::string header_;
  bool layer_ = false;
  bool head_ = false;
  bool step_ = false;
  Index records_ = 0;
};

}  // namespace attn::io
