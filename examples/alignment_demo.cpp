// SPDX-License-Identifier: MIT
// attn demo: attend from each token of a French sentence to a padded English sentence with
// Bahdanau attention under a padding mask, print the alignment and write alignments.csv.
//
// There is no trained model here: each word gets a random ±1 "meaning" vector shared by its
// translations, and the additive parameters are built by hand so that v·tanh(q·Wq + k·Wk)
// rewards dimensions on which query and key agree. The attention therefore finds the
// translation of each word, word order swaps included ("chat noir" / "black cat").

#include <attn/attn.hpp>
#include <attn/io/csv.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr Eigen::Index kMeaning = 16;  // dimensions of a meaning vector

// Rows: one embedding per token, meaning ±1 per dimension plus a little per-token noise,
// and a last column that is 1 for real tokens (the bias input) and 0 for padding.
Eigen::MatrixXd embed(const std::vector<std::string>& tokens, const std::map<std::string, std::string>& meaning_of,
                      std::map<std::string, Eigen::VectorXd>& meanings, std::mt19937& rng) {
  std::normal_distribution<double> noise(0.0, 0.1);
  std::uniform_int_distribution<int> coin(0, 1);
  Eigen::MatrixXd e = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(tokens.size()), kMeaning + 1);
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    const auto it = meaning_of.find(tokens[t]);
    if (it == meaning_of.end()) continue;  // padding stays zero
    auto& m = meanings[it->second];
    if (m.size() == 0) {
      m.resize(kMeaning);
      for (Eigen::Index d = 0; d < kMeaning; ++d) m(d) = coin(rng) ? 1.0 : -1.0;
    }
    const auto row = static_cast<Eigen::Index>(t);
    for (Eigen::Index d = 0; d < kMeaning; ++d) e(row, d) = m(d) + noise(rng);
    e(row, kMeaning) = 1.0;
  }
  return e;
}

// Left-aligned in `width` columns, counting UTF-8 code points rather than bytes.
std::string pad(const std::string& text, std::size_t width) {
  std::size_t shown = 0;
  for (const char ch : text)
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++shown;
  return text + std::string(width > shown ? width - shown : 0, ' ');
}

}  // namespace

int main() {
  const std::vector<std::string> source{"the", "black", "cat", "sat", "on", "the", "mat", ".", "<pad>", "<pad>"};
  const Eigen::Index source_length = 8;  // the last two source positions are padding
  const std::vector<std::string> target{"le", "chat", "noir", "était", "assis", "sur", "le", "tapis", "."};
  const std::map<std::string, std::string> meaning_of{
      {"the", "DET"},   {"le", "DET"},    {"black", "BLACK"}, {"noir", "BLACK"}, {"cat", "CAT"},
      {"chat", "CAT"},  {"sat", "SIT"},   {"était", "SIT"},   {"assis", "SIT"},  {"on", "ON"},
      {"sur", "ON"},    {"mat", "MAT"},   {"tapis", "MAT"},   {".", "END"}};

  std::mt19937 rng(7);
  std::map<std::string, Eigen::VectorXd> meanings;
  const Eigen::MatrixXd keys = embed(source, meaning_of, meanings, rng);     // Tk×(16+1)
  const Eigen::MatrixXd queries = embed(target, meaning_of, meanings, rng);  // Tq×(16+1)

  // Hand-built additive parameters, 2·16 units. Unit d sees a·(q_d + k_d) - c, unit 16+d sees
  // -a·(q_d + k_d) - c: matching signs leave ≈ tanh(a) - tanh(3a), opposite signs 2·tanh(-a).
  const double a = 0.5;
  const double c = 0.5;
  attn::BahdanauParams<double> params;
  params.wq = Eigen::MatrixXd::Zero(kMeaning + 1, 2 * kMeaning);
  params.wk = Eigen::MatrixXd::Zero(kMeaning + 1, 2 * kMeaning);
  for (Eigen::Index d = 0; d < kMeaning; ++d) {
    params.wq(d, d) = params.wk(d, d) = a;
    params.wq(d, kMeaning + d) = params.wk(d, kMeaning + d) = -a;
  }
  params.wq.row(kMeaning).setConstant(-c);  // the query's constant input carries the bias
  params.v = Eigen::RowVectorXd::Ones(2 * kMeaning);

  // The key projection depends on the memory only: prepare it once, as a decoder would.
  const auto prepared = attn::prepare_keys(params, keys);
  const auto [context, weights] =
      attn::bahdanau(queries, prepared, keys, params, attn::Mask::key_length(source_length));

  std::printf("%-8s", "");
  for (const auto& s : source) std::printf("%7s", s.c_str());
  std::printf("   -> aligned to\n");
  for (Eigen::Index i = 0; i < weights.rows(); ++i) {
    std::printf("%s", pad(target[static_cast<std::size_t>(i)], 8).c_str());
    Eigen::Index best = 0;
    weights.row(i).maxCoeff(&best);
    for (Eigen::Index j = 0; j < weights.cols(); ++j) std::printf("%7.3f", weights(i, j));
    std::printf("   -> %s\n", source[static_cast<std::size_t>(best)].c_str());
  }
  std::printf("context: %lldx%lld, weights: %lldx%lld\n", static_cast<long long>(context.rows()),
              static_cast<long long>(context.cols()), static_cast<long long>(weights.rows()),
              static_cast<long long>(weights.cols()));

  attn::io::write_csv("alignments.csv", weights, target, source);
  std::cout << "wrote alignments.csv (" << weights.rows() << " target tokens x " << weights.cols()
            << " source tokens)\n";
  return 0;
}
