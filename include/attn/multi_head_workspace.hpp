// SPDX-License-Identifier: MIT
// Scratch of multi-head attention (attn::MultiHeadWorkspace): per batch item the concatenated
// heads, one core Workspace per (item, head), per thread the head being computed (its projected
// Q/K/V, blocks of weights and keys' transpose), and what a call reports.
#pragma once

#include "config.hpp"
#include "head_weights.hpp"
#include "rotary.hpp"
#include "workspace.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace attn {

template <typename Scalar>
class MultiHeadWorkspace;

namespace detail {

/// The kernels' access to a MultiHeadWorkspace's scratch (not part of the API).
struct MultiHeadWorkspaceAccess {
  template <typename Scalar>
  static auto& items(MultiHeadWorkspace<Scalar>& ws) { return ws.items_; }
  template <typename Scalar>
  static auto& heads(MultiHeadWorkspace<Scalar>& ws) { return ws.heads_; }
  template <typename Scalar>
  static Index& used(MultiHeadWorkspace<Scalar>& ws) { return ws.used_; }
  template <typename Scalar>
  static auto& lanes(MultiHeadWorkspace<Scalar>& ws) { return ws.lanes_; }
  template <typename Scalar>
  static RotaryTable& rotary(MultiHeadWorkspace<Scalar>& ws) { return ws.rotary_; }
};

}  // namespace detail

/// Scratch for multi_head_into / multi_head_batch_into: the concatenated heads per sequence, one
/// core Workspace per (sequence, head), and per thread the one head it computes at a time (its
/// projected Q/K/V, blocks of weights, keys' transpose). Grows, never shrinks: steady-state calls
/// allocate nothing. After a call it reports, per batch item, the fully masked
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
  /// \return h×Tq×Tk scores of that item (Tk + params.appended_keys() columns), owned by this workspace
  /// \throws attn::invalid_argument when `item` is out of range
  const HeadWeights<Scalar>& scores(Index item = 0) const {
    check_item("attn::MultiHeadWorkspace::scores", item);
    return items_[static_cast<std::size_t>(item)].scores;
  }

 private:
  friend struct detail::MultiHeadWorkspaceAccess;

  // Scratch used by the kernels (through detail::MultiHeadWorkspaceAccess); not part of the API.
  struct Item {
    detail::Buffer<Scalar> q;       // B×D projected queries of a decoder step (multi_head_step.hpp),
                                    // or a call's Tq×(h·dh) when q_norm spans all heads
    detail::Buffer<Scalar> concat;  // Tq×(h·dhv) heads' outputs side by side
    detail::Buffer<Scalar> keys;    // grouped-query attention: Tk×(g·dh), each key/value head
    detail::Buffer<Scalar> values;  // projected once per call (Tk×(g·dhv)), read by its h/g heads
    RowFlags flags;
    Index flag_count = 0;
    HeadWeights<Scalar> scores;
  };
  // What one thread needs for the head it computes, whichever head: its projections, and the
  // blocks of weights and keys' transpose lent to the head's Workspace for its call (see
  // multi_head_run); h heads thus hold one set per thread, not one per head.
  struct Lane {
    detail::Buffer<Scalar> q;       // Tq×dh projected queries of the head (dh = D/h for torch)
    detail::Buffer<Scalar> k;       // Tk×dh projected keys
    detail::Buffer<Scalar> v;       // Tk×dhv projected values
    detail::Buffer<Scalar> blocks;  // lent: the head's per-thread blocks of weights
    detail::Buffer<Scalar> keys;    // lent: the head's scaled keys' transpose
  };
  std::vector<Item> items_;
  std::vector<Workspace<Scalar>> heads_;  // item-major: heads_[item·h + head]
  std::vector<Lane> lanes_;               // one per thread of a call (one when heads run in turn)
  Index used_ = 0;                        // items of the last call
  detail::RotaryTable rotary_;            // params.rotary's cos and sin per position of a call

  void check_item(const char* fn, Index item) const {
    ATTN_CHECK(item >= 0 && item < used_, std::string(fn) + ": item (" + std::to_string(item) +
                                              ") must be in [0, " + std::to_string(used_) + ")");
  }
};

}  // namespace attn
