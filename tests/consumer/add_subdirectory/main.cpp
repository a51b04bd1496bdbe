// SPDX-License-Identifier: MIT
// Consumer check: attn added with add_subdirectory(<attn source dir>) works.
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

    std::printf("attn consumer (add_subdirectory): %s\n", failures == 0 ? "ok" : "FAILED");
    return failures == 0 ? 0 : 1;
}
