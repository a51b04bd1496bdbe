// SPDX-License-Identifier: MIT
// Pharaoh (Moses / fast_align) alignment text: one sentence pair per line, 0-based links
// "i-j" separated by single spaces. Writer for attn::Alignment and a reader for gold files
// that mark sure links "i-j" and possible links "ipj" or "i?j".
#pragma once

#include "../alignment.hpp"
#include "../config.hpp"
#include "detail/write_file.hpp"

#include <cctype>
#include <filesystem>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attn::io {

/// Which index comes first in a Pharaoh link. attn's links are (i = weights row, j = weights
/// column). For a decoder's cross-attention (rows = target words, columns = source words) the
/// usual source-target Pharaoh order is `col_row`.
enum class PharaohOrder { row_col, col_row };

/// The links as one Pharaoh line without a line end, in the order given: "0-0 1-2 2-1".
/// \param links the links (not sorted here)
/// \param order which index comes first (default: row, then column)
/// \return the line; empty for no links
/// \throws attn::invalid_argument when a link has a negative index
inline std::string pharaoh_line(const Alignment& links, PharaohOrder order = PharaohOrder::row_col) {
  std::string line;
  for (std::size_t k = 0; k < links.size(); ++k) {
    const auto& l = links[k];
    ATTN_CHECK(l.i >= 0 && l.j >= 0, "attn::io::pharaoh_line: links[" + std::to_string(k) + "] (" +
                                         std::to_string(l.i) + ", " + std::to_string(l.j) + ") must be >= 0");
    if (k > 0) line.push_back(' ');
    const Index a = order == PharaohOrder::row_col ? l.i : l.j;
    const Index b = order == PharaohOrder::row_col ? l.j : l.i;
    line += std::to_string(a);
    line.push_back('-');
    line += std::to_string(b);
  }
  return line;
}

/// Writes one line per sentence pair ("i-j ..." then '\n'; an empty alignment is an empty line).
/// Throws std::runtime_error when the stream is not good before or after writing.
/// \param os the stream, written unformatted
/// \param sentences one alignment per sentence pair
/// \param order which index comes first (default: row, then column)
/// \throws attn::invalid_argument when a link has a negative index
inline void write_pharaoh(std::ostream& os, const std::vector<Alignment>& sentences,
                          PharaohOrder order = PharaohOrder::row_col) {
  if (!os) throw std::runtime_error("attn::io::write_pharaoh: the output stream is not in a good state");
  for (const auto& links : sentences) {
    std::string line = pharaoh_line(links, order);
    line.push_back('\n');
    os.write(line.data(), static_cast<std::streamsize>(line.size()));
  }
  if (!os) throw std::runtime_error("attn::io::write_pharaoh: writing to the output stream failed");
}

/// Writes one sentence pair's line (with its '\n').
/// \param os the stream
/// \param links the alignment of one sentence pair
/// \param order which index comes first (default: row, then column)
/// \throws attn::invalid_argument for a negative index, std::runtime_error on stream failure
inline void write_pharaoh(std::ostream& os, const Alignment& links, PharaohOrder order = PharaohOrder::row_col) {
  write_pharaoh(os, std::vector<Alignment>{links}, order);
}

/// Writes the lines to the file `path`, replacing it atomically (temporary file + rename, as
/// the other exporters do). Throws std::runtime_error naming the path and the system's reason.
/// \param path the file to write
/// \param sentences one alignment per sentence pair
/// \param order which index comes first (default: row, then column)
/// \throws attn::invalid_argument when a link has a negative index (before the file is touched)
inline void write_pharaoh(const std::filesystem::path& path, const std::vector<Alignment>& sentences,
                          PharaohOrder order = PharaohOrder::row_col) {
  std::vector<std::string> lines;
  lines.reserve(sentences.size());
  for (const auto& links : sentences) lines.push_back(pharaoh_line(links, order) + "\n");
  detail::write_file_atomically(path, "attn::io::write_pharaoh", [&](std::ostream& os) {
    for (const auto& line : lines) os.write(line.data(), static_cast<std::streamsize>(line.size()));
  });
}

/// Gold links of one sentence pair.
struct GoldAlignment {
  Alignment sure;      ///< "i-j"
  Alignment possible;  ///< "ipj" or "i?j" (sure links are possible too: alignment_scores adds them)
};

namespace detail {

// `who` starts every message: "attn::io::parse_pharaoh" or "attn::io::read_pharaoh: line 3".
inline Index pharaoh_index(std::string_view digits, std::string_view token, const std::string& who) {
  ATTN_CHECK(!digits.empty(), who + ": token '" + std::string(token) + "' is not of the form i-j");
  Index value = 0;
  for (const char c : digits) {
    ATTN_CHECK(std::isdigit(static_cast<unsigned char>(c)), who + ": token '" + std::string(token) + "' is not of the form i-j");
    ATTN_CHECK(value <= (std::numeric_limits<Index>::max() - 9) / 10,
               who + ": index in token '" + std::string(token) + "' is too large");
    value = value * 10 + (c - '0');
  }
  return value;
}

inline bool pharaoh_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

inline GoldAlignment parse_pharaoh_links(std::string_view line, PharaohOrder order, const std::string& who);

}  // namespace detail

/// Reads one Pharaoh line into gold links: tokens separated by spaces or tabs, "i-j" sure,
/// "ipj" or "i?j" possible; indices are 0-based decimal. With `PharaohOrder::col_row` the
/// first index of each token is the column j. Throws attn::invalid_argument on a bad token.
/// \param line one line, without or with its line end
/// \param order which index comes first (default: row, then column)
/// \return the sure and the possible links, in the order read
inline GoldAlignment parse_pharaoh_gold(std::string_view line, PharaohOrder order = PharaohOrder::row_col) {
  return detail::parse_pharaoh_links(line, order, "attn::io::parse_pharaoh");
}

namespace detail {

inline GoldAlignment parse_pharaoh_links(std::string_view line, PharaohOrder order, const std::string& who) {
  GoldAlignment gold;
  std::size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && pharaoh_space(line[pos])) ++pos;
    if (pos >= line.size()) break;
    std::size_t end = pos;
    while (end < line.size() && !pharaoh_space(line[end])) ++end;
    const std::string_view token = line.substr(pos, end - pos);
    pos = end;
    const std::size_t sep = token.find_first_of("-p?");
    ATTN_CHECK(sep != std::string_view::npos, who + ": token '" + std::string(token) + "' is not of the form i-j");
    const Index a = pharaoh_index(token.substr(0, sep), token, who);
    const Index b = pharaoh_index(token.substr(sep + 1), token, who);
    const AlignmentLink link = order == PharaohOrder::row_col ? AlignmentLink{a, b} : AlignmentLink{b, a};
    (token[sep] == '-' ? gold.sure : gold.possible).push_back(link);
  }
  return gold;
}

}  // namespace detail

/// Reads one Pharaoh line of plain "i-j" links (a hypothesis). Throws attn::invalid_argument
/// on a bad token, possible links included.
/// \param line one line, without or with its line end
/// \param order which index comes first (default: row, then column)
/// \return the links, in the order read
inline Alignment parse_pharaoh(std::string_view line, PharaohOrder order = PharaohOrder::row_col) {
  GoldAlignment gold = parse_pharaoh_gold(line, order);
  ATTN_CHECK(gold.possible.empty(), "attn::io::parse_pharaoh: possible links (ipj, i?j) need parse_pharaoh_gold");
  return std::move(gold.sure);
}

}  // namespace attn::io
