// SPDX-License-Identifier: MIT
// Part of attn/io/npz.hpp (include that): writing .npz archives as NumPy 1.24's np.savez does
// (Python 3.11's zipfile: stored members, each with a ZIP64 extra field in its local header,
// ZIP64 central directory fields and end records past 2^31 - 1 bytes), byte for byte.
#pragma once

#include "../../config.hpp"
#include "npy_array.hpp"
#include "npy_header.hpp"  // npy_store_le
#include "npy_write.hpp"
#include "png.hpp"  // crc32

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <streambuf>
#include <string>
#include <type_traits>
#include <vector>

namespace attn::io::detail {

/// Counts the bytes written through it and their CRC-32, and keeps none: an .npz member's
/// sizes and CRC go into its header, before its bytes.
class CrcCounter : public std::streambuf {
 public:
  std::uint64_t size() const { return size_; }
  std::uint32_t crc() const { return crc_; }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    crc_ = crc32(reinterpret_cast<const unsigned char*>(s), static_cast<std::size_t>(n), crc_);
    size_ += static_cast<std::uint64_t>(n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    const char byte = traits_type::to_char_type(c);
    xsputn(&byte, 1);
    return c;
  }

 private:
  std::uint64_t size_ = 0;
  std::uint32_t crc_ = 0;
};

/// Python's zipfile.ZIP64_LIMIT: sizes and offsets above it go into ZIP64 fields.
constexpr std::uint64_t npz_zip64_limit = (std::uint64_t{1} << 31) - 1;

/// Appends the `Bytes` low bytes of `v`, little-endian (ZIP's byte order, as npy_store_le stores).
template <std::size_t Bytes>
void zip_put(std::string& out, std::uint64_t v) {
  unsigned char bytes[Bytes];
  npy_store_le(bytes, v, Bytes);
  out.append(reinterpret_cast<const char*>(bytes), Bytes);
}

/// What the archive needs to know of a member once it is written.
struct NpzWritten {
  std::string name;  // the member's name, "<array name>.npy"
  bool utf8 = false;
  std::uint32_t crc = 0;
  std::uint64_t size = 0;
  std::uint64_t offset = 0;  // of its local header
};

// Fields every header of np.savez's members has: made by / needed to extract "2.0" (4.5 with
// ZIP64 sizes), made on Unix (3), stored (method 0), 1980-01-01 00:00 (zipfile's default time:
// DOS date 0x21), permissions rw------- (0o600 << 16, what zipfile gives a member it streams).
constexpr std::uint64_t zip_version = 20;
constexpr std::uint64_t zip_version_zip64 = 45;
constexpr std::uint64_t zip_made_on_unix = 3;
constexpr std::uint64_t zip_dos_date = 0x21;
constexpr std::uint64_t zip_external_attributes = 0600u << 16;
constexpr std::uint64_t zip_utf8_flag = 0x800;

/// The fields a local header and a central directory entry share, from the version needed to
/// extract to the name's length: sizes 0xFFFFFFFF when `big` (they are in the ZIP64 field).
inline void zip_member_fields(std::string& h, const NpzWritten& m, std::uint64_t version, bool big) {
  zip_put<2>(h, version);
  zip_put<2>(h, m.utf8 ? zip_utf8_flag : 0);
  zip_put<2>(h, 0);  // stored
  zip_put<2>(h, 0);  // time
  zip_put<2>(h, zip_dos_date);
  zip_put<4>(h, m.crc);
  zip_put<4>(h, big ? 0xFFFFFFFFu : m.size);
  zip_put<4>(h, big ? 0xFFFFFFFFu : m.size);
  zip_put<2>(h, m.name.size());
}

/// The local header of member `m` as zipfile writes it when np.savez closes the member (with
/// force_zip64: the extra field holds both sizes whatever they are).
inline std::string npz_local_header(const NpzWritten& m, std::uint64_t limit) {
  const bool big = m.size > limit;
  std::string h;
  zip_put<4>(h, 0x04034b50u);
  zip_member_fields(h, m, big ? zip_version_zip64 : zip_version, big);
  zip_put<2>(h, 20);
  h += m.name;
  zip_put<2>(h, 1);  // ZIP64 extended information
  zip_put<2>(h, 16);
  zip_put<8>(h, m.size);
  zip_put<8>(h, m.size);
  return h;
}

/// The central directory entry of member `m` (ZIP64 fields only for what exceeds the limit).
inline std::string npz_central_entry(const NpzWritten& m, std::uint64_t limit) {
  const bool big = m.size > limit;
  const bool far = m.offset > limit;
  std::string extra;
  if (big || far) {
    zip_put<2>(extra, 1);
    zip_put<2>(extra, 8u * ((big ? 2u : 0u) + (far ? 1u : 0u)));
    if (big) {
      zip_put<8>(extra, m.size);
      zip_put<8>(extra, m.size);
    }
    if (far) zip_put<8>(extra, m.offset);
  }
  const std::uint64_t version = big || far ? zip_version_zip64 : zip_version;
  std::string h;
  zip_put<4>(h, 0x02014b50u);
  zip_put<2>(h, version | zip_made_on_unix << 8);
  zip_member_fields(h, m, version, big);
  zip_put<2>(h, extra.size());
  zip_put<2>(h, 0);  // comment
  zip_put<2>(h, 0);  // disk
  zip_put<2>(h, 0);  // internal attributes
  zip_put<4>(h, zip_external_attributes);
  zip_put<4>(h, far ? 0xFFFFFFFFu : m.offset);
  return h + m.name + extra;
}

/// The end records after a central directory of `count` entries, `size` bytes, at `offset`:
/// the ZIP64 end record and its locator first when the count passes 65535 or the offset or
/// size the limit (as zipfile decides), then the end of central directory record.
inline std::string npz_end_records(std::uint64_t count, std::uint64_t size, std::uint64_t offset, std::uint64_t limit) {
  std::string h;
  if (count > 0xFFFFu || offset > limit || size > limit) {
    zip_put<4>(h, 0x06064b50u);
    zip_put<8>(h, 44);  // the record's size after this field
    zip_put<2>(h, zip_version_zip64);
    zip_put<2>(h, zip_version_zip64);
    zip_put<4>(h, 0);  // this disk
    zip_put<4>(h, 0);  // the central directory's disk
    zip_put<8>(h, count);
    zip_put<8>(h, count);
    zip_put<8>(h, size);
    zip_put<8>(h, offset);
    zip_put<4>(h, 0x07064b50u);
    zip_put<4>(h, 0);
    zip_put<8>(h, offset + size);  // where the ZIP64 end record starts
    zip_put<4>(h, 1);              // disks
    count = std::min<std::uint64_t>(count, 0xFFFFu);
    size = std::min<std::uint64_t>(size, 0xFFFFFFFFu);
    offset = std::min<std::uint64_t>(offset, 0xFFFFFFFFu);
  }
  zip_put<4>(h, 0x06054b50u);
  zip_put<2>(h, 0);
  zip_put<2>(h, 0);
  zip_put<2>(h, count);
  zip_put<2>(h, count);
  zip_put<4>(h, size);
  zip_put<4>(h, offset);
  zip_put<2>(h, 0);  // comment
  return h;
}

/// Writes `write`'s .npy bytes for each of `names` (in order) as one .npz archive to `os`,
/// `limit` deciding ZIP64 fields (npz_zip64_limit; tests pass a small one). Each member is
/// written twice through `write(k, stream)`: once to count its bytes and CRC-32, once to `os`.
template <typename Write>
void npz_write(std::ostream& os, const std::vector<std::string>& names, Write&& write,
               std::uint64_t limit = npz_zip64_limit) {
  std::vector<NpzWritten> members;
  members.reserve(names.size());
  std::uint64_t offset = 0;
  const auto put = [&](const std::string& bytes) {
    os.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    offset += bytes.size();
  };
  for (std::size_t k = 0; k < names.size() && os; ++k) {
    NpzWritten m;
    m.name = names[k] + ".npy";
    for (const char c : m.name) m.utf8 = m.utf8 || static_cast<unsigned char>(c) >= 0x80;
    CrcCounter counter;
    std::ostream counting(&counter);
    write(k, counting);
    m.crc = counter.crc();
    m.size = counter.size();
    m.offset = offset;
    put(npz_local_header(m, limit));
    write(k, os);
    offset += m.size;
    members.push_back(std::move(m));
  }
  const std::uint64_t directory = offset;
  for (const NpzWritten& m : members) put(npz_central_entry(m, limit));
  put(npz_end_records(members.size(), offset - directory, directory, limit));
}

}  // namespace attn::io::detail
