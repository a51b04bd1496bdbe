// SPDX-License-Identifier: MIT
// A memory prepared once per source sequence for decoding: attn::Memory holds the keys projected
// by the mechanism's key-side parameters and the values, both stored transposed (·×Tk, dv×Tk: a
// step reads every key and value as one contiguous column), and the padding length;
// attn::prepare_memory builds it for scaled dot-product, Luong and Bahdanau scores.
#pragma once

#include "additive.hpp"
#include "config.hpp"
#include "detail/scorers.hpp"
#include "detail/attend.hpp"
#include "detail/memory_step.hpp"
#include "luong.hpp"
#include "mask.hpp"
#include "monotonic_attention.hpp"
#include "softmax.hpp"
#include "workspace.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace attn {

/// Parameters of scaled dot-product attention for a prepared memory: `e = scale·q·Kᵀ`,
/// unset scale = `1/sqrt(dk)` (as attn::scaled_dot_product).
struct ScaledDotProductParams {
  /// Factor on `q·Kᵀ`; unset: `1/sqrt(dk)`. Must be finite.
  std::optional<double> scale;
};

/// Score function of a Memory.
// GCC 12's -Wshadow takes these scoped enumerators for redeclarations of attn::luong and
// attn::bahdanau (the callable objects) when both are visible; they are not.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#endif
enum class MemoryScore { scaled_dot_product, luong, bahdanau };
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif


template <typename Scalar>
class Memory;

namespace detail {

/// How prepare_memory builds a Memory from its parts (not part of the API).
struct MemoryAccess {
  /// Empty parts to fill.
  template <typename Scalar>
  static typename Memory<Scalar>::Parts parts() { return {}; }
  /// The memory made of `parts`.
  template <typename Scalar>
  static Memory<Scalar> make(typename Memory<Scalar>::Parts parts) { return Memory<Scalar>(std::move(parts)); }
  /// The stored values, transposed: dv×Tk.
  template <typename Scalar>
  static const Matrix<Scalar>& values_t(const Memory<Scalar>& m) { return m.values_t_; }
};

}  // namespace detail

/// A memory prepared once per source sequence (TF `_BaseAttentionMechanism` after
/// `_setup_memory`): the keys projected by the mechanism's key-side parameters, the values
/// (Tk×dv) and the padding length `n` (keys `j >= n` are never attended). Build it with
/// attn::prepare_memory; choose the probability function with with_probability (softmax by
/// default, sparsemax, hardmax) or make it monotonic with with_monotonic.
///
/// Prepared keys per score function (what the mechanism's scorer prepares, detail/scorers.hpp):
/// - scaled dot-product: `scale·K` (Tk×dk); Luong dot: `g·K`; Luong general: `g·K·Wᵀ` (Tk×dq);
/// - Luong concat: `K·W[dq:]` (Tk×units); Bahdanau: `K·Wk (+ b when normalized)` (Tk×units).
///
/// The keys and values are stored transposed (·×Tk and dv×Tk), so that a decoder step reads each
/// key and each value row as one contiguous column; keys() and values() view them as Tk×·.
template <typename Scalar>
class Memory {
 public:
  Memory() = default;

  /// The score function the memory was prepared for. \return scaled_dot_product, luong or bahdanau
  MemoryScore score() const { return score_; }
  /// Tk: number of keys, padding included (the width of every alignment row).
  /// \return Tk
  Index max_time() const { return keys_t_.cols(); }
  /// n <= Tk: the keys a query may see.
  /// \return n, in `[0, Tk]`
  Index length() const { return length_; }
  /// dq: the width of a query row.
  /// \return dq
  Index query_size() const { return query_size_; }
  /// dv: the width of a context row.
  /// \return dv
  Index value_size() const { return values_t_.rows(); }
  /// The prepared keys (see the class comment), a view of the transposed storage.
  /// \return Tk×(dk, dq or units), padding rows included (an Eigen expression; `.eval()` copies)
  Eigen::Transpose<const Matrix<Scalar>> keys() const { return keys_t_.transpose(); }
  /// The values, Tk×dv, a view of the transposed storage.
  /// \return the values as prepared, padding rows included (an Eigen expression; `.eval()` copies)
  Eigen::Transpose<const Matrix<Scalar>> values() const { return values_t_.transpose(); }
  /// Whether the visible value rows are all finite (checked once, when prepared).
  /// \return true when rows `[0, n)` of the values hold no NaN or inf
  bool values_finite() const { return values_finite_; }
  /// The padding mask `Mask::key_length(length())`.
  /// \return the mask every step applies
  const Mask& mask() const { return mask_; }

  /// Whether the memory runs monotonic attention (set by with_monotonic).
  /// \return true after with_monotonic, until with_probability
  bool is_monotonic() const { return monotonic_.has_value(); }
  /// The probability function of a non-monotonic memory.
  /// \return softmax unless with_probability chose another (ignored while monotonic)
  Probability probability() const { return probability_; }
  /// The monotonic parameters; throws unless is_monotonic().
  /// \return the parameters given to with_monotonic
  /// \throws attn::invalid_argument when the memory is not monotonic
  const MonotonicParams<Scalar>& monotonic() const {
    ATTN_CHECK(monotonic_.has_value(), "attn::Memory::monotonic: the memory is not monotonic");
    return *monotonic_;
  }

  /// Softmax (default), sparsemax or hardmax over the visible keys; clears monotonic mode.
  /// \param probability the probability function of later steps
  /// \return `*this`
  Memory& with_probability(Probability probability) & {
    probability_ = probability;
    monotonic_.reset();
    return *this;
  }
  /// with_probability on a temporary, for `prepare_memory(...).with_probability(...)`.
  /// \param probability the probability function of later steps
  /// \return the memory, moved
  Memory with_probability(Probability probability) && { return std::move(with_probability(probability)); }

  /// Logit soft-capping of later steps (Options::softcap: Gemma 2's `attn_logit_softcapping`):
  /// each energy e becomes `softcap·tanh(e / softcap)` before the probability function, and
  /// Workspace::scores() holds the capped energies. std::nullopt (the default) caps nothing.
  /// \param softcap the cap, positive and finite, or std::nullopt
  /// \return `*this`
  /// \throws attn::invalid_argument when `softcap` is not positive and finite (or out of the
  ///         scalar type's range), or the memory is monotonic
  Memory& with_softcap(std::optional<double> softcap) & {
    detail::check_softcap<Scalar>("attn::Memory::with_softcap", softcap, "softcap");
    ATTN_CHECK(!softcap || !is_monotonic(), "attn::Memory::with_softcap: a monotonic memory takes no softcap (its "
                                            "energies go through a sigmoid); call with_probability first");
    softcap_ = softcap;
    return *this;
  }
  /// with_softcap on a temporary, for `prepare_memory(...).with_softcap(...)`.
  /// \param softcap the cap, positive and finite, or std::nullopt
  /// \return the memory, moved
  /// \throws attn::invalid_argument as the other overload does
  Memory with_softcap(std::optional<double> softcap) && { return std::move(with_softcap(softcap)); }
  /// The logit soft-capping of the memory's steps (with_softcap).
  /// \return the cap, or std::nullopt (none, the default)
  std::optional<double> softcap() const { return softcap_; }

  /// Monotonic attention (TF Bahdanau/LuongMonotonicAttention) on this memory's energies.
  /// \param params mode, score bias and pre-sigmoid noise (default: parallel, 0, 0); noise > 0
  ///        needs a noise source at every step
  /// \return `*this`
  /// \throws attn::invalid_argument for an unknown mode, a non-finite score bias, or a negative
  ///         or non-finite sigmoid_noise
  Memory& with_monotonic(const MonotonicParams<Scalar>& params = {}) & {
    detail::check_monotonic_params("attn::Memory::with_monotonic", params, true);
    ATTN_CHECK(!softcap_, "attn::Memory::with_monotonic: the memory has a softcap (" + detail::number_text(softcap_.value_or(0.0)) +
                              "), which monotonic attention does not take (its energies go through a sigmoid); "
                              "call with_softcap(std::nullopt) first");
    monotonic_ = params;
    return *this;
  }
  /// with_monotonic on a temporary, for `prepare_memory(...).with_monotonic(...)`.
  /// \param params mode, score bias and pre-sigmoid noise
  /// \return the memory, moved
  /// \throws attn::invalid_argument as the other overload does
  Memory with_monotonic(const MonotonicParams<Scalar>& params = {}) && {
    return std::move(with_monotonic(params));
  }

  /// The alignment before the first step (TF `initial_alignments`), `rows×Tk`: zeros, or one-hot
  /// at key 0 for a monotonic memory.
  /// \param rows number of query rows B (default 1), >= 0
  /// \return rows×Tk
  /// \throws attn::invalid_argument when `rows < 0`
  Matrix<Scalar> initial_alignment(Index rows = 1) const {
    ATTN_CHECK(rows >= 0, "attn::Memory::initial_alignment: rows (" + std::to_string(rows) + ") must be >= 0");
    if (is_monotonic()) return monotonic_initial_alignment<Scalar>(rows, max_time());
    return Matrix<Scalar>::Zero(rows, max_time());
  }

  /// Writes the initial alignment into `alignment` (rows×Tk). Allocates nothing.
  /// \param alignment B×Tk, written
  /// \throws attn::invalid_argument when `alignment` does not have Tk columns
  void initial_alignment_into(Eigen::Ref<Matrix<Scalar>> alignment) const {
    detail::check_shape("attn::Memory::initial_alignment", "alignment", alignment, alignment.rows(), max_time());
    alignment.setZero();
    if (is_monotonic() && max_time() > 0) alignment.col(0).setOnes();
  }


  /// Energies of the query rows `q` (B×dq) into `scores` (B×Tk): -inf on padding.
  /// Shapes are not checked here (attend_into checks them). Allocates nothing once `ws` has seen
  /// these shapes.
  /// \param q query rows, B×dq
  /// \param scores B×Tk, written
  /// \param ws scratch
  template <typename DerivedQ>
  void scores_into(const Eigen::MatrixBase<DerivedQ>& q, Eigen::Ref<Matrix<Scalar>> scores, Workspace<Scalar>& ws) const {
    const Index n = length_;
    const Index b = q.rows();
    const Index width = keys_t_.rows();
    scores.rightCols(max_time() - n).setConstant(-std::numeric_limits<Scalar>::infinity());
    if (n == 0 || b == 0) return;
    if (width == 0) {  // no units or no key width: every score is the empty sum
      scores.leftCols(n).setZero();
      return;
    }
    // Each score one sum over a contiguous key column (detail/memory_step.hpp), as the full
    // call's one-row blocks and additive scores compute it; beams' dot scores as one GEMM, as
    // the full call's blocks of several rows.
    auto row = detail::buffers(ws).hidden.matrix(std::max(width, query_size_), 1);
    auto column = detail::buffers(ws).column.matrix(n, 1);
    if (additive_) {
      auto pq = detail::buffers(ws).queries.matrix(b, width);
      auto sums = detail::buffers(ws).sums.matrix(detail::additive_step_sums<Scalar>(n), 1);
      if (b == 1) {  // the projection fused into the scores, as the full call's one-row scores
        const Scalar* x = detail::contiguous_row(q, row);
        detail::write_row<Scalar>(scores.leftCols(n), column, [&](Scalar* e) {
          detail::additive_step_scores(x, query_size_, wq_.data(), wq_.rows(), keys_t_.data(), width, n, v_.data(),
                                       pq.data(), sums.data(), e);
        });
        return;
      }
      pq.noalias() = q * wq_;
      detail::additive_score_rows<Scalar>(pq, keys_t_.data(), width, n, v_.data(), scores.leftCols(n), row, column);
    } else if (b == 1) {
      detail::dot_score_row<Scalar>(q, keys_t_.data(), width, n, scores.leftCols(n), row, column);
    } else {
      detail::product(q, keys_t_.leftCols(n), scores.leftCols(n));
      // The full call scores a last block of one row (B = 257 against blocks of 256) with the
      // one-row kernel, not the GEMM: so does this step, so that its rows keep the full call's bits.
      if (b % detail::block_rows_for<Scalar>(max_time()) == 1)
        detail::dot_score_row<Scalar>(q.row(b - 1), keys_t_.data(), width, n,
                                      scores.middleRows(b - 1, 1).leftCols(n), row, column);
    }
  }

 private:
  friend struct detail::MemoryAccess;

  // What prepare_memory computes (through detail::MemoryAccess); not part of the API.
  struct Parts {
    MemoryScore score;
    Matrix<Scalar> keys;     // width×Tk: the prepared keys, transposed
    Matrix<Scalar> values;   // dv×Tk: the values, transposed
    Index length;
    Index query_size;
    bool additive;           // an AdditiveScorer's scores (wq, v) instead of a DotScorer's q·keysᵀ
    Matrix<Scalar> wq;       // additive only: dq×units
    RowVector<Scalar> v;     // additive only: the effective v (g·v/‖v‖ when normalized, g·v for concat)
  };
  explicit Memory(Parts parts)
      : score_(parts.score),
        keys_t_(std::move(parts.keys)),
        values_t_(std::move(parts.values)),
        length_(parts.length),
        query_size_(parts.query_size),
        mask_(Mask::key_length(parts.length)),
        additive_(parts.additive),
        wq_(std::move(parts.wq)),
        v_(std::move(parts.v)),
        values_finite_(detail::all_finite(values_t_.leftCols(length_))) {}

  MemoryScore score_ = MemoryScore::scaled_dot_product;
  Matrix<Scalar> keys_t_;    // width×Tk
  Matrix<Scalar> values_t_;  // dv×Tk
  Index length_ = 0;
  Index query_size_ = 0;
  Mask mask_ = Mask::key_length(0);
  bool additive_ = false;
  Matrix<Scalar> wq_;
  RowVector<Scalar> v_;
  bool values_finite_ = true;
  Probability probability_ = Probability::softmax;
  std::optional<double> softcap_;
  std::optional<MonotonicParams<Scalar>> monotonic_;
};

namespace detail {

inline Index memory_length(const char* fn, std::optional<Index> length, Index tk) {
  if (!length) return tk;
  ATTN_CHECK(*length >= 0, std::string(fn) + ": length (" + std::to_string(*length) + ") must be >= 0");
  ATTN_CHECK(*length <= tk, std::string(fn) + ": length (" + std::to_string(*length) + ") exceeds the number of keys (" +
                                std::to_string(tk) + ")");
  return *length;
}

template <typename DerivedK, typename DerivedV>
void check_memory(const char* fn, const Eigen::MatrixBase<DerivedK>& k, const Eigen::MatrixBase<DerivedV>& v) {
  static_assert(check_scalars<DerivedK, DerivedV>());
  check_equal(fn, "v.rows()", v.rows(), "k.rows()", k.rows());
}

/// The memory of `scorer`: its keys prepared from `k`, the values `v`, and what its scores need
/// of the query side (an AdditiveScorer's wq and effective v; a DotScorer's keys carry its scale).
template <typename Scorer, typename DerivedK, typename DerivedV>
Memory<typename DerivedK::Scalar> memory_of(const char* fn, const Scorer& scorer, const Eigen::MatrixBase<DerivedK>& k,
                                            const Eigen::MatrixBase<DerivedV>& v, std::optional<Index> length,
                                            MemoryScore score) {
  using Scalar = typename DerivedK::Scalar;
  const SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  scorer.check(fn, k.cols());
  auto parts = MemoryAccess::parts<Scalar>();
  parts.score = score;
  Matrix<Scalar> keys(k.rows(), scorer.prepared_size(k.cols()));
  scorer.prepare(k, keys);
  parts.keys.resize(keys.cols(), keys.rows());
  detail::transpose_into(keys, parts.keys);
  parts.values.resize(v.cols(), v.rows());
  detail::transpose_into(v, parts.values);
  parts.length = memory_length(fn, length, k.rows());
  parts.query_size = scorer.query_size(k.cols());
  parts.additive = Scorer::additive;
  if constexpr (Scorer::additive) {
    parts.wq = scorer.wq;
    parts.v = scorer.v;
  }
  return MemoryAccess::make<Scalar>(std::move(parts));
}

/// The MemoryScore of a mechanism's parameters.
template <typename Scalar>
constexpr MemoryScore memory_score(const BahdanauParams<Scalar>&) {
  return MemoryScore::bahdanau;
}
template <typename Scalar>
constexpr MemoryScore memory_score(const LuongParams<Scalar>&) {
  return MemoryScore::luong;
}

/// The memory of the mechanism of `params` (see detail::ScorerOf): its keys prepared once.
template <typename Params, typename DerivedK, typename DerivedV>
Memory<typename DerivedK::Scalar> memory_with(const char* fn, const Params& params, const Eigen::MatrixBase<DerivedK>& k,
                                              const Eigen::MatrixBase<DerivedV>& v, std::optional<Index> length,
                                              MemoryScore score) {
  using Scalar = typename DerivedK::Scalar;
  check_memory(fn, k, v);
  const Index dk = k.cols();
  Workspace<Scalar> ws;
  Memory<Scalar> memory;
  ScorerOf<Params>::with(fn, params, ScorerOf<Params>::query_size(fn, params, dk), dk, Scalar(1), ws,
                         [&](const auto& scorer) {
                           memory = memory_of(fn, scorer, k, v, length, score);
                           return Index(0);
                         });
  return memory;
}

}  // namespace detail

/// Prepares a memory for the mechanism of `params`: Bahdanau keys `K·Wk (+ b)`; Luong keys
/// `g·K` (dot), `g·K·Wᵀ` (general) or `K·W[dq:]` (concat), once. For Luong dot the query width is
/// dk; for general W is dq×dk; for concat W is (dq+dk)×units, and dq is taken as `W.rows() - dk`.
/// K Tk×dk, V Tk×dv; `length` (default Tk) keys are visible.
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params attn::BahdanauParams (wk dk×units) or attn::LuongParams (`g` multiplies the scores)
/// \param length visible keys n, in `[0, Tk]`; unset: Tk
/// \return the prepared memory (it copies the keys or their projection, and the values)
/// \throws attn::invalid_argument when `v.rows() != Tk`, a parameter does not fit, or `length` is
///         out of range
template <typename DerivedK, typename DerivedV, typename Params, typename = typename detail::ScorerOf<Params>::Keys>
Memory<typename DerivedK::Scalar> prepare_memory(const Eigen::MatrixBase<DerivedK>& k,
                                                 const Eigen::MatrixBase<DerivedV>& v, const Params& params,
                                                 std::optional<Index> length = std::nullopt) {
  static_assert(std::is_same<typename detail::ScorerOf<Params>::Scalar, typename DerivedK::Scalar>::value,
                "attn::prepare_memory: params and k must share one scalar type; use .cast<T>()");
  return detail::memory_with("attn::prepare_memory", params, k, v, length, detail::memory_score(params));
}

/// Prepares a memory for scaled dot-product attention: keys `scale·K` (Tk×dk), `e = q·(scale·K)ᵀ`.
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params the scale (unset: `1/sqrt(dk)`)
/// \param length visible keys n, in `[0, Tk]`; unset: Tk
/// \return the prepared memory (it copies the keys and values)
/// \throws attn::invalid_argument when `v.rows() != Tk`, the scale is not finite, or `length`
///         is out of range
template <typename DerivedK, typename DerivedV>
Memory<typename DerivedK::Scalar> prepare_memory(const Eigen::MatrixBase<DerivedK>& k,
                                                 const Eigen::MatrixBase<DerivedV>& v,
                                                 const ScaledDotProductParams& params,
                                                 std::optional<Index> length = std::nullopt) {
  using Scalar = typename DerivedK::Scalar;
  constexpr const char* fn = "attn::prepare_memory";
  detail::check_memory(fn, k, v);
  ATTN_CHECK(!params.scale || std::isfinite(*params.scale), std::string(fn) + ": params.scale must be finite");
  detail::DotScorer<Scalar> scorer;
  scorer.scale = params.scale ? static_cast<Scalar>(*params.scale)
                              : Scalar(1) / std::sqrt(static_cast<Scalar>(k.cols() > 0 ? k.cols() : 1));
  return detail::memory_of(fn, scorer, k, v, length, MemoryScore::scaled_dot_product);
}

}  // namespace attn
