// SPDX-License-Identifier: MIT
// Consumer check: an installed attn, compiled with `pkg-config --cflags attn` and no CMake, works.
// One small header and one call in double keep the test cheap.
#include <attn/softmax.hpp>

#include <cmath>
#include <cstdio>

int main()
{
    Eigen::MatrixXd scores(1, 3);
    scores << 0.0, std::log(3.0), 5.0;
    const Eigen::MatrixXd w = attn::softmax(scores, attn::Mask::key_length(2));  // key 2 hidden

    int failures = 0;
    if (std::abs(w(0, 0) - 0.25) > 1e-15) ++failures;
    if (std::abs(w(0, 1) - 0.75) > 1e-15) ++failures;
    if (w(0, 2) != 0.0) ++failures;

    std::printf("attn consumer (pkg-config): %s\n", failures == 0 ? "ok" : "FAILED");
    return failures == 0 ? 0 : 1;
}
