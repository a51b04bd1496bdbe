// SPDX-License-Identifier: MIT
// Compile test: the umbrella header alone must be self-sufficient and build clean under
// -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror, for float and for double.
#include <attn/attn.hpp>

namespace {

template <typename Matrix>
bool shapes_ok()
{
    const Matrix x = Matrix::Identity(2, 2);
    const auto result = attn::scaled_dot_product(x, x, x, attn::Mask::key_length(1));
    return result.output.rows() == 2 && result.output.cols() == 2 && result.weights.rows() == 2
           && result.weights.cols() == 2;
}

}  // namespace

int main()
{
    return shapes_ok<Eigen::MatrixXf>() && shapes_ok<Eigen::MatrixXd>() ? 0 : 1;
}
