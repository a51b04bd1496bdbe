// SPDX-License-Identifier: MIT
// The multi-head kernel over a batch (detail::multi_head_run) and its full-weights policy: the
// engine of multi_head(_into), multi_head_batch(_into) and the multi-head sink forms.
#pragma once

#include "../config.hpp"
#include "../head_weights.hpp"
#include "../mask.hpp"
#include "../multi_head_params.hpp"
#include "../multi_head_workspace.hpp"
#include "../options.hpp"
#include "../scaled_dot_product.hpp"
#include "../workspace.hpp"
#include "attend.hpp"
#include "threads.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attn {
namespace detail {

/// Where multi_head_run puts the weights of head i of item b: `weights_of(b)`'s HeadWeights
/// (resized to h×Tq×Tk), head by head in parallel. (multi_head_sinks.hpp has the other policy:
/// sinks per head and across heads.)
template <typename WeightsOf>
struct FullHeads {
  const WeightsOf& weights_of;
  /// Whether heads must run one after another, in head order.
  bool serial() const { return false; }
  void prepare(Index b, Index h, Index tq, Index tk) const { weights_of(b).resize(h, tq, tk); }
  template <typename Qh, typename Kh, typename Vh, typename Oh, typename Scalar>
  void attend(Index b, Index i, const Qh& qh, const Kh& kh, const Vh& vh, Oh& oh, Workspace<Scalar>& hw,
              const Mask& mask, const Options& options) const {
    auto w = HeadWeightsAccess::head(weights_of(b), i);
    scaled_dot_product_into(qh, kh, vh, oh, w, hw, mask, options);
  }
};

/// Lends a buffer to a Workspace for a scope: swaps `a` and `b` now and back at its end (also
/// when the scope throws).
template <typename Scalar>
struct Lend {
  Buffer<Scalar>& a;
  Buffer<Scalar>& b;
  Lend(Buffer<Scalar>& x, Buffer<Scalar>& y) : a(x), b(y) { a.swap(b); }
  ~Lend() { a.swap(b); }
  Lend(const Lend&) = delete;
  Lend& operator=(const Lend&) = delete;
};

/// The mask of a call whose keys get `extra` appended ones (MultiHeadParams::appended_keys:
/// torch's bias_k and zero key), as torch pads its `attn_mask` and `key_padding_mask` with a
/// visible column for each: `mask` (Tq×Tk, checked) as an explicit Tq×(Tk + extra) mask (per
/// head when it is per head), its visibility and score bias kept, the appended columns visible.
inline Mask with_appended_keys(const Mask& mask, Index tq, Index tk, Index extra) {
  if (mask.heads() > 0) {
    std::vector<Mask> heads;
    for (Index i = 0; i < mask.heads(); ++i) heads.push_back(with_appended_keys(mask.head(i), tq, tk, extra));
    return Mask::per_head(std::move(heads));
  }
  // torch's float attn_mask: the score bias (0 without one) where visible, -inf where hidden.
  Matrix<double> torch = Matrix<double>::Zero(tq, tk + extra);
  for (Index j = 0; j < tk; ++j)
    for (Index i = 0; i < tq; ++i)
      torch(i, j) = !mask.visible(i, j, tk) ? -std::numeric_limits<double>::infinity()
                    : mask.bias()          ? (*mask.bias())(i, j)
                                           : 0.0;
  return Mask::additive(torch);
}

/// with_appended_keys() of `mask` when a call appends `extra` keys and the mask hides some;
/// unset when the caller's mask serves as it is (no appended key, or a mask that hides nothing:
/// no copy, no allocation).
inline std::optional<Mask> appended_keys_mask(const Mask& mask, Index tq, Index tk, Index extra) {
  if (extra == 0 || mask.is_all_visible()) return std::nullopt;
  return with_appended_keys(mask, tq, tk, extra);
}

/// The mask a multi_head call applies: the caller's, or its appended_keys_mask(). Holds the
/// extended mask for the length of the call.
class CallMask {
 public:
  CallMask(const Mask& mask, Index tq, Index tk, Index extra)
      : own_(appended_keys_mask(mask, tq, tk, extra)), mask_(own_ ? &*own_ : &mask) {}
  CallMask(const CallMask&) = delete;
  CallMask& operator=(const CallMask&) = delete;
  const Mask& get() const { return *mask_; }

 private:
  std::optional<Mask> own_;  // declared first: mask_ may point into it
  const Mask* mask_;
};

/// The multi-head kernel over a batch. `q_of(b)`, `k_of(b)`, `v_of(b)`, `mask_of(b)` give item
/// b's inputs, `output_of(b)` its Tq×O output, `heads_to` where the weights go (FullHeads: the
/// HeadWeights of each item). All arguments are valid (checked by the caller). Tasks (item,
/// head) project, attend and write their columns of the concatenation (one after another in
/// head order when `heads_to.serial()`, each head's blocks then in parallel); then tasks (item,
/// column block) apply the output projection. A head's keys and values are projected into its
/// thread's lane by its task; with grouped-query attention (g < h key/value heads) tasks (item,
/// key/value head) first project each key/value head once into the item's scratch, and the h/g
/// query heads of its group read it there. A q_norm or k_norm over all heads (OLMo 2) needs the
/// whole projected row: tasks (item) then first project all query heads (or all key/value heads)
/// of an item at once, normalise the rows and rotate them, and the heads read their columns
/// (the keys as with grouped-query attention). With keys to append (`p.appended_keys()` = e > 0:
/// torch's bias_k, its zero key) the keys and values get e rows after the projected Tk, and
/// `mask_of(b)` must already be Tq×(Tk + e) (CallMask).
template <typename Scalar, typename QOf, typename KOf, typename VOf, typename MaskOf, typename OutputOf,
          typename HeadsTo>
void multi_head_run(Index batch, const QOf& q_of, const KOf& k_of, const VOf& v_of, const MaskOf& mask_of,
                    const MultiHeadParams<Scalar>& p, const OutputOf& output_of, const HeadsTo& heads_to,
                    MultiHeadWorkspace<Scalar>& ws, const Options& options) {
  auto& ws_items = MultiHeadWorkspaceAccess::items(ws);
  auto& ws_heads = MultiHeadWorkspaceAccess::heads(ws);
  const Index h = p.heads;
  const Index dh = p.head_dim();         // queries' and keys' columns per head
  const Index dhv = p.value_head_dim();  // values' (and the concatenation's) columns per head
  const Index o = p.output_dim();
  const Index extra = p.appended_keys();  // torch's bias_k and zero key, after the Tk keys
  const Index g = p.key_value_heads();
  const bool whole_q = p.q_norm && p.q_norm->all_heads;  // OLMo 2: the norm needs every head of a row
  const bool whole_kv = p.k_norm && p.k_norm->all_heads;
  // Grouped-query attention: each key/value head projected once per item, by key/value head;
  // whole_kv: all of them at once, by item.
  const bool shared_kv = g < h || whole_kv;
  const Index tasks = batch * h;
  const Index kv_tasks = shared_kv && !whole_kv ? batch * g : 0;
  const Index item_tasks = whole_q || whole_kv ? batch : 0;
  const SingleThreadedEigen serial;  // Eigen's products single-threaded in a team of any size
  const Index threads = max_threads();

  // Size everything outside the parallel region (growth only; nothing here in steady state).
  if (static_cast<Index>(ws_items.size()) < batch) ws_items.resize(static_cast<std::size_t>(batch));
  if (static_cast<Index>(ws_heads.size()) < tasks) ws_heads.resize(static_cast<std::size_t>(tasks));
  MultiHeadWorkspaceAccess::used(ws) = batch;
  for (Index b = 0; b < batch; ++b) {
    auto& it = ws_items[static_cast<std::size_t>(b)];
    const Index tq = q_of(b).rows();
    const Index tk = k_of(b).rows() + extra;
    it.concat.matrix(tq, h * dhv);
    if (whole_q) it.q.matrix(tq, h * dh);
    if (shared_kv) {
      it.keys.matrix(tk, g * dh);
      it.values.matrix(tk, g * dhv);
    }
    if (it.flags.size() < tq) it.flags.resize(tq);
    it.flag_count = tq;
    heads_to.prepare(b, h, tq, tk);
    if (options.return_scores) it.scores.resize(h, tq, tk);
    for (Index i = 0; i < h; ++i) {
      auto& hw = ws_heads[static_cast<std::size_t>(b * h + i)];
      detail::row_flags(hw, tq);
      detail::buffers(hw).sort.matrix(detail::normalize_scratch_size(tk), 1);
      if (options.return_scores) detail::buffers(hw).scores.matrix(tq, tk);
    }
  }

  // One lane of scratch per thread (one when heads run in turn, each head's blocks then in
  // parallel): a head is projected into its thread's lane (its queries only with grouped-query
  // attention, whose keys and values are the item's), and its Workspace borrows the lane's
  // blocks of weights and keys' transpose for its call, so that h heads hold `threads` sets of
  // them, not h. Sized here, outside the parallel region.
  const bool serial_heads = heads_to.serial();
  auto& lanes = MultiHeadWorkspaceAccess::lanes(ws);
  const auto lane_count = static_cast<std::size_t>(serial_heads ? 1 : threads);
  if (lanes.size() < lane_count) lanes.resize(lane_count);
  Index most_q = 0;
  Index most_k = 0;
  for (Index b = 0; b < batch; ++b) {
    most_q = std::max(most_q, q_of(b).rows());
    most_k = std::max(most_k, k_of(b).rows() + extra);
  }
  // Rotary embedding: the angles of positions 0 to max(query_offset + Tq, Tk) − 1, once for
  // every head; key row r is position r, query row r position query_offset + r.
  const Index query_offset = options.query_offset;
  auto& rotary = MultiHeadWorkspaceAccess::rotary(ws);
  if (p.rotary) rotary.fill(*p.rotary, rotary_dims(*p.rotary, dh), 0, std::max(query_offset + most_q, most_k));
  const auto position = [](Index r) { return r; };
  const auto query_position = [query_offset](Index r) { return query_offset + r; };
  // The heads' options: the queries' positions are applied here (the rotation, ALiBi's offset),
  // and a head is a single-head call, which takes no query_offset.
  Options heads_options = options;
  heads_options.query_offset = 0;
  for (std::size_t l = 0; l < lane_count; ++l) {
    lanes[l].q.matrix(most_q, dh);
    if (shared_kv) continue;  // the keys and values are the item's
    lanes[l].k.matrix(most_k, dh);
    lanes[l].v.matrix(most_k, dhv);
  }

  // torch's appended keys (bias_k's, then the zero key) in rows tk, tk + 1 of kh and vh, whose
  // columns start at k0 and kv0 of the projected keys and values (bias_k and bias_v are as wide).
  const auto append_keys = [&p](auto&& kh, auto&& vh, Index tk, Index k0, Index kv0) {
    Index appended = tk;
    if (p.bias_k.size() != 0) {
      kh.row(appended) = p.bias_k.segment(k0, kh.cols());
      vh.row(appended++) = p.bias_v.segment(kv0, vh.cols());
    }
    if (p.add_zero_attn) {
      kh.row(appended).setZero();
      vh.row(appended).setZero();
    }
  };

  // Key/value head j of item b projected into kh (Tk + extra rows, dh columns) and vh: the
  // products, their biases, torch's appended keys below them, the rotary embedding of the keys.
  const auto project_kv = [&](Index b, Index j, auto&& kh, auto&& vh) {
    const Index tk = k_of(b).rows();
    const Index k0 = j * dh;
    const Index kv0 = j * dhv;
    auto kp = kh.topRows(tk);  // the projected keys and values; the appended ones below them
    auto vp = vh.topRows(tk);
    product(k_of(b), p.wk.middleCols(k0, dh), kp);  // attn's gemm for plain inputs (gemm.hpp)
    product(v_of(b), p.wv.middleCols(kv0, dhv), vp);
    if (p.bk.size() != 0) kp.rowwise() += p.bk.segment(k0, dh);
    if (p.bv.size() != 0) vp.rowwise() += p.bv.segment(kv0, dhv);
    if (p.k_norm) norm_rows(kp, dh, *p.k_norm, j);  // Qwen3's k_norm (head j's): after the bias, before the rotation
    append_keys(kh, vh, tk, k0, kv0);
    // After the biases, as transformers rotates (Qwen2 has biases, LLaMA none); never with
    // appended keys (checked).
    if (p.rotary) rotate_rows(kh, dh, p.rotary->pairs, rotary, position);
  };

  // Grouped-query attention: task t projects key/value head t % g of item t / g into the item's
  // scratch (sized above: no allocation here).
  const auto project_group = [&](Index t) {
    const Index b = t / g;
    const Index j = t % g;
    auto& it = ws_items[static_cast<std::size_t>(b)];
    project_kv(b, j, it.keys.view().middleCols(j * dh, dh), it.values.view().middleCols(j * dhv, dhv));
  };

  // OLMo 2's norms over all heads: item b's queries (whole_q) into its q, its keys and values
  // (whole_kv) into its keys and values, each in one product, normalised and rotated.
  const auto project_item = [&](Index b) {
    auto& it = ws_items[static_cast<std::size_t>(b)];
    if (whole_q) {
      auto qf = it.q.view();
      product(q_of(b), p.wq, qf);
      if (p.bq.size() != 0) qf.rowwise() += p.bq;
      norm_rows(qf, dh, *p.q_norm);  // the rows, all heads at once
    }
    if (whole_kv) {
      const Index tk = k_of(b).rows();
      auto keys = it.keys.view();
      auto values = it.values.view();
      auto kp = keys.topRows(tk);
      auto vp = values.topRows(tk);
      product(k_of(b), p.wk, kp);
      product(v_of(b), p.wv, vp);
      if (p.bk.size() != 0) kp.rowwise() += p.bk;
      if (p.bv.size() != 0) vp.rowwise() += p.bv;
      norm_rows(kp, dh, *p.k_norm);  // the rows, all key/value heads at once; not the appended keys
      append_keys(keys, values, tk, 0, 0);
      if (p.rotary) rotate_rows(keys, dh, p.rotary->pairs, rotary, position);
    }
  };

  // A head's projection, attention, and its block of the concatenation.
  const auto attend = [&](Index t) {
    const Index b = t / h;
    const Index i = t % h;
    const Index c0 = i * dh;    // head i's columns of Wq
    const Index v0 = i * dhv;   // and of the concatenation
    const Index j = kv_head(p, i);  // its key/value head (i unless grouped-query attention)
    auto& it = ws_items[static_cast<std::size_t>(b)];
    auto& hw = ws_heads[static_cast<std::size_t>(t)];
    // This thread's lane in attn's team; lane 0 when no team runs (heads in turn, or one thread:
    // then omp_get_thread_num() is the caller's own team's number, not a lane).
    auto& lane = lanes[serial_heads || threads <= 1 ? 0 : static_cast<std::size_t>(thread_id())];
    auto qh = lane.q.matrix(q_of(b).rows(), dh);  // within the sizes above: no allocation
    if (whole_q) {  // projected and normalised by project_item
      qh = it.q.view().middleCols(c0, dh);
    } else {
      product(q_of(b), p.wq.middleCols(c0, dh), qh);  // attn's gemm for plain inputs (gemm.hpp)
      if (p.bq.size() != 0) qh.rowwise() += p.bq.segment(c0, dh);
      if (p.q_norm) norm_rows(qh, dh, *p.q_norm, i);  // head i's row of a per-head weight
    }
    if (p.rotary) rotate_rows(qh, dh, p.rotary->pairs, rotary, query_position);  // after bias and norm, as the keys
    auto concat = it.concat.view();
    auto oh = concat.middleCols(v0, dhv);
    auto& own = buffers(hw);
    const Lend lend_blocks(own.block, lane.blocks);
    const Lend lend_keys(own.keys, lane.keys);
    const auto attend_head = [&](const auto& kh, const auto& vh) {
      if (p.alibi.empty()) {
        heads_to.attend(b, i, qh, kh, vh, oh, hw, mask_of(b).head(i), heads_options);  // a per-head mask: head i's
      } else {  // head i's ALiBi slope; query row 0 at key position query_offset (as the rotation)
        Options head_options = heads_options;
        head_options.alibi = Alibi{p.alibi[static_cast<std::size_t>(i)], query_offset};
        heads_to.attend(b, i, qh, kh, vh, oh, hw, mask_of(b).head(i), head_options);
      }
    };
    if (shared_kv) {  // the group's keys and values, projected by project_group
      const auto& keys = it.keys;
      const auto& values = it.values;
      attend_head(keys.view().middleCols(j * dh, dh), values.view().middleCols(j * dhv, dhv));
    } else {  // its own, into the lane (within the sizes above)
      const Index tk = k_of(b).rows() + extra;
      auto kh = lane.k.matrix(tk, dh);
      auto vh = lane.v.matrix(tk, dhv);
      project_kv(b, j, kh, vh);
      attend_head(kh, vh);
    }
    if (options.return_scores) detail::HeadWeightsAccess::head(it.scores, i) = hw.scores();
  };

  // True where query r of item b saw no key, in every head.
  const auto masked_everywhere = [&](Index b, Index r) {
    for (Index i = 0; i < h; ++i)
      if (!ws_heads[static_cast<std::size_t>(b * h + i)].fully_masked()(r)) return false;
    return true;
  };

  // Output columns [c0, c1) of item b, the t % h-th of h nearly equal parts of the O columns
  // (torch: O = D, parts of dh): concat·Wo + bo; fully masked rows get exactly bo.
  const auto project = [&](Index t) {
    const Index b = t / h;
    const Index c0 = (t % h) * o / h;
    const Index n = (t % h + 1) * o / h - c0;
    if (n == 0) return;  // O < h: some parts are empty
    auto& it = ws_items[static_cast<std::size_t>(b)];
    auto&& out = output_of(b);
    auto ob = out.middleCols(c0, n);
    product(it.concat.view(), p.wo.middleCols(c0, n), ob);
    if (p.bo.size() != 0) ob.rowwise() += p.bo.segment(c0, n);
    for (Index r = 0; r < ob.rows(); ++r) {
      if (!masked_everywhere(b, r)) continue;
      if (p.bo.size() != 0) {
        ob.row(r) = p.bo.segment(c0, n);
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

  if (serial_heads) {
    for (Index t = 0; t < kv_tasks; ++t) guarded(project_group, t);
    for (Index t = 0; t < item_tasks; ++t) guarded(project_item, t);
    for (Index t = 0; t < tasks; ++t) guarded(attend, t);
  }
  if (threads <= 1) {
    // One thread (OMP_NUM_THREADS=1, a caller's parallel region, no OpenMP): the same tasks in
    // the same order, without a region to start: libgomp allocates a team for every region,
    // even of one thread, and a warm call allocates nothing.
    if (!serial_heads) {
      for (Index t = 0; t < kv_tasks; ++t) guarded(project_group, t);
      for (Index t = 0; t < item_tasks; ++t) guarded(project_item, t);
      for (Index t = 0; t < tasks; ++t) guarded(attend, t);
    }
    for (Index t = 0; t < tasks; ++t) guarded(project, t);
  } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(static_cast<int>(threads))
#endif
    {
      if (!serial_heads) {
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (Index t = 0; t < kv_tasks; ++t) guarded(project_group, t);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (Index t = 0; t < item_tasks; ++t) guarded(project_item, t);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (Index t = 0; t < tasks; ++t) guarded(attend, t);
      }
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
      for (Index t = 0; t < tasks; ++t) guarded(project, t);
    }
  }
  if (error) std::rethrow_exception(error);

  for (Index b = 0; b < batch; ++b) {
    auto& it = ws_items[static_cast<std::size_t>(b)];
    for (Index r = 0; r < it.flag_count; ++r) it.flags(r) = masked_everywhere(b, r);
  }
}

}  // namespace detail
}  // namespace attn
