// SPDX-License-Identifier: MIT
// Another target than the build's (compile.platforms.*): 32-bit x86, where Index is 32 bits, is
// compiled with -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror and run; MinGW-w64
// (Windows) is compiled only. The program checks a few calls against double-precision ones and
// a file written and read back, and exits non-zero on a difference.
#include <attn/attn.hpp>
#include <attn/io/npy.hpp>

#include <cstdio>
#include <filesystem>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  const Eigen::MatrixXd q = Eigen::MatrixXd::Random(37, 16), k = Eigen::MatrixXd::Random(300, 16),
                        v = Eigen::MatrixXd::Random(300, 8);
  const attn::Mask mask = attn::Mask::causal(263) & attn::Mask::chunked(16, 263, 2);
  const auto d = attn::scaled_dot_product(q, k, v, mask);
  const auto f = attn::scaled_dot_product(Eigen::MatrixXf(q.cast<float>()), Eigen::MatrixXf(k.cast<float>()),
                                          Eigen::MatrixXf(v.cast<float>()), mask);
  expect((f.output.cast<double>() - d.output).cwiseAbs().maxCoeff() < 1e-5, "float output against double");
  expect((f.weights.cast<double>() - d.weights).cwiseAbs().maxCoeff() < 1e-5, "float weights against double");
  expect((d.weights.rowwise().sum().array() - 1.0).abs().maxCoeff() < 1e-12, "rows sum to 1");
  expect(d.weights(0, 223) == 0.0 && d.weights(0, 224) > 0.0 && d.weights(0, 263) > 0.0 && d.weights(0, 264) == 0.0,
         "query 0 (position 263) sees its chunk and 2 before it, up to itself: keys 224 to 263");

  attn::TopK<double> top(3);
  Eigen::MatrixXd out(37, 8);
  attn::Workspace<double> ws;
  attn::scaled_dot_product_into(q, k, v, out, attn::Sinks<double>(top), ws, mask);
  expect(out == d.output, "a sink call's output is the full call's");
  Eigen::Index best = 0;
  d.weights.row(5).maxCoeff(&best);
  expect(top.indices()(5, 0) == best, "top-k's first key is the row's largest");

  attn::MultiHeadParams<float> p;
  p.heads = 4;
  p.wq = p.wk = p.wv = p.wo = Eigen::MatrixXf::Identity(16, 16);
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(9, 16);
  const auto mh = attn::multi_head(x, p, attn::Mask::causal());
  expect(mh.weights.heads() == 4 && mh.output.rows() == 9, "multi_head shapes");

  const std::filesystem::path file = std::filesystem::temp_directory_path() / "attn_platforms_check.npy";
  attn::io::write_npy(file, f.weights);
  const Eigen::MatrixXf back = attn::io::read_npy<float>(file);
  std::filesystem::remove(file);
  expect(back == f.weights, "a .npy written and read back");
  std::printf("%s\n", failures == 0 ? "all checks passed" : "some checks failed");
  return failures == 0 ? 0 : 1;
}
