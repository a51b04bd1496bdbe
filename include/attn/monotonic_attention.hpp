// SPDX-License-Identifier: MIT
// The monotonic normaliser (Raffel et al. 2017; TF monotonic_attention): choosing probabilities
// p = sigmoid(e + r [+ noise]) and the previous alignment give the next one (recursive, parallel,
// hard), with its statistics. Rows are independent queries: p, previous and the alignment are Tq×Tk.
#pragma once

#include "config.hpp"
#include "detail/attend.hpp"
#include "detail/checks.hpp"
#include "mask.hpp"
#include "workspace.hpp"

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <utility>

namespace attn {

/// How the monotonic alignment is computed from the choosing probabilities `p`
/// (TF `mode`). With `c_i = prod_{k<i} (1 - p_k)` and the previous alignment ``a'``:
/// - `recursive` (exact): ``q_0 = a'_0``, ``q_i = (1 - p_{i-1})·q_{i-1} + a'_i``, `a_i = p_i·q_i`;
/// - `parallel` (TF's closed form): `c_i` in log space (`safe_cumprod`: `exp(Σ log clip(1-p_k, tiny, 1))`),
///   ``a_i = p_i·c_i·Σ_{j<=i} a'_j / clip(c_j, 1e-10, 1)``;
/// - `hard`: `p` must hold 0/1; ``p̃ = p ⊙ cumsum(a')``, `a = p̃ ⊙ exclusive_cumprod(1 - p̃)`.
///
/// Where `parallel` differs from `recursive`: only through TF's two clips. For every `j` with
/// ``a'_j != 0`` and `c_j >= 1e-10` (and every `p_k < 1`), both compute the same alignment up to
/// rounding (tested: 1e-9 in double, 1e-4 in float, p in [1e-6, 1 - 1e-6], Tk up to 4096). Once
/// the running product `c_j` of a key that still holds previous mass falls below 1e-10, `parallel`
/// divides by 1e-10 instead of `c_j` and returns *less* mass on keys `i >= j` than `recursive`
/// (by the factor `c_j / 1e-10` for that mass): TF accepts that in exchange for a closed form.
/// `parallel` always stays finite for finite inputs (`c` only underflows towards 0 and the divisor
/// is at least 1e-10); `recursive` is exact and is what decoding should use at inference time.
enum class MonotonicMode { recursive, parallel, hard };

/// Parameters of the monotonic probability function (TF `_monotonic_probability_fn`):
/// `p = sigmoid(e + score_bias + sigmoid_noise·z)`, `z ~ N(0, 1)` drawn per visible key from the
/// caller's generator; in `hard` mode `p = 1[e + score_bias + sigmoid_noise·z > 0]`.
template <typename Scalar>
struct MonotonicParams {
  MonotonicMode mode = MonotonicMode::parallel;  ///< TF default
  Scalar score_bias = Scalar(0);                 ///< r [attention_score_bias]; negative for long memories
  Scalar sigmoid_noise = Scalar(0);              ///< std of the pre-sigmoid noise; 0 at test time
};

/// No pre-sigmoid noise: the default noise source. Passing it with `sigmoid_noise > 0` throws.
struct NoNoise {};

/// Per-row summary of an alignment: how much mass leaked past the last key, and where the
/// attended mass sits on average.
template <typename Scalar>
struct AlignmentStats {
  Vector<Scalar> leaked;             ///< Tq: 1 − Σ_j a_ij (0 for softmax up to rounding, 1 for a zero row)
  Vector<Scalar> expected_position;  ///< Tq: Σ_j j·a_ij / Σ_j a_ij (0-based key index); NaN when Σ_j a_ij = 0
};


namespace detail {

inline void check_mode(const char* fn, MonotonicMode mode) {
  ATTN_CHECK(mode == MonotonicMode::recursive || mode == MonotonicMode::parallel || mode == MonotonicMode::hard,
             std::string(fn) + ": mode (" + std::to_string(static_cast<int>(mode)) +
                 ") must be recursive, parallel or hard");
}

/// One row of monotonic attention. `p`, `prev` and `out` are any row-like accessors with
/// operator()(j); `out` may alias `p` or `prev` (each entry is read before it is written).
template <typename Scalar, typename P, typename A, typename O>
void monotonic_row(const P& p, const A& prev, O& out, Index tk, MonotonicMode mode) {
  switch (mode) {
    case MonotonicMode::recursive: {
      // TF: scan x_j = shifted_j·x_{j-1} + a'_j from x = 0 with shifted = [1, 1-p_0, ..., 1-p_{T-2}].
      Scalar q = 0;
      Scalar shifted = 1;
      for (Index j = 0; j < tk; ++j) {
        const Scalar pj = p(j);
        q = shifted * q + prev(j);
        shifted = Scalar(1) - pj;
        out(j) = pj * q;
      }
      break;
    }
    case MonotonicMode::parallel: {
      // TF: a = p·c·cumsum(a' / clip(c, 1e-10, 1)), c = safe_cumprod(1 - p, exclusive).
      constexpr Scalar tiny = std::numeric_limits<Scalar>::min();  // np.finfo(dtype).tiny
      const Scalar min_divisor = Scalar(1e-10);
      Scalar log_c = 0;
      Scalar sum = 0;
      for (Index j = 0; j < tk; ++j) {
        const Scalar pj = p(j);
        const Scalar c = std::exp(log_c);
        const Scalar clipped = c < min_divisor ? min_divisor : (c > Scalar(1) ? Scalar(1) : c);
        sum += prev(j) / clipped;
        out(j) = pj * c * sum;
        Scalar one_minus = Scalar(1) - pj;
        one_minus = one_minus < tiny ? tiny : (one_minus > Scalar(1) ? Scalar(1) : one_minus);
        log_c += std::log(one_minus);
      }
      break;
    }
    case MonotonicMode::hard: {
      // TF: p *= cumsum(a'); a = p·cumprod(1 - p, exclusive).
      Scalar cumsum = 0;
      Scalar cumprod = 1;
      for (Index j = 0; j < tk; ++j) {
        cumsum += prev(j);
        const Scalar pj = p(j) * cumsum;
        out(j) = pj * cumprod;
        cumprod *= Scalar(1) - pj;
      }
      break;
    }
  }
}

template <typename G, typename = void>
struct is_random_engine : std::false_type {};
template <typename G>
struct is_random_engine<G, std::void_t<typename G::result_type, decltype(G::min()), decltype(G::max())>>
    : std::is_unsigned<typename G::result_type> {};

/// Draws N(0, 1) samples from the caller's source: a UniformRandomBitGenerator
/// (std::mt19937-like engine, through std::normal_distribution<double>) or any callable
/// returning one standard-normal sample per call.
template <typename G>
class StandardNormal {
 public:
  explicit StandardNormal(G& g) : g_(g) {}
  double operator()() {
    if constexpr (is_random_engine<G>::value) {
      return dist_(g_);
    } else {
      return static_cast<double>(g_());
    }
  }

 private:
  G& g_;
  std::normal_distribution<double> dist_;
};

template <typename Noise>
constexpr bool is_no_noise() {
  return std::is_same<std::decay_t<Noise>, NoNoise>::value;
}

template <typename Scalar>
void check_monotonic_params(const char* fn, const MonotonicParams<Scalar>& m, bool has_noise) {
  check_mode(fn, m.mode);
  ATTN_CHECK(std::isfinite(m.score_bias), std::string(fn) + ": monotonic score_bias must be finite");
  ATTN_CHECK(std::isfinite(m.sigmoid_noise) && m.sigmoid_noise >= Scalar(0),
             std::string(fn) + ": monotonic sigmoid_noise (" + std::to_string(static_cast<double>(m.sigmoid_noise)) +
                 ") must be finite and >= 0");
  ATTN_CHECK(m.sigmoid_noise == Scalar(0) || has_noise,
             std::string(fn) + ": monotonic sigmoid_noise > 0 needs a noise generator (pass a std::mt19937-like "
                               "engine or a callable returning N(0,1) samples)");
}

/// TF `_monotonic_probability_fn` on the energies `scores` (Tq×Tk), under `mask`. The score bias
/// is added to the scores in place and masked keys get the score -inf (TF's score_mask_value),
/// so `scores` ends as TF's score in every form (value, `_into`, memory step); masked keys get
/// `p = 0`, visible keys `p = sigmoid(e + r + σ·z)` or, in hard mode, `1[e + r + σ·z > 0]`;
/// then the monotonic recurrence from `previous` into `out`. `p` is Tq×Tk (kept: it is
/// reported as p_choose); `out` may alias `previous` (not `scores`, not `p`).
template <typename Scalar, typename DerivedA, typename Noise>
void monotonic_probability(Eigen::Ref<Matrix<Scalar>> scores, const Eigen::MatrixBase<DerivedA>& previous,
                           const MonotonicParams<Scalar>& m, const Mask& mask, Noise& noise,
                           Eigen::Map<Matrix<Scalar>> p, Eigen::Ref<Matrix<Scalar>> out) {
  const Index tq = scores.rows();
  const Index tk = scores.cols();
  if (tk == 0) return;  // no key, nothing to write (and a row of storage-less `out` has no address)
  const bool has_matrix = mask.explicit_matrix().has_value();
  const bool noisy = m.sigmoid_noise > Scalar(0);
  const bool hard = m.mode == MonotonicMode::hard;
  for (Index i = 0; i < tq; ++i) {
    const auto [first, last] = mask.band(i, tk);
    for (Index j = 0; j < tk; ++j) {
      const bool visible = j >= first && j < last && (!has_matrix || (*mask.explicit_matrix())(i, j));
      if (!visible) {
        scores(i, j) = -std::numeric_limits<Scalar>::infinity();
        p(i, j) = Scalar(0);
        continue;
      }
      scores(i, j) += m.score_bias;
      Scalar x = scores(i, j);
      if constexpr (!is_no_noise<Noise>()) {
        if (noisy) x += m.sigmoid_noise * static_cast<Scalar>(noise());
      }
      if (hard) {
        p(i, j) = x > Scalar(0) ? Scalar(1) : Scalar(0);
      } else {
        p(i, j) = Scalar(1) / (Scalar(1) + std::exp(-x));
      }
    }
  }
  // Masked keys of `previous` are never read (NaN there stays out): the recurrence runs on a
  // copy of the row with them zeroed, written into `out` (which may alias `previous`; each entry
  // is read before it is written, here and in monotonic_row).
  for (Index i = 0; i < tq; ++i) {
    const auto [first, last] = mask.band(i, tk);
    auto orow = out.row(i);
    for (Index j = 0; j < tk; ++j) {
      const bool visible = j >= first && j < last && (!has_matrix || (*mask.explicit_matrix())(i, j));
      orow(j) = visible ? previous(i, j) : Scalar(0);
    }
    auto pr = p.row(i);
    monotonic_row<Scalar>(pr, orow, orow, tk, m.mode);
  }
}

/// Rows of `weights` visible under `mask` at all (the rest are fully masked): flags and count.
inline Index mask_fully_masked(const Mask& mask, Index tq, Index tk, Eigen::Ref<RowFlags> flags) {
  Index count = 0;
  const bool has_matrix = mask.explicit_matrix().has_value();
  for (Index i = 0; i < tq; ++i) {
    const auto [first, last] = mask.band(i, tk);
    bool any = false;
    for (Index j = first; j < last && !any; ++j) any = !has_matrix || (*mask.explicit_matrix())(i, j);
    flags(i) = !any;
    count += any ? 0 : 1;
  }
  return count;
}

/// output = weights·V over the keys any row can see; a masked value row never reaches the output
/// (the monotonic weights are exactly 0 there, but 0·NaN would still be NaN).
template <typename Scalar, typename DerivedV>
void monotonic_output(Eigen::Ref<const Matrix<Scalar>> weights, const Eigen::MatrixBase<DerivedV>& v,
                      Eigen::Ref<Matrix<Scalar>> output, Workspace<Scalar>& ws, const Mask& mask) {
  const Index tq = weights.rows();
  const Index tk = weights.cols();
  const Index n = visible_prefix(mask, tk);
  const auto vn = v.topRows(n);
  if (vn.allFinite()) {
    product(weights.leftCols(n), vn, output);
    return;
  }
  auto clean = detail::buffers(ws).values.matrix(n, v.cols());
  clean = vn;
  for (Index j = 0; j < n; ++j)
    if (!clean.row(j).allFinite()) clean.row(j).setZero();
  product(weights.leftCols(n), clean, output);
  for (Index j = 0; j < n; ++j) {
    if (vn.row(j).allFinite()) continue;
    for (Index i = 0; i < tq; ++i)
      if (mask.visible(i, j, tk)) output.row(i) += weights(i, j) * vn.row(j);
  }
}

/// The monotonic part of every monotonic form (value, `_into`, memory step), after the scores:
/// `scores` (B×Tk, raw energies; ends as TF's score: bias added, -inf on masked keys), the
/// choosing probabilities into the workspace (ws.p_choose()), the alignment from `previous`
/// into `weights` (which may alias `previous`), output = weights·V, fully masked rows flagged
/// in `ws` with zero output. Returns the number of fully masked rows.
template <typename Scalar, typename DerivedA, typename DerivedV, typename Noise>
Index monotonic_step(Eigen::Ref<Matrix<Scalar>> scores, const Eigen::MatrixBase<DerivedA>& previous,
                     const MonotonicParams<Scalar>& m, const Mask& mask, Noise& noise,
                     const Eigen::MatrixBase<DerivedV>& v, Eigen::Ref<Matrix<Scalar>> output,
                     Eigen::Ref<Matrix<Scalar>> weights, Workspace<Scalar>& ws) {
  const Index b = scores.rows();
  const Index tk = scores.cols();
  auto p = buffers(ws).probabilities.matrix(b, tk);  // reported by ws.p_choose()
  if constexpr (is_no_noise<Noise>()) {
    monotonic_probability<Scalar>(scores, previous, m, mask, noise, p, weights);
  } else {
    StandardNormal<std::remove_reference_t<Noise>> normal(noise);
    monotonic_probability<Scalar>(scores, previous, m, mask, normal, p, weights);
  }
  auto flags = row_flags(ws, b);
  const Index masked = mask_fully_masked(mask, b, tk, flags);
  monotonic_output<Scalar>(weights, v, output, ws, mask);
  for (Index i = 0; i < b; ++i)
    if (flags(i)) output.row(i).setZero();
  return masked;
}

}  // namespace detail

/// Monotonic alignment from choosing probabilities `p` (Tq×Tk, entries in [0, 1]; 0/1 for `hard`)
/// and the previous alignment `previous` (Tq×Tk; one-hot at key 0 for the first step), row by row,
/// into `out` (Tq×Tk, caller-owned; may be the same matrix as `p` or `previous`). Allocates nothing.
/// \param p choosing probabilities, Tq×Tk
/// \param previous previous alignment, Tq×Tk
/// \param mode recursive, parallel or hard
/// \param out Tq×Tk, written
/// \throws attn::invalid_argument for an unknown mode, or `previous` or `out` not shaped as `p`
template <typename DerivedP, typename DerivedA>
void monotonic_attention_into(const Eigen::MatrixBase<DerivedP>& p, const Eigen::MatrixBase<DerivedA>& previous,
                              MonotonicMode mode, Eigen::Ref<Matrix<typename DerivedP::Scalar>> out) {
  using Scalar = typename DerivedP::Scalar;
  static_assert(detail::check_scalars<DerivedP, DerivedA>());
  constexpr const char* fn = "attn::monotonic_attention";
  const detail::SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  detail::check_mode(fn, mode);
  detail::check_shape(fn, "previous", previous, p.rows(), p.cols());
  detail::check_previous_alignment(fn, previous, [](Index, Index) { return true; });
  detail::check_shape(fn, "out", out, p.rows(), p.cols());
  for (Index i = 0; i < p.rows(); ++i)
    for (Index j = 0; j < p.cols(); ++j)
      ATTN_CHECK(p(i, j) >= Scalar(0) && p(i, j) <= Scalar(1),
                 std::string(fn) + ": p(" + std::to_string(i) + ", " + std::to_string(j) + ") (" +
                     std::to_string(static_cast<double>(p(i, j))) + ") must be a probability in [0, 1]");
  for (Index i = 0; i < p.rows(); ++i) {
    auto pr = p.row(i);
    auto ar = previous.row(i);
    auto orow = out.row(i);
    detail::monotonic_row<Scalar>(pr, ar, orow, p.cols(), mode);
  }
}

/// Monotonic alignment (TF `monotonic_attention(p_choose_i, previous_attention, mode)`), Tq×Tk.
/// \param p choosing probabilities, Tq×Tk, entries in [0, 1] (0/1 for `hard`)
/// \param previous previous alignment, Tq×Tk
/// \param mode recursive, parallel or hard
/// \return the alignment, Tq×Tk
/// \throws attn::invalid_argument as monotonic_attention_into does
template <typename DerivedP, typename DerivedA>
Matrix<typename DerivedP::Scalar> monotonic_attention(const Eigen::MatrixBase<DerivedP>& p,
                                                      const Eigen::MatrixBase<DerivedA>& previous,
                                                      MonotonicMode mode) {
  Matrix<typename DerivedP::Scalar> out(p.rows(), p.cols());
  monotonic_attention_into(p, previous, mode, out);
  return out;
}

/// The initial alignment of a monotonic mechanism (TF `initial_alignments`): `rows×tk`, one-hot at
/// key 0 (all zero when tk = 0).
/// \tparam Scalar float or double, given explicitly: `monotonic_initial_alignment<float>(1, tk)`
/// \param rows number of query rows
/// \param tk number of keys
/// \return rows×tk
/// \throws attn::invalid_argument when `rows` or `tk` is negative
template <typename Scalar>
Matrix<Scalar> monotonic_initial_alignment(Index rows, Index tk) {
  ATTN_CHECK(rows >= 0 && tk >= 0, "attn::monotonic_initial_alignment: shape " + detail::shape(rows, tk) +
                                       " must not be negative");
  Matrix<Scalar> a = Matrix<Scalar>::Zero(rows, tk);
  if (tk > 0) a.col(0).setOnes();
  return a;
}

/// Leaked mass `1 − Σ_j a_ij` and expected position `Σ_j j·a_ij / Σ_j a_ij` (NaN for a zero row)
/// of each row of `alignment` (Tq×Tk), into caller-owned vectors of Tq entries. Allocates nothing.
/// \param alignment Tq×Tk
/// \param leaked Tq entries, written
/// \param expected_position Tq entries, written
/// \throws attn::invalid_argument when `leaked` or `expected_position` does not have Tq entries
template <typename DerivedA>
void alignment_stats_into(const Eigen::MatrixBase<DerivedA>& alignment,
                          Eigen::Ref<Vector<typename DerivedA::Scalar>> leaked,
                          Eigen::Ref<Vector<typename DerivedA::Scalar>> expected_position) {
  using Scalar = typename DerivedA::Scalar;
  static_assert(detail::check_scalar<Scalar>());
  constexpr const char* fn = "attn::alignment_stats";
  detail::check_shape(fn, "leaked", leaked, alignment.rows(), 1);
  detail::check_shape(fn, "expected_position", expected_position, alignment.rows(), 1);
  for (Index i = 0; i < alignment.rows(); ++i) {
    Scalar mass = 0;
    Scalar moment = 0;
    for (Index j = 0; j < alignment.cols(); ++j) {
      mass += alignment(i, j);
      moment += static_cast<Scalar>(j) * alignment(i, j);
    }
    leaked(i) = Scalar(1) - mass;
    expected_position(i) = mass != Scalar(0) ? moment / mass : std::numeric_limits<Scalar>::quiet_NaN();
  }
}

/// Leaked mass and expected position of each row of `alignment` (Tq×Tk).
/// \param alignment Tq×Tk
/// \return leaked and expected_position, Tq entries each
template <typename DerivedA>
AlignmentStats<typename DerivedA::Scalar> alignment_stats(const Eigen::MatrixBase<DerivedA>& alignment) {
  AlignmentStats<typename DerivedA::Scalar> s;
  s.leaked.resize(alignment.rows());
  s.expected_position.resize(alignment.rows());
  alignment_stats_into(alignment, s.leaked, s.expected_position);
  return s;
}

}  // namespace attn
