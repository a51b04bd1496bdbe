// SPDX-License-Identifier: MIT
// Test helper of tools/test_attn_plot.sh (attn-plot --pool): writes a large float32 .npy map
// whose cells follow a formula, and prints the pooled map computed from the formula with plain
// loops, independently of attn-plot (which reads the file by memory map).
//
//   attn_plot_pool_reference write FILE ROWS COLS [HOT_ROW HOT_COL]
//       cell (i, j) = ((7·i + 13·j) mod 101) / 1000, and 1 at (HOT_ROW, HOT_COL) if given
//   attn_plot_pool_reference expect mean|max ROWS COLS FR FC [HOT_ROW HOT_COL]
//       one line "i j value" per pooled cell: the mean or maximum of the cells of rows
//       [i·FR, (i+1)·FR) and columns [j·FC, (j+1)·FC), cut at the map's edges
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace {

long long g_hot_row = -1, g_hot_col = -1;

float cell(long long i, long long j) {
  if (i == g_hot_row && j == g_hot_col) return 1.0f;
  return static_cast<float>((7 * i + 13 * j) % 101) / 1000.0f;
}

int usage() {
  std::fprintf(stderr, "usage: attn_plot_pool_reference write FILE ROWS COLS [HOT_ROW HOT_COL]\n"
                       "       attn_plot_pool_reference expect mean|max ROWS COLS FR FC [HOT_ROW HOT_COL]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return usage();
  const std::string mode = argv[1];
  if (mode == "write" && (argc == 5 || argc == 7)) {
    const long long rows = std::atoll(argv[3]), cols = std::atoll(argv[4]);
    if (argc == 7) g_hot_row = std::atoll(argv[5]), g_hot_col = std::atoll(argv[6]);
    // NumPy format 1.0: magic, version, header length, then the dict padded to 64 bytes.
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
    while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
    dict += '\n';
    std::ofstream out(argv[2], std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    const auto n = static_cast<std::uint16_t>(dict.size());
    const unsigned char length[2] = {static_cast<unsigned char>(n & 0xff), static_cast<unsigned char>(n >> 8)};
    out.write(reinterpret_cast<const char*>(length), 2);
    out << dict;
    for (long long i = 0; i < rows; ++i)
      for (long long j = 0; j < cols; ++j) {
        const float v = cell(i, j);
        unsigned char b[4];
        std::uint32_t bits;
        std::memcpy(&bits, &v, 4);
        for (int k = 0; k < 4; ++k) b[k] = static_cast<unsigned char>(bits >> (8 * k));  // little-endian
        out.write(reinterpret_cast<const char*>(b), 4);
      }
    return out ? 0 : 1;
  }
  if (mode == "expect" && (argc == 7 || argc == 9)) {
    const bool max = std::string(argv[2]) == "max";
    const long long rows = std::atoll(argv[3]), cols = std::atoll(argv[4]);
    const long long fr = std::atoll(argv[5]), fc = std::atoll(argv[6]);
    if (argc == 9) g_hot_row = std::atoll(argv[7]), g_hot_col = std::atoll(argv[8]);
    for (long long i = 0; i * fr < rows; ++i)
      for (long long j = 0; j * fc < cols; ++j) {
        double sum = 0, most = -1;
        long long count = 0;
        for (long long r = i * fr; r < std::min(rows, (i + 1) * fr); ++r)
          for (long long c = j * fc; c < std::min(cols, (j + 1) * fc); ++c) {
            sum += cell(r, c);
            most = std::max(most, static_cast<double>(cell(r, c)));
            ++count;
          }
        std::printf("%lld %lld %.9g\n", i, j, max ? most : sum / static_cast<double>(count));
      }
    return 0;
  }
  return usage();
}
