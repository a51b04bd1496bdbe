// SPDX-License-Identifier: MIT
// libFuzzer target for the .npy reader (attn/io/npy.hpp). Every input is read as an N-D array
// and as a matrix, from a seekable stream and from one that cannot seek; the only exception
// allowed out of the reader is attn::io::npy_error (anything else, a sanitizer report, or an
// allocation above -malloc_limit_mb is a crash). Whatever reads successfully must write back
// and read again to the same shape and bits. Build and run: fuzz/run.sh.
#include <attn/io/npy.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <istream>
#include <sstream>
#include <streambuf>
#include <string>

namespace {

/// A stream buffer that cannot seek and hands out a few bytes at a time, like a pipe.
class PipeBuffer : public std::streambuf {
 public:
  PipeBuffer(const char* data, std::size_t size) : data_(data, size) {}

 protected:
  int_type underflow() override {
    if (gptr() != nullptr && gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (next_ >= data_.size()) return traits_type::eof();
    const std::size_t n = data_.size() - next_ < 13 ? data_.size() - next_ : 13;
    char* begin = &data_[next_];
    setg(begin, begin, begin + n);
    next_ += n;
    return traits_type::to_int_type(*gptr());
  }

 private:
  std::string data_;
  std::size_t next_ = 0;
};

void check(bool condition) {
  if (!condition) std::abort();  // an invariant broke: report it as a crash
}

template <typename Scalar>
void round_trip(const attn::io::NpyArray<Scalar>& array) {
  check(array.size() >= 0 && static_cast<std::size_t>(array.size()) == array.data.size());
  std::stringstream io(std::ios::in | std::ios::out | std::ios::binary);
  attn::io::write_npy(io, array, attn::io::NpyOrder::fortran);
  const attn::io::NpyArray<Scalar> back = attn::io::read_npy_array<Scalar>(io);
  check(back.shape == array.shape);
  check(back.data.size() == array.data.size());
  check(array.data.empty() ||
        std::memcmp(back.data.data(), array.data.data(), array.data.size() * sizeof(Scalar)) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  const std::string text(bytes, size);
  try {
    std::istringstream in(text);
    round_trip(attn::io::read_npy_array<double>(in));
  } catch (const attn::io::npy_error&) {
  }
  try {
    PipeBuffer pipe(bytes, size);
    std::istream in(&pipe);
    round_trip(attn::io::read_npy_array<float>(in));
  } catch (const attn::io::npy_error&) {
  }
  try {
    std::istringstream in(text);
    const attn::Matrix<float> m = attn::io::read_npy<float>(in);
    check(m.rows() >= 0 && m.cols() >= 0);
  } catch (const attn::io::npy_error&) {
  }
  try {
    std::istringstream in(text);
    (void)attn::io::read_npy_header(in);
  } catch (const attn::io::npy_error&) {
  }
  return 0;
}
