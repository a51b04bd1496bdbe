// SPDX-License-Identifier: MIT
// Tests of attn/io/csv.hpp: exact text, RFC 4180 quoting, bit-exact number round trip,
// locale independence, stream state, and the atomic path overload (temp file + rename).
#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)
#include "attn/io/csv.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <locale>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

// Everything in this file lives in namespace test_csv: the suite is a unity build.
namespace test_csv {

namespace fs = std::filesystem;

using attn_test::TempDir;

namespace {

template <typename Scalar>
using Mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
using Labels = std::vector<std::string>;

template <typename Derived>
std::string csv_text(const Eigen::DenseBase<Derived>& m, const Labels& row_labels = {},
                     const Labels& col_labels = {}) {
  std::ostringstream os;
  attn::io::write_csv(os, m, row_labels, col_labels);
  return os.str();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios_base::in | std::ios_base::binary);
  REQUIRE(in.is_open());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios_base::out | std::ios_base::binary);
  out << text;
  REQUIRE(out.good());
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool has_temporary_file(const fs::path& dir) {
  for (const auto& name : entries(dir)) {
    if (name.find(".tmp") != std::string::npos) return true;
  }
  return false;
}


/// Changes the working directory for the scope (to test relative paths and literals).
class CurrentPathGuard {
 public:
  explicit CurrentPathGuard(const fs::path& dir) : saved_(fs::current_path()) { fs::current_path(dir); }
  ~CurrentPathGuard() {
    std::error_code ignored;
    fs::current_path(saved_, ignored);
  }
  CurrentPathGuard(const CurrentPathGuard&) = delete;
  CurrentPathGuard& operator=(const CurrentPathGuard&) = delete;

 private:
  fs::path saved_;
};

/// Sets the global C++ locale (and, for a named locale, the C one) for the scope.
class GlobalLocaleGuard {
 public:
  explicit GlobalLocaleGuard(const std::locale& locale) : saved_(std::locale::global(locale)) {}
  ~GlobalLocaleGuard() { std::locale::global(saved_); }
  GlobalLocaleGuard(const GlobalLocaleGuard&) = delete;
  GlobalLocaleGuard& operator=(const GlobalLocaleGuard&) = delete;

 private:
  std::locale saved_;
};

/// German-style punctuation: decimal comma, '.' thousands separator grouping by 3.
class CommaDecimal : public std::numpunct<char> {
 protected:
  char do_decimal_point() const override { return ','; }
  char do_thousands_sep() const override { return '.'; }
  std::string do_grouping() const override { return "\3"; }
};

/// A stream buffer that accepts `capacity` characters and then fails.
class FailingBuffer : public std::streambuf {
 public:
  explicit FailingBuffer(std::size_t capacity) : capacity_(capacity) {}

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    if (written_ >= capacity_) return traits_type::eof();
    ++written_;
    return c;
  }

 private:
  std::size_t capacity_;
  std::size_t written_ = 0;
};

template <typename Scalar>
Scalar parse_number(const std::string& field) {
  errno = 0;
  const char* begin = field.c_str();
  char* end = nullptr;
  Scalar value;
  if constexpr (std::is_same<Scalar, float>::value) {
    value = std::strtof(begin, &end);
  } else {
    value = std::strtod(begin, &end);
  }
  INFO("field: '" << field << "'");
  REQUIRE(end == begin + field.size());
  return value;
}

template <typename Scalar>
auto bits_of(Scalar value) {
  using Bits = std::conditional_t<sizeof(Scalar) == 4, std::uint32_t, std::uint64_t>;
  static_assert(sizeof(Bits) == sizeof(Scalar), "float must be 32 bits and double 64 bits");
  Bits bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

/// Splits unlabelled CSV (numbers only, '\n' line ends) into rows of fields.
std::vector<std::vector<std::string>> split_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> fields;
    std::string field;
    std::istringstream cells(line);
    while (std::getline(cells, field, ',')) fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

template <typename Scalar>
std::string number_text(Scalar value) {
  Mat<Scalar> m(1, 1);
  m(0, 0) = value;
  std::string text = csv_text(m);
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  text.pop_back();
  return text;
}

template <typename Scalar>
Mat<Scalar> small_matrix() {
  Mat<Scalar> m(3, 3);
  m << Scalar(0.5), Scalar(-2), Scalar(0),  //
      Scalar(0.25), Scalar(1.5), Scalar(1024),  //
      Scalar(-0.125), Scalar(3), Scalar(7);
  return m;
}

// UTF-8 spelled as bytes so the test does not depend on the compiler's source charset.
const std::string naive = "na\xc3\xaf" "ve";            // naïve
const std::string nihon = "\xe6\x97\xa5\xe6\x9c\xac";   // 日本

}  // namespace

TEST_CASE("csv_field quotes per RFC 4180 only when needed", "[csv][field]") {
  using attn::io::csv_field;
  CHECK(csv_field("") == "");
  CHECK(csv_field("abc") == "abc");
  CHECK(csv_field("a b") == "a b");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("\"") == "\"\"\"\"");
  CHECK(csv_field("line\nbreak") == "\"line\nbreak\"");
  CHECK(csv_field("cr\rlf") == "\"cr\rlf\"");
  CHECK(csv_field("\r\n") == "\"\r\n\"");
  CHECK(csv_field(" lead") == "\" lead\"");
  CHECK(csv_field("trail ") == "\"trail \"");
  CHECK(csv_field("\ttab") == "\"\ttab\"");
  CHECK(csv_field(" ") == "\" \"");
  CHECK(csv_field(naive) == naive);
  CHECK(csv_field(nihon) == nihon);
  CHECK(csv_field(nihon + ",x") == "\"" + nihon + ",x\"");
  const std::string with_nul("a\0b", 3);
  CHECK(csv_field(with_nul) == with_nul);
}

TEMPLATE_TEST_CASE("write_csv: labelled matrix, exact text", "[csv][format]", float, double) {
  const Mat<TestType> m = small_matrix<TestType>();
  const Labels rows = {naive, "a,b", "line\nbreak"};
  const Labels cols = {nihon, "say \"hi\"", " pad"};
  const std::string expected = "," + nihon + ",\"say \"\"hi\"\"\",\" pad\"\n" +  //
                               naive + ",0.5,-2,0\n"                             //
                               "\"a,b\",0.25,1.5,1024\n"                          //
                               "\"line\nbreak\",-0.125,3,7\n";
  CHECK(csv_text(m, rows, cols) == expected);
}

TEMPLATE_TEST_CASE("write_csv: no labels, only column labels, only row labels", "[csv][format]", float,
                   double) {
  const Mat<TestType> m = small_matrix<TestType>();
  SECTION("no labels") {
    CHECK(csv_text(m) == "0.5,-2,0\n0.25,1.5,1024\n-0.125,3,7\n");
  }
  SECTION("only column labels") {
    CHECK(csv_text(m, {}, {"k0", "k,1", "k2"}) == "k0,\"k,1\",k2\n0.5,-2,0\n0.25,1.5,1024\n-0.125,3,7\n");
  }
  SECTION("only row labels") {
    CHECK(csv_text(m, {"q0", "\"q1\"", "q2"}, {}) ==
          "q0,0.5,-2,0\n\"\"\"q1\"\"\",0.25,1.5,1024\nq2,-0.125,3,7\n");
  }
  SECTION("empty labels are empty fields") {
    CHECK(csv_text(m, {"", "b", ""}, {"", "", "z"}) == ",,,z\n,0.5,-2,0\nb,0.25,1.5,1024\n,-0.125,3,7\n");
  }
}

TEMPLATE_TEST_CASE("write_csv: 0x0, 1x1 and empty shapes", "[csv][format][shape]", float, double) {
  SECTION("0x0") {
    const Mat<TestType> m(0, 0);
    CHECK(csv_text(m) == "");
  }
  SECTION("1x1") {
    Mat<TestType> m(1, 1);
    m(0, 0) = TestType(0.75);
    CHECK(csv_text(m) == "0.75\n");
    CHECK(csv_text(m, {"q"}, {"k"}) == ",k\nq,0.75\n");
    CHECK(csv_text(m, {}, {"k"}) == "k\n0.75\n");
    CHECK(csv_text(m, {"q"}, {}) == "q,0.75\n");
    // A record that is one empty field is written "" so that it is not a blank line.
    CHECK(csv_text(m, {}, {""}) == "\"\"\n0.75\n");
  }
  SECTION("0 rows: only the header") {
    const Mat<TestType> m(0, 2);
    CHECK(csv_text(m) == "");
    CHECK(csv_text(m, {}, {"a", "b"}) == "a,b\n");
  }
  SECTION("0 columns: only the row labels") {
    const Mat<TestType> m(2, 0);
    CHECK(csv_text(m) == "");
    CHECK(csv_text(m, {"x", ""}, {}) == "x\n\"\"\n");
  }
}

TEMPLATE_TEST_CASE("write_csv: numbers are spelled as documented", "[csv][number]", float, double) {
  using limits = std::numeric_limits<TestType>;
  CHECK(number_text(TestType(0)) == "0");
  CHECK(number_text(-TestType(0)) == "-0");
  CHECK(number_text(TestType(1)) == "1");
  CHECK(number_text(TestType(-2.5)) == "-2.5");
  CHECK(number_text(TestType(100)) == "100");
  CHECK(number_text(limits::quiet_NaN()) == "nan");
  CHECK(number_text(-limits::quiet_NaN()) == "nan");
  CHECK(number_text(limits::infinity()) == "inf");
  CHECK(number_text(-limits::infinity()) == "-inf");
  if constexpr (std::is_same<TestType, float>::value) {
    CHECK(number_text(0.1f) == "0.100000001");
    CHECK(number_text(1e20f) == "1.00000002e+20");
    CHECK(number_text(limits::max()) == "3.40282347e+38");
    CHECK(number_text(limits::denorm_min()) == "1.40129846e-45");
  } else {
    CHECK(number_text(0.1) == "0.10000000000000001");
    CHECK(number_text(1e20) == "1e+20");
    CHECK(number_text(1e-5) == "1.0000000000000001e-05");
    CHECK(number_text(limits::max()) == "1.7976931348623157e+308");
    CHECK(number_text(limits::denorm_min()) == "4.9406564584124654e-324");
  }
}

TEMPLATE_TEST_CASE("write_csv: every finite number reads back bit-exactly", "[csv][number][roundtrip]",
                   float, double) {
  using Bits = decltype(bits_of(TestType(0)));
  std::mt19937_64 engine(20240611);
  const Eigen::Index rows = 40;
  const Eigen::Index cols = 25;
  Mat<TestType> m(rows, cols);
  std::uniform_real_distribution<TestType> unit(TestType(-1), TestType(1));
  for (Eigen::Index j = 0; j < cols; ++j) {
    for (Eigen::Index i = 0; i < rows; ++i) {
      TestType value;
      if (j % 2 == 0) {
        value = unit(engine);  // typical attention-sized values
      } else {
        do {  // any bit pattern: every exponent, subnormals, both signs
          const auto bits = static_cast<Bits>(engine());
          std::memcpy(&value, &bits, sizeof value);
        } while (!std::isfinite(value));
      }
      m(i, j) = value;
    }
  }
  const auto records = split_csv(csv_text(m));
  REQUIRE(static_cast<Eigen::Index>(records.size()) == rows);
  for (Eigen::Index i = 0; i < rows; ++i) {
    const auto& fields = records[static_cast<std::size_t>(i)];
    REQUIRE(static_cast<Eigen::Index>(fields.size()) == cols);
    for (Eigen::Index j = 0; j < cols; ++j) {
      const std::string& field = fields[static_cast<std::size_t>(j)];
      const TestType parsed = parse_number<TestType>(field);
      INFO("m(" << i << ", " << j << ") written as '" << field << "'");
      CHECK(bits_of(parsed) == bits_of(m(i, j)));
    }
  }
}

TEMPLATE_TEST_CASE("write_csv: expressions, blocks, maps, row-major and arrays", "[csv][eigen]", float,
                   double) {
  const Mat<TestType> m = small_matrix<TestType>();
  const Mat<TestType> transposed = m.transpose();
  CHECK(csv_text(m.transpose()) == csv_text(transposed));
  const Mat<TestType> doubled = TestType(2) * m;
  CHECK(csv_text(TestType(2) * m) == csv_text(doubled));
  const Mat<TestType> block = m.block(1, 0, 2, 2);
  CHECK(csv_text(m.block(1, 0, 2, 2)) == csv_text(block));
  CHECK(csv_text(m.block(1, 0, 2, 2)) == "0.25,1.5\n-0.125,3\n");
  const Eigen::Matrix<TestType, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = m;
  CHECK(csv_text(row_major) == csv_text(m));
  CHECK(csv_text(m.array()) == csv_text(m));
  const Eigen::Map<const Mat<TestType>> map(m.data(), m.rows(), m.cols());
  CHECK(csv_text(map) == csv_text(m));
  const Eigen::Matrix<TestType, 2, 3> fixed = m.topRows(2);
  CHECK(csv_text(fixed, {"a", "b"}, {"x", "y", "z"}) == ",x,y,z\na,0.5,-2,0\nb,0.25,1.5,1024\n");
}

TEMPLATE_TEST_CASE("write_csv: label counts must match the shape", "[csv][error]", float, double) {
  const Mat<TestType> m = Mat<TestType>::Zero(4, 2);
  std::ostringstream os;
  REQUIRE_THROWS_AS(attn::io::write_csv(os, m, {"a", "b", "c"}), attn::invalid_argument);
  REQUIRE_THROWS_AS(attn::io::write_csv(os, m, {"a", "b", "c"}), std::invalid_argument);
  REQUIRE_THROWS_WITH(attn::io::write_csv(os, m, {"a", "b", "c"}),
                      "attn::io::write_csv: row_labels.size() (3) must equal m.rows() (4)");
  REQUIRE_THROWS_AS(attn::io::write_csv(os, m, {}, {"x", "y", "z"}), attn::invalid_argument);
  REQUIRE_THROWS_WITH(attn::io::write_csv(os, m, {}, {"x", "y", "z"}),
                      "attn::io::write_csv: col_labels.size() (3) must equal m.cols() (2)");
  REQUIRE_THROWS_WITH(attn::io::write_csv(os, m, {"a", "b", "c", "d"}, {"x"}),
                      "attn::io::write_csv: col_labels.size() (1) must equal m.cols() (2)");
  CHECK(os.str().empty());  // nothing is written before the checks pass

  SECTION("the path overload checks before touching the file system") {
    TempDir dir;
    const fs::path existing = dir.path / "kept.csv";
    write_file(existing, "old\n");
    REQUIRE_THROWS_AS(attn::io::write_csv(existing, m, {"a"}), attn::invalid_argument);
    REQUIRE_THROWS_WITH(attn::io::write_csv(existing, m, {"a"}),
                        "attn::io::write_csv: row_labels.size() (1) must equal m.rows() (4)");
    REQUIRE_THROWS_WITH(attn::io::write_csv(existing, m, {}, {"x"}),
                        "attn::io::write_csv: col_labels.size() (1) must equal m.cols() (2)");
    CHECK(read_file(existing) == "old\n");
    CHECK(entries(dir.path) == std::vector<std::string>{"kept.csv"});
  }
}

TEST_CASE("write_csv: the stream's precision, flags, width, fill and locale are left as they were",
          "[csv][stream]") {
  const Mat<double> m = small_matrix<double>();
  const std::locale comma(std::locale::classic(), new CommaDecimal);
  std::ostringstream os;
  os.imbue(comma);
  os.precision(3);
  os.setf(std::ios_base::scientific | std::ios_base::showpos | std::ios_base::uppercase |
          std::ios_base::showpoint);
  os.width(12);
  os.fill('*');
  const auto precision = os.precision();
  const auto flags = os.flags();
  const auto width = os.width();
  const auto fill = os.fill();
  const auto locale_name = os.getloc().name();

  attn::io::write_csv(os, m, {"a", "b", "c"}, {"x", "y", "z"});

  CHECK(os.precision() == precision);
  CHECK(os.flags() == flags);
  CHECK(os.width() == width);
  CHECK(os.fill() == fill);
  CHECK(os.getloc().name() == locale_name);
  CHECK(std::has_facet<CommaDecimal>(os.getloc()));
  CHECK(os.good());
  // ... and none of them shaped the output.
  CHECK(os.str() == csv_text(m, {"a", "b", "c"}, {"x", "y", "z"}));
}

TEST_CASE("write_csv: a stream that is bad or fails throws std::runtime_error", "[csv][stream][error]") {
  const Mat<double> m = small_matrix<double>();
  SECTION("bad before the call") {
    std::ostringstream os;
    os.setstate(std::ios_base::badbit);
    REQUIRE_THROWS_AS(attn::io::write_csv(os, m), std::runtime_error);
    REQUIRE_THROWS_WITH(attn::io::write_csv(os, m),
                        "attn::io::write_csv: the output stream is not in a good state");
  }
  SECTION("fails during the write") {
    FailingBuffer buffer(10);
    std::ostream os(&buffer);
    REQUIRE_THROWS_AS(attn::io::write_csv(os, m), std::runtime_error);
    CHECK(os.bad());
  }
}

TEST_CASE("write_csv: a comma-decimal global and stream locale does not change the numbers",
          "[csv][locale]") {
  // Always runs: an unnamed locale with a decimal-comma facet, global and on the stream.
  const std::locale comma(std::locale::classic(), new CommaDecimal);
  Mat<double> m(1, 3);
  m << 0.5, 1234567.0, -1.25e-7;
  const std::string expected = "0.5,1234567,-1.2499999999999999e-07\n";
  GlobalLocaleGuard guard(comma);
  std::ostringstream check;  // the facet really is in force for ordinary formatting
  check.precision(10);
  check << 1234567.5;
  REQUIRE(check.str() == "1.234.567,5");
  std::ostringstream os;
  os.imbue(comma);
  attn::io::write_csv(os, m);
  CHECK(os.str() == expected);
}

TEST_CASE("write_csv: an installed comma-decimal locale does not change the numbers", "[csv][locale]") {
  // A named locale also sets the C locale (printf, strtod): this catches snprintf-based formatting.
  const char* const candidates[] = {"de_DE.UTF-8", "de_DE.utf8", "de_DE", "fr_FR.UTF-8", "fr_FR.utf8",
                                    "fr_FR",       "nl_NL.UTF-8", "ru_RU.UTF-8", "es_ES.UTF-8",
                                    "it_IT.UTF-8", "German_Germany.1252", "de-DE"};
  std::locale found = std::locale::classic();
  std::string found_name;
  for (const char* name : candidates) {
    try {
      const std::locale candidate(name);
      if (std::use_facet<std::numpunct<char>>(candidate).decimal_point() == ',') {
        found = candidate;
        found_name = name;
        break;
      }
    } catch (const std::runtime_error&) {
      // not installed: try the next one
    }
  }
  if (found_name.empty()) {
    WARN("no comma-decimal locale (de_DE, fr_FR, ...) is installed: named-locale CSV test skipped");
    return;
  }
  INFO("locale: " << found_name);
  Mat<float> m(1, 2);
  m << 0.5f, 0.1f;
  GlobalLocaleGuard guard(found);
  char printed[32];
  std::snprintf(printed, sizeof printed, "%.1f", 0.5);
  CHECK(std::string(printed) == "0,5");  // the C locale really changed
  std::ostringstream os;
  os.imbue(found);
  attn::io::write_csv(os, m, {"r"}, {"a", "b"});
  CHECK(os.str() == ",a,b\nr,0.5,0.100000001\n");
}

TEMPLATE_TEST_CASE("write_csv(path): writes the stream text atomically and leaves no temp file",
                   "[csv][file]", float, double) {
  TempDir dir;
  const Mat<TestType> m = small_matrix<TestType>();
  const Labels rows = {naive, "a,b", "line\nbreak"};
  const Labels cols = {nihon, "say \"hi\"", " pad"};
  const std::string expected = csv_text(m, rows, cols);

  SECTION("std::filesystem::path") {
    const fs::path path = dir.path / "weights.csv";
    attn::io::write_csv(path, m, rows, cols);
    CHECK(read_file(path) == expected);
  }
  SECTION("std::string") {
    const std::string path = (dir.path / "weights.csv").string();
    attn::io::write_csv(path, m, rows, cols);
    CHECK(read_file(path) == expected);
  }
  SECTION("const char*") {
    const std::string path = (dir.path / "weights.csv").string();
    attn::io::write_csv(path.c_str(), m, rows, cols);
    CHECK(read_file(path) == expected);
  }
  SECTION("string literal, relative to the working directory") {
    {
      CurrentPathGuard cwd(dir.path);
      attn::io::write_csv("weights.csv", m, rows, cols);
    }
    CHECK(read_file(dir.path / "weights.csv") == expected);
  }
  SECTION("replaces an existing file") {
    const fs::path path = dir.path / "weights.csv";
    write_file(path, std::string(10000, 'x'));
    attn::io::write_csv(path, m, rows, cols);
    CHECK(read_file(path) == expected);
  }
  SECTION("UTF-8 file name") {
    const fs::path path = dir.path / (nihon + ".csv");
    attn::io::write_csv(path, m);
    CHECK(read_file(path) == csv_text(m));
    CHECK(entries(dir.path) == std::vector<std::string>{nihon + ".csv"});
  }
  CHECK(!has_temporary_file(dir.path));
  CHECK(entries(dir.path).size() == 1);
}

TEST_CASE("write_csv(path): a missing directory throws and leaves nothing behind", "[csv][file][error]") {
  TempDir dir;
  const Mat<double> m = small_matrix<double>();
  const fs::path path = dir.path / "no_such_dir" / "w.csv";
  try {
    attn::io::write_csv(path, m);
    FAIL("write_csv did not throw");
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    INFO("message: " << message);
    CHECK(message.rfind("attn::io::write_csv: ", 0) == 0);
    CHECK(message.find("'" + path.string() + "'") != std::string::npos);
    CHECK(message.find("cannot create a temporary file in '" + path.parent_path().string() + "'") !=
          std::string::npos);
    CHECK(message.find(std::strerror(ENOENT)) != std::string::npos);
  }
  CHECK(entries(dir.path).empty());
}

TEST_CASE("write_csv(path): a directory at the path is refused and kept, no temp file",
          "[csv][file][error]") {
  TempDir dir;
  const Mat<double> m = small_matrix<double>();
  const fs::path target = dir.path / "target.csv";
  fs::create_directory(target);
  write_file(target / "keep.txt", "keep\n");
  try {
    attn::io::write_csv(target, m);
    FAIL("write_csv did not throw");
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    INFO("message: " << message);
    CHECK(message.rfind("attn::io::write_csv: ", 0) == 0);
    CHECK(message.find("'" + target.string() + "'") != std::string::npos);
    CHECK(message.find("it is a directory, and only a regular file is replaced") != std::string::npos);
  }
  CHECK(entries(dir.path) == std::vector<std::string>{"target.csv"});
  CHECK(fs::is_directory(target));
  CHECK(entries(target) == std::vector<std::string>{"keep.txt"});
  CHECK(read_file(target / "keep.txt") == "keep\n");
}

TEST_CASE("write_csv(path): a failure while writing removes the temp file", "[csv][file][error][detail]") {
  // The atomic writer behind write_csv(path), driven with writers that fail part-way.
  TempDir dir;
  const fs::path path = dir.path / "w.csv";
  SECTION("the stream fails") {
    const auto failing = [](std::ostream& os) {
      os << "half,";
      os.setstate(std::ios_base::badbit);
    };
    REQUIRE_THROWS_AS(attn::io::detail::write_file_atomically(path, "attn::io::write_csv", failing),
                      std::runtime_error);
    try {
      attn::io::detail::write_file_atomically(path, "attn::io::write_csv", failing);
    } catch (const std::runtime_error& error) {
      const std::string message = error.what();
      CHECK(message.find("attn::io::write_csv: cannot write '" + path.string() +
                         "': writing the temporary file failed") == 0);
    }
    CHECK(entries(dir.path).empty());
  }
  SECTION("the writer throws") {
    const auto throwing = [](std::ostream& os) {
      os << "half,";
      throw std::length_error("boom");
    };
    REQUIRE_THROWS_AS(attn::io::detail::write_file_atomically(path, "attn::io::write_csv", throwing),
                      std::length_error);
    CHECK(entries(dir.path).empty());
  }
  SECTION("an existing file is kept when the write fails") {
    write_file(path, "old\n");
    const auto failing = [](std::ostream& os) { os.setstate(std::ios_base::failbit); };
    REQUIRE_THROWS_AS(attn::io::detail::write_file_atomically(path, "attn::io::write_csv", failing),
                      std::runtime_error);
    CHECK(read_file(path) == "old\n");
    CHECK(entries(dir.path) == std::vector<std::string>{"w.csv"});
  }
  CHECK(!has_temporary_file(dir.path));
}

}  // namespace test_csv
