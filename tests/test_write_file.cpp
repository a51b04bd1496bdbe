// SPDX-License-Identifier: MIT
// Tests of the atomic writer behind every exporter's path overload (attn/io/detail/write_file.hpp)
// on a hostile file system: files planted at the temporary name, modes, FIFOs, symbolic links,
// long names, and a failure at every step (through the fault-injection hook).
#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)
#include "attn/io/detail/write_file.hpp"
#include "attn/io/csv.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#if !defined(_WIN32)
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

namespace test_write_file {

namespace fs = std::filesystem;
using attn::io::detail::WriteStep;
using attn::io::detail::write_file_atomically;
using attn_test::TempDir;


/// Resets the hook at scope exit, whatever happens.
struct HookGuard {
  HookGuard() = default;
  HookGuard(const HookGuard&) = delete;
  HookGuard& operator=(const HookGuard&) = delete;
  ~HookGuard() { attn::io::detail::write_fault_hook() = nullptr; }
};

std::string contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void put(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

std::vector<std::string> names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

unsigned mode_of(const fs::path& path) {
  struct ::stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode & 07777);
}

const auto write_new = [](std::ostream& os) { os << "NEW\n"; };

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST_CASE("write_file: a symbolic link planted at the temporary name is not followed", "[io][write_file][security]") {
  TempDir dir;
  const fs::path victim = dir.path / "victim";
  const fs::path target = dir.path / "out.svg";
  put(victim, "VICTIM\n");
  HookGuard guard;
  std::vector<fs::path> planted;
  // The attacker wins every race: a link to the victim appears at each name just before it is opened.
  attn::io::detail::write_fault_hook() = [&](WriteStep step, const fs::path& temporary) {
    if (step == WriteStep::open && planted.size() < 3) {
      fs::create_symlink(victim, temporary);
      planted.push_back(temporary);
    }
    return 0;
  };
  write_file_atomically(target, "test", write_new);
  CHECK(contents(victim) == "VICTIM\n");
  CHECK(contents(target) == "NEW\n");
  CHECK(fs::is_regular_file(fs::symlink_status(target)));
  REQUIRE(planted.size() == 3);
  for (const auto& link : planted) CHECK(fs::is_symlink(fs::symlink_status(link)));
  // Temporary names are unpredictable and short: no two alike, none derived from the target.
  CHECK(planted[0] != planted[1]);
  CHECK(planted[0].filename().string().size() <= 32);
  CHECK(planted[0].filename().string().find("out.svg") == std::string::npos);
}

TEST_CASE("write_file: the replaced file keeps its mode, a new file gets 0666 less the umask", "[io][write_file]") {
  TempDir dir;
  const fs::path secret = dir.path / "secret.csv";
  put(secret, "old\n");
  REQUIRE(::chmod(secret.c_str(), 0600) == 0);
  write_file_atomically(secret, "test", write_new);
  CHECK(contents(secret) == "NEW\n");
  CHECK(mode_of(secret) == 0600u);

  REQUIRE(::chmod(secret.c_str(), 0640) == 0);
  write_file_atomically(secret, "test", write_new);
  CHECK(mode_of(secret) == 0640u);

  const ::mode_t mask = ::umask(022);
  ::umask(mask);
  const fs::path fresh = dir.path / "fresh.csv";
  write_file_atomically(fresh, "test", write_new);
  CHECK(mode_of(fresh) == (0666u & ~static_cast<unsigned>(mask)));
}

TEST_CASE("write_file: only a regular file is replaced (FIFO, symbolic link, directory refused)",
          "[io][write_file][security][error]") {
  TempDir dir;
  SECTION("FIFO") {
    const fs::path fifo = dir.path / "pipe.svg";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(message_of([&] { write_file_atomically(fifo, "attn::io::write_heatmap_svg", write_new); }) ==
          "attn::io::write_heatmap_svg: cannot write '" + fifo.string() +
              "': it is a FIFO, and only a regular file is replaced");
    CHECK(fs::is_fifo(fifo));
  }
  SECTION("symbolic link") {
    const fs::path victim = dir.path / "victim";
    const fs::path link = dir.path / "link.svg";
    put(victim, "VICTIM\n");
    fs::create_symlink(victim, link);
    CHECK(message_of([&] { write_file_atomically(link, "test", write_new); }) ==
          "test: cannot write '" + link.string() + "': it is a symbolic link, and only a regular file is replaced");
    CHECK(fs::is_symlink(fs::symlink_status(link)));
    CHECK(contents(victim) == "VICTIM\n");
  }
  SECTION("directory") {
    const fs::path sub = dir.path / "sub.svg";
    fs::create_directory(sub);
    CHECK(message_of([&] { write_file_atomically(sub, "test", write_new); }) ==
          "test: cannot write '" + sub.string() + "': it is a directory, and only a regular file is replaced");
    CHECK(fs::is_directory(sub));
  }
  CHECK(names(dir.path).size() == (fs::exists(dir.path / "victim") ? 2u : 1u));
}

TEST_CASE("write_file: a 250-byte file name works (the temporary name does not grow with it)", "[io][write_file]") {
  TempDir dir;
  const fs::path target = dir.path / (std::string(246, 'n') + ".csv");
  REQUIRE(target.filename().string().size() == 250);
  write_file_atomically(target, "test", write_new);
  CHECK(contents(target) == "NEW\n");
  // Through a real exporter too.
  Eigen::MatrixXd m(1, 2);
  m << 0.25, 0.75;
  attn::io::write_csv(target, m);
  CHECK(contents(target) == "0.25,0.75\n");
  CHECK(names(dir.path).size() == 1);
}

TEST_CASE("write_file: a failure at any step keeps the old file and leaves no temporary", "[io][write_file][error]") {
  TempDir dir;
  const fs::path target = dir.path / "w.npy";
  put(target, "OLD\n");
  HookGuard guard;
  struct Case {
    WriteStep step;
    int error;
    const char* text;
  };
  const Case cases[] = {
      {WriteStep::open, EACCES, "cannot create a temporary file in '"},
      {WriteStep::write, ENOSPC, "writing the temporary file failed: "},
      {WriteStep::chmod, EPERM, "cannot give the temporary file the mode of the file it replaces: "},
      {WriteStep::sync, EIO, "cannot flush the temporary file to disk: "},
      {WriteStep::rename, EXDEV, "cannot rename the temporary file onto it: "},
  };
  for (const Case& c : cases) {
    attn::io::detail::write_fault_hook() = [&](WriteStep step, const fs::path&) { return step == c.step ? c.error : 0; };
    const std::string message = message_of([&] {
      write_file_atomically(target, "attn::io::write_npy", [](std::ostream& os) { os << std::string(200000, 'x'); });
    });
    INFO("message: " << message);
    CHECK(message.rfind("attn::io::write_npy: cannot write '" + target.string() + "': ", 0) == 0);
    CHECK(message.find(c.text) != std::string::npos);
    CHECK(message.find(std::strerror(c.error)) != std::string::npos);
    CHECK(contents(target) == "OLD\n");
    CHECK(names(dir.path) == std::vector<std::string>{"w.npy"});
  }
  // Syncing the directory comes after the rename: the new file is in place, and the caller is told.
  attn::io::detail::write_fault_hook() = [](WriteStep step, const fs::path&) {
    return step == WriteStep::sync_directory ? EIO : 0;
  };
  CHECK(message_of([&] { write_file_atomically(target, "test", write_new); }).find("syncing its directory failed") !=
        std::string::npos);
  CHECK(contents(target) == "NEW\n");
  CHECK(names(dir.path) == std::vector<std::string>{"w.npy"});
}

}  // namespace test_write_file

#endif
