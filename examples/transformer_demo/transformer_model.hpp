// SPDX-License-Identifier: MIT
// The transformer demo's model in C++: a small post-norm encoder-decoder transformer (2 + 2 layers,
// 4 heads, d_model 64; trained by examples/transformer_demo/train.py) that turns human-written
// dates into ISO 8601. Embeddings, sinusoidal positions, layer norm and the feed-forward blocks
// are plain Eigen here; every attention is attn's multi-head attention with torch.nn.MultiheadAttention's
// parameters (loaded with attn::MultiHeadParams::from_torch): attn::multi_head_batch_into in the
// encoder, attn::KVCache and attn::MultiHeadMemory steps in the decoder. Rows are tokens; a batch is a
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
// All attention of the model goes through these functions. The encoder runs over a padded batch
// of whole texts (attn::multi_head_batch_into, key padding). The decoder runs token by token with
// attn's decoding API: per layer an attn::KVCache (the projected keys and values of the positions
// decoded so far, one beam per hypothesis; appending this step's row first gives the causal mask)
// and per layer and source an attn::MultiHeadMemory (the encoder output projected once).

/// Scratch of the attention calls, reused across layers and steps.
struct AttentionScratch {
  attn::MultiHeadWorkspace<float> ws;
  std::vector<attn::MultiHeadResult<float>> results;  ///< the encoder's batch results
  attn::HeadWeights<float> weights;                   ///< a decoder step's weights, h×B×Tk
  Mat out;                                            ///< a decoder step's attention output, B×D
};

/// Encoder self-attention of a batch: x[b] ← x[b] + MHA(x[b], x[b], x[b]) under masks[b] (key
/// padding).
inline void self_attention(const attn::MultiHeadParams<float>& p, std::vector<Mat>& x,
                           const std::vector<attn::Mask>& masks, AttentionScratch& s) {
  attn::multi_head_batch_into(x, x, x, p, s.results, s.ws, masks);
  for (std::size_t b = 0; b < x.size(); ++b) x[b] += s.results[b].output;
}

/// Decoder self-attention of one step: row b of `y` (B×D) is hypothesis b's layer input at this
/// step; it is appended to `cache` (B beams), then y ← y + MHA(y, cached rows 0..t).
inline void self_attention(attn::KVCache<float>& cache, Mat& y, AttentionScratch& s) {
  cache.append(y);
  s.out.resize(y.rows(), y.cols());
  attn::attend_into(cache, y, s.out, s.weights, s.ws);
  y += s.out;
}

/// Decoder cross-attention of one step: the rows of `y` (B×D) are split into memory.size()
/// consecutive groups of equal size, group m attends memory[m] (one source: greedy decoding has
/// one row per source, beam search k rows against one source); y ← y + the attention output.
/// The per-head weights of row b go to rows layer·h + head of cross[b] ((L·h)×Tk).
inline void cross_attention(const std::vector<const attn::MultiHeadMemory<float>*>& memory, Mat& y, Index layer,
                            std::vector<Mat>& cross, AttentionScratch& s) {
  const Index group = y.rows() / static_cast<Index>(memory.size());
  s.out.resize(y.rows(), y.cols());
  for (std::size_t m = 0; m < memory.size(); ++m) {
    const Index first = static_cast<Index>(m) * group;
    attn::attend_into(*memory[m], y.middleRows(first, group), s.out.middleRows(first, group), s.weights, s.ws);
    const Index heads = s.weights.heads();
    for (Index r = 0; r < group; ++r)
      for (Index h = 0; h < heads; ++h)
        cross[static_cast<std::size_t>(first + r)].row(layer * heads + h) = s.weights.head(h).row(r);
  }
  y += s.out;
}

/// The decoder's attention state of one decoding: per layer a KV cache with one beam per
/// hypothesis and one prepared memory per source. It points into the model's parameters.
struct DecoderState {
  std::vector<attn::KVCache<float>> cache;                                 ///< [layer]
  std::vector<std::vector<attn::MultiHeadMemory<float>>> memory;           ///< [layer][source]
  std::vector<std::vector<const attn::MultiHeadMemory<float>*>> memories;  ///< pointers into memory

  /// Beam search: hypothesis b continues hypothesis parents[b] (every layer's cache).
  void reorder(const std::vector<Index>& parents) {
    for (auto& c : cache) c.reorder(parents);
  }
};

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

  /// The decoding state for `hypotheses` hypotheses (a multiple of encoded.size(), grouped by
  /// source: hypothesis b decodes source b / (hypotheses / sources)) of the encoder outputs
  /// `encoded` (padded; source s has lengths[s] characters), room for `max_steps` steps.
  DecoderState start_decoding(const std::vector<Mat>& encoded, const std::vector<Index>& lengths, Index hypotheses,
                              Index max_steps) const {
    DecoderState st;
    for (const DecoderLayer& layer : decoder) {
      st.cache.emplace_back(layer.self_attn, hypotheses, max_steps);
      st.memory.emplace_back();
      for (std::size_t b = 0; b < encoded.size(); ++b)
        st.memory.back().push_back(attn::prepare_memory(encoded[b], encoded[b], layer.cross_attn, lengths[b]));
    }
    for (const auto& layer : st.memory) {
      st.memories.emplace_back();
      for (const auto& m : layer) st.memories.back().push_back(&m);
    }
    return st;
  }

  /// One decoder step: hypothesis b's token `tokens[b]` at position `t` (the first step feeds <s>
  /// at 0). Writes the logits of every hypothesis (row b of `logits`, B×V) and the cross-attention
  /// row of this position for every layer and head (`cross[b]`, (L·h)×T_mem, row l·h + head).
  void step(DecoderState& st, const std::vector<Index>& tokens, Index t, Mat& logits, std::vector<Mat>& cross,
            AttentionScratch& s) const {
    if (t >= max_positions) throw std::runtime_error("transformer_demo: sequence longer than 64 positions");
    const auto batch = static_cast<Index>(tokens.size());
    const float scale = std::sqrt(static_cast<float>(d_model));
    Mat y(batch, d_model);
    for (Index b = 0; b < batch; ++b)
      y.row(b) = tgt_embed.row(tokens[static_cast<std::size_t>(b)]) * scale + positions.row(t);
    cross.resize(static_cast<std::size_t>(batch));
    for (Mat& c : cross) c.resize(layers() * heads, st.memory.front().front().max_time());
    for (Index l = 0; l < layers(); ++l) {
      const auto li = static_cast<std::size_t>(l);
      const DecoderLayer& layer = decoder[li];
      self_attention(st.cache[li], y, s);
      layer.norm1.apply(y);
      cross_attention(st.memories[li], y, l, cross, s);
      layer.norm2.apply(y);
      layer.ff.add_to(y);
      layer.norm3.apply(y);
    }
    logits = y * out_w;
    logits.rowwise() += out_b;
  }
};

}  // namespace transformer_demo
