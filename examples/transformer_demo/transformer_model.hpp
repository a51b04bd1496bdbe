// SPDX-License-Identifier: MIT
// The transformer demo's model in C++: a small post-norm encoder-decoder transformer (2 + 2 layers,
// 4 heads, d_model 64; trained by examples/transformer_demo/train.py) that turns human-written
// dates into ISO 8601. Embeddings, sinusoidal positions, layer norm and the feed-forward blocks
// are plain Eigen here; every attention is attn::multi_head_batch_into (torch.nn.MultiheadAttention's
// parameters, loaded with attn::MultiHeadParams::from_torch). Rows are tokens; a batch is a
// std::vector of T×D matrices. Shared by examples/transformer_demo.cpp and
// tests/test_transformer_demo.cpp; the decoding (greedy and beam search) is in decode.hpp.
#pragma once

#include <attn/attn.hpp>
#include <attn/io/npy.hpp>

#include "../date_demo/alphabets.hpp"

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace transformer_demo {

using attn::Index;
using Mat = attn::Matrix<float>;
using Row = attn::RowVector<float>;

/// LayerNorm over the columns of each row (torch.nn.LayerNorm(D), eps 1e-5, biased variance).
struct LayerNorm {
  Row gamma, beta;

  /// x ← LN(x), row by row.
  void apply(Mat& x) const {
    const auto d = static_cast<float>(x.cols());
    for (Index r = 0; r < x.rows(); ++r) {
      const float mean = x.row(r).sum() / d;
      const float var = (x.row(r).array() - mean).square().sum() / d;
      const float inv = 1.0f / std::sqrt(var + 1e-5f);
      x.row(r) = (((x.row(r).array() - mean) * inv) * gamma.array() + beta.array()).matrix();
    }
  }
};

/// The position-wise feed-forward block: relu(x·W1 + b1)·W2 + b2.
struct FeedForward {
  Mat w1, w2;  ///< D×F, F×D (Keras layout)
  Row b1, b2;

  /// x ← x + FF(x) (the residual; the caller applies the norm).
  void add_to(Mat& x) const {
    Mat hidden = x * w1;
    hidden.rowwise() += b1;
    hidden = hidden.cwiseMax(0.0f);
    x.noalias() += hidden * w2;
    x.rowwise() += b2;
  }
};

struct EncoderLayer {
  attn::MultiHeadParams<float> self_attn;
  LayerNorm norm1, norm2;
  FeedForward ff;
};

struct DecoderLayer {
  attn::MultiHeadParams<float> self_attn, cross_attn;
  LayerNorm norm1, norm2, norm3;
  FeedForward ff;
};

// --- the attention calls ------------------------------------------------------------------------
// All attention of the model goes through these two functions. They recompute everything from the
// token rows (no cache: the decoder re-runs over its whole prefix at each step); a prepared
// multi-head memory (keys and values projected once per source) would replace the body of
// cross_attention and nothing else.

/// Scratch of the attention calls, reused across layers and steps.
struct AttentionScratch {
  attn::MultiHeadWorkspace<float> ws;
  std::vector<attn::MultiHeadResult<float>> results;
};

/// Self-attention of a batch: x[b] ← x[b] + MHA(x[b], x[b], x[b]) under masks[b] (key padding in
/// the encoder, causal in the decoder).
inline void self_attention(const attn::MultiHeadParams<float>& p, std::vector<Mat>& x,
                           const std::vector<attn::Mask>& masks, AttentionScratch& s) {
  attn::multi_head_batch_into(x, x, x, p, s.results, s.ws, masks);
  for (std::size_t b = 0; b < x.size(); ++b) x[b] += s.results[b].output;
}

/// Cross-attention of a batch: y[b] ← y[b] + MHA(y[b], memory[b], memory[b]) with the source's
/// padding hidden (memory_masks[b] = Mask::key_length(n_b)); the per-head weights of item b
/// (h×T×T_mem) are left in `s.results[b].weights`.
inline void cross_attention(const attn::MultiHeadParams<float>& p, std::vector<Mat>& y,
                            const std::vector<const Mat*>& memory, const std::vector<attn::Mask>& memory_masks,
                            AttentionScratch& s) {
  std::vector<Eigen::Ref<const Mat>> mem;
  mem.reserve(memory.size());
  for (const Mat* m : memory) mem.emplace_back(*m);
  attn::multi_head_batch_into(y, mem, mem, p, s.results, s.ws, memory_masks);
  for (std::size_t b = 0; b < y.size(); ++b) y[b] += s.results[b].output;
}

// --- the model ----------------------------------------------------------------------------------

/// The model; its alphabets (source_id, target_token, bos, eos) are the GRU demo's.
struct Model : date_demo::Alphabets {
  Index d_model = 0, heads = 0;
  Mat src_embed, tgt_embed;  ///< vocabulary×D
  std::vector<EncoderLayer> encoder;
  std::vector<DecoderLayer> decoder;
  Mat out_w;  ///< D×V
  Row out_b;
  Mat positions;  ///< sinusoidal encoding, max_positions×D

  static constexpr Index max_positions = 64;

  /// Loads the weights written by train.py from `dir` (.npy files, alphabets.txt, config.txt).
  static Model load(const std::filesystem::path& dir) {
    auto npy = [&](const std::string& name) { return attn::io::read_npy<float>(dir / (name + ".npy")); };
    auto text_lines = [&](const char* name) {
      std::ifstream in(dir / name);
      if (!in) throw std::runtime_error("transformer_demo: cannot open " + (dir / name).string());
      std::vector<std::string> lines;
      for (std::string line; std::getline(in, line);) lines.push_back(line);
      return lines;
    };
    Model m;
    static_cast<date_demo::Alphabets&>(m) = date_demo::Alphabets::load(dir / "alphabets.txt");
    std::map<std::string, Index> config;
    for (const std::string& line : text_lines("config.txt")) {
      const auto space = line.find(' ');
      if (space != std::string::npos) config[line.substr(0, space)] = std::stol(line.substr(space + 1));
    }
    for (const char* key : {"d_model", "heads", "encoder_layers", "decoder_layers"})
      if (config.count(key) == 0)
        throw std::runtime_error("transformer_demo: " + (dir / "config.txt").string() + " has no " + key);
    m.d_model = config["d_model"];
    m.heads = config["heads"];

    auto attention = [&](const std::string& p) {
      return attn::MultiHeadParams<float>::from_torch(npy(p + "_in_proj_weight"), npy(p + "_in_proj_bias"),
                                                      npy(p + "_out_proj_weight"), npy(p + "_out_proj_bias"),
                                                      m.heads);
    };
    auto norm = [&](const std::string& p) { return LayerNorm{npy(p + "_weight"), npy(p + "_bias")}; };
    auto ff = [&](const std::string& p) {
      return FeedForward{npy(p + "ff1_w"), npy(p + "ff2_w"), npy(p + "ff1_b"), npy(p + "ff2_b")};
    };
    m.src_embed = npy("src_embed");
    m.tgt_embed = npy("tgt_embed");
    for (Index l = 0; l < config["encoder_layers"]; ++l) {
      const std::string p = "enc" + std::to_string(l) + "_";
      m.encoder.push_back({attention(p + "self_attn"), norm(p + "norm1"), norm(p + "norm2"), ff(p)});
    }
    for (Index l = 0; l < config["decoder_layers"]; ++l) {
      const std::string p = "dec" + std::to_string(l) + "_";
      m.decoder.push_back({attention(p + "self_attn"), attention(p + "cross_attn"), norm(p + "norm1"),
                           norm(p + "norm2"), norm(p + "norm3"), ff(p)});
    }
    m.out_w = npy("out_w");
    m.out_b = npy("out_b");
    if (m.src_embed.cols() != m.d_model || m.tgt_embed.cols() != m.d_model || m.out_w.rows() != m.d_model)
      throw std::runtime_error("transformer_demo: the embeddings or out_w do not have d_model columns");

    // pe[p, 2i] = sin(p / 10000^(2i/D)), pe[p, 2i+1] = cos(...), in double, rounded to float.
    m.positions.resize(max_positions, m.d_model);
    for (Index p = 0; p < max_positions; ++p)
      for (Index i = 0; i + 1 < m.d_model; i += 2) {
        const double angle = static_cast<double>(p) /
                             std::pow(10000.0, static_cast<double>(i) / static_cast<double>(m.d_model));
        m.positions(p, i) = static_cast<float>(std::sin(angle));
        m.positions(p, i + 1) = static_cast<float>(std::cos(angle));
      }
    return m;
  }

  Index layers() const { return static_cast<Index>(decoder.size()); }
  Index vocabulary() const { return out_w.cols(); }

  /// embed(ids)·sqrt(D) + PE, T×D.
  Mat embed(const Mat& table, const std::vector<Index>& ids) const {
    const auto t = static_cast<Index>(ids.size());
    if (t > max_positions) throw std::runtime_error("transformer_demo: sequence longer than 64 positions");
    Mat x(t, d_model);
    const float scale = std::sqrt(static_cast<float>(d_model));
    for (Index i = 0; i < t; ++i) x.row(i) = table.row(ids[static_cast<std::size_t>(i)]) * scale;
    x += positions.topRows(t);
    return x;
  }

  /// The encoder over a batch of texts padded to the longest (padding id 0; key padding hides the
  /// padded characters): memory[b] is T_max×D, its rows past text b's length are padding.
  std::vector<Mat> encode(const std::vector<std::string>& texts, AttentionScratch& s) const {
    std::size_t longest = 0;
    for (const auto& t : texts) longest = std::max(longest, t.size());
    std::vector<Mat> x;
    std::vector<attn::Mask> masks;
    for (const auto& text : texts) {
      std::vector<Index> ids(longest, 0);
      for (std::size_t i = 0; i < text.size(); ++i) ids[i] = source_id(text[i]);
      x.push_back(embed(src_embed, ids));
      masks.push_back(attn::Mask::key_length(static_cast<Index>(text.size())));
    }
    for (const EncoderLayer& layer : encoder) {
      self_attention(layer.self_attn, x, masks, s);
      for (Mat& xb : x) {
        layer.norm1.apply(xb);
        layer.ff.add_to(xb);
        layer.norm2.apply(xb);
      }
    }
    return x;
  }

  /// One decoder run over whole prefixes (each starting with <s>; all of the same length T): the
  /// logits of each item's last position (row b of `logits`, B×V) and the cross-attention row of
  /// that position for every layer and head (`cross[b]`, (L·h)×T_mem, row l·h + head).
  void decode_last(const std::vector<std::vector<Index>>& prefixes, const std::vector<const Mat*>& memory,
                   const std::vector<attn::Mask>& memory_masks, Mat& logits, std::vector<Mat>& cross,
                   AttentionScratch& s) const {
    const auto batch = prefixes.size();
    std::vector<Mat> y;
    for (const auto& p : prefixes) y.push_back(embed(tgt_embed, p));
    const std::vector<attn::Mask> causal(batch, attn::Mask::causal());
    cross.resize(batch);
    for (std::size_t b = 0; b < batch; ++b) cross[b].resize(layers() * heads, memory[b]->rows());
    for (Index l = 0; l < layers(); ++l) {
      const DecoderLayer& layer = decoder[static_cast<std::size_t>(l)];
      self_attention(layer.self_attn, y, causal, s);
      for (Mat& yb : y) layer.norm1.apply(yb);
      cross_attention(layer.cross_attn, y, memory, memory_masks, s);
      for (std::size_t b = 0; b < batch; ++b) {
        const auto& w = s.results[b].weights;
        for (Index h = 0; h < heads; ++h) cross[b].row(l * heads + h) = w.head(h).bottomRows(1);
        layer.norm2.apply(y[b]);
        layer.ff.add_to(y[b]);
        layer.norm3.apply(y[b]);
      }
    }
    logits.resize(static_cast<Index>(batch), vocabulary());
    for (std::size_t b = 0; b < batch; ++b)
      logits.row(static_cast<Index>(b)) = y[b].bottomRows(1) * out_w + out_b;
  }
};

}  // namespace transformer_demo
