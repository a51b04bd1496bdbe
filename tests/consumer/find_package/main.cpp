// SPDX-License-Identifier: MIT
// Consumer check: an installed attn, found with find_package(attn CONFIG), works.
#include <attn/attn.hpp>

#include <cmath>
#include <cstdio>

int main()
{
    const Eigen::MatrixXd x = Eigen::MatrixXd::Identity(2, 2);  // q = k = v, 2 tokens, d = 2

    const auto full = attn::scaled_dot_product(x, x, x);
    const auto masked = attn::scaled_dot_product(x, x, x, attn::Mask::key_length(1));

    int failures = 0;
    for (Eigen::Index i = 0; i < 2; ++i) {
        if (std::abs(full.weights.row(i).sum() - 1.0) > 1e-12) ++failures;
        if (std::abs(masked.weights.row(i).sum() - 1.0) > 1e-12) ++failures;
        if (masked.weights(i, 1) != 0.0) ++failures;  // key 1 is masked out
    }
    // V is the identity, so the output equals the weights.
    if (!full.output.isApprox(full.weights, 1e-12)) ++failures;

#ifdef CONSUMER_EXPECTS_DNNL
    // attn::dnnl: ATTN_USE_DNNL came with the target, and a float call whose products go to
    // oneDNN (64 rows) gives the double call's result.
#ifndef ATTN_USE_DNNL
    ++failures;
#endif
    const Eigen::MatrixXd q = Eigen::MatrixXd::Random(64, 16), k = Eigen::MatrixXd::Random(80, 16);
    const auto exact = attn::scaled_dot_product(q, k, k);
    const Eigen::MatrixXf qf = q.cast<float>(), kf = k.cast<float>();
    const auto single = attn::scaled_dot_product(qf, kf, kf);
    if (!single.output.cast<double>().isApprox(exact.output, 1e-5)) ++failures;
    std::printf("attn consumer (find_package): attn::dnnl links oneDNN\n");
#endif

    std::printf("attn consumer (find_package): %s\n", failures == 0 ? "ok" : "FAILED");
    return failures == 0 ? 0 : 1;
}
