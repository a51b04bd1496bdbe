// SPDX-License-Identifier: MIT
// Test-side readers of the binary formats attn writes, written from the specifications and
// sharing no code with the library: bitwise CRC-32 (PNG) and CRC-32C (TFRecord), Adler-32, an
// inflater of stored and fixed-Huffman deflate blocks (RFC 1951; dynamic Huffman blocks, which
// attn does not write, are refused), a PNG decoder for 8-bit RGB images (every chunk CRC, the zlib
// header and Adler-32 checked), a TFRecord reader (both masked CRCs checked) and a protobuf wire
// walker.
// Each reader throws std::runtime_error saying what is wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace test_formats {

/// A reflected CRC-32 with initial value and final xor 0xFFFFFFFF, bit by bit.
inline std::uint32_t crc32_reflected(const std::string& bytes, std::uint32_t polynomial) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char ch : bytes) {
    crc ^= static_cast<unsigned char>(ch);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (polynomial & (0u - (crc & 1u)));
  }
  return ~crc;
}

/// CRC-32 (ISO-HDLC, as PNG uses it): reflected polynomial 0xEDB88320.
inline std::uint32_t crc32_bitwise(const std::string& bytes) { return crc32_reflected(bytes, 0xEDB88320u); }

/// CRC-32C (Castagnoli, as TFRecord uses it): reflected polynomial 0x82F63B78.
inline std::uint32_t crc32c_bitwise(const std::string& bytes) { return crc32_reflected(bytes, 0x82F63B78u); }

/// TFRecord's mask of a CRC-32C.
inline std::uint32_t tfrecord_mask(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

inline std::uint32_t adler32(const std::string& bytes) {
  std::uint32_t a = 1, b = 0;
  for (const char ch : bytes) {
    a = (a + static_cast<unsigned char>(ch)) % 65521u;
    b = (b + a) % 65521u;
  }
  return (b << 16) | a;
}

inline std::uint64_t read_le(const std::string& s, std::size_t at, int bytes) {
  if (at + static_cast<std::size_t>(bytes) > s.size()) throw std::runtime_error("read past the end");
  std::uint64_t v = 0;
  for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(k)]);
  return v;
}

inline std::uint32_t read_be32(const std::string& s, std::size_t at) {
  if (at + 4 > s.size()) throw std::runtime_error("read past the end");
  std::uint32_t v = 0;
  for (std::size_t k = 0; k < 4; ++k) v = (v << 8) | static_cast<unsigned char>(s[at + k]);
  return v;
}

/// Reads a deflate stream bit by bit, least significant bit of each byte first.
class InflateBits {
 public:
  InflateBits(const std::string& data, std::size_t at) : data_(data), byte_(at) {}
  std::uint32_t bit() {
    if (byte_ >= data_.size()) throw std::runtime_error("deflate data cut short");
    const std::uint32_t b = (static_cast<unsigned char>(data_[byte_]) >> bit_) & 1u;
    if (++bit_ == 8) {
      bit_ = 0;
      ++byte_;
    }
    return b;
  }
  /// `count` bits, the first read the least significant (extra bits, block headers).
  std::uint32_t bits(int count) {
    std::uint32_t v = 0;
    for (int k = 0; k < count; ++k) v |= bit() << k;
    return v;
  }
  /// `count` more bits of a Huffman code, the first read the most significant.
  std::uint32_t code(std::uint32_t prefix, int count) {
    for (int k = 0; k < count; ++k) prefix = (prefix << 1) | bit();
    return prefix;
  }
  /// Skips to the next byte boundary; returns the position of that byte.
  std::size_t align() {
    if (bit_ != 0) {
      bit_ = 0;
      ++byte_;
    }
    return byte_;
  }
  void seek(std::size_t at) { byte_ = at; }

 private:
  const std::string& data_;
  std::size_t byte_;
  int bit_ = 0;
};

/// Inflates the deflate blocks of `data` from byte `at` (RFC 1951): stored blocks and blocks of
/// the fixed Huffman codes (3.2.6); a dynamic-Huffman block throws. `at` ends past the last byte.
inline std::string inflate(const std::string& data, std::size_t& at) {
  static const int length_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static const int distance_base[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                                        193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
  std::string out;
  InflateBits in(data, at);
  for (bool last = false; !last;) {
    last = in.bit() != 0;
    const std::uint32_t type = in.bits(2);
    if (type == 0) {
      const std::size_t start = in.align();
      const auto len = static_cast<std::uint32_t>(read_le(data, start, 2));
      const auto nlen = static_cast<std::uint32_t>(read_le(data, start + 2, 2));
      if ((len ^ 0xFFFFu) != nlen) throw std::runtime_error("LEN and NLEN disagree");
      if (start + 4 + len > data.size()) throw std::runtime_error("a stored block runs past the end");
      out += data.substr(start + 4, len);
      in.seek(start + 4 + len);
      continue;
    }
    if (type != 1) throw std::runtime_error("a deflate block type other than stored or fixed Huffman");
    for (;;) {
      // Fixed literal/length code: 7-bit codes 0..23 are 256..279; 8-bit 48..191 are 0..143 and
      // 192..199 are 280..287; 9-bit 400..511 are 144..255.
      std::uint32_t c = in.code(0, 7);
      int symbol;
      if (c <= 23) {
        symbol = 256 + static_cast<int>(c);
      } else {
        c = in.code(c, 1);
        if (c >= 48 && c <= 191) symbol = static_cast<int>(c) - 48;
        else if (c >= 192 && c <= 199) symbol = 280 + static_cast<int>(c) - 192;
        else symbol = 144 + static_cast<int>(in.code(c, 1)) - 400;
      }
      if (symbol < 256) {
        out.push_back(static_cast<char>(symbol));
        continue;
      }
      if (symbol == 256) break;
      if (symbol > 285) throw std::runtime_error("length symbol " + std::to_string(symbol) + " is not defined");
      const int l = symbol - 257;
      const int length_extra = l < 8 || l == 28 ? 0 : (l - 4) / 4;
      const int length = length_base[l] + static_cast<int>(in.bits(length_extra));
      const auto d = static_cast<int>(in.code(0, 5));
      if (d > 29) throw std::runtime_error("distance code " + std::to_string(d) + " is not defined");
      const int distance_extra = d < 4 ? 0 : (d - 2) / 2;
      const auto distance = static_cast<std::size_t>(distance_base[d] + static_cast<int>(in.bits(distance_extra)));
      if (distance > out.size()) throw std::runtime_error("a distance reaches before the start");
      for (int k = 0; k < length; ++k) out.push_back(out[out.size() - distance]);
    }
  }
  at = in.align();
  return out;
}

/// A decoded 8-bit RGB image; pixel (x, y) is rgb[3·(y·width + x) + c].
struct Image {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::vector<unsigned char> rgb;
  std::vector<int> pixel(std::uint32_t x, std::uint32_t y) const {
    const std::size_t at = 3 * (static_cast<std::size_t>(y) * width + x);
    return {rgb.at(at), rgb.at(at + 1), rgb.at(at + 2)};
  }
};

/// Decodes a PNG that is 8-bit RGB, non-interlaced, each scanline with filter 0 or 2 (zlib data: see inflate).
inline Image decode_png(const std::string& png) {
  if (png.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) != 0) throw std::runtime_error("no PNG signature");
  Image image;
  std::string zdata;
  bool ended = false;
  bool header = false;
  for (std::size_t at = 8; at < png.size() && !ended;) {
    const std::uint32_t length = read_be32(png, at);
    if (at + 12 + length > png.size()) throw std::runtime_error("a chunk runs past the end");
    const std::string type_and_data = png.substr(at + 4, 4 + length);
    const std::string type = type_and_data.substr(0, 4);
    if (crc32_bitwise(type_and_data) != read_be32(png, at + 8 + length)) throw std::runtime_error("bad CRC of chunk " + type);
    const std::string data = type_and_data.substr(4);
    if (type == "IHDR") {
      image.width = read_be32(data, 0);
      image.height = read_be32(data, 4);
      if (data.substr(8) != std::string("\x08\x02\x00\x00\x00", 5)) throw std::runtime_error("not 8-bit RGB");
      header = true;
    } else if (type == "IDAT") {
      zdata += data;
    } else if (type == "IEND") {
      ended = true;
    }
    at += 12 + length;
  }
  if (!header || !ended) throw std::runtime_error("IHDR or IEND missing");
  if (zdata.size() < 6) throw std::runtime_error("zlib stream too short");
  const auto cmf = static_cast<unsigned char>(zdata[0]);
  const auto flg = static_cast<unsigned char>(zdata[1]);
  if ((cmf & 0x0Fu) != 8 || (cmf * 256u + flg) % 31u != 0 || (flg & 0x20u) != 0) throw std::runtime_error("bad zlib header");
  std::size_t at = 2;
  const std::string raw = inflate(zdata, at);
  if (read_be32(zdata, at) != adler32(raw)) throw std::runtime_error("bad Adler-32");
  const std::size_t stride = 1 + 3 * static_cast<std::size_t>(image.width);
  if (raw.size() != stride * image.height) throw std::runtime_error("wrong amount of image data");
  for (std::uint32_t y = 0; y < image.height; ++y) {
    const char filter = raw[y * stride];
    if (filter != '\0' && filter != '\2') throw std::runtime_error("a scanline filter other than 0 (None) or 2 (Up)");
    for (std::size_t k = 1; k < stride; ++k) {
      const auto above = y > 0 && filter == '\2' ? image.rgb[image.rgb.size() - (stride - 1)] : 0;
      image.rgb.push_back(static_cast<unsigned char>(static_cast<unsigned char>(raw[y * stride + k]) + above));
    }
  }
  return image;
}

/// The payloads of a TFRecord file, both masked CRC-32Cs of each record checked.
inline std::vector<std::string> read_tfrecords(const std::string& file) {
  std::vector<std::string> records;
  for (std::size_t at = 0; at < file.size();) {
    const std::string length_bytes = file.substr(at, 8);
    const std::uint64_t length = read_le(file, at, 8);
    if (tfrecord_mask(crc32c_bitwise(length_bytes)) != read_le(file, at + 8, 4)) {
      throw std::runtime_error("record " + std::to_string(records.size()) + ": bad CRC of the length");
    }
    if (at + 16 + length > file.size()) throw std::runtime_error("record " + std::to_string(records.size()) + " cut short");
    const std::string data = file.substr(at + 12, length);
    if (tfrecord_mask(crc32c_bitwise(data)) != read_le(file, at + 12 + length, 4)) {
      throw std::runtime_error("record " + std::to_string(records.size()) + ": bad CRC of the data");
    }
    records.push_back(data);
    at += 16 + length;
  }
  return records;
}

/// One protobuf field: its number, wire type and value (varint / fixed bits, or bytes).
struct Field {
  std::uint32_t number = 0;
  int wire = 0;
  std::uint64_t bits = 0;
  std::string bytes;
  double as_double() const {
    double d = 0;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  float as_float() const {
    const auto b = static_cast<std::uint32_t>(bits);
    float f = 0;
    std::memcpy(&f, &b, sizeof f);
    return f;
  }
};

/// The top-level fields of a protobuf message (wire types 0, 1, 2, 5).
inline std::vector<Field> parse_fields(const std::string& message) {
  std::vector<Field> fields;
  std::size_t at = 0;
  const auto varint = [&] {
    std::uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      if (at >= message.size() || shift > 63) throw std::runtime_error("bad varint");
      const auto b = static_cast<unsigned char>(message[at++]);
      v |= static_cast<std::uint64_t>(b & 0x7Fu) << shift;
      if ((b & 0x80u) == 0) return v;
    }
  };
  while (at < message.size()) {
    const std::uint64_t key = varint();
    Field f;
    f.number = static_cast<std::uint32_t>(key >> 3);
    f.wire = static_cast<int>(key & 7u);
    if (f.wire == 0) {
      f.bits = varint();
    } else if (f.wire == 1) {
      f.bits = read_le(message, at, 8);
      at += 8;
    } else if (f.wire == 5) {
      f.bits = read_le(message, at, 4);
      at += 4;
    } else if (f.wire == 2) {
      const std::uint64_t n = varint();
      if (at + n > message.size()) throw std::runtime_error("a length-delimited field runs past the end");
      f.bytes = message.substr(at, n);
      at += n;
    } else {
      throw std::runtime_error("unexpected wire type " + std::to_string(f.wire));
    }
    fields.push_back(f);
  }
  return fields;
}

/// The first field numbered `number`; throws when there is none.
inline Field field(const std::vector<Field>& fields, std::uint32_t number) {
  for (const Field& f : fields) {
    if (f.number == number) return f;
  }
  throw std::runtime_error("no field " + std::to_string(number));
}

}  // namespace test_formats
