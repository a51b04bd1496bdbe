// SPDX-License-Identifier: MIT
// The date demo's model in C++: a character-level bidirectional-GRU encoder and a GRU decoder with
// Bahdanau attention (trained by examples/date_demo/train.py), decoded greedily with
// attn::AttentionLoop, which keeps every step's alignment. Shared by examples/date_demo.cpp and
// tests/test_date_demo.cpp. All vectors are 1×n float matrices; weights are in attn's Keras
// layout (in×out, x·W), read with attn::io::read_npy.
#pragma once

#include <attn/attention_loop.hpp>
#include <attn/attn.hpp>
#include <attn/io/npy.hpp>

#include "alphabets.hpp"

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace date_demo {

using attn::Index;
using Mat = attn::Matrix<float>;

/// One GRU layer with PyTorch's gate equations (r, z, n; b_hn inside r ⊙ (...)):
///   r = σ(x·W_ir + b_ir + h·W_hr + b_hr),  z = σ(x·W_iz + b_iz + h·W_hz + b_hz),
///   n = tanh(x·W_in + b_in + r ⊙ (h·W_hn + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h.
/// w_ih is in×3H and w_hh H×3H with the gates in PyTorch's order [r | z | n].
struct Gru {
  Mat w_ih, w_hh, b_ih, b_hh;
  mutable Mat gi, gh;  // scratch, 1×3H

  Index hidden() const { return w_hh.rows(); }

  /// h ← GRU(x, h); x is 1×in, h is 1×H. Allocates nothing after the first call.
  void step(const Mat& x, Mat& h) const {
    const Index n = hidden();
    gi.resize(1, 3 * n);
    gh.resize(1, 3 * n);
    gi.noalias() = x * w_ih;
    gi += b_ih;
    gh.noalias() = h * w_hh;
    gh += b_hh;
    const auto r = (1.0f / (1.0f + (-(gi.leftCols(n) + gh.leftCols(n))).array().exp())).eval();
    const auto z = (1.0f / (1.0f + (-(gi.middleCols(n, n) + gh.middleCols(n, n))).array().exp())).eval();
    const auto c = (gi.rightCols(n).array() + r * gh.rightCols(n).array()).tanh().eval();
    h = ((1.0f - z) * c + z * h.array()).matrix();
  }
};

struct Model : Alphabets {
  Mat src_embed, tgt_embed;
  Gru encoder_forward, encoder_backward, decoder;
  Mat bridge_w, bridge_b;
  attn::BahdanauParams<float> attention;
  Mat attention_layer;
  Mat out_w, out_b;

  /// Loads the weights written by train.py from `dir` (.npy files and alphabets.txt).
  static Model load(const std::filesystem::path& dir) {
    auto npy = [&](const char* name) { return attn::io::read_npy<float>(dir / (std::string(name) + ".npy")); };
    Model m;
    static_cast<Alphabets&>(m) = Alphabets::load(dir / "alphabets.txt");
    m.src_embed = npy("src_embed");
    m.tgt_embed = npy("tgt_embed");
    m.encoder_forward = {npy("enc_fw_w_ih"), npy("enc_fw_w_hh"), npy("enc_fw_b_ih"), npy("enc_fw_b_hh"), {}, {}};
    m.encoder_backward = {npy("enc_bw_w_ih"), npy("enc_bw_w_hh"), npy("enc_bw_b_ih"), npy("enc_bw_b_hh"), {}, {}};
    m.bridge_w = npy("bridge_w");
    m.bridge_b = npy("bridge_b");
    m.decoder = {npy("dec_w_ih"), npy("dec_w_hh"), npy("dec_b_ih"), npy("dec_b_hh"), {}, {}};
    m.attention.wq = npy("att_wq");
    m.attention.wk = npy("att_wk");
    m.attention.v = npy("att_v");
    m.attention_layer = npy("att_layer");
    m.out_w = npy("out_w");
    m.out_b = npy("out_b");
    return m;
  }

  /// Encoder outputs (T_in×2H: forward and backward states per character) and the decoder's
  /// initial state h_0 = tanh([h_forward_last, h_backward_first]·W_bridge + b_bridge).
  void encode(const std::string& text, Mat& memory, Mat& h0) const {
    const auto t_in = static_cast<Index>(text.size());
    const Index hf = encoder_forward.hidden();
    const Index hb = encoder_backward.hidden();
    memory.setZero(t_in, hf + hb);
    Mat h = Mat::Zero(1, hf);
    for (Index t = 0; t < t_in; ++t) {
      encoder_forward.step(src_embed.row(source_id(text[static_cast<std::size_t>(t)])), h);
      memory.block(t, 0, 1, hf) = h;
    }
    Mat hbw = Mat::Zero(1, hb);
    for (Index t = t_in - 1; t >= 0; --t) {
      encoder_backward.step(src_embed.row(source_id(text[static_cast<std::size_t>(t)])), hbw);
      memory.block(t, hf, 1, hb) = hbw;
    }
    Mat last(1, hf + hb);
    last << h, hbw;
    h0 = ((last * bridge_w + bridge_b).array().tanh()).matrix();
  }
};

/// A greedy translation with its alignment history.
struct Translation {
  std::string text;                         ///< decoded characters, </s> excluded
  std::vector<std::string> target_tokens;   ///< one per step, </s> included
  std::vector<std::string> source_tokens;   ///< the source characters
  Mat alignments;                           ///< T_out×T_in, one row per step
  Mat logits;                               ///< T_out×V
};

/// Greedy decoding: AttentionLoop with the decoder GRU as its cell, [embedding, attention] as cell
/// input, the attention layer [h, context]·W and the output projection on the attention.
inline Translation translate(const Model& model, const std::string& text, Index max_steps = 12) {
  Mat memory, h;
  model.encode(text, memory, h);
  const attn::Memory<float> prepared = attn::prepare_memory(memory, memory, model.attention);

  attn::AttentionLoopOptions<float> options;
  options.input_size = model.tgt_embed.cols();
  options.attention_layer = model.attention_layer;
  options.output_attention = true;
  options.reserve_steps = max_steps;
  attn::AttentionLoop<float> loop(prepared, options);
  auto cell = [&](const Mat& cell_input, Mat& cell_output) {
    model.decoder.step(cell_input, h);
    cell_output = h;
  };

  Translation out;
  for (const char c : text) out.source_tokens.emplace_back(1, c);
  out.logits.resize(0, model.out_w.cols());
  Index previous = Model::bos;
  Mat input(1, model.tgt_embed.cols());
  Mat logits(1, model.out_w.cols());
  for (Index t = 0; t < max_steps; ++t) {
    input = model.tgt_embed.row(previous);
    const Mat& attention = loop.step(input, cell);
    logits.noalias() = attention * model.out_w;
    logits += model.out_b;
    out.logits.conservativeResize(t + 1, Eigen::NoChange);
    out.logits.row(t) = logits;
    logits.row(0).maxCoeff(&previous);
    out.target_tokens.push_back(model.target_token(previous));
    if (previous == Model::eos) break;
    out.text += out.target_tokens.back();
  }
  out.alignments = loop.alignments();
  return out;
}

/// Characters [first, last) of the year in `text`: the 4-digit year if present, else the last
/// 2-digit one ({-1, -1} when neither is found).
inline std::pair<Index, Index> year_span(const std::string& text, int year) {
  const std::string four = std::to_string(year);
  auto at = text.find(four);
  if (at != std::string::npos) return {static_cast<Index>(at), static_cast<Index>(at) + 4};
  const std::string two = four.substr(2);
  at = text.rfind(two);
  if (at != std::string::npos) return {static_cast<Index>(at), static_cast<Index>(at) + 2};
  return {-1, -1};
}

/// Mean over the four year digits of the output of the attention mass on the source's year
/// characters (the translation must be a 10-character ISO date).
inline float year_mass_share(const Translation& tr, const std::string& source) {
  if (tr.text.size() != 10 || tr.alignments.rows() < 4) return 0.0f;
  const auto [first, last] = year_span(source, std::stoi(tr.text.substr(0, 4)));
  if (first < 0) return 0.0f;
  return tr.alignments.topRows(4).middleCols(first, last - first).sum() / 4.0f;
}

}  // namespace date_demo
