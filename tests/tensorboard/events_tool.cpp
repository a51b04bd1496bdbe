// SPDX-License-Identifier: MIT
// Helper of tests/tensorboard/protoc_decode.sh:
//   events_tool write LOG_DIR          writes a known event file with attn::io::SummaryWriter and
//                                      prints its path
//   events_tool split FILE OUT_DIR     checks both CRCs of every TFRecord of FILE with the test's
//                                      own reader (tests/format_readers.hpp) and writes each
//                                      payload to OUT_DIR/record_<k>.bin; prints the count
#include "attn/io/tensorboard.hpp"

#include "../format_readers.hpp"

#include <Eigen/Core>

#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  try {
    const std::string mode = argc == 3 || argc == 4 ? argv[1] : "";
    if (mode == "write" && argc == 3) {
      attn::io::SummaryWriter writer(argv[2]);
      writer.add_scalar("loss", 0.5, 3);
      Eigen::MatrixXd weights(2, 3);
      weights << 0.1, 0.2, 0.7,
                 0.6, 0.3, 0.1;
      attn::io::PngHeatmapOptions png;
      png.cell_size = 10;
      writer.add_image("attention/layer0/head_1", weights, 4, png);
      Eigen::VectorXd values(4);
      values << 1.0, 2.0, 3.0, 4.0;
      writer.add_histogram("weights/layer0", values, 5, 3);
      writer.close();
      std::cout << writer.file().string() << "\n";
      return 0;
    }
    if (mode == "split" && argc == 4) {
      std::ifstream in(argv[2], std::ios::binary);
      const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const std::vector<std::string> records = test_formats::read_tfrecords(file);
      for (std::size_t k = 0; k < records.size(); ++k) {
        std::ofstream out(std::string(argv[3]) + "/record_" + std::to_string(k) + ".bin", std::ios::binary);
        out.write(records[k].data(), static_cast<std::streamsize>(records[k].size()));
      }
      std::cout << records.size() << "\n";
      return 0;
    }
    std::cerr << "usage: events_tool write LOG_DIR | events_tool split FILE OUT_DIR\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "events_tool: " << e.what() << "\n";
    return 1;
  }
}
