// SPDX-License-Identifier: MIT
// Per-head attention weights h×Tq×Tk in one contiguous block (attn::HeadWeights) and their
// entry-wise reductions over heads: mean (torch's average_attn_weights=True), sum, max, min.
#pragma once

#include "config.hpp"
#include "detail/checks.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace attn {

template <typename Scalar>
class HeadWeights;

namespace detail {

/// The kernels' unchecked access to one head of a HeadWeights (not part of the API).
struct HeadWeightsAccess {
  template <typename Scalar>
  static Eigen::Map<Matrix<Scalar>> head(HeadWeights<Scalar>& w, Index i) {
    return w.unchecked_head(i);
  }
};

}  // namespace detail

/// How HeadWeights::reduce combines heads, entry by entry.
enum class HeadReduction { mean, sum, max, min };

/// Per-head weights `h×Tq×Tk` in one contiguous block: head `i` is the column-major `Tq×Tk`
/// matrix at `data() + i·Tq·Tk`. Storage only grows, so reusing an object for calls of equal
/// or smaller shapes allocates nothing.
template <typename Scalar>
class HeadWeights {
 public:
  HeadWeights() = default;
  /// A block shaped as resize() does.
  /// \param heads h, >= 0
  /// \param rows Tq, >= 0
  /// \param cols Tk, >= 0
  /// \throws attn::invalid_argument when a size is negative
  HeadWeights(Index heads, Index rows, Index cols) { resize(heads, rows, cols); }

  /// Shapes the block as `heads×rows×cols` (contents unspecified); grows storage if needed.
  /// \param heads h, >= 0
  /// \param rows Tq, >= 0
  /// \param cols Tk, >= 0
  /// \throws attn::invalid_argument when a size is negative
  void resize(Index heads, Index rows, Index cols) {
    ATTN_CHECK(heads >= 0 && rows >= 0 && cols >= 0,
               "attn::HeadWeights::resize: heads (" + std::to_string(heads) + "), rows (" + std::to_string(rows) +
                   ") and cols (" + std::to_string(cols) + ") must be >= 0");
    const Index n = detail::checked_product("attn::HeadWeights::resize", "heads·rows·cols", {heads, rows, cols});
    if (n > storage_.size()) storage_.resize(n);
    heads_ = heads;
    rows_ = rows;
    cols_ = cols;
  }

  /// Number of heads. \return h
  Index heads() const { return heads_; }
  /// Rows of each head. \return Tq
  Index rows() const { return rows_; }  ///< Tq
  /// Columns of each head. \return Tk
  Index cols() const { return cols_; }  ///< Tk
  /// Entries in use. \return `heads()·rows()·cols()`
  Index size() const { return heads_ * rows_ * cols_; }
  /// The storage. \return the first entry; head `i` starts at `data() + i·rows()·cols()`
  const Scalar* data() const { return storage_.data(); }
  /// The storage, writable. \return the first entry
  Scalar* data() { return storage_.data(); }

  /// Head `i` as a `Tq×Tk` matrix, without a copy. Throws unless `0 <= i < heads()`.
  /// \param i head index
  /// \return a read-only map into this block
  /// \throws attn::invalid_argument when `i` is out of range
  Eigen::Map<const Matrix<Scalar>> head(Index i) const {
    check_head("attn::HeadWeights::head", i);
    return {data() + i * rows_ * cols_, rows_, cols_};
  }
  /// Head `i` as a writable `Tq×Tk` map into this block.
  /// \param i head index, `0 <= i < heads()`
  /// \return a writable map
  /// \throws attn::invalid_argument when `i` is out of range
  Eigen::Map<Matrix<Scalar>> head(Index i) {
    check_head("attn::HeadWeights::head", i);
    return {data() + i * rows_ * cols_, rows_, cols_};
  }

  /// Every head as one `(Tq·Tk)×h` matrix (column `i` is head `i`, flattened column-major),
  /// for reductions of your own: `flat().rowwise().maxCoeff()`.
  /// \return a read-only `(Tq·Tk)×h` map into this block
  Eigen::Map<const Matrix<Scalar>> flat() const { return {data(), rows_ * cols_, heads_}; }

  /// Entry-wise reduction over all heads into `out` (`Tq×Tk`); allocates nothing.
  /// \param how mean, sum, max or min
  /// \param out Tq×Tk, written
  /// \throws attn::invalid_argument when there are no heads or `out` has another shape
  void reduce_into(HeadReduction how, Eigen::Ref<Matrix<Scalar>> out) const {
    const char* fn = name(how);
    ATTN_CHECK(heads_ > 0, std::string(fn) + ": there are no heads to reduce");
    detail::check_shape(fn, "out", out, rows_, cols_);
    for (Index i = 0; i < heads_; ++i) accumulate(how, i == 0, i, out);
    if (how == HeadReduction::mean) out /= static_cast<Scalar>(heads_);
  }

  /// Entry-wise reduction over the heads listed in `heads` (repeats count repeatedly).
  /// \param how mean, sum, max or min
  /// \param heads head indices, non-empty, each in `[0, heads())`
  /// \param out Tq×Tk, written
  /// \throws attn::invalid_argument when `heads` is empty, an index is out of range or `out`
  ///         has another shape
  void reduce_into(HeadReduction how, const std::vector<Index>& heads, Eigen::Ref<Matrix<Scalar>> out) const {
    const char* fn = name(how);
    ATTN_CHECK(!heads.empty(), std::string(fn) + ": the list of heads is empty");
    for (Index i : heads) check_head(fn, i);
    detail::check_shape(fn, "out", out, rows_, cols_);
    for (std::size_t n = 0; n < heads.size(); ++n) accumulate(how, n == 0, heads[n], out);
    if (how == HeadReduction::mean) out /= static_cast<Scalar>(heads.size());
  }

  /// Value form of reduce_into over all heads. \param how the reduction \return Tq×Tk
  /// \throws attn::invalid_argument when there are no heads
  Matrix<Scalar> reduce(HeadReduction how) const {
    Matrix<Scalar> out(rows_, cols_);
    reduce_into(how, out);
    return out;
  }
  /// Value form of reduce_into over the heads listed. \param how the reduction
  /// \param heads head indices, non-empty, each in `[0, heads())` \return Tq×Tk
  /// \throws attn::invalid_argument when `heads` is empty or an index is out of range
  Matrix<Scalar> reduce(HeadReduction how, const std::vector<Index>& heads) const {
    Matrix<Scalar> out(rows_, cols_);
    reduce_into(how, heads, out);
    return out;
  }

  /// Mean over heads (torch `average_attn_weights=True`); rows still sum to 1.
  /// \return Tq×Tk \throws attn::invalid_argument when there are no heads
  Matrix<Scalar> mean() const { return reduce(HeadReduction::mean); }
  /// Mean over the heads listed. \param heads head indices (repeats count) \return Tq×Tk
  /// \throws attn::invalid_argument when `heads` is empty or an index is out of range
  Matrix<Scalar> mean(const std::vector<Index>& heads) const { return reduce(HeadReduction::mean, heads); }
  /// Sum over heads. \return Tq×Tk \throws attn::invalid_argument when there are no heads
  Matrix<Scalar> sum() const { return reduce(HeadReduction::sum); }
  /// Sum over the heads listed. \param heads head indices (repeats count) \return Tq×Tk
  /// \throws attn::invalid_argument when `heads` is empty or an index is out of range
  Matrix<Scalar> sum(const std::vector<Index>& heads) const { return reduce(HeadReduction::sum, heads); }
  /// Entry-wise maximum over heads. \return Tq×Tk \throws attn::invalid_argument when there are no heads
  Matrix<Scalar> max() const { return reduce(HeadReduction::max); }
  /// Entry-wise maximum over the heads listed. \param heads head indices \return Tq×Tk
  /// \throws attn::invalid_argument when `heads` is empty or an index is out of range
  Matrix<Scalar> max(const std::vector<Index>& heads) const { return reduce(HeadReduction::max, heads); }
  /// Entry-wise minimum over heads. \return Tq×Tk \throws attn::invalid_argument when there are no heads
  Matrix<Scalar> min() const { return reduce(HeadReduction::min); }
  /// Entry-wise minimum over the heads listed. \param heads head indices \return Tq×Tk
  /// \throws attn::invalid_argument when `heads` is empty or an index is out of range
  Matrix<Scalar> min(const std::vector<Index>& heads) const { return reduce(HeadReduction::min, heads); }

 private:
  friend struct detail::HeadWeightsAccess;

  // Head `i` without the range check (the kernels' own use, through detail::HeadWeightsAccess).
  Eigen::Map<Matrix<Scalar>> unchecked_head(Index i) { return {data() + i * rows_ * cols_, rows_, cols_}; }

  static const char* name(HeadReduction how) {
    switch (how) {
      case HeadReduction::sum: return "attn::HeadWeights::sum";
      case HeadReduction::max: return "attn::HeadWeights::max";
      case HeadReduction::min: return "attn::HeadWeights::min";
      case HeadReduction::mean: break;
    }
    return "attn::HeadWeights::mean";
  }

  void check_head(const char* fn, Index i) const {
    ATTN_CHECK(i >= 0 && i < heads_, std::string(fn) + ": head (" + std::to_string(i) + ") must be in [0, " +
                                         std::to_string(heads_) + ")");
  }

  void accumulate(HeadReduction how, bool first, Index i, Eigen::Ref<Matrix<Scalar>>& out) const {
    const Eigen::Map<const Matrix<Scalar>> h(data() + i * rows_ * cols_, rows_, cols_);
    if (first) {
      out = h;
      return;
    }
    switch (how) {
      case HeadReduction::mean:
      case HeadReduction::sum: out += h; break;
      case HeadReduction::max: out = out.cwiseMax(h); break;
      case HeadReduction::min: out = out.cwiseMin(h); break;
    }
  }

  Vector<Scalar> storage_;
  Index heads_ = 0;
  Index rows_ = 0;
  Index cols_ = 0;
};

}  // namespace attn
