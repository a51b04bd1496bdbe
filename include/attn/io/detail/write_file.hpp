// SPDX-License-Identifier: MIT
// Atomic file output shared by the binary and text exporters (npy, svg, html): the bytes go to
// a temporary file next to the target, which is flushed, checked and renamed onto it.
#pragma once

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <ios>
#include <ostream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#if defined(_WIN32)
#include <process.h>
#else
#include <unistd.h>
#endif

namespace attn::io::detail {

/// The system's text for `error` (an errno value), or "unknown error" for 0.
inline std::string system_reason(int error) {
  return error != 0 ? std::generic_category().message(error) : std::string("unknown error");
}

/// `path` + ".tmp.<process id>.<counter>", unique per process and call, in `path`'s directory
/// so that the final rename stays on one file system.
inline std::filesystem::path temporary_path_for(const std::filesystem::path& path) {
  static std::atomic<unsigned long long> counter{0};
#if defined(_WIN32)
  const long long pid = static_cast<long long>(::_getpid());
#else
  const long long pid = static_cast<long long>(::getpid());
#endif
  std::filesystem::path temporary = path;
  temporary += ".tmp." + std::to_string(pid) + "." + std::to_string(counter.fetch_add(1));
  return temporary;
}

/// Runs `write(std::ostream&)` into a temporary file next to `path`, flushes and checks it,
/// then renames it onto `path`. On any failure (or an exception thrown by `write`) the
/// temporary file is removed and `path` is left as it was; I/O failures throw
/// std::runtime_error naming `who`, the path and the system's reason.
template <typename Writer>
void write_file_atomically(const std::filesystem::path& path, const char* who, Writer&& write) {
  namespace fs = std::filesystem;
  const fs::path temporary = temporary_path_for(path);
  const std::string prefix = std::string(who) + ": cannot write '" + path.string() + "': ";
  const auto remove_temporary = [&temporary] {
    std::error_code ignored;
    fs::remove(temporary, ignored);
  };

  errno = 0;
  std::ofstream file(temporary, std::ios_base::out | std::ios_base::binary | std::ios_base::trunc);
  if (!file.is_open()) {
    const int error = errno;
    throw std::runtime_error(prefix + "cannot open '" + temporary.string() +
                             "' for writing: " + system_reason(error));
  }

  int error = 0;
  bool ok = false;
  try {
    errno = 0;
    std::forward<Writer>(write)(static_cast<std::ostream&>(file));
    if (file) file.flush();
    ok = static_cast<bool>(file);
    if (ok) {
      file.close();
      ok = !file.fail();
    }
    error = errno;
  } catch (...) {
    file.close();
    remove_temporary();
    throw;
  }
  if (!ok) {
    file.close();
    remove_temporary();
    throw std::runtime_error(prefix + "writing '" + temporary.string() +
                             "' failed: " + system_reason(error));
  }

  std::error_code rename_error;
  fs::rename(temporary, path, rename_error);
  if (rename_error) {
    remove_temporary();
    throw std::runtime_error(prefix + "cannot rename '" + temporary.string() + "' to '" +
                             path.string() + "': " + rename_error.message());
  }
}

}  // namespace attn::io::detail
