// SPDX-License-Identifier: MIT
// attn example: run the Keras attention layers people ask about on trained kernels, and get the
// weights back. The kernels here stand in for what `layer.get_weights()` returns in Python,
// flattened with `w.ravel()` (C order) and pasted in; in a real program they come from
// `.npy` files or any other export. Each block names the Keras weights and their shapes.

#include <attn/analysis.hpp>
#include <attn/io/pharaoh.hpp>
#include <attn/many_to_one.hpp>
#include <attn/pooling.hpp>
#include <attn/self_attention.hpp>

#include <iostream>
#include <vector>

namespace {

using Eigen::Index;
using Matrix = Eigen::MatrixXf;
using RowVector = Eigen::RowVectorXf;

// A NumPy array of shape (rows, cols) as `arr.ravel()` lists it (row-major), into an attn matrix.
// Keras kernels are already `in×out`, the layout attn uses: no transpose, only the memory order.
Matrix from_numpy(const std::vector<float>& ravel, Index rows, Index cols) {
  return Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(ravel.data(), rows,
                                                                                                  cols);
}

void print(const char* title, const Eigen::MatrixXf& m) {
  const Eigen::IOFormat fmt(3, 0, " ", "\n", "  [", "]");
  std::cout << title << "\n" << m.format(fmt) << "\n";
}

}  // namespace

int main() {
  // One sequence: 5 time steps × 3 features (an RNN's outputs, or embeddings).
  const Matrix x = from_numpy({0.9f, 0.1f, -0.3f,  //
                               0.2f, 0.8f, 0.1f,   //
                               -0.5f, 0.3f, 0.7f,  //
                               0.4f, -0.6f, 0.2f,  //
                               0.0f, 0.0f, 0.0f},  // padding
                              5, 3);
  const auto padding = attn::Mask::key_length(4);  // Keras mask: the last step is padding

  // 1. keras-self-attention SeqSelfAttention(units=2, attention_width=3,
  //    attention_type='additive', return_attention=True).
  //    get_weights() = [Add_Wt (3, 2), Add_Wx (3, 2), Add_bh (2,), Add_Wa (2, 1), Add_ba (1,)]
  auto self = attn::SeqSelfAttentionParams<float>::additive(
      from_numpy({0.5f, -0.2f, 0.1f, 0.4f, -0.3f, 0.2f}, 3, 2),  // Add_Wt
      from_numpy({0.3f, 0.1f, -0.4f, 0.2f, 0.6f, -0.1f}, 3, 2),  // Add_Wx
      from_numpy({0.05f, -0.05f}, 1, 2),                         // Add_bh
      from_numpy({0.7f, -0.5f}, 2, 1),                           // Add_Wa
      from_numpy({0.1f}, 1, 1));                                 // Add_ba
  self.width = 3;  // attention_width; history_only=True would be `self.history_only = true`
  const auto sa = attn::seq_self_attention(x, self, padding);
  print("SeqSelfAttention weights (5x5, window 3, step 4 is padding):", sa.weights);

  // 2. keras-self-attention SeqWeightedAttention(return_attention=True).
  //    get_weights() = [W (3, 1), b (1,)]
  const auto pooled = attn::attention_pooling(
      x, attn::PoolingParams<float>::seq_weighted(from_numpy({0.8f, -0.4f, 0.3f}, 3, 1), from_numpy({0.0f}, 1, 1)),
      padding);
  print("SeqWeightedAttention weights (1x5):", pooled.weights);
  print("SeqWeightedAttention output (1x3):", pooled.output);

  //    Feed-forward attention: TimeDistributed(Dense(1, activation='tanh')) -> softmax over time.
  //    Dense get_weights() = [kernel (3, 1), bias (1,)]
  const auto ff = attn::attention_pooling(
      x, attn::PoolingParams<float>::feed_forward(from_numpy({1.2f, 0.4f, -0.7f}, 3, 1), from_numpy({0.1f}, 1, 1)),
      padding);
  print("Feed-forward attention weights (1x5):", ff.weights);

  // 3. philipperemy/keras-attention Attention(units=2, score='luong') after an LSTM(3).
  //    Sub-layer kernels: 'luong_w' (3, 3), 'attention_vector' (6, 2); no biases.
  const auto m2o = attn::many_to_one(
      x, attn::ManyToOneParams<float>::luong(
             from_numpy({0.6f, 0.1f, 0.0f, -0.2f, 0.5f, 0.3f, 0.1f, 0.0f, 0.4f}, 3, 3),                  // luong_w
             from_numpy({0.3f, -0.1f, 0.2f, 0.4f, -0.5f, 0.1f, 0.2f, 0.2f, 0.1f, -0.3f, 0.0f, 0.5f}, 6, 2)),  // attention_vector
      padding);
  print("Many-to-one weights (1x5; the query is step 3, the last real one):", m2o.weights);
  print("Many-to-one attention vector (1x2):", m2o.output);

  // 4. What the maps say: entropy of each row, and the strongest link of each query.
  print("SeqSelfAttention row entropy (nats):", attn::row_entropy(sa.weights, padding).transpose());
  std::cout << "SeqSelfAttention argmax links (Pharaoh i-j): "
            << attn::io::pharaoh_line(attn::argmax_alignment(sa.weights, padding)) << "\n";
  return 0;
}
