// SPDX-License-Identifier: MIT
// Multi-head self-attention over a growing cache (attn::KVCache): each append projects the keys
// x·Wk + bk and values x·Wv + bv of P new positions per beam (P = 1: a decoding step; more: a
// prompt, a chunk of one, or draft tokens to verify) into steps×(g·dh) keys and steps×(g·dhv)
// values per beam (g key/value heads, key/value head j = columns [j·dh, (j+1)·dh) and
// [j·dhv, (j+1)·dhv)); attn::attend_into then attends each beam's last P positions over its own
// cache (causal by construction: a position sees itself and the positions before it).
// Beam search reorders the beams by parent indices through an indirection (see reorder()).
#pragma once

#include "config.hpp"
#include "detail/checks.hpp"
#include "detail/multi_head_step.hpp"
#include "head_weights.hpp"
#include "history.hpp"
#include "mask.hpp"
#include "multi_head.hpp"
#include "multi_head_params.hpp"
#include "multi_head_workspace.hpp"
#include "options.hpp"
#include "scaled_dot_product.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace attn {

/// The projected keys and values of the positions decoded so far, per beam, for one
/// self-attention layer (PyTorch's `past_key_values`, CTranslate2's layer cache). Keys are
/// `x·Wk + bk`, values `x·Wv + bv`, unscaled (the step scales the query, as torch does); with
/// `params.rotary` each key is rotated at its position (the index it was appended at), and a
/// step's queries at the last appended positions.
///
/// One append and one attend_into may carry P positions per beam: a whole prompt (prefill),
/// a chunk of one, or draft tokens to verify (truncate() rolls back the rejected ones). The P
/// queries of a beam see the cache causally, as `multi_head` with `Mask::causal()` over the whole
/// sequence (with set_window, `Mask::window(W − 1, 0)`; with set_attention_chunk, `Mask::causal()
/// & Mask::chunked(C, 0, left_chunks)`): bit for bit what P one-position steps give when
/// B·P ≤ 8, within rounding beyond.
///
/// Storage: one slot per beam, each a `capacity×(g·dh)` matrix of keys and a `capacity×(g·dhv)`
/// one of values (torch: `capacity×D` each; g the key/value heads: h unless grouped-query
/// attention, whose cache is h/g times smaller), reserved
/// ahead (`reserve`, or the constructor's `reserve_steps`) and doubled when a step goes past it
/// (the only time append allocates). Beam `b` reads slot `slot(b)`: reorder(parents) re-points
/// beams at their parents' slots and copies a cache only when a parent is chosen by more than
/// one beam (the second and later children get a copy, in the slot of a beam nobody chose); a
/// permutation of the beams copies nothing. It keeps a pointer to the parameters, which must
/// outlive it.
template <typename Scalar>
class KVCache {
 public:
  /// View of one beam's keys (steps×(g·dh)) or values (steps×(g·dhv)); rows are positions.
  using View = Eigen::Block<const Matrix<Scalar>>;

  /// An empty cache of `beams` beams with room for `reserve_steps` positions.
  /// \param params the layer's self-attention parameters (dk = dv = the input width); they must
  ///        outlive the cache (a temporary does not compile)
  /// \param beams B, >= 1
  /// \param reserve_steps positions reserved ahead, >= 0
  /// \throws attn::invalid_argument for bad parameters, `beams < 1` or `reserve_steps < 0`
  explicit KVCache(const MultiHeadParams<Scalar>& params, Index beams = 1, Index reserve_steps = 0)
      : params_(&params), stamp_(detail::ParamsStamp::of(params)) {
    constexpr const char* fn = "attn::KVCache";
    detail::check_multi_head_params(fn, params);
    detail::check_no_appended_keys(fn, params);
    ATTN_CHECK(beams >= 1, std::string(fn) + ": beams (" + std::to_string(beams) + ") must be >= 1");
    const auto count = static_cast<std::size_t>(beams);
    keys_.resize(count);
    values_.resize(count);
    slot_of_.resize(count);
    next_slot_.resize(count);
    taken_.resize(count);
    for (std::size_t b = 0; b < count; ++b) {
      slot_of_[b] = static_cast<Index>(b);
      keys_[b].resize(0, params.wk.cols());
      values_[b].resize(0, params.wv.cols());
    }
    projected_k_.resize(beams, params.wk.cols());
    projected_v_.resize(beams, params.wv.cols());
    row_in_.resize(std::max(params.wk.rows(), params.wv.rows()));
    row_out_.resize(std::max(params.wk.cols(), params.wv.cols()));
    reserve(reserve_steps);
  }
  KVCache(const MultiHeadParams<Scalar>&& params, Index beams = 1, Index reserve_steps = 0) = delete;

  /// The parameters (the cache points at them: they must stay alive, at one address and of one
  /// shape while it is used).
  /// \return a reference (the cache does not own them)
  /// \throws attn::invalid_argument when they no longer have the shapes they had (moved out of,
  ///         e.g. by a growing std::vector, or destroyed), saying so
  const MultiHeadParams<Scalar>& params() const {
    stamp_.check(*params_, "attn::KVCache");
    return *params_;
  }
  /// Number of beams B. \return B
  Index beams() const { return static_cast<Index>(slot_of_.size()); }
  /// Positions cached per beam (the decoding step t). \return t
  Index steps() const { return steps_; }
  /// Positions each beam holds before append allocates. \return the capacity
  Index capacity() const { return capacity_; }
  /// The slot beam `b` reads (reorder re-points beams instead of copying).
  /// \param b beam, in `[0, B)` \return its slot, in `[0, B)`
  /// \throws attn::invalid_argument when `b` is out of range
  Index slot(Index b) const { return slot_of_[checked(b, "slot")]; }
  /// Caches copied by the last reorder (beams whose parent was already taken). \return the count
  Index last_reorder_copies() const { return copies_; }

  /// Beam `b`'s projected keys `x·Wk + bk`, one row per position.
  /// \param b beam, in `[0, B)` \return steps×(g·dh) (torch: steps×D), valid until the next
  ///        append, reserve or reorder
  /// \throws attn::invalid_argument when `b` is out of range
  View keys(Index b) const { return keys_[slot_index(checked(b, "keys"))].topRows(steps_); }
  /// Beam `b`'s projected values `x·Wv + bv`.
  /// \param b beam, in `[0, B)` \return steps×(g·dhv) (torch: steps×D), valid until the next
  ///        append, reserve or reorder
  /// \throws attn::invalid_argument when `b` is out of range
  View values(Index b) const { return values_[slot_index(checked(b, "values"))].topRows(steps_); }

  /// Makes room for `steps` positions per beam (never shrinks; keeps the cached positions).
  /// \param steps capacity wanted, >= 0 \throws attn::invalid_argument when `steps < 0`
  void reserve(Index steps) {
    ATTN_CHECK(steps >= 0, "attn::KVCache::reserve: steps (" + std::to_string(steps) + ") must be >= 0");
    if (steps <= capacity_) return;
    detail::checked_product("attn::KVCache::reserve", "steps·g·dh", {steps, params().wk.cols()});
    detail::checked_product("attn::KVCache::reserve", "steps·g·dhv", {steps, params().wv.cols()});
    for (auto* store : {&keys_, &values_}) {
      for (auto& m : *store) {
        Matrix<Scalar> grown(steps, m.cols());
        grown.topRows(steps_) = m.topRows(steps_);
        m.swap(grown);
      }
    }
    capacity_ = steps;
  }

  /// Sliding-window attention (transformers' `sliding_window`: Mistral 7B v0.1, the local layers
  /// of Gemma 2 and 3): from the next attend on, each query sees itself and the `window − 1`
  /// positions before it, no earlier one (`multi_head`'s equivalent: `Mask::window(window − 1,
  /// 0)`). The cache still holds every position, and a weights row is still steps() wide, 0
  /// outside the window. 0, the default: every earlier position (plain causal attention).
  /// \param window W, the most keys a query sees, >= 0 (0: no window)
  /// \throws attn::invalid_argument when `window < 0`, or when the cache has attention chunks
  void set_window(Index window) {
    ATTN_CHECK(window >= 0, "attn::KVCache::set_window: window (" + std::to_string(window) +
                                ") must be >= 0 (0: no window, every earlier position)");
    ATTN_CHECK(window == 0 || chunk_ == 0, "attn::KVCache::set_window: the cache has attention chunks of " +
                                               std::to_string(chunk_) +
                                               " (set_attention_chunk); a layer has a sliding window or chunks, "
                                               "not both");
    window_ = window;
  }
  /// The sliding window (set_window). \return W, or 0 when a query sees every earlier position
  Index window() const { return window_; }

  /// Chunked attention (transformers' `attention_chunk_size`: Llama 4's layers with a rotary
  /// embedding; with `left_chunks`, a streaming speech encoder's or decoder's chunk mask): from the
  /// next attend on, the positions are cut into chunks of `size`, and the query at position t sees
  /// the positions of its own chunk up to itself and of the `left_chunks` chunks before it,
  /// `[(floor(t / size) − left_chunks)·size, t]` (from 0 at the start; `multi_head`'s equivalent:
  /// `Mask::causal() & Mask::chunked(size, 0, left_chunks)`). The cache still holds every
  /// position, and a weights row is still steps() wide, 0 outside the chunks. 0, the default: no
  /// chunks.
  /// \param size C, positions per chunk, >= 0 (0: no chunks)
  /// \param left_chunks earlier chunks a query also sees, >= 0 (default 0; Mask::all_chunks: every
  ///        earlier chunk)
  /// \throws attn::invalid_argument when `size < 0`, `left_chunks < 0`, `left_chunks > 0` with
  ///         `size = 0`, or when the cache has a sliding window
  void set_attention_chunk(Index size, Index left_chunks = 0) {
    ATTN_CHECK(size >= 0, "attn::KVCache::set_attention_chunk: size (" + std::to_string(size) +
                              ") must be >= 0 (0: no chunks, every earlier position)");
    ATTN_CHECK(left_chunks >= 0, "attn::KVCache::set_attention_chunk: left_chunks (" + std::to_string(left_chunks) +
                                     ") must be >= 0; every earlier chunk is attn::Mask::all_chunks");
    ATTN_CHECK(size > 0 || left_chunks == 0, "attn::KVCache::set_attention_chunk: left_chunks (" +
                                                 std::to_string(left_chunks) +
                                                 ") needs chunks, but size is 0 (no chunks, every earlier position)");
    ATTN_CHECK(size == 0 || window_ == 0, "attn::KVCache::set_attention_chunk: the cache has a sliding window of " +
                                              std::to_string(window_) +
                                              " (set_window); a layer has a sliding window or chunks, not both");
    chunk_ = size;
    left_chunks_ = left_chunks;
  }
  /// The attention chunk (set_attention_chunk). \return C, or 0 when the positions are not chunked
  Index attention_chunk() const { return chunk_; }
  /// The earlier chunks a query sees (set_attention_chunk). \return the left chunks, 0 without chunks
  Index attention_left_chunks() const { return left_chunks_; }

  /// Forgets every position (keeps the storage) and points beam `b` at slot `b` again.
  void clear() {
    steps_ = 0;
    for (std::size_t b = 0; b < slot_of_.size(); ++b) slot_of_[b] = static_cast<Index>(b);
  }

  /// Drops the positions from `steps` on, in every beam (keeps the storage): a rollback, e.g. of
  /// speculative tokens.
  /// \param steps positions kept, in `[0, steps()]`
  /// \throws attn::invalid_argument when `steps` is out of range
  void truncate(Index steps) {
    ATTN_CHECK(steps >= 0 && steps <= steps_, "attn::KVCache::truncate: steps (" + std::to_string(steps) +
                                                  ") must be in [0, " + std::to_string(steps_) + "]");
    steps_ = steps;
  }

  /// Appends P >= 1 positions to every beam: rows `[b·P, (b+1)·P)` of `k` (B·P×dk) and of `v`
  /// (B·P×dv) are beam `b`'s next P key and value inputs, in order (torch's (B, P, d) input
  /// reshaped to (B·P, d)), projected here; they become positions `steps()` to `steps() + P − 1`.
  /// P = 1 is one decoding step; more is a prompt, a chunk of one, or draft tokens. Grows the
  /// capacity (doubling, at least 8, at least steps() + P) when it would be exceeded; allocates
  /// nothing else once it has seen B·P rows.
  /// \param k B·P×dk \param v B·P×dv
  /// \throws attn::invalid_argument when k's rows are not a positive multiple of B, or a shape
  ///         does not fit the parameters or k's rows (nothing is appended then)
  template <typename DerivedK, typename DerivedV>
  void append(const Eigen::MatrixBase<DerivedK>& k, const Eigen::MatrixBase<DerivedV>& v) {
    constexpr const char* fn = "attn::KVCache::append";
    detail::check_multi_head_scalars<Scalar, DerivedK, DerivedV>();
    const MultiHeadParams<Scalar>& p = params();
    const Index rows = k.rows();
    ATTN_CHECK(rows >= beams() && rows % beams() == 0,
               std::string(fn) + ": k.rows() (" + std::to_string(rows) + ") must be beams() (" +
                   std::to_string(beams()) + ") times P >= 1, the positions appended to each beam (beam b's in rows " +
                   "[b·P, (b+1)·P))");
    detail::check_shape(fn, "k", k, rows, p.wk.rows());
    detail::check_shape(fn, "v", v, rows, p.wv.rows());
    const Index count = rows / beams();  // P
    const detail::SingleThreadedEigen serial;
    if (steps_ + count > capacity_) reserve(std::max<Index>({2 * capacity_, steps_ + count, 8}));
    if (projected_k_.rows() < rows) {  // grows only (a warm append allocates nothing)
      projected_k_.resize(rows, p.wk.cols());
      projected_v_.resize(rows, p.wv.cols());
    }
    auto pk = projected_k_.topRows(rows);
    auto pv = projected_v_.topRows(rows);
    detail::project_rows(k, p.wk, p.bk, pk, row_in_.data(), row_out_.data());
    detail::project_rows(v, p.wv, p.bv, pv, row_in_.data(), row_out_.data());
    if (p.k_norm) detail::norm_rows(pk, p.head_dim(), *p.k_norm);  // before the rotation, as transformers
    if (p.rotary) {  // row b·P + r of every beam is position steps_ + r
      rotary_.fill(*p.rotary, detail::rotary_dims(*p.rotary, p.head_dim()), steps_, count);
      detail::rotate_rows(pk, p.head_dim(), p.rotary->pairs, rotary_, [count](Index r) { return r % count; });
    }
    for (std::size_t b = 0; b < slot_of_.size(); ++b) {
      const auto s = static_cast<std::size_t>(slot_of_[b]);
      const Index first = static_cast<Index>(b) * count;
      keys_[s].middleRows(steps_, count) = pk.middleRows(first, count);
      values_[s].middleRows(steps_, count) = pv.middleRows(first, count);
    }
    steps_ += count;
  }

  /// Self-attention: append(x, x).
  /// \param x B·P×dk (dk = dv), each beam's P new inputs (keys and values alike)
  /// \throws attn::invalid_argument as append(k, v) does
  template <typename DerivedX>
  void append(const Eigen::MatrixBase<DerivedX>& x) {
    append(x, x);
  }

  /// Beam search: afterwards beam `b` continues the cache beam `parents[b]` had before the call
  /// (a gather; a parent may be chosen by several beams or by none). Beams are re-pointed at
  /// their parents' slots; a parent chosen by k beams is copied k − 1 times (into slots nobody
  /// chose). Allocates nothing.
  /// \tparam Parents a container of integers with size() and operator[] (or an Eigen vector, or a
  ///         braced list: `reorder({1, 1, 2})`)
  /// \param parents B indices, each in `[0, B)`
  /// \throws attn::invalid_argument when `parents` has another size or an index is out of range
  ///         (nothing is changed then)
  template <typename Parents = std::initializer_list<Index>>
  void reorder(const Parents& parents) {
    constexpr const char* fn = "attn::KVCache::reorder";
    const Index count = static_cast<Index>(parents.size());
    ATTN_CHECK(count == beams(), std::string(fn) + ": parents.size() (" + std::to_string(count) +
                                     ") must equal beams() (" + std::to_string(beams()) + ")");
    for (Index b = 0; b < count; ++b) {
      const Index p = detail::parent_at(parents, b, fn);
      ATTN_CHECK(p >= 0 && p < count, std::string(fn) + ": parents[" + std::to_string(b) + "] (" + std::to_string(p) +
                                          ") must be in [0, " + std::to_string(count) + ")");
    }
    // First child of each parent takes the parent's slot; slots of unchosen parents are free.
    std::fill(taken_.begin(), taken_.end(), char(0));
    for (std::size_t b = 0; b < slot_of_.size(); ++b) next_slot_[b] = -1;
    for (Index b = 0; b < count; ++b) {
      const auto p = static_cast<std::size_t>(detail::parent_at(parents, b, fn));
      if (taken_[p]) continue;
      taken_[p] = 1;
      next_slot_[static_cast<std::size_t>(b)] = slot_of_[p];
    }
    // Later children copy their parent's cache into a free slot.
    std::size_t free = 0;
    copies_ = 0;
    for (Index b = 0; b < count; ++b) {
      if (next_slot_[static_cast<std::size_t>(b)] >= 0) continue;
      while (taken_[free]) ++free;  // a beam nobody chose: its slot is free
      taken_[free] = 1;
      const auto from = static_cast<std::size_t>(slot_of_[static_cast<std::size_t>(detail::parent_at(parents, b, fn))]);
      const auto to = static_cast<std::size_t>(slot_of_[free]);
      keys_[to].topRows(steps_) = keys_[from].topRows(steps_);
      values_[to].topRows(steps_) = values_[from].topRows(steps_);
      next_slot_[static_cast<std::size_t>(b)] = static_cast<Index>(to);
      ++copies_;
    }
    slot_of_.swap(next_slot_);
  }

 private:
  std::size_t checked(Index b, const char* what) const {
    ATTN_CHECK(b >= 0 && b < beams(), std::string("attn::KVCache::") + what + ": beam (" + std::to_string(b) +
                                          ") must be in [0, " + std::to_string(beams()) + ")");
    return static_cast<std::size_t>(b);
  }
  std::size_t slot_index(std::size_t b) const { return static_cast<std::size_t>(slot_of_[b]); }

  const MultiHeadParams<Scalar>* params_;
  detail::ParamsStamp stamp_;           // the parameters' shapes when made (params() checks them)
  std::vector<Matrix<Scalar>> keys_;    // per slot, capacity×(g·dh)
  std::vector<Matrix<Scalar>> values_;  // per slot, capacity×(g·dhv)
  std::vector<Index> slot_of_;          // beam -> slot
  std::vector<Index> next_slot_;        // reorder's scratch
  std::vector<char> taken_;             // reorder's scratch: parent chosen / slot in use
  detail::RotaryTable rotary_;          // params.rotary's angles of the appended positions
  Matrix<Scalar> projected_k_;          // B·P×(g·dh), append's scratch (the most rows seen)
  Matrix<Scalar> projected_v_;          // B·P×(g·dhv)
  Vector<Scalar> row_in_;   // append's GEMV scratch: one input row
  Vector<Scalar> row_out_;  // and its projection
  Index steps_ = 0;
  Index capacity_ = 0;
  Index window_ = 0;       // set_window: the most keys a query sees (0: all earlier)
  Index chunk_ = 0;        // set_attention_chunk: positions per chunk (0: none)
  Index left_chunks_ = 0;  // set_attention_chunk: earlier chunks a query sees
  Index copies_ = 0;
};

/// Multi-head self-attention of each beam's last P positions over the cache: rows `[b·P,
/// (b+1)·P)` of `query` are beam `b`'s queries at positions `steps() − P` to `steps() − 1`
/// (append those positions first), each seeing its own and every earlier position (the causal
/// mask of a decoder; P = 1 is one decoding step, more a prompt or a chunk), or the last
/// `cache.window()` of them (set_window), or those of its own chunk and the left chunks before
/// it (set_attention_chunk). Writes `output` (B·P×O, after the output projection) and `weights`
/// (resized to h×B·P×steps(): head `i`, row `b·P + r` is the weights of beam `b`'s query r over
/// its positions, exactly 0 past its own and before its window or chunks).
/// Torch's arithmetic, as the MultiHeadMemory step: up to 8 positions per beam one row at a time
/// (bit for bit what P one-position steps give when B·P ≤ 8), more as one causal scaled
/// dot-product per beam and head. An empty cache is refused: a self-attention query sees itself,
/// so its position is appended first (attending before appending gave plausible, wrong numbers).
/// Allocates nothing once `ws` and `weights` have seen these shapes.
/// \param cache the layer's cache
/// \param query B·P×dq
/// \param output B·P×O (torch: B·P×D), written
/// \param weights resized to h×B·P×steps() and written
/// \param ws reusable scratch; reports the fully masked rows of the last step
/// \param options probability function (per head) and scale (unset: 1/sqrt(dh)); return_scores
///        is not supported
/// \return the number of query rows that saw no key (0: each sees at least itself)
/// \throws attn::invalid_argument when the cache is empty, `query`'s rows are not B·P with P in
///         [1, steps()], its columns not dq, `output` is not B·P×O, the scale is not finite or
///         options.return_scores is set
template <typename Scalar, typename DerivedQ>
Index attend_into(const KVCache<Scalar>& cache, const Eigen::MatrixBase<DerivedQ>& query,
                  detail::NoDeduce<Eigen::Ref<Matrix<Scalar>>> output, HeadWeights<Scalar>& weights,
                  MultiHeadWorkspace<Scalar>& ws, const Options& options = Options()) {
  static_assert(std::is_same<Scalar, typename DerivedQ::Scalar>::value,
                "attn::attend: the query must have the cache's scalar type; use .cast<T>()");
  constexpr const char* fn = "attn::attend";
  const MultiHeadParams<Scalar>& p = cache.params();
  const Index dh = p.head_dim();
  const Index dhv = p.value_head_dim();
  const Index t = cache.steps();
  const Index beams = cache.beams();
  const Index rows = query.rows();
  const Index count = rows / beams;  // P, the positions each beam queries
  ATTN_CHECK(t >= 1, std::string(fn) + ": the cache is empty (steps() is 0): append each beam's position first, "
                                       "then attend (cache.append(x); attend(cache, x)): a self-attention query "
                                       "sees itself and the positions before it");
  ATTN_CHECK(rows % beams == 0 && count >= 1 && count <= t,
             std::string(fn) + ": query.rows() (" + std::to_string(rows) + ") must be beams() (" +
                 std::to_string(beams) + ") times P, each beam's last P positions, P in [1, steps()] (" +
                 std::to_string(t) + ")");
  detail::check_shape(fn, "query", query, rows, p.wq.rows());
  const bool by_rows = count <= detail::step_gemv_rows;  // else one scaled dot-product per beam and head
  if (!by_rows) {  // its Workspace: the second of ws's heads (the first holds the step's scratch)
    auto& heads = detail::MultiHeadWorkspaceAccess::heads(ws);
    if (heads.size() < 2) heads.resize(2);
  }
  const auto attend_heads = [&](detail::StepScratch<Scalar>& s, HeadWeights<Scalar>& w) {
    const Index past = t - count;  // positions before the queried ones
    if (p.rotary) {  // beam b's query row b·P + r is position past + r
      auto& rotary = detail::MultiHeadWorkspaceAccess::rotary(ws);
      rotary.fill(*p.rotary, detail::rotary_dims(*p.rotary, dh), past, count);
      detail::rotate_rows(s.q, dh, p.rotary->pairs, rotary, [count](Index r) { return r % count; });
    }
    Options unit;  // the queries are scaled already (torch's order)
    unit.probability = options.probability;
    unit.scale = 1.0;
    unit.softcap = options.softcap;
    const auto cap = detail::soft_cap_of<Scalar>(options.softcap);  // checked by run_step
    // The first key position `pos` sees: 0, or the start of its sliding window or of its chunk's
    // left chunks (a cache has one or the other), as the layer's mask over the whole sequence
    // (queries and keys from position 0) bands it.
    const Index window = cache.window();
    const Index chunk = cache.attention_chunk();
    const Index left_chunks = cache.attention_left_chunks();
    const Mask layer = window > 0  ? Mask::window(window - 1, 0)
                       : chunk > 0 ? Mask::chunked(chunk, 0, left_chunks)
                                   : Mask();
    const auto first_key = [&layer](Index pos) { return layer.band(pos, pos + 1).first; };
    // One scaled dot-product over keys [lo, t): block row r (position past + r) sees key j' of
    // the block (position lo + j') iff r − (W − 1 − o) <= j' <= r + o, o = past − lo; with
    // chunks (lo then a chunk's start, or 0) iff j' <= r + o and floor(j' / C) is floor((r + o) / C)
    // or one of the left chunks before it.
    const Index lo = first_key(past);
    const Index o = past - lo;
    const Mask band = window > 0  ? Mask::window(window - 1 - o, o)
                      : chunk > 0 ? Mask::causal(o) & Mask::chunked(chunk, o, left_chunks)
                                  : Mask::causal(o);
    for (Index b = 0; b < beams; ++b) {
      const auto keys = cache.keys(b);
      const auto values = cache.values(b);
      for (Index i = 0; i < p.heads; ++i) {
        const Index c0 = i * dh;
        const Index v0 = i * dhv;
        const Index j = detail::kv_head(p, i);  // the key/value head it reads
        const auto kh = keys.middleCols(j * dh, dh);
        const auto vh = values.middleCols(j * dhv, dhv);
        auto wb = detail::HeadWeightsAccess::head(w, i).middleRows(b * count, count);
        if (by_rows) {
          for (Index r = 0; r < count; ++r) {
            const Index n = past + r + 1;       // query r sees keys [first, n)
            const Index first = first_key(past + r);
            std::optional<Alibi> alibi;  // params.alibi: query at position past + r, keys from `first`
            if (!p.alibi.empty()) alibi = Alibi{p.alibi[static_cast<std::size_t>(i)], past + r - first};
            detail::step_row(s.q.row(b * count + r).segment(c0, dh), kh.middleRows(first, n - first),
                             vh.middleRows(first, n - first), wb.row(r).segment(first, n - first),
                             s.concat.row(b * count + r).segment(v0, dhv), s, options.probability, cap, alibi);
            wb.row(r).head(first).setZero();
            wb.row(r).tail(t - n).setZero();
          }
        } else {
          auto& hw = detail::MultiHeadWorkspaceAccess::heads(ws)[1];
          auto ctx = s.concat.block(b * count, v0, count, dhv);
          auto seen = wb.rightCols(t - lo);
          // params.alibi: block row r is position past + r, key j' position lo + j'.
          if (!p.alibi.empty()) unit.alibi = Alibi{p.alibi[static_cast<std::size_t>(i)], o};
          scaled_dot_product_into(s.q.block(b * count, c0, count, dh), kh.bottomRows(t - lo), vh.bottomRows(t - lo),
                                  ctx, seen, hw, band, unit);
          wb.leftCols(lo).setZero();
        }
      }
    }
  };
  return detail::run_step(fn, p, query, t, t == 0, output, weights, ws, options, attend_heads);
}

/// Value form of the cache step: output B·P×O, weights h×B·P×steps(), fully masked rows.
/// \param cache the layer's cache
/// \param query B·P×dq, each beam's last P positions
/// \param options probability function and scale (return_scores is not supported)
/// \return output, per-head weights and fully_masked
/// \throws attn::invalid_argument as attend_into does
template <typename Scalar, typename DerivedQ>
MultiHeadResult<Scalar> attend(const KVCache<Scalar>& cache, const Eigen::MatrixBase<DerivedQ>& query,
                               const Options& options = Options()) {
  return detail::step_result<Scalar>(query.rows(), cache.params().output_dim(), [&](auto& out, auto& w, auto& ws) {
    attend_into(cache, query, out, w, ws, options);
  });
}

}  // namespace attn
