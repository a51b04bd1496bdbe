// SPDX-License-Identifier: MIT
// Compile-failure test of mixing float and double in a multi-head call or scaled_dot_product (CTest
// compile.mixed_scalars.*, run by tests/compile/expect_compile.cmake): every case but `good`
// must fail with the static_assert that says to use .cast<T>(), whichever call it is in.
#include <attn/kv_cache.hpp>
#include <attn/multi_head.hpp>
#include <attn/scaled_dot_product.hpp>

#include <Eigen/Core>

#define ATTN_MIX_good 0
#define ATTN_MIX_multi_head 1
#define ATTN_MIX_cache_append 2
#define ATTN_MIX_sdpa 3
#define ATTN_MIX_SELECT2(name) ATTN_MIX_##name
#define ATTN_MIX_SELECT(name) ATTN_MIX_SELECT2(name)

int main() {
  attn::MultiHeadParams<float> params;
  const Eigen::MatrixXf xf = Eigen::MatrixXf::Zero(2, 4);
  const Eigen::MatrixXd xd = Eigen::MatrixXd::Zero(2, 4);
  (void)xf;
  (void)xd;
#if ATTN_MIX_SELECT(ATTN_MIX) == 0
  (void)attn::multi_head(xf, params);
  attn::KVCache<float> cache(params);
  cache.append(xf);
#elif ATTN_MIX_SELECT(ATTN_MIX) == 1
  (void)attn::multi_head(xd, params);  // double inputs, float parameters
#elif ATTN_MIX_SELECT(ATTN_MIX) == 2
  attn::KVCache<float> cache(params);
  cache.append(xd);
#elif ATTN_MIX_SELECT(ATTN_MIX) == 3
  (void)attn::scaled_dot_product(xf, xd, xd);  // float queries, double keys and values
#else
#error "ATTN_MIX must be good, multi_head, cache_append or sdpa"
#endif
}
