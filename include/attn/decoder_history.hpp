// SPDX-License-Identifier: MIT
// attn::DecoderHistory: the per-head alignments of a transformer decoder, step by step, for every
// layer's cross-attention (steps×T_in per beam and head) and self-attention (steps×max_steps per
// beam and head, lower triangular), with beam-search reordering by parent indices. Built on
// attn::AlignmentHistory, one per layer and kind.
#pragma once

#include "config.hpp"
#include "head_weights.hpp"
#include "history.hpp"

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

namespace attn {

/// Alignment history of a transformer decoder with `layers` layers of `heads` heads, decoding
/// `beams` hypotheses of one source of length `source_length`: each step records the
/// cross-attention weights (HeadWeights h×B×Tk of attn::attend on a MultiHeadMemory) and the
/// self-attention weights (h×B×t of attn::attend on a KVCache) of every layer. reorder(parents)
/// follows beam search, so that a finished hypothesis holds exactly the alignments along its
/// path: read them before the beam is reused. Recording within `max_steps` allocates nothing.
template <typename Scalar>
class DecoderHistory {
 public:
  DecoderHistory() = default;

  /// An empty history.
  /// \param layers L, >= 1
  /// \param heads h, >= 1
  /// \param beams B, >= 1
  /// \param source_length T_in, >= 0: cross-attention rows keep their first T_in columns
  /// \param max_steps the longest decoding, >= 0: the width of the self-attention maps (step t
  ///        has t + 1 weights, zero-padded to max_steps) and the steps reserved ahead
  /// \throws attn::invalid_argument when a count is < 1 or a length negative
  DecoderHistory(Index layers, Index heads, Index beams, Index source_length, Index max_steps)
      : heads_(heads), beams_(beams), source_length_(source_length), max_steps_(max_steps) {
    constexpr const char* fn = "attn::DecoderHistory";
    ATTN_CHECK(layers >= 1, std::string(fn) + ": layers (" + std::to_string(layers) + ") must be >= 1");
    ATTN_CHECK(heads >= 1, std::string(fn) + ": heads (" + std::to_string(heads) + ") must be >= 1");
    ATTN_CHECK(beams >= 1, std::string(fn) + ": beams (" + std::to_string(beams) + ") must be >= 1");
    ATTN_CHECK(source_length >= 0,
               std::string(fn) + ": source_length (" + std::to_string(source_length) + ") must be >= 0");
    ATTN_CHECK(max_steps >= 0, std::string(fn) + ": max_steps (" + std::to_string(max_steps) + ") must be >= 0");
    for (Index l = 0; l < layers; ++l) {
      cross_.emplace_back(beams, source_length, heads, max_steps);
      self_.emplace_back(beams, max_steps, heads, max_steps);
    }
    rows_.setZero(heads, std::max(source_length, max_steps));
  }

  /// Number of layers. \return L
  Index layers() const { return static_cast<Index>(cross_.size()); }
  /// Heads per layer. \return h
  Index heads() const { return heads_; }
  /// Beams. \return B
  Index beams() const { return beams_; }
  /// Source length T_in. \return the width of the cross-attention maps
  Index source_length() const { return source_length_; }
  /// The longest decoding. \return the width of the self-attention maps
  Index max_steps() const { return max_steps_; }

  /// Records one step's cross-attention weights of layer `layer`, or P steps' at once (the
  /// h×B·P weights of a MultiHeadMemory attended by P query rows per beam, beam by beam: rows
  /// `[b·P, (b+1)·P)` are beam b's P steps, in order).
  /// \param layer in `[0, L)`
  /// \param weights h×B·P×Tk with Tk >= T_in (padding columns are dropped)
  /// \throws attn::invalid_argument when `layer` is out of range, `weights` has another shape or
  ///         a dropped column (past T_in) holds a weight that is not 0
  void record_cross(Index layer, const HeadWeights<Scalar>& weights) {
    record(cross_[checked(layer, "record_cross")], weights, true, "attn::DecoderHistory::record_cross");
  }

  /// Records one step's self-attention weights of layer `layer` (step t: h×B×(t + 1), or any
  /// width up to max_steps), zero-padded to max_steps columns; or P steps' at once (a prompt or
  /// a chunk attended through a KVCache in one call: h×B·P×steps, rows `[b·P, (b+1)·P)` beam b's
  /// P positions, in order), so the history holds the prompt's rows before the generated ones.
  /// \param layer in `[0, L)`
  /// \param weights h×B·P×t with t <= max_steps
  /// \throws attn::invalid_argument when `layer` is out of range or `weights` has another shape
  void record_self(Index layer, const HeadWeights<Scalar>& weights) {
    record(self_[checked(layer, "record_self")], weights, false, "attn::DecoderHistory::record_self");
  }

  /// Beam search: afterwards beam `b` holds every layer's history of beam `parents[b]` (see
  /// AlignmentHistory::reorder).
  /// \tparam Parents a container of integers with size() and operator[] (or an Eigen vector, or a
  ///         braced list: `reorder({1, 1, 2})`)
  /// \param parents B indices in `[0, B)`
  /// \throws attn::invalid_argument when `parents` has another size or an index is out of range
  template <typename Parents = std::initializer_list<Index>>
  void reorder(const Parents& parents) {
    for (auto& h : cross_) h.reorder(parents);  // checks before it changes anything
    for (auto& h : self_) h.reorder(parents);
  }

  /// Forgets every step; keeps the storage.
  void clear() {
    for (auto& h : cross_) h.clear();
    for (auto& h : self_) h.clear();
  }

  /// Cross-attention history of layer `layer`: `view(b, head)` is beam b's steps×T_in map.
  /// \param layer in `[0, L)` \return its AlignmentHistory (B sequences, h heads)
  /// \throws attn::invalid_argument when `layer` is out of range
  const AlignmentHistory<Scalar>& cross(Index layer) const { return cross_[checked(layer, "cross")]; }
  /// Self-attention history of layer `layer`: `view(b, head)` is beam b's steps×max_steps map
  /// (row t: the weights over positions 0..t, zeros after).
  /// \param layer in `[0, L)` \return its AlignmentHistory (B sequences, h heads)
  /// \throws attn::invalid_argument when `layer` is out of range
  const AlignmentHistory<Scalar>& self(Index layer) const { return self_[checked(layer, "self")]; }

 private:
  std::size_t checked(Index layer, const char* what) const {
    ATTN_CHECK(layer >= 0 && layer < layers(), std::string("attn::DecoderHistory::") + what + ": layer (" +
                                                   std::to_string(layer) + ") must be in [0, " +
                                                   std::to_string(layers()) + ")");
    return static_cast<std::size_t>(layer);
  }

  // Rows [b·P, (b+1)·P) of every head into history sequence b, one step each: a cross row keeps
  // its first T_in columns, a self row is zero-padded to max_steps columns.
  void record(AlignmentHistory<Scalar>& history, const HeadWeights<Scalar>& weights, bool cross, const char* fn) {
    const Index tk = weights.cols();
    const Index width = cross ? source_length_ : max_steps_;
    ATTN_CHECK(weights.heads() == heads_ && weights.rows() % beams_ == 0,
               std::string(fn) + ": weights (" + std::to_string(weights.heads()) + " heads, " +
                   std::to_string(weights.rows()) + " rows) must have " + std::to_string(heads_) + " heads and " +
                   std::to_string(beams_) + " rows (one per beam), or a multiple of " + std::to_string(beams_) +
                   " (P steps per beam, beam by beam)");
    const Index rows_in = weights.rows();
    const Index per_beam = rows_in / beams_;
    ATTN_CHECK(!cross || tk >= width, std::string(fn) + ": weights have " + std::to_string(tk) +
                                          " columns, fewer than the source length (" + std::to_string(width) + ")");
    ATTN_CHECK(cross || tk <= width, std::string(fn) + ": weights have " + std::to_string(tk) +
                                         " columns, more than max_steps (" + std::to_string(width) + ")");
    const Index kept = std::min(tk, width);
    if (cross && tk > width) {
      for (Index i = 0; i < heads_; ++i) {  // only padding may be dropped (first_dropped_weight)
        const auto head = weights.head(i);
        const auto [r, j] = detail::first_dropped_weight(head, width);
        ATTN_CHECK(j < 0, std::string(fn) + ": head " + std::to_string(i) + ", row " + std::to_string(r) + " holds " +
                              detail::number_text(j < 0 ? 0.0 : static_cast<double>(head(r, j))) + " at column " +
                              std::to_string(j) + ", past the source length (" + std::to_string(width) +
                              "): only padding (weight 0) is dropped; make the history with the memory's "
                              "length() as source_length");
      }
    }
    auto rows = rows_.leftCols(width);
    rows.rightCols(width - kept).setZero();
    for (Index b = 0; b < beams_; ++b) {
      for (Index p = 0; p < per_beam; ++p) {
        for (Index i = 0; i < heads_; ++i) rows.row(i).head(kept) = weights.head(i).row(b * per_beam + p).head(kept);
        history.record(b, rows);
      }
    }
  }

  std::vector<AlignmentHistory<Scalar>> cross_;
  std::vector<AlignmentHistory<Scalar>> self_;
  Index heads_ = 1;
  Index beams_ = 1;
  Index source_length_ = 0;
  Index max_steps_ = 0;
  Matrix<Scalar> rows_;  // h×max(T_in, max_steps): one beam's rows of one step
};

}  // namespace attn
