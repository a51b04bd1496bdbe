// SPDX-License-Identifier: MIT
// Tests of attn/io/npy.hpp: files written by NumPy itself (tests/fixtures/make_npy_fixtures.py)
// read back exactly, attn's output byte for byte equal to np.save's, round trips, and the
// malformed corpus (tests/fixtures/npy/bad/) each rejected with the right message.
#include "attn/io/npy.hpp"

#include "helpers.hpp"

#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef ATTN_FIXTURE_DIR
#error "ATTN_FIXTURE_DIR must name tests/fixtures (tests/CMakeLists.txt defines it)"
#endif

// Everything in this file lives in namespace test_npy: the suite is a unity build.
namespace test_npy {

namespace fs = std::filesystem;
using attn::Index;
using attn_test::message_of;
using attn_test::TempDir;

namespace {

const fs::path kNpyDir = fs::path(ATTN_FIXTURE_DIR) / "npy";

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.is_open());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// The fixture formula: C-order flat index k -> k * 0.5 - 3.
double base_value(Index k) { return static_cast<double>(k) * 0.5 - 3.0; }

template <typename Scalar>
attn::Matrix<Scalar> base_matrix(Index rows, Index cols) {
  attn::Matrix<Scalar> m(rows, cols);
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) m(i, j) = static_cast<Scalar>(base_value(i * cols + j));
  return m;
}

/// A stream buffer that cannot seek and hands out at most 7 bytes at a time, like a pipe.
class PipeBuffer : public std::streambuf {
 public:
  explicit PipeBuffer(std::string data) : data_(std::move(data)) {}

 protected:
  int_type underflow() override {
    if (gptr() != nullptr && gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (next_ >= data_.size()) return traits_type::eof();
    const std::size_t n = std::min<std::size_t>(7, data_.size() - next_);
    char* begin = &data_[next_];
    setg(begin, begin, begin + n);
    next_ += n;
    return traits_type::to_int_type(*gptr());
  }

 private:
  std::string data_;
  std::size_t next_ = 0;
};


}  // namespace

TEMPLATE_TEST_CASE("read_npy reads 2-D files written by NumPy in every order and version", "[io][npy][fixture]",
                   float, double) {
  const char* names[] = {"f8_c_3x4.npy",  "f4_c_3x4.npy",  "f8_fortran_3x4.npy",       "f4_fortran_3x4.npy",
                         "f8_v2_3x4.npy", "f8_v3_3x4.npy", "f8_fortran_v3_3x4.npy"};
  const attn::Matrix<TestType> expected = base_matrix<TestType>(3, 4);
  for (const char* name : names) {
    INFO(name);
    const attn::Matrix<TestType> m = attn::io::read_npy<TestType>(kNpyDir / name);
    REQUIRE(m.rows() == 3);
    REQUIRE(m.cols() == 4);
    CHECK(m == expected);
  }
  const attn::Matrix<TestType> half = attn::io::read_npy<TestType>(kNpyDir / "f2_c_2x3.npy");
  CHECK(half == base_matrix<TestType>(2, 3));
}

TEST_CASE("read_npy: 0-D is 1x1, 1-D of n is a 1xn row, empty arrays keep their shape", "[io][npy][fixture]") {
  const Eigen::MatrixXd scalar = attn::io::read_npy(kNpyDir / "f8_0d.npy");
  REQUIRE(scalar.rows() == 1);
  REQUIRE(scalar.cols() == 1);
  CHECK(scalar(0, 0) == -3.0);

  const Eigen::MatrixXd row = attn::io::read_npy(kNpyDir / "f8_1d_5.npy");
  REQUIRE(row.rows() == 1);
  REQUIRE(row.cols() == 5);
  CHECK(row == base_matrix<double>(1, 5));

  const Eigen::MatrixXd empty = attn::io::read_npy(kNpyDir / "f8_empty_0x3.npy");
  CHECK(empty.rows() == 0);
  CHECK(empty.cols() == 3);
}

TEST_CASE("read_npy converts little-endian integer and bool files", "[io][npy][fixture]") {
  for (const char* code : {"i1", "i2", "i4", "i8"}) {
    INFO(code);
    const Eigen::MatrixXf m = attn::io::read_npy<float>(kNpyDir / (std::string(code) + "_2x3.npy"));
    REQUIRE(m.rows() == 2);
    REQUIRE(m.cols() == 3);
    for (Index k = 0; k < 6; ++k) CHECK(m(k / 3, k % 3) == static_cast<float>(k - 3));
  }
  for (const char* code : {"u1", "u2", "u4", "u8"}) {
    INFO(code);
    const Eigen::MatrixXd m = attn::io::read_npy(kNpyDir / (std::string(code) + "_2x3.npy"));
    for (Index k = 0; k < 6; ++k) CHECK(m(k / 3, k % 3) == static_cast<double>(k));
  }
  const Eigen::MatrixXd b = attn::io::read_npy(kNpyDir / "b1_2x3.npy");
  for (Index k = 0; k < 6; ++k) CHECK(b(k / 3, k % 3) == static_cast<double>(k % 2));
}

TEST_CASE("read_npy keeps NaN, infinities, -0 and subnormals, float64 narrows to float", "[io][npy][fixture]") {
  const Eigen::MatrixXd d = attn::io::read_npy(kNpyDir / "f8_specials_8.npy");
  REQUIRE(d.cols() == 8);
  CHECK(std::isnan(d(0, 0)));
  CHECK(d(0, 1) == std::numeric_limits<double>::infinity());
  CHECK(d(0, 2) == -std::numeric_limits<double>::infinity());
  CHECK(d(0, 3) == 0.0);
  CHECK(std::signbit(d(0, 3)));
  CHECK(d(0, 4) == std::numeric_limits<double>::denorm_min());
  CHECK(d(0, 5) == std::numeric_limits<double>::max());
  CHECK(d(0, 6) == 0.1);

  const Eigen::MatrixXf f = attn::io::read_npy<float>(kNpyDir / "f8_specials_8.npy");
  CHECK(std::isnan(f(0, 0)));
  CHECK(std::signbit(f(0, 3)));
  CHECK(f(0, 4) == 0.0f);                                       // 5e-324 underflows
  CHECK(f(0, 5) == std::numeric_limits<float>::infinity());     // DBL_MAX overflows
  CHECK(f(0, 6) == 0.1f);
  CHECK(f(0, 7) == std::numeric_limits<float>::infinity());

  const Eigen::MatrixXf g = attn::io::read_npy<float>(kNpyDir / "f4_specials_6.npy");
  CHECK(std::isnan(g(0, 0)));
  CHECK(g(0, 1) == std::numeric_limits<float>::infinity());
  CHECK(g(0, 4) == std::numeric_limits<float>::denorm_min());
  CHECK(g(0, 5) == 0.1f);
}

TEST_CASE("read_npy_array reads N-D stacks in C order whatever the file order", "[io][npy][fixture]") {
  for (const char* name : {"f8_c_2x3x4.npy", "f4_fortran_2x3x4.npy"}) {
    INFO(name);
    const attn::io::NpyArray<double> a = attn::io::read_npy_array(kNpyDir / name);
    REQUIRE(a.shape == std::vector<Index>{2, 3, 4});
    REQUIRE(a.ndim() == 3);
    REQUIRE(a.size() == 24);
    for (Index k = 0; k < 24; ++k) CHECK(a.data[static_cast<std::size_t>(k)] == base_value(k));
    const Eigen::MatrixXd head1 = a.matrix(1);
    REQUIRE(head1.rows() == 3);
    REQUIRE(head1.cols() == 4);
    CHECK(head1(2, 3) == base_value(12 + 2 * 4 + 3));
  }
  // NumPy's w[b, h] of a 4-D (B, h, Tq, Tk) file: entry (b, h, i, j) is element ((b·3 + h)·4 + i)·5 + j.
  for (const char* name : {"f8_c_2x3x4x5.npy", "f4_fortran_2x3x4x5.npy"}) {
    INFO(name);
    const attn::io::NpyArray<double> a = attn::io::read_npy_array(kNpyDir / name);
    REQUIRE(a.shape == std::vector<Index>{2, 3, 4, 5});
    for (Index b = 0; b < 2; ++b) {
      for (Index h = 0; h < 3; ++h) {
        const Eigen::MatrixXd m = a.matrix({b, h});
        REQUIRE(m.rows() == 4);
        REQUIRE(m.cols() == 5);
        for (Index i = 0; i < 4; ++i) {
          for (Index j = 0; j < 5; ++j) CHECK(m(i, j) == base_value(((b * 3 + h) * 4 + i) * 5 + j));
        }
      }
    }
    CHECK(a.matrix({1, 2})(3, 4) == 56.5);  // np.load(name)[1, 2, 3, 4], printed by NumPy
  }
  {
    const attn::io::NpyArray<double> three = attn::io::read_npy_array(kNpyDir / "f8_c_2x3x4.npy");
    CHECK(three.matrix(std::vector<Index>{1}) == three.matrix(1));
    const attn::io::NpyArray<double> two = attn::io::read_npy_array(kNpyDir / "f8_c_3x4.npy");
    CHECK(two.matrix(std::vector<Index>()) == two.to_matrix());
  }
  const auto zero_d = attn::io::read_npy_array<float>(kNpyDir / "f8_0d.npy");
  CHECK(zero_d.shape.empty());
  CHECK(zero_d.size() == 1);
  CHECK(zero_d.data == std::vector<float>{-3.0f});
  CHECK(zero_d.to_matrix().size() == 1);
}

TEST_CASE("read_npy of a 3-D array says so and points to read_npy_array", "[io][npy][error]") {
  const fs::path path = kNpyDir / "f8_c_2x3x4.npy";
  const std::string what = message_of<attn::io::npy_error>([&] { (void)attn::io::read_npy(path); });
  CHECK(what == "attn::io::read_npy: '" + path.string() +
                    "': the array has 3 dimensions (2, 3, 4); read_npy returns a matrix and reads 0-D, 1-D or "
                    "2-D arrays (use read_npy_array)");
}

TEST_CASE("arrays saved one after the other are read in turn from one stream", "[io][npy][fixture]") {
  std::ifstream in(kNpyDir / "two_arrays.npy", std::ios::binary);
  const Eigen::MatrixXd first = attn::io::read_npy(in);
  CHECK(first == base_matrix<double>(2, 2));
  const Eigen::MatrixXf second = attn::io::read_npy<float>(in);
  CHECK(second == base_matrix<float>(1, 3));
  CHECK(in.peek() == std::char_traits<char>::eof());
}

TEST_CASE("write_npy writes exactly the bytes np.save writes", "[io][npy][fixture]") {
  const auto written = [](auto&& write) {
    std::ostringstream os(std::ios::binary);
    write(os);
    return os.str();
  };
  CHECK(written([](std::ostream& os) { attn::io::write_npy(os, base_matrix<double>(3, 4)); }) ==
        file_bytes(kNpyDir / "f8_c_3x4.npy"));
  CHECK(written([](std::ostream& os) { attn::io::write_npy(os, base_matrix<float>(3, 4)); }) ==
        file_bytes(kNpyDir / "f4_c_3x4.npy"));
  CHECK(written([](std::ostream& os) {
          attn::io::write_npy(os, base_matrix<double>(3, 4), attn::io::NpyOrder::fortran);
        }) == file_bytes(kNpyDir / "f8_fortran_3x4.npy"));
  // An expression (row-major transpose of a transpose) is evaluated once and written the same.
  const Eigen::MatrixXf t = base_matrix<float>(3, 4).transpose();
  CHECK(written([&](std::ostream& os) { attn::io::write_npy(os, t.transpose(), attn::io::NpyOrder::fortran); }) ==
        file_bytes(kNpyDir / "f4_fortran_3x4.npy"));

  attn::io::NpyArray<double> one_d{{5}, {}};
  for (Index k = 0; k < 5; ++k) one_d.data.push_back(base_value(k));
  CHECK(written([&](std::ostream& os) { attn::io::write_npy(os, one_d); }) == file_bytes(kNpyDir / "f8_1d_5.npy"));

  const attn::io::NpyArray<double> zero_d{{}, {-3.0}};
  CHECK(written([&](std::ostream& os) { attn::io::write_npy(os, zero_d); }) == file_bytes(kNpyDir / "f8_0d.npy"));

  CHECK(written([](std::ostream& os) { attn::io::write_npy(os, Eigen::MatrixXd(0, 3)); }) ==
        file_bytes(kNpyDir / "f8_empty_0x3.npy"));

  std::vector<Eigen::MatrixXd> heads{base_matrix<double>(3, 4), base_matrix<double>(3, 4)};
  heads[1].array() += 6.0;  // continues the flat index: 12 * 0.5 = 6
  CHECK(written([&](std::ostream& os) { attn::io::write_npy(os, attn::io::npy_stack(heads)); }) ==
        file_bytes(kNpyDir / "f8_c_2x3x4.npy"));

  std::vector<Eigen::MatrixXf> heads_f{heads[0].cast<float>(), heads[1].cast<float>()};
  CHECK(written([&](std::ostream& os) {
          attn::io::write_npy(os, attn::io::npy_stack(heads_f), attn::io::NpyOrder::fortran);
        }) == file_bytes(kNpyDir / "f4_fortran_2x3x4.npy"));

  // np.stack of two (3, 4, 5) stacks of maps, each npy_stack()ed, is NumPy's (2, 3, 4, 5) file.
  std::vector<attn::io::NpyArray<double>> items;
  for (Index b = 0; b < 2; ++b) {
    std::vector<Eigen::MatrixXd> maps;
    for (Index h = 0; h < 3; ++h) maps.push_back(base_matrix<double>(4, 5).array() + 10.0 * static_cast<double>(b * 3 + h));
    items.push_back(attn::io::npy_stack(maps));  // 20 entries a map: the flat index goes on by 20 · 0.5
  }
  const attn::io::NpyArray<double> batch = attn::io::npy_stack(items);
  CHECK(batch.shape == std::vector<Index>{2, 3, 4, 5});
  CHECK(written([&](std::ostream& os) { attn::io::write_npy(os, batch); }) == file_bytes(kNpyDir / "f8_c_2x3x4x5.npy"));
}

TEST_CASE("npy_stack of a batch's per-head stacks reads back head by head", "[io][npy][compose]") {
  const Eigen::MatrixXd x0 = Eigen::MatrixXd::Random(4, 8), x1 = Eigen::MatrixXd::Random(4, 8);
  attn::MultiHeadParams<double> p;
  p.wq = Eigen::MatrixXd::Random(8, 8);
  p.wk = Eigen::MatrixXd::Random(8, 8);
  p.wv = Eigen::MatrixXd::Random(8, 8);
  p.wo = Eigen::MatrixXd::Random(8, 8);
  p.heads = 2;
  const std::vector<Eigen::MatrixXd> xs{x0, x1};
  const auto results = attn::multi_head_batch(xs, xs, xs, p);
  std::vector<attn::io::NpyArray<double>> items;
  for (const auto& r : results) items.push_back(attn::io::npy_stack(r.weights));
  const attn::io::NpyArray<double> w = attn::io::npy_stack(items);  // B×h×Tq×Tk, PyTorch's shape
  REQUIRE(w.shape == std::vector<Index>{2, 2, 4, 4});
  for (Index b = 0; b < 2; ++b) {
    for (Index h = 0; h < 2; ++h) {
      CHECK(w.matrix({b, h}) == Eigen::MatrixXd(results[static_cast<std::size_t>(b)].weights.head(h)));
    }
  }

  CHECK(message_of<attn::invalid_argument>([] { (void)attn::io::npy_stack(std::vector<attn::io::NpyArray<float>>()); }) ==
        "attn::io::npy_stack: no arrays to stack (np.stack needs at least one too)");
  const std::vector<attn::io::NpyArray<double>> uneven{{{2, 3}, std::vector<double>(6)}, {{3, 2}, std::vector<double>(6)}};
  CHECK(message_of<attn::invalid_argument>([&] { (void)attn::io::npy_stack(uneven); }) ==
        "attn::io::npy_stack: arrays[1] has shape (3, 2), arrays[0] (2, 3)");
  const std::vector<attn::io::NpyArray<double>> short_data{{{2}, {1.0, 2.0}}, {{2}, {1.0}}};
  CHECK(message_of<attn::invalid_argument>([&] { (void)attn::io::npy_stack(short_data); }) ==
        "attn::io::npy_stack: arrays[1].data.size() (1) must equal the product of its shape (2)");
  attn::io::NpyArray<double> deep;
  deep.shape.assign(32, 1);
  deep.data = {1.0};
  CHECK(message_of<attn::invalid_argument>([&] { (void)attn::io::npy_stack(std::vector<attn::io::NpyArray<double>>{deep}); }) ==
        "attn::io::npy_stack: arrays[0] has 32 dimensions, the stack would have more than 32");
}

TEMPLATE_TEST_CASE("write_npy then read_npy gives back every bit", "[io][npy][roundtrip]", float, double) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> uniform(-1e3, 1e3);
  for (const Index rows : {0, 1, 2, 7, 64}) {
    for (const Index cols : {0, 1, 5, 33}) {
      attn::Matrix<TestType> m(rows, cols);
      for (Index k = 0; k < m.size(); ++k) m.data()[k] = static_cast<TestType>(uniform(rng));
      if (m.size() >= 3) {
        m.data()[0] = std::numeric_limits<TestType>::quiet_NaN();
        m.data()[1] = -std::numeric_limits<TestType>::infinity();
        m.data()[2] = -TestType(0);
      }
      for (const auto order : {attn::io::NpyOrder::c, attn::io::NpyOrder::fortran}) {
        std::stringstream io(std::ios::in | std::ios::out | std::ios::binary);
        attn::io::write_npy(io, m, order);
        const std::string bytes = io.str();
        const auto header = attn::io::read_npy_header(io);
        CHECK(header.data_offset % 64 == 0);
        CHECK(header.fortran_order == (order == attn::io::NpyOrder::fortran));
        CHECK(header.descr == (std::is_same<TestType, float>::value ? "<f4" : "<f8"));
        CHECK(bytes.size() == header.data_offset + static_cast<std::size_t>(m.size()) * sizeof(TestType));
        std::istringstream in(bytes);
        const attn::Matrix<TestType> back = attn::io::read_npy<TestType>(in);
        REQUIRE(back.rows() == rows);
        REQUIRE(back.cols() == cols);
        if (m.size() > 0) {
          CHECK(std::memcmp(back.data(), m.data(), static_cast<std::size_t>(m.size()) * sizeof(TestType)) == 0);
        }
      }
    }
  }
}

TEST_CASE("write_npy of an N-D array round-trips in both orders", "[io][npy][roundtrip]") {
  attn::io::NpyArray<float> a;
  a.shape = {2, 3, 1, 4};
  for (Index k = 0; k < 24; ++k) a.data.push_back(static_cast<float>(k) * 0.25f);
  for (const auto order : {attn::io::NpyOrder::c, attn::io::NpyOrder::fortran}) {
    std::stringstream io(std::ios::in | std::ios::out | std::ios::binary);
    attn::io::write_npy(io, a, order);
    const auto back = attn::io::read_npy_array<float>(io);
    CHECK(back.shape == a.shape);
    CHECK(back.data == a.data);
  }
}

TEST_CASE("every malformed .npy file is rejected with the right message", "[io][npy][malformed]") {
  const fs::path dir = kNpyDir / "bad";
  std::ifstream manifest(dir / "MANIFEST.tsv");
  REQUIRE(manifest.is_open());
  std::string line;
  int cases = 0;
  while (std::getline(manifest, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    const fs::path path = dir / line.substr(0, tab);
    const std::string expected = line.substr(tab + 1);
    INFO(path.string() + ": expected a message containing: " + expected);
    ++cases;

    const std::string from_path = message_of<attn::io::npy_error>([&] { (void)attn::io::read_npy(path); });
    CHECK_THAT(from_path, Catch::Contains(expected));
    CHECK_THAT(from_path, Catch::StartsWith("attn::io::read_npy: '" + path.string() + "': "));

    const std::string as_array =
        message_of<attn::io::npy_error>([&] { (void)attn::io::read_npy_array<float>(path); });
    CHECK_THAT(as_array, Catch::Contains(expected));

    // The same bytes from a seekable stream and from a stream that cannot seek (a pipe).
    const std::string bytes = file_bytes(path);
    std::istringstream seekable(bytes);
    const std::string from_stream =
        message_of<attn::io::npy_error>([&] { (void)attn::io::read_npy(seekable); });
    const std::size_t prefix = std::string("attn::io::read_npy: '" + path.string() + "': ").size();
    CHECK(from_stream == "attn::io::read_npy: " + from_path.substr(prefix));
    PipeBuffer pipe(bytes);
    std::istream unseekable(&pipe);
    const std::string from_pipe =
        message_of<attn::io::npy_error>([&] { (void)attn::io::read_npy_array(unseekable); });
    CHECK_THAT(from_pipe, Catch::Contains(expected));
    // npy_error is a std::runtime_error.
    std::istringstream again(bytes);
    CHECK_THROWS_AS(attn::io::read_npy(again), std::runtime_error);
  }
  CHECK(cases >= 50);
}

TEST_CASE("a few malformed files in full: the messages say exactly what is wrong", "[io][npy][malformed]") {
  const auto read = [](const std::string& bytes) {
    return message_of<attn::io::npy_error>([&] {
      std::istringstream in(bytes);
      (void)attn::io::read_npy(in);
    });
  };
  CHECK(read(file_bytes(kNpyDir / "bad" / "descr_big_endian.npy")) ==
        "attn::io::read_npy: unsupported descr '>f8': big-endian data is not supported; save it little-endian, e.g. "
        "a.astype('<f8')");
  CHECK(read(file_bytes(kNpyDir / "bad" / "descr_object.npy")) ==
        "attn::io::read_npy: unsupported descr '|O' (supported: little-endian '<f2', '<f4', '<f8', '<i2'..'<i8', "
        "'<u2'..'<u8', and '|i1', '|u1', '|b1'); an object array (np.save of a Python list of arrays, such as "
        "layer.get_weights()?): save each array with its own np.save, or all of them with np.savez(path, "
        "**{name: array}) for attn::io::read_npz; arrays of one shape can be stacked, np.save(path, "
        "np.stack(arrays))");
  // Files passed for a .npy: a Keras HDF5 model (the first question's weights.best.hdf5), an
  // .npz archive, anything else.
  const std::string not_npy = "attn::io::read_npy: not a NumPy .npy file: it does not start with the magic string "
                              "\\x93NUMPY";
  CHECK(read(std::string("\x89HDF\r\n\x1a\n\0\0\0\0", 12)) ==
        not_npy + "; it is an HDF5 file (Keras' .h5 / .hdf5 model or weights): attn reads no HDF5; in Python, load "
                  "the model and np.save each array of layer.get_weights() (docs/05-keras-and-pytorch.md)");
  CHECK(read(std::string("PK\x03\x04\x14\0\0\0", 8)) ==
        not_npy + "; it is a zip archive (np.savez's .npz?): read its arrays with attn::io::read_npz(path, name)");
  CHECK(read("0.5,0.5\n1,0\n") == not_npy);
  CHECK(read(file_bytes(kNpyDir / "bad" / "duplicate_descr.npy")) ==
        "attn::io::read_npy: malformed header at offset 17: duplicate key 'descr'");
  CHECK(read(file_bytes(kNpyDir / "bad" / "signed_header_length_v2.npy")) ==
        "attn::io::read_npy: header length (2147483648 bytes) exceeds the limit of 10000 bytes (NumPy's own limit)");
  CHECK(read(file_bytes(kNpyDir / "bad" / "truncated_data.npy")) ==
        "attn::io::read_npy: truncated data: shape (3, 4) of '<f8' needs 96 bytes, only 40 follow the header");
  CHECK(read(file_bytes(kNpyDir / "bad" / "fortran_order_string.npy")) ==
        "attn::io::read_npy: malformed header at offset 34: fortran_order must be True or False, found "
        "\"'no', 'sha\"");
}

TEST_CASE("a header of exactly 10000 bytes is accepted, and a dimension of 0 with huge others too",
          "[io][npy][malformed]") {
  std::string text = "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4611686018427387904), }";
  text.resize(9999, ' ');
  text.push_back('\n');
  std::string bytes = std::string("\x93NUMPY\x02\x00", 8) + std::string("\x10\x27\x00\x00", 4) + text;
  std::istringstream in(bytes);
  const auto a = attn::io::read_npy_array(in);
  CHECK(a.shape == std::vector<Index>{0, 4611686018427387904});
  CHECK(a.data.empty());
  CHECK(a.size() == 0);
  // Written back in Fortran order, no stride of the huge dimensions is ever formed (fuzzer find).
  attn::io::NpyArray<double> wide{{0, 4294967296, 4294967296}, {}};
  for (const auto order : {attn::io::NpyOrder::c, attn::io::NpyOrder::fortran}) {
    std::stringstream io(std::ios::in | std::ios::out | std::ios::binary);
    attn::io::write_npy(io, wide, order);
    CHECK(attn::io::read_npy_array(io).shape == wide.shape);
  }
  std::istringstream again(bytes);
  const Eigen::MatrixXd empty = attn::io::read_npy(again);
  CHECK(empty.rows() == 0);
  CHECK(empty.cols() == 4611686018427387904);
}

TEST_CASE("old Python 2 headers with long suffixes and double quotes are read", "[io][npy]") {
  const std::string text = "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1L, 2L), }\n";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(text.size()));
  bytes.push_back('\0');
  bytes += text;
  const float values[2] = {1.5f, -2.0f};
  bytes.append(reinterpret_cast<const char*>(values), sizeof values);  // the test machine is little-endian
  std::istringstream in(bytes);
  const Eigen::MatrixXf m = attn::io::read_npy<float>(in);
  REQUIRE(m.rows() == 1);
  REQUIRE(m.cols() == 2);
  CHECK(m(0, 1) == -2.0f);
}

TEST_CASE("npy I/O failures name the path and the system's reason", "[io][npy][error]") {
  TempDir tmp;
  const fs::path missing = tmp.path / "missing.npy";
  CHECK(message_of<std::runtime_error>([&] { (void)attn::io::read_npy(missing); }) ==
        "attn::io::read_npy: cannot open '" + missing.string() + "' for reading: No such file or directory");

  CHECK(message_of<std::runtime_error>([&] { (void)attn::io::read_npy(tmp.path); }) ==
        "attn::io::read_npy: cannot open '" + tmp.path.string() + "' for reading: Is a directory");

  const fs::path no_dir = tmp.path / "no" / "such" / "dir" / "w.npy";
  const std::string what =
      message_of<std::runtime_error>([&] { attn::io::write_npy(no_dir, Eigen::MatrixXd::Ones(2, 2)); });
  CHECK(what == "attn::io::write_npy: cannot write '" + no_dir.string() + "': cannot create a temporary file in '" +
                    no_dir.parent_path().string() + "': No such file or directory");
  CHECK_THAT(what, Catch::EndsWith("No such file or directory"));

  std::ostringstream bad;
  bad.setstate(std::ios::badbit);
  CHECK(message_of<std::runtime_error>([&] { attn::io::write_npy(bad, Eigen::MatrixXd::Ones(2, 2)); }) ==
        "attn::io::write_npy: the output stream is not in a good state");
  std::istringstream bad_in;
  bad_in.setstate(std::ios::failbit);
  CHECK(message_of<attn::io::npy_error>([&] { (void)attn::io::read_npy(bad_in); }) ==
        "attn::io::read_npy: the input stream is not in a good state");
}

TEST_CASE("write_npy to a path replaces the file atomically and leaves no temporary", "[io][npy]") {
  TempDir tmp;
  const fs::path path = tmp.path / "w.npy";
  attn::io::write_npy(path, base_matrix<float>(2, 5));
  attn::io::write_npy(path, base_matrix<double>(3, 4));
  CHECK(file_bytes(path) == file_bytes(kNpyDir / "f8_c_3x4.npy"));
  attn::io::NpyArray<double> a{{2, 2}, {1, 2, 3, 4}};
  attn::io::write_npy(tmp.path / "a.npy", a);
  CHECK(attn::io::read_npy_array(tmp.path / "a.npy").data == a.data);
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(tmp.path)) {
    (void)entry;
    ++entries;
  }
  CHECK(entries == 2);
}

TEST_CASE("npy argument checks throw attn::invalid_argument with the documented messages", "[io][npy][error]") {
  std::ostringstream os;
  attn::io::NpyArray<double> wrong{{2, 3}, {1, 2, 3}};
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::write_npy(os, wrong); }) ==
        "attn::io::write_npy: array.data.size() (3) must equal the product of array.shape (2, 3)");
  attn::io::NpyArray<double> negative{{-1}, {}};
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::write_npy(os, negative); }) ==
        "attn::io::write_npy: array.shape[0] (-1) must be >= 0");
  attn::io::NpyArray<double> deep;
  deep.shape.assign(33, 1);
  deep.data = {1.0};
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::write_npy(os, deep); }) ==
        "attn::io::write_npy: array.shape has 33 dimensions, at most 32 are allowed");
  CHECK(os.str().empty());  // nothing written before the checks

  const std::vector<Eigen::MatrixXd> mixed{Eigen::MatrixXd::Zero(2, 3), Eigen::MatrixXd::Zero(3, 2)};
  CHECK(message_of<attn::invalid_argument>([&] { (void)attn::io::npy_stack(mixed); }) ==
        "attn::io::npy_stack: maps[1] (3x2) must match maps[0] (2x3)");

  const attn::io::NpyArray<double> stack{{2, 1, 1}, {1, 2}};
  CHECK(message_of<attn::invalid_argument>([&] { (void)stack.matrix(2); }) ==
        "attn::io::NpyArray::matrix: k (2) must be in [0, 2)");
  CHECK(message_of<attn::invalid_argument>([&] { (void)stack.to_matrix(); }) ==
        "attn::io::NpyArray::to_matrix: the array has 3 dimensions, must have 0, 1 or 2");
  const attn::io::NpyArray<double> flat{{2}, {1, 2}};
  CHECK(message_of<attn::invalid_argument>([&] { (void)flat.matrix(0); }) ==
        "attn::io::NpyArray::matrix: the array has 1 dimensions, must have 3");
  const attn::io::NpyArray<double> short_data{{2, 2}, {1}};
  CHECK(message_of<attn::invalid_argument>([&] { (void)short_data.to_matrix(); }) ==
        "attn::io::NpyArray::to_matrix: data.size() (1) must equal the product of shape (4)");
  const attn::io::NpyArray<double> four{{2, 3, 1, 1}, {1, 2, 3, 4, 5, 6}};
  CHECK(message_of<attn::invalid_argument>([&] { (void)four.matrix(0); }) ==
        "attn::io::NpyArray::matrix: the array has 4 dimensions, must have 3; matrix({i, j, ...}) picks a matrix "
        "of more, as NumPy's w[i, j]");
  CHECK(message_of<attn::invalid_argument>([&] { (void)four.matrix({1, 3}); }) ==
        "attn::io::NpyArray::matrix: index[1] (3) must be in [0, 3)");
  CHECK(message_of<attn::invalid_argument>([&] { (void)four.matrix({-1, 0}); }) ==
        "attn::io::NpyArray::matrix: index[0] (-1) must be in [0, 2)");
  CHECK(message_of<attn::invalid_argument>([&] { (void)four.matrix({0, 0, 0}); }) ==
        "attn::io::NpyArray::matrix: the array has 4 dimensions, so index needs 2 entries (one per axis but the "
        "last two), not 3");
  CHECK(message_of<attn::invalid_argument>([&] { (void)flat.matrix(std::vector<Index>()); }) ==
        "attn::io::NpyArray::matrix: the array has 1 dimensions, must have 2 or more to hold a matrix");
  const attn::io::NpyArray<double> short_four{{1, 1, 2, 2}, {1}};
  CHECK(message_of<attn::invalid_argument>([&] { (void)short_four.matrix({0, 0}); }) ==
        "attn::io::NpyArray::matrix: data.size() (1) must equal the product of shape (4)");
  const attn::io::NpyArray<double> short_stack{{1, 2, 2}, {1}};
  CHECK(message_of<attn::invalid_argument>([&] { (void)short_stack.matrix(0); }) ==
        "attn::io::NpyArray::matrix: data.size() (1) must equal the product of shape (4)");
}

}  // namespace test_npy
