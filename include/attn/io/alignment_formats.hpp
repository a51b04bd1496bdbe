// SPDX-License-Identifier: MIT
// Readers of the alignment files that word-alignment and translation tools write: Pharaoh
// files (fast_align, atools, gold standards with possible links), fairseq's `A-<id>` lines
// (`fairseq-generate --print-alignment [hard|soft]`) and Marian's `--alignment` output (hard
// "s-t" links or soft weights), each into one record per sentence pair. Links follow attn's
// convention: i = target token (a row of a decoder's cross-attention weights), j = source token.
#pragma once

#include "../alignment.hpp"
#include "../config.hpp"
#include "detail/csv_read.hpp"
#include "detail/write_file.hpp"
#include "pharaoh.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <istream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace attn::io {

/// Which tool wrote an alignment file.
enum class AlignmentFormat {
  automatic,  ///< told from the text: "A-<digits><tab>" or "H-<digits><tab>" lines: fairseq; "|||" or "," : Marian; else Pharaoh
  pharaoh,    ///< one line per sentence pair of "i-j" links (and "ipj"/"i?j" possible links)
  fairseq,    ///< fairseq-generate / fairseq-interactive output; only the "A-" lines are read
  marian      ///< Marian's output: "translation ||| alignment", or the alignment alone
};

/// One sentence pair's alignment as a tool wrote it: hard links, or soft weights.
struct AlignmentRecord {
  /// The sentence it belongs to: fairseq's sample id (the N of "A-N"), Marian's n-best
  /// sentence number; otherwise the 0-based count of alignment lines before it.
  Index sentence = 0;
  /// Line of the file (1-based) it was read from.
  Index line = 0;
  /// Hard links (i = target token, j = source token), in the order read; empty when soft.
  Alignment links;
  /// Pharaoh possible links ("ipj", "i?j"); empty for the other formats.
  Alignment possible;
  /// True when the tool wrote weights (`weights` holds them) rather than links.
  bool soft = false;
  /// Soft alignments: `targets×sources`, row t holds target token t's weights over the source
  /// tokens, in the tool's order (end-of-sentence tokens included as the tool wrote them).
  Matrix<double> weights;
  /// The tool that wrote it, as the reader took it (automatic: not known, e.g. built by hand).
  /// record_links() needs it for Marian's hard links, which keep the `</s>` tokens.
  AlignmentFormat format = AlignmentFormat::automatic;
  /// fairseq: the tokens of the sample's `S-<id>` line (the source) and of the `H-<id>` line
  /// the alignment follows (the hypothesis, after its score), split at spaces as fairseq joins
  /// them, without `</s>`: the column and row labels of the alignment when they fit (attn-plot
  /// uses them so). Empty where the output has no such line (a file of `A-` lines alone), and
  /// for the other formats. With `--remove-bpe` the lines hold words while the links index
  /// subwords: then their counts do not fit the links.
  std::vector<std::string> source_tokens;
  /// The hypothesis' tokens (see source_tokens): fairseq's `H-<id>` line; Marian's translation
  /// (the field before the alignment; Marian writes no source), without `</s>`.
  std::vector<std::string> target_tokens;
};

namespace detail {

inline std::string alignment_file_text(const std::filesystem::path& path, const char* who) {
  std::ifstream file = open_for_reading(path, who);
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) throw std::runtime_error(std::string(who) + ": '" + path.string() + "': read error");
  return text.str();
}

inline std::string alignment_stream_text(std::istream& is, const char* who) {
  if (!is) throw std::runtime_error(std::string(who) + ": the input stream is not in a good state");
  std::ostringstream text;
  text << is.rdbuf();
  if (is.bad()) throw std::runtime_error(std::string(who) + ": reading the input failed");
  return text.str();
}

/// The lines of `text` without their line ends ("\n" or "\r\n"); no line after a final "\n".
inline std::vector<std::string_view> alignment_lines(std::string_view text) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

inline std::string_view alignment_trim(std::string_view s) {
  while (!s.empty() && pharaoh_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && pharaoh_space(s.back())) s.remove_suffix(1);
  return s;
}

inline std::vector<std::string_view> alignment_tokens(std::string_view s) {
  std::vector<std::string_view> tokens;
  std::size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && pharaoh_space(s[pos])) ++pos;
    std::size_t end = pos;
    while (end < s.size() && !pharaoh_space(s[end])) ++end;
    if (end > pos) tokens.push_back(s.substr(pos, end - pos));
    pos = end;
  }
  return tokens;
}

/// A token "s-t" of two decimal numbers (a hard link).
inline bool is_link_token(std::string_view token) {
  const std::size_t dash = token.find('-');
  if (dash == 0 || dash == std::string_view::npos || dash + 1 == token.size()) return false;
  for (std::size_t k = 0; k < token.size(); ++k) {
    if (k != dash && (token[k] < '0' || token[k] > '9')) return false;
  }
  return true;
}

/// Reads `payload` (the alignment part of a fairseq or Marian line) as hard "s-t" links or as
/// soft weights, one space-separated token per target token, its source weights separated by
/// commas. `who` starts every message ("attn::io::read_marian_alignments: line 4").
inline void read_alignment_payload(std::string_view payload, AlignmentRecord& record, const std::string& who) {
  const std::vector<std::string_view> tokens = alignment_tokens(payload);
  if (tokens.empty()) return;  // no links (e.g. an empty translation)
  if (is_link_token(tokens.front())) {
    for (const std::string_view token : tokens) {
      ATTN_CHECK(is_link_token(token), who + ": token '" + std::string(token) +
                                           "' is not a link s-t like the first token '" + std::string(tokens.front()) + "'");
    }
    record.links = parse_pharaoh_links(payload, PharaohOrder::col_row, who).sure;
    return;
  }
  record.soft = true;
  std::vector<double> values;
  Index cols = -1;
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    const std::string_view token = tokens[t];
    Index count = 0;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = std::min(token.find(',', start), token.size());
      const std::string field(token.substr(start, comma - start));
      double v = 0;
      ATTN_CHECK(csv_parse_number(field, v) && std::isfinite(v),
                 who + ": target token " + std::to_string(t) + ": '" + field +
                     "' is not a finite number (soft alignments are comma-separated weights, one group per target token)");
      values.push_back(v);
      ++count;
      if (comma == token.size()) break;
      start = comma + 1;
    }
    ATTN_CHECK(cols < 0 || count == cols, who + ": target token " + std::to_string(t) + " has " + std::to_string(count) +
                                              " source weights, target token 0 has " + std::to_string(cols));
    cols = count;
  }
  const auto rows = static_cast<Index>(tokens.size());
  record.weights.resize(rows, cols);
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) record.weights(i, j) = values[static_cast<std::size_t>(i * cols + j)];
}

/// The start of a message about line `k` (0-based) of the text read by `who`: "who: line 3", or
/// for a file "who: 'gold.talp', line 3" (`file` empty for a stream).
inline std::string alignment_where(const char* who, const std::string& file, std::size_t k) {
  return std::string(who) + ": " + (file.empty() ? std::string() : "'" + file + "', ") + "line " + std::to_string(k + 1);
}

/// True for a hypothesis line of fairseq's output: "H-", a sample id and a tab.
inline bool is_fairseq_hypothesis(std::string_view line) {
  std::size_t k = 2;
  while (k < line.size() && line[k] >= '0' && line[k] <= '9') ++k;
  return line.substr(0, 2) == "H-" && k > 2 && k < line.size() && line[k] == '\t';
}

inline bool alignment_whole_number(std::string_view s, Index& value) {
  if (s.empty() || s.size() > 18) return false;
  value = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

/// The tokens of `text` (alignment_tokens: split at spaces, as fairseq and Marian join them), as strings.
inline std::vector<std::string> alignment_token_strings(std::string_view text) {
  const std::vector<std::string_view> tokens = alignment_tokens(text);
  return {tokens.begin(), tokens.end()};
}

/// The text after the first tab of a fairseq line "<tag>-<id><tab>...", its sample id in `id`;
/// nullopt for a line of another tag, or without a whole-number id and a tab.
inline std::optional<std::string_view> fairseq_tagged(std::string_view line, char tag, Index& id) {
  if (line.size() < 2 || line[0] != tag || line[1] != '-') return std::nullopt;
  const std::size_t tab = line.find('\t');
  if (tab == std::string_view::npos || !alignment_whole_number(line.substr(2, tab - 2), id)) return std::nullopt;
  return line.substr(tab + 1);
}

/// A fairseq line "<tag>-<id><tab>tokens" (tag S: the source) or "<tag>-<id><tab>score<tab>tokens"
/// (tag H: a hypothesis): its sample id and tokens (alignment_token_strings). False for any other
/// line, which the reader then leaves alone as before.
inline bool fairseq_tokens_line(std::string_view line, char tag, Index& id, std::vector<std::string>& tokens) {
  std::optional<std::string_view> rest = fairseq_tagged(line, tag, id);
  if (!rest) return false;
  if (tag == 'H') {
    const std::size_t score = rest->find('\t');
    if (score == std::string_view::npos) return false;
    rest->remove_prefix(score + 1);
  }
  tokens = alignment_token_strings(*rest);
  return true;
}

inline std::vector<GoldAlignment> pharaoh_from_text(std::string_view text, PharaohOrder order, const std::string& file) {
  std::vector<GoldAlignment> sentences;
  const std::vector<std::string_view> lines = alignment_lines(text);
  for (std::size_t k = 0; k < lines.size(); ++k) {
    sentences.push_back(parse_pharaoh_links(lines[k], order, alignment_where("attn::io::read_pharaoh", file, k)));
  }
  return sentences;
}

inline std::vector<AlignmentRecord> fairseq_from_text(std::string_view text, const std::string& file) {
  std::vector<AlignmentRecord> records;
  const std::vector<std::string_view> lines = alignment_lines(text);
  std::size_t hypotheses = 0;
  // The tokens of each sample's S- line and of its last H- line (with --nbest, each hypothesis'
  // A- line follows its own H- line).
  std::map<Index, std::vector<std::string>> sources;
  std::map<Index, std::vector<std::string>> targets;
  std::vector<std::string> tokens;
  for (std::size_t k = 0; k < lines.size(); ++k) {
    const std::string_view line = lines[k];
    if (is_fairseq_hypothesis(line)) ++hypotheses;
    Index id = 0;
    if (fairseq_tokens_line(line, 'S', id, tokens)) sources[id] = tokens;
    if (fairseq_tokens_line(line, 'H', id, tokens)) targets[id] = tokens;
    if (line.substr(0, 2) != "A-") continue;  // T-, D-, P- lines and log lines
    const std::string who = alignment_where("attn::io::read_fairseq_alignments", file, k);
    AlignmentRecord record;
    const std::optional<std::string_view> payload = fairseq_tagged(line, 'A', record.sentence);
    ATTN_CHECK(payload.has_value(), who + ": an alignment line is 'A-<sample id><tab><alignment>', not '" +
                                        std::string(line.substr(0, std::min<std::size_t>(line.size(), 40))) + "'");
    record.line = static_cast<Index>(k + 1);
    record.format = AlignmentFormat::fairseq;
    read_alignment_payload(*payload, record, who);
    if (const auto source = sources.find(record.sentence); source != sources.end()) record.source_tokens = source->second;
    if (const auto target = targets.find(record.sentence); target != targets.end()) record.target_tokens = target->second;
    records.push_back(std::move(record));
  }
  // Translations without alignments: an empty result would look like a corpus of no sentences.
  const std::string source = file.empty() ? std::string("the output") : "'" + file + "'";
  const std::string lines_read =
      hypotheses == 1 ? std::string("a hypothesis (H- line)") : std::to_string(hypotheses) + " hypotheses (H- lines)";
  ATTN_CHECK(!records.empty() || hypotheses == 0,
             "attn::io::read_fairseq_alignments: " + source + " has " + lines_read +
                 " but no alignment (A- lines): fairseq-generate and fairseq-interactive write them with "
                 "--print-alignment (hard links) or --print-alignment soft (weights)");
  return records;
}

inline std::vector<AlignmentRecord> marian_from_text(std::string_view text, const std::string& file) {
  std::vector<AlignmentRecord> records;
  const std::vector<std::string_view> lines = alignment_lines(text);
  for (std::size_t k = 0; k < lines.size(); ++k) {
    const std::string who = alignment_where("attn::io::read_marian_alignments", file, k);
    std::vector<std::string_view> fields;
    std::string_view rest = lines[k];
    for (std::size_t bar = rest.find("|||"); bar != std::string_view::npos; bar = rest.find("|||")) {
      fields.push_back(alignment_trim(rest.substr(0, bar)));
      rest.remove_prefix(bar + 3);
    }
    fields.push_back(alignment_trim(rest));
    AlignmentRecord record;
    record.line = static_cast<Index>(k + 1);
    record.format = AlignmentFormat::marian;
    record.sentence = static_cast<Index>(records.size());
    std::string_view payload = fields[0];  // the alignment alone
    if (fields.size() >= 4 && alignment_whole_number(fields[0], record.sentence) &&
        fields[fields.size() - 2].find('=') != std::string_view::npos) {
      payload = fields[2];  // n-best: N ||| translation ||| alignment ||| features ||| score
      record.target_tokens = alignment_token_strings(fields[1]);
    } else if (fields.size() >= 2) {
      std::size_t at = 1;  // translation ||| [WordCounts=... |||] alignment [||| WordScores=...]
      while (at + 1 < fields.size() && fields[at].find('=') != std::string_view::npos) ++at;
      payload = fields[at];
      record.target_tokens = alignment_token_strings(fields[0]);
    }
    read_alignment_payload(payload, record, who);
    records.push_back(std::move(record));
  }
  return records;
}

inline AlignmentFormat detect_alignment_format(std::string_view text) {
  const std::vector<std::string_view> lines = alignment_lines(text);
  // An "A-" line, or a hypothesis of output written without --print-alignment (read as
  // fairseq, the reader says so).
  for (const std::string_view line : lines) {
    if ((line.substr(0, 2) == "A-" && line.find('\t') != std::string_view::npos) || is_fairseq_hypothesis(line)) {
      return AlignmentFormat::fairseq;
    }
  }
  for (const std::string_view line : lines) {
    if (line.find("|||") != std::string_view::npos || line.find(',') != std::string_view::npos) return AlignmentFormat::marian;
  }
  return AlignmentFormat::pharaoh;
}

}  // namespace detail

/// Reads Pharaoh text: one line per sentence pair (an empty line: no links), tokens "i-j"
/// (sure) and "ipj" or "i?j" (possible), as parse_pharaoh_gold() reads a line. Files of
/// fast_align, atools, fairseq, Marian and most gold standards put the source index first:
/// read them with PharaohOrder::col_row (attn::io::write_pharaoh writes row_col by default).
/// \param is the text (a UTF-8 BOM and "\r\n" line ends are accepted)
/// \param order which index comes first (no default: the files differ)
/// \return one GoldAlignment per line
/// \throws attn::invalid_argument for a bad token, naming its line:
///         "attn::io::read_pharaoh: line 3: token '1x2' is not of the form i-j";
///         std::runtime_error when the stream fails
inline std::vector<GoldAlignment> read_pharaoh(std::istream& is, PharaohOrder order) {
  return detail::pharaoh_from_text(detail::alignment_stream_text(is, "attn::io::read_pharaoh"), order, {});
}

/// Reads the Pharaoh file `path` as read_pharaoh(std::istream&, ...) does.
/// \param path the file
/// \param order which index comes first
/// \return one GoldAlignment per line
/// \throws std::runtime_error naming the path when it cannot be read; attn::invalid_argument for a bad token,
///         naming the file and the line ("attn::io::read_pharaoh: 'gold.talp', line 3: ...")
inline std::vector<GoldAlignment> read_pharaoh(const std::filesystem::path& path, PharaohOrder order) {
  return detail::pharaoh_from_text(detail::alignment_file_text(path, "attn::io::read_pharaoh"), order, path.string());
}

/// Reads the "A-<id><tab>..." lines of fairseq-generate / fairseq-interactive output (with
/// `--print-alignment` or `--print-alignment hard`: "s-t" links, source index first; with
/// `--print-alignment soft`: per target token its source weights joined by commas, the target
/// tokens separated by spaces); every other line is skipped. Records come in file order,
/// which is fairseq's batch order, not the sample ids' (with `--nbest` n, n records per id).
/// \param is the generate output
/// \return one record per "A-" line
/// \throws attn::invalid_argument for a malformed "A-" line, naming its line number, and for
///         output with hypotheses ("H-" lines) but no "A-" line (written without
///         --print-alignment): an empty result would read as a corpus of no sentences
inline std::vector<AlignmentRecord> read_fairseq_alignments(std::istream& is) {
  return detail::fairseq_from_text(detail::alignment_stream_text(is, "attn::io::read_fairseq_alignments"), {});
}

/// Reads the file `path` as read_fairseq_alignments(std::istream&) does.
/// \param path the generate output
/// \return one record per "A-" line
/// \throws std::runtime_error naming the path when it cannot be read; attn::invalid_argument for a malformed line,
///         naming the file and the line
inline std::vector<AlignmentRecord> read_fairseq_alignments(const std::filesystem::path& path) {
  return detail::fairseq_from_text(detail::alignment_file_text(path, "attn::io::read_fairseq_alignments"), path.string());
}

/// Reads Marian's output with `--alignment soft|hard|<threshold>`: per line "translation |||
/// alignment" (fields with '=' between them, such as WordCounts=, are skipped), an n-best line
/// "N ||| translation ||| alignment ||| features ||| score", or the alignment alone. Hard
/// alignments are "s-t" links (source index first); soft ones give per target token (the
/// end-of-sentence token included) its source weights joined by commas, the target tokens
/// separated by spaces; numbers may have exponents ("1.2e-05").
/// \param is Marian's output
/// \return one record per line
/// \throws attn::invalid_argument for a malformed line, naming its line number
inline std::vector<AlignmentRecord> read_marian_alignments(std::istream& is) {
  return detail::marian_from_text(detail::alignment_stream_text(is, "attn::io::read_marian_alignments"), {});
}

/// Reads the file `path` as read_marian_alignments(std::istream&) does.
/// \param path Marian's output
/// \return one record per line
/// \throws std::runtime_error naming the path when it cannot be read; attn::invalid_argument for a malformed line,
///         naming the file and the line
inline std::vector<AlignmentRecord> read_marian_alignments(const std::filesystem::path& path) {
  return detail::marian_from_text(detail::alignment_file_text(path, "attn::io::read_marian_alignments"), path.string());
}

/// Reads any of the three formats into records (Pharaoh: `links` are the sure links,
/// `possible` the possible ones, `sentence` the 0-based line).
/// \param path the file
/// \param format the format, or AlignmentFormat::automatic to tell it from the text
/// \param order Pharaoh only: which index comes first (default col_row: source first, as the tools write)
/// \return one record per sentence pair (fairseq: per "A-" line)
/// \throws as the reader of the format does
inline std::vector<AlignmentRecord> read_alignments(const std::filesystem::path& path,
                                                    AlignmentFormat format = AlignmentFormat::automatic,
                                                    PharaohOrder order = PharaohOrder::col_row) {
  const std::string text = detail::alignment_file_text(path, "attn::io::read_alignments");
  if (format == AlignmentFormat::automatic) format = detail::detect_alignment_format(text);
  if (format == AlignmentFormat::fairseq) return detail::fairseq_from_text(text, path.string());
  if (format == AlignmentFormat::marian) return detail::marian_from_text(text, path.string());
  std::vector<AlignmentRecord> records;
  std::vector<GoldAlignment> gold = detail::pharaoh_from_text(text, order, path.string());
  for (std::size_t k = 0; k < gold.size(); ++k) {
    AlignmentRecord record;
    record.sentence = static_cast<Index>(k);
    record.line = static_cast<Index>(k + 1);
    record.format = AlignmentFormat::pharaoh;
    record.links = std::move(gold[k].sure);
    record.possible = std::move(gold[k].possible);
    records.push_back(std::move(record));
  }
  return records;
}

/// The end-of-sentence tokens: fairseq (`--print-alignment soft`) and Marian (`--alignment
/// soft`) write a weight row for the target's `</s>` (the last row) and a weight for the
/// source's `</s>` in every row (the last column). fairseq's hard links leave `</s>` out;
/// Marian's keep its row: each target token's largest weight, `</s>` included, so the last link
/// usually joins the two `</s>` ("5-6" after 6 words and 5).
enum class EndOfSentence {
  drop,  ///< leave the `</s>` tokens out, as a gold standard does (see record_links())
  keep   ///< use the weights and links as written (for alignments written without `</s>`)
};

/// How AlignmentRecord links are made from a record (see record_links()).
struct RecordLinkOptions {
  /// Soft records: the links are every weight strictly above it; unset: each target token's
  /// largest weight (attn::argmax_alignment). Hard records keep their links (less Marian's
  /// `</s>` link, see end_of_sentence).
  std::optional<double> threshold;
  /// Soft records and Marian's hard records: whether the `</s>` tokens are dropped first
  /// (default: dropped).
  EndOfSentence end_of_sentence = EndOfSentence::drop;
};

/// A soft record's weights, the end-of-sentence row and column dropped or kept.
/// \param record a record with `soft` set
/// \param end_of_sentence EndOfSentence::drop (default): the last row and column are left out
/// \return `weights`, or its top-left `(rows - 1)×(cols - 1)` block (an empty side stays empty)
/// \throws attn::invalid_argument when the record holds hard links
inline Matrix<double> soft_weights(const AlignmentRecord& record, EndOfSentence end_of_sentence = EndOfSentence::drop) {
  ATTN_CHECK(record.soft, "attn::io::soft_weights: the record of sentence " + std::to_string(record.sentence) +
                              " (line " + std::to_string(record.line) + ") holds hard links, not weights");
  if (end_of_sentence == EndOfSentence::keep) return record.weights;
  const Index rows = std::max<Index>(record.weights.rows() - 1, 0);
  const Index cols = std::max<Index>(record.weights.cols() - 1, 0);
  return record.weights.topLeftCorner(rows, cols);
}

/// A record's hard links: for a soft record the links of its weights (after the end-of-sentence
/// row and column are dropped, by default): each target token's largest weight, or every weight
/// above `options.threshold`. For a hard record its `links`, except that from Marian's hard
/// links (`record.format` marian) the `</s>` tokens are dropped by default: when a link joins
/// the largest target index and the largest source index (the two `</s>`, which Marian links
/// with its argmax), every link of that target row and of that source column is left out. So
/// Marian's hard and soft output of one translation give the same links. fairseq's and
/// Pharaoh links are kept as read.
/// \param record a record of read_alignments(), read_fairseq_alignments() or read_marian_alignments()
/// \param options threshold and end-of-sentence handling
/// \return the links, i = target token, j = source token
/// \throws attn::invalid_argument when the threshold is NaN
inline Alignment record_links(const AlignmentRecord& record, const RecordLinkOptions& options = {}) {
  if (!record.soft) {
    if (record.format != AlignmentFormat::marian || options.end_of_sentence == EndOfSentence::keep ||
        record.links.empty()) {
      return record.links;
    }
    Index last_target = 0;
    Index last_source = 0;
    for (const AlignmentLink& l : record.links) {
      last_target = std::max(last_target, l.i);
      last_source = std::max(last_source, l.j);
    }
    const bool joined = std::any_of(record.links.begin(), record.links.end(),
                                    [&](const AlignmentLink& l) { return l.i == last_target && l.j == last_source; });
    if (!joined) return record.links;  // no </s>-</s> link (a threshold left the row empty): as read
    Alignment words;
    for (const AlignmentLink& l : record.links) {
      if (l.i != last_target && l.j != last_source) words.push_back(l);
    }
    return words;
  }
  const Matrix<double> weights = soft_weights(record, options.end_of_sentence);
  return options.threshold ? threshold_alignment(weights, *options.threshold) : argmax_alignment(weights);
}

/// Corpus-level precision, recall and AER (Och & Ney 2003): the set sizes summed over the
/// sentence pairs before dividing, as the usual AER scripts do. Same rules as
/// attn::alignment_scores() for one sentence.
/// \param hypotheses one hypothesis per sentence pair, in the order of `gold`
/// \param gold one gold alignment per sentence pair
/// \return the scores and the summed set sizes
/// \throws attn::invalid_argument when the two do not have the same number of sentence pairs
inline AlignmentScores alignment_scores(const std::vector<Alignment>& hypotheses, const std::vector<GoldAlignment>& gold) {
  ATTN_CHECK(hypotheses.size() == gold.size(), "attn::io::alignment_scores: hypotheses.size() (" +
                                                   std::to_string(hypotheses.size()) + ") must equal gold.size() (" +
                                                   std::to_string(gold.size()) + ")");
  AlignmentScores total;
  for (std::size_t k = 0; k < gold.size(); ++k) {
    const AlignmentScores s = ::attn::alignment_scores(hypotheses[k], gold[k].sure, gold[k].possible);
    total.hypothesis += s.hypothesis;
    total.sure += s.sure;
    total.possible += s.possible;
    total.hits_sure += s.hits_sure;
    total.hits_possible += s.hits_possible;
  }
  const auto d = [](Index v) { return static_cast<double>(v); };
  total.precision = total.hypothesis > 0 ? d(total.hits_possible) / d(total.hypothesis) : 1.0;
  total.recall = total.sure > 0 ? d(total.hits_sure) / d(total.sure) : 1.0;
  total.aer = total.hypothesis + total.sure > 0
                  ? 1.0 - d(total.hits_sure + total.hits_possible) / d(total.hypothesis + total.sure)
                  : 0.0;
  return total;
}

/// Corpus-level scores of the records of an alignment file against a gold standard. Records are
/// matched to gold sentence pairs by `record.sentence` (fairseq's sample id, Marian's n-best
/// number, else the record's position), not by their order in the file: fairseq writes its
/// records in batch order. With several records of one sentence (an n-best list) the first
/// counts. Each record becomes links as record_links() makes them.
/// \param hypotheses the records, e.g. of read_alignments()
/// \param gold one gold alignment per sentence pair (sentence k: `gold[k]`)
/// \param options threshold and end-of-sentence handling for soft records
/// \return the scores and the summed set sizes
/// \throws attn::invalid_argument when a record's sentence is not one of gold's, or a sentence
///         of gold has no record: "attn::io::alignment_scores: no hypothesis for 2 of the 5
///         sentence pairs of the gold standard (the first: sentence 3)"
inline AlignmentScores alignment_scores(const std::vector<AlignmentRecord>& hypotheses, const std::vector<GoldAlignment>& gold,
                                        const RecordLinkOptions& options = {}) {
  const auto n = static_cast<Index>(gold.size());
  std::vector<Alignment> links(gold.size());
  std::vector<bool> seen(gold.size(), false);
  for (const AlignmentRecord& r : hypotheses) {
    ATTN_CHECK(r.sentence >= 0 && r.sentence < n,
               "attn::io::alignment_scores: the hypothesis on line " + std::to_string(r.line) + " is of sentence " +
                   std::to_string(r.sentence) + ", which the gold standard (" + std::to_string(n) +
                   " sentence pair(s), numbered from 0) does not have");
    const auto k = static_cast<std::size_t>(r.sentence);
    if (seen[k]) continue;
    seen[k] = true;
    links[k] = record_links(r, options);
  }
  const auto first = std::find(seen.begin(), seen.end(), false);
  ATTN_CHECK(first == seen.end(),
             "attn::io::alignment_scores: no hypothesis for " +
                 std::to_string(std::count(seen.begin(), seen.end(), false)) + " of the " + std::to_string(n) +
                 " sentence pairs of the gold standard (the first: sentence " +
                 std::to_string(first - seen.begin()) + ")");
  return alignment_scores(links, gold);
}

}  // namespace attn::io
