// SPDX-License-Identifier: MIT
// Part of attn/io/npz.hpp (include that): NumPy's .npz archives, as np.savez and
// np.savez_compressed write them: a ZIP archive of .npy members. The central directory is read
// from the end of the file (ZIP64 records too: NumPy writes every member with ZIP64 sizes), and a
// member is stored or DEFLATE-compressed (RFC 1951, decoded here: attn depends on Eigen alone),
// then checked against its sizes and CRC-32 before its .npy bytes are parsed. Every length and
// offset is checked against the file before it is used, and an inflated member never grows
// beyond the size its directory entry gives.
#pragma once

#include "../../config.hpp"
#include "npy_header.hpp"  // npy_error, npy_fail
#include "png.hpp"         // crc32 (PNG's and ZIP's are one CRC-32)
#include "write_file.hpp"  // open_for_reading

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <ios>
#include <istream>
#include <limits>
#include <streambuf>
#include <string>
#include <vector>

namespace attn::io::detail {

/// A DEFLATE decoder (RFC 1951): stored, fixed-Huffman and dynamic-Huffman blocks, canonical
/// codes decoded through a table of their first fast_bits bits (codes up to that long in one
/// lookup), longer codes then a bit at a time, as the RFC describes them. Hostile
/// streams fail with npy_error: a code set that is over-subscribed, or incomplete where the RFC
/// allows no gap (only a lone one-bit code may leave one, as zlib accepts), a length or
/// distance symbol out of range, a distance before the first byte, a stored block whose length
/// check fails, data that ends early, or output beyond `limit` bytes.
class Inflate {
 public:
  Inflate(const unsigned char* in, std::size_t size, std::size_t limit, std::string context)
      : in_(in), size_(size), limit_(limit), context_(std::move(context)) {}

  /// The inflated bytes (the stream must end with a final block; bytes after it are ignored).
  std::vector<unsigned char> run() {
    // Grows with what the stream really produces, never to a `limit` it only claims.
    out_.reserve(std::min<std::size_t>(limit_, size_ * 4 + 4096));
    bool last = false;
    while (!last) {
      last = bits(1) == 1;
      switch (bits(2)) {
        case 0: stored(); break;
        case 1: fixed(); break;
        case 2: dynamic(); break;
        default: fail("a block of the reserved type 3");
      }
    }
    return std::move(out_);
  }

 private:
  static constexpr int max_bits = 15;
  static constexpr int fast_bits = 9;  // fixed codes are 7 to 9 bits; zlib's dynamic ones mostly shorter
  struct Huffman {
    std::array<std::uint16_t, max_bits + 1> count{};  // codes of each length (count[0]: unused symbols)
    std::array<std::uint16_t, 288> symbol{};          // the symbols in canonical order
    // The next fast_bits bits of the stream (first bit least significant) → the symbol << 4 |
    // its code's length, for codes of at most fast_bits bits; 0: a longer code, or none.
    std::array<std::uint16_t, std::size_t{1} << fast_bits> fast{};
  };

  [[noreturn]] void fail(const std::string& what) const { npy_fail(context_, "corrupt DEFLATE data: " + what); }

  /// At least `n` bits (n <= 16) in the buffer; past the end of the data, zero bytes, counted in
  /// `padding_` (a table lookup may look past the end; drop() fails if they are consumed).
  void need(int n) {
    while (bit_count_ < n) {
      std::uint32_t byte = 0;
      if (pos_ < size_) {
        byte = in_[pos_++];
      } else {
        ++padding_;
      }
      bit_buffer_ |= byte << bit_count_;
      bit_count_ += 8;
    }
  }

  void drop(int n) {
    bit_buffer_ >>= n;
    bit_count_ -= n;
    if (padding_ != 0 && 8 * padding_ > bit_count_) fail("the compressed data ends early");
  }

  /// The next `n` bits (n <= 16), least significant first.
  std::uint32_t bits(int n) {
    need(n);
    const std::uint32_t value = bit_buffer_ & ((std::uint32_t{1} << n) - 1U);
    drop(n);
    return value;
  }

  void room(std::size_t n) const {
    if (n > limit_ - out_.size()) {
      fail("it inflates to more than the " + std::to_string(limit_) + " bytes its directory entry gives");
    }
  }

  /// Builds the canonical code of `length[0, n)`; returns 0 for a complete code, the number of
  /// unused codes when incomplete, a negative number when over-subscribed.
  static int build(Huffman& h, const std::uint8_t* length, int n) {
    h.count.fill(0);
    for (int s = 0; s < n; ++s) ++h.count[length[s]];
    int left = 1;
    for (int len = 1; len <= max_bits; ++len) {
      left = 2 * left - h.count[static_cast<std::size_t>(len)];
      if (left < 0) return left;
    }
    std::array<std::uint16_t, max_bits + 1> next{};
    for (int len = 1; len < max_bits; ++len) {
      next[static_cast<std::size_t>(len + 1)] =
          static_cast<std::uint16_t>(next[static_cast<std::size_t>(len)] + h.count[static_cast<std::size_t>(len)]);
    }
    for (int s = 0; s < n; ++s) {
      if (length[s] != 0) h.symbol[next[length[s]]++] = static_cast<std::uint16_t>(s);
    }
    // The fast table (only for codes that are not over-subscribed: those are refused). Codes of
    // one length are consecutive in symbol order from that length's first code (RFC 1951 3.2.2);
    // the stream sends a code's most significant bit first, so the table is indexed by the
    // code's bits reversed, and every value of the bits after a short code leads to it.
    h.fast.fill(0);
    if (left >= 0) {
      int code = 0;
      std::size_t index = 0;
      for (int len = 1; len <= fast_bits; ++len) {
        const int count = h.count[static_cast<std::size_t>(len)];
        for (int k = 0; k < count; ++k, ++code, ++index) {
          std::uint32_t reversed = 0;
          for (int b = 0; b < len; ++b) reversed |= ((static_cast<std::uint32_t>(code) >> b) & 1U) << (len - 1 - b);
          const auto entry = static_cast<std::uint16_t>(h.symbol[index] << 4 | len);
          for (std::uint32_t fill = reversed; fill < (std::uint32_t{1} << fast_bits); fill += std::uint32_t{1} << len) {
            h.fast[fill] = entry;
          }
        }
        code <<= 1;
      }
    }
    return left;
  }

  /// A literal/length or distance code: over-subscribed never, incomplete only for a lone code
  /// of one bit (or none at all: a distance code unused by a block of literals).
  void build_checked(Huffman& h, const std::uint8_t* length, int n, const char* what) const {
    const int left = build(h, length, n);
    if (left < 0) fail(std::string("an over-subscribed ") + what + " code");
    if (left > 0 && h.count[0] + h.count[1] != n) fail(std::string("an incomplete ") + what + " code");
  }

  int decode(const Huffman& h) {
    need(fast_bits);
    const std::uint16_t entry = h.fast[bit_buffer_ & ((std::uint32_t{1} << fast_bits) - 1U)];
    if (entry != 0) {
      drop(entry & 0xF);
      return entry >> 4;
    }
    // A code longer than fast_bits (or none): bit by bit from its first bit.
    int code = 0, first = 0, index = 0;
    for (int len = 1; len <= max_bits; ++len) {
      code |= static_cast<int>(bits(1));
      const int count = h.count[static_cast<std::size_t>(len)];
      if (code - first < count) return h.symbol[static_cast<std::size_t>(index + code - first)];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    fail("a code that is not in the block's code set");
  }

  void stored() {
    // To the byte boundary: drop the bits left of the byte being read, and give back the whole
    // bytes a lookup read ahead (padding past the end is not data).
    drop(bit_count_ % 8);
    pos_ -= static_cast<std::size_t>(bit_count_ / 8 - padding_);
    bit_buffer_ = 0;
    bit_count_ = 0;
    padding_ = 0;
    if (size_ - pos_ < 4) fail("the compressed data ends early");
    const std::size_t length = std::size_t{in_[pos_]} | std::size_t{in_[pos_ + 1]} << 8;
    const std::size_t check = std::size_t{in_[pos_ + 2]} | std::size_t{in_[pos_ + 3]} << 8;
    pos_ += 4;
    if (length != (~check & 0xFFFFU)) fail("a stored block whose length check fails");
    if (size_ - pos_ < length) fail("the compressed data ends early");
    room(length);
    out_.insert(out_.end(), in_ + pos_, in_ + pos_ + length);
    pos_ += length;
  }

  void codes(const Huffman& literals, const Huffman& distances) {
    static constexpr std::array<std::uint16_t, 29> length_base{
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    static constexpr std::array<std::uint8_t, 29> length_extra{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                                2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    static constexpr std::array<std::uint16_t, 30> distance_base{
        1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
        193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
    static constexpr std::array<std::uint8_t, 30> distance_extra{0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                                                 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
    for (;;) {
      const int symbol = decode(literals);
      if (symbol < 256) {
        room(1);
        out_.push_back(static_cast<unsigned char>(symbol));
      } else if (symbol == 256) {
        return;
      } else {
        const auto l = static_cast<std::size_t>(symbol - 257);
        if (l >= length_base.size()) fail("a length symbol out of range");
        const std::size_t length = length_base[l] + bits(length_extra[l]);
        const auto d = static_cast<std::size_t>(decode(distances));
        if (d >= distance_base.size()) fail("a distance symbol out of range");
        const std::size_t distance = distance_base[d] + bits(distance_extra[d]);
        if (distance > out_.size()) fail("a distance reaching before the first byte");
        room(length);
        const std::size_t from = out_.size() - distance;
        for (std::size_t i = 0; i < length; ++i) {
          const unsigned char byte = out_[from + i];  // a copy: push_back may move the bytes
          out_.push_back(byte);
        }
      }
    }
  }

  void fixed() {
    std::array<std::uint8_t, 288 + 30> length{};
    for (std::size_t s = 0; s < 288; ++s) length[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
    for (std::size_t s = 288; s < length.size(); ++s) length[s] = 5;
    Huffman literals, distances;
    build(literals, length.data(), 288);
    build(distances, length.data() + 288, 30);
    codes(literals, distances);
  }

  void dynamic() {
    const int literal_count = static_cast<int>(bits(5)) + 257;
    const int distance_count = static_cast<int>(bits(5)) + 1;
    const int code_count = static_cast<int>(bits(4)) + 4;
    if (literal_count > 286 || distance_count > 30) fail("more than 286 literal/length or 30 distance codes");
    static constexpr std::array<std::uint8_t, 19> order{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    std::array<std::uint8_t, 286 + 30> length{};
    for (int k = 0; k < code_count; ++k) length[order[static_cast<std::size_t>(k)]] = static_cast<std::uint8_t>(bits(3));
    Huffman lengths;
    if (build(lengths, length.data(), 19) != 0) fail("an incomplete or over-subscribed code-length code");
    const int total = literal_count + distance_count;
    int k = 0;
    while (k < total) {
      const int symbol = decode(lengths);
      if (symbol < 16) {
        length[static_cast<std::size_t>(k++)] = static_cast<std::uint8_t>(symbol);
        continue;
      }
      std::uint8_t repeated = 0;
      int times = 0;
      if (symbol == 16) {
        if (k == 0) fail("a repeated code length with none before it");
        repeated = length[static_cast<std::size_t>(k - 1)];
        times = 3 + static_cast<int>(bits(2));
      } else if (symbol == 17) {
        times = 3 + static_cast<int>(bits(3));
      } else {
        times = 11 + static_cast<int>(bits(7));
      }
      if (k + times > total) fail("code lengths beyond the counts the block gives");
      while (times-- > 0) length[static_cast<std::size_t>(k++)] = repeated;
    }
    if (length[256] == 0) fail("no end-of-block code");
    Huffman literals, distances;  // the distance code lengths follow the literal/length ones
    build_checked(literals, length.data(), literal_count, "literal/length");
    build_checked(distances, length.data() + literal_count, distance_count, "distance");
    codes(literals, distances);
  }

  const unsigned char* in_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::uint32_t bit_buffer_ = 0;
  int bit_count_ = 0;
  int padding_ = 0;  // zero bytes in the buffer past the end of the data
  std::size_t limit_;
  std::string context_;
  std::vector<unsigned char> out_;
};

/// One member of a ZIP archive, from its central directory entry.
struct ZipMember {
  std::string name;
  std::uint16_t flags = 0;
  std::uint16_t method = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed = 0;
  std::uint64_t size = 0;
  std::uint64_t offset = 0;  // of its local header
};

inline std::uint32_t zip_u16(const unsigned char* p) { return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8; }
inline std::uint32_t zip_u32(const unsigned char* p) { return zip_u16(p) | zip_u16(p + 2) << 16; }
inline std::uint64_t zip_u64(const unsigned char* p) { return std::uint64_t{zip_u32(p)} | std::uint64_t{zip_u32(p + 4)} << 32; }

/// An open archive: its size and its members, in central directory order.
struct ZipArchive {
  std::ifstream file;
  std::uint64_t size = 0;
  std::vector<ZipMember> members;
  std::string context;  // "who: 'path': "

  /// `n` bytes at `offset`, which the caller has checked lie inside the file.
  std::vector<unsigned char> read(std::uint64_t offset, std::uint64_t n) {
    // (A 32-bit build cannot hold more than SIZE_MAX bytes: a larger directory or member is refused.)
    if (n > std::numeric_limits<std::size_t>::max() / 2) {
      npy_fail(context, std::to_string(n) + " bytes at " + std::to_string(offset) + " are more than this build can hold");
    }
    std::vector<unsigned char> bytes(static_cast<std::size_t>(n));
    file.clear();
    file.seekg(static_cast<std::streamoff>(offset));
    file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(n));
    if (!file || static_cast<std::uint64_t>(file.gcount()) != n) npy_fail(context, "reading the archive failed");
    return bytes;
  }
  bool inside(std::uint64_t offset, std::uint64_t n) const { return offset <= size && n <= size - offset; }
};

/// Opens the ZIP archive at `path` and reads its central directory. Throws std::runtime_error
/// when the file cannot be opened and npy_error for what is not a (readable) ZIP archive.
inline ZipArchive zip_open(const std::filesystem::path& path, const std::string& who) {
  ZipArchive zip;
  zip.file = open_for_reading(path, who);
  zip.context = who + ": '" + path.string() + "': ";
  zip.file.seekg(0, std::ios_base::end);
  const std::streamoff end = zip.file.tellg();
  if (end < 0) npy_fail(zip.context, "cannot tell the file's size");
  zip.size = static_cast<std::uint64_t>(end);
  constexpr std::uint64_t eocd = 22;  // end of central directory record, without its comment
  const auto not_zip = [&] {
    npy_fail(zip.context, "not an .npz file (a ZIP archive, as np.savez writes): " +
                              std::string(zip.size >= 4 && zip.read(0, 4) == std::vector<unsigned char>{'P', 'K', 3, 4}
                                              ? "it starts as one but has no end of central directory (truncated?)"
                                              : "no ZIP signature"));
  };
  if (zip.size < eocd) not_zip();
  const std::uint64_t tail_size = std::min<std::uint64_t>(zip.size, eocd + 0xFFFF);
  const std::vector<unsigned char> tail = zip.read(zip.size - tail_size, tail_size);
  std::size_t at = tail.size() - static_cast<std::size_t>(eocd) + 1;
  bool found = false;
  while (at-- > 0) {  // the last record whose comment reaches the end of the file
    const unsigned char* p = tail.data() + at;
    if (zip_u32(p) == 0x06054b50U && at + eocd + zip_u16(p + 20) == tail.size()) {
      found = true;
      break;
    }
  }
  if (!found) not_zip();
  const unsigned char* record = tail.data() + at;
  const std::uint64_t record_offset = zip.size - tail_size + at;
  std::uint64_t entries = zip_u16(record + 10);
  std::uint64_t directory_size = zip_u32(record + 12);
  std::uint64_t directory_offset = zip_u32(record + 16);
  const auto other_disk = [](std::uint32_t disk) { return disk != 0 && disk != 0xFFFF; };  // 0xFFFF: see ZIP64
  if (other_disk(zip_u16(record + 4)) || other_disk(zip_u16(record + 6))) {
    npy_fail(zip.context, "a ZIP archive split over several disks");
  }
  if (entries == 0xFFFF || directory_size == 0xFFFFFFFFU || directory_offset == 0xFFFFFFFFU) {
    // ZIP64: a locator right before the record points at the ZIP64 end of central directory.
    if (record_offset < 20) npy_fail(zip.context, "a ZIP64 archive without its ZIP64 locator");
    const std::vector<unsigned char> locator = zip.read(record_offset - 20, 20);
    if (zip_u32(locator.data()) != 0x07064b50U) npy_fail(zip.context, "a ZIP64 archive without its ZIP64 locator");
    const std::uint64_t at64 = zip_u64(locator.data() + 8);
    if (!zip.inside(at64, 56)) npy_fail(zip.context, "its ZIP64 end of central directory lies outside the file");
    const std::vector<unsigned char> record64 = zip.read(at64, 56);
    if (zip_u32(record64.data()) != 0x06064b50U) npy_fail(zip.context, "no ZIP64 end of central directory where its locator points");
    entries = zip_u64(record64.data() + 32);
    directory_size = zip_u64(record64.data() + 40);
    directory_offset = zip_u64(record64.data() + 48);
  }
  constexpr std::uint64_t entry_size = 46;  // a central directory entry without name, extra, comment
  if (!zip.inside(directory_offset, directory_size) || entries > directory_size / entry_size) {
    npy_fail(zip.context, "its central directory (" + std::to_string(entries) + " entries, " +
                              std::to_string(directory_size) + " bytes at " + std::to_string(directory_offset) +
                              ") does not fit in the file's " + std::to_string(zip.size) + " bytes");
  }
  const std::vector<unsigned char> directory = zip.read(directory_offset, directory_size);
  std::size_t pos = 0;
  for (std::uint64_t e = 0; e < entries; ++e) {
    const auto bad_entry = [&](const std::string& what) {
      npy_fail(zip.context, "central directory entry " + std::to_string(e) + ": " + what);
    };
    if (directory.size() - pos < entry_size || zip_u32(directory.data() + pos) != 0x02014b50U) {
      bad_entry("no entry signature where one should start");
    }
    const unsigned char* p = directory.data() + pos;
    const std::size_t name_size = zip_u16(p + 28), extra_size = zip_u16(p + 30), comment_size = zip_u16(p + 32);
    if (directory.size() - pos - entry_size < name_size + extra_size + comment_size) bad_entry("it runs past the directory");
    ZipMember m;
    m.flags = static_cast<std::uint16_t>(zip_u16(p + 8));
    m.method = static_cast<std::uint16_t>(zip_u16(p + 10));
    m.crc = zip_u32(p + 16);
    m.compressed = zip_u32(p + 20);
    m.size = zip_u32(p + 24);
    m.offset = zip_u32(p + 42);
    m.name.assign(reinterpret_cast<const char*>(p + entry_size), name_size);
    // The ZIP64 extra field (id 1) holds, in this order, each 32-bit field that is 0xFFFFFFFF.
    const unsigned char* extra = p + entry_size + name_size;
    for (std::size_t x = 0; x + 4 <= extra_size;) {
      const std::uint32_t id = zip_u16(extra + x), n = zip_u16(extra + x + 2);
      if (x + 4 + n > extra_size) bad_entry("an extra field runs past its entry");
      if (id == 1) {
        std::size_t f = x + 4;
        for (std::uint64_t* field : {&m.size, &m.compressed, &m.offset}) {
          if (*field != 0xFFFFFFFFU) continue;
          if (f + 8 > x + 4 + n) bad_entry("its ZIP64 extra field is too short");
          *field = zip_u64(extra + f);
          f += 8;
        }
      }
      x += 4 + n;
    }
    zip.members.push_back(std::move(m));
    pos += static_cast<std::size_t>(entry_size) + name_size + extra_size + comment_size;
  }
  return zip;
}

/// The bytes of member `m` of `zip`: stored or inflated, checked against its sizes and CRC-32.
inline std::vector<unsigned char> zip_member_bytes(ZipArchive& zip, const ZipMember& m) {
  const std::string context = zip.context + "member '" + m.name + "': ";
  if ((m.flags & 1U) != 0) npy_fail(context, "it is encrypted");
  if (m.method != 0 && m.method != 8) {
    npy_fail(context, "compression method " + std::to_string(m.method) +
                          ": attn reads stored and DEFLATE members (what np.savez and np.savez_compressed write)");
  }
  if (!zip.inside(m.offset, 30)) npy_fail(context, "its local header lies outside the file");
  const std::vector<unsigned char> local = zip.read(m.offset, 30);
  if (zip_u32(local.data()) != 0x04034b50U) npy_fail(context, "no local header where its directory entry points");
  const std::uint64_t data = m.offset + 30 + zip_u16(local.data() + 26) + zip_u16(local.data() + 28);
  if (!zip.inside(data, m.compressed)) npy_fail(context, "its data runs past the end of the file");
  if (m.size > static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max())) {
    npy_fail(context, "a size of " + std::to_string(m.size) + " bytes");
  }
  std::vector<unsigned char> bytes = zip.read(data, m.compressed);
  if (m.method == 8) {
    bytes = Inflate(bytes.data(), bytes.size(), static_cast<std::size_t>(m.size), context).run();
  }
  if (bytes.size() != m.size) {
    npy_fail(context, "it holds " + std::to_string(bytes.size()) + " bytes, its directory entry says " +
                          std::to_string(m.size));
  }
  if (crc32(bytes.data(), bytes.size()) != m.crc) npy_fail(context, "its CRC-32 does not match (a damaged file?)");
  return bytes;
}

/// The name np.load gives a member: without its ".npy".
inline std::string npz_key(const std::string& member) {
  const std::string suffix = ".npy";
  const bool npy = member.size() > suffix.size() && member.compare(member.size() - suffix.size(), suffix.size(), suffix) == 0;
  return npy ? member.substr(0, member.size() - suffix.size()) : member;
}

/// The array names of `zip`, in archive order (np.load(path).files).
inline std::vector<std::string> npz_keys(const ZipArchive& zip) {
  std::vector<std::string> names;
  names.reserve(zip.members.size());
  for (const ZipMember& m : zip.members) names.push_back(npz_key(m.name));
  return names;
}

/// The member np.load(path)[name] reads: "name.npy", or a member named `name` itself (the last
/// of equal names, as Python's zipfile keeps). Lists the archive's names when there is none.
inline const ZipMember& npz_find(const ZipArchive& zip, const std::string& name) {
  const ZipMember* found = nullptr;
  for (const ZipMember& m : zip.members) {
    if (m.name == name + ".npy") found = &m;
  }
  if (!found) {
    for (const ZipMember& m : zip.members) {
      if (m.name == name) found = &m;
    }
  }
  if (found) return *found;
  std::string names;
  for (std::size_t k = 0; k < zip.members.size() && k < 20; ++k) names += (k ? ", '" : "'") + npz_key(zip.members[k].name) + "'";
  if (zip.members.size() > 20) names += ", ... (" + std::to_string(zip.members.size()) + " in all)";
  npy_fail(zip.context, "no array named '" + name + "'; the archive holds " + (names.empty() ? "none" : names));
}

/// A read-only stream buffer over bytes in memory that can seek (npy_bytes_left measures it).
class ByteBuffer : public std::streambuf {
 public:
  ByteBuffer(const unsigned char* p, std::size_t n) {
    char* begin = const_cast<char*>(reinterpret_cast<const char*>(p));  // never written: no put area
    setg(begin, begin, begin + n);
  }

 protected:
  pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode which) override {
    if ((which & std::ios_base::in) == 0) return pos_type(off_type(-1));
    const off_type base = dir == std::ios_base::beg ? 0 : dir == std::ios_base::cur ? gptr() - eback() : egptr() - eback();
    const off_type target = base + off;
    if (target < 0 || target > egptr() - eback()) return pos_type(off_type(-1));
    setg(eback(), eback() + target, egptr());
    return pos_type(target);
  }
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override {
    return seekoff(off_type(pos), std::ios_base::beg, which);
  }
};

/// `read(is, context)` on an istream over the .npy bytes of array `name` of the archive at
/// `path` (read_npz_array, read_npz); `who` names the caller in messages.
template <typename Read>
auto npz_read(const std::filesystem::path& path, const std::string& name, const char* who, Read&& read) {
  ZipArchive zip = zip_open(path, who);
  const std::vector<unsigned char> bytes = zip_member_bytes(zip, npz_find(zip, name));
  ByteBuffer buffer(bytes.data(), bytes.size());
  std::istream is(&buffer);
  return read(is, zip.context + "array '" + name + "': ");
}

}  // namespace attn::io::detail
