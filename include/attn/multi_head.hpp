// SPDX-License-Identifier: MIT
// Multi-head attention, numerically torch.nn.MultiheadAttention: project Q·Wq+bq, K·Wk+bk,
// V·Wv+bv, split the D columns into h heads, scaled dot-product per head (scale 1/sqrt(D/h)),
// concatenate, ·Wo+bo. Q is Tq×dq, K Tk×dk, V Tk×dv; output Tq×D; weights h×Tq×Tk per head.
#pragma once

#include "config.hpp"
#include "detail/attend.hpp"
#include "mask.hpp"
#include "result.hpp"
#include "scaled_dot_product.hpp"
#include "workspace.hpp"

#include <cmath>
#include <cstddef>
#include <exception>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// Semantics worth knowing (docs/03-multi-head.md explains them for users):
//
// - Weights: `result.weights` holds every head, h×Tq×Tk in one contiguous block (head-major,
//   each head column-major like attn::Matrix); `weights.head(i)` is an Eigen::Map on it (no
//   copy). `result.mean_weights()` is torch's default `average_attn_weights=True`.
//   `auto [output, weights] = attn::multi_head(...)` binds the output and the PER-HEAD
//   weights (attn's point is the heads; the mean is one cheap call away: `weights.mean()`).
// - Masks: one attn::Mask applies to every head. A query that sees no key gets all-zero
//   weights in every head and a zero attention output before the output projection, so its
//   output row is exactly `bo` (zero without bias) and it is flagged in `fully_masked`.
//   torch returns NaN for such a row; attn never does.
// - Threads: when the consumer compiles with OpenMP (-fopenmp), heads and batch items run in
//   parallel (one task per item and head; then one per item and block of output columns).
//   Each task writes only its own slices and its own workspace, and Eigen's GEMM runs
//   single-threaded (detail::SingleThreadedEigen: also in a team of one thread, as
//   OMP_DYNAMIC or OMP_THREAD_LIMIT may give, unless Eigen::setNbThreads asked for more), so
//   results are bit-identical with and without OpenMP, for any thread count and setting.
//   Consequence: one head of one sequence is one task; a single head (attn::scaled_dot_product
//   and the other mechanisms) shares its blocks of 256 query rows among the threads instead
//   (detail::attend_rows), and never inside this region. Called from inside an active
//   parallel region of the caller, attn's region has one thread.
// - Inputs are best passed as matrices, maps or column-major blocks: other expressions are
//   evaluated (into temporaries) by every product that reads them.

namespace attn {

/// Parameters of multi-head attention (Keras kernel layout: `in×out`, applied as `x·W`).
/// `D = wq.cols()` is the model width; `heads` must divide it. Biases are `1×D` or empty
/// (no bias). `dk`, `dv` may differ from `D` (torch's kdim, vdim); so may `dq` (torch ties it to D).
template <typename Scalar>
struct MultiHeadParams {
  Matrix<Scalar> wq;     ///< dq×D
  Matrix<Scalar> wk;     ///< dk×D
  Matrix<Scalar> wv;     ///< dv×D
  Matrix<Scalar> wo;     ///< D×D
  RowVector<Scalar> bq;  ///< 1×D or empty
  RowVector<Scalar> bk;  ///< 1×D or empty
  RowVector<Scalar> bv;  ///< 1×D or empty
  RowVector<Scalar> bo;  ///< 1×D or empty
  /// Number of heads h: >= 1 and a divisor of D.
  Index heads = 1;

  /// Model width D.
  /// \return `wq.cols()`
  Index model_dim() const { return wq.cols(); }
  /// Width of one head, D / heads (0 when heads < 1).
  /// \return `D / heads`
  Index head_dim() const { return heads > 0 ? wq.cols() / heads : 0; }

  /// From a `torch.nn.MultiheadAttention` with `kdim == vdim == embed_dim` (its state dict):
  /// `in_proj_weight` (3D×D), `in_proj_bias` (3D, as a row or column vector; empty when the
  /// module has `bias=False`), `out_proj.weight` (D×D), `out_proj.bias` (D, or empty).
  /// torch's `out×in` Linear weights are transposed to attn's `in×out`. Not supported:
  /// `add_bias_kv`, `add_zero_attn` (and dropout, which is off in eval mode anyway).
  /// \param in_proj_weight 3D×D, the rows of Wq, Wk, Wv stacked (torch `out×in`)
  /// \param in_proj_bias 3D values (bq, bk, bv), or empty for none
  /// \param out_proj_weight D×D (torch `out×in`)
  /// \param out_proj_bias D values, or empty for none
  /// \param num_heads h, >= 1 and a divisor of D
  /// \return the parameters in attn's `in×out` layout
  /// \throws attn::invalid_argument when a shape does not fit or h does not divide D
  template <typename DerivedW, typename DerivedB, typename DerivedWo, typename DerivedBo>
  static MultiHeadParams from_torch(const Eigen::MatrixBase<DerivedW>& in_proj_weight,
                                    const Eigen::MatrixBase<DerivedB>& in_proj_bias,
                                    const Eigen::MatrixBase<DerivedWo>& out_proj_weight,
                                    const Eigen::MatrixBase<DerivedBo>& out_proj_bias, Index num_heads);

  /// From a `torch.nn.MultiheadAttention` with `kdim` or `vdim` != `embed_dim`:
  /// `q_proj_weight` (D×dq), `k_proj_weight` (D×dk), `v_proj_weight` (D×dv), `in_proj_bias`
  /// (3D or empty), `out_proj.weight` (D×D), `out_proj.bias` (D or empty).
  template <typename DerivedWq, typename DerivedWk, typename DerivedWv, typename DerivedB, typename DerivedWo,
            typename DerivedBo>
  /// \param q_proj_weight D×dq (torch `out×in`)
  /// \param k_proj_weight D×dk
  /// \param v_proj_weight D×dv
  /// \param in_proj_bias 3D values (bq, bk, bv), or empty for none
  /// \param out_proj_weight D×D
  /// \param out_proj_bias D values, or empty for none
  /// \param num_heads h, >= 1 and a divisor of D
  /// \return the parameters in attn's `in×out` layout
  /// \throws attn::invalid_argument when a shape does not fit or h does not divide D
  static MultiHeadParams from_torch_separate(const Eigen::MatrixBase<DerivedWq>& q_proj_weight,
                                             const Eigen::MatrixBase<DerivedWk>& k_proj_weight,
                                             const Eigen::MatrixBase<DerivedWv>& v_proj_weight,
                                             const Eigen::MatrixBase<DerivedB>& in_proj_bias,
                                             const Eigen::MatrixBase<DerivedWo>& out_proj_weight,
                                             const Eigen::MatrixBase<DerivedBo>& out_proj_bias, Index num_heads);
};

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

  /// \cond INTERNAL
  // Head `i` without the range check (the kernels' own use).
  Eigen::Map<Matrix<Scalar>> unchecked_head(Index i) { return {data() + i * rows_ * cols_, rows_, cols_}; }
  /// \endcond

 private:
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

/// Output and per-head weights of one multi-head call.
///
/// `auto [output, weights] = attn::multi_head(...)` binds `output` (Tq×D) and the per-head
/// `weights` (HeadWeights, h×Tq×Tk); `mean_weights()` gives torch's averaged weights.
template <typename Scalar>
struct MultiHeadResult {
  Matrix<Scalar> output;        ///< Tq×D; a query that saw no key gets the row `bo` (0 without bias)
  HeadWeights<Scalar> weights;  ///< h×Tq×Tk; rows sum to 1 over visible keys, masked entries exactly 0
  HeadWeights<Scalar> scores;   ///< h×Tq×Tk scaled scores when Options::return_scores, else empty
  RowFlags fully_masked;        ///< Tq; true where the query saw no key in every head

  /// Number of queries that saw no key.
  /// \return the number of true entries of fully_masked
  Index num_fully_masked() const { return fully_masked.count(); }
  /// Weights averaged over heads (torch `average_attn_weights=True`), Tq×Tk.
  /// \return `weights.mean()`, a new matrix
  Matrix<Scalar> mean_weights() const { return weights.mean(); }

  /// Structured binding: `get<0>()` and `get<1>()` are the first two members.
  /// \tparam I 0 or 1
  /// \return a reference to the member
  template <std::size_t I>
  decltype(auto) get() & {
    static_assert(I < 2, "attn::MultiHeadResult binds as [output, weights]");
    if constexpr (I == 0) return (output); else return (weights);
  }
  /// Structured binding of a const result. \tparam I 0 or 1 \return a const reference
  template <std::size_t I>
  decltype(auto) get() const& {
    static_assert(I < 2, "attn::MultiHeadResult binds as [output, weights]");
    if constexpr (I == 0) return (output); else return (weights);
  }
  /// Structured binding of a temporary result. \tparam I 0 or 1 \return the moved member
  template <std::size_t I>
  decltype(auto) get() && {
    static_assert(I < 2, "attn::MultiHeadResult binds as [output, weights]");
    if constexpr (I == 0) return std::move(output); else return std::move(weights);
  }
};

/// Scratch for multi_head_into / multi_head_batch_into: projected Q/K/V and the concatenated
/// heads per sequence, one core Workspace per (sequence, head). Grows, never shrinks: steady-
/// state calls allocate nothing. After a call it reports, per batch item, the fully masked
/// rows and (with Options::return_scores) the per-head scores.
template <typename Scalar>
class MultiHeadWorkspace {
 public:
  /// Queries of batch item `item` (0 for multi_head_into) that saw no key in every head.
  /// \param item batch item of the last call (default 0)
  /// \return Tq flags of that item, a view into this workspace (valid until its next use)
  /// \throws attn::invalid_argument when `item` is outside [0, number of items of the last call)
  Eigen::Map<const RowFlags> fully_masked(Index item = 0) const {
    check_item("attn::MultiHeadWorkspace::fully_masked", item);
    const Item& it = items_[static_cast<std::size_t>(item)];
    return {it.flags.data(), it.flag_count};
  }
  /// Number of such rows.
  /// \param item batch item of the last call (default 0)
  /// \return the number of true flags in fully_masked(item)
  /// \throws attn::invalid_argument when `item` is out of range
  Index num_fully_masked(Index item = 0) const { return fully_masked(item).count(); }
  /// Per-head scaled scores of the last call made with Options::return_scores, else stale.
  /// \param item batch item of the last call (default 0)
  /// \return h×Tq×Tk scores of that item, owned by this workspace
  /// \throws attn::invalid_argument when `item` is out of range
  const HeadWeights<Scalar>& scores(Index item = 0) const {
    check_item("attn::MultiHeadWorkspace::scores", item);
    return items_[static_cast<std::size_t>(item)].scores;
  }

  /// \cond INTERNAL
  // Scratch used by the kernels; not part of the API.
  struct Item {
    detail::Buffer<Scalar> q;       // Tq×D projected queries
    detail::Buffer<Scalar> k;       // Tk×D projected keys
    detail::Buffer<Scalar> v;       // Tk×D projected values
    detail::Buffer<Scalar> concat;  // Tq×D heads' outputs side by side
    RowFlags flags;
    Index flag_count = 0;
    HeadWeights<Scalar> scores;
  };
  std::vector<Item> items_;
  std::vector<Workspace<Scalar>> heads_;  // item-major: heads_[item·h + head]
  Index used_ = 0;                        // items of the last call
  /// \endcond

 private:
  void check_item(const char* fn, Index item) const {
    ATTN_CHECK(item >= 0 && item < used_, std::string(fn) + ": item (" + std::to_string(item) +
                                              ") must be in [0, " + std::to_string(used_) + ")");
  }
};

namespace detail {

/// `T` in a parameter that must not take part in template argument deduction.
template <typename T>
struct NoDeduceT {
  using type = T;
};
template <typename T>
using NoDeduce = typename NoDeduceT<T>::type;

template <typename Scalar>
void check_bias(const char* fn, const char* what, const RowVector<Scalar>& b, Index d) {
  ATTN_CHECK(b.size() == 0 || b.cols() == d,
             std::string(fn) + ": " + what + " " + shape(b) + " must be " + shape(1, d) + " or empty");
}

template <typename Scalar>
void check_multi_head_params(const char* fn, const MultiHeadParams<Scalar>& p) {
  const Index d = p.wq.cols();
  ATTN_CHECK(p.heads >= 1, std::string(fn) + ": heads (" + std::to_string(p.heads) + ") must be >= 1");
  ATTN_CHECK(d % p.heads == 0, std::string(fn) + ": heads (" + std::to_string(p.heads) +
                                   ") must divide the model width D (" + std::to_string(d) + ")");
  check_equal(fn, "params.wk.cols()", p.wk.cols(), "params.wq.cols()", d);
  check_equal(fn, "params.wv.cols()", p.wv.cols(), "params.wq.cols()", d);
  check_shape(fn, "params.wo", p.wo, d, d);
  check_bias(fn, "params.bq", p.bq, d);
  check_bias(fn, "params.bk", p.bk, d);
  check_bias(fn, "params.bv", p.bv, d);
  check_bias(fn, "params.bo", p.bo, d);
}

/// Every check scaled_dot_product_into would make for any head, made once before the
/// (possibly parallel) work starts: nothing may throw inside an OpenMP region.
template <typename Scalar, typename DerivedQ, typename DerivedK, typename DerivedV>
void check_multi_head_inputs(const char* fn, const Eigen::MatrixBase<DerivedQ>& q,
                             const Eigen::MatrixBase<DerivedK>& k, const Eigen::MatrixBase<DerivedV>& v,
                             const MultiHeadParams<Scalar>& p, const Mask& mask) {
  check_equal(fn, "q.cols()", q.cols(), "params.wq.rows()", p.wq.rows());
  check_equal(fn, "k.cols()", k.cols(), "params.wk.rows()", p.wk.rows());
  check_equal(fn, "v.cols()", v.cols(), "params.wv.rows()", p.wv.rows());
  check_equal(fn, "v.rows()", v.rows(), "k.rows()", k.rows());
  mask.check(fn, q.rows(), k.rows());
}

template <typename Scalar>
void check_multi_head_options(const char* fn, const Options& options) {
  detail::check_scale<Scalar>(fn, options.scale);
  detail::check_probability(fn, options.probability);
}

template <typename Scalar, typename Derived>
RowVector<Scalar> torch_vector(const char* fn, const char* what, const Eigen::MatrixBase<Derived>& b, Index n) {
  ATTN_CHECK(b.size() == 0 || ((b.rows() == 1 || b.cols() == 1) && b.size() == n),
             std::string(fn) + ": " + what + " " + shape(b) + " must hold " + std::to_string(n) +
                 " values (a row or column vector) or none");
  if (b.size() == 0) return RowVector<Scalar>();
  return b.reshaped(1, n);
}

/// The multi-head kernel over a batch. `q_of(b)`, `k_of(b)`, `v_of(b)`, `mask_of(b)` give item
/// b's inputs, `output_of(b)` its Tq×D output, `weights_of(b)` its HeadWeights. All arguments
/// are valid (checked by the caller). Tasks (item, head) project, attend and write their
/// columns of the concatenation; then tasks (item, column block) apply the output projection.
template <typename Scalar, typename QOf, typename KOf, typename VOf, typename MaskOf, typename OutputOf,
          typename WeightsOf>
void multi_head_run(Index batch, const QOf& q_of, const KOf& k_of, const VOf& v_of, const MaskOf& mask_of,
                    const MultiHeadParams<Scalar>& p, const OutputOf& output_of, const WeightsOf& weights_of,
                    MultiHeadWorkspace<Scalar>& ws, const Options& options) {
  const Index h = p.heads;
  const Index d = p.model_dim();
  const Index dh = p.head_dim();
  const Index tasks = batch * h;
  const SingleThreadedEigen serial;  // Eigen's products single-threaded in a team of any size
  const Index threads = max_threads();

  // Size everything outside the parallel region (growth only; nothing here in steady state).
  if (static_cast<Index>(ws.items_.size()) < batch) ws.items_.resize(static_cast<std::size_t>(batch));
  if (static_cast<Index>(ws.heads_.size()) < tasks) ws.heads_.resize(static_cast<std::size_t>(tasks));
  ws.used_ = batch;
  for (Index b = 0; b < batch; ++b) {
    auto& it = ws.items_[static_cast<std::size_t>(b)];
    const Index tq = q_of(b).rows();
    const Index tk = k_of(b).rows();
    it.q.matrix(tq, d);
    it.k.matrix(tk, d);
    it.v.matrix(tk, d);
    it.concat.matrix(tq, d);
    if (it.flags.size() < tq) it.flags.resize(tq);
    it.flag_count = tq;
    weights_of(b).resize(h, tq, tk);
    if (options.return_scores) it.scores.resize(h, tq, tk);
    for (Index i = 0; i < h; ++i) {
      auto& hw = ws.heads_[static_cast<std::size_t>(b * h + i)];
      hw.flags(tq);
      hw.sort_.matrix(detail::normalize_scratch_size(tk), 1);
      if (options.return_scores) hw.scores_.matrix(tq, tk);
    }
  }

  // A head's projection, attention, and its block of the concatenation.
  const auto attend = [&](Index t) {
    const Index b = t / h;
    const Index i = t % h;
    const Index c0 = i * dh;
    auto& it = ws.items_[static_cast<std::size_t>(b)];
    auto& hw = ws.heads_[static_cast<std::size_t>(t)];
    auto qp = it.q.view();
    auto kp = it.k.view();
    auto vp = it.v.view();
    auto qh = qp.middleCols(c0, dh);
    auto kh = kp.middleCols(c0, dh);
    auto vh = vp.middleCols(c0, dh);
    qh.noalias() = q_of(b) * p.wq.middleCols(c0, dh);
    kh.noalias() = k_of(b) * p.wk.middleCols(c0, dh);
    vh.noalias() = v_of(b) * p.wv.middleCols(c0, dh);
    if (p.bq.size() != 0) qh.rowwise() += p.bq.segment(c0, dh);
    if (p.bk.size() != 0) kh.rowwise() += p.bk.segment(c0, dh);
    if (p.bv.size() != 0) vh.rowwise() += p.bv.segment(c0, dh);
    auto concat = it.concat.view();
    auto oh = concat.middleCols(c0, dh);
    auto w = weights_of(b).unchecked_head(i);
    scaled_dot_product_into(qh, kh, vh, oh, w, hw, mask_of(b), options);
    if (options.return_scores) it.scores.unchecked_head(i) = hw.scores();
  };

  // True where query r of item b saw no key, in every head.
  const auto masked_everywhere = [&](Index b, Index r) {
    for (Index i = 0; i < h; ++i)
      if (!ws.heads_[static_cast<std::size_t>(b * h + i)].fully_masked()(r)) return false;
    return true;
  };

  // Output columns [c0, c0 + dh) of item b: concat·Wo + bo; fully masked rows get exactly bo.
  const auto project = [&](Index t) {
    const Index b = t / h;
    const Index c0 = (t % h) * dh;
    auto& it = ws.items_[static_cast<std::size_t>(b)];
    auto&& out = output_of(b);
    auto ob = out.middleCols(c0, dh);
    ob.noalias() = it.concat.view() * p.wo.middleCols(c0, dh);
    if (p.bo.size() != 0) ob.rowwise() += p.bo.segment(c0, dh);
    for (Index r = 0; r < ob.rows(); ++r) {
      if (!masked_everywhere(b, r)) continue;
      if (p.bo.size() != 0) {
        ob.row(r) = p.bo.segment(c0, dh);
      } else {
        ob.row(r).setZero();
      }
    }
  };

  std::exception_ptr error;
  const auto guarded = [&error](const auto& task, Index t) {
    try {
      task(t);
    } catch (...) {
#ifdef _OPENMP
#pragma omp critical(attn_multi_head_error)
#endif
      {
        if (!error) error = std::current_exception();
      }
    }
  };

#ifdef _OPENMP
#pragma omp parallel num_threads(static_cast<int>(threads))
#else
  static_cast<void>(threads);
#endif
  {
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (Index t = 0; t < tasks; ++t) guarded(attend, t);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (Index t = 0; t < tasks; ++t) guarded(project, t);
  }
  if (error) std::rethrow_exception(error);

  for (Index b = 0; b < batch; ++b) {
    auto& it = ws.items_[static_cast<std::size_t>(b)];
    for (Index r = 0; r < it.flag_count; ++r) it.flags(r) = masked_everywhere(b, r);
  }
}

template <typename Scalar, typename... Derived>
constexpr void check_multi_head_scalars() {
  check_scalar<Scalar>();
  static_assert((std::is_same<Scalar, typename Derived::Scalar>::value && ...),
                "attn::multi_head: inputs and parameters must share one scalar type; use .cast<T>()");
}

/// "fn: item b: rest" from an exception message "fn: rest".
inline std::string item_message(const char* fn, Index b, const std::string& message) {
  const std::string prefix = std::string(fn) + ": ";
  const std::string rest = message.compare(0, prefix.size(), prefix) == 0 ? message.substr(prefix.size()) : message;
  return prefix + "item " + std::to_string(b) + ": " + rest;
}

}  // namespace detail

/// Multi-head attention into caller-owned `output` (Tq×D) and `weights` (resized to
/// h×Tq×Tk; storage grows only), with scratch `ws`; allocates nothing once `ws` and
/// `weights` have seen shapes this large. `options.scale` overrides 1/sqrt(D/h);
/// `options.probability` applies per head. Returns the number of queries that saw no key
/// (which ones: `ws.fully_masked()`; per-head scores: `ws.scores()`).
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params projections, biases and the head count h
/// \param output Tq×D, written
/// \param weights resized to h×Tq×Tk and written; rows sum to 1 over visible keys
/// \param ws reusable scratch; reports the fully masked rows and the scores of the last call
/// \param mask which keys each query may see, in every head (default: all)
/// \param options probability function, return_scores and the scale
/// \return the number of queries that saw no key
/// \throws attn::invalid_argument for bad parameters (h < 1 or not dividing D, shapes), inputs
///         whose widths do not match them, an `output` not Tq×D, a mask that does not fit, or a
///         non-finite scale
template <typename DerivedQ, typename DerivedK, typename DerivedV, typename Scalar>
Index multi_head_into(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                      const Eigen::MatrixBase<DerivedV>& v, const MultiHeadParams<Scalar>& params,
                      detail::NoDeduce<Eigen::Ref<Matrix<Scalar>>> output, HeadWeights<Scalar>& weights,
                      MultiHeadWorkspace<Scalar>& ws,
                      const Mask& mask = Mask(), const Options& options = Options()) {
  detail::check_multi_head_scalars<Scalar, DerivedQ, DerivedK, DerivedV>();
  constexpr const char* fn = "attn::multi_head";
  detail::check_multi_head_params(fn, params);
  detail::check_multi_head_inputs(fn, q, k, v, params, mask);
  detail::check_shape(fn, "output", output, q.rows(), params.model_dim());
  detail::check_multi_head_options<Scalar>(fn, options);
  detail::multi_head_run(
      1, [&](Index) -> const DerivedQ& { return q.derived(); }, [&](Index) -> const DerivedK& { return k.derived(); },
      [&](Index) -> const DerivedV& { return v.derived(); }, [&](Index) -> const Mask& { return mask; }, params,
      [&](Index) -> Eigen::Ref<Matrix<Scalar>>& { return output; },
      [&](Index) -> HeadWeights<Scalar>& { return weights; }, ws, options);
  return ws.num_fully_masked(0);
}

/// Multi-head attention (cross attention: Q Tq×dq attends to K Tk×dk, V Tk×dv). Returns the
/// output (Tq×D), the per-head weights (h×Tq×Tk), the fully masked rows and, with
/// `options.return_scores`, the per-head scaled scores.
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params projections, biases and the head count h
/// \param mask which keys each query may see, in every head (default: all)
/// \param options probability function, return_scores and the scale
/// \return output, per-head weights, fully_masked (and scores when asked)
/// \throws attn::invalid_argument as multi_head_into does
template <typename DerivedQ, typename DerivedK, typename DerivedV, typename Scalar>
MultiHeadResult<Scalar> multi_head(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                                   const Eigen::MatrixBase<DerivedV>& v, const MultiHeadParams<Scalar>& params,
                                   const Mask& mask = Mask(), const Options& options = Options()) {
  detail::check_multi_head_scalars<Scalar, DerivedQ, DerivedK, DerivedV>();
  // Shape checks first, so that a bad call throws before anything is allocated.
  detail::check_multi_head_params("attn::multi_head", params);
  MultiHeadResult<Scalar> r;
  r.output.resize(q.rows(), params.model_dim());
  MultiHeadWorkspace<Scalar> ws;
  multi_head_into(q, k, v, params, r.output, r.weights, ws, mask, options);
  r.fully_masked = ws.fully_masked(0);
  if (options.return_scores) r.scores = ws.scores(0);
  return r;
}

/// Multi-head self-attention: `multi_head(x, x, x, params, mask, options)`.
/// \param x the sequence, T×d (queries, keys and values)
/// \param params projections, biases and the head count h
/// \param mask which keys each query may see (default: all; Mask::causal() for a decoder)
/// \param options probability function, return_scores and the scale
/// \return output T×D, per-head weights h×T×T, fully_masked (and scores when asked)
/// \throws attn::invalid_argument as multi_head_into does
template <typename DerivedX, typename Scalar>
MultiHeadResult<Scalar> multi_head(const Eigen::MatrixBase<DerivedX>& x, const MultiHeadParams<Scalar>& params,
                                   const Mask& mask = Mask(), const Options& options = Options()) {
  return multi_head(x, x, x, params, mask, options);
}

/// Multi-head attention over a batch of sequences, each with its own lengths, in one call:
/// item `b` is `q[b]` (Tq_b×dq), `k[b]` (Tk_b×dk), `v[b]` (Tk_b×dv) under `masks[b]`
/// (`masks` empty: no mask; else one per item, e.g. Mask::key_length(n_b) for padded keys).
/// `q`, `k`, `v` are any containers with size() and operator[] giving Eigen matrices, maps or
/// blocks (std::vector<Eigen::MatrixXf>, ...). Results go to `results[b]` (resized to the
/// batch; an item's output and weights are reallocated only when its shape changes).
/// Items and heads run in parallel under OpenMP; results equal per-item multi_head calls bit
/// for bit. Fully masked rows of item b: `results[b].fully_masked` and `ws.fully_masked(b)`.
/// \param q queries per item, Tq_b×dq
/// \param k keys per item, Tk_b×dk
/// \param v values per item, Tk_b×dv
/// \param params projections, biases and the head count h, shared by every item
/// \param results resized to the batch; item b's output Tq_b×D, weights h×Tq_b×Tk_b, flags
///        (and scores when asked) are written
/// \param ws reusable scratch for every item and head
/// \param masks empty (default), or one mask per item
/// \param options probability function, return_scores and the scale
/// \throws attn::invalid_argument when `k`, `v` or a non-empty `masks` differ in size from
///         `q`, or as multi_head_into does for an item (the message names the item)
template <typename QSeq, typename KSeq, typename VSeq, typename Scalar>
void multi_head_batch_into(const QSeq& q, const KSeq& k, const VSeq& v, const MultiHeadParams<Scalar>& params,
                           std::vector<MultiHeadResult<Scalar>>& results, MultiHeadWorkspace<Scalar>& ws,
                           const std::vector<Mask>& masks = {}, const Options& options = Options()) {
  using Q = std::decay_t<decltype(q[0])>;
  using K = std::decay_t<decltype(k[0])>;
  using V = std::decay_t<decltype(v[0])>;
  detail::check_multi_head_scalars<Scalar, Q, K, V>();
  constexpr const char* fn = "attn::multi_head_batch";
  const Index batch = static_cast<Index>(q.size());
  detail::check_equal(fn, "k.size()", static_cast<Index>(k.size()), "q.size()", batch);
  detail::check_equal(fn, "v.size()", static_cast<Index>(v.size()), "q.size()", batch);
  ATTN_CHECK(masks.empty() || static_cast<Index>(masks.size()) == batch,
             std::string(fn) + ": masks.size() (" + std::to_string(masks.size()) + ") must be 0 or q.size() (" +
                 std::to_string(batch) + ")");
  detail::check_multi_head_params(fn, params);
  detail::check_multi_head_options<Scalar>(fn, options);
  const Mask none;
  const auto mask_of = [&](Index b) -> const Mask& {
    return masks.empty() ? none : masks[static_cast<std::size_t>(b)];
  };
  for (Index b = 0; b < batch; ++b) {
    const auto i = static_cast<std::size_t>(b);
    try {
      detail::check_multi_head_inputs(fn, q[i], k[i], v[i], params, mask_of(b));
    } catch (const invalid_argument& e) {
      throw invalid_argument(detail::item_message(fn, b, e.what()));
    }
  }

  if (static_cast<Index>(results.size()) != batch) results.resize(static_cast<std::size_t>(batch));
  for (Index b = 0; b < batch; ++b) {
    auto& r = results[static_cast<std::size_t>(b)];
    r.output.resize(q[static_cast<std::size_t>(b)].rows(), params.model_dim());
  }
  detail::multi_head_run(
      batch, [&](Index b) -> const Q& { return q[static_cast<std::size_t>(b)]; },
      [&](Index b) -> const K& { return k[static_cast<std::size_t>(b)]; },
      [&](Index b) -> const V& { return v[static_cast<std::size_t>(b)]; }, mask_of, params,
      [&](Index b) -> Matrix<Scalar>& { return results[static_cast<std::size_t>(b)].output; },
      [&](Index b) -> HeadWeights<Scalar>& { return results[static_cast<std::size_t>(b)].weights; }, ws, options);
  for (Index b = 0; b < batch; ++b) {
    auto& r = results[static_cast<std::size_t>(b)];
    const auto flags = ws.fully_masked(b);
    if (r.fully_masked.size() != flags.size()) r.fully_masked.resize(flags.size());
    r.fully_masked = flags;
    if (options.return_scores) {
      const auto& s = ws.scores(b);
      r.scores.resize(s.heads(), s.rows(), s.cols());
      Eigen::Map<Vector<Scalar>>(r.scores.data(), s.size()) = Eigen::Map<const Vector<Scalar>>(s.data(), s.size());
    }
  }
}

/// Value form of multi_head_batch_into: one MultiHeadResult per item.
/// \param q queries per item, Tq_b×dq
/// \param k keys per item, Tk_b×dk
/// \param v values per item, Tk_b×dv
/// \param params projections, biases and the head count h
/// \param masks empty (default), or one mask per item
/// \param options probability function, return_scores and the scale
/// \return `q.size()` results, in item order
/// \throws attn::invalid_argument as multi_head_batch_into does
template <typename QSeq, typename KSeq, typename VSeq, typename Scalar>
std::vector<MultiHeadResult<Scalar>> multi_head_batch(const QSeq& q, const KSeq& k, const VSeq& v,
                                                      const MultiHeadParams<Scalar>& params,
                                                      const std::vector<Mask>& masks = {},
                                                      const Options& options = Options()) {
  std::vector<MultiHeadResult<Scalar>> results;
  MultiHeadWorkspace<Scalar> ws;
  multi_head_batch_into(q, k, v, params, results, ws, masks, options);
  return results;
}

// --- loading PyTorch weights -----------------------------------------------------------------

namespace detail {

/// The torch biases (in_proj_bias 3D split into bq, bk, bv; out_proj_bias as bo) and the head
/// count, then the parameter checks shared by the torch loaders.
template <typename Scalar, typename DerivedB, typename DerivedBo>
void finish_torch_params(const char* fn, MultiHeadParams<Scalar>& p, const Eigen::MatrixBase<DerivedB>& in_proj_bias,
                         const Eigen::MatrixBase<DerivedBo>& out_proj_bias, Index num_heads) {
  const Index d = p.wo.rows();
  const RowVector<Scalar> b = torch_vector<Scalar>(fn, "in_proj_bias", in_proj_bias, 3 * d);
  if (b.size() != 0) {
    p.bq = b.segment(0, d);
    p.bk = b.segment(d, d);
    p.bv = b.segment(2 * d, d);
  }
  p.bo = torch_vector<Scalar>(fn, "out_proj_bias", out_proj_bias, d);
  p.heads = num_heads;
  check_multi_head_params(fn, p);
}

}  // namespace detail

/// \cond INTERNAL
// Definitions of the loaders; their documentation is at the declarations in MultiHeadParams.
template <typename Scalar>
template <typename DerivedW, typename DerivedB, typename DerivedWo, typename DerivedBo>
MultiHeadParams<Scalar> MultiHeadParams<Scalar>::from_torch(const Eigen::MatrixBase<DerivedW>& in_proj_weight,
                                                            const Eigen::MatrixBase<DerivedB>& in_proj_bias,
                                                            const Eigen::MatrixBase<DerivedWo>& out_proj_weight,
                                                            const Eigen::MatrixBase<DerivedBo>& out_proj_bias,
                                                            Index num_heads) {
  detail::check_multi_head_scalars<Scalar, DerivedW, DerivedB, DerivedWo, DerivedBo>();
  constexpr const char* fn = "attn::MultiHeadParams::from_torch";
  const Index d = in_proj_weight.cols();
  detail::check_equal(fn, "in_proj_weight.rows()", in_proj_weight.rows(), "3 * in_proj_weight.cols()", 3 * d);
  detail::check_shape(fn, "out_proj_weight", out_proj_weight, d, d);
  MultiHeadParams p;
  p.wq = in_proj_weight.topRows(d).transpose();
  p.wk = in_proj_weight.middleRows(d, d).transpose();
  p.wv = in_proj_weight.bottomRows(d).transpose();
  p.wo = out_proj_weight.transpose();
  detail::finish_torch_params(fn, p, in_proj_bias, out_proj_bias, num_heads);
  return p;
}

template <typename Scalar>
template <typename DerivedWq, typename DerivedWk, typename DerivedWv, typename DerivedB, typename DerivedWo,
          typename DerivedBo>
MultiHeadParams<Scalar> MultiHeadParams<Scalar>::from_torch_separate(
    const Eigen::MatrixBase<DerivedWq>& q_proj_weight, const Eigen::MatrixBase<DerivedWk>& k_proj_weight,
    const Eigen::MatrixBase<DerivedWv>& v_proj_weight, const Eigen::MatrixBase<DerivedB>& in_proj_bias,
    const Eigen::MatrixBase<DerivedWo>& out_proj_weight, const Eigen::MatrixBase<DerivedBo>& out_proj_bias,
    Index num_heads) {
  detail::check_multi_head_scalars<Scalar, DerivedWq, DerivedWk, DerivedWv, DerivedB, DerivedWo, DerivedBo>();
  constexpr const char* fn = "attn::MultiHeadParams::from_torch_separate";
  const Index d = q_proj_weight.rows();
  detail::check_equal(fn, "k_proj_weight.rows()", k_proj_weight.rows(), "q_proj_weight.rows()", d);
  detail::check_equal(fn, "v_proj_weight.rows()", v_proj_weight.rows(), "q_proj_weight.rows()", d);
  detail::check_shape(fn, "out_proj_weight", out_proj_weight, d, d);
  MultiHeadParams p;
  p.wq = q_proj_weight.transpose();
  p.wk = k_proj_weight.transpose();
  p.wv = v_proj_weight.transpose();
  p.wo = out_proj_weight.transpose();
  detail::finish_torch_params(fn, p, in_proj_bias, out_proj_bias, num_heads);
  return p;
}
/// \endcond

}  // namespace attn

template <typename Scalar>
struct std::tuple_size<attn::MultiHeadResult<Scalar>> : std::integral_constant<std::size_t, 2> {};

template <typename Scalar>
struct std::tuple_element<0, attn::MultiHeadResult<Scalar>> {
  using type = attn::Matrix<Scalar>;
};

template <typename Scalar>
struct std::tuple_element<1, attn::MultiHeadResult<Scalar>> {
  using type = attn::HeadWeights<Scalar>;
};
