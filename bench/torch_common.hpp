// SPDX-License-Identifier: MIT
// What the LibTorch benchmarks share (torch_decode.cpp, torch_attention.cpp): Eigen matrices as
// torch tensors, LibTorch's thread counts, and attn's multi-head parameters in a
// torch::nn::MultiheadAttention.
#pragma once

#include "common.hpp"

#include <torch/torch.h>

namespace attn_bench {

constexpr attn::Index kTorchHeads = 8;
constexpr attn::Index kTorchModel = 512;

// An Eigen matrix as a contiguous row-major float tensor of the same shape (a copy).
inline torch::Tensor tensor(const Mat& m) {
  const Mat copy = m;  // column-major: its storage read row-major is the transpose
  return torch::from_blob(const_cast<Scalar*>(copy.data()), {m.cols(), m.rows()}, torch::kFloat32)
      .t()
      .contiguous()
      .clone();
}

/// LibTorch on `threads` intra-op threads and one inter-op thread.
inline void torch_threads(int threads) {
  torch::set_num_threads(threads);
  static const bool interop = [] {
    torch::set_num_interop_threads(1);  // may be set once per process
    return true;
  }();
  (void)interop;
}

inline void one_thread() { torch_threads(1); }

// attn's multi-head parameters (Keras layout x·W) as torch tensors.
struct Mha {
  attn::MultiHeadParams<Scalar> p = attn_bench::mha_params(kTorchHeads, kTorchModel);
  torch::Tensor wq = tensor(p.wq), wk = tensor(p.wk), wv = tensor(p.wv), wo = tensor(p.wo);
  torch::Tensor bq = tensor(p.bq), bk = tensor(p.bk), bv = tensor(p.bv), bo = tensor(p.bo);

  // A torch::nn::MultiheadAttention holding the same parameters (PyTorch weights are out×in).
  torch::nn::MultiheadAttention module() const {
    torch::nn::MultiheadAttention m(torch::nn::MultiheadAttentionOptions(kTorchModel, kTorchHeads));
    torch::NoGradGuard no_grad;
    m->in_proj_weight.copy_(torch::cat({wq.t(), wk.t(), wv.t()}, 0));
    m->in_proj_bias.copy_(torch::cat({bq, bk, bv}, 1).reshape({-1}));
    m->out_proj->weight.copy_(wo.t());
    m->out_proj->bias.copy_(bo.reshape({-1}));
    m->eval();
    return m;
  }
};

}  // namespace attn_bench
