// SPDX-License-Identifier: MIT
// libFuzzer target for the .npy and .npz readers (attn/io/npy.hpp, attn/io/npz.hpp). Every input
// is read as an N-D array and as a matrix, from a seekable stream and from one that cannot seek;
// it is inflated as a raw DEFLATE stream; and, when it starts as a ZIP archive ("PK"), it is
// written to a file and read as an .npz (its names, then up to four of its arrays). The only
// exception allowed out of the readers is attn::io::npy_error (anything else, a sanitizer report,
// or an allocation above -malloc_limit_mb is a crash). Whatever reads successfully must write
// back and read again to the same shape and bits. Build and run: fuzz/run.sh.
#include <attn/io/npy.hpp>
#include <attn/io/npz.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <sstream>
#include <streambuf>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>  // getpid

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

/// The file an .npz input is written to: one per process, removed when it ends.
const std::filesystem::path& npz_path() {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("attn_npz_fuzz_" + std::to_string(::getpid()) + ".npz");
  // Registered after `path` is built, so it runs before `path` is destroyed.
  static const bool removed_at_exit = (std::atexit([] {
                                         std::error_code ignored;
                                         std::filesystem::remove(npz_path(), ignored);
                                       }),
                                       true);
  (void)removed_at_exit;
  return path;
}

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
  try {
    const std::vector<unsigned char> out =
        attn::io::detail::Inflate(data, size, std::size_t{1} << 22, "inflate: ").run();
    check(out.size() <= std::size_t{1} << 22);
  } catch (const attn::io::npy_error&) {
  }
  if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
    {
      std::ofstream file(npz_path(), std::ios::binary | std::ios::trunc);
      file.write(bytes, static_cast<std::streamsize>(size));
      check(static_cast<bool>(file));
    }
    try {
      const std::vector<std::string> names = attn::io::npz_names(npz_path());
      for (std::size_t k = 0; k < names.size() && k < 4; ++k) {
        try {
          round_trip(attn::io::read_npz_array<double>(npz_path(), names[k]));
        } catch (const attn::io::npy_error&) {
        }
      }
    } catch (const attn::io::npy_error&) {
    }
  }
  return 0;
}
