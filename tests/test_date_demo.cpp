// SPDX-License-Identifier: MIT
// The trained date demo (examples/date_demo): the C++ decoder (attn::AttentionLoop + Bahdanau
// memory + alignment history, PyTorch's GRU equations) reproduces the PyTorch float32 reference
// run (examples/date_demo/reference.txt, written by examples/date_demo/train.py): the same
// translations, alignments and logits within 1e-5, and the year digits attend to the year.
#include "helpers.hpp"

#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)

#include "../examples/date_demo/date_model.hpp"

#include <attn/io/csv.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#ifndef ATTN_DATE_DEMO_DIR
#define ATTN_DATE_DEMO_DIR ATTN_FIXTURE_DIR "/../../examples/date_demo"
#endif

// Everything in this file lives in namespace test_date_demo: the suite is a unity build.
namespace test_date_demo {

namespace {

using attn::Index;

struct Reference {
  std::string input;
  std::string output;
  Eigen::MatrixXd alignments;
  Eigen::MatrixXd logits;
};

/// Reads reference.txt: `inputs N`, then per input `input <text>` / `output <text>` /
/// `alignments r c` + rows / `logits r c` + rows / `end`, and `end-of-reference`.
std::vector<Reference> read_reference(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string line;
  auto next = [&] {
    while (std::getline(in, line))
      if (!line.empty() && line[0] != '#') return true;
    throw std::runtime_error(path + ": truncated");
  };
  auto matrix = [&](const std::string& name) {
    next();
    std::istringstream header(line);
    std::string word;
    Index rows = 0, cols = 0;
    header >> word >> rows >> cols;
    if (word != name) throw std::runtime_error(path + ": expected " + name + ", got '" + line + "'");
    Eigen::MatrixXd m(rows, cols);
    for (Index i = 0; i < rows; ++i) {
      next();
      std::istringstream row(line);
      for (Index j = 0; j < cols; ++j)
        if (!(row >> m(i, j))) throw std::runtime_error(path + ": bad row '" + line + "'");
    }
    return m;
  };
  next();
  std::istringstream count_line(line);
  std::string word;
  std::size_t count = 0;
  count_line >> word >> count;
  if (word != "inputs") throw std::runtime_error(path + ": expected 'inputs N'");
  std::vector<Reference> refs;
  for (std::size_t r = 0; r < count; ++r) {
    Reference ref;
    next();
    if (line.rfind("input ", 0) != 0) throw std::runtime_error(path + ": expected 'input', got '" + line + "'");
    ref.input = line.substr(6);
    next();
    if (line.rfind("output", 0) != 0) throw std::runtime_error(path + ": expected 'output', got '" + line + "'");
    ref.output = line.size() > 7 ? line.substr(7) : "";
    ref.alignments = matrix("alignments");
    ref.logits = matrix("logits");
    next();
    if (line != "end") throw std::runtime_error(path + ": expected 'end'");
    refs.push_back(std::move(ref));
  }
  next();
  if (line != "end-of-reference") throw std::runtime_error(path + ": expected 'end-of-reference'");
  return refs;
}

const date_demo::Model& model() {
  static const date_demo::Model m = date_demo::Model::load(std::string(ATTN_DATE_DEMO_DIR) + "/weights");
  return m;
}

}  // namespace

TEST_CASE("date demo: the C++ decoder reproduces the PyTorch reference run", "[date_demo][parity]") {
  const auto refs = read_reference(std::string(ATTN_DATE_DEMO_DIR) + "/reference.txt");
  REQUIRE(refs.size() >= 5);
  double worst_alignment = 0;
  double worst_logit = 0;
  for (const Reference& ref : refs) {
    INFO("input '" << ref.input << "'");
    const date_demo::Translation tr = date_demo::translate(model(), ref.input);
    CHECK(tr.text == ref.output);
    REQUIRE(tr.alignments.rows() == ref.alignments.rows());
    REQUIRE(tr.alignments.cols() == static_cast<Index>(ref.input.size()));
    REQUIRE(tr.logits.rows() == ref.logits.rows());
    const double a_err = (tr.alignments.cast<double>() - ref.alignments).cwiseAbs().maxCoeff();
    const double l_err = (tr.logits.cast<double>() - ref.logits).cwiseAbs().maxCoeff();
    worst_alignment = std::max(worst_alignment, a_err);
    worst_logit = std::max(worst_logit, l_err);
    CHECK(a_err <= 1e-5);
    CHECK(l_err <= 1e-5 * std::max(1.0, ref.logits.cwiseAbs().maxCoeff()));
    // every alignment row sums to 1 over the source (softmax, no padding)
    CHECK((tr.alignments.rowwise().sum().array() - 1.0f).abs().maxCoeff() <= 1e-5f);
  }
  INFO("max |alignment diff| " << worst_alignment << ", max |logit diff| " << worst_logit);
  CHECK(worst_alignment <= 1e-5);
}

TEST_CASE("date demo: the year digits attend to the source's year characters", "[date_demo]") {
  const auto refs = read_reference(std::string(ATTN_DATE_DEMO_DIR) + "/reference.txt");
  float total = 0;
  for (const Reference& ref : refs) {
    INFO("input '" << ref.input << "'");
    const date_demo::Translation tr = date_demo::translate(model(), ref.input);
    const float share = date_demo::year_mass_share(tr, ref.input);
    CHECK(share > 0.5f);  // most of the mass
    total += share;
  }
  CHECK(total / static_cast<float>(refs.size()) > 0.8f);
}

TEST_CASE("date demo: alignments export as CSV labelled target tokens x source characters", "[date_demo][csv]") {
  const date_demo::Translation tr = date_demo::translate(model(), "May 3, 1998");
  CHECK(tr.text == "1998-05-03");
  REQUIRE(tr.target_tokens.size() == 11);
  CHECK(tr.target_tokens.back() == "</s>");
  std::ostringstream os;
  attn::io::write_csv(os, tr.alignments, tr.target_tokens, tr.source_tokens);
  const std::string csv = os.str();
  CHECK(csv.rfind(",M,a,y,\" \",3,\",\",\" \",1,9,9,8\n1,", 0) == 0);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 12);
}

}  // namespace test_date_demo
