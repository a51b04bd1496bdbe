// SPDX-License-Identifier: MIT
// Atomic file output shared by the exporters (csv, npy, svg, html, pharaoh): the bytes go to a
// fresh temporary file next to the target (O_CREAT|O_EXCL|O_NOFOLLOW, unpredictable name), which
// is written, fsync'ed, given the target's mode and renamed onto it; then the directory is synced.
#pragma once

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ios>
#include <ostream>
#include <random>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <system_error>
#include <utility>

#if defined(_WIN32)
#include <process.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#endif

namespace attn::io::detail {

/// The system's text for `error` (an errno value), or "unknown error" for 0.
inline std::string system_reason(int error) {
  return error != 0 ? std::generic_category().message(error) : std::string("unknown error");
}

/// Opens `path` for reading in binary mode, or throws std::runtime_error
/// "<who>: cannot open '<path>' for reading: <reason>" (a directory is refused with EISDIR, as
/// a read of one would fail later with a less clear message).
inline std::ifstream open_for_reading(const std::filesystem::path& path, const std::string& who) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    throw std::runtime_error(who + ": cannot open '" + path.string() + "' for reading: " + system_reason(EISDIR));
  }
  errno = 0;
  std::ifstream file(path, std::ios_base::in | std::ios_base::binary);
  if (!file.is_open()) {
    const int error = errno;
    throw std::runtime_error(who + ": cannot open '" + path.string() + "' for reading: " + system_reason(error));
  }
  return file;
}

/// The steps of write_file_atomically() that can fail, as seen by write_fault_hook().
enum class WriteStep { open, write, sync, chmod, rename, sync_directory };

/// Test hook (not thread-safe; for tests and fuzzers only): when set, it is called before
/// each step with the temporary file's path, and a non-zero return value is taken as the
/// errno of that step failing. Lets tests make any step fail without LD_PRELOAD, or plant
/// files at the temporary name just before it is opened.
inline std::function<int(WriteStep, const std::filesystem::path&)>& write_fault_hook() {
  static std::function<int(WriteStep, const std::filesystem::path&)> hook;
  return hook;
}

inline int injected_fault(WriteStep step, const std::filesystem::path& temporary) {
  const auto& hook = write_fault_hook();
  return hook ? hook(step, temporary) : 0;
}

/// An unpredictable temporary file name of fixed length (".attn.tmp." + 16 hex digits, 26
/// bytes), so that it fits NAME_MAX whatever the target's name.
inline std::string temporary_file_name() {
  static std::atomic<std::uint64_t> counter{0};
  std::uint64_t bits = counter.fetch_add(1) * 0x9E3779B97F4A7C15ull;
  bits ^= static_cast<std::uint64_t>(std::chrono::high_resolution_clock::now().time_since_epoch().count());
  try {
    std::random_device device;
    bits ^= (static_cast<std::uint64_t>(device()) << 32) ^ static_cast<std::uint64_t>(device());
  } catch (...) {
    // No entropy source: the clock and the counter still make a fresh name; O_EXCL does the rest.
  }
  std::string name = ".attn.tmp.";
  const char* digits = "0123456789abcdef";
  for (int k = 0; k < 16; ++k) name.push_back(digits[(bits >> (4 * k)) & 0xF]);
  return name;
}

#if !defined(_WIN32)

/// A std::streambuf writing to a file descriptor; remembers the first errno.
class FdStreambuf : public std::streambuf {
 public:
  FdStreambuf(int fd, const std::filesystem::path& temporary) : fd_(fd), temporary_(temporary) {
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }
  FdStreambuf(const FdStreambuf&) = delete;
  FdStreambuf& operator=(const FdStreambuf&) = delete;
  int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  bool drain() {
    if (error_ != 0) return false;
    const char* data = pbase();
    std::size_t left = static_cast<std::size_t>(pptr() - pbase());
    while (left > 0) {
      const int fault = injected_fault(WriteStep::write, temporary_);
      if (fault != 0) {
        error_ = fault;
        return false;
      }
      const ::ssize_t n = ::write(fd_, data, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = errno != 0 ? errno : EIO;
        return false;
      }
      data += n;
      left -= static_cast<std::size_t>(n);
    }
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return true;
  }

  int fd_;
  const std::filesystem::path& temporary_;
  int error_ = 0;
  std::array<char, 1 << 16> buffer_{};
};

/// What kind of non-regular file `mode` describes, for messages.
inline const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

/// A new temporary file next to `path` that commit() renames onto it (the steps and guarantees
/// of write_file_atomically, which writes through one; attn::io::NpyWeightsWriter writes one
/// block by block). Destroyed or aborted before commit(), it removes the temporary file.
class AtomicFile {
 public:
  /// Checks what is at `path` (only a regular file is replaced) and creates the temporary file.
  /// \throws std::runtime_error "<who>: cannot write '<path>': <reason>"
  AtomicFile(const std::filesystem::path& path, const char* who)
      : path_(path), prefix_(std::string(who) + ": cannot write '" + path.string() + "': ") {
    namespace fs = std::filesystem;
    if (path.empty() || !path.has_filename()) throw std::runtime_error(prefix_ + "the path names no file");

    // What is there now decides the mode, and whether we may replace it at all.
    if (::lstat(path.c_str(), &existing_) == 0) {
      if (!S_ISREG(existing_.st_mode)) {
        throw std::runtime_error(prefix_ + "it is " + file_kind(existing_.st_mode) +
                                 ", and only a regular file is replaced");
      }
      exists_ = true;
    } else if (errno != ENOENT) {
      const int error = errno;
      throw std::runtime_error(prefix_ + system_reason(error));
    }

    directory_ = path.has_parent_path() ? path.parent_path() : fs::path(".");
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
      temporary_ = directory_ / temporary_file_name();
      int error = injected_fault(WriteStep::open, temporary_);
      if (error == 0) {
        fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd_ < 0) error = errno;
      }
      if (fd_ < 0 && error != EEXIST) {
        throw std::runtime_error(prefix_ + "cannot create a temporary file in '" + directory_.string() +
                                 "': " + system_reason(error));
      }
    }
    if (fd_ < 0) {
      throw std::runtime_error(prefix_ + "cannot create a temporary file in '" + directory_.string() +
                               "': every name tried exists");
    }
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() { abort(); }

  /// The temporary file's descriptor (open for writing until commit or abort).
  int fd() const { return fd_; }
  /// The temporary file's path.
  const std::filesystem::path& temporary() const { return temporary_; }
  /// "<who>: cannot write '<path>': ", the start of every message.
  const std::string& prefix() const { return prefix_; }

  /// Closes and removes the temporary file (nothing once committed or aborted).
  void abort() {
    if (open_) ::close(fd_);
    if (open_ || !done_) ::unlink(temporary_.c_str());
    open_ = false;
    done_ = true;
  }
  /// abort(), then throws std::runtime_error(prefix + what + ": " + reason of `error`).
  [[noreturn]] void fail(const std::string& what, int error) {
    abort();
    throw std::runtime_error(prefix_ + what + ": " + system_reason(error));
  }

  /// Gives the temporary file the mode (and owner) of the file it replaces, syncs it, renames
  /// it onto the path and syncs the directory. \throws std::runtime_error on any failure
  void commit() {
    int error = 0;
    if (exists_) {
      if ((error = injected_fault(WriteStep::chmod, temporary_)) != 0 ||
          ::fchmod(fd_, existing_.st_mode & 07777) != 0) {
        fail("cannot give the temporary file the mode of the file it replaces", error != 0 ? error : errno);
      }
      // Keep the owner where we may (root replacing a user's file); otherwise the writer owns it.
      if (existing_.st_uid != ::geteuid() || existing_.st_gid != ::getegid()) {
        (void)!::fchown(fd_, existing_.st_uid, existing_.st_gid);
      }
    }
    if ((error = injected_fault(WriteStep::sync, temporary_)) != 0 || ::fsync(fd_) != 0) {
      fail("cannot flush the temporary file to disk", error != 0 ? error : errno);
    }
    open_ = false;
    if (::close(fd_) != 0) fail("closing the temporary file failed", errno);

    if ((error = injected_fault(WriteStep::rename, temporary_)) != 0 ||
        ::rename(temporary_.c_str(), path_.c_str()) != 0) {
      fail("cannot rename the temporary file onto it", error != 0 ? error : errno);
    }
    done_ = true;

    // Make the rename itself durable. File systems that cannot sync a directory say EINVAL.
    error = injected_fault(WriteStep::sync_directory, temporary_);
    if (error == 0) {
      const int dir = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dir >= 0) {
        if (::fsync(dir) != 0 && errno != EINVAL && errno != ENOTSUP) error = errno;
        ::close(dir);
      }
    }
    if (error != 0) {
      throw std::runtime_error(prefix_ + "the file was replaced, but syncing its directory failed: " +
                               system_reason(error));
    }
  }

 private:
  std::filesystem::path path_;
  std::string prefix_;
  std::filesystem::path directory_;
  std::filesystem::path temporary_;
  struct ::stat existing_ {};
  bool exists_ = false;
  int fd_ = -1;
  bool open_ = true;   // fd_ open
  bool done_ = false;  // committed or aborted: the temporary is gone (renamed or removed)
};

#endif


/// Runs `write(std::ostream&)` into a new temporary file next to `path`, then renames it onto
/// `path`. The temporary is created with O_CREAT|O_EXCL|O_NOFOLLOW under an unpredictable
/// name (a file or symbolic link planted there is never followed nor replaced), gets the mode
/// (and, where permitted, the owner) of the file it replaces, or 0666 less the umask for a new
/// file, and is fsync'ed before the rename; the directory is fsync'ed after it. Only a regular
/// file is ever replaced: a directory, symbolic link, FIFO, device or socket at `path` is
/// refused. On any failure (or an exception thrown by `write`) the temporary file is removed
/// and `path` is left as it was; I/O failures throw std::runtime_error naming `who`, the path
/// and the reason.
template <typename Writer>
void write_file_atomically(const std::filesystem::path& path, const char* who, Writer&& write) {
  namespace fs = std::filesystem;
  const std::string prefix = std::string(who) + ": cannot write '" + path.string() + "': ";
#if defined(_WIN32)
  const fs::path temporary = fs::path(path).replace_filename(temporary_file_name());
  const auto remove_temporary = [&temporary] {
    std::error_code ignored;
    fs::remove(temporary, ignored);
  };
  errno = 0;
  std::ofstream file(temporary, std::ios_base::out | std::ios_base::binary | std::ios_base::trunc);
  if (!file.is_open()) {
    const int reason = errno;  // (the C runtime's, which std::ofstream does not promise to keep)
    throw std::runtime_error(prefix + "cannot create a temporary file next to it" +
                             (reason != 0 ? ": " + std::generic_category().message(reason) : std::string()));
  }
  try {
    std::forward<Writer>(write)(static_cast<std::ostream&>(file));
    file.flush();
  } catch (...) {
    file.close();
    remove_temporary();
    throw;
  }
  const bool ok = static_cast<bool>(file);
  file.close();
  if (!ok || file.fail()) {
    remove_temporary();
    throw std::runtime_error(prefix + "writing the temporary file failed");
  }
  std::error_code rename_error;
  fs::rename(temporary, path, rename_error);
  if (rename_error) {
    remove_temporary();
    throw std::runtime_error(prefix + "cannot rename the temporary file onto it: " + rename_error.message());
  }
#else
  AtomicFile file(path, who);
  int error = 0;
  {
    FdStreambuf buffer(file.fd(), file.temporary());
    std::ostream stream(&buffer);
    try {
      std::forward<Writer>(write)(stream);
    } catch (...) {
      file.abort();
      throw;
    }
    if (stream) stream.flush();
    error = buffer.error();
    if (error == 0 && !stream) {
      file.abort();
      throw std::runtime_error(prefix + "writing the temporary file failed: the output stream went bad");
    }
  }
  if (error != 0) file.fail("writing the temporary file failed", error);
  file.commit();
#endif
}

}  // namespace attn::io::detail
