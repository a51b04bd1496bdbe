// SPDX-License-Identifier: MIT
// Argument checks shared by the mechanisms: shapes, equal sizes, the probability function and
// the scale. Each throws attn::invalid_argument with "function: argument ..." (STYLE.md).
#pragma once

#include "../config.hpp"
#include "../options.hpp"
#include "alibi.hpp"
#include "softcap.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

namespace attn {
namespace detail {

/// Throws unless `m` is `rows×cols`, naming the function and argument.
template <typename Derived>
void check_shape(const char* function, const char* argument, const Eigen::EigenBase<Derived>& m, Index rows,
                 Index cols) {
  ATTN_CHECK(m.rows() == rows && m.cols() == cols, std::string(function) + ": " + argument + " " +
                                                       shape(m.rows(), m.cols()) + " must be " +
                                                       shape(rows, cols));
}

/// Whether two column-major blocks of storage share an entry: `a` (rows×cols at outer stride
/// `stride`) and `b`. Blocks of one matrix are told apart exactly (two row or column ranges of
/// it do not share); blocks of different strides whose address ranges interleave count as
/// sharing. No allocation.
template <typename Scalar>
bool storage_overlaps(const Scalar* a, Index a_rows, Index a_cols, Index a_stride, const Scalar* b, Index b_rows,
                      Index b_cols, Index b_stride) {
  if (a_rows == 0 || a_cols == 0 || b_rows == 0 || b_cols == 0) return false;
  const auto at = [](const Scalar* p) { return reinterpret_cast<std::uintptr_t>(p); };
  const std::uintptr_t a_end = at(a + (a_cols - 1) * a_stride + a_rows);
  const std::uintptr_t b_end = at(b + (b_cols - 1) * b_stride + b_rows);
  if (a_end <= at(b) || b_end <= at(a)) return false;
  // One column has no stride of its own: it is contiguous, on the other block's grid.
  if (a_cols == 1) a_stride = b_cols == 1 ? std::max(a_rows, b_rows) : b_stride;
  if (b_cols == 1) b_stride = a_stride;
  if (a_stride != b_stride || a_stride < a_rows || b_stride < b_rows) return true;
  if (at(b) < at(a)) return storage_overlaps(b, b_rows, b_cols, b_stride, a, a_rows, a_cols, a_stride);
  // b starts `offset` entries after a: at row `row` of a's column `col`, on a's grid of columns.
  const auto offset = static_cast<Index>((at(b) - at(a)) / sizeof(Scalar));
  const Index col = offset / a_stride;
  const Index row = offset % a_stride;
  if (col >= a_cols) return false;
  // b's columns run down from `row` (into the next column of the grid past the stride).
  return row < a_rows || row + b_rows > a_stride;
}

/// Where an Eigen object's entries lie: `outer` runs of `inner` entries, the runs `stride`
/// entries apart (a column-major object's columns, a row-major object's rows), or, when its entries
/// are not contiguous within a run (`m.row(i)` of a column-major matrix), the address range from
/// its first entry to its last (`exact` false). `data` is null for an expression (no storage).
template <typename Scalar>
struct Storage {
  const Scalar* data = nullptr;
  Index inner = 0;
  Index outer = 0;
  Index stride = 0;
  bool exact = true;
};

/// The storage of `m` (see Storage). \param m a matrix, map, block, Ref or expression
/// \return its storage; null data when it has none
template <typename Derived>
Storage<typename Derived::Scalar> storage_of(const Eigen::DenseBase<Derived>& m) {
  Storage<typename Derived::Scalar> s;
  if constexpr ((Eigen::internal::traits<Derived>::Flags & Eigen::DirectAccessBit) != 0) {
    const Derived& d = m.derived();
    if (d.size() == 0) return s;
    s.data = d.data();
    s.inner = Derived::IsRowMajor ? d.cols() : d.rows();
    s.outer = Derived::IsRowMajor ? d.rows() : d.cols();
    s.stride = d.outerStride();
    if (d.innerStride() != 1) {  // the address range, as one run
      s.inner = (s.inner - 1) * d.innerStride() + (s.outer - 1) * d.outerStride() + 1;
      s.outer = 1;
      s.stride = s.inner;
      s.exact = false;
    }
  }
  return s;
}

/// Whether two storages share an entry (those that are not exact: whether their address ranges
/// meet). \return true when they do
template <typename Scalar>
bool shares_storage(const Storage<Scalar>& a, const Storage<Scalar>& b) {
  if (!a.data || !b.data) return false;
  if (!a.exact || !b.exact) {
    return storage_overlaps(a.data, (a.outer - 1) * a.stride + a.inner, 1, 1, b.data, (b.outer - 1) * b.stride + b.inner,
                            1, 1);
  }
  return storage_overlaps(a.data, a.inner, a.outer, a.stride, b.data, b.inner, b.outer, b.stride);
}

/// Whether two storages are the same entries in the same order (an output written over its
/// query, entry for entry). \return true when they are
template <typename Scalar>
bool same_storage(const Storage<Scalar>& a, const Storage<Scalar>& b) {
  return a.data && a.data == b.data && a.exact && b.exact && a.inner == b.inner && a.outer == b.outer &&
         (a.outer == 1 || a.stride == b.stride);
}

/// Throws attn::invalid_argument when `written` (an output of the call, named `what`) shares
/// storage with `other` (an input, or another output), which the call reads or writes while it
/// writes `written`.
template <typename Scalar>
void check_apart(const char* fn, const char* what, const Storage<Scalar>& written, const char* other,
                 const Storage<Scalar>& read) {
  ATTN_CHECK(!shares_storage(written, read), std::string(fn) + ": " + what + " shares storage with " + other +
                                                 " (the call reads its inputs while it writes its outputs): give " +
                                                 what + " storage of its own");
}

/// Throws unless `a == b`, with the message "function: what_a (a) must equal what_b (b)".
inline void check_equal(const char* function, const char* what_a, Index a, const char* what_b, Index b) {
  ATTN_CHECK(a == b, std::string(function) + ": " + what_a + " (" + std::to_string(a) + ") must equal " + what_b +
                         " (" + std::to_string(b) + ")");
}

/// What to add to a message about a row-vector parameter (a bias, `v`) found 1×1 where `wanted`
/// > 1 entries belong: Eigen assigns an n×1 `Matrix` (a column, such as a Keras `Dense(1)`
/// kernel or a 2-D `.npy` of shape (n, 1)) to a row vector by keeping its first value alone when
/// NDEBUG is defined (and aborts on an assertion without it), so the 1×1 row is most often that
/// column. Empty otherwise.
inline std::string column_hint(const std::string& name, Index cols, Index wanted) {
  if (cols != 1 || wanted <= 1) return "";
  return "; " + name + " is 1x1, most often an n×1 column assigned to the row vector, of which Eigen keeps the "
         "first value alone in a build with NDEBUG: assign column.transpose(), or read a 1-D .npy";
}

/// Throws unless `previous` (a monotonic step's previous alignment, one row per query) is one:
/// every entry in [0, 1.001] (no negative: TF's and attn's alignments are products of
/// non-negative factors) and every row summing to at most 1.001 (1e-3 to spare for rounding). Rows may sum to less, to 0 even: the mass a monotonic step lets run
/// past the last key is lost. A negative entry or a row of 2 would be carried, silently, into
/// every later step. Only the entries `visible(i, j)` says the call reads are checked: a hidden
/// key's entry is never read (NaN there is harmless, as everywhere in attn).
template <typename Derived, typename Visible>
void check_previous_alignment(const char* fn, const Eigen::MatrixBase<Derived>& previous, const Visible& visible) {
  const char* hint = ": previous is the last step's alignment, or memory.initial_alignment() (one-hot at key 0, "
                     "TF's initial_alignments) for the first step";
  for (Index i = 0; i < previous.rows(); ++i) {
    double sum = 0;
    for (Index j = 0; j < previous.cols(); ++j) {
      if (!visible(i, j)) continue;
      const auto a = static_cast<double>(previous(i, j));
      ATTN_CHECK(a >= 0 && a <= 1.001, std::string(fn) + ": previous(" + std::to_string(i) + ", " + std::to_string(j) +
                                           ") is " + number_text(a) + ", not a probability in [0, 1]" + hint);
      sum += a;
    }
    ATTN_CHECK(sum <= 1.001, std::string(fn) + ": previous row " + std::to_string(i) + " sums to " + number_text(sum) +
                                 ", more than 1" + hint);
  }
}

/// Throws attn::invalid_argument unless `probability` is one of the enumerators.
inline void check_probability(const char* fn, Probability probability) {
  ATTN_CHECK(probability == Probability::softmax || probability == Probability::sparsemax ||
                 probability == Probability::hardmax,
             std::string(fn) + ": options.probability (" + std::to_string(static_cast<int>(probability)) +
                 ") must be softmax, sparsemax or hardmax");
}

/// Throws attn::invalid_argument unless `scale` is unset or finite in `Scalar` (1e300 is not a
/// float), and unless it is 0 or stays nonzero in `Scalar` (1e-46 would silently become 0 in
/// float: every score 0, uniform weights).
template <typename Scalar>
void check_scale(const char* fn, const std::optional<double>& scale) {
  ATTN_CHECK(!scale || std::isfinite(*scale), std::string(fn) + ": options.scale must be finite");
  ATTN_CHECK(!scale || std::isfinite(static_cast<Scalar>(*scale)),
             std::string(fn) + ": options.scale (" + number_text(scale.value_or(0.0)) + ") overflows float");
  ATTN_CHECK(!scale || *scale == 0 || static_cast<Scalar>(*scale) != Scalar(0),
             std::string(fn) + ": options.scale (" + number_text(scale.value_or(0.0)) +
                 ") underflows float to 0 (every score would be 0); scale the inputs instead, or set 0 itself");
}

/// Throws attn::invalid_argument unless `options.query_offset` is 0: only a multi-head call with
/// rotary or ALiBi positions its queries (check_query_offset in multi_head.hpp).
inline void check_no_query_offset(const char* fn, const Options& options) {
  ATTN_CHECK(options.query_offset == 0,
             std::string(fn) + ": options.query_offset (" + std::to_string(options.query_offset) +
                 ") positions a multi_head call's queries for params.rotary and params.alibi, and nothing else (a "
                 "single-head call's ALiBi takes Alibi::offset, a mask Mask::causal(offset), a KVCache keeps its "
                 "own positions)");
}

/// The factor on every score: `options.scale` when set (checked), else `fallback` (1/sqrt(dk)
/// for scaled dot-product and multi-head, 1 for every other mechanism). Checks options.softcap,
/// options.alibi and options.query_offset (0) too.
template <typename Scalar>
Scalar score_scale(const char* fn, const Options& options, Scalar fallback) {
  check_scale<Scalar>(fn, options.scale);
  check_softcap<Scalar>(fn, options.softcap);
  check_alibi(fn, options.alibi);
  check_no_query_offset(fn, options);
  return options.scale ? static_cast<Scalar>(*options.scale) : fallback;
}

/// A vector argument of a parameter factory (a bias, `v`) as one row: `m` empty, or a vector in
/// either orientation (1×n, as a `.npy` of shape (n,) reads; or n×1, as an Eigen::VectorXf
/// converts), as the row-vector parameter it replaces took both. A matrix throws here, naming
/// the argument: Eigen's own conversion of it to a row vector would abort the program (an
/// assertion), and a kernel passed here is most often an argument out of order, which `order`
/// then spells out (e.g. "the arguments follow get_weights(): Wt, Wx, bh, Wa, ba").
template <typename Scalar>
RowVector<Scalar> factory_vector(const char* function, const char* argument, const Matrix<Scalar>& m,
                                 const char* order) {
  ATTN_CHECK(m.size() == 0 || m.rows() == 1 || m.cols() == 1,
             std::string(function) + ": " + argument + " " + shape(m.rows(), m.cols()) +
                 " must be a vector (1xn or nx1) or empty; " + order);
  return Eigen::Map<const RowVector<Scalar>>(m.data(), m.size());
}

/// A scalar argument of a parameter factory (a 1×1 bias) as a 1×1 row, or empty; anything with
/// more entries throws, naming it and the argument order.
template <typename Scalar>
RowVector<Scalar> factory_scalar(const char* function, const char* argument, const Matrix<Scalar>& m,
                                 const char* order) {
  ATTN_CHECK(m.size() <= 1, std::string(function) + ": " + argument + " " + shape(m.rows(), m.cols()) +
                                " must be 1x1 or empty; " + order);
  return Eigen::Map<const RowVector<Scalar>>(m.data(), m.size());
}

}  // namespace detail
}  // namespace attn
