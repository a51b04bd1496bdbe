// SPDX-License-Identifier: MIT
// attn::io::NpyWeightsWriter: a weight sink (attn/sinks.hpp) that streams the Tq×Tk weights of a
// call to a .npy file block by block, so a map too large to hold goes to disk: NumPy's header with
// the final shape first, then each block's rows at their place in C order as the block is done.
#pragma once

#include "../config.hpp"
#include "../sinks.hpp"
#include "detail/npy_write.hpp"
#include "detail/write_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if !defined(_WIN32)
#include <sys/types.h>
#include <unistd.h>
#endif

namespace attn::io {

/// Streams the weights of each call to the .npy file `path`: shape `(Tq, Tk)`, C order, `<f4`
/// for float, `<f8` for double, the bytes attn::io::write_npy (and NumPy's np.save) write for
/// the full matrix. Blocks are written at their place as they come (any order, from any thread;
/// writes are serialised), so memory stays one block (SinkCall::block_rows·Tk scalars) whatever Tq. Like every
/// attn writer the file is written under a temporary name and renamed onto `path` when the call
/// ends: a failed call leaves `path` as it was. Read it with attn::io::read_npy or
/// `np.load(path, mmap_mode='r')`. POSIX only for now (on Windows it compiles, and begin()
/// throws). Unlike the other sinks it allocates (paths, the block buffer) on every call.
template <typename Scalar>
class NpyWeightsWriter final : public WeightSink<Scalar> {
 public:
  /// \param path the .npy file to (re)write at every call
  explicit NpyWeightsWriter(std::filesystem::path path) : path_(std::move(path)) {}

  /// Creates the temporary file and writes the header.
  /// \param call the call's function, shape and mask
  /// \throws std::runtime_error "attn::io::NpyWeightsWriter: cannot write '<path>': <reason>"
  void begin(const SinkCall& call) override {
    file_.reset();  // a call that failed before its end: its temporary file goes
    error_ = 0;
    cols_ = call.cols;
#if defined(_WIN32)
    throw std::runtime_error("attn::io::NpyWeightsWriter: not supported on Windows yet");
#else
    const std::string header =
        detail::npy_header_bytes(detail::npy_descr_of<Scalar>(), false, {call.rows, call.cols});
    header_ = static_cast<Index>(header.size());
    file_ = std::make_unique<detail::AtomicFile>(path_, "attn::io::NpyWeightsWriter");
    const Index data = checked_bytes(call.rows, call.cols);
    if (::ftruncate(file_->fd(), static_cast<off_t>(header_ + data)) != 0)
      file_->fail("cannot size the temporary file", errno);
    if (const int error = write_at(reinterpret_cast<const unsigned char*>(header.data()), header_, 0))
      file_->fail("writing the temporary file failed", error);
    buffer_.resize(static_cast<std::size_t>(std::min<Index>(call.rows, call.block_rows) * cols_) * sizeof(Scalar));
#endif
  }

  /// Writes the block's rows at their place (serialised; an I/O error is reported by end()).
  /// \param first_row the block's first query row \param block its weights
  void consume(Index first_row, const WeightBlock<Scalar>& block) override {
    {
      const std::lock_guard<std::mutex> hold(lock_.mutex);
      if (error_ == 0 && file_) {
        constexpr std::size_t size = sizeof(Scalar);
        using Bits = std::conditional_t<size == 4, std::uint32_t, std::uint64_t>;
        unsigned char* out = buffer_.data();
        for (Index r = 0; r < block.rows(); ++r)
          for (Index j = 0; j < block.cols(); ++j) {
            const Scalar v = block(r, j);
            Bits bits;
            std::memcpy(&bits, &v, size);
            detail::npy_store_le(out, bits, size);
            out += size;
          }
        error_ = write_at(buffer_.data(), block.rows() * cols_ * static_cast<Index>(size),
                          header_ + first_row * cols_ * static_cast<Index>(size));
      }
    }
  }

  /// Renames the file onto the path. \throws std::runtime_error when a write failed
  void end() override {
#if !defined(_WIN32)  // (on Windows begin() threw: there is no file)
    if (!file_) return;
    if (error_ != 0) file_->fail("writing the temporary file failed", error_);
    file_->commit();
    file_.reset();
#endif
  }

  /// \return the file written at the end of every call
  const std::filesystem::path& path() const { return path_; }

 private:
  // Bytes of the data: rows·cols·sizeof(Scalar), checked against overflow.
  static Index checked_bytes(Index rows, Index cols) {
    return attn::detail::checked_product("attn::io::NpyWeightsWriter", "Tq·Tk·bytes",
                                         {rows, cols, static_cast<Index>(sizeof(Scalar))});
  }

  // pwrite of all `n` bytes at `offset`; returns 0 or the errno.
  int write_at(const unsigned char* data, Index n, Index offset) {
#if defined(_WIN32)
    static_cast<void>(data);
    static_cast<void>(n);
    static_cast<void>(offset);
    return EIO;
#else
    while (n > 0) {
      if (const int fault = detail::injected_fault(detail::WriteStep::write, file_->temporary())) return fault;
      const ::ssize_t w = ::pwrite(file_->fd(), data, static_cast<std::size_t>(n), static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        return errno != 0 ? errno : EIO;
      }
      data += w;
      n -= static_cast<Index>(w);
      offset += static_cast<Index>(w);
    }
    return 0;
#endif
  }

  std::filesystem::path path_;
#if !defined(_WIN32)
  std::unique_ptr<detail::AtomicFile> file_;
#else
  std::unique_ptr<int> file_;
#endif
  std::vector<unsigned char> buffer_;
  Index cols_ = 0;
  Index header_ = 0;
  int error_ = 0;
  attn::detail::SinkLock lock_;  // serialises this writer's blocks (its own: other writers write beside it)
};

}  // namespace attn::io
