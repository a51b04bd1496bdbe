// SPDX-License-Identifier: MIT
// attn demo: watch attention learn. A tiny model learns, by plain gradient descent, to attend
// from each query token to the key holding the same token (the keys are a shuffled copy of the
// queries: a "find your partner" task, like the mask keras-attention's examples learn). After
// every epoch the attention of three test samples goes into an attn::io::AnimationWriter;
// the page (training_animation.html: slider, play/pause, truth beside each map) and an SVG grid
// of epochs 1, 3, 8 and 30 (training_animation_grid.svg) are written at the end, and the same
// maps as NumPy arrays (training_frames.npz: epoch_1 ... epoch_30, each 3 × 12 × 12, and truth),
// for NumPy or for attn-plot:
//   attn-plot --animate training_frames.npz --truth training_frames.npz:truth -o training.html

#include <attn/io/animation.hpp>
#include <attn/io/npy.hpp>
#include <attn/io/npz.hpp>
#include <attn/scaled_dot_product.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr Eigen::Index kTokens = 12;     // tokens per sample (queries and keys)
constexpr Eigen::Index kWidth = 16;      // embedding width
constexpr Eigen::Index kVocabulary = 40;

struct Sample {
  Eigen::MatrixXd queries;  // kTokens × kWidth
  Eigen::MatrixXd keys;     // the same rows, shuffled
  Eigen::MatrixXd truth;    // kTokens × kTokens, 1 where key j holds query i's token
};

Sample make_sample(const Eigen::MatrixXd& embedding, std::mt19937& rng) {
  std::vector<Eigen::Index> tokens(static_cast<std::size_t>(kVocabulary));
  std::iota(tokens.begin(), tokens.end(), Eigen::Index{0});
  std::shuffle(tokens.begin(), tokens.end(), rng);
  tokens.resize(static_cast<std::size_t>(kTokens));
  std::vector<Eigen::Index> order(static_cast<std::size_t>(kTokens));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  std::shuffle(order.begin(), order.end(), rng);
  Sample s{Eigen::MatrixXd(kTokens, kWidth), Eigen::MatrixXd(kTokens, kWidth), Eigen::MatrixXd::Zero(kTokens, kTokens)};
  for (Eigen::Index i = 0; i < kTokens; ++i) {
    const auto j = order[static_cast<std::size_t>(i)];  // query i's token sits at key j
    s.queries.row(i) = embedding.row(tokens[static_cast<std::size_t>(i)]);
    s.keys.row(j) = embedding.row(tokens[static_cast<std::size_t>(i)]);
    s.truth(i, j) = 1.0;
  }
  return s;
}

}  // namespace

int main() {
  std::mt19937 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::MatrixXd embedding(kVocabulary, kWidth);
  for (Eigen::Index k = 0; k < embedding.size(); ++k) embedding.data()[k] = normal(rng);
  std::vector<Sample> train;
  for (int k = 0; k < 64; ++k) train.push_back(make_sample(embedding, rng));
  std::vector<Sample> test;
  for (int k = 0; k < 3; ++k) test.push_back(make_sample(embedding, rng));

  // The model: scores = (Q·W)·Kᵀ / sqrt(width), W learnt from a random start.
  Eigen::MatrixXd w(kWidth, kWidth);
  for (Eigen::Index k = 0; k < w.size(); ++k) w.data()[k] = 0.1 * normal(rng);
  const double scale = 1.0 / std::sqrt(static_cast<double>(kWidth));

  attn::io::AnimationOptions options;
  options.title = "Attention learning to find each token's partner";
  options.sample_titles = {"test sample 0", "test sample 1", "test sample 2"};
  options.cell_size = 14;  // pixels per cell on the page
  attn::io::AnimationWriter anim("training_animation.html", options);
  const std::vector<Eigen::MatrixXd> truth{test[0].truth, test[1].truth, test[2].truth};
  anim.set_truth(truth);
  std::vector<attn::io::NpzEntry> arrays{{"truth", attn::io::npy_stack(truth)}};  // for training_frames.npz

  const double learning_rate = 0.03;
  for (int epoch = 1; epoch <= 30; ++epoch) {
    double loss = 0;
    for (const Sample& s : train) {  // cross-entropy of each weights row against its truth row
      const auto result = attn::scaled_dot_product(s.queries * w, s.keys, s.keys);
      loss -= (s.truth.array() * (result.weights.array() + 1e-12).log()).sum() / kTokens;
      const Eigen::MatrixXd d_scores = (result.weights - s.truth) / static_cast<double>(kTokens);
      w -= learning_rate * scale * s.queries.transpose() * d_scores * s.keys;
    }
    std::vector<Eigen::MatrixXd> maps;
    for (const Sample& s : test) maps.push_back(attn::scaled_dot_product(s.queries * w, s.keys, s.keys).weights);
    anim.add_frame(epoch, "epoch " + std::to_string(epoch), maps);
    arrays.emplace_back("epoch_" + std::to_string(epoch), attn::io::npy_stack(maps));  // 3 × 12 × 12, owned
    if (epoch % 10 == 0) std::cout << "epoch " << epoch << ": loss " << loss / static_cast<double>(train.size()) << "\n";
  }
  anim.write();
  anim.write_grid_svg("training_animation_grid.svg", anim.frame_positions({1, 3, 8, 30}));
  attn::io::write_npz("training_frames.npz", arrays);  // np.load("training_frames.npz")["epoch_30"]
  std::cout << "wrote training_animation.html, training_animation_grid.svg and training_frames.npz\n";
  return 0;
}
