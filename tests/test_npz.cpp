// SPDX-License-Identifier: MIT
// Tests of attn/io/npz.hpp: archives written by NumPy itself (np.savez, np.savez_compressed;
// tests/fixtures/make_npz_fixtures.py) read back as the .npy reader reads the same arrays saved
// with np.save, raw DEFLATE streams written by zlib inflated to their input, a ZIP64 archive,
// and damaged archives and streams rejected with the right message; archives written by attn
// compared byte for byte with what np.savez writes for the same arrays.
#include "attn/io/npz.hpp"

#include "helpers.hpp"

#include <attn/attn.hpp>  // read_npy_array (helpers.hpp brings only the kernels)

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#ifndef ATTN_FIXTURE_DIR
#error "ATTN_FIXTURE_DIR must name tests/fixtures (tests/CMakeLists.txt defines it)"
#endif

// Everything in this file lives in namespace test_npz: the suite is a unity build.
namespace test_npz {

namespace fs = std::filesystem;
using attn::Index;
using attn_test::message_of;
using attn_test::TempDir;

namespace {

const fs::path dir = fs::path(ATTN_FIXTURE_DIR) / "npz";

std::vector<unsigned char> bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out);
}

template <typename Scalar>
void check_same_array(const attn::io::NpyArray<Scalar>& a, const attn::io::NpyArray<Scalar>& b) {
  CHECK(a.shape == b.shape);
  REQUIRE(a.data.size() == b.data.size());
  CHECK(std::memcmp(a.data.data(), b.data.data(), a.data.size() * sizeof(Scalar)) == 0);
}

std::vector<unsigned char> inflate(const std::vector<unsigned char>& in, std::size_t limit) {
  return attn::io::detail::Inflate(in.data(), in.size(), limit, "inflate: ").run();
}

}  // namespace

TEST_CASE("npz: the arrays of np.savez and np.savez_compressed read as np.save's .npy files", "[npz]") {
  // np.savez stores its keyword arrays first, then the positional ones (arr_0, ...).
  const std::vector<std::string> names{"w", "fortran", "heads", "bias", "half", "mask", "arr_0"};
  for (const char* archive : {"savez.npz", "compressed.npz"}) {
    INFO(archive);
    const fs::path npz = dir / archive;
    CHECK(attn::io::npz_names(npz) == names);  // np.load(path).files, in archive order
    for (const std::string& name : names) {
      INFO(name);
      const fs::path npy = dir / (std::string(archive) == "compressed.npz" && name == "arr_0" ? "compressed_arr_0.npy"
                                                                                                : name + ".npy");
      check_same_array(attn::io::read_npz_array(npz, name), attn::io::read_npy_array(npy));
      check_same_array(attn::io::read_npz_array<float>(npz, name + ".npy"), attn::io::read_npy_array<float>(npy));
      if (name != "heads") {
        CHECK(attn_test::same_bits(attn::io::read_npz<float>(npz, name), attn::io::read_npy<float>(npy)));
      }
    }
  }
  // A layer's parameters from one file: the 2-D kernel is a matrix, the bias one row.
  const Eigen::MatrixXd w = attn::io::read_npz(dir / "compressed.npz", "w");
  CHECK(w.rows() == 3);
  CHECK(w.cols() == 4);
  CHECK(w(1, 2) == 6.0 / 8.0);
  CHECK(attn::io::read_npz(dir / "savez.npz", "bias").rows() == 1);
  CHECK(attn::io::read_npz(dir / "savez.npz", "bias")(0, 1) == -1.25);
}

TEST_CASE("npz: a compressed map of 300 rows reads as NumPy computed it", "[npz]") {
  // Row k is row 0 rolled by k % 7 and multiplied by 1 + k % 3, in float32 (the fixture script).
  const attn::io::NpyArray<float> big = attn::io::read_npz_array<float>(dir / "big.npz", "map");
  REQUIRE(big.shape == std::vector<Index>{300, 200});
  const float* row0 = big.data.data();
  bool same = true;
  for (Index k = 0; k < 300; ++k) {
    for (Index j = 0; j < 200; ++j) {
      const float expected = row0[(j - k % 7 + 200) % 200] * static_cast<float>(1 + k % 3);
      same = same && big.data[static_cast<std::size_t>(k * 200 + j)] == expected;
    }
  }
  CHECK(same);
}

TEST_CASE("npz: zlib's DEFLATE streams inflate to their input, every block type", "[npz]") {
  const std::vector<unsigned char> plain = bytes_of(dir / "plain.bin");
  REQUIRE(plain.size() == 40000);
  for (const char* kind : {"level0", "fixed", "huffman", "best", "mixed"}) {
    INFO(kind);
    const std::vector<unsigned char> in = bytes_of(dir / (std::string("deflate_") + kind + ".bin"));
    CHECK(inflate(in, plain.size()) == plain);
    // One byte short of the output it makes: refused, not cut.
    CHECK_THAT(message_of<attn::io::npy_error>([&] { inflate(in, plain.size() - 1); }),
               Catch::Contains("inflate: corrupt DEFLATE data: it inflates to more than the 39999 bytes"));
    // Every stream cut short (here after half its bytes) says so.
    const std::vector<unsigned char> cut(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(in.size() / 2));
    CHECK_THAT(message_of<attn::io::npy_error>([&] { inflate(cut, plain.size()); }),
               Catch::Contains("the compressed data ends early"));
  }
}

TEST_CASE("npz: CRC-32 gives zlib's values", "[npz]") {
  // The CRC-32 that PNG chunks use too (detail::crc32): zlib.crc32(b"123456789") (the CRC's
  // check value) and zlib.crc32 of plain.bin.
  const std::string check = "123456789";
  CHECK(attn::io::detail::crc32(reinterpret_cast<const unsigned char*>(check.data()), check.size()) == 0xcbf43926U);
  const std::vector<unsigned char> plain = bytes_of(dir / "plain.bin");
  CHECK(attn::io::detail::crc32(plain.data(), plain.size()) == 0x029db209U);
}

TEST_CASE("npz: hostile DEFLATE streams are refused with what is wrong", "[npz]") {
  const auto refused = [](const std::vector<unsigned char>& in) {
    return message_of<attn::io::npy_error>([&] { inflate(in, 1000); });
  };
  // Final block of the reserved type 3: bits 1, 11.
  CHECK_THAT(refused({0x07}), Catch::Contains("a block of the reserved type 3"));
  // A stored block whose NLEN is not the complement of LEN.
  CHECK_THAT(refused({0x01, 0x05, 0x00, 0x00, 0x00, 'a', 'b', 'c', 'd', 'e'}),
             Catch::Contains("a stored block whose length check fails"));
  // A fixed block whose first symbol is a match (length 3, distance 1) with nothing before it:
  // final, fixed (01), length symbol 257 = code 0000001, distance code 00000.
  CHECK_THAT(refused({0x03, 0x02, 0x00}), Catch::Contains("a distance reaching before the first byte"));
  // A dynamic block whose code-length code is over-subscribed: HLIT 0, HDIST 0, HCLEN 0 (4 code
  // lengths: for symbols 16, 17, 18, 0), all of length 1.
  CHECK_THAT(refused({0x05, 0x00, 0x92, 0x04}), Catch::Contains("an incomplete or over-subscribed code-length code"));
  CHECK_THAT(refused({}), Catch::Contains("the compressed data ends early"));
  // A stored block longer than the stream.
  CHECK_THAT(refused({0x01, 0x05, 0x00, 0xfa, 0xff, 'a'}), Catch::Contains("the compressed data ends early"));
}

TEST_CASE("npz: a hand-made dynamic block decodes, and an incomplete literal code is refused", "[npz]") {
  // Bits go in least significant first, Huffman codes most significant bit first (RFC 1951).
  struct Bits {
    std::vector<unsigned char> bytes;
    int used = 8;
    void put(unsigned value, int n) {
      for (int k = 0; k < n; ++k) {
        if (used == 8) {
          bytes.push_back(0);
          used = 0;
        }
        bytes.back() = static_cast<unsigned char>(bytes.back() | ((value >> k) & 1U) << used);
        ++used;
      }
    }
    void code(unsigned value, int n) {
      for (int k = n - 1; k >= 0; --k) put((value >> k) & 1U, 1);
    }
  };
  // 257 literal/length codes, 1 distance code, 19 code-length codes: 18 (a run of zeros) one
  // bit (code 0), lengths 1 and 2 two bits (codes 10 and 11). 'a' (97) gets length 1, the
  // end-of-block code 256 length `end_length`, the distance code length 1.
  // `as` times 'a' then the end of block; with `stored`, a stored block "xyz" follows (final).
  const auto block = [](unsigned end_length, int as = 2, bool stored = false) {
    Bits b;
    b.put(stored ? 0 : 1, 1);  // final
    b.put(2, 2);   // dynamic
    b.put(0, 5);   // 257 literal/length codes
    b.put(0, 5);   // 1 distance code
    b.put(15, 4);  // 19 code-length codes, in the order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1 15
    for (unsigned length : {0U, 0U, 1U, 0U, 0U, 0U, 0U, 0U, 0U, 0U, 0U, 0U, 0U, 0U, 0U, 2U, 0U, 2U, 0U}) b.put(length, 3);
    b.code(0, 1), b.put(97 - 11, 7);                     // 97 zeros
    b.code(2, 2);                                         // 'a': 1
    b.code(0, 1), b.put(138 - 11, 7);                     // 138 zeros
    b.code(0, 1), b.put(20 - 11, 7);                      // 20 zeros (up to 255)
    b.code(end_length == 1 ? 2 : 3, 2);                   // 256: end_length
    b.code(2, 2);                                         // the distance code: 1
    for (int k = 0; k < as; ++k) b.code(0, 1);            // 'a'
    b.code(1, 1);                                         // end of block
    if (stored) {
      b.put(1, 1);  // final
      b.put(0, 2);  // stored: to the byte boundary, then LEN, NLEN and the bytes
      b.used = 8;
      for (unsigned byte : {3U, 0U, 0xFCU, 0xFFU, unsigned{'x'}, unsigned{'y'}, unsigned{'z'}}) b.put(byte, 8);
    }
    return b.bytes;
  };
  CHECK(inflate(block(1), 10) == std::vector<unsigned char>{'a', 'a'});
  // A stored block right after codes read ahead of it (the decoder looks 9 bits ahead): with 2
  // to 9 'a's it starts at every bit offset, and the bytes read ahead must be given back.
  for (int as = 2; as <= 9; ++as) {
    INFO(as);
    std::vector<unsigned char> expected(static_cast<std::size_t>(as), 'a');
    expected.insert(expected.end(), {'x', 'y', 'z'});
    CHECK(inflate(block(1, as, true), 20) == expected);
  }
  // 'a' one bit and the end of block two leave the code 11 unused. (Python's zlib.decompress(bytes,
  // -15) gives b'aa' for the first and refuses the second, "invalid literal/lengths set".)
  CHECK_THAT(message_of<attn::io::npy_error>([&] { inflate(block(2), 10); }),
             Catch::Contains("an incomplete literal/length code"));
}

TEST_CASE("npz: a ZIP64 archive reads as its member", "[npz]") {
  // Built by hand (sizes and offset in a ZIP64 extra field, ZIP64 end of central directory
  // and locator), checked by Python's zipfile and np.load before it was kept.
  CHECK(attn::io::npz_names(dir / "zip64.npz") == std::vector<std::string>{"w"});
  check_same_array(attn::io::read_npz_array(dir / "zip64.npz", "w"), attn::io::read_npy_array(dir / "w.npy"));
}

TEST_CASE("npz: a missing name lists the archive's arrays", "[npz]") {
  const std::string what = message_of<attn::io::npy_error>([&] { attn::io::read_npz(dir / "savez.npz", "wq"); });
  CHECK_THAT(what, Catch::Contains("attn::io::read_npz: '" + (dir / "savez.npz").string() +
                                   "': no array named 'wq'; the archive holds 'w', 'fortran', 'heads', 'bias', "
                                   "'half', 'mask', 'arr_0'"));
  // A torch.save file is a ZIP archive too, of pickles: its names say what it is.
  CHECK(attn::io::npz_names(dir / "torch_like.npz") == std::vector<std::string>{"archive/data.pkl", "archive/version"});
  CHECK_THAT(message_of<attn::io::npy_error>([&] { attn::io::read_npz(dir / "torch_like.npz", "archive/data.pkl"); }),
             Catch::Contains("array 'archive/data.pkl': not a NumPy .npy file"));
  // read_npz takes a matrix, as read_npy does.
  CHECK_THAT(message_of<attn::io::npy_error>([&] { attn::io::read_npz(dir / "savez.npz", "heads"); }),
             Catch::Contains("array 'heads': the array has 3 dimensions"));
}

TEST_CASE("npz: damaged archives are refused with what is wrong", "[npz]") {
  const TempDir tmp("attn_npz");
  const std::vector<unsigned char> savez = bytes_of(dir / "savez.npz");
  const auto refused = [&](const std::vector<unsigned char>& bytes, const std::string& name = "w") {
    const fs::path path = tmp.path / "bad.npz";
    write_bytes(path, bytes);
    return message_of<attn::io::npy_error>([&] { attn::io::read_npz_array(path, name); });
  };
  // Not a ZIP archive at all: a .npy file.
  CHECK_THAT(refused(bytes_of(dir / "w.npy")), Catch::Contains("not an .npz file (a ZIP archive, as np.savez writes): no ZIP signature"));
  // Cut before its end: the central directory is gone.
  CHECK_THAT(refused(std::vector<unsigned char>(savez.begin(), savez.begin() + 1000)),
             Catch::Contains("it starts as one but has no end of central directory (truncated?)"));
  // A byte of the stored array 'w' flipped: the CRC-32 catches it.
  {
    std::vector<unsigned char> bad = savez;
    const std::vector<unsigned char> w = bytes_of(dir / "w.npy");
    const auto at = std::search(bad.begin(), bad.end(), w.begin(), w.end());
    REQUIRE(at != bad.end());
    *(at + static_cast<std::ptrdiff_t>(w.size()) - 1) ^= 0x40;
    CHECK_THAT(refused(bad), Catch::Contains("member 'w.npy': its CRC-32 does not match (a damaged file?)"));
  }
  // The central directory's offset pointing past the end of the file.
  {
    std::vector<unsigned char> bad = savez;
    bad[bad.size() - 6] = 0xff;
    bad[bad.size() - 5] = 0xff;
    bad[bad.size() - 4] = 0xff;
    bad[bad.size() - 3] = 0x7f;
    CHECK_THAT(refused(bad), Catch::Contains("does not fit in the file's"));
  }
  // A compressed member whose method is changed to bzip2 (12) in its directory entry.
  {
    std::vector<unsigned char> bad = bytes_of(dir / "compressed.npz");
    const std::vector<unsigned char> entry{'P', 'K', 1, 2};
    const auto at = std::search(bad.begin(), bad.end(), entry.begin(), entry.end());  // the first member: w
    REQUIRE(at != bad.end());
    *(at + 10) = 12;
    CHECK_THAT(refused(bad), Catch::Contains("member 'w.npy': compression method 12: attn reads stored and DEFLATE members"));
  }
  CHECK_THAT(message_of<std::runtime_error>([&] { attn::io::npz_names(tmp.path / "missing.npz"); }),
             Catch::Contains("attn::io::npz_names: cannot open '" + (tmp.path / "missing.npz").string() + "' for reading"));
}

namespace {

// The arrays of written.npz (np.savez, tests/fixtures/make_npz_fixtures.py), read back with
// attn's reader (checked above against np.save's files), as write_npz entries in the archive's
// order; `output` was saved in Fortran order.
struct Written {
  Eigen::MatrixXf weights = attn::io::read_npz<float>(dir / "written.npz", "weights");
  Eigen::MatrixXd output = attn::io::read_npz(dir / "written.npz", "output");
  attn::io::NpyArray<float> heads = attn::io::read_npz_array<float>(dir / "written.npz", "heads");
  Eigen::MatrixXd empty = attn::io::read_npz(dir / "written.npz", "empty");
  Eigen::MatrixXd other = attn::io::read_npz(dir / "written.npz", "\u6ce8\u610f");

  std::vector<attn::io::NpzEntry> entries() const {
    return {{"weights", weights},
            {"output", output, attn::io::NpyOrder::fortran},
            {"heads", heads},
            {"empty", empty},
            {"\u6ce8\u610f", other}};
  }
};

std::vector<unsigned char> bytes_of(const std::ostringstream& os) {
  const std::string s = os.str();
  return {s.begin(), s.end()};
}

}  // namespace

TEST_CASE("npz: write_npz writes the bytes np.savez writes", "[npz][write]") {
  const Written a;
  REQUIRE(a.heads.shape == std::vector<Index>{2, 3, 4});
  REQUIRE(a.empty.rows() == 0);
  std::ostringstream os;
  attn::io::write_npz(os, a.entries());
  CHECK(bytes_of(os) == bytes_of(dir / "written.npz"));

  const TempDir tmp("attn_npz");
  attn::io::write_npz(tmp.path / "w.npz", a.entries());
  CHECK(bytes_of(tmp.path / "w.npz") == bytes_of(dir / "written.npz"));
  attn::io::write_npz(tmp.path / "none.npz", {});  // np.savez of nothing: the end record alone
  CHECK(bytes_of(tmp.path / "none.npz") == bytes_of(dir / "written_empty.npz"));
  CHECK(attn::io::npz_names(tmp.path / "none.npz").empty());
}

TEST_CASE("npz: past the ZIP64 limit write_npz writes zipfile's ZIP64 fields", "[npz][write]") {
  // written_zip64_<n>.npz is np.savez with zipfile.ZIP64_LIMIT lowered to n bytes: members
  // above it have ZIP64 sizes, members after it ZIP64 offsets, and the archive ZIP64 end records
  // (at 500 only for the central directory's offset, not its size), as archives past 2 GiB
  // have. attn's limit is lowered alike.
  const Written a;
  const std::vector<attn::io::NpzEntry> entries = a.entries();
  std::vector<std::string> names;
  for (const attn::io::NpzEntry& e : entries) names.push_back(e.name());
  for (const std::uint64_t limit : {std::uint64_t{150}, std::uint64_t{500}}) {
    INFO(limit);
    const fs::path expected = dir / ("written_zip64_" + std::to_string(limit) + ".npz");
    std::ostringstream os;
    attn::io::detail::npz_write(
        os, names, [&](std::size_t k, std::ostream& out) { entries[k].write(out); }, limit);
    CHECK(bytes_of(os) == bytes_of(expected));
    // and attn's reader follows those fields.
    check_same_array(attn::io::read_npz_array<float>(expected, "heads"), a.heads);
  }
}

TEST_CASE("npz: write_npz takes views and expressions, and keeps what they show", "[npz][write]") {
  Eigen::MatrixXf m(3, 4);
  for (Index k = 0; k < 12; ++k) m(k / 4, k % 4) = static_cast<float>(k) - 5.5f;
  const Eigen::MatrixXf t = m.transpose();
  const Eigen::MatrixXf rows = m.topRows(2);
  const Eigen::MatrixXf twice = m * 2.0f;
  const Eigen::MatrixXd wide = m.cast<double>();
  // Entries made first and written later: the views (transpose, block, Map) must still show m,
  // and the expressions (a product, a cast) must have been kept (ASan would see a dangling one).
  const Eigen::Map<const Eigen::MatrixXf> map(m.data(), 4, 3);
  const std::vector<attn::io::NpzEntry> entries{
      {"t", m.transpose()}, {"rows", m.topRows(2)}, {"twice", m * 2.0f}, {"wide", m.cast<double>()}, {"map", map}};
  std::ostringstream os;
  attn::io::write_npz(os, entries);
  std::ostringstream expected;
  const Eigen::MatrixXf map_copy = map;
  attn::io::write_npz(expected, {{"t", t}, {"rows", rows}, {"twice", twice}, {"wide", wide}, {"map", map_copy}});
  CHECK(bytes_of(os) == bytes_of(expected));
  const TempDir tmp("attn_npz");
  attn::io::write_npz(tmp.path / "v.npz", entries);
  CHECK(attn_test::same_bits(attn::io::read_npz<float>(tmp.path / "v.npz", "twice"), twice));
  CHECK(attn_test::same_bits(attn::io::read_npz<double>(tmp.path / "v.npz", "wide"), wide));

  // Temporaries (a function's matrix, npy_stack's array) are moved into their entries.
  const auto make = [&] { return Eigen::MatrixXf(m * 3.0f); };
  const std::vector<Eigen::MatrixXf> maps{m, twice};
  const std::vector<attn::io::NpzEntry> owned{{"made", make()}, {"stack", attn::io::npy_stack(maps)}};
  std::ostringstream from_temporaries;
  attn::io::write_npz(from_temporaries, owned);
  const Eigen::MatrixXf made = m * 3.0f;
  const attn::io::NpyArray<float> stack = attn::io::npy_stack(maps);
  std::ostringstream from_values;
  attn::io::write_npz(from_values, {{"made", made}, {"stack", stack}});
  CHECK(bytes_of(from_temporaries) == bytes_of(from_values));
}

TEST_CASE("npz: write_npz refuses bad names and streams, and replaces files atomically", "[npz][write][error]") {
  const Eigen::MatrixXd m = Eigen::MatrixXd::Ones(2, 2);
  const TempDir tmp("attn_npz");
  const fs::path path = tmp.path / "a.npz";
  attn::io::write_npz(path, {{"kept", m}});
  const std::vector<unsigned char> before = bytes_of(path);
  const auto refused = [&](const std::vector<attn::io::NpzEntry>& entries) {
    const std::string what = message_of<attn::invalid_argument>([&] { attn::io::write_npz(path, entries); });
    std::ostringstream os;
    CHECK(message_of<attn::invalid_argument>([&] { attn::io::write_npz(os, entries); }) == what);
    CHECK(os.str().empty());  // nothing written before the checks
    return what;
  };
  CHECK(refused({{"w", m}, {"", m}}) == "attn::io::write_npz: an array's name is empty");
  CHECK(refused({{"w.npy", m}}) == "attn::io::write_npz: the name 'w.npy' ends in '.npy': give it without, the "
                                   "member is named '<name>.npy' (as np.savez names it)");
  CHECK(refused({{"w", m}, {"b", m}, {"w", m}}) == "attn::io::write_npz: two arrays are named 'w'");
  CHECK(refused({{"w", m}, {"b\xff", m}}) == "attn::io::write_npz: the name of array 1 is not valid UTF-8 (byte 1)");
  CHECK(refused({{std::string("a\0b", 3), m}}) == "attn::io::write_npz: the name 'a\\0...' holds a NUL character");
  CHECK(refused({{std::string(65532, 'x'), m}}) ==
        "attn::io::write_npz: the name of array 0 has 65532 bytes, a ZIP name at most 65531 before '.npy'");
  attn::io::NpyArray<double> wrong{{2, 3}, {1, 2, 3}};
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::NpzEntry("w", wrong); }) ==
        "attn::io::write_npz: array.data.size() (3) must equal the product of array.shape (2, 3)");
  CHECK(bytes_of(path) == before);  // the file is untouched

  std::ostringstream bad;
  bad.setstate(std::ios::badbit);
  CHECK(message_of<std::runtime_error>([&] { attn::io::write_npz(bad, {{"w", m}}); }) ==
        "attn::io::write_npz: the output stream is not in a good state");
  CHECK(message_of<std::runtime_error>([&] { attn::io::write_npz(tmp.path, {{"w", m}}); }) ==
        "attn::io::write_npz: cannot write '" + tmp.path.string() +
            "': it is a directory, and only a regular file is replaced");

  attn::io::write_npz(path, {{"w", m}, {"v", Eigen::MatrixXf::Zero(1, 3)}});  // replaced
  CHECK(attn::io::npz_names(path) == std::vector<std::string>{"w", "v"});
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(tmp.path)) {
    (void)entry;
    ++entries;
  }
  CHECK(entries == 1);  // no temporary file left
}

}  // namespace test_npz
