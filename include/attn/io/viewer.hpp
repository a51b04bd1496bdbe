// SPDX-License-Identifier: MIT
// The interactive attention viewer: one self-contained HTML file (inline script and style, no
// network request) with a head view, a model view (layers × heads), a zoomable map view and
// highlighted text, for self-, cross- and decoder attention of several batch items.
// Maps are Tq×Tk (rows are queries, columns are keys), per layer and per head.
#pragma once

#include "../config.hpp"
#include "../head_weights.hpp"
#include "../history.hpp"
#include "../mask.hpp"
#include "colormap.hpp"
#include "detail/viewer_data.hpp"
#include "detail/viewer_page.hpp"
#include "detail/write_file.hpp"

#include <Eigen/Core>

#include <deque>
#include <filesystem>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace attn::io {

/// One layer of a ViewAttention: its name and one `Tq×Tk` map per head (stored as float).
struct ViewLayer {
  std::string name;                   ///< shown in the layer selector; empty: "layer N"
  std::vector<Eigen::MatrixXf> heads;  ///< one Tq×Tk map per head, at least one
};

/// One attention of one batch item (encoder self-attention, cross-attention, a decoder's
/// self-attention or alignment history): query tokens attend to key tokens, with layers of heads.
/// Self-attention has the same tokens on both sides; cross-attention has the target tokens as
/// queries and the source tokens as keys. Every layer has the same number of heads.
class ViewAttention {
 public:
  /// \param name shown in the attention selector ("encoder", "cross", "decoder", ...)
  /// \param query_tokens Tq labels (target side); empty: the row numbers are shown
  /// \param key_tokens Tk labels (source side); empty: the column numbers are shown
  ViewAttention(std::string name, std::vector<std::string> query_tokens, std::vector<std::string> key_tokens)
      : name_(std::move(name)), query_tokens_(std::move(query_tokens)), key_tokens_(std::move(key_tokens)) {}

  /// Adds a layer whose heads are the `h×Tq×Tk` per-head weights of a multi-head call.
  /// \param heads per-head weights, h >= 1
  /// \param name layer name (default "layer N")
  /// \return *this
  /// \throws attn::invalid_argument when there is no head or the shape differs from the
  ///         tokens, the earlier layers, or their head count
  template <typename Scalar>
  ViewAttention& add_layer(const HeadWeights<Scalar>& heads, std::string name = {}) {
    ViewLayer layer{std::move(name), {}};
    for (Index i = 0; i < heads.heads(); ++i) layer.heads.push_back(heads.head(i).template cast<float>());
    return push(std::move(layer));
  }

  /// Adds a layer with one head per matrix (each `Tq×Tk`).
  /// \param heads the maps, at least one \param name layer name \return *this
  /// \throws attn::invalid_argument as add_layer(HeadWeights) does
  template <typename Scalar>
  ViewAttention& add_layer(const std::vector<Matrix<Scalar>>& heads, std::string name = {}) {
    ViewLayer layer{std::move(name), {}};
    for (const Matrix<Scalar>& m : heads) layer.heads.push_back(m.template cast<float>());
    return push(std::move(layer));
  }

  /// Adds a single-head layer: one `Tq×Tk` map (e.g. the weights of a single-head call).
  /// \param map the weights \param name layer name \return *this
  /// \throws attn::invalid_argument as add_layer(HeadWeights) does
  template <typename Derived>
  ViewAttention& add_layer(const Eigen::MatrixBase<Derived>& map, std::string name = {}) {
    static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
    ViewLayer layer{std::move(name), {}};
    layer.heads.push_back(map.template cast<float>());
    return push(std::move(layer));
  }

  /// Adds the alignment history of sequence `sequence` of a decoder as a layer: one
  /// `steps×n_b` map per recorded head (queries are the decoder steps, keys the source).
  /// \param history the history \param sequence b, in `[0, history.batch_size())`
  /// \param name layer name (default "layer N") \return *this
  /// \throws attn::invalid_argument when `sequence` is out of range or shapes differ
  template <typename Scalar>
  ViewAttention& add_history(const AlignmentHistory<Scalar>& history, Index sequence, std::string name = {}) {
    ATTN_CHECK(sequence >= 0 && sequence < history.batch_size(),
               "attn::io::ViewAttention::add_history: sequence (" + std::to_string(sequence) + ") must be in [0, " +
                   std::to_string(history.batch_size()) + ")");
    ViewLayer layer{std::move(name), {}};
    for (Index h = 0; h < history.heads(); ++h) layer.heads.push_back(history.view(sequence, h).template cast<float>());
    return push(std::move(layer));
  }

  /// \return the name
  const std::string& name() const { return name_; }
  /// \return the query (target) tokens, Tq or none
  const std::vector<std::string>& query_tokens() const { return query_tokens_; }
  /// \return the key (source) tokens, Tk or none
  const std::vector<std::string>& key_tokens() const { return key_tokens_; }
  /// \return the layers added so far
  const std::vector<ViewLayer>& layers() const { return layers_; }

  /// The mask the weights were computed with (the same `attn::Mask` the kernels take), for every
  /// layer and head of this attention: the page draws the cells it hid hatched in neutral
  /// greys, never in a colour of the scale, so they cannot be taken for weight 0 (as the SVG
  /// heatmaps do); tooltips say `masked (value)`, and the text view marks the hidden keys. Its
  /// shape is checked against the maps when the page is written.
  /// \param mask e.g. `attn::Mask::causal()`, `attn::Mask::key_length(n)` \return *this
  ViewAttention& set_mask(Mask mask) {
    mask_ = std::move(mask);
    return *this;
  }
  /// \return the mask set with set_mask() (default: nothing hidden)
  const Mask& mask() const { return mask_; }

 private:
  ViewAttention& push(ViewLayer layer) {
    const std::string who = "attn::io::ViewAttention::add_layer";
    const std::string at = who + ": '" + name_ + "' layer " + std::to_string(layers_.size());
    ATTN_CHECK(!layer.heads.empty(), at + " has no head");
    const Index rows = layers_.empty() ? layer.heads.front().rows() : layers_.front().heads.front().rows();
    const Index cols = layers_.empty() ? layer.heads.front().cols() : layers_.front().heads.front().cols();
    for (std::size_t h = 0; h < layer.heads.size(); ++h) {
      const Eigen::MatrixXf& m = layer.heads[h];
      ATTN_CHECK(m.rows() == rows && m.cols() == cols, at + " head " + std::to_string(h) + " is " +
                                                           ::attn::detail::shape(m.rows(), m.cols()) + ", expected " +
                                                           ::attn::detail::shape(rows, cols));
    }
    ATTN_CHECK(query_tokens_.empty() || static_cast<Index>(query_tokens_.size()) == rows,
               at + ": the maps have " + std::to_string(rows) + " rows but there are " +
                   std::to_string(query_tokens_.size()) + " query tokens");
    ATTN_CHECK(key_tokens_.empty() || static_cast<Index>(key_tokens_.size()) == cols,
               at + ": the maps have " + std::to_string(cols) + " columns but there are " +
                   std::to_string(key_tokens_.size()) + " key tokens");
    ATTN_CHECK(layers_.empty() || layers_.front().heads.size() == layer.heads.size(),
               at + " has " + std::to_string(layer.heads.size()) + " heads, layer 0 has " +
                   std::to_string(layers_.front().heads.size()));
    layers_.push_back(std::move(layer));
    return *this;
  }

  std::string name_;
  std::vector<std::string> query_tokens_;
  std::vector<std::string> key_tokens_;
  std::vector<ViewLayer> layers_;
  Mask mask_;
};

/// One batch item (one sentence, one sample): its attentions.
struct ViewItem {
  std::string name;  ///< shown in the item selector; empty: "item N"
  /// The attentions; a std::deque, so references returned by add_attention stay valid.
  std::deque<ViewAttention> attentions;

  /// Adds an attention (see ViewAttention) and returns it, to add layers to.
  /// \param attention_name its name \param query_tokens Tq labels \param key_tokens Tk labels
  /// \return the new attention, valid as long as this item
  ViewAttention& add_attention(std::string attention_name, std::vector<std::string> query_tokens,
                               std::vector<std::string> key_tokens) {
    attentions.emplace_back(std::move(attention_name), std::move(query_tokens), std::move(key_tokens));
    return attentions.back();
  }
};

/// Everything one viewer page shows: batch items, each with its attentions (layers × heads).
/// \code
/// attn::io::AttentionView view;
/// auto& encoder = view.add_attention("encoder", source, source);     // self-attention
/// encoder.add_layer(layer0.head_weights).add_layer(layer1.head_weights);
/// view.add_attention("cross", target, source).add_layer(cross.head_weights);
/// attn::io::write_attention_view("attention.html", view);
/// \endcode
class AttentionView {
 public:
  /// Starts a new batch item; later add_attention() calls on the view add to it.
  /// \param name shown in the item selector (default "item N") \return the item
  ViewItem& add_item(std::string name = {}) {
    items_.push_back(ViewItem{std::move(name), {}});
    return items_.back();
  }
  /// Adds an attention to the last item (the first call without add_item() makes item 0).
  /// \param name its name \param query_tokens Tq labels (empty: numbers)
  /// \param key_tokens Tk labels (empty: numbers) \return the attention, to add layers to
  ViewAttention& add_attention(std::string name, std::vector<std::string> query_tokens,
                               std::vector<std::string> key_tokens) {
    if (items_.empty()) add_item();
    return items_.back().add_attention(std::move(name), std::move(query_tokens), std::move(key_tokens));
  }
  /// \return the items
  const std::deque<ViewItem>& items() const { return items_; }

 private:
  std::deque<ViewItem> items_;
};

/// The HTML page of `view`: a self-contained document (inline script and style, no request).
/// \param view the data: at least one item, each attention with at least one layer
/// \param options look and encoding (ViewOptions)
/// \return the page
/// \throws attn::invalid_argument when the view is empty or an option is out of range
inline std::string attention_view_html(const AttentionView& view, const ViewOptions& options = {}) {
  const char* who = "attn::io::attention_view_html";
  std::vector<detail::ViewItemRef> items;
  for (const ViewItem& item : view.items()) {
    detail::ViewItemRef ref{item.name, {}};
    for (const ViewAttention& a : item.attentions) {
      ref.attentions.push_back({&a.name(), &a.query_tokens(), &a.key_tokens(), {}, {}, &a.mask()});
      for (const ViewLayer& l : a.layers()) {
        ref.attentions.back().layer_names.push_back(&l.name);
        ref.attentions.back().layers.push_back(&l.heads);
      }
    }
    items.push_back(std::move(ref));
  }
  return detail::viewer_page(detail::viewer_json(items, options, who), options);
}

/// Writes attention_view_html(view, options) to `os`.
/// \param os the stream \param view the data \param options look and encoding
/// \throws attn::invalid_argument as attention_view_html does; std::runtime_error when the
///         stream is bad before or after
inline void write_attention_view(std::ostream& os, const AttentionView& view, const ViewOptions& options = {}) {
  const char* who = "attn::io::write_attention_view";
  const std::string text = attention_view_html(view, options);
  if (!os) throw std::runtime_error(std::string(who) + ": the output stream is not in a good state");
  os.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!os) throw std::runtime_error(std::string(who) + ": writing to the output stream failed");
}

/// Writes attention_view_html(view, options) to the file `path` atomically (temporary file +
/// rename): a failure leaves any earlier file as it was.
/// \param path the file \param view the data \param options look and encoding
/// \throws attn::invalid_argument as attention_view_html does (before the file is touched);
///         std::runtime_error naming the path and the reason on I/O failure
inline void write_attention_view(const std::filesystem::path& path, const AttentionView& view,
                                 const ViewOptions& options = {}) {
  const std::string text = attention_view_html(view, options);
  detail::write_file_atomically(path, "attn::io::write_attention_view", [&](std::ostream& os) {
    os.write(text.data(), static_cast<std::streamsize>(text.size()));
  });
}

}  // namespace attn::io
