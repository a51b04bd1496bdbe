// SPDX-License-Identifier: MIT
// attn::AttentionLoop: a decoder loop in the spirit of TF's AttentionWrapper, around the caller's
// RNN cell (any callable) and a prepared attn::Memory. Every per-step vector is a 1×n matrix.
//
// Order of operations of step(input, cell), as AttentionWrapper.call (tensorflow_addons
// seq2seq/attention_wrapper.py), with attention_{-1} = 0 and alignment_{-1} = the initial alignment:
//   1. cell_input = cell_input_fn(input, attention_{t-1})     default: [input, attention_{t-1}]
//   2. cell(cell_input, cell_output)                          the cell updates its own state
//   3. alignment_t = mechanism(query = cell_output, previous = alignment_{t-1})
//   4. context_t = alignment_t · values                       (padding never contributes)
//   5. attention_t = [cell_output, context_t] · W             without an attention layer: context_t
//   6. history.record(alignment_t)                            when alignment_history is on
//   7. output_t = attention_t (output_attention) or cell_output; time += 1
#pragma once

#include "config.hpp"
#include "history.hpp"
#include "memory.hpp"
#include "monotonic.hpp"
#include "workspace.hpp"

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace attn {

namespace detail {
/// The second parameter type of a callable with a single, non-template call operator or of a
/// function (pointer); `known` is false for generic lambdas and overload sets, whose parameters
/// only show once called.
template <typename T, typename = void>
struct second_parameter {
  static constexpr bool known = false;
};
template <typename R, typename A, typename B>
struct second_parameter<R (*)(A, B)> {
  static constexpr bool known = true;
  using type = B;
};
template <typename R, typename A, typename B>
struct second_parameter<R (*)(A, B) noexcept> : second_parameter<R (*)(A, B)> {};
template <typename R, typename A, typename B>
struct second_parameter<R(A, B)> : second_parameter<R (*)(A, B)> {};
template <typename R, typename A, typename B>
struct second_parameter<R(A, B) noexcept> : second_parameter<R (*)(A, B)> {};
template <typename R, typename C, typename A, typename B>
struct second_parameter<R (C::*)(A, B)> : second_parameter<R (*)(A, B)> {};
template <typename R, typename C, typename A, typename B>
struct second_parameter<R (C::*)(A, B) const> : second_parameter<R (*)(A, B)> {};
template <typename R, typename C, typename A, typename B>
struct second_parameter<R (C::*)(A, B) noexcept> : second_parameter<R (*)(A, B)> {};
template <typename R, typename C, typename A, typename B>
struct second_parameter<R (C::*)(A, B) const noexcept> : second_parameter<R (*)(A, B)> {};
template <typename T>
struct second_parameter<T, std::void_t<decltype(&T::operator())>> : second_parameter<decltype(&T::operator())> {};

/// Whether a cell's second parameter, when it can be seen, is a non-const lvalue reference:
/// anything else (`const Matrix&`, a copy) cannot write the cell output back.
template <typename Cell>
constexpr bool cell_output_writable() {
  using Traits = second_parameter<std::remove_pointer_t<std::decay_t<Cell>>>;
  if constexpr (Traits::known) {
    using B = typename Traits::type;
    return std::is_lvalue_reference<B>::value && !std::is_const<std::remove_reference_t<B>>::value;
  } else {
    return true;
  }
}

/// What AttentionLoop::step writes into the cell output before calling the cell: a quiet NaN
/// with a payload of its own (a NaN a cell computes from finite values has the default payload),
/// so that an entry the cell leaves unwritten is seen after the call instead of silently keeping
/// the previous step's query. Arithmetic on the marker usually carries its payload, so an entry
/// computed from cell_output's previous value (`h = decay·h + x`) is caught too, as it should:
/// cell_output is not the cell's state.
template <typename Scalar>
Scalar unwritten_marker() {
  static_assert(sizeof(Scalar) == 4 || sizeof(Scalar) == 8, "attn: float or double");
  using Bits = std::conditional_t<sizeof(Scalar) == 4, std::uint32_t, std::uint64_t>;
  const Bits bits = sizeof(Scalar) == 4 ? Bits(0x7FC0A77Eu) : Bits(0x7FF80000A77E0A77ull);
  Scalar value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

/// The first entry of `m` that still holds unwritten_marker (bit for bit), or -1.
template <typename Scalar>
Index first_unwritten(const Matrix<Scalar>& m) {
  const Scalar marker = unwritten_marker<Scalar>();
  for (Index k = 0; k < m.size(); ++k)
    if (std::memcmp(&m.data()[k], &marker, sizeof marker) == 0) return k;
  return -1;
}
}  // namespace detail

/// The alignment before the first step.
enum class InitialAlignment {
  automatic,  ///< the memory's: one-hot at key 0 when monotonic, zeros otherwise (TF)
  zeros,      ///< all zero
  one_hot,    ///< one-hot at key 0
};

/// Options of attn::AttentionLoop (TF AttentionWrapper arguments in brackets).
template <typename Scalar>
struct AttentionLoopOptions {
  /// Width of the caller's per-step input (e.g. the embedding of the previous token).
  Index input_size = 0;
  /// Attention layer `W`, (dq + dv)×units, applied as `[cell_output, context]·W`, no bias
  /// [attention_layer_size / attention_layer]. Empty: the attention is the context.
  Matrix<Scalar> attention_layer;
  /// Step output: the attention (true, Luong style) or the cell output (false, Bahdanau style)
  /// [output_attention].
  bool output_attention = true;
  /// Alignment before the first step [the mechanism's initial_alignments].
  InitialAlignment initial_alignment = InitialAlignment::automatic;
  /// Record every step's alignment [alignment_history].
  bool alignment_history = true;
  /// Steps reserved in the history ahead (recording past it still works, and allocates).
  Index reserve_steps = 0;
  /// Cell-input builder [cell_input_fn]: writes `cell_input` (1×cell_input_size) from `input`
  /// (1×input_size) and the previous `attention` (1×attention size). Empty: `[input, attention]`.
  std::function<void(const Matrix<Scalar>& input, const Matrix<Scalar>& attention, Matrix<Scalar>& cell_input)>
      cell_input_fn;
  /// Width of the cell input; required with cell_input_fn, ignored without it.
  Index cell_input_size = -1;
};

/// A decoder loop over a prepared memory, without owning the RNN. The cell is any callable
/// `void cell(const attn::Matrix<S>& cell_input, attn::Matrix<S>& cell_output)` that reads the
/// 1×cell_input_size input, updates its own state and writes the 1×dq output (the query; dq =
/// memory.query_size()) without resizing it. A cell that returns a value, or whose second
/// parameter is const or a copy, does not compile (a static_assert names this signature).
/// `cell_output` holds nothing between steps (it is not the cell's state: keep that in the
/// cell): each step fills it with a marker NaN before calling the cell, and an entry the cell
/// leaves unwritten throws instead of attending with the previous step's query. See
/// the top of this header for the order of operations. The memory must outlive the loop. Steps allocate nothing once the history's
/// reservation covers them (and the cell allocates nothing).
template <typename Scalar>
class AttentionLoop {
 public:
  /// A loop at time 0 over `memory`.
  /// \param memory the prepared memory; it must outlive the loop (a temporary does not compile)
  /// \param options attention layer, output, initial alignment and history (default: TF's)
  /// \throws attn::invalid_argument when `input_size` or `reserve_steps` is negative, the
  ///         attention layer does not have dq + dv rows, or cell_input_fn comes without
  ///         cell_input_size
  AttentionLoop(const Memory<Scalar>& memory, AttentionLoopOptions<Scalar> options = {})
      : memory_(&memory), options_(std::move(options)) {
    constexpr const char* fn = "attn::AttentionLoop";
    const Index dq = memory.query_size();
    const Index dv = memory.value_size();
    ATTN_CHECK(options_.input_size >= 0,
               std::string(fn) + ": options.input_size (" + std::to_string(options_.input_size) + ") must be >= 0");
    ATTN_CHECK(options_.reserve_steps >= 0, std::string(fn) + ": options.reserve_steps (" +
                                                std::to_string(options_.reserve_steps) + ") must be >= 0");
    if (options_.attention_layer.size() != 0) {
      ATTN_CHECK(options_.attention_layer.rows() == dq + dv,
                 std::string(fn) + ": options.attention_layer " + detail::shape(options_.attention_layer) +
                     " must have dq + dv (" + std::to_string(dq + dv) + ") rows");
      attention_size_ = options_.attention_layer.cols();
    } else {
      attention_size_ = dv;
    }
    if (options_.cell_input_fn) {
      ATTN_CHECK(options_.cell_input_size >= 0, std::string(fn) + ": options.cell_input_size (" +
                                                    std::to_string(options_.cell_input_size) +
                                                    ") must be set (>= 0) with options.cell_input_fn");
      cell_input_size_ = options_.cell_input_size;
    } else {
      cell_input_size_ = options_.input_size + attention_size_;
    }
    input_.setZero(1, options_.input_size);
    cell_input_.setZero(1, cell_input_size_);
    cell_output_.setZero(1, dq);
    context_.setZero(1, dv);
    attention_.setZero(1, attention_size_);
    concat_.setZero(1, options_.attention_layer.size() != 0 ? dq + dv : 0);
    alignment_.setZero(1, memory.max_time());
    if (options_.alignment_history)
      history_ = AlignmentHistory<Scalar>(std::vector<Index>{memory.length()}, 1, options_.reserve_steps);
    reset();
  }
  AttentionLoop(const Memory<Scalar>&& memory, AttentionLoopOptions<Scalar> options = {}) = delete;

  /// Back to time 0: zero attention, the initial alignment, an empty history (storage kept).
  /// The cell's own state is the caller's to reset.
  void reset() {
    time_ = 0;
    attention_.setZero();
    context_.setZero();
    cell_output_.setZero();
    alignment_.setZero();
    const bool one_hot = options_.initial_alignment == InitialAlignment::one_hot ||
                         (options_.initial_alignment == InitialAlignment::automatic && memory_->is_monotonic());
    if (one_hot && alignment_.cols() > 0) alignment_(0, 0) = Scalar(1);
    if (options_.alignment_history) history_.clear();
  }

  /// One step (see the order of operations at the top of this header). `input` is 1×input_size;
  /// `noise` feeds a monotonic memory's pre-sigmoid noise. Returns the step output (1×attention
  /// size, or 1×dq when output_attention is off), valid until the next step.
  /// \tparam Cell callable as `cell(cell_input, cell_output)` with `const Matrix<Scalar>&` and
  ///         `Matrix<Scalar>&` (see the class comment)
  /// \tparam Noise attn::NoNoise (default), a std::mt19937-like engine or a callable returning
  ///         N(0,1) samples
  /// \param input 1×input_size
  /// \param cell the caller's RNN cell; it writes the 1×dq query
  /// \param noise the pre-sigmoid noise source of a monotonic memory
  /// \return the step output, 1×output_size()
  /// \throws attn::invalid_argument when `input`, the cell input built by cell_input_fn or the
  ///         cell output has another shape, the cell leaves an entry of its output unwritten,
  ///         or a noisy monotonic memory gets attn::NoNoise
  template <typename DerivedI, typename Cell, typename Noise = NoNoise>
  const Matrix<Scalar>& step(const Eigen::MatrixBase<DerivedI>& input, Cell&& cell, Noise&& noise = Noise()) {
    static_assert(std::is_same<Scalar, typename DerivedI::Scalar>::value,
                  "attn::AttentionLoop::step: input must have the memory's scalar type; use .cast<T>()");
    // A cell written as `(const Matrix& x, const Matrix& h) -> Matrix`, the natural guess, would
    // bind cell_output_ to its const parameter and have its return value dropped: every step
    // would then attend with an all-zero query. Rejected here, naming the signature.
    static_assert(std::is_invocable<Cell&, const Matrix<Scalar>&, Matrix<Scalar>&>::value,
                  "attn::AttentionLoop::step: the cell must be callable as "
                  "void cell(const attn::Matrix<S>& cell_input, attn::Matrix<S>& cell_output)");
    if constexpr (std::is_invocable<Cell&, const Matrix<Scalar>&, Matrix<Scalar>&>::value) {
      static_assert(std::is_void<std::invoke_result_t<Cell&, const Matrix<Scalar>&, Matrix<Scalar>&>>::value,
                    "attn::AttentionLoop::step: the cell returns a value, which step() would drop; it must be "
                    "void cell(const attn::Matrix<S>& cell_input, attn::Matrix<S>& cell_output) and write "
                    "the 1xdq output into cell_output");
      static_assert(detail::cell_output_writable<Cell>(),
                    "attn::AttentionLoop::step: the cell's second parameter must be a non-const reference: "
                    "void cell(const attn::Matrix<S>& cell_input, attn::Matrix<S>& cell_output) writes the "
                    "1xdq output into cell_output");
    }
    constexpr const char* fn = "attn::AttentionLoop::step";
    // Before the cell runs, and naming step() (the attend() inside it would name itself): a
    // noisy monotonic memory needs a noise source at every step.
    if (memory_->is_monotonic())
      detail::check_monotonic_params(fn, memory_->monotonic(), !detail::is_no_noise<Noise>());
    // The caller's input width is an option that defaults to 0, so its message names the option.
    ATTN_CHECK(input.rows() == 1 && input.cols() == options_.input_size,
               std::string(fn) + ": input " + detail::shape(input.rows(), input.cols()) + " must be " +
                   detail::shape(1, options_.input_size) + ", 1 x options.input_size (AttentionLoopOptions::" +
                   "input_size, the width of the per-step input, 0 unless set)");
    // 1. cell input from the input and the previous attention
    if (options_.cell_input_fn) {
      input_ = input;
      options_.cell_input_fn(input_, attention_, cell_input_);
      detail::check_shape(fn, "cell_input (after options.cell_input_fn)", cell_input_, 1, cell_input_size_);
    } else {
      cell_input_.leftCols(options_.input_size) = input;
      cell_input_.rightCols(attention_size_) = attention_;
    }
    // 2. the caller's cell, on an output marked unwritten: a cell that skips an entry must not
    // attend with the previous step's value of it (a stale query gives plausible alignments).
    cell_output_.setConstant(detail::unwritten_marker<Scalar>());
    cell(static_cast<const Matrix<Scalar>&>(cell_input_), cell_output_);
    detail::check_shape(fn, "cell_output (after the cell)", cell_output_, 1, memory_->query_size());
    const Index unwritten = detail::first_unwritten(cell_output_);
    ATTN_CHECK(unwritten < 0, std::string(fn) + ": the cell left cell_output(0, " + std::to_string(unwritten) +
                                  ") unwritten, or computed it from cell_output's previous value: it must write "
                                  "the whole 1x" + std::to_string(cell_output_.cols()) +
                                  " query on every step (cell_output does not keep the previous step's; keep the "
                                  "cell's state in the cell)");
    // 3-4. alignment from the cell output and the previous alignment, then the context
    attend_into(*memory_, cell_output_, alignment_, context_, alignment_, ws_, std::forward<Noise>(noise));
    // 5. attention
    if (options_.attention_layer.size() != 0) {
      concat_.leftCols(cell_output_.cols()) = cell_output_;
      concat_.rightCols(context_.cols()) = context_;
      attention_.noalias() = concat_ * options_.attention_layer;
    } else {
      attention_ = context_;
    }
    // 6. history
    if (options_.alignment_history) history_.record(0, alignment_);
    // 7. output
    ++time_;
    return options_.output_attention ? attention_ : cell_output_;
  }

  /// Steps taken since construction or reset().
  /// \return t, the number of step() calls
  Index time() const { return time_; }
  /// The memory the loop attends. \return a reference to it (the loop does not own it)
  const Memory<Scalar>& memory() const { return *memory_; }
  /// The options the loop was built with. \return a reference to them
  const AttentionLoopOptions<Scalar>& options() const { return options_; }
  /// Width of the attention vector. \return the attention layer's units, or dv without a layer
  Index attention_size() const { return attention_size_; }
  /// Width of the cell input. \return options.cell_input_size, or input_size + attention_size()
  Index cell_input_size() const { return cell_input_size_; }
  /// Width of step()'s result.
  /// \return attention_size(), or dq when output_attention is off
  Index output_size() const { return options_.output_attention ? attention_size_ : memory_->query_size(); }

  /// The last step's values (1×n each); before the first step: zeros and the initial alignment.
  /// \return the cell input, 1×cell_input_size() (reset() leaves it as it was)
  const Matrix<Scalar>& cell_input() const { return cell_input_; }
  /// The last cell output (the query). \return 1×dq
  const Matrix<Scalar>& cell_output() const { return cell_output_; }
  /// The last context. \return 1×dv
  const Matrix<Scalar>& context() const { return context_; }
  /// The last attention vector. \return 1×attention_size()
  const Matrix<Scalar>& attention() const { return attention_; }
  /// 1×Tk (padding included, exactly 0 there).
  /// \return the last step's alignment, or the initial alignment before the first step
  const Matrix<Scalar>& alignment() const { return alignment_; }
  /// The last step's energies (1×Tk, -inf on padding).
  /// \return a view into the loop's workspace, valid until the next step
  Eigen::Map<const Matrix<Scalar>> scores() const { return ws_.scores(); }

  /// The alignment history (one sequence, T_in = memory.length()). Throws when it is off.
  /// \return the history, one row per step
  /// \throws attn::invalid_argument when options.alignment_history is off
  const AlignmentHistory<Scalar>& history() const {
    ATTN_CHECK(options_.alignment_history, "attn::AttentionLoop::history: options.alignment_history is off");
    return history_;
  }
  /// T_out×T_in alignments of every step so far.
  /// \return time()×memory.length(), a copy
  /// \throws attn::invalid_argument when options.alignment_history is off
  Matrix<Scalar> alignments() const { return history().matrix(0); }

 private:
  const Memory<Scalar>* memory_;
  AttentionLoopOptions<Scalar> options_;
  Index attention_size_ = 0;
  Index cell_input_size_ = 0;
  Index time_ = 0;
  Matrix<Scalar> input_;
  Matrix<Scalar> cell_input_;
  Matrix<Scalar> cell_output_;
  Matrix<Scalar> context_;
  Matrix<Scalar> attention_;
  Matrix<Scalar> concat_;
  Matrix<Scalar> alignment_;
  Workspace<Scalar> ws_;
  AlignmentHistory<Scalar> history_;
};

}  // namespace attn
