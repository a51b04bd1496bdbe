// SPDX-License-Identifier: MIT
// attn::Mask: which keys query row i may see. Kinds (key length, causal with offset, window,
// chunks with left chunks, explicit Tq×Tk boolean matrix) combine by intersection with operator&.
#pragma once

#include "config.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace attn {
namespace detail {

/// a + b clamped away from overflow (mask offsets may be huge or negative).
inline Index saturating_add(Index a, Index b) {
  constexpr Index hi = std::numeric_limits<Index>::max() - 1;
  constexpr Index lo = std::numeric_limits<Index>::min() + 1;
  if (b >= 0 && a > hi - b) return hi;
  if (b < 0 && a < lo - b) return lo;
  return a + b;
}

/// a − b clamped away from overflow (b may be the most negative Index, which cannot be negated).
inline Index saturating_sub(Index a, Index b) {
  constexpr Index hi = std::numeric_limits<Index>::max() - 1;
  constexpr Index lo = std::numeric_limits<Index>::min() + 1;
  if (b < 0 && a > hi + b) return hi;
  if (b > 0 && a < lo + b) return lo;
  return a - b;
}

/// The first position of the chunk of `size` positions (size >= 1) that position `x` is in:
/// `floor(x / size)·size`, for negative `x` too (saturated, not overflowing).
inline Index chunk_start(Index x, Index size) {
  Index rem = x % size;  // in (−size, size), the sign of x
  if (rem < 0) rem += size;
  return saturating_add(x, -rem);
}

/// `chunks·size` positions (chunks >= 0, size >= 1), saturated instead of overflowing.
inline Index chunk_span(Index chunks, Index size) {
  constexpr Index hi = std::numeric_limits<Index>::max() - 1;
  return chunks > hi / size ? hi : chunks * size;
}

}  // namespace detail

/// Boolean visibility matrix `Tq×Tk`, `true` = visible.
using BoolMatrix = Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

/// What query `i` may see of key `j`. A default-constructed mask sees everything.
///
/// - `key_length(n)`: visible iff `j < n` (padding);
/// - `causal(o)`: visible iff `j <= i + o`;
/// - `window(left, right)`: visible iff `i - left <= j <= i + right`;
/// - `chunked(size, o, left)`: visible iff `floor(j / size)` is `floor((i + o) / size)` or one
///   of the `left` chunks before it (Llama 4's chunked attention with `causal(o)` and `left = 0`;
///   streaming speech encoders' chunk masks with `left` chunks of history);
/// - `matrix(m)`: visible iff `m(i, j)`;
/// - `additive(m)`: PyTorch's float `attn_mask`, added to the scores: visible iff
///   `m(i, j) > -10000` (-inf hides), and a visible entry other than 0 is a score bias;
/// - `per_head({m_0, …})`: head `i` of multi_head sees what `m_i` shows (torch's 3-D mask).
///
/// `a & b` is visible where both are (biases add). The band kinds (length, causal, window,
/// chunked) cost nothing per entry; only an explicit matrix (and an additive mask's bias) is
/// stored.
class Mask {
 public:
  Mask() = default;

  /// Keys `j >= n` are padding. `n` must be >= 0 and, when applied, <= Tk.
  /// \param n number of real keys (not padding)
  /// \return the key-length mask
  /// \throws attn::invalid_argument when `n < 0`
  static Mask key_length(Index n) {
    ATTN_CHECK(n >= 0, "attn::Mask::key_length: n (" + std::to_string(n) + ") must be >= 0");
    Mask m;
    m.length_ = n;
    return m;
  }

  /// Query `i` sees keys `j <= i + offset`. `offset = Tk - Tq` puts a block of queries at the
  /// end of a longer key sequence (decoding with a cache); a negative offset hides the diagonal.
  /// \param offset how far right of the diagonal query `i` sees (default 0: keys `j <= i`)
  /// \return the causal mask
  static Mask causal(Index offset = 0) {
    Mask m;
    m.right_ = offset;
    return m;
  }

  /// Query `i` sees keys `i - left <= j <= i + right` (`right = 0`: history only).
  /// \param left keys before `i` that stay visible, >= 0
  /// \param right keys after `i` that stay visible, >= 0
  /// \return the window mask
  /// \throws attn::invalid_argument when `left` or `right` is negative
  static Mask window(Index left, Index right) {
    ATTN_CHECK(left >= 0, "attn::Mask::window: left (" + std::to_string(left) + ") must be >= 0");
    ATTN_CHECK(right >= 0, "attn::Mask::window: right (" + std::to_string(right) + ") must be >= 0");
    Mask m;
    m.left_ = left;
    m.right_ = right;
    return m;
  }

  /// Chunked attention (transformers' `attention_chunk_size`, Llama 4's local layers; the chunk
  /// masks of streaming speech encoders, WeNet's and ESPnet's `subsequent_chunk_mask`): the
  /// positions are cut into chunks of `size`, and a query sees the keys of its own chunk and of
  /// the `left_chunks` chunks before it, key `j` at position `j` and query `i` at position
  /// `i + offset`: visible iff `c(i + offset) − left_chunks <= c(j) <= c(i + offset)`, where
  /// `c(x) = floor(x / size)`. The visible keys of a row are one range that moves right with the
  /// row, so the mask costs nothing per entry and its hidden chunks are never computed (a band,
  /// as causal). Alone it shows the whole chunk, later keys too (a streaming encoder's look-ahead
  /// within its chunk); a decoder layer intersects it with the causal mask of the same offset,
  /// `causal(o) & chunked(size, o)` (`o = Tk − Tq` for a block of queries at the end of the keys; a
  /// KVCache: `set_attention_chunk(size, left_chunks)`). Two chunked masks intersect when their
  /// sizes and offsets are equal (the fewer left chunks hold).
  /// \param size positions per chunk, >= 1
  /// \param offset the position of query 0 (default 0: queries and keys from the same position)
  /// \param left_chunks earlier chunks a query also sees, >= 0 (default 0: its own chunk only);
  ///        Mask::all_chunks for every earlier chunk (WeNet's `num_left_chunks = -1`)
  /// \return the chunked mask
  /// \throws attn::invalid_argument when `size < 1` or `left_chunks < 0`
  static Mask chunked(Index size, Index offset = 0, Index left_chunks = 0) {
    ATTN_CHECK(size >= 1, "attn::Mask::chunked: size (" + std::to_string(size) + ") must be >= 1");
    ATTN_CHECK(left_chunks >= 0, "attn::Mask::chunked: left_chunks (" + std::to_string(left_chunks) +
                                     ") must be >= 0; every earlier chunk (WeNet's num_left_chunks = -1) is "
                                     "attn::Mask::all_chunks");
    Mask m;
    m.chunk_ = Chunk{size, offset, left_chunks};
    return m;
  }

  /// `left_chunks` of chunked() for every earlier chunk: a query sees its own chunk and all
  /// before it (a streaming encoder trained with full history).
  static constexpr Index all_chunks = std::numeric_limits<Index>::max();

  /// Explicit visibility, `Tq×Tk`, `true` = visible (any bool-convertible Eigen expression).
  /// A numeric matrix (Keras' 0/1 masks) is visible where non-zero; its entries must be finite
  /// and >= 0, so that PyTorch's float `attn_mask` (0 = attend, -inf = hidden, the opposite
  /// reading) is refused instead of silently inverted: that one is additive().
  /// \param visible `Tq×Tk`, cast to bool; its shape is checked when the mask is applied
  /// \return the explicit mask (it stores a copy of `visible`)
  /// \throws attn::invalid_argument naming the first negative, infinite or NaN entry of a
  ///         numeric matrix
  template <typename Derived>
  static Mask matrix(const Eigen::DenseBase<Derived>& visible) {
    using Scalar = typename Derived::Scalar;
    Mask m;
    if constexpr (std::is_same_v<Scalar, bool>) {
      m.matrix_ = visible.template cast<bool>();
    } else {
      const typename Derived::PlainObject plain = visible;
      for (Index j = 0; j < plain.cols(); ++j) {
        for (Index i = 0; i < plain.rows(); ++i) {
          const Scalar x = plain(i, j);
          bool fine = true;
          if constexpr (std::is_signed_v<Scalar>) fine = !(x < Scalar(0));
          if constexpr (std::is_floating_point_v<Scalar>) fine = fine && std::isfinite(x);
          ATTN_CHECK(fine, "attn::Mask::matrix: visible" + entry(i, j, x) +
                               ", but a mask matrix holds visibility: true or non-zero = visible, false or 0 = "
                               "hidden. PyTorch's float attn_mask, added to the scores (0 = attend, -inf = "
                               "hidden), is attn::Mask::additive(m)");
        }
      }
      m.matrix_ = plain.template cast<bool>();
    }
    return m;
  }

  /// PyTorch's float `attn_mask`, `Tq×Tk`, which `torch.nn.MultiheadAttention` and
  /// `scaled_dot_product_attention` add to the scores: -inf, or any value <= -10000 (BERT's
  /// -10000, Hugging Face's `torch.finfo(dtype).min`, whose exp() is 0 in float and double),
  /// hides the key; any other entry is visible and added to its score before the probability
  /// function, as in torch: 0 attends as usual, other values are a score bias (ALiBi, T5's
  /// relative positions, a causal mask and a bias in one matrix). Hidden entries stay exactly 0
  /// and unread, as with every mask (NaN there is harmless). The bias is applied to the scaled
  /// scores (`softmax(scale·q·kᵀ + bias)`); the `scores` a call returns are the mechanism's, before
  /// the bias. The bias is stored as double (`Tq×Tk`, besides the visibility matrix), and only
  /// when some visible entry is not 0.
  /// \param bias `Tq×Tk` float or double; its shape is checked when the mask is applied
  /// \return the explicit mask, visible where `bias > -10000`, with the bias when it has one
  /// \throws attn::invalid_argument naming the first NaN or +inf entry
  template <typename Derived>
  static Mask additive(const Eigen::DenseBase<Derived>& bias) {
    using Scalar = typename Derived::Scalar;
    static_assert(std::is_floating_point_v<Scalar>,
                  "attn::Mask::additive takes a float or double matrix (PyTorch's float attn_mask); "
                  "a boolean mask is attn::Mask::matrix");
    const typename Derived::PlainObject plain = bias;
    Mask m;
    BoolMatrix visible(plain.rows(), plain.cols());
    for (Index j = 0; j < plain.cols(); ++j) {
      for (Index i = 0; i < plain.rows(); ++i) {
        const Scalar x = plain(i, j);
        ATTN_CHECK(!std::isnan(x) && x != std::numeric_limits<Scalar>::infinity(),
                   "attn::Mask::additive: bias" + entry(i, j, x) +
                       ": an additive mask holds a finite score bias (0 = attend as usual) or -inf (hidden; any "
                       "value <= -10000 hides too)");
        visible(i, j) = x > Scalar(-10000);
        if (visible(i, j) && x != Scalar(0)) {
          if (!m.bias_) m.bias_ = Matrix<double>::Zero(plain.rows(), plain.cols());  // at the first bias
          (*m.bias_)(i, j) = static_cast<double>(x);
        }
      }
    }
    m.matrix_ = std::move(visible);
    return m;
  }

  /// One mask per head, for multi_head: head `i` sees what `heads[i]` shows and adds its score
  /// bias, as torch's 3-D float `attn_mask` (`(B·h, Tq, Tk)`: item b's heads are entries
  /// `b·h … b·h + h - 1`) gives each head its own (ALiBi's per-head slopes, T5's bias). Only
  /// multi_head (its value, `_into`, batch and sinks forms) takes such a mask, with exactly as many
  /// masks as heads; every other call refuses it. `a & b` with a per-head mask intersects head by
  /// head (a shared mask applies to every head).
  /// \param heads one mask per head, of any kinds (none of them per head itself)
  /// \return the per-head mask
  /// \throws attn::invalid_argument when `heads` is empty or holds a per-head mask
  static Mask per_head(std::vector<Mask> heads) {
    ATTN_CHECK(!heads.empty(), "attn::Mask::per_head: heads is empty; give one mask per head");
    for (std::size_t i = 0; i < heads.size(); ++i)
      ATTN_CHECK(heads[i].heads_.empty(), "attn::Mask::per_head: heads[" + std::to_string(i) +
                                              "] is itself a per-head mask; give each head one mask");
    Mask m;
    m.heads_ = std::move(heads);
    return m;
  }

  /// Intersection: visible where both masks are. Score biases (additive()) add up; per-head
  /// masks intersect head by head.
  /// \param other the mask to intersect with
  /// \return `*this`
  /// \throws attn::invalid_argument when both hold explicit matrices of different shapes, both
  ///         are per head with different head counts, or both are chunked with different sizes or
  ///         offsets
  Mask& operator&=(const Mask& other) {
    if (!heads_.empty() || !other.heads_.empty()) return intersect_heads(other);
    if (chunk_ && other.chunk_) {
      ATTN_CHECK(chunk_->size == other.chunk_->size && chunk_->offset == other.chunk_->offset,
                 "attn::Mask::operator&: chunked masks (size " + std::to_string(chunk_->size) + ", offset " +
                     std::to_string(chunk_->offset) + ") and (size " + std::to_string(other.chunk_->size) +
                     ", offset " + std::to_string(other.chunk_->offset) +
                     ") intersect only when their sizes and offsets are equal; for another intersection use "
                     "Mask::matrix");
      chunk_->left_chunks = std::min(chunk_->left_chunks, other.chunk_->left_chunks);
    } else if (other.chunk_) {
      chunk_ = other.chunk_;
    }
    if (other.length_) length_ = length_ ? std::min(*length_, *other.length_) : *other.length_;
    if (other.left_) left_ = left_ ? std::min(*left_, *other.left_) : *other.left_;
    if (other.right_) right_ = right_ ? std::min(*right_, *other.right_) : *other.right_;
    if (other.matrix_) {
      if (matrix_) {
        ATTN_CHECK(matrix_->rows() == other.matrix_->rows() && matrix_->cols() == other.matrix_->cols(),
                   "attn::Mask::operator&: matrix masks " + detail::shape(*matrix_) + " and " +
                       detail::shape(*other.matrix_) + " must have the same shape");
        *matrix_ = matrix_->array() && other.matrix_->array();
      } else {
        matrix_ = other.matrix_;
      }
    }
    // Biases add, as torch adds its float masks (attn_mask and key_padding_mask). A bias comes
    // with its matrix (additive), so the shapes were checked above.
    if (other.bias_) {
      if (bias_) {
        *bias_ += *other.bias_;
      } else {
        bias_ = other.bias_;
      }
    }
    if (bias_ && other.matrix_) *bias_ = matrix_->select(*bias_, 0.0);  // 0 where the other mask's matrix hides
    return *this;
  }

  /// Intersection of two masks, as operator&=.
  /// \param a first mask
  /// \param b second mask
  /// \return the mask visible where both are
  /// \throws attn::invalid_argument as operator&= does
  friend Mask operator&(Mask a, const Mask& b) { return a &= b; }

  /// True when nothing is hidden (the default mask).
  /// \return true for the default mask, false once any kind is set
  bool is_all_visible() const { return !length_ && !left_ && !right_ && !chunk_ && !matrix_ && heads_.empty(); }

  /// The key length. \return `n`; unset when the mask has none
  const std::optional<Index>& length() const { return length_; }
  /// The window's left extent. \return `left`; unset unless a window was set
  const std::optional<Index>& left() const { return left_; }
  /// How far right of the diagonal keys stay visible.
  /// \return the causal offset or window `right` (the smallest after `&`); unset when neither
  ///         was set
  const std::optional<Index>& right() const { return right_; }
  /// The chunks of chunked(): positions per chunk, the position of query 0 and the earlier
  /// chunks a query sees.
  struct Chunk {
    Index size;             ///< positions per chunk, >= 1
    Index offset;           ///< the position of query 0 (keys from position 0)
    Index left_chunks = 0;  ///< earlier chunks a query also sees, >= 0 (Mask::all_chunks: every one)
  };
  /// The chunks. \return `{size, offset, left_chunks}` of chunked(); unset when the mask has none
  const std::optional<Chunk>& chunk() const { return chunk_; }
  /// The explicit visibility matrix. \return `Tq×Tk`; unset when the mask has none
  const std::optional<BoolMatrix>& explicit_matrix() const { return matrix_; }
  /// Number of per-head masks. \return h for a per_head() mask; 0 for a mask every head shares
  Index heads() const { return static_cast<Index>(heads_.size()); }
  /// The mask of head `i`. \param i head, in [0, heads()) for a per-head mask
  /// \return `heads[i]` of per_head(); this mask itself when every head shares it
  const Mask& head(Index i) const { return heads_.empty() ? *this : heads_[static_cast<std::size_t>(i)]; }
  /// The score bias of additive() masks, added to the visible scores (0 where hidden).
  /// \return `Tq×Tk`; unset when no additive mask had a visible entry other than 0
  const std::optional<Matrix<double>>& bias() const { return bias_; }

  /// Throws attn::invalid_argument, naming `function`, when this mask cannot apply to a
  /// `tq×tk` score matrix (key length beyond tk, matrix of another shape).
  /// \param function the name that starts the message, e.g. "attn::scaled_dot_product"
  /// \param tq number of queries
  /// \param tk number of keys
  /// \param against what the mask applies to, as the message names it ("the map" for a picture)
  void check(const char* function, Index tq, Index tk, const char* against = "the scores") const {
    ATTN_CHECK(heads_.empty(), std::string(function) + ": a per-head mask (Mask::per_head, " +
                                   std::to_string(heads_.size()) +
                                   " heads) applies to attn::multi_head only; here pass one head's mask, "
                                   "mask.head(i)");
    if (length_) {
      ATTN_CHECK(*length_ <= tk, std::string(function) + ": mask key length (" + std::to_string(*length_) +
                                     ") exceeds the number of keys (" + std::to_string(tk) + ")");
    }
    if (matrix_) {
      // One value per key (Keras' mask_zero, a float row of 0 and -inf) made into a 1×Tk matrix
      // is the usual mistake here: the hint spreads it, with either function that takes it (a
      // float row of 0 and -inf gives the same mask as a boolean one: its origin is not kept).
      const bool per_key = matrix_->rows() == 1 && matrix_->cols() == tk && tq > 1;
      const std::string rows = std::to_string(tq);
      ATTN_CHECK(matrix_->rows() == tq && matrix_->cols() == tk,
                 std::string(function) + ": mask matrix " + detail::shape(*matrix_) + " must match " + against +
                     " " + detail::shape(tq, tk) +
                     (per_key ? "; one value per key (Keras' mask_zero, a padding mask) applies to every query: "
                                "Mask::matrix(keys.replicate(" + rows + ", 1)) (a float mask of 0 and -inf: "
                                "Mask::additive(m.replicate(" + rows + ", 1))), or Mask::key_length(n) when the "
                                "padding is at the end"
                              : ""));
    }
  }

  /// check() for a call of `heads` heads (multi_head): a shared mask as check(); a per-head mask
  /// must have `heads` masks, each checked (the message names the head).
  /// \param function the name that starts the message \param heads h \param tq Tq \param tk Tk
  void check_heads(const char* function, Index heads, Index tq, Index tk) const {
    if (heads_.empty()) return check(function, tq, tk);
    ATTN_CHECK(this->heads() == heads, std::string(function) + ": the mask has " + std::to_string(this->heads()) +
                                           " heads (Mask::per_head), the call " + std::to_string(heads));
    for (Index i = 0; i < heads; ++i) {
      const std::string name = std::string(function) + ": head " + std::to_string(i);
      heads_[static_cast<std::size_t>(i)].check(name.c_str(), tq, tk);
    }
  }

  /// Keys `[first, last)` that row `i` may see before the explicit matrix is consulted
  /// (empty when `first >= last`).
  /// \param i query row
  /// \param tk number of keys
  /// \return `{first, last}`, with `first <= last`
  std::pair<Index, Index> band(Index i, Index tk) const {
    Index first = 0;
    Index last = tk;
    if (length_) last = std::min(last, *length_);
    if (right_) last = std::min(last, detail::saturating_add(i, *right_) + 1);
    if (left_) first = std::max(first, detail::saturating_add(i, -*left_));
    if (chunk_) {  // the keys of query i's chunk and of the left_chunks before it
      const Index start = detail::chunk_start(detail::saturating_add(i, chunk_->offset), chunk_->size);
      first = std::max(first, detail::saturating_sub(start, detail::chunk_span(chunk_->left_chunks, chunk_->size)));
      last = std::min(last, detail::saturating_add(start, chunk_->size));
    }
    return {first, std::max(first, last)};
  }

  /// Whether query `i` sees key `j` (in a `·×tk` problem).
  /// \param i query row
  /// \param j key column
  /// \param tk number of keys
  /// \return true when every kind of the mask lets query `i` see key `j`
  bool visible(Index i, Index j, Index tk) const {
    const auto [first, last] = band(i, tk);
    return j >= first && j < last && (!matrix_ || (*matrix_)(i, j));
  }

 private:
  std::optional<Index> length_;
  std::optional<Index> left_;
  std::optional<Index> right_;
  std::optional<Chunk> chunk_;
  std::optional<BoolMatrix> matrix_;
  std::optional<Matrix<double>> bias_;  // only with matrix_, of its shape
  std::vector<Mask> heads_;              // per_head(): then every other member is unset

  // operator&= when either side is per head: head by head, a shared side applying to each.
  Mask& intersect_heads(const Mask& other) {
    if (heads_.empty()) {  // shared & per head: the shared kinds go into each head (operands of & commute)
      Mask shared = std::move(*this);
      *this = other;
      for (Mask& h : heads_) h = shared & h;
      return *this;
    }
    if (other.heads_.empty()) {
      for (Mask& h : heads_) h &= other;
      return *this;
    }
    ATTN_CHECK(heads_.size() == other.heads_.size(),
               "attn::Mask::operator&: per-head masks of " + std::to_string(heads_.size()) + " and " +
                   std::to_string(other.heads_.size()) + " heads");
    for (std::size_t i = 0; i < heads_.size(); ++i) heads_[i] &= other.heads_[i];
    return *this;
  }

  /// "(i, j) is x" for messages: the entry's place and value ("-inf", "0.5").
  template <typename Scalar>
  static std::string entry(Index i, Index j, Scalar x) {
    return "(" + std::to_string(i) + ", " + std::to_string(j) + ") is " + detail::number_text(x);
  }
};

}  // namespace attn
