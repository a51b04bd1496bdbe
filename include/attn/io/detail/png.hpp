// SPDX-License-Identifier: MIT
// A minimal PNG encoder (8-bit RGB; compressed by its own deflate, no compression library needed)
// and base64, for heatmap PNGs, TensorBoard images and the raster layer that the SVG heatmap
// embeds for large maps.
#pragma once

#include "../colormap.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace attn::io::detail {

/// A reflected CRC-32 with the bit-reversed `Polynomial` (0xEDB88320: zlib's and PNG's CRC-32;
/// 0x82F63B78: CRC-32C), pre- and post-inverted; `crc` continues an earlier result.
template <std::uint32_t Polynomial>
std::uint32_t reflected_crc32(const unsigned char* data, std::size_t size, std::uint32_t crc = 0) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? Polynomial ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

/// The CRC-32 of PNG chunks, ZIP members (npz_read.hpp) and zlib.
inline std::uint32_t crc32(const unsigned char* data, std::size_t size, std::uint32_t crc = 0) {
  return reflected_crc32<0xEDB88320u>(data, size, crc);
}

inline void png_put32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xFFu));
  out.push_back(static_cast<char>((v >> 16) & 0xFFu));
  out.push_back(static_cast<char>((v >> 8) & 0xFFu));
  out.push_back(static_cast<char>(v & 0xFFu));
}

inline void png_chunk(std::string& out, const char* type, const std::string& data) {
  png_put32(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t start = out.size();
  out.append(type, 4);
  out += data;
  png_put32(out, crc32(reinterpret_cast<const unsigned char*>(out.data() + start), out.size() - start));
}

/// Writes bits to a deflate stream, least significant bit first (RFC 1951, 3.1.1).
class DeflateBits {
 public:
  explicit DeflateBits(std::string& out) : out_(out) {}
  void put(std::uint32_t value, int count) {
    buffer_ |= static_cast<std::uint64_t>(value) << filled_;
    filled_ += count;
    while (filled_ >= 8) {
      out_.push_back(static_cast<char>(buffer_ & 0xFFu));
      buffer_ >>= 8;
      filled_ -= 8;
    }
  }
  /// A Huffman code: its bits go most significant first.
  void code(std::uint32_t value, int count) {
    std::uint32_t reversed = 0;
    for (int i = 0; i < count; ++i) reversed |= ((value >> i) & 1u) << (count - 1 - i);
    put(reversed, count);
  }
  /// The literal/length symbol `s` (0..287) in the fixed Huffman code (RFC 1951, 3.2.6).
  void symbol(std::uint32_t s) {
    if (s < 144) code(0x30u + s, 8);
    else if (s < 256) code(0x190u + (s - 144), 9);
    else if (s < 280) code(s - 256, 7);
    else code(0xC0u + (s - 280), 8);
  }
  void flush() {
    if (filled_ > 0) put(0, 8 - filled_);
  }

 private:
  std::string& out_;
  std::uint64_t buffer_ = 0;
  int filled_ = 0;
};

/// Deflate data (RFC 1951) of `raw` in one block of the fixed Huffman codes: greedy matches of at
/// least 3 bytes found through the last occurrences of each 3-byte sequence (hash chains over the
/// 32 KiB window, a few candidates each), which in a heatmap's scanlines are mostly the pixel
/// before (a cell's run of one colour) and the scanline above (a cell's rows). Returns stored
/// blocks instead when those are shorter (noise), so the stream never grows by more than
/// 5 bytes in 65535.
inline std::string deflate_fixed(const std::string& raw) {
  static constexpr std::uint16_t length_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                                    31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static constexpr std::uint8_t length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                    2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  static constexpr std::uint16_t distance_base[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                                      33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                                      1025, 1537, 2049, 3073, 4097, 6145,  8193,  12289, 16385, 24577};
  static constexpr std::uint8_t distance_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                                      6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
  constexpr std::size_t window = 32768;
  constexpr std::size_t max_match = 258;
  constexpr int candidates = 8;
  constexpr std::size_t hash_size = std::size_t(1) << 15;
  const auto* data = reinterpret_cast<const unsigned char*>(raw.data());
  const std::size_t n = raw.size();
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  std::vector<std::size_t> head(hash_size, none);
  std::vector<std::size_t> previous(window, none);  // previous[i % window]: the last earlier i with i's hash
  const auto hash = [&](std::size_t i) {
    const std::uint32_t v = (std::uint32_t(data[i]) << 16) | (std::uint32_t(data[i + 1]) << 8) | data[i + 2];
    return static_cast<std::size_t>((v * 2654435761u) >> 17) & (hash_size - 1);
  };
  const auto insert = [&](std::size_t i) {
    if (i + 3 > n) return;
    const std::size_t h = hash(i);
    previous[i % window] = head[h];
    head[h] = i;
  };

  std::string out;
  DeflateBits bits(out);
  bits.put(1, 1);  // BFINAL
  bits.put(1, 2);  // BTYPE = 01: fixed Huffman codes
  for (std::size_t i = 0; i < n;) {
    std::size_t best_length = 0;
    std::size_t best_distance = 0;
    if (i + 3 <= n) {
      const std::size_t limit = std::min(max_match, n - i);
      std::size_t at = head[hash(i)];
      for (int c = 0; c < candidates && at != none && i - at <= window; ++c) {
        std::size_t length = 0;
        while (length < limit && data[at + length] == data[i + length]) ++length;
        if (length > best_length) {
          best_length = length;
          best_distance = i - at;
          if (length == limit) break;
        }
        const std::size_t next = previous[at % window];
        if (next == none || next >= at) break;  // the slot was reused by a later position
        at = next;
      }
    }
    if (best_length >= 3) {
      std::size_t code = 28;
      while (length_base[code] > best_length) --code;
      bits.symbol(static_cast<std::uint32_t>(257 + code));
      bits.put(static_cast<std::uint32_t>(best_length - length_base[code]), length_extra[code]);
      std::size_t dcode = 29;
      while (distance_base[dcode] > best_distance) --dcode;
      bits.code(static_cast<std::uint32_t>(dcode), 5);
      bits.put(static_cast<std::uint32_t>(best_distance - distance_base[dcode]), distance_extra[dcode]);
      for (std::size_t k = 0; k < best_length; ++k) insert(i + k);
      i += best_length;
    } else {
      bits.symbol(data[i]);
      insert(i);
      ++i;
    }
  }
  bits.symbol(256);  // end of block
  bits.flush();

  const std::size_t blocks = std::max<std::size_t>(1, (n + 65534) / 65535);
  if (out.size() <= n + 5 * blocks) return out;
  std::string stored;
  std::size_t at = 0;
  do {
    const std::size_t size = std::min<std::size_t>(65535, n - at);
    const bool last = at + size == n;
    stored.push_back(last ? '\x01' : '\x00');  // BFINAL, BTYPE = 00 (stored)
    stored.push_back(static_cast<char>(size & 0xFFu));
    stored.push_back(static_cast<char>((size >> 8) & 0xFFu));
    stored.push_back(static_cast<char>(~size & 0xFFu));
    stored.push_back(static_cast<char>((~size >> 8) & 0xFFu));
    stored.append(raw, at, size);
    at += size;
  } while (at < n);
  return stored;
}

/// PNG bytes of a `width×height` RGB image; `pixels` row by row from the top (size width·height).
inline std::string png_rgb(std::uint32_t width, std::uint32_t height, const std::vector<Rgb>& pixels) {
  // Each scanline: a filter byte, then RGB. A scanline equal to the one above (the rows of a
  // heatmap's cell) takes filter 2 (Up: each byte minus the byte above), i.e. zeros, which
  // deflate_fixed codes in matches of 258 bytes at distance 1; other scanlines filter 0 (None).
  const std::size_t stride = 3 * static_cast<std::size_t>(width);
  std::string raw;
  raw.reserve(static_cast<std::size_t>(height) * (1 + stride));
  for (std::uint32_t y = 0; y < height; ++y) {
    const Rgb* row = pixels.data() + static_cast<std::size_t>(y) * width;
    const bool same = y > 0 && std::equal(row, row + width, row - width, [](const Rgb& p, const Rgb& q) {
                        return p.r == q.r && p.g == q.g && p.b == q.b;
                      });
    if (same) {
      raw.push_back('\x02');
      raw.append(stride, '\0');
      continue;
    }
    raw.push_back('\0');
    for (std::uint32_t x = 0; x < width; ++x) {
      raw.push_back(static_cast<char>(row[x].r));
      raw.push_back(static_cast<char>(row[x].g));
      raw.push_back(static_cast<char>(row[x].b));
    }
  }
  std::string z = "\x78\x01";  // zlib header: deflate, 32K window, no preset dictionary
  z += deflate_fixed(raw);
  std::uint32_t a = 1;
  std::uint32_t b = 0;
  for (const char ch : raw) {
    a = (a + static_cast<unsigned char>(ch)) % 65521u;
    b = (b + a) % 65521u;
  }
  png_put32(z, (b << 16) | a);

  std::string png = "\x89PNG\r\n\x1a\n";
  std::string header;
  png_put32(header, width);
  png_put32(header, height);
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit, RGB, deflate, filter method 0, no interlace
  png_chunk(png, "IHDR", header);
  png_chunk(png, "IDAT", z);
  png_chunk(png, "IEND", std::string());
  return png;
}

inline std::string base64(const std::string& bytes) {
  static const char* const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
                            (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                            static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(alphabet[(v >> 18) & 63u]);
    out.push_back(alphabet[(v >> 12) & 63u]);
    out.push_back(alphabet[(v >> 6) & 63u]);
    out.push_back(alphabet[v & 63u]);
  }
  if (i < bytes.size()) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out.push_back(alphabet[(v >> 18) & 63u]);
    out.push_back(alphabet[(v >> 12) & 63u]);
    out.push_back(i + 1 < bytes.size() ? alphabet[(v >> 6) & 63u] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace attn::io::detail
