// SPDX-License-Identifier: MIT
// NumPy .npz archives (np.savez, np.savez_compressed): list the arrays and read one by name as
// an N-D array or a matrix, as np.load(path)[name] does. Stored and DEFLATE members, ZIP64;
// every member is checked against its CRC-32. Reading only: attn writes .npy files (npy.hpp).
#pragma once

#include "../config.hpp"
#include "detail/npy_array.hpp"
#include "detail/npy_header.hpp"
#include "detail/npy_read.hpp"
#include "detail/npz_read.hpp"

#include <filesystem>
#include <istream>
#include <string>
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
  const detail::ZipArchive zip = detail::zip_open(path, "attn::io::npz_names");
  std::vector<std::string> names;
  names.reserve(zip.members.size());
  for (const detail::ZipMember& m : zip.members) names.push_back(detail::npz_key(m.name));
  return names;
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
  ::attn::detail::check_scalar<Scalar>();
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
  ::attn::detail::check_scalar<Scalar>();
  return detail::npz_read(path, name, "attn::io::read_npz", [](std::istream& is, const std::string& context) {
    return detail::npy_read_matrix<Scalar>(is, context);
  });
}

}  // namespace attn::io
