// SPDX-License-Identifier: MIT
// Weight sinks: where the attention weights of a call go, block by block, instead of (or besides)
// a caller's full Tq×Tk matrix. The engine normalises blocks of 256 query rows in cache; each
// block is handed to every sink of an attn::Sinks list, then dropped. Reductions (top-k, column
// sums, row entropy and argmax) are in sink_reductions.hpp.
#pragma once

#include "config.hpp"
#include "detail/checks.hpp"
#include "mask.hpp"

#include <array>
#include <cstddef>
#include <exception>
#include <limits>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

// Design (docs/08-performance.md "Weights at any length: sinks"):
// - A sink is an object derived from attn::WeightSink<Scalar> (runtime polymorphism: one virtual
//   call per block of rows (256, fewer for long keys) costs nothing next to the block's
//   products, and a call takes any mix of sinks without a template per combination). A call takes them as an attn::Sinks<Scalar>
//   in the place of `weights`: `attn::scaled_dot_product_into(q, k, v, out, attn::Sinks<float>(
//   topk, sums), ws)`, one sink converts implicitly (`..., out, topk, ws)`), and `attn::no_weights`
//   (an empty list) is PyTorch's `need_weights=False`: output only, no Tq×Tk write anywhere.
// - The list holds references (no copy, no allocation): sinks must outlive the call, and a sink
//   keeps its results until its next call, like a Workspace.
// - Memory: without attn::FullWeights in the list, the blocks live in per-thread scratch of the
//   Workspace, 256·Tk scalars per thread, plus what each sink keeps (documented per sink).
// - Threads: consume() runs concurrently for different blocks (OpenMP), in any order; every sink
//   here writes only its own rows there, or per-block partials reduced in block order in end(),
//   so its results are the same bits for any thread count. A CallbackSink's calls are serialised
//   by a mutex of its own (a process-wide OpenMP critical section blocked unrelated calls and
//   hung a callback that called attn).
// - The weights a sink sees are those the full matrix would hold, bit for bit (same arithmetic,
//   tested); fully masked rows are all zero.

namespace attn {

/// What a sink learns of a call before its blocks: the function, the shape of the whole weights
/// and the mask (valid until the call returns).
struct SinkCall {
  const char* function = "attn";  ///< the mechanism, e.g. "attn::scaled_dot_product", for messages
  Index rows = 0;                 ///< Tq
  Index cols = 0;                 ///< Tk
  const Mask* mask = nullptr;     ///< which keys each query may see
  Index block_rows = 256;         ///< most query rows of one block (fewer for long keys; the last block may be shorter)
  /// First query row that is padding, `rows` when none: a sequence layer's steps past its key
  /// length (attn::seq_self_attention with Mask::key_length(n): n), whose weights rows are all
  /// zero although the mask lets them see keys; reductions treat them as seeing no key.
  Index padded_from = std::numeric_limits<Index>::max();
  /// Whether query row `i` attends (is not padding). \param i a query row \return i < padded_from
  bool attends(Index i) const { return i < padded_from; }
};

/// A normalised block of weights handed to a sink: rows `[first_row, first_row + rows())` of the
/// Tq×Tk map, column-major with an outer stride; valid only during the sink's call.
template <typename Scalar>
using WeightBlock = Eigen::Map<const Matrix<Scalar>, 0, Eigen::OuterStride<>>;

/// Base of every weight sink. A call runs begin() once on the calling thread (it checks shapes and
/// sizes storage; may throw), consume() once per block of rows (any thread, concurrently for
/// different blocks, in any order), then end() on the calling thread. consume() may throw: the
/// call's other sinks still take that block, no block starts after it, the blocks running on other
/// threads finish, and the call rethrows the first exception on the calling thread without
/// end() (the output and every sink's results are then unspecified).
template <typename Scalar>
class WeightSink {
 public:
  /// A normalised block of weights (attn::WeightBlock).
  using Block = WeightBlock<Scalar>;
  virtual ~WeightSink() = default;
  /// Checks the sink fits the call (throws attn::invalid_argument naming `call.function`) and
  /// prepares its storage. \param call the call's function, shape and mask
  virtual void begin(const SinkCall& call) = 0;
  /// One block. \param first_row its first query row \param block its weights, rows × Tk
  virtual void consume(Index first_row, const Block& block) = 0;
  /// After the last block.
  virtual void end() {}
  /// The caller's full Tq×Tk storage when this sink is one (FullWeights): the engine then writes
  /// every block there in place. \param outer_stride set to its column stride \return null here
  virtual Scalar* storage(Index& outer_stride) {
    outer_stride = 0;
    return nullptr;
  }
};

/// The empty sink list: output only (PyTorch `need_weights=False`). Converts to any Sinks<Scalar>.
struct NoWeights {};
/// `attn::no_weights`: pass it where a call takes `weights` or `sinks`.
inline constexpr NoWeights no_weights{};

/// A list of up to 8 sinks (references, not copies) that one call feeds. Empty: output only.
template <typename Scalar>
class Sinks {
 public:
  /// Most sinks one call takes.
  static constexpr std::size_t capacity = 8;
  /// No sink: output only.
  Sinks() = default;
  /// No sink: output only.
  Sinks(NoWeights) {}  // NOLINT(google-explicit-constructor): attn::no_weights in place of a list
  /// The given sinks, fed in this order. Implicit, so that one sink passes as a list.
  /// \param sinks the sinks (each derived from WeightSink<Scalar>), held by reference
  template <typename... S,
            typename = std::enable_if_t<(sizeof...(S) > 0) && (std::is_base_of<WeightSink<Scalar>, S>::value && ...)>>
  Sinks(S&... sinks)  // NOLINT(google-explicit-constructor)
      : list_{{static_cast<WeightSink<Scalar>*>(&sinks)...}}, size_(sizeof...(S)) {
    static_assert(sizeof...(S) <= capacity, "attn::Sinks: at most 8 sinks per call");
  }

  /// The first `n` sinks of `list` (built at run time), fed in this order.
  /// \param list pointers to sinks, none null \param n how many, at most capacity
  /// \throws attn::invalid_argument when n > capacity
  Sinks(WeightSink<Scalar>* const* list, std::size_t n) : size_(n) {
    ATTN_CHECK(n <= capacity, "attn::Sinks: " + std::to_string(n) + " sinks; at most 8 per call");
    for (std::size_t i = 0; i < n; ++i) list_[i] = list[i];
  }

  /// Number of sinks. \return 0 for output only
  std::size_t size() const { return size_; }
  /// \return true when no sink is given
  bool empty() const { return size_ == 0; }
  /// \param i index below size() \return sink i
  WeightSink<Scalar>& operator[](std::size_t i) const { return *list_[i]; }

  /// begin() of every sink; throws when two sinks provide full storage or a sink is listed twice.
  /// \param call the call
  void begin(const SinkCall& call) const {
    Index stride = 0;
    int full = 0;
    for (std::size_t i = 0; i < size_; ++i) {
      for (std::size_t j = 0; j < i; ++j)
        ATTN_CHECK(list_[i] != list_[j], std::string(call.function) + ": sinks[" + std::to_string(i) +
                                             "] is sinks[" + std::to_string(j) + "] again");
      full += list_[i]->storage(stride) != nullptr ? 1 : 0;
    }
    ATTN_CHECK(full <= 1, std::string(call.function) + ": sinks hold " + std::to_string(full) +
                              " FullWeights; at most one full matrix per call");
    for (std::size_t i = 0; i < size_; ++i) list_[i]->begin(call);
  }
  /// The full storage among the sinks, if any. \param stride its outer stride \return null if none
  Scalar* storage(Index& stride) const {
    for (std::size_t i = 0; i < size_; ++i)
      if (Scalar* p = list_[i]->storage(stride)) return p;
    stride = 0;
    return nullptr;
  }
  /// consume() of every sink, each even when one before it threw (a sink that takes blocks in
  /// order, ColumnSums, would otherwise wait forever for this block's rows); then rethrows the
  /// first exception. \param first_row first query row \param block the block
  void consume(Index first_row, const WeightBlock<Scalar>& block) const {
    std::exception_ptr error;
    for (std::size_t i = 0; i < size_; ++i) {
      try {
        list_[i]->consume(first_row, block);
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
  }
  /// end() of every sink.
  void end() const {
    for (std::size_t i = 0; i < size_; ++i) list_[i]->end();
  }

 private:
  std::array<WeightSink<Scalar>*, capacity> list_{};
  std::size_t size_ = 0;
};

/// The full Tq×Tk weights in caller storage (what the `weights` argument of an `_into` form is).
/// Memory: none of its own; the engine computes each block in place there.
template <typename Scalar>
class FullWeights final : public WeightSink<Scalar> {
 public:
  /// \param weights Tq×Tk caller storage (a Matrix, a block, a Map), written by the call
  explicit FullWeights(Eigen::Ref<Matrix<Scalar>> weights) : weights_(weights) {}
  /// Checks the sink fits the call and prepares its storage (see WeightSink::begin). \param call the call
  void begin(const SinkCall& call) override {
    ATTN_CHECK(weights_.rows() == call.rows && weights_.cols() == call.cols,
               std::string(call.function) + ": FullWeights " + detail::shape(weights_.rows(), weights_.cols()) +
                   " must be " + detail::shape(call.rows, call.cols));
  }
  /// Nothing to do: the engine computes the blocks in place (see WeightSink::consume).
  void consume(Index, const WeightBlock<Scalar>&) override {}  // computed in place
  Scalar* storage(Index& outer_stride) override {
    outer_stride = weights_.outerStride();
    // A matrix without entries has no storage to offer (its data may be null): blocks go to scratch.
    return weights_.size() == 0 ? nullptr : weights_.data();
  }

 private:
  Eigen::Ref<Matrix<Scalar>> weights_;
};

/// Selected query rows of the weights, written to caller storage: row `t` of `out` is weights row
/// `rows[t]` (repeats allowed). Memory: none of its own.
template <typename Scalar>
class SelectedRows final : public WeightSink<Scalar> {
 public:
  /// \param rows the query rows to keep, each in [0, Tq) \param out rows.size()×Tk caller storage
  SelectedRows(std::vector<Index> rows, Eigen::Ref<Matrix<Scalar>> out) : rows_(std::move(rows)), out_(out) {}
  /// Checks the sink fits the call and prepares its storage (see WeightSink::begin). \param call the call
  void begin(const SinkCall& call) override {
    const Index m = static_cast<Index>(rows_.size());
    ATTN_CHECK(out_.rows() == m && out_.cols() == call.cols,
               std::string(call.function) + ": SelectedRows output " + detail::shape(out_.rows(), out_.cols()) +
                   " must be " + detail::shape(m, call.cols) + " (rows.size() x Tk)");
    for (std::size_t t = 0; t < rows_.size(); ++t)
      ATTN_CHECK(rows_[t] >= 0 && rows_[t] < call.rows,
                 std::string(call.function) + ": SelectedRows rows[" + std::to_string(t) + "] (" +
                     std::to_string(rows_[t]) + ") must be in [0, " + std::to_string(call.rows) + ")");
  }
  /// One block of the call (see WeightSink::consume). \param first_row its first query row \param block its weights
  void consume(Index first_row, const WeightBlock<Scalar>& block) override {
    for (std::size_t t = 0; t < rows_.size(); ++t) {
      const Index i = rows_[t] - first_row;
      if (i >= 0 && i < block.rows()) out_.row(static_cast<Index>(t)) = block.row(i);
    }
  }
  /// \return the selected rows, in the order given
  const std::vector<Index>& rows() const { return rows_; }

 private:
  std::vector<Index> rows_;
  Eigen::Ref<Matrix<Scalar>> out_;
};

namespace detail {
/// A mutex a sink holds while it serialises its blocks; a copy is a new, unlocked mutex (as a
/// copied sink is a new sink).
struct SinkLock {
  std::mutex mutex;
  SinkLock() = default;
  SinkLock(const SinkLock&) {}
  SinkLock& operator=(const SinkLock&) { return *this; }
};
}  // namespace detail

/// Calls `f(first_row, block)` for every block (rows `[first_row, first_row + block.rows())`,
/// `block` an attn::WeightBlock valid only during the call). Calls of one sink never overlap (a
/// mutex of its own serialises them when blocks run in parallel; other sinks and other calls run
/// beside them, and `f` may call attn again) but come in any order of blocks. `f` may throw: the
/// call rethrows it (see WeightSink). Memory: none.
template <typename Scalar, typename F>
class CallbackSink final : public WeightSink<Scalar> {
 public:
  /// \param f callable as f(Index first_row, const WeightBlock<Scalar>& block)
  explicit CallbackSink(F f) : f_(std::move(f)) {}
  void begin(const SinkCall&) override {}
  /// One block of the call (see WeightSink::consume). \param first_row its first query row \param block its weights
  void consume(Index first_row, const WeightBlock<Scalar>& block) override {
    const std::lock_guard<std::mutex> hold(lock_.mutex);
    f_(first_row, block);
  }

 private:
  F f_;
  detail::SinkLock lock_;
};

/// A CallbackSink for weights of type `Scalar` calling `f`.
/// \param f callable as f(Index first_row, const WeightBlock<Scalar>& block)
/// \return the sink (keep it alive during the call)
template <typename Scalar, typename F>
CallbackSink<Scalar, std::decay_t<F>> callback_sink(F&& f) {
  return CallbackSink<Scalar, std::decay_t<F>>(std::forward<F>(f));
}

/// Output (and the reports) of a call made with sinks instead of a weights matrix.
template <typename Scalar>
struct OutputResult {
  Matrix<Scalar> output;  ///< Tq×dv; zero rows where the query saw no key
  Matrix<Scalar> scores;  ///< Tq×Tk raw scores when Options::return_scores, else 0×0
  RowFlags fully_masked;  ///< Tq; true where the query saw no key
  /// Number of queries that saw no key. \return the number of true entries of fully_masked
  Index num_fully_masked() const { return fully_masked.count(); }
};

}  // namespace attn
