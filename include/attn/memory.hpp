// SPDX-License-Identifier: MIT
// Decoding against a prepared memory: attn::Memory holds the keys projected once, the values and
// the padding length; attn::attend_into runs one decoder step (query rows B×dq, usually B = 1)
// and writes the context B×dv and the alignment B×Tk. Steady-state steps allocate nothing.
#pragma once

#include "config.hpp"
#include "detail/attend.hpp"
#include "detail/binding.hpp"
#include "monotonic_attention.hpp"
#include "prepared_memory.hpp"
#include "workspace.hpp"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

namespace attn {
namespace detail {

/// The rest of a one-row step of a non-monotonic memory with finite values, after its scores
/// (1×Tk, in the workspace): copied into `alignment` and normalised there with the full call's
/// row arithmetic (softmax_contiguous_row in place; normalize_rows for sparsemax and hardmax),
/// then `context = alignment·values` by context_row (memory_step.hpp) over the transposed
/// values (dv×n, each value row a contiguous column). A caller's row that is
/// not contiguous goes through a copy. Returns 1 when the row saw no key, else 0.
template <typename Scalar>
Index memory_step_finish(const Memory<Scalar>& memory, const Eigen::Ref<const Matrix<Scalar>>& scores,
                         Eigen::Ref<Matrix<Scalar>> context, Eigen::Ref<Matrix<Scalar>> alignment,
                         Workspace<Scalar>& ws) {
  check_probability("attn::attend", memory.probability());
  const Index tk = memory.max_time();
  const Index n = memory.length();
  const Index dv = memory.value_size();
  auto flags = row_flags(ws, 1);
  Scalar* buffer = buffers(ws).sort.matrix(normalize_scratch_size(tk), 1).data();
  auto pair = buffers(ws).row.matrix(std::max(tk, dv), 2);
  const bool w_direct = alignment.outerStride() == 1;
  const bool o_direct = context.outerStride() == 1;
  Eigen::Map<RowVector<Scalar>> w(w_direct ? alignment.data() : pair.data(), tk);
  w = Eigen::Map<const RowVector<Scalar>>(scores.data(), tk);
  if (memory.probability() == Probability::softmax && tk > 0) {
    // softmax_short_rows' arithmetic on the alignment row itself (no copy in and out).
    const auto band = memory.mask().band(0, tk);
    if (softmax_contiguous_row(w.data(), tk, band.first, band.second, nullptr, 0, Scalar(1), flags(0)))
      poison_row(w, 0, memory.mask());  // rare
  } else {
    normalize_rows(memory.probability(), w, 0, 1, memory.mask(), flags, buffer);
  }
  if (!w_direct) alignment = w;
  if (flags(0) || n == 0 || dv == 0) {
    context.setZero();  // exact +0
    return flags(0) ? 1 : 0;
  }
  Eigen::Map<Vector<Scalar>> out(o_direct ? context.data() : pair.col(1).data(), dv);
  const Matrix<Scalar>& vt = MemoryAccess::values_t(memory);
  context_row(vt.data(), dv, n, vt.rows(), w.data(), out.data());
  if (!o_direct) context = out.transpose();
  return 0;
}

/// The checks every step of `memory` makes before its alignment's (a matrix's shape or the
/// sinks'): the query's width and the context's shape; `previous` and the noise settings of a
/// monotonic memory come after the alignment (check_monotonic_step).
template <typename Scalar, typename DerivedQ, typename Context>
void check_step(const char* fn, const Memory<Scalar>& memory, const Eigen::MatrixBase<DerivedQ>& query,
                const Context& context) {
  check_equal(fn, "query.cols()", query.cols(), "memory.query_size()", memory.query_size());
  check_shape(fn, "context", context, query.rows(), memory.value_size());
}

/// A monotonic memory's step: `previous` is B×Tk and noise is given when the memory asks for it.
template <typename Scalar, typename DerivedA>
void check_monotonic_step(const char* fn, const Memory<Scalar>& memory, const Eigen::MatrixBase<DerivedA>& previous,
                          Index b, bool has_noise) {
  check_shape(fn, "previous", previous, b, memory.max_time());
  const Index length = memory.length();  // keys past it are never read
  check_previous_alignment(fn, previous, [length](Index, Index j) { return j < length; });
  check_monotonic_params(fn, memory.monotonic(), has_noise);
}

}  // namespace detail

/// What one decoder step returns (value form of attn::attend_into).
/// `auto [output, weights] = attn::attend(memory, query);` works.
template <typename Scalar>
struct StepResult : detail::BindOutputWeights<StepResult<Scalar>> {
  Matrix<Scalar> output;             ///< B×dv: the context, weights·values
  Matrix<Scalar> weights;            ///< B×Tk: the alignment; padding entries exactly 0
  Matrix<Scalar> scores;             ///< B×Tk: energies before the probability function (monotonic: `e + r`, as TF's score); -inf on padding
  Matrix<Scalar> p_choose;           ///< B×Tk: a monotonic memory's choosing probabilities (0 on padding); 0×0 otherwise
  RowFlags fully_masked;             ///< B: true when the memory has no visible key (length 0)
  Vector<Scalar> leaked;             ///< B: 1 − Σ alignment (monotonic: mass that ran past the end)
  Vector<Scalar> expected_position;  ///< B: Σ j·a_j / Σ a_j, NaN for a zero alignment

  /// Number of query rows that saw no key.
  /// \return the number of true entries of fully_masked
  Index num_fully_masked() const { return fully_masked.count(); }
};

/// One decoder step: the query rows `query` (B×dq; B = 1 for one sequence, B > 1 for beams
/// sharing this memory) attend the memory. Writes `context` (B×dv) and `alignment` (B×Tk,
/// padding exactly 0), both caller-owned and of that shape. `previous` (B×Tk) is the previous
/// alignment, read only by a monotonic memory (Memory::initial_alignment for the first step);
/// `alignment` may be the same matrix as `previous`. `noise` feeds monotonic pre-sigmoid noise
/// (attn::NoNoise, a std::mt19937-like engine or a callable returning N(0,1) samples).
/// After the call `ws.scores()` holds the energies (B×Tk, -inf on padding; a monotonic memory
/// adds its score bias, as TF does) and, for a monotonic memory, `ws.p_choose()` the choosing
/// probabilities. Returns the number
/// of fully masked rows (B when length() is 0, else 0). Allocates nothing once `ws` has seen
/// these shapes.
/// \tparam Noise attn::NoNoise (default), a std::mt19937-like engine or a callable returning
///         N(0,1) samples
/// \param memory the prepared memory
/// \param query B×dq
/// \param previous B×Tk previous alignment (monotonic only; otherwise not read)
/// \param context B×dv, written
/// \param alignment B×Tk, written
/// \param ws reusable scratch; holds the energies afterwards
/// \param noise the pre-sigmoid noise source of a monotonic memory
/// \return the number of fully masked rows
/// \throws attn::invalid_argument when a shape does not fit, or a monotonic memory with
///         sigmoid_noise > 0 gets attn::NoNoise
template <typename Scalar, typename DerivedQ, typename DerivedA, typename Noise = NoNoise>
Index attend_into(const Memory<Scalar>& memory, const Eigen::MatrixBase<DerivedQ>& query,
                  const Eigen::MatrixBase<DerivedA>& previous, Eigen::Ref<Matrix<typename DerivedQ::Scalar>> context,
                  Eigen::Ref<Matrix<typename DerivedQ::Scalar>> alignment, Workspace<Scalar>& ws,
                  Noise&& noise = Noise()) {
  static_assert(std::is_same<Scalar, typename DerivedQ::Scalar>::value &&
                    std::is_same<Scalar, typename DerivedA::Scalar>::value,
                "attn::attend: the query and previous alignment must have the memory's scalar type; use .cast<T>()");
  constexpr const char* fn = "attn::attend";
  const detail::SingleThreadedEigen serial;  // Eigen's products single-threaded (bit-identical results)
  const Index b = query.rows();
  const Index tk = memory.max_time();
  detail::check_step(fn, memory, query, context);
  detail::check_shape(fn, "alignment", alignment, b, tk);
  if (memory.is_monotonic()) detail::check_monotonic_step(fn, memory, previous, b, !detail::is_no_noise<Noise>());

  // Plain matrices, maps and column blocks bind without a copy; other expressions are evaluated.
  const Eigen::Ref<const Matrix<Scalar>> q(query);
  auto scores = detail::buffers(ws).scores.matrix(b, tk);
  memory.scores_into(q, scores, ws);
  if (!memory.is_monotonic()) {
    // Capped where they are (with_softcap): the energies the workspace keeps and both paths
    // below normalise, entry for entry as the full call's blocks (softcap.hpp). The visible keys
    // only (the first n columns: the first b·n entries); padding keeps its -inf.
    if (memory.softcap())
      detail::soft_cap(scores.data(), b * memory.length(), detail::soft_cap_of<Scalar>(memory.softcap()));
    if (b == 1 && memory.values_finite()) return detail::memory_step_finish<Scalar>(memory, scores, context, alignment, ws);
    alignment = scores;
    Options options;
    options.probability = memory.probability();
    return detail::finish(alignment, memory.values(), context, ws, memory.mask(), options, Scalar(1),
                          std::optional<bool>(memory.values_finite()));
  }

  return detail::monotonic_step<Scalar>(scores, previous, memory.monotonic(), memory.mask(), noise, memory.values(),
                                        context, alignment, ws);
}

/// One step of a non-monotonic memory (no previous alignment needed); see the overload above.
/// \param memory the prepared memory, not monotonic
/// \param query B×dq
/// \param context B×dv, written
/// \param alignment B×Tk, written
/// \param ws reusable scratch; holds the energies afterwards
/// \return the number of fully masked rows
/// \throws attn::invalid_argument when the memory is monotonic or a shape does not fit
template <typename Scalar, typename DerivedQ>
Index attend_into(const Memory<Scalar>& memory, const Eigen::MatrixBase<DerivedQ>& query,
                  Eigen::Ref<Matrix<typename DerivedQ::Scalar>> context,
                  Eigen::Ref<Matrix<typename DerivedQ::Scalar>> alignment, Workspace<Scalar>& ws) {
  ATTN_CHECK(!memory.is_monotonic(),
             "attn::attend: a monotonic memory needs the previous alignment (Memory::initial_alignment at step 0)");
  return attend_into(memory, query, alignment, context, alignment, ws);
}

/// One step of a non-monotonic memory with the alignment going to `sinks` instead of a B×Tk
/// matrix (attn::no_weights: the context only): what the form with `alignment` writes there,
/// bit for bit, goes to the sinks block by block (a `FullWeights` among them receives it). The
/// energies stay in the workspace as with that form. A monotonic memory's step needs the previous
/// alignment: the form with `previous` below.
/// \param memory the prepared memory, not monotonic
/// \param query B×dq
/// \param context B×dv, written
/// \param sinks where the alignment goes (one sink, attn::Sinks<Scalar>(a, b, ...), or attn::no_weights)
/// \param ws reusable scratch; holds the energies afterwards (and the B×Tk alignment unless a
///        FullWeights sink holds it)
/// \return the number of fully masked rows
/// \throws attn::invalid_argument when the memory is monotonic, a shape does not fit or a sink
///         does not fit the call
template <typename Scalar, typename DerivedQ>
Index attend_into(const Memory<Scalar>& memory, const Eigen::MatrixBase<DerivedQ>& query,
                  Eigen::Ref<Matrix<typename DerivedQ::Scalar>> context,
                  const Sinks<typename DerivedQ::Scalar>& sinks, Workspace<Scalar>& ws) {
  static_assert(std::is_same<Scalar, typename DerivedQ::Scalar>::value,
                "attn::attend: the query must have the memory's scalar type; use .cast<T>()");
  constexpr const char* fn = "attn::attend";
  ATTN_CHECK(!memory.is_monotonic(),
             "attn::attend: a monotonic memory's step needs the previous alignment: attend_into(memory, query, "
             "previous, context, sinks, ws)");
  detail::check_step(fn, memory, query, context);
  // The form with `alignment`, then the sinks get its rows (one-row steps keep their kernels).
  return detail::whole_to_sinks(fn, sinks, query.rows(), memory.max_time(), memory.mask(), ws, [&](auto& alignment) {
    return attend_into(memory, query, context, alignment, ws);
  });
}

/// One step of any memory, monotonic too, with the alignment going to `sinks` instead of a B×Tk
/// matrix: the form with `previous` and `alignment`, its alignment computed whole (into the
/// storage of a FullWeights among the sinks, else a B×Tk buffer of `ws`) and then handed to the
/// sinks in blocks of rows, bit for bit. A monotonic step's alignment is the next step's
/// `previous`: keep it with a FullWeights (whose storage may be `previous` itself). For a memory
/// that is not monotonic `previous` is not read: this is the form without it.
/// \tparam Noise attn::NoNoise (default), a std::mt19937-like engine or a callable returning
///         N(0,1) samples
/// \param memory the prepared memory
/// \param query B×dq
/// \param previous B×Tk previous alignment (monotonic only; otherwise not read)
/// \param context B×dv, written
/// \param sinks where the alignment goes (one sink, attn::Sinks<Scalar>(a, b, ...), or attn::no_weights)
/// \param ws reusable scratch; holds the energies (and a monotonic memory's choosing
///        probabilities) afterwards
/// \param noise the pre-sigmoid noise source of a monotonic memory
/// \return the number of fully masked rows
/// \throws attn::invalid_argument as the form with `alignment`, or when a sink does not fit the call
template <typename Scalar, typename DerivedQ, typename DerivedA, typename Noise = NoNoise>
Index attend_into(const Memory<Scalar>& memory, const Eigen::MatrixBase<DerivedQ>& query,
                  const Eigen::MatrixBase<DerivedA>& previous, Eigen::Ref<Matrix<typename DerivedQ::Scalar>> context,
                  const Sinks<typename DerivedQ::Scalar>& sinks, Workspace<Scalar>& ws, Noise&& noise = Noise()) {
  if (!memory.is_monotonic()) return attend_into(memory, query, context, sinks, ws);
  static_assert(std::is_same<Scalar, typename DerivedA::Scalar>::value,
                "attn::attend: the previous alignment must have the memory's scalar type; use .cast<T>()");
  constexpr const char* fn = "attn::attend";
  // The checks of the form with `alignment` first, then the sinks'.
  detail::check_step(fn, memory, query, context);
  detail::check_monotonic_step(fn, memory, previous, query.rows(), !detail::is_no_noise<Noise>());
  return detail::whole_to_sinks(fn, sinks, query.rows(), memory.max_time(), memory.mask(), ws, [&](auto& alignment) {
    return attend_into(memory, query, previous, context, alignment, ws, std::forward<Noise>(noise));
  });
}

/// Value form of attend_into with sinks: one step of `query` (B×dq) against a non-monotonic
/// `memory`, the alignment going to `sinks`.
/// \param memory the prepared memory, not monotonic
/// \param query B×dq
/// \param sinks where the alignment goes (attn::no_weights: the context only)
/// \return output (the context) B×dv, fully_masked and the energies as scores
/// \throws attn::invalid_argument as attend_into does
template <typename Scalar, typename DerivedQ>
OutputResult<Scalar> attend(const Memory<Scalar>& memory, const Eigen::MatrixBase<DerivedQ>& query,
                            const Sinks<typename DerivedQ::Scalar>& sinks) {
  Options energies;
  energies.return_scores = true;  // run_sinks then returns ws.scores(): the energies
  return detail::run_sinks<Scalar>(query.rows(), memory.value_size(), energies, [&](auto& output, auto& ws) {
    return attend_into(memory, query, output, sinks, ws);
  });
}

/// Value form of attend_into: one step of `query` (B×dq) against `memory` with the previous
/// alignment `previous` (B×Tk; read by monotonic memories only).
/// \tparam Noise attn::NoNoise (default), a std::mt19937-like engine or a callable returning
///         N(0,1) samples
/// \param memory the prepared memory
/// \param query B×dq
/// \param previous B×Tk previous alignment (monotonic only)
/// \param noise the pre-sigmoid noise source of a monotonic memory
/// \return output (the context) B×dv, weights (the alignment) B×Tk, scores, fully_masked, leaked and expected_position
/// \throws attn::invalid_argument as attend_into does
template <typename Scalar, typename DerivedQ, typename DerivedA, typename Noise = NoNoise>
StepResult<Scalar> attend(const Memory<Scalar>& memory, const Eigen::MatrixBase<DerivedQ>& query,
                          const Eigen::MatrixBase<DerivedA>& previous, Noise&& noise = Noise()) {
  StepResult<Scalar> r;
  r.output.resize(query.rows(), memory.value_size());
  r.weights.resize(query.rows(), memory.max_time());
  Workspace<Scalar> ws;
  attend_into(memory, query, previous, r.output, r.weights, ws, std::forward<Noise>(noise));
  r.scores = ws.scores();
  if (memory.is_monotonic()) r.p_choose = ws.p_choose();
  r.fully_masked = ws.fully_masked();
  r.leaked.resize(query.rows());
  r.expected_position.resize(query.rows());
  alignment_stats_into(r.weights, r.leaked, r.expected_position);
  return r;
}

/// Value form for a non-monotonic memory.
/// \param memory the prepared memory, not monotonic
/// \param query B×dq
/// \return output (the context) B×dv, weights (the alignment) B×Tk, scores, fully_masked, leaked and expected_position
/// \throws attn::invalid_argument when the memory is monotonic or a shape does not fit
template <typename Scalar, typename DerivedQ>
StepResult<Scalar> attend(const Memory<Scalar>& memory, const Eigen::MatrixBase<DerivedQ>& query) {
  ATTN_CHECK(!memory.is_monotonic(),
             "attn::attend: a monotonic memory needs the previous alignment (Memory::initial_alignment at step 0)");
  return attend(memory, query, Matrix<Scalar>(0, 0));
}

}  // namespace attn

ATTN_BIND_OUTPUT_WEIGHTS(StepResult)
