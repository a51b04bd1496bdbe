// SPDX-License-Identifier: MIT
// Multi-head attention with weight sinks (sinks.hpp) instead of h×Tq×Tk weights: sinks per head
// and reductions over heads (mean, sum, max, min) into one Tq×Tk map, or no weights at all (the
// inference call). Output and fully masked rows are those of attn::multi_head, bit for bit.
#pragma once

#include "config.hpp"
#include "head_weights.hpp"
#include "multi_head.hpp"
#include "sinks.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace attn {

template <typename Scalar>
class HeadSinks;

namespace detail {

/// The sink a HeadSinks reduction feeds with every head in turn (heads run in head order): head 0
/// is copied into `out`, each next head combined entry by entry, and the mean divided by h after
/// the last head, the order HeadWeights::reduce_into uses (the same bits).
template <typename Scalar>
class HeadReduceSink final : public WeightSink<Scalar> {
 public:
  HeadReduceSink(HeadReduction how, Eigen::Ref<Matrix<Scalar>> out) : how_(how), out_(out) {}
  /// Checks the sink fits the call and prepares its storage (see WeightSink::begin). \param call the call
  void begin(const SinkCall& call) override {
    ATTN_CHECK(out_.rows() == call.rows && out_.cols() == call.cols,
               std::string(call.function) + ": HeadSinks::reduce output " + shape(out_.rows(), out_.cols()) +
                   " must be " + shape(call.rows, call.cols));
  }
  /// One block of the call (see WeightSink::consume). \param first_row its first query row \param block its weights
  void consume(Index first_row, const WeightBlock<Scalar>& block) override {
    auto rows = out_.middleRows(first_row, block.rows());
    if (head_ == 0) {
      rows = block;
      return;
    }
    switch (how_) {
      case HeadReduction::mean:
      case HeadReduction::sum: rows += block; break;
      case HeadReduction::max: rows = rows.cwiseMax(block); break;
      case HeadReduction::min: rows = rows.cwiseMin(block); break;
    }
  }
  void end() override {
    if (head_ == heads_ - 1 && how_ == HeadReduction::mean) out_ /= static_cast<Scalar>(heads_);
  }
  void set_head(Index head, Index heads) {
    head_ = head;
    heads_ = heads;
  }
  /// Whether this and `other` reduce into storage that shares an entry. \param other a reduction
  /// \return true when they share one
  bool shares_storage(const HeadReduceSink& other) const {
    return storage_overlaps(out_.data(), out_.rows(), out_.cols(), out_.outerStride(), other.out_.data(),
                            other.out_.rows(), other.out_.cols(), other.out_.outerStride());
  }

 private:
  HeadReduction how_;
  Eigen::Ref<Matrix<Scalar>> out_;
  Index head_ = 0;
  Index heads_ = 1;
};

/// multi_head_run's policy for HeadSinks: head i's sinks, and the reductions, per head.
template <typename Scalar>
struct SinkHeads {
  const HeadSinks<Scalar>& sinks;
  Index heads;
  bool serial() const { return sinks.reductions_.size() > 0; }
  void prepare(Index, Index, Index, Index) const {}
  template <typename Qh, typename Kh, typename Vh, typename Oh>
  void attend(Index, Index i, const Qh& qh, const Kh& kh, const Vh& vh, Oh& oh, Workspace<Scalar>& hw,
              const Mask& mask, const Options& options) const {
    // The head's list: its own sinks, then every reduction (told which head this is).
    std::array<WeightSink<Scalar>*, Sinks<Scalar>::capacity> list{};
    std::size_t n = 0;
    for (const auto& [head, s] : sinks.per_head_)
      if (head == i)
        for (std::size_t k = 0; k < s.size() && n < list.size(); ++k) list[n++] = &s[k];
    for (auto& r : sinks.reductions_) {
      r->set_head(i, heads);
      if (n < list.size()) list[n++] = r.get();
    }
    // The head's blocks live in its thread's lane of the MultiHeadWorkspace (multi_head_run).
    scaled_dot_product_into(qh, kh, vh, oh, Sinks<Scalar>(list.data(), n), hw, mask, options);
  }
};

/// multi_head_run's policy for a batch: item b's HeadSinks (`items` empty: output only for every
/// item). Heads run one after another when any item reduces over heads.
template <typename Scalar>
struct BatchSinkHeads {
  const std::vector<HeadSinks<Scalar>>& items;
  Index heads;
  static std::string shared(const HeadSinks<Scalar>& a, const HeadSinks<Scalar>& b) { return a.shared_with(b); }
  bool serial() const {
    for (const auto& s : items)
      if (SinkHeads<Scalar>{s, heads}.serial()) return true;
    return false;
  }
  void prepare(Index, Index, Index, Index) const {}
  template <typename Qh, typename Kh, typename Vh, typename Oh>
  void attend(Index b, Index i, const Qh& qh, const Kh& kh, const Vh& vh, Oh& oh, Workspace<Scalar>& hw,
              const Mask& mask, const Options& options) const {
    if (items.empty()) {
      scaled_dot_product_into(qh, kh, vh, oh, Sinks<Scalar>(), hw, mask, options);
    } else {
      SinkHeads<Scalar>{items[static_cast<std::size_t>(b)], heads}.attend(b, i, qh, kh, vh, oh, hw, mask, options);
    }
  }
};

}  // namespace detail

/// Where multi_head_into's weights go instead of an h×Tq×Tk HeadWeights: sinks for chosen heads
/// (each head its own sink objects) and reductions over all heads into caller Tq×Tk maps. Empty
/// (or attn::no_weights): output only, the call for inference. Holds references: the sinks and
/// maps must outlive the calls. Setting it up allocates; calls with it do not (once warm).
template <typename Scalar>
class HeadSinks {
 public:
  /// No sink: output only.
  HeadSinks() = default;
  /// No sink: output only.
  HeadSinks(NoWeights) {}  // NOLINT(google-explicit-constructor)

  /// Feeds head `h`'s weights to `sinks` (several calls for one head add lists; at most
  /// Sinks::capacity sinks per head in all, reductions included).
  /// \param h head index, checked against the head count at the call \param sinks the head's sinks
  /// \return *this
  HeadSinks& head(Index h, Sinks<Scalar> sinks) {
    per_head_.emplace_back(h, sinks);
    return *this;
  }
  /// Reduces every head's weights entry by entry into `out` (Tq×Tk): their mean (torch's
  /// average_attn_weights=True), sum, maximum or minimum, the same bits as
  /// HeadWeights::reduce_into. Heads then run one after another (each head's blocks in parallel).
  /// \param how mean, sum, max or min \param out Tq×Tk caller storage \return *this
  HeadSinks& reduce(HeadReduction how, Eigen::Ref<Matrix<Scalar>> out) {
    reductions_.push_back(std::make_unique<detail::HeadReduceSink<Scalar>>(how, out));
    return *this;
  }

  /// Throws unless every head index is in [0, heads), no sink object serves two heads or twice,
  /// and each head gets at most Sinks::capacity sinks; then begins every sink (shape checks).
  /// \param fn the calling function \param heads h \param tq Tq \param tk Tk \param mask the mask
  void begin(const char* fn, Index heads, Index tq, Index tk, const Mask& mask) const {
    for (std::size_t e = 0; e < per_head_.size(); ++e) {
      const auto& [h, s] = per_head_[e];
      ATTN_CHECK(h >= 0 && h < heads, std::string(fn) + ": HeadSinks head (" + std::to_string(h) +
                                          ") must be in [0, " + std::to_string(heads) + ")");
      // Every sink against those listed before it (no allocation: calls run this every time).
      for (std::size_t k = 0; k < s.size(); ++k)
        for (std::size_t f = 0; f <= e; ++f)
          for (std::size_t l = 0; l < (f == e ? k : per_head_[f].second.size()); ++l)
            ATTN_CHECK(&per_head_[f].second[l] != &s[k],
                       std::string(fn) + ": a sink of HeadSinks head (" + std::to_string(h) +
                           ") is given twice; each head needs sink objects of its own");
    }
    for (std::size_t e = 0; e < reductions_.size(); ++e)
      for (std::size_t f = 0; f < e; ++f)
        ATTN_CHECK(!reductions_[f]->shares_storage(*reductions_[e]),
                   std::string(fn) + ": HeadSinks::reduce outputs " + std::to_string(f) + " and " + std::to_string(e) +
                       " share storage; each reduction needs a map of its own");
    for (Index h = 0; h < heads; ++h) {
      std::size_t n = reductions_.size();
      for (const auto& [head, s] : per_head_) n += head == h ? s.size() : 0;
      ATTN_CHECK(n <= Sinks<Scalar>::capacity, std::string(fn) + ": head " + std::to_string(h) + " has " +
                                                   std::to_string(n) + " sinks; at most " +
                                                   std::to_string(Sinks<Scalar>::capacity));
    }
    // Each head's sinks begin with its mask (Mask::per_head: its own); every head's call begins
    // them again, and the reductions, with that head's mask.
    const Index rows = detail::block_rows_for<Scalar>(tk);
    for (const auto& [h, s] : per_head_) s.begin(SinkCall{fn, tq, tk, &mask.head(h), rows, tq});
    const SinkCall call{fn, tq, tk, &mask.head(0), rows, tq};
    for (const auto& r : reductions_) r->begin(call);
  }

 private:
  template <typename S>
  friend struct detail::SinkHeads;
  template <typename S>
  friend struct detail::BatchSinkHeads;
  // The first thing this and `other` (another item's sinks) both write to: "" when nothing, else
  // what, for a message. No allocation when nothing is shared.
  std::string shared_with(const HeadSinks& other) const {
    for (const auto& mine : reductions_)
      for (const auto& theirs : other.reductions_)
        if (mine->shares_storage(*theirs)) return "reduce into the same storage (HeadSinks::reduce)";
    for (const auto& [h, s] : per_head_)
      for (std::size_t k = 0; k < s.size(); ++k)
        for (const auto& [g, t] : other.per_head_)
          for (std::size_t l = 0; l < t.size(); ++l)
            if (&s[k] == &t[l]) return "share a sink object (HeadSinks::head)";
    return "";
  }
  std::vector<std::pair<Index, Sinks<Scalar>>> per_head_;
  std::vector<std::unique_ptr<detail::HeadReduceSink<Scalar>>> reductions_;
};

/// Output and fully masked rows of a multi-head call made with HeadSinks.
template <typename Scalar>
struct MultiHeadOutput {
  Matrix<Scalar> output;  ///< Tq×O (torch: Tq×D)
  RowFlags fully_masked;  ///< Tq; true where the query saw no key in every head
  /// \return the number of true entries of fully_masked
  Index num_fully_masked() const { return fully_masked.count(); }
};

/// multi_head_into with the weights going to `sinks` (attn::no_weights: output only) instead of
/// an h×Tq×Tk HeadWeights. Output and fully masked rows equal multi_head_into's bit for bit.
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params projections, biases and the head count h
/// \param output Tq×O, written
/// \param sinks per-head sinks and reductions over heads
/// \param ws reusable scratch
/// \param mask which keys each query may see, in every head or per head (Mask::per_head)
/// \param options probability function and the scale (return_scores still fills ws.scores())
/// \return the number of queries that saw no key
/// \throws attn::invalid_argument as multi_head_into does, or for sinks that do not fit
template <typename DerivedQ, typename DerivedK, typename DerivedV, typename Scalar>
Index multi_head_into(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                      const Eigen::MatrixBase<DerivedV>& v, const MultiHeadParams<Scalar>& params,
                      detail::NoDeduce<Eigen::Ref<Matrix<Scalar>>> output,
                      const detail::NoDeduce<HeadSinks<Scalar>>& sinks, MultiHeadWorkspace<Scalar>& ws,
                      const Mask& mask = Mask(), const Options& options = Options()) {
  constexpr const char* fn = "attn::multi_head";
  detail::check_multi_head_call(fn, q, k, v, params, output, mask, options);
  const detail::CallMask call_mask(mask, q.rows(), k.rows(), params.appended_keys());
  sinks.begin(fn, params.heads, q.rows(), k.rows() + params.appended_keys(), call_mask.get());
  detail::multi_head_run(
      1, [&](Index) -> const DerivedQ& { return q.derived(); }, [&](Index) -> const DerivedK& { return k.derived(); },
      [&](Index) -> const DerivedV& { return v.derived(); }, [&](Index) -> const Mask& { return call_mask.get(); },
      params,
      [&](Index) -> Eigen::Ref<Matrix<Scalar>>& { return output; }, detail::SinkHeads<Scalar>{sinks, params.heads},
      ws, options);
  return ws.num_fully_masked(0);
}

/// Multi-head attention with the weights going to `sinks` (attn::no_weights: output only).
/// \param q queries, Tq×dq
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param params projections, biases and the head count h
/// \param sinks per-head sinks and reductions over heads
/// \param mask which keys each query may see, in every head or per head (Mask::per_head)
/// \param options probability function and the scale
/// \return output and fully masked rows
/// \throws attn::invalid_argument as multi_head_into does
template <typename DerivedQ, typename DerivedK, typename DerivedV, typename Scalar>
MultiHeadOutput<Scalar> multi_head(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                                   const Eigen::MatrixBase<DerivedV>& v, const MultiHeadParams<Scalar>& params,
                                   const detail::NoDeduce<HeadSinks<Scalar>>& sinks, const Mask& mask = Mask(),
                                   const Options& options = Options()) {
  detail::check_multi_head_scalars<Scalar, DerivedQ, DerivedK, DerivedV>();
  detail::check_multi_head_params("attn::multi_head", params);
  MultiHeadOutput<Scalar> r;
  r.output.resize(q.rows(), params.output_dim());
  MultiHeadWorkspace<Scalar> ws;
  multi_head_into(q, k, v, params, r.output, sinks, ws, mask, options);
  r.fully_masked = ws.fully_masked(0);
  return r;
}

/// multi_head_batch_into with the weights of item b going to `sinks[b]` (PyTorch's batched
/// `MultiheadAttention`: `need_weights=False` is an empty `sinks` or attn::no_weights, output only
/// for the whole batch; `sinks[b].reduce(HeadReduction::mean, m_b)` is `average_attn_weights=True`
/// for item b). One HeadSinks per item, as each item has its own shape and a sink keeps the
/// results of one call; each item needs sink objects of its own. Outputs and fully masked rows
/// equal multi_head_batch_into's (and per-item multi_head calls') bit for bit.
/// \param q queries per item, Tq_b×dq
/// \param k keys per item, Tk_b×dk
/// \param v values per item, Tk_b×dv
/// \param params projections, biases and the head count h, shared by every item
/// \param results resized to the batch; item b's output Tq_b×O and fully masked rows are written
/// \param sinks empty (output only), or one HeadSinks per item
/// \param ws reusable scratch for every item and head
/// \param masks empty (default), or one mask per item (shared by its heads, or Mask::per_head)
/// \param options probability function and the scale
/// \throws attn::invalid_argument as multi_head_batch_into does, when a non-empty `sinks` differs
///         in size from `q`, or when item b's sinks do not fit it (the message names the item)
template <typename QSeq, typename KSeq, typename VSeq, typename Scalar>
void multi_head_batch_into(const QSeq& q, const KSeq& k, const VSeq& v, const MultiHeadParams<Scalar>& params,
                           std::vector<MultiHeadOutput<Scalar>>& results,
                           const detail::NoDeduce<std::vector<HeadSinks<Scalar>>>& sinks,
                           MultiHeadWorkspace<Scalar>& ws, const std::vector<Mask>& masks = {},
                           const Options& options = Options()) {
  constexpr const char* fn = "attn::multi_head_batch";
  const Index batch = detail::check_batch(fn, q, k, v, params, masks, options);
  ATTN_CHECK(sinks.empty() || static_cast<Index>(sinks.size()) == batch,
             std::string(fn) + ": sinks.size() (" + std::to_string(sinks.size()) + ") must be 0 or q.size() (" +
                 std::to_string(batch) + ")");
  // Two items writing to one map or one sink object: the later item would overwrite the earlier
  // one's weights without a word.
  for (std::size_t b = 0; b < sinks.size(); ++b) {
    for (std::size_t a = 0; a < b; ++a) {
      const std::string shared = detail::BatchSinkHeads<Scalar>::shared(sinks[a], sinks[b]);
      ATTN_CHECK(shared.empty(), std::string(fn) + ": sinks[" + std::to_string(a) + "] and sinks[" + std::to_string(b) +
                                     "] " + shared + "; each item needs sinks and maps of its own");
    }
  }
  const std::vector<Mask> extended = detail::batch_call_masks(q, k, params, masks);
  const std::vector<Mask>& call_masks = extended.empty() ? masks : extended;
  const Mask none;
  for (Index b = 0; b < static_cast<Index>(sinks.size()); ++b) {
    const auto i = static_cast<std::size_t>(b);
    try {
      sinks[i].begin(fn, params.heads, q[i].rows(), k[i].rows() + params.appended_keys(),
                     call_masks.empty() ? none : call_masks[i]);
    } catch (const invalid_argument& e) {
      throw invalid_argument(detail::item_message(fn, b, e.what()));
    }
  }
  detail::run_batch(q, k, v, params, call_masks, results, detail::BatchSinkHeads<Scalar>{sinks, params.heads}, ws,
                    options);
}

/// multi_head_batch_into, output only for every item (PyTorch `need_weights=False`).
/// \param q queries per item, Tq_b×dq
/// \param k keys per item, Tk_b×dk
/// \param v values per item, Tk_b×dv
/// \param params projections, biases and the head count h
/// \param results resized to the batch; outputs and fully masked rows are written
/// \param ws reusable scratch
/// \param masks empty (default), or one mask per item (shared by its heads, or Mask::per_head)
/// \param options probability function and the scale
/// \throws attn::invalid_argument as multi_head_batch_into does
template <typename QSeq, typename KSeq, typename VSeq, typename Scalar>
void multi_head_batch_into(const QSeq& q, const KSeq& k, const VSeq& v, const MultiHeadParams<Scalar>& params,
                           std::vector<MultiHeadOutput<Scalar>>& results, NoWeights, MultiHeadWorkspace<Scalar>& ws,
                           const std::vector<Mask>& masks = {}, const Options& options = Options()) {
  const std::vector<HeadSinks<Scalar>> none;  // empty: allocates nothing
  multi_head_batch_into(q, k, v, params, results, none, ws, masks, options);
}

/// Value form of the batch with sinks: one MultiHeadOutput (output, fully masked rows) per item.
/// \param q queries per item, Tq_b×dq
/// \param k keys per item, Tk_b×dk
/// \param v values per item, Tk_b×dv
/// \param params projections, biases and the head count h
/// \param sinks empty (output only), or one HeadSinks per item
/// \param masks empty (default), or one mask per item (shared by its heads, or Mask::per_head)
/// \param options probability function and the scale
/// \return `q.size()` outputs, in item order
/// \throws attn::invalid_argument as multi_head_batch_into does
template <typename QSeq, typename KSeq, typename VSeq, typename Scalar>
std::vector<MultiHeadOutput<Scalar>> multi_head_batch(const QSeq& q, const KSeq& k, const VSeq& v,
                                                      const MultiHeadParams<Scalar>& params,
                                                      const detail::NoDeduce<std::vector<HeadSinks<Scalar>>>& sinks,
                                                      const std::vector<Mask>& masks = {},
                                                      const Options& options = Options()) {
  std::vector<MultiHeadOutput<Scalar>> results;
  MultiHeadWorkspace<Scalar> ws;
  multi_head_batch_into(q, k, v, params, results, sinks, ws, masks, options);
  return results;
}

/// Value form of the batch, output only (PyTorch `need_weights=False`).
/// \param q queries per item, Tq_b×dq
/// \param k keys per item, Tk_b×dk
/// \param v values per item, Tk_b×dv
/// \param params projections, biases and the head count h
/// \param masks empty (default), or one mask per item (shared by its heads, or Mask::per_head)
/// \param options probability function and the scale
/// \return `q.size()` outputs, in item order
/// \throws attn::invalid_argument as multi_head_batch_into does
template <typename QSeq, typename KSeq, typename VSeq, typename Scalar>
std::vector<MultiHeadOutput<Scalar>> multi_head_batch(const QSeq& q, const KSeq& k, const VSeq& v,
                                                      const MultiHeadParams<Scalar>& params, NoWeights,
                                                      const std::vector<Mask>& masks = {},
                                                      const Options& options = Options()) {
  const std::vector<HeadSinks<Scalar>> none;
  return multi_head_batch(q, k, v, params, none, masks, options);
}

}  // namespace attn
