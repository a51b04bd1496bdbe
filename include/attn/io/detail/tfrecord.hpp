// SPDX-License-Identifier: MIT
// The encoding under attn::io::SummaryWriter (io/tensorboard.hpp): TFRecord framing with masked
// CRC-32C, the protobuf wire format of tensorflow.Event / Summary written by hand from the public
// field numbers, and small helpers (PNG size, a host name fit for a file name).
#pragma once

#include "png.hpp"  // detail::reflected_crc32

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if !defined(_WIN32)
#include <unistd.h>
#endif

namespace attn::io {

namespace detail {

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses it.
inline std::uint32_t crc32c(const unsigned char* data, std::size_t size) {
  return reflected_crc32<0x82F63B78u>(data, size);
}

/// TFRecord's masked CRC-32C: rotated right by 15 bits plus a constant.
inline std::uint32_t masked_crc32c(const unsigned char* data, std::size_t size) {
  const std::uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

inline void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xFFu));
}

/// One TFRecord: length (uint64 LE), masked CRC of the length, data, masked CRC of the data.
inline std::string tfrecord(const std::string& data) {
  std::string out;
  out.reserve(data.size() + 16);
  put_le(out, data.size(), 8);
  put_le(out, masked_crc32c(reinterpret_cast<const unsigned char*>(out.data()), 8), 4);
  out += data;
  put_le(out, masked_crc32c(reinterpret_cast<const unsigned char*>(data.data()), data.size()), 4);
  return out;
}

// Protocol buffer wire format: a key is (field number << 3) | wire type; 0 varint,
// 1 fixed64, 2 length-delimited, 5 fixed32.
inline void pb_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80u) {
    out.push_back(static_cast<char>((v & 0x7Fu) | 0x80u));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline void pb_key(std::string& out, std::uint32_t field, std::uint32_t wire) { pb_varint(out, (field << 3) | wire); }
inline void pb_int(std::string& out, std::uint32_t field, std::int64_t v) {  // int32 / int64
  pb_key(out, field, 0);
  pb_varint(out, static_cast<std::uint64_t>(v));  // negative: ten bytes, two's complement
}
inline void pb_double(std::string& out, std::uint32_t field, double v) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  pb_key(out, field, 1);
  put_le(out, bits, 8);
}
inline void pb_float(std::string& out, std::uint32_t field, float v) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  pb_key(out, field, 5);
  put_le(out, bits, 4);
}
inline void pb_bytes(std::string& out, std::uint32_t field, std::string_view bytes) {
  pb_key(out, field, 2);
  pb_varint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}
inline void pb_packed_doubles(std::string& out, std::uint32_t field, const std::vector<double>& values) {
  std::string packed;
  for (const double v : values) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    put_le(packed, bits, 8);
  }
  pb_bytes(out, field, packed);
}

// Field numbers of tensorflow/core/util/event.proto and tensorflow/core/framework/summary.proto.
namespace event_field {
constexpr std::uint32_t wall_time = 1, step = 2, file_version = 3, summary = 5, session_log = 6;
}
namespace session_log_field {
constexpr std::uint32_t status = 1;
constexpr std::int64_t start = 1;  // SessionLog.START
}
namespace value_field {
constexpr std::uint32_t tag = 1, simple_value = 2, image = 4, histo = 5;
}
namespace image_field {
constexpr std::uint32_t height = 1, width = 2, colorspace = 3, encoded_image_string = 4;
}
namespace histogram_field {
constexpr std::uint32_t min = 1, max = 2, num = 3, sum = 4, sum_squares = 5, bucket_limit = 6, bucket = 7;
}

/// An Event holding one Summary.Value: `tag` plus the already encoded rest of the value.
inline std::string summary_event(double wall_time, std::int64_t step, std::string_view tag, const std::string& rest) {
  std::string value;
  pb_bytes(value, value_field::tag, tag);
  value += rest;
  std::string summary;
  pb_bytes(summary, 1, value);  // Summary.value = 1
  std::string event;
  pb_double(event, event_field::wall_time, wall_time);
  pb_int(event, event_field::step, step);
  pb_bytes(event, event_field::summary, summary);
  return event;
}

/// Width and height of a PNG from its IHDR chunk.
inline std::pair<std::uint32_t, std::uint32_t> png_size(const std::string& png) {
  const auto at = [&](std::size_t k) {
    return (static_cast<std::uint32_t>(static_cast<unsigned char>(png[k])) << 24) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(png[k + 1])) << 16) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(png[k + 2])) << 8) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(png[k + 3]));
  };
  return {at(16), at(20)};
}

/// The host name, made safe for a file name (letters, digits, '-', '_'; others become '_').
inline std::string file_name_host() {
  std::string host;
#if !defined(_WIN32)
  std::array<char, 256> buffer{};
  if (::gethostname(buffer.data(), buffer.size() - 1) == 0) host = buffer.data();
#else
  if (const char* name = std::getenv("COMPUTERNAME")) host = name;
#endif
  for (char& c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.';
    if (!ok) c = '_';
  }
  return host.empty() ? std::string("localhost") : host;
}

}  // namespace detail

}  // namespace attn::io
