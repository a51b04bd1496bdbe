// SPDX-License-Identifier: MIT
// Compile test: attn/io/pharaoh.hpp (and attn/alignment.hpp, which it uses for the link type)
// pull in no attention kernel, only config- and mask-level headers.
//
// How it checks: a fallback namespace, nominated into attn by a using-directive, declares a
// placeholder for each kernel probed. Qualified lookup of attn::name searches a nominated
// namespace only when attn itself declares no such name, so attn::name is the placeholder
// exactly when the kernel was not included. If a kernel header was included, attn::name is the
// kernel's function template and this file fails to compile (at the static_assert, or at the
// decltype of an overload set): include the light header instead of the kernel's.
#include <attn/io/pharaoh.hpp>

#include <type_traits>

namespace attn_probe {

struct Absent {};
inline constexpr Absent scaled_dot_product{};
inline constexpr Absent multi_head{};
inline constexpr Absent softmax{};

}  // namespace attn_probe

namespace attn {
using namespace ::attn_probe;  // NOLINT: the probe, see above
}  // namespace attn

static_assert(std::is_same<decltype(attn::scaled_dot_product), const attn_probe::Absent>::value,
              "attn/io/pharaoh.hpp pulled in attn::scaled_dot_product (a kernel header)");
static_assert(std::is_same<decltype(attn::multi_head), const attn_probe::Absent>::value,
              "attn/io/pharaoh.hpp pulled in attn::multi_head (multi_head.hpp and every kernel)");
static_assert(std::is_same<decltype(attn::softmax), const attn_probe::Absent>::value,
              "attn/io/pharaoh.hpp pulled in attn::softmax (softmax.hpp)");

int main()
{
    // What pharaoh.hpp is for still works: links from alignment.hpp, written as Pharaoh text.
    const attn::Alignment links{{0, 1}, {1, 0}};
    return attn::io::pharaoh_line(links) == "0-1 1-0" && attn::alignment_error_rate(links, links, {}) == 0.0 ? 0 : 1;
}
