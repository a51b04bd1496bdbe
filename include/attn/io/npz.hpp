// SPDX-License-Identifier: MIT
// NumPy .npz archives: list the arrays and read one by name as an N-D array or a matrix, as
// np.load(path)[name] does (np.savez and np.savez_compressed archives: stored and DEFLATE members,
// ZIP64; every member is checked against its CRC-32), and write named matrices and arrays as
// one archive, byte for byte what np.savez writes.
#pragma once

#include "../config.hpp"
#include "detail/npy_array.hpp"
#include "detail/npy_header.hpp"
#include "detail/npy_read.hpp"
#include "detail/npz_read.hpp"
#include "detail/npz_write.hpp"
#include "detail/text.hpp"
#include "detail/write_file.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <istream>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace attn::io {

/// The names of the arrays in the .npz archive at `path`, in archive order, as
/// `np.load(path).files` lists them: np.savez's keyword names, and `arr_0`, `arr_1`, ... for
/// its positional arrays (each member's name without its ".npy"). Throws std::runtime_error
/// naming the path and the system's reason when the file cannot be opened, and
/// attn::io::npy_error (a std::runtime_error) when it is not a readable ZIP archive.
/// \param path the .npz file
/// \return the array names
inline std::vector<std::string> npz_names(const std::filesystem::path& path) {
  return detail::npz_keys(detail::zip_open(path, "attn::io::npz_names"));
}

/// Reads the array `name` of the .npz archive at `path` (what `np.load(path)[name]` gives:
/// the member `name.npy`, or a member called `name`) as read_npy_array() reads a .npy file:
/// any dimension, C order, converted to `Scalar`. The member may be stored (np.savez) or
/// DEFLATE-compressed (np.savez_compressed); it is read whole into memory, checked against its
/// sizes and CRC-32, then parsed. Throws std::runtime_error when the file cannot be opened and
/// attn::io::npy_error naming the path (and the member) for a damaged or unsupported archive
/// (encrypted members, other compression methods, multi-disk archives), a missing `name`
/// (the message lists the archive's names) or a bad .npy inside.
/// \tparam Scalar float or double (default double)
/// \param path the .npz file
/// \param name the array's name, with or without ".npy"
/// \return shape and data (C order)
template <typename Scalar = double>
NpyArray<Scalar> read_npz_array(const std::filesystem::path& path, const std::string& name) {
  static_assert(::attn::detail::check_scalar<Scalar>());
  return detail::npz_read(path, name, "attn::io::read_npz_array", [](std::istream& is, const std::string& context) {
    return detail::npy_read_array<Scalar>(is, context);
  });
}

/// Reads the 0-D, 1-D or 2-D array `name` of the .npz archive at `path` as a matrix, as
/// read_npy() reads a .npy file (1-D of n → 1×n, 2-D (r, c) → r×c); the archive as in
/// read_npz_array(). The parameters of a PyTorch or Keras layer saved with
/// `np.savez("layer.npz", **weights)` come back one by one this way.
/// \tparam Scalar float or double (default double)
/// \param path the .npz file
/// \param name the array's name, with or without ".npy"
/// \return 1×1, 1×n or r×c
template <typename Scalar = double>
Matrix<Scalar> read_npz(const std::filesystem::path& path, const std::string& name) {
  static_assert(::attn::detail::check_scalar<Scalar>());
  return detail::npz_read(path, name, "attn::io::read_npz", [](std::istream& is, const std::string& context) {
    return detail::npy_read_matrix<Scalar>(is, context);
  });
}

/// One named array for write_npz(): a float or double matrix (any Eigen expression; written as
/// a 2-D array of shape (rows, cols), as write_npy() writes it) or an N-D NpyArray, and the
/// order of its data in the file. A Matrix, a view of storage (a Map, block, Ref, transpose) and
/// an NpyArray are held by reference, so what they show must outlive the write_npz() call; a
/// temporary Matrix or NpyArray (a function's result, npy_stack()) is moved into the entry, and
/// any other expression (a product, a cast, ...) is evaluated once, into the entry. Written as
/// the member `<name>.npy`, as np.savez names a keyword argument, so `np.load(path)[name]` and
/// attn::io::read_npz(path, name) read it back.
class NpzEntry {
 public:
  /// \param name the array's name (non-empty UTF-8, without ".npy")
  /// \param m the matrix, r×c, float or double
  /// \param order data order in the file (default C)
  template <typename Derived>
  NpzEntry(std::string name, const Eigen::DenseBase<Derived>& m, NpyOrder order = NpyOrder::c)
      : name_(std::move(name)) {
    using Scalar = typename Derived::Scalar;
    static_assert(::attn::detail::check_scalar<Scalar>());
    if constexpr (std::is_base_of_v<Eigen::PlainObjectBase<Derived>, Derived>) {
      const Derived* matrix = &m.derived();
      write_ = [matrix, order](std::ostream& os) { detail::npy_write_matrix(os, *matrix, order); };
    } else if constexpr ((static_cast<unsigned>(Derived::Flags) & Eigen::DirectAccessBit) != 0) {
      // A view of storage (Map, block, Ref, transpose): the view is copied, not the data.
      write_ = [view = m.derived(), order](std::ostream& os) { detail::npy_write_matrix(os, view, order); };
    } else {
      auto owned = std::make_shared<const Matrix<Scalar>>(m);
      write_ = [owned, order](std::ostream& os) { detail::npy_write_matrix(os, *owned, order); };
    }
  }

  /// A temporary matrix (a function's result): moved into the entry, so the entry owns it.
  /// \param name the array's name (non-empty UTF-8, without ".npy")
  /// \param m the matrix, r×c, float or double
  /// \param order data order in the file (default C)
  template <typename Scalar, int Rows, int Cols, int Options, int MaxRows, int MaxCols>
  NpzEntry(std::string name, Eigen::Matrix<Scalar, Rows, Cols, Options, MaxRows, MaxCols>&& m,
           NpyOrder order = NpyOrder::c)
      : name_(std::move(name)) {
    static_assert(::attn::detail::check_scalar<Scalar>());
    auto owned = std::make_shared<const Eigen::Matrix<Scalar, Rows, Cols, Options, MaxRows, MaxCols>>(std::move(m));
    write_ = [owned, order](std::ostream& os) { detail::npy_write_matrix(os, *owned, order); };
  }

  /// \param name the array's name (non-empty UTF-8, without ".npy")
  /// \param array shape and data (C order), float or double, checked as write_npy() checks it
  /// \param order data order in the file (default C)
  template <typename Scalar>
  NpzEntry(std::string name, const NpyArray<Scalar>& array, NpyOrder order = NpyOrder::c)
      : name_(std::move(name)) {
    static_assert(::attn::detail::check_scalar<Scalar>());
    detail::npy_check_array(array, "attn::io::write_npz");
    const NpyArray<Scalar>* held = &array;
    write_ = [held, order](std::ostream& os) { detail::npy_write_array(os, *held, order); };
  }

  /// A temporary array (e.g. npy_stack()'s result): moved into the entry, so the entry owns it.
  /// \param name the array's name (non-empty UTF-8, without ".npy")
  /// \param array shape and data (C order), float or double, checked as write_npy() checks it
  /// \param order data order in the file (default C)
  template <typename Scalar>
  NpzEntry(std::string name, NpyArray<Scalar>&& array, NpyOrder order = NpyOrder::c) : name_(std::move(name)) {
    static_assert(::attn::detail::check_scalar<Scalar>());
    detail::npy_check_array(array, "attn::io::write_npz");
    auto owned = std::make_shared<const NpyArray<Scalar>>(std::move(array));
    write_ = [owned, order](std::ostream& os) { detail::npy_write_array(os, *owned, order); };
  }

  /// The array's name, as given.
  /// \return the name, without ".npy"
  const std::string& name() const { return name_; }
  /// Writes the array's .npy bytes (what write_npy() writes) to `os`.
  /// \param os the stream, written unformatted
  void write(std::ostream& os) const { write_(os); }

 private:
  std::string name_;
  std::function<void(std::ostream&)> write_;
};

namespace detail {

/// The names of `entries`, checked: non-empty, valid UTF-8 without NUL, not ending in ".npy",
/// short enough for a ZIP name, each used once.
inline std::vector<std::string> npz_entry_names(const std::vector<NpzEntry>& entries) {
  const std::string who = "attn::io::write_npz: ";
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const NpzEntry& e : entries) {
    const std::string& n = e.name();
    ATTN_CHECK(!n.empty(), who + "an array's name is empty");
    ATTN_CHECK(n.find('\0') == std::string::npos, who + "the name '" + n.substr(0, n.find('\0')) +
                                                       "\\0...' holds a NUL character");
    for (std::size_t i = 0; i < n.size();) {
      const std::size_t at = i;
      const char32_t cp = utf8_next(n, i);
      ATTN_CHECK(cp != replacement_character || i - at == 3,
                 who + "the name of array " + std::to_string(names.size()) + " is not valid UTF-8 (byte " +
                     std::to_string(at) + ")");
    }
    ATTN_CHECK(n.size() < 4 || n.compare(n.size() - 4, 4, ".npy") != 0,
               who + "the name '" + n + "' ends in '.npy': give it without, the member is named '<name>.npy' (as " +
                   "np.savez names it)");
    ATTN_CHECK(n.size() + 4 <= 0xFFFF, who + "the name of array " + std::to_string(names.size()) + " has " +
                                           std::to_string(n.size()) + " bytes, a ZIP name at most 65531 before '.npy'");
    ATTN_CHECK(seen.insert(n).second, who + "two arrays are named '" + n + "'");
    names.push_back(n);
  }
  return names;
}

}  // namespace detail

/// Writes `entries` to `os` as one .npz archive, in the given order: what
/// `np.savez(file, name=array, ...)` writes, byte for byte (NumPy 1.24 on Python 3.11: stored
/// members named `<name>.npy` holding write_npy()'s bytes, each with its CRC-32, dated
/// 1980-01-01 as zipfile dates them; ZIP64 fields where a size or offset passes 2^31 - 1 bytes,
/// as zipfile writes them). No compression: like np.savez, not np.savez_compressed. Each
/// array is written twice: once to count its bytes and CRC-32 (a ZIP header precedes its
/// data), once to `os`; the archive is never held in memory. No entries gives an empty archive
/// (np.load lists no arrays).
/// \param os the stream, written unformatted (from its current position: a ZIP archive's
///        offsets count from the start of the file, so give a stream at the start)
/// \param entries the named arrays, e.g. `{{"weights", r.weights}, {"output", r.output}}`
/// \throws attn::invalid_argument for an empty name, one ending in ".npy", a name that is not
///         valid UTF-8 or holds a NUL, or two arrays of one name (before anything is written);
///         std::runtime_error when the stream is not good before the call or fails during it
inline void write_npz(std::ostream& os, const std::vector<NpzEntry>& entries) {
  const std::vector<std::string> names = detail::npz_entry_names(entries);
  if (!os) throw std::runtime_error("attn::io::write_npz: the output stream is not in a good state");
  detail::npz_write(os, names, [&](std::size_t k, std::ostream& out) { entries[k].write(out); });
  if (!os) throw std::runtime_error("attn::io::write_npz: writing to the output stream failed");
}

/// Writes `entries` as a .npz file at `path` (as the stream overload writes them), replacing it
/// atomically as write_npy() does: a temporary file in the same directory, flushed, renamed;
/// a failed write leaves neither a half-written `path` nor the temporary file. Unlike np.savez,
/// no ".npz" is appended to `path`.
/// \param path the file to write
/// \param entries the named arrays, e.g. `{{"weights", r.weights}, {"output", r.output}}`
/// \throws attn::invalid_argument as the stream overload does (before the file is touched),
///         std::runtime_error naming the path and the system's reason on I/O failure
inline void write_npz(const std::filesystem::path& path, const std::vector<NpzEntry>& entries) {
  const std::vector<std::string> names = detail::npz_entry_names(entries);
  detail::write_file_atomically(path, "attn::io::write_npz", [&](std::ostream& os) {
    detail::npz_write(os, names, [&](std::size_t k, std::ostream& out) { entries[k].write(out); });
  });
}

}  // namespace attn::io
