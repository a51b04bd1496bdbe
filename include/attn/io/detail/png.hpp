// SPDX-License-Identifier: MIT
// A minimal PNG encoder (8-bit RGB, zlib "stored" blocks: no compression library needed) and
// base64, for the raster layer that the SVG heatmap embeds for large maps.
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

/// The CRC-32 of PNG chunks.
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

/// PNG bytes of a `width×height` RGB image; `pixels` row by row from the top (size width·height).
inline std::string png_rgb(std::uint32_t width, std::uint32_t height, const std::vector<Rgb>& pixels) {
  std::string raw;  // filter byte 0 + RGB per scanline
  raw.reserve(static_cast<std::size_t>(height) * (1 + 3 * static_cast<std::size_t>(width)));
  for (std::uint32_t y = 0; y < height; ++y) {
    raw.push_back('\0');
    for (std::uint32_t x = 0; x < width; ++x) {
      const Rgb& c = pixels[static_cast<std::size_t>(y) * width + x];
      raw.push_back(static_cast<char>(c.r));
      raw.push_back(static_cast<char>(c.g));
      raw.push_back(static_cast<char>(c.b));
    }
  }
  std::string z = "\x78\x01";  // zlib header: deflate, 32K window, no preset dictionary
  std::size_t at = 0;
  do {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - at);
    const bool last = at + n == raw.size();
    z.push_back(last ? '\x01' : '\x00');  // BFINAL, BTYPE = 00 (stored)
    z.push_back(static_cast<char>(n & 0xFFu));
    z.push_back(static_cast<char>((n >> 8) & 0xFFu));
    z.push_back(static_cast<char>(~n & 0xFFu));
    z.push_back(static_cast<char>((~n >> 8) & 0xFFu));
    z.append(raw, at, n);
    at += n;
  } while (at < raw.size());
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
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit, RGB, deflate, no filter, no interlace
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
