// SPDX-License-Identifier: MIT
// The date demos' alphabets (written by examples/date_demo/train.py and
// examples/transformer_demo/train.py as alphabets.txt): source characters (ids 2..; 0 = padding,
// 1 = unknown character) and target characters (ids 2..; 0 = <s>, 1 = </s>). Shared by the GRU
// demo (date_model.hpp) and the transformer demo (transformer_demo/transformer_model.hpp).
#pragma once

#include <attn/config.hpp>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace date_demo {

struct Alphabets {
  std::string source_chars;  ///< source ids 2.. (0 = padding, 1 = unknown character)
  std::string target_chars;  ///< target ids 2.. (0 = <s>, 1 = </s>)

  static constexpr attn::Index bos = 0;
  static constexpr attn::Index eos = 1;

  /// Reads alphabets.txt: a comment line, the source characters, a comment line, the target ones.
  static Alphabets load(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error("date_demo: cannot open " + file.string());
    Alphabets a;
    std::string comment;
    std::getline(in, comment);
    std::getline(in, a.source_chars);
    std::getline(in, comment);
    std::getline(in, a.target_chars);
    if (!in || a.source_chars.empty() || a.target_chars.empty())
      throw std::runtime_error("date_demo: " + file.string() + " is malformed");
    return a;
  }

  attn::Index source_id(char c) const {
    const auto at = source_chars.find(c);
    return at == std::string::npos ? 1 : static_cast<attn::Index>(at) + 2;
  }

  std::string target_token(attn::Index id) const {
    if (id == bos) return "<s>";
    if (id == eos) return "</s>";
    return std::string(1, target_chars[static_cast<std::size_t>(id - 2)]);
  }
};

}  // namespace date_demo
