// SPDX-License-Identifier: MIT
// Greedy and beam-search decoding of the transformer demo (transformer_model.hpp), recording the
// cross-attention of every step, layer and head. The decoder runs token by token: per layer an
// attn::KVCache (one beam per hypothesis) and per layer and source an attn::MultiHeadMemory
// (Model::start_decoding, Model::step). The per-step rows go into an attn::AlignmentHistory with L·h rows per step
// (row l·h + head); beam search reorders it and the caches by the parents of the surviving hypotheses, so each
// finished hypothesis keeps exactly the alignments along its own path. The beam search is the one
// train.py's docstring specifies (ties, stopping), so C++ and PyTorch give the same n-best list.
#pragma once

#include "transformer_model.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

namespace transformer_demo {

/// One decoded hypothesis with its cross-attention.
struct Hypothesis {
  std::string text;                        ///< decoded characters, </s> excluded
  std::vector<Index> ids;                  ///< target ids, </s> included when it was produced
  double score = 0;                        ///< sum of log-probabilities (beam search; 0 for greedy)
  std::vector<Mat> cross;                  ///< L·h maps, T_out×T_in each: layer l, head h at l·h + h
  std::vector<std::string> target_tokens;  ///< one per step (row labels)
  Mat logits;                              ///< T_out×V, one row per step (greedy only)
};

/// The alignment maps of sequence `b` of `history` (every recorded head) and the hypothesis text.
inline Hypothesis make_hypothesis(const Model& model, const std::vector<Index>& ids, double score,
                                  const attn::AlignmentHistory<float>& history, Index b) {
  Hypothesis h;
  h.ids = ids;
  h.score = score;
  for (const Index id : ids) {
    h.target_tokens.push_back(model.target_token(id));
    if (id != Model::eos) h.text += h.target_tokens.back();
  }
  for (Index k = 0; k < history.heads(); ++k) h.cross.push_back(history.view(b, k));
  return h;
}

/// Characters of `text` as tokens (column labels).
inline std::vector<std::string> characters(const std::string& text) {
  std::vector<std::string> out;
  for (const char c : text) out.emplace_back(1, c);
  return out;
}

/// Greedy decoding of a batch of texts (encoded together, padded; decoded together, one cache beam
/// and one prepared memory per text): one Hypothesis per text.
inline std::vector<Hypothesis> greedy(const Model& model, const std::vector<std::string>& texts,
                                      Index max_steps = 12) {
  AttentionScratch s;
  const std::vector<Mat> memory = model.encode(texts, s);
  const auto batch = texts.size();
  std::vector<Index> lengths;
  for (std::size_t b = 0; b < batch; ++b) lengths.push_back(static_cast<Index>(texts[b].size()));
  DecoderState state = model.start_decoding(memory, lengths, static_cast<Index>(batch), max_steps);
  attn::AlignmentHistory<float> history(lengths, model.layers() * model.heads, max_steps);
  std::vector<Index> tokens(batch, Model::bos);
  std::vector<std::vector<Index>> prefixes(batch, std::vector<Index>{Model::bos});
  std::vector<bool> done(batch, false);
  std::vector<Mat> out_logits(batch, Mat(0, model.vocabulary()));
  Mat logits;
  std::vector<Mat> cross;
  for (Index t = 0; t < max_steps; ++t) {
    for (std::size_t b = 0; b < batch; ++b) tokens[b] = prefixes[b].back();
    model.step(state, tokens, t, logits, cross, s);
    bool all_done = true;
    for (std::size_t b = 0; b < batch; ++b) {
      if (done[b]) {  // finished items run on (one batch, prefixes of one length); nothing is kept
        prefixes[b].push_back(Model::eos);
        continue;
      }
      Index next = 0;
      logits.row(static_cast<Index>(b)).maxCoeff(&next);
      prefixes[b].push_back(next);
      history.record(static_cast<Index>(b), cross[b]);
      out_logits[b].conservativeResize(t + 1, logits.cols());
      out_logits[b].row(t) = logits.row(static_cast<Index>(b));
      done[b] = next == Model::eos;
      all_done = all_done && done[b];
    }
    if (all_done) break;
  }
  std::vector<Hypothesis> out;
  for (std::size_t b = 0; b < batch; ++b) {
    std::vector<Index> ids(prefixes[b].begin() + 1, prefixes[b].end());
    const auto eos_at = std::find(ids.begin(), ids.end(), Model::eos);
    if (eos_at != ids.end()) ids.erase(eos_at + 1, ids.end());
    out.push_back(make_hypothesis(model, ids, 0.0, history, static_cast<Index>(b)));
    out.back().logits = out_logits[b];
  }
  return out;
}

/// Beam search of width `k` for one text: the finished hypotheses, best first (at most k).
inline std::vector<Hypothesis> beam_search(const Model& model, const std::string& text, Index k = 4,
                                           Index max_steps = 12) {
  AttentionScratch s;
  const std::vector<Mat> memory = model.encode({text}, s);
  const auto n = static_cast<Index>(text.size());
  const auto width = static_cast<std::size_t>(k);
  DecoderState state = model.start_decoding(memory, {n}, k, max_steps);  // k beams, one memory per layer
  attn::AlignmentHistory<float> history(k, n, model.layers() * model.heads, max_steps);

  // k slots; at the start only slot 0 is live (the others score -inf and are never chosen).
  std::vector<std::vector<Index>> prefixes(width, std::vector<Index>{Model::bos});
  std::vector<double> scores(width, -std::numeric_limits<double>::infinity());
  scores[0] = 0;
  std::vector<Hypothesis> finished;
  Mat logits;
  std::vector<Mat> cross;
  const Index vocab = model.vocabulary();
  std::vector<double> cand(width * static_cast<std::size_t>(vocab));
  std::vector<std::size_t> order(cand.size());
  std::vector<Index> tokens(width);
  bool stopped = false;
  for (Index t = 0; t < max_steps && !stopped; ++t) {
    for (std::size_t b = 0; b < width; ++b) tokens[b] = prefixes[b].back();
    model.step(state, tokens, t, logits, cross, s);
    for (std::size_t b = 0; b < width; ++b) history.record(static_cast<Index>(b), cross[b]);
    // Candidates: score + log_softmax(logits) (float, as torch), summed in double.
    for (std::size_t b = 0; b < width; ++b) {
      const Row z = logits.row(static_cast<Index>(b)).array() - logits.row(static_cast<Index>(b)).maxCoeff();
      const float log_sum = std::log(z.array().exp().sum());
      for (Index v = 0; v < vocab; ++v)
        cand[b * static_cast<std::size_t>(vocab) + static_cast<std::size_t>(v)] =
            scores[b] + static_cast<double>(z(v) - log_sum);
    }
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t c) {
      return cand[a] > cand[c] || (cand[a] == cand[c] && a < c);
    });
    std::vector<Index> parents;
    std::vector<std::vector<Index>> next_prefixes;
    std::vector<double> next_scores;
    for (std::size_t rank = 0; rank < order.size(); ++rank) {
      const std::size_t i = order[rank];
      const std::size_t b = i / static_cast<std::size_t>(vocab);
      const auto v = static_cast<Index>(i % static_cast<std::size_t>(vocab));
      if (cand[i] == -std::numeric_limits<double>::infinity()) break;
      if (v == Model::eos) {
        if (rank < width) {
          std::vector<Index> ids(prefixes[b].begin() + 1, prefixes[b].end());
          ids.push_back(Model::eos);
          finished.push_back(make_hypothesis(model, ids, cand[i], history, static_cast<Index>(b)));
        }
      } else if (next_prefixes.size() < width) {
        parents.push_back(static_cast<Index>(b));
        next_prefixes.push_back(prefixes[b]);
        next_prefixes.back().push_back(v);
        next_scores.push_back(cand[i]);
      }
      if (rank + 1 >= width && next_prefixes.size() == width) break;
    }
    // Fewer than k live hypotheses (never with this vocabulary): pad with dead copies.
    while (!parents.empty() && parents.size() < width) {
      parents.push_back(parents.back());
      next_prefixes.push_back(next_prefixes.back());
      next_scores.push_back(-std::numeric_limits<double>::infinity());
    }
    if (finished.size() >= width || parents.empty()) {
      stopped = true;
      break;
    }
    state.reorder(parents);    // beam b continues its parent's self-attention cache
    history.reorder(parents);  // slot b now holds the history of its parent
    prefixes = std::move(next_prefixes);
    scores = std::move(next_scores);
  }
  if (!stopped)  // out of steps: the live hypotheses count as finished, best first
    for (std::size_t b = 0; b < width; ++b)
      if (scores[b] > -std::numeric_limits<double>::infinity())
        finished.push_back(make_hypothesis(model, {prefixes[b].begin() + 1, prefixes[b].end()}, scores[b], history,
                                           static_cast<Index>(b)));
  std::stable_sort(finished.begin(), finished.end(),
                   [](const Hypothesis& a, const Hypothesis& c) { return a.score > c.score; });
  if (finished.size() > width) finished.resize(width);
  return finished;
}

}  // namespace transformer_demo
