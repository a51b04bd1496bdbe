// SPDX-License-Identifier: MIT
// Tests of the long (tidy) CSV writer and of read_csv() in attn/io/csv.hpp: exact long-form
// text, lossless round trips of write_csv (bits and labels, every label mode), label
// detection, RFC 4180 corner cases, and the messages for malformed CSV.
#include "attn/io/csv.hpp"

#include "helpers.hpp"

#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_csv_tidy: the suite is a unity build.
namespace test_csv_tidy {

namespace fs = std::filesystem;
using attn::Index;
using attn_test::message_of;

namespace {

template <typename Scalar>
attn::io::CsvMatrix<Scalar> read_text(const std::string& text,
                                      attn::io::CsvLabels labels = attn::io::CsvLabels::automatic) {
  std::istringstream in(text);
  return attn::io::read_csv<Scalar>(in, labels);
}

template <typename Scalar>
bool same_bits(const attn::Matrix<Scalar>& a, const attn::Matrix<Scalar>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(Scalar)) == 0);
}

}  // namespace

TEST_CASE("write_csv_long writes one record per weight with the coordinates that are set", "[io][csv][tidy]") {
  Eigen::MatrixXd h0(2, 2), h1(2, 2);
  h0 << 0.75, 0.25, 0.5, 0.5;
  h1 << 1, 0, 0.125, 0.875;
  std::vector<attn::io::CsvMap<double>> maps{{0, 0, std::nullopt, h0}, {0, 1, std::nullopt, h1}};
  std::ostringstream os;
  attn::io::write_csv_long(os, maps, {"le", "chat"}, {"the", "cat, \"big\""});
  CHECK(os.str() ==
        "layer,head,query,key,query_token,key_token,weight\n"
        "0,0,0,0,le,the,0.75\n"
        "0,0,0,1,le,\"cat, \"\"big\"\"\",0.25\n"
        "0,0,1,0,chat,the,0.5\n"
        "0,0,1,1,chat,\"cat, \"\"big\"\"\",0.5\n"
        "0,1,0,0,le,the,1\n"
        "0,1,0,1,le,\"cat, \"\"big\"\"\",0\n"
        "0,1,1,0,chat,the,0.125\n"
        "0,1,1,1,chat,\"cat, \"\"big\"\"\",0.875\n");

  // Steps only, no labels, float: numbers round-trip (max_digits10).
  Eigen::MatrixXf s(1, 2);
  s << 0.1f, std::numeric_limits<float>::quiet_NaN();
  std::vector<attn::io::CsvMap<float>> steps{{std::nullopt, std::nullopt, 7, s}};
  std::ostringstream os2;
  attn::io::write_csv_long(os2, steps);
  CHECK(os2.str() == "step,query,key,weight\n7,0,0,0.100000001\n7,0,1,nan\n");

  std::ostringstream empty;
  attn::io::write_csv_long(empty, std::vector<attn::io::CsvMap<double>>{});
  CHECK(empty.str() == "query,key,weight\n");
}

TEST_CASE("write_csv_long checks that coordinates and labels fit every map", "[io][csv][tidy][error]") {
  std::ostringstream os;
  std::vector<attn::io::CsvMap<double>> maps{{0, std::nullopt, std::nullopt, Eigen::MatrixXd::Zero(2, 2)},
                                             {std::nullopt, std::nullopt, std::nullopt, Eigen::MatrixXd::Zero(2, 2)}};
  CHECK(message_of([&] { attn::io::write_csv_long(os, maps); }) ==
        "attn::io::write_csv_long: maps[1].layer is unset but maps[0].layer is set");
  maps[1].layer = 1;
  maps[1].head = 3;
  CHECK(message_of([&] { attn::io::write_csv_long(os, maps); }) ==
        "attn::io::write_csv_long: maps[1].head is set but maps[0].head is unset");
  maps[1].head.reset();
  maps[1].weights = Eigen::MatrixXd::Zero(3, 2);
  CHECK(message_of([&] { attn::io::write_csv_long(os, maps, {"a", "b"}); }) ==
        "attn::io::write_csv_long: row_labels.size() (2) must equal maps[1].weights.rows() (3)");
  CHECK(message_of([&] { attn::io::write_csv_long(os, maps, {}, {"a"}); }) ==
        "attn::io::write_csv_long: col_labels.size() (1) must equal maps[0].weights.cols() (2)");
  CHECK(os.str().empty());
  CHECK_THROWS_AS(attn::io::write_csv_long(os, maps, {"a", "b"}), attn::invalid_argument);

  const fs::path dir = fs::temp_directory_path() / ("attn_test_csv_tidy_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  maps[1].weights = Eigen::MatrixXd::Ones(2, 2);
  attn::io::write_csv_long(dir / "long.csv", maps);
  const std::string what = message_of([&] { attn::io::write_csv_long(dir / "no" / "long.csv", maps); });
  CHECK_THAT(what, Catch::StartsWith("attn::io::write_csv_long: cannot write '" + (dir / "no" / "long.csv").string()));
  CHECK(fs::file_size(dir / "long.csv") > 0);
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

TEMPLATE_TEST_CASE("read_csv gives back exactly what write_csv wrote, in every label mode", "[io][csv][roundtrip]",
                   float, double) {
  using Mat = attn::Matrix<TestType>;
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> exponent(-40, 30);
  std::uniform_real_distribution<double> u(-1, 1);
  const std::vector<std::string> hostile{"",        "plain",      "comma, inside", "quote \"q\"",    "new\nline",
                                         "cr\rlf",  " spaces ",   "\ttab",         "ünïcødé 注意", "1.5",
                                         "nan",     "#",          "\"\"",          "a,\"b\",c",      "=1+2"};
  for (const Index rows : {0, 1, 3, 7}) {
    for (const Index cols : {0, 1, 2, 5}) {
      Mat m(rows, cols);
      for (Index k = 0; k < m.size(); ++k) m.data()[k] = static_cast<TestType>(u(rng) * std::pow(10.0, exponent(rng)));
      if (m.size() >= 4) {
        m.data()[0] = std::numeric_limits<TestType>::quiet_NaN();
        m.data()[1] = -std::numeric_limits<TestType>::infinity();
        m.data()[2] = -TestType(0);
        m.data()[3] = std::numeric_limits<TestType>::denorm_min();
      }
      std::vector<std::string> row_labels, col_labels;
      for (Index i = 0; i < rows; ++i) row_labels.push_back(hostile[static_cast<std::size_t>(i * 3 + 1) % hostile.size()]);
      for (Index j = 0; j < cols; ++j) col_labels.push_back(hostile[static_cast<std::size_t>(j * 5 + 2) % hostile.size()]);
      struct Mode {
        attn::io::CsvLabels labels;
        bool rows;
        bool cols;
      };
      for (const Mode mode : {Mode{attn::io::CsvLabels::none, false, false}, Mode{attn::io::CsvLabels::rows, true, false},
                              Mode{attn::io::CsvLabels::columns, false, true}, Mode{attn::io::CsvLabels::both, true, true}}) {
        const std::vector<std::string> rl = mode.rows ? row_labels : std::vector<std::string>{};
        const std::vector<std::string> cl = mode.cols ? col_labels : std::vector<std::string>{};
        std::ostringstream os;
        attn::io::write_csv(os, m, rl, cl);
        INFO(rows << "x" << cols << " labels " << static_cast<int>(mode.labels) << "\n" << os.str());
        // write_csv writes no record without a field, and no row labels without rows (nor
        // column labels without columns): read such files with the labels they do have.
        if (os.str().empty()) {
          CHECK(read_text<TestType>(os.str(), mode.labels).values.size() == 0);
          continue;
        }
        const bool has_rows = mode.rows && rows > 0;
        const bool has_cols = mode.cols && cols > 0;
        const auto labels = has_rows && has_cols ? attn::io::CsvLabels::both
                            : has_rows           ? attn::io::CsvLabels::rows
                            : has_cols           ? attn::io::CsvLabels::columns
                                                 : attn::io::CsvLabels::none;
        const auto back = read_text<TestType>(os.str(), labels);
        CHECK(same_bits(back.values, m));
        CHECK(back.row_labels == rl);
        CHECK(back.col_labels == cl);
      }
    }
  }
}

TEST_CASE("read_csv detects labels written by write_csv when they are not numbers", "[io][csv][labels]") {
  Eigen::MatrixXd m(2, 3);
  m << 0.5, 0.25, 0.25, 0.1, 0.2, 0.7;
  const std::vector<std::string> rows{"le", "chat"};
  const std::vector<std::string> cols{"the", "cat", "."};
  const auto text_of = [&](const std::vector<std::string>& r, const std::vector<std::string>& c) {
    std::ostringstream os;
    attn::io::write_csv(os, m, r, c);
    return os.str();
  };
  for (const bool with_rows : {false, true}) {
    for (const bool with_cols : {false, true}) {
      const auto r = with_rows ? rows : std::vector<std::string>{};
      const auto c = with_cols ? cols : std::vector<std::string>{};
      const auto back = read_text<double>(text_of(r, c));
      INFO("rows " << with_rows << " cols " << with_cols);
      CHECK(back.values == m);
      CHECK(back.row_labels == r);
      CHECK(back.col_labels == c);
    }
  }
  // An empty first header cell is write_csv's corner: both labels, even numeric column labels.
  const auto numeric = read_text<double>(",0,1,2\nle,0.5,0.25,0.25\n");
  CHECK(numeric.col_labels == std::vector<std::string>{"0", "1", "2"});
  CHECK(numeric.row_labels == std::vector<std::string>{"le"});
  // Numeric-looking labels without the corner need the explicit mode.
  const auto positions = read_text<double>("0,1,2\n0.5,0.25,0.25\n", attn::io::CsvLabels::columns);
  CHECK(positions.col_labels == std::vector<std::string>{"0", "1", "2"});
  CHECK(positions.values.rows() == 1);
  const auto guessed = read_text<double>("0,1,2\n0.5,0.25,0.25\n");
  CHECK(guessed.col_labels.empty());
  CHECK(guessed.values.rows() == 2);
}

TEST_CASE("read_csv accepts CRLF, a BOM, blank lines, quoted numbers and spelled-out specials", "[io][csv]") {
  const auto m = read_text<double>("\xEF\xBB\xBF" "a,b\r\n\r\n\"1.5\",-INF\r\nNaN,1e400\r\n\n");
  CHECK(m.col_labels == std::vector<std::string>{"a", "b"});
  REQUIRE(m.values.rows() == 2);
  CHECK(m.values(0, 0) == 1.5);
  CHECK(m.values(0, 1) == -std::numeric_limits<double>::infinity());
  CHECK(std::isnan(m.values(1, 0)));
  CHECK(m.values(1, 1) == std::numeric_limits<double>::infinity());  // overflow, as strtod
  const auto f = read_text<float>("1e-50,3.4028235e38,+2\n");
  CHECK(f.values(0, 0) == 0.0f);
  CHECK(f.values(0, 1) == std::numeric_limits<float>::max());
  CHECK(f.values(0, 2) == 2.0f);
  const auto lone = read_text<double>("\"\"\n0.5\n");  // write_csv's single empty column label
  CHECK(lone.col_labels == std::vector<std::string>{""});
  CHECK(lone.values.rows() == 1);
  CHECK(read_text<double>("").values.size() == 0);
}

TEST_CASE("read_csv rejects malformed CSV with the line and the reason", "[io][csv][error]") {
  CHECK(message_of([] { (void)read_text<double>("a,b\n1,\"2\n3,4\n"); }) ==
        "attn::io::read_csv: line 2: a quoted field is not closed");
  CHECK(message_of([] { (void)read_text<double>("a,b\n1,2\"x\n"); }) ==
        "attn::io::read_csv: line 2: a '\"' inside an unquoted field (quote the field and double the '\"')");
  CHECK(message_of([] { (void)read_text<double>("\"a\"b,c\n"); }) ==
        "attn::io::read_csv: line 1: text after the closing quote of a field");
  CHECK(message_of([] { (void)read_text<double>("a,b\n1,2\n3\n"); }) ==
        "attn::io::read_csv: line 3: 1 fields, expected 2 (as on line 1)");
  CHECK(message_of([] { (void)read_text<double>("x,a,b\nq,1,zz\n", attn::io::CsvLabels::both); }) ==
        "attn::io::read_csv: line 2, field 3: 'zz' is not a number");
  CHECK(message_of([] { (void)read_text<double>("1, 2\n", attn::io::CsvLabels::none); }) ==
        "attn::io::read_csv: line 1, field 2: ' 2' is not a number");
  CHECK(message_of([] { (void)read_text<double>("\"multi\nline\",b\nq,1,2\n"); }) ==
        "attn::io::read_csv: line 3: 3 fields, expected 2 (as on line 1)");
  const fs::path missing = fs::temp_directory_path() / "attn_no_such_file.csv";
  CHECK(message_of([&] { (void)attn::io::read_csv(missing); }) ==
        "attn::io::read_csv: cannot open '" + missing.string() + "' for reading: No such file or directory");
  const fs::path directory = fs::temp_directory_path();
  CHECK(message_of([&] { (void)attn::io::read_csv(directory); }) ==
        "attn::io::read_csv: cannot open '" + directory.string() + "' for reading: Is a directory");
  std::istringstream bad;
  bad.setstate(std::ios::failbit);
  CHECK(message_of([&] { (void)attn::io::read_csv(bad); }) == "attn::io::read_csv: the input stream is not in a good state");
}

TEST_CASE("read_csv from a path names the path in its messages and round-trips the file", "[io][csv]") {
  const fs::path dir = fs::temp_directory_path() / ("attn_test_read_csv_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  Eigen::MatrixXf m(2, 2);
  m << 0.1f, 0.2f, 0.3f, 0.4f;
  attn::io::write_csv(dir / "w.csv", m, {"a", "b"}, {"c", "d"});
  const auto back = attn::io::read_csv<float>(dir / "w.csv");
  CHECK(back.values == m);
  CHECK(back.row_labels == std::vector<std::string>{"a", "b"});
  {
    std::ofstream out(dir / "bad.csv");
    out << "a,b\n1,x\n";
  }
  CHECK(message_of([&] { (void)attn::io::read_csv(dir / "bad.csv", attn::io::CsvLabels::columns); }) ==
        "attn::io::read_csv: '" + (dir / "bad.csv").string() + "': line 2, field 2: 'x' is not a number");
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

}  // namespace test_csv_tidy
