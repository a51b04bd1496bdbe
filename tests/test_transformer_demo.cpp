// SPDX-License-Identifier: MIT
// The trained transformer demo (examples/transformer_demo): the C++ model (plain-Eigen layers,
// attn::multi_head_batch_into in the encoder, attn::KVCache and attn::MultiHeadMemory in the
// decoder) reproduces the PyTorch float32 reference run
// (examples/transformer_demo/reference.txt, written by examples/transformer_demo/train.py, one
// input at a time without padding): the same greedy translations and logits, the same beam-4
// n-best lists and scores, and the per-layer, per-head cross-attention of every step within 1e-5
// — for greedy decoding (the C++ side decodes all inputs as one padded batch) and for every
// finished beam hypothesis (the reference recomputes those by teacher forcing along the
// hypothesis, so a beam history reordered wrongly fails).
#include "helpers.hpp"

#include "../examples/transformer_demo/decode.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#ifndef ATTN_TRANSFORMER_DEMO_DIR
#define ATTN_TRANSFORMER_DEMO_DIR ATTN_FIXTURE_DIR "/../../examples/transformer_demo"
#endif

// Everything in this file lives in namespace test_transformer_demo: the suite is a unity build.
namespace test_transformer_demo {

namespace {

using attn::Index;
using transformer_demo::Hypothesis;

struct ReferenceHypothesis {
  double score = 0;
  std::string text;
  std::vector<Eigen::MatrixXd> cross;  // L·h maps, T_out×T_in
};

struct Reference {
  std::string input;
  std::string greedy;
  Eigen::MatrixXd logits;
  std::vector<Eigen::MatrixXd> cross;
  std::vector<ReferenceHypothesis> beam;
};

/// Reads reference.txt (format: see train.py's export()).
class ReferenceReader {
 public:
  explicit ReferenceReader(const std::string& path) : path_(path), in_(path) {
    if (!in_) throw std::runtime_error("cannot open " + path);
  }

  std::vector<Reference> read() {
    next();
    if (line_.rfind("model ", 0) != 0) fail("expected 'model ...'");
    std::size_t count = 0;
    words("inputs") >> count;
    std::vector<Reference> refs;
    for (std::size_t r = 0; r < count; ++r) {
      Reference ref;
      ref.input = rest("input");
      ref.greedy = rest("greedy");
      ref.logits = matrices("logits").front();
      ref.cross = matrices("cross");
      std::size_t hyps = 0;
      words("beam") >> hyps;
      for (std::size_t k = 0; k < hyps; ++k) {
        ReferenceHypothesis h;
        std::istringstream ws = words("hyp");
        ws >> h.score;
        std::getline(ws >> std::ws, h.text);
        h.cross = matrices("cross");
        ref.beam.push_back(std::move(h));
      }
      next();
      if (line_ != "end") fail("expected 'end'");
      refs.push_back(std::move(ref));
    }
    next();
    if (line_ != "end-of-reference") fail("expected 'end-of-reference'");
    return refs;
  }

 private:
  void next() {
    while (std::getline(in_, line_))
      if (!line_.empty() && line_[0] != '#') return;
    fail("truncated");
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(path_ + ": " + what + ", got '" + line_ + "'");
  }
  /// The text after "<word> " on the next line.
  std::string rest(const std::string& word) {
    next();
    if (line_.rfind(word + " ", 0) != 0) fail("expected '" + word + "'");
    return line_.substr(word.size() + 1);
  }
  std::istringstream words(const std::string& word) { return std::istringstream(rest(word)); }
  /// "<name> d0 d1 ... r c" and prod(d)·r rows of c values: prod(d) maps r×c.
  std::vector<Eigen::MatrixXd> matrices(const std::string& name) {
    std::istringstream header = words(name);
    std::vector<Index> dims;
    for (Index d = 0; header >> d;) dims.push_back(d);
    if (dims.size() < 2) fail("expected dimensions");
    const Index cols = dims.back();
    const Index rows = dims[dims.size() - 2];
    Index maps = 1;
    for (std::size_t i = 0; i + 2 < dims.size(); ++i) maps *= dims[i];
    std::vector<Eigen::MatrixXd> out(static_cast<std::size_t>(maps), Eigen::MatrixXd(rows, cols));
    for (auto& m : out)
      for (Index i = 0; i < rows; ++i) {
        next();
        std::istringstream row(line_);
        for (Index j = 0; j < cols; ++j)
          if (!(row >> m(i, j))) fail("bad row");
      }
    return out;
  }

  std::string path_;
  std::ifstream in_;
  std::string line_;
};

const std::vector<Reference>& references() {
  static const std::vector<Reference> refs =
      ReferenceReader(std::string(ATTN_TRANSFORMER_DEMO_DIR) + "/reference.txt").read();
  return refs;
}

const transformer_demo::Model& model() {
  static const transformer_demo::Model m =
      transformer_demo::Model::load(std::string(ATTN_TRANSFORMER_DEMO_DIR) + "/weights");
  return m;
}

/// Largest |a - b| over the maps of a hypothesis (shapes must agree).
double cross_error(const std::vector<transformer_demo::Mat>& actual, const std::vector<Eigen::MatrixXd>& expected) {
  REQUIRE(actual.size() == expected.size());
  double worst = 0;
  for (std::size_t k = 0; k < actual.size(); ++k) {
    REQUIRE(actual[k].rows() == expected[k].rows());
    REQUIRE(actual[k].cols() == expected[k].cols());
    worst = std::max(worst, (actual[k].cast<double>() - expected[k]).cwiseAbs().maxCoeff());
  }
  return worst;
}

}  // namespace

TEST_CASE("transformer demo: greedy decoding of a padded batch reproduces the PyTorch reference",
          "[transformer_demo][parity]") {
  const auto& refs = references();
  REQUIRE(refs.size() >= 8);
  std::vector<std::string> inputs;
  for (const Reference& ref : refs) inputs.push_back(ref.input);
  const std::vector<Hypothesis> greedy = transformer_demo::greedy(model(), inputs);
  REQUIRE(greedy.size() == refs.size());
  double worst_cross = 0;
  double worst_logit = 0;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const Reference& ref = refs[i];
    const Hypothesis& h = greedy[i];
    INFO("input '" << ref.input << "'");
    CHECK(h.text == ref.greedy);
    REQUIRE(h.logits.rows() == ref.logits.rows());
    const double l_err = (h.logits.cast<double>() - ref.logits).cwiseAbs().maxCoeff();
    worst_logit = std::max(worst_logit, l_err);
    CHECK(l_err <= 1e-4 * std::max(1.0, ref.logits.cwiseAbs().maxCoeff()));
    REQUIRE(h.cross.size() == static_cast<std::size_t>(model().layers() * model().heads));
    CHECK(h.cross.front().cols() == static_cast<Index>(ref.input.size()));  // padding dropped
    const double c_err = cross_error(h.cross, ref.cross);
    worst_cross = std::max(worst_cross, c_err);
    CHECK(c_err <= 1e-5);
    for (const auto& m : h.cross)  // padding got exactly nothing: the rows sum to 1 over the text
      CHECK((m.rowwise().sum().array() - 1.0f).abs().maxCoeff() <= 1e-5f);
  }
  INFO("max |cross-attention diff| " << worst_cross << ", max |logit diff| " << worst_logit);
  CHECK(worst_cross <= 1e-5);
}

TEST_CASE("transformer demo: beam search of width 4 reproduces the reference n-best lists and their alignments",
          "[transformer_demo][parity][beam]") {
  double worst_cross = 0;
  for (const Reference& ref : references()) {
    INFO("input '" << ref.input << "'");
    const std::vector<Hypothesis> beam = transformer_demo::beam_search(model(), ref.input, 4);
    REQUIRE(beam.size() == ref.beam.size());
    for (std::size_t k = 0; k < beam.size(); ++k) {
      INFO("hypothesis " << k << ": '" << beam[k].text << "' (reference '" << ref.beam[k].text << "')");
      CHECK(beam[k].text == ref.beam[k].text);
      CHECK(std::abs(beam[k].score - ref.beam[k].score) <= 1e-4);
      const double c_err = cross_error(beam[k].cross, ref.beam[k].cross);
      worst_cross = std::max(worst_cross, c_err);
      CHECK(c_err <= 1e-5);
    }
  }
  INFO("max |cross-attention diff| over every finished hypothesis " << worst_cross);
  CHECK(worst_cross <= 1e-5);
}

}  // namespace test_transformer_demo
