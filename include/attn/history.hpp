// SPDX-License-Identifier: MIT
// attn::AlignmentHistory: each decoder step's alignment row per sequence of a batch (TF
// AttentionWrapper(alignment_history=True)), read back as a T_out×T_in matrix per sequence
// (and per head), with beam-search reordering by parent indices.
#pragma once

#include "config.hpp"
#include "head_weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace attn {

namespace detail {

template <typename T>
struct is_initializer_list : std::false_type {};
template <typename T>
struct is_initializer_list<std::initializer_list<T>> : std::true_type {};

/// `parents[b]` of a beam-search reorder as an Index: of a standard container (size_t index), an
/// Eigen vector (Index index) or a braced list (`reorder({1, 1, 2})`, which has no operator[]).
/// A floating-point parent must be a whole number within Index's range before the cast (casting
/// NaN, inf or 1e300 to an integer is undefined behaviour); out of range it becomes -1, which
/// the caller's range check rejects with the parent's value.
template <typename Parents>
Index parent_at(const Parents& parents, Index b, const char* fn) {
  const auto to_index = [&](const auto& value) -> Index {
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_floating_point<T>::value) {
      ATTN_CHECK(std::isfinite(value) && value == std::trunc(value) && value >= T(-1) && value < T(9.2e18),
                 std::string(fn) + ": parents[" + std::to_string(b) + "] (" +
                     std::to_string(static_cast<double>(value)) + ") must be an integer index");
      return static_cast<Index>(value);
    } else {
      return static_cast<Index>(value);
    }
  };
  if constexpr (std::is_base_of<Eigen::EigenBase<Parents>, Parents>::value) {
    return to_index(parents(b));
  } else if constexpr (is_initializer_list<Parents>::value) {
    return to_index(parents.begin()[b]);
  } else {
    return to_index(parents[static_cast<std::size_t>(b)]);
  }
}

/// The first weight a history would drop without a word: the (row, column) of the first entry
/// of `weights` not 0 in a column from `kept` on (scanning column by column), or (-1, -1) when
/// every dropped column holds padding (0). Only padding may be dropped: a weight past the
/// source length is mass the history would lose (a memory of more visible keys than the history
/// was told, e.g. one prepared without the sequence's length).
template <typename Derived>
std::pair<Index, Index> first_dropped_weight(const Eigen::MatrixBase<Derived>& weights, Index kept) {
  for (Index j = kept; j < weights.cols(); ++j)
    for (Index r = 0; r < weights.rows(); ++r)
      if (weights(r, j) != typename Derived::Scalar(0)) return {r, j};
  return {-1, -1};
}

}  // namespace detail

/// Alignment history of a batch of `B` sequences, sequence `b` with its own source length
/// `n_b` (T_in) and `heads` rows per step (1 for single-head attention; `h` for multi-head steps,
/// one row per head). Step `t` of sequence `b` is row `t` of its `steps(b)×n_b` matrix.
///
/// Storage is reserved ahead (`reserve`, or the constructor's `reserve_steps`): recording within
/// the reservation allocates nothing; recording past it grows the storage (doubling) and keeps
/// every row. Views stay valid until the next record, reorder, reserve or clear.
template <typename Scalar>
class AlignmentHistory {
 public:
  /// Row-major dynamic matrix: the layout of the stored steps.
  using RowMajorMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  /// `steps×n_b` read-only view of one head of one sequence (no copy).
  using View = Eigen::Map<const RowMajorMatrix, 0, Eigen::OuterStride<>>;

  AlignmentHistory() = default;

  /// One sequence per entry of `source_lengths` (each >= 0), `heads` >= 1 rows per step, room for
  /// `reserve_steps` steps.
  /// \param source_lengths n_b per sequence; their count is the batch size B
  /// \param heads rows recorded per step (default 1)
  /// \param reserve_steps steps reserved ahead in every sequence (default 0)
  /// \throws attn::invalid_argument when `heads < 1`, a length or `reserve_steps` is negative
  explicit AlignmentHistory(std::vector<Index> source_lengths, Index heads = 1, Index reserve_steps = 0)
      : lengths_(std::move(source_lengths)), heads_(heads) {
    ATTN_CHECK(heads >= 1, "attn::AlignmentHistory: heads (" + std::to_string(heads) + ") must be >= 1");
    for (std::size_t b = 0; b < lengths_.size(); ++b)
      ATTN_CHECK(lengths_[b] >= 0, "attn::AlignmentHistory: source_lengths[" + std::to_string(b) + "] (" +
                                       std::to_string(lengths_[b]) + ") must be >= 0");
    data_.resize(lengths_.size());
    steps_.assign(lengths_.size(), 0);
    capacity_.assign(lengths_.size(), 0);
    reserve(reserve_steps);
  }

  /// `batch_size` sequences of the same source length.
  /// \param batch_size B, >= 0
  /// \param source_length n_b of every sequence, >= 0
  /// \param heads rows recorded per step (default 1)
  /// \param reserve_steps steps reserved ahead in every sequence (default 0)
  /// \throws attn::invalid_argument when `heads < 1` or a size is negative
  AlignmentHistory(Index batch_size, Index source_length, Index heads = 1, Index reserve_steps = 0)
      : AlignmentHistory(make_lengths(batch_size, source_length), heads, reserve_steps) {}

  /// Number of sequences. \return B
  Index batch_size() const { return static_cast<Index>(lengths_.size()); }
  /// Rows recorded per step (heads). \return heads, >= 1
  Index heads() const { return heads_; }
  /// T_in of sequence `b`.
  /// \param b sequence, in `[0, B)` \return n_b \throws attn::invalid_argument when `b` is out of range
  Index source_length(Index b) const { return lengths_[checked(b, "source_length")]; }
  /// Steps recorded for sequence `b` (T_out so far).
  /// \param b sequence, in `[0, B)` \return the step count
  /// \throws attn::invalid_argument when `b` is out of range
  Index steps(Index b) const { return steps_[checked(b, "steps")]; }
  /// Steps sequence `b` can hold before recording allocates.
  /// \param b sequence, in `[0, B)` \return the capacity in steps
  /// \throws attn::invalid_argument when `b` is out of range
  Index capacity(Index b) const { return capacity_[checked(b, "capacity")]; }

  /// Makes room for `steps` steps in every sequence (never shrinks).
  /// \param steps capacity wanted, >= 0 \throws attn::invalid_argument when `steps < 0`
  void reserve(Index steps) {
    ATTN_CHECK(steps >= 0, "attn::AlignmentHistory::reserve: steps (" + std::to_string(steps) + ") must be >= 0");
    for (std::size_t b = 0; b < data_.size(); ++b) grow(b, steps);
  }

  /// Forgets every step; keeps the storage.
  void clear() { std::fill(steps_.begin(), steps_.end(), Index(0)); }

  /// Records one step of sequence `b`: `weights` is heads×Tk with Tk >= n_b; its first n_b
  /// columns are kept. The columns past n_b must be padding (weight 0): a weight there is mass
  /// the history would lose, most often a memory prepared without the sequence's length (TF's
  /// `memory_sequence_length`), and throws (nothing is recorded then).
  /// \param b sequence, in `[0, B)`
  /// \param weights heads×Tk, Tk >= n_b (cast to Scalar)
  /// \throws attn::invalid_argument when `b` is out of range, `weights` has another shape or a
  ///         column past n_b holds a weight that is not 0
  template <typename Derived>
  void record(Index b, const Eigen::MatrixBase<Derived>& weights) {
    store(check_step(b, weights), weights);
  }

  /// Records one step of every sequence: `weights` is (B·heads)×Tk, rows `[b·heads, (b+1)·heads)`
  /// belong to sequence `b`, which keeps its first n_b columns.
  /// \param weights (B·heads)×Tk, Tk >= every n_b
  /// \throws attn::invalid_argument when `weights` has another number of rows or too few columns,
  ///         or a column past a sequence's n_b holds a weight that is not 0 (nothing is recorded)
  template <typename Derived>
  void record(const Eigen::MatrixBase<Derived>& weights) {
    ATTN_CHECK(weights.rows() == batch_size() * heads_,
               "attn::AlignmentHistory::record: weights.rows() (" + std::to_string(weights.rows()) +
                   ") must equal batch_size()·heads() (" + std::to_string(batch_size() * heads_) + ")");
    for (Index b = 0; b < batch_size(); ++b) check_step(b, weights.middleRows(b * heads_, heads_));
    for (Index b = 0; b < batch_size(); ++b) store(static_cast<std::size_t>(b), weights.middleRows(b * heads_, heads_));
  }

  /// Beam search: after this call sequence `b` holds the history of sequence `parents[b]` as it
  /// was before the call (a gather; a parent may be chosen by several beams or by none).
  /// `parents` is any container with size() and operator[] (std::vector<int>, Eigen::VectorXi...)
  /// of batch_size() indices in [0, B), each parent with the same source length as its child.
  /// The first call allocates spare storage; later calls at the same capacity allocate nothing.
  /// \tparam Parents a container of integers with size() and operator[] (or an Eigen vector, or
  ///         a braced list: `reorder({1, 1, 2})`)
  /// \param parents B parent indices, `parents[b]` in `[0, B)`
  /// \throws attn::invalid_argument when `parents` has another size, an index is out of range
  ///         or a parent's source length differs from its child's (nothing is changed then)
  template <typename Parents = std::initializer_list<Index>>
  void reorder(const Parents& parents) {
    constexpr const char* fn = "attn::AlignmentHistory::reorder";
    const Index count = static_cast<Index>(parents.size());
    ATTN_CHECK(count == batch_size(), std::string(fn) + ": parents.size() (" + std::to_string(count) +
                                          ") must equal batch_size() (" + std::to_string(batch_size()) + ")");
    for (Index b = 0; b < count; ++b) {
      const Index p = parent_at(parents, b);
      ATTN_CHECK(p >= 0 && p < count, std::string(fn) + ": parents[" + std::to_string(b) + "] (" + std::to_string(p) +
                                          ") must be in [0, " + std::to_string(count) + ")");
      ATTN_CHECK(lengths_[static_cast<std::size_t>(p)] == lengths_[static_cast<std::size_t>(b)],
                 std::string(fn) + ": parents[" + std::to_string(b) + "] (" + std::to_string(p) +
                     ") has source length " + std::to_string(lengths_[static_cast<std::size_t>(p)]) +
                     " but sequence " + std::to_string(b) + " has " +
                     std::to_string(lengths_[static_cast<std::size_t>(b)]));
    }
    if (spare_.size() != data_.size()) spare_.resize(data_.size());
    spare_steps_.resize(steps_.size());
    spare_capacity_.resize(capacity_.size());
    for (std::size_t b = 0; b < data_.size(); ++b) {
      const auto p = static_cast<std::size_t>(parent_at(parents, static_cast<Index>(b)));
      spare_capacity_[b] = std::max(capacity_[b], capacity_[p]);
      const Index size = spare_capacity_[b] * heads_ * lengths_[b];
      if (spare_[b].size() != size) spare_[b].resize(size);
      const Index used = steps_[p] * heads_ * lengths_[b];
      spare_[b].head(used) = data_[p].head(used);
      spare_steps_[b] = steps_[p];
    }
    for (std::size_t b = 0; b < data_.size(); ++b) {
      data_[b].swap(spare_[b]);
      steps_[b] = spare_steps_[b];
      capacity_[b] = spare_capacity_[b];
    }
  }

  /// Read-only `steps(b)×n_b` view of head `head` of sequence `b`.
  /// \param b sequence, in `[0, B)`
  /// \param head head, in `[0, heads())` (default 0)
  /// \return a map into the history, valid until the next record, reorder, reserve or clear
  /// \throws attn::invalid_argument when `b` or `head` is out of range
  View view(Index b, Index head = 0) const {
    const std::size_t s = checked(b, "view");
    check_head(head, "view");
    const Index n = lengths_[s];
    return View(data_[s].data() + head * n, steps_[s], n, Eigen::OuterStride<>(heads_ * n));
  }

  /// view(b, head) of every sequence, in order: a list of maps for the exporters
  /// (`attn::io::heatmap_panels(history.views(), titles)`, `npy_stack`, `TidyCsvWriter::append_heads`).
  /// \param head head, in `[0, heads())` (default 0)
  /// \return batch_size() maps, valid until the next record, reorder, reserve or clear
  /// \throws attn::invalid_argument when `head` is out of range
  std::vector<View> views(Index head = 0) const {
    check_head(head, "views");
    std::vector<View> all;
    all.reserve(lengths_.size());
    for (Index b = 0; b < batch_size(); ++b) all.push_back(view(b, head));
    return all;
  }

  /// `steps(b)×n_b` copy of head `head` of sequence `b` (the T_out×T_in alignment matrix).
  /// \param b sequence, in `[0, B)`
  /// \param head head, in `[0, heads())` (default 0)
  /// \return steps(b)×n_b
  /// \throws attn::invalid_argument when `b` or `head` is out of range
  Matrix<Scalar> matrix(Index b, Index head = 0) const { return view(b, head); }

  /// Every head of sequence `b`, copied into a `heads()×steps(b)×n_b` HeadWeights: reduce it
  /// with `.mean()` (PyTorch `average_attn_weights=True`), `.max()`, ... or read `.head(i)`.
  /// \param b sequence, in `[0, B)`
  /// \return the per-head alignments of sequence `b`
  /// \throws attn::invalid_argument when `b` is out of range
  HeadWeights<Scalar> head_weights(Index b) const {
    const std::size_t s = checked(b, "head_weights");
    HeadWeights<Scalar> w(heads_, steps_[s], lengths_[s]);
    for (Index h = 0; h < heads_; ++h) w.head(h) = view(b, h);
    return w;
  }

 private:
  static std::vector<Index> make_lengths(Index batch_size, Index source_length) {
    ATTN_CHECK(batch_size >= 0,
               "attn::AlignmentHistory: batch_size (" + std::to_string(batch_size) + ") must be >= 0");
    return std::vector<Index>(static_cast<std::size_t>(batch_size), source_length);
  }

  template <typename Parents>
  static Index parent_at(const Parents& parents, Index b) {
    return detail::parent_at(parents, b, "attn::AlignmentHistory::reorder");
  }

  // Checks one step of sequence b for record (shape, and only padding past n_b); returns b's slot.
  template <typename Derived>
  std::size_t check_step(Index b, const Eigen::MatrixBase<Derived>& weights) const {
    const std::size_t s = checked(b, "record");
    const Index n = lengths_[s];
    ATTN_CHECK(weights.rows() == heads_ && weights.cols() >= n,
               "attn::AlignmentHistory::record: weights " + detail::shape(weights.rows(), weights.cols()) +
                   " must have " + std::to_string(heads_) + " row(s) and at least " + std::to_string(n) +
                   " columns (the source length of sequence " + std::to_string(b) + ")");
    const auto [row, column] = detail::first_dropped_weight(weights, n);
    ATTN_CHECK(column < 0, "attn::AlignmentHistory::record: sequence " + std::to_string(b) + ", head " +
                               std::to_string(row) + " holds " +
                               detail::number_text(column < 0 ? 0.0 : static_cast<double>(weights(row, column))) +
                               " at column " + std::to_string(column) + ", past its source length (" +
                               std::to_string(n) +
                               "): only padding (weight 0) is dropped; give the memory the sequence's length "
                               "(prepare_memory's length, TF's memory_sequence_length) or make the history "
                               "with the lengths the memory has");
    return s;
  }

  // Appends a checked step (check_step) to sequence slot s: its first n_s columns, per head.
  template <typename Derived>
  void store(std::size_t s, const Eigen::MatrixBase<Derived>& weights) {
    const Index n = lengths_[s];
    if (steps_[s] == capacity_[s]) grow(s, std::max<Index>(2 * capacity_[s], 8));
    Scalar* row = data_[s].data() + steps_[s] * heads_ * n;
    for (Index h = 0; h < heads_; ++h)
      Eigen::Map<RowVector<Scalar>>(row + h * n, n) = weights.row(h).head(n).template cast<Scalar>();
    ++steps_[s];
  }

  std::size_t checked(Index b, const char* what) const {
    ATTN_CHECK(b >= 0 && b < batch_size(), std::string("attn::AlignmentHistory::") + what + ": sequence (" +
                                               std::to_string(b) + ") must be in [0, " +
                                               std::to_string(batch_size()) + ")");
    return static_cast<std::size_t>(b);
  }

  void check_head(Index head, const char* what) const {
    ATTN_CHECK(head >= 0 && head < heads_, std::string("attn::AlignmentHistory::") + what + ": head (" +
                                               std::to_string(head) + ") must be in [0, " + std::to_string(heads_) +
                                               ")");
  }

  void grow(std::size_t b, Index steps) {
    if (steps <= capacity_[b]) return;
    data_[b].conservativeResize(detail::checked_product("attn::AlignmentHistory::reserve", "steps·heads·source_length",
                                                        {steps, heads_, lengths_[b]}));
    capacity_[b] = steps;
  }

  std::vector<Index> lengths_;
  Index heads_ = 1;
  std::vector<Vector<Scalar>> data_;
  std::vector<Index> steps_;
  std::vector<Index> capacity_;
  std::vector<Vector<Scalar>> spare_;
  std::vector<Index> spare_steps_;
  std::vector<Index> spare_capacity_;
};

}  // namespace attn
