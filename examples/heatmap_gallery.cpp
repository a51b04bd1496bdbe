// SPDX-License-Identifier: MIT
// The pictures of docs/06 (heatmaps that read by default), drawn from real attention:
//   heatmap_masked.svg   causal self-attention, the hidden cells hatched, index ticks instead of labels
//   heatmap_leaked.svg   a monotonic decoder whose alignment ran past the last source token
//   heatmap_heads.svg    ten heads as a 5×2 grid with token labels (the picture grows, labels stay 9 px)
// Run: attn_heatmap_gallery [DIRECTORY] (default: the current directory).
#include <attn/attn.hpp>

#include <Eigen/Core>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : ".";
  std::mt19937 engine(2026);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  const auto random = [&](attn::Index rows, attn::Index cols) {
    Eigen::MatrixXd m(rows, cols);
    for (attn::Index i = 0; i < m.size(); ++i) m.data()[i] = uniform(engine);
    return m;
  };

  // 1. Causal self-attention over 30 steps: no labels, so the axes get index ticks.
  const Eigen::MatrixXd x = random(30, 16) * 2.0;
  const auto causal = attn::scaled_dot_product(x, x, x, attn::Mask::causal());
  attn::io::HeatmapOptions masked;
  masked.title = "Causal self-attention";
  masked.mask = attn::Mask::causal();
  masked.colorbar_label = "weight";
  masked.row_axis_title = "query step";
  masked.col_axis_title = "key step";
  attn::io::write_heatmap_svg(dir / "heatmap_masked.svg", causal.weights, masked);

  // 2. A monotonic decoder, step by step: the alignment moves right and leaks past the end.
  const std::vector<std::string> source{"the", "cat", "sat", "down", "</s>"};
  const std::vector<std::string> target{"le", "chat", "s'est", "assis", ".", "</s>", "<pad>"};
  const Eigen::MatrixXd memory = random(5, 8);
  attn::AlignmentHistory<double> history(1, 5, 1, 7);
  Eigen::RowVectorXd previous = Eigen::RowVectorXd::Zero(5);
  previous(0) = 1.0;  // the initial alignment: one-hot at key 0
  Eigen::VectorXd leaked(7);
  attn::MonotonicParams<double> params;
  params.score_bias = 1.0;
  for (attn::Index t = 0; t < 7; ++t) {
    // Steps 0-4 look for source token t; the last two match nothing: their mass leaks past </s>.
    const Eigen::RowVectorXd query = t < 5 ? Eigen::RowVectorXd(memory.row(t) * 3.0 - memory.row(0))
                                           : Eigen::RowVectorXd(-3.0 * memory.colwise().sum());
    const auto step = attn::luong_monotonic(query, memory, memory, previous, {}, params);
    history.record(step.weights);
    leaked(t) = step.leaked(0);
    previous = step.weights;
  }
  attn::io::HeatmapOptions monotonic;
  monotonic.title = "Monotonic attention";
  monotonic.row_labels = target;
  monotonic.col_labels = source;
  monotonic.row_axis_title = "target";
  monotonic.col_axis_title = "source";
  monotonic.leaked_mass = leaked;
  attn::io::write_heatmap_svg(dir / "heatmap_leaked.svg", history.view(0), monotonic);

  // 3. Ten heads of self-attention over 16 tokens, as a 5×2 grid.
  std::vector<std::string> tokens;
  for (const char* word : {"a", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", ",", "then",
                           "it", "runs", "far", "away", "."}) {
    tokens.emplace_back(word);
  }
  const Eigen::MatrixXd words = random(16, 32);
  attn::HeadWeights<double> heads(10, 16, 16);
  std::vector<std::string> titles;
  for (attn::Index h = 0; h < 10; ++h) {
    const Eigen::MatrixXd wq = random(32, 8), wk = random(32, 8);
    heads.head(h) = attn::scaled_dot_product(words * wq, words * wk, words).weights;
    titles.push_back("head " + std::to_string(h));
  }
  attn::io::HeatmapOptions grid;
  grid.title = "Ten heads, one colour scale";
  grid.row_labels = tokens;
  grid.col_labels = tokens;
  grid.grid_columns = 5;
  grid.raster = attn::io::HeatmapRaster::always;  // one small image per map: a light page
  attn::io::write_heatmap_grid_svg(dir / "heatmap_heads.svg", attn::io::heatmap_panels(attn::head_views(heads), titles), grid);
  return 0;
}
