// SPDX-License-Identifier: MIT
// Tests of attn/io/alignment_formats.hpp and attn/io/alignment_svg.hpp: the Pharaoh, fairseq and
// Marian readers on files written from the tools' documentation and printing code
// (tests/fixtures/alignments/README.md says where each comes from), parse errors with their line
// numbers, AER against hand-computed cases, and the marks of the alignment-vs-gold picture.
#include "attn/io/alignment_formats.hpp"
#include "attn/io/alignment_svg.hpp"

#include "helpers.hpp"

#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_alignment_formats: the suite is a unity build.
namespace test_alignment_formats {

using attn::Alignment;
using attn::Index;
using attn::io::AlignmentFormat;
using attn::io::PharaohOrder;
using attn_test::message_of;

namespace {

const std::string dir = std::string(ATTN_FIXTURE_DIR) + "/alignments/";

/// Links given source-first ("s-t"), as attn's (target, source) links.
Alignment st(std::initializer_list<std::pair<Index, Index>> links) {
  Alignment a;
  for (const auto& [s, t] : links) a.push_back({t, s});
  return a;
}

Alignment sorted(Alignment a) {
  std::sort(a.begin(), a.end());
  return a;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("read_pharaoh reads the fast_align README example and a gold file with possible links", "[alignment_formats]") {
  const auto hyp = attn::io::read_pharaoh(dir + "fast_align_readme.align", PharaohOrder::col_row);
  REQUIRE(hyp.size() == 3);
  CHECK(hyp[0].sure == st({{0, 0}, {1, 1}, {2, 4}, {3, 2}, {4, 3}, {5, 5}, {6, 6}}));
  CHECK(hyp[1].sure == st({{0, 0}, {1, 1}, {2, 2}, {2, 3}, {3, 4}, {4, 5}}));
  CHECK(hyp[2].possible.empty());
  // "2-4": source word 2 ("ist") and target word 4 ("has"): row 4, column 2 in attn's order.
  CHECK(hyp[0].sure[2] == attn::AlignmentLink{4, 2});
  const auto rows_first = attn::io::read_pharaoh(dir + "fast_align_readme.align", PharaohOrder::row_col);
  CHECK(rows_first[0].sure[2] == attn::AlignmentLink{2, 4});

  const auto gold = attn::io::read_pharaoh(dir + "gold.talp", PharaohOrder::col_row);
  REQUIRE(gold.size() == 4);
  CHECK(gold[1].possible == st({{2, 2}, {3, 3}}));
  CHECK(gold[3].sure == st({{10, 9}}));  // aer.py's --help example "10-9 11p42"
  CHECK(gold[3].possible == st({{11, 42}}));

  // The README's "good alignment" against the gold written for it: no error (README.md, by hand).
  std::vector<Alignment> h;
  for (std::size_t k = 0; k < 3; ++k) h.push_back(hyp[k].sure);
  const std::vector<attn::io::GoldAlignment> g(gold.begin(), gold.begin() + 3);
  const attn::AlignmentScores s = attn::io::alignment_scores(h, g);
  CHECK(s.hypothesis == 19);
  CHECK(s.sure == 18);
  CHECK(s.hits_sure == 18);
  CHECK(s.hits_possible == 19);
  CHECK(s.aer == Approx(0.0).margin(1e-15));
}

TEST_CASE("read_pharaoh: an empty line is a sentence without links, CRLF, BOM and tabs are read", "[alignment_formats]") {
  std::istringstream in("\xEF\xBB\xBF" "0-1\t1p0\r\n\r\n2?2\n");
  const auto s = attn::io::read_pharaoh(in, PharaohOrder::row_col);
  REQUIRE(s.size() == 3);
  CHECK(s[0].sure == Alignment{{0, 1}});
  CHECK(s[0].possible == Alignment{{1, 0}});
  CHECK(s[1].sure.empty());
  CHECK(s[2].possible == Alignment{{2, 2}});
}

TEST_CASE("read_pharaoh names the line of a bad token", "[alignment_formats][errors]") {
  std::istringstream in("0-0 1-1\n0-0 1x1\n");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::read_pharaoh(in, PharaohOrder::col_row); }) ==
        "attn::io::read_pharaoh: line 2: token '1x1' is not of the form i-j");
  std::istringstream big("\n\n0-99999999999999999999\n");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::read_pharaoh(big, PharaohOrder::col_row); }) ==
        "attn::io::read_pharaoh: line 3: index in token '0-99999999999999999999' is too large");
  // parse_pharaoh's own messages are unchanged.
  CHECK(message_of<attn::invalid_argument>([] { attn::io::parse_pharaoh_gold("1-"); }) ==
        "attn::io::parse_pharaoh: token '1-' is not of the form i-j");
  CHECK_THAT(message_of<std::runtime_error>([] { attn::io::read_pharaoh(dir + "missing.talp", PharaohOrder::col_row); }),
             Catch::StartsWith("attn::io::read_pharaoh: cannot open '") && Catch::Contains("missing.talp' for reading: "));
}

TEST_CASE("read_fairseq_alignments reads the A- lines of generate output, hard and soft", "[alignment_formats]") {
  const auto hard = attn::io::read_fairseq_alignments(dir + "fairseq_generate_hard.txt");
  REQUIRE(hard.size() == 2);
  CHECK(hard[0].sentence == 1);  // batch order: A-1 comes first
  CHECK(hard[0].line == 6);
  CHECK_FALSE(hard[0].soft);
  CHECK(hard[0].links == st({{0, 0}, {1, 1}, {2, 2}, {2, 3}, {3, 4}, {4, 5}}));
  CHECK(hard[1].sentence == 0);
  CHECK(hard[1].line == 12);
  CHECK(sorted(hard[1].links) == sorted(st({{0, 0}, {1, 1}, {2, 4}, {3, 2}, {4, 3}, {5, 5}, {6, 6}})));

  const auto soft = attn::io::read_fairseq_alignments(dir + "fairseq_generate_soft.txt");
  REQUIRE(soft.size() == 1);
  CHECK(soft[0].soft);
  CHECK(soft[0].links.empty());
  REQUIRE(soft[0].weights.rows() == 4);
  REQUIRE(soft[0].weights.cols() == 4);
  CHECK(soft[0].weights(0, 0) == 0.91);
  CHECK(soft[0].weights(1, 1) == 0.88);
  CHECK(soft[0].weights(3, 3) == 0.8);
  CHECK(soft[0].weights(2, 3) == 0.07);
  CHECK(attn::argmax_alignment(soft[0].weights) == Alignment{{0, 0}, {1, 1}, {2, 2}, {3, 3}});
}

TEST_CASE("alignment records carry their tokens: fairseq's S- and H- lines, Marian's translation", "[alignment_formats]") {
  using Tokens = std::vector<std::string>;
  const auto hard = attn::io::read_fairseq_alignments(dir + "fairseq_generate_hard.txt");
  REQUIRE(hard.size() == 2);
  CHECK(hard[0].source_tokens == Tokens{"neue", "Modelle", "werden", "erprobt", "."});  // S-1
  CHECK(hard[0].target_tokens == Tokens{"new", "models", "are", "being", "tested", "."});  // H-1, not T-1 or D-1
  CHECK(hard[1].source_tokens == Tokens{"doch", "jetzt", "ist", "der", "Held", "gefallen", "."});
  CHECK(hard[1].target_tokens == Tokens{"but", "now", "the", "hero", "has", "fallen", "."});
  const auto soft = attn::io::read_fairseq_alignments(dir + "fairseq_generate_soft.txt");
  REQUIRE(soft.size() == 1);
  CHECK(soft[0].source_tokens == Tokens{"neue", "Modelle", "."});
  CHECK(soft[0].target_tokens == Tokens{"new", "models", "."});

  // --nbest 2: each A- line gets the H- line before it; a sample without S- or H- lines, none;
  // an H- line without its score tab is no hypothesis line and leaves the tokens alone; runs of
  // spaces make no empty token.
  std::istringstream nbest("S-3\tein  Haus\nH-3\t-0.1\ta house\nA-3\t0-0 1-1\nH-3\t-0.9\tone house .\n"
                           "A-3\t0-0 1-1 1-2\nA-4\t0-0\nS-5\tx\nH-5\tno score\nA-5\t0-0\n");
  const auto records = attn::io::read_fairseq_alignments(nbest);
  REQUIRE(records.size() == 4);
  CHECK(records[0].source_tokens == Tokens{"ein", "Haus"});
  CHECK(records[0].target_tokens == Tokens{"a", "house"});
  CHECK(records[1].source_tokens == Tokens{"ein", "Haus"});
  CHECK(records[1].target_tokens == Tokens{"one", "house", "."});
  CHECK(records[2].source_tokens.empty());
  CHECK(records[2].target_tokens.empty());
  CHECK(records[3].source_tokens == Tokens{"x"});
  CHECK(records[3].target_tokens.empty());

  // Marian: the translation before the alignment (n-best: each line's own); no source. The
  // alignment alone names none; nor does Pharaoh.
  const Tokens words{"new", "models", "are", "being", "tested", "."};
  const auto marian = attn::io::read_marian_alignments(dir + "marian_hard.txt");
  REQUIRE(marian.size() == 1);
  CHECK(marian[0].source_tokens.empty());
  CHECK(marian[0].target_tokens == words);
  CHECK(attn::io::read_marian_alignments(dir + "marian_soft.txt").at(0).target_tokens == words);
  const auto nbest_marian = attn::io::read_marian_alignments(dir + "marian_nbest.txt");
  REQUIRE(nbest_marian.size() == 2);
  CHECK(nbest_marian[0].target_tokens == words);
  CHECK(nbest_marian[1].target_tokens == Tokens{"new", "models", "are", "tested", "."});
  std::istringstream bare("0-0 1-1\n");
  CHECK(attn::io::read_marian_alignments(bare).at(0).target_tokens.empty());
  std::istringstream scored("a b ||| WordCounts=2 ||| 0-0 1-1\n");
  CHECK(attn::io::read_marian_alignments(scored).at(0).target_tokens == Tokens{"a", "b"});
  const auto pharaoh = attn::io::read_alignments(dir + "fast_align_readme.align");
  REQUIRE_FALSE(pharaoh.empty());
  CHECK(pharaoh[0].target_tokens.empty());
  CHECK(pharaoh[0].source_tokens.empty());
}

TEST_CASE("read_fairseq_alignments: malformed A- lines name their line", "[alignment_formats][errors]") {
  std::istringstream no_tab("S-0\tx\nA-0 0-0\n");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::read_fairseq_alignments(no_tab); }) ==
        "attn::io::read_fairseq_alignments: line 2: an alignment line is 'A-<sample id><tab><alignment>', not 'A-0 0-0'");
  std::istringstream mixed("A-3\t0-0 1-1 0.5,0.5\n");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::read_fairseq_alignments(mixed); }) ==
        "attn::io::read_fairseq_alignments: line 1: token '0.5,0.5' is not a link s-t like the first token '0-0'");
  std::istringstream ragged("H-0\t-1\tx\nA-0\t0.5,0.5 0.2,0.3,0.5\n");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::read_fairseq_alignments(ragged); }) ==
        "attn::io::read_fairseq_alignments: line 2: target token 1 has 3 source weights, target token 0 has 2");
  std::istringstream word("A-0\t0.5,abc\n");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::read_fairseq_alignments(word); }) ==
        "attn::io::read_fairseq_alignments: line 1: target token 0: 'abc' is not a finite number (soft alignments "
        "are comma-separated weights, one group per target token)");
}

TEST_CASE("alignment files: errors name the file and the line, and fairseq output without A- lines is refused",
          "[alignment_formats][errors]") {
  attn_test::TempDir tmp("attn_alignment_formats");
  const auto write = [&](const std::string& name, const std::string& text) {
    const std::string path = (tmp.path / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  };
  const std::string gold = write("gold.talp", "0-0\n0-0 1x1\n");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::read_pharaoh(gold, PharaohOrder::col_row); }) ==
        "attn::io::read_pharaoh: '" + gold + "', line 2: token '1x1' is not of the form i-j");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::read_alignments(gold); }) ==
        "attn::io::read_pharaoh: '" + gold + "', line 2: token '1x1' is not of the form i-j");
  const std::string fairseq = write("generate.txt", "S-0\tx y\nH-0\t-0.5\ta b\nA-0\t0-0 1\n");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::read_fairseq_alignments(fairseq); }) ==
        "attn::io::read_fairseq_alignments: '" + fairseq + "', line 3: token '1' is not a link s-t like the first token '0-0'");
  const std::string marian = write("marian.txt", "a b ||| 0.5,0.5 0.5\n");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::read_marian_alignments(marian); }) ==
        "attn::io::read_marian_alignments: '" + marian + "', line 1: target token 1 has 1 source weights, target token 0 has 2");

  // fairseq-generate without --print-alignment: translations, no alignment. Read as Pharaoh it
  // would fail on "S-0"; an empty list of records would read as a corpus of no sentences.
  const std::string plain = "S-0\tDas ist gut\nT-0\tthis is good\nH-0\t-0.31\tthis is good\n"
                            "D-0\t-0.31\tthis is good\nP-0\t-0.1 -0.2 -0.3 -0.7\nS-1\tJa\nH-1\t-0.2\tyes\n";
  const std::string said = " has 2 hypotheses (H- lines) but no alignment (A- lines): fairseq-generate and "
                           "fairseq-interactive write them with --print-alignment (hard links) or --print-alignment soft (weights)";
  const std::string no_links = write("no_links.txt", plain);
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::read_alignments(no_links); }) ==
        "attn::io::read_fairseq_alignments: '" + no_links + "'" + said);
  std::istringstream stream(plain);
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::read_fairseq_alignments(stream); }) ==
        "attn::io::read_fairseq_alignments: the output" + said);
  // Output of no sample at all (a log line) is an empty corpus, not an error.
  std::istringstream empty("2026-12-03 | INFO | fairseq_cli.generate | done\n");
  CHECK(attn::io::read_fairseq_alignments(empty).empty());
}

TEST_CASE("read_marian_alignments reads soft, hard and n-best output", "[alignment_formats]") {
  const auto soft = attn::io::read_marian_alignments(dir + "marian_soft.txt");
  REQUIRE(soft.size() == 1);
  REQUIRE(soft[0].soft);
  REQUIRE(soft[0].weights.rows() == 7);  // six words and </s>
  REQUIRE(soft[0].weights.cols() == 6);  // five words and </s>
  CHECK(soft[0].weights(0, 0) == 0.921834);
  CHECK(soft[0].weights(1, 5) == 1.2e-05);  // the stream's exponent form
  CHECK(soft[0].weights(6, 5) == 0.97546);
  // Marian's hard form of the same output is each target token's largest weight.
  const auto hard = attn::io::read_marian_alignments(dir + "marian_hard.txt");
  REQUIRE(hard.size() == 1);
  CHECK_FALSE(hard[0].soft);
  CHECK(sorted(hard[0].links) == sorted(attn::argmax_alignment(soft[0].weights)));

  const auto nbest = attn::io::read_marian_alignments(dir + "marian_nbest.txt");
  REQUIRE(nbest.size() == 2);
  CHECK(nbest[0].sentence == 0);
  CHECK(nbest[1].sentence == 0);
  CHECK(nbest[1].links == st({{0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}}));

  std::istringstream plain("0.5,0.5 0.25,0.75\n\n1,0\n");  // the alignment alone; an empty line: none
  const auto p = attn::io::read_marian_alignments(plain);
  REQUIRE(p.size() == 3);
  CHECK(p[0].weights(1, 1) == 0.75);
  CHECK(p[1].links.empty());
  CHECK_FALSE(p[1].soft);
  CHECK(p[2].sentence == 2);
  CHECK(p[2].weights.rows() == 1);

  std::istringstream bad("a b ||| 0.5,0.5 0.5\nc ||| 0.1,x\n");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::read_marian_alignments(bad); }) ==
        "attn::io::read_marian_alignments: line 1: target token 1 has 1 source weights, target token 0 has 2");
}

TEST_CASE("read_alignments tells the formats apart", "[alignment_formats]") {
  CHECK(attn::io::read_alignments(dir + "fairseq_generate_hard.txt").size() == 2);
  CHECK(attn::io::read_alignments(dir + "marian_soft.txt").front().soft);
  const auto pharaoh = attn::io::read_alignments(dir + "gold.talp");
  REQUIRE(pharaoh.size() == 4);
  CHECK(pharaoh[3].possible == st({{11, 42}}));
  CHECK(pharaoh[3].sentence == 3);
  // Told explicitly, a Pharaoh file is not mistaken for Marian's.
  CHECK(attn::io::read_alignments(dir + "fast_align_readme.align", AlignmentFormat::pharaoh).size() == 3);
  CHECK(attn::io::read_alignments(dir + "marian_hard.txt", AlignmentFormat::marian).front().links.size() == 7);
}

TEST_CASE("alignment_scores over a corpus: hand-computed", "[alignment_formats]") {
  // Sentence 1: A = {(0,0), (1,1), (2,2)}, S = {(0,0), (1,2)}, P = S + {(1,1)}
  //   |A∩S| = 1, |A∩P| = 2.  Sentence 2: A = {(0,1)}, S = {(0,1), (1,0)}: |A∩S| = |A∩P| = 1.
  // Summed: |A| = 4, |S| = 4, |A∩S| = 2, |A∩P| = 3: precision 3/4, recall 2/4, AER 1 - 5/8.
  const std::vector<Alignment> h{{{0, 0}, {1, 1}, {2, 2}}, {{0, 1}}};
  const std::vector<attn::io::GoldAlignment> g{{{{0, 0}, {1, 2}}, {{1, 1}}}, {{{0, 1}, {1, 0}}, {}}};
  const attn::AlignmentScores s = attn::io::alignment_scores(h, g);
  CHECK(s.precision == Approx(0.75));
  CHECK(s.recall == Approx(0.5));
  CHECK(s.aer == Approx(0.375));
  // Per sentence (attn::alignment_scores): sentence 1 alone has AER 1 - 3/5.
  CHECK(attn::alignment_scores(h[0], g[0].sure, g[0].possible).aer == Approx(0.4));
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::alignment_scores(h, {}); }) ==
        "attn::io::alignment_scores: hypotheses.size() (2) must equal gold.size() (0)");
}

TEST_CASE("records: the </s> row and column of soft alignments are dropped by default", "[alignment_formats]") {
  const auto marian = attn::io::read_marian_alignments(dir + "marian_soft.txt");
  REQUIRE(marian.size() == 1);
  const attn::io::AlignmentRecord& r = marian.front();
  const attn::Matrix<double> words = attn::io::soft_weights(r);
  REQUIRE(words.rows() == 6);  // "new models are being tested ." without </s>
  REQUIRE(words.cols() == 5);  // "neue Modelle werden erprobt ." without </s>
  CHECK(words(0, 0) == 0.921834);
  CHECK(words(5, 4) == 0.95412);
  CHECK(attn::io::soft_weights(r, attn::io::EndOfSentence::keep) == r.weights);
  // Row by row, the largest weight of the 6x5 block (tested . -> erprobt, 0.501287 over
  // werden's 0.451239; the </s> column's 0.0118043 is not the largest of the last row anyway).
  CHECK(attn::io::record_links(r) == st({{0, 0}, {1, 1}, {2, 2}, {3, 3}, {3, 4}, {4, 5}}));
  attn::io::RecordLinkOptions keep;
  keep.end_of_sentence = attn::io::EndOfSentence::keep;
  // Kept, </s> links to </s> (5-6), which is Marian's own hard form of the same output.
  const auto hard = attn::io::read_marian_alignments(dir + "marian_hard.txt");
  REQUIRE(hard.front().format == AlignmentFormat::marian);
  CHECK(attn::io::record_links(r, keep) == sorted(hard.front().links));
  CHECK(attn::io::record_links(hard.front(), keep) == hard.front().links);
  // Marian's hard links keep </s> (5-6 joins the largest indices); dropped by default, they are
  // the links of the soft form without </s>: the hard and soft output agree.
  CHECK(sorted(attn::io::record_links(hard.front())) == sorted(attn::io::record_links(r)));
  CHECK(attn::io::record_links(hard.front()) == st({{0, 0}, {1, 1}, {2, 2}, {3, 3}, {3, 4}, {4, 5}}));
  // Every link of the </s> row and column goes (a word whose largest weight was on the source's
  // </s>: 5-2 here); without a link joining the largest indices, the links stay as read.
  attn::io::AlignmentRecord edited = hard.front();
  edited.links = st({{0, 0}, {5, 2}, {1, 1}, {5, 3}});
  CHECK(attn::io::record_links(edited) == st({{0, 0}, {1, 1}}));
  edited.links = st({{0, 0}, {2, 1}, {1, 2}});  // crossed: no link joins target 2 and source 2
  CHECK(attn::io::record_links(edited) == edited.links);
  // fairseq's and Pharaoh links, and records of no known tool, are kept as read.
  edited.links = st({{0, 0}, {1, 1}});
  for (const AlignmentFormat f : {AlignmentFormat::fairseq, AlignmentFormat::pharaoh, AlignmentFormat::automatic}) {
    edited.format = f;
    CHECK(attn::io::record_links(edited) == edited.links);
  }
  CHECK(attn::io::read_fairseq_alignments(dir + "fairseq_generate_hard.txt").front().format == AlignmentFormat::fairseq);
  CHECK(attn::io::read_alignments(dir + "gold.talp").front().format == AlignmentFormat::pharaoh);
  // fairseq's soft output (3 words and </s> on each side): above 0.5, the diagonal of the 3x3 rest.
  const auto fairseq = attn::io::read_fairseq_alignments(dir + "fairseq_generate_soft.txt");
  attn::io::RecordLinkOptions above;
  above.threshold = 0.5;
  CHECK(attn::io::record_links(fairseq.front(), above) == Alignment{{0, 0}, {1, 1}, {2, 2}});
  above.end_of_sentence = attn::io::EndOfSentence::keep;
  CHECK(attn::io::record_links(fairseq.front(), above) == Alignment{{0, 0}, {1, 1}, {2, 2}, {3, 3}});
  // A record of one row and column (only </s>) leaves nothing.
  attn::io::AlignmentRecord only_eos;
  only_eos.soft = true;
  only_eos.weights = attn::Matrix<double>::Ones(1, 1);
  CHECK(attn::io::soft_weights(only_eos).size() == 0);
  CHECK(attn::io::record_links(only_eos).empty());
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::soft_weights(hard.front()); }) ==
        "attn::io::soft_weights: the record of sentence 0 (line 1) holds hard links, not weights");
}

TEST_CASE("alignment_scores of records pairs them with the gold by sentence, not by file order", "[alignment_formats]") {
  // fairseq writes sample 1 before sample 0; gold.talp's first two lines are samples 0 and 1.
  const auto records = attn::io::read_fairseq_alignments(dir + "fairseq_generate_hard.txt");
  auto gold = attn::io::read_pharaoh(dir + "gold.talp", PharaohOrder::col_row);
  gold.resize(2);
  // Sample 0: A = S = 7 links, P = S. Sample 1: A = {0-0 1-1 2-2 2-3 3-4 4-5}, S = {0-0 1-1 2-3 3-4
  // 4-5}, P = S + {2-2 3-3}. Summed: |A| 13, |S| 12, |A∩S| 12, |A∩P| 13: precision 1, recall 1, AER 0.
  const attn::AlignmentScores s = attn::io::alignment_scores(records, gold);
  CHECK(s.hypothesis == 13);
  CHECK(s.sure == 12);
  CHECK(s.hits_sure == 12);
  CHECK(s.hits_possible == 13);
  CHECK(s.aer == 0.0);
  // Paired by position instead (the links in file order), the same files score far worse:
  // |A∩S| = |A∩P| = 2 + 2 (0-0 and 1-1 of each), AER 1 - 8/25.
  CHECK(attn::io::alignment_scores(std::vector<Alignment>{records[0].links, records[1].links}, gold).aer ==
        Approx(0.68));

  // n-best: the first hypothesis of a sentence counts. Its </s> link 5-6 dropped, the first
  // (0-0 1-1 2-2 3-3 3-4 4-5) hits 5 of the 6 sure links and the possible 3-3; the second
  // (0-0 1-1 2-2 3-3 4-4, its 5-5 dropped) would hit 3.
  const auto nbest = attn::io::read_marian_alignments(dir + "marian_nbest.txt");
  const std::vector<attn::io::GoldAlignment> words_gold{
      attn::io::parse_pharaoh_gold("0-0 1-1 2-2 2-3 3p3 3-4 4-5", PharaohOrder::col_row)};
  const attn::AlignmentScores first = attn::io::alignment_scores(nbest, words_gold);
  CHECK(first.hypothesis == 6);
  CHECK(first.hits_sure == 5);
  CHECK(first.hits_possible == 6);
  CHECK(first.aer == Approx(1.0 - 11.0 / 12.0));
  // Against a gold with </s> (5-6), with the links kept: 6 of 7 sure links and the possible 3-3.
  const std::vector<attn::io::GoldAlignment> eos_gold{
      attn::io::parse_pharaoh_gold("0-0 1-1 2-2 2-3 3p3 3-4 4-5 5-6", PharaohOrder::col_row)};
  attn::io::RecordLinkOptions keep;
  keep.end_of_sentence = attn::io::EndOfSentence::keep;
  const attn::AlignmentScores kept = attn::io::alignment_scores(nbest, eos_gold, keep);
  CHECK(kept.hits_sure == 6);
  CHECK(kept.hits_possible == 7);
  CHECK(kept.aer == Approx(1.0 - 13.0 / 14.0));

  CHECK(message_of<attn::invalid_argument>([&] { attn::io::alignment_scores(records, {gold[0]}); }) ==
        "attn::io::alignment_scores: the hypothesis on line 6 is of sentence 1, which the gold standard "
        "(1 sentence pair(s), numbered from 0) does not have");
  gold = attn::io::read_pharaoh(dir + "gold.talp", PharaohOrder::col_row);
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::alignment_scores(records, gold); }) ==
        "attn::io::alignment_scores: no hypothesis for 2 of the 4 sentence pairs of the gold standard "
        "(the first: sentence 2)");
}

TEST_CASE("alignment_svg marks hits, misses, possible links and false alarms", "[alignment_formats][svg]") {
  // Rows: target tokens; columns: source tokens.
  const Alignment hypothesis{{0, 0}, {1, 1}, {2, 0}};
  attn::io::GoldAlignment gold;
  gold.sure = {{0, 0}, {2, 2}};
  gold.possible = {{1, 1}, {1, 2}};
  attn::io::AlignmentSvgOptions o;
  o.title = "a <b> & \"c\"";
  o.row_labels = {"</script>", "b", "c"};
  o.col_labels = {"x", "y", "z"};
  const std::string svg = attn::io::alignment_svg(hypothesis, gold, o);
  CHECK(count_of(svg, "<g class=\"mark hit\"") == 1);
  CHECK(count_of(svg, "<g class=\"mark possible-hit\"") == 1);
  CHECK(count_of(svg, "<g class=\"mark miss\"") == 1);
  CHECK(count_of(svg, "<g class=\"mark possible\"") == 1);
  CHECK(count_of(svg, "<g class=\"mark false-alarm\"") == 1);
  CHECK(svg.find("<g class=\"mark false-alarm\" data-i=\"2\" data-j=\"0\">") != std::string::npos);
  CHECK(svg.find("<g class=\"mark miss\" data-i=\"2\" data-j=\"2\">") != std::string::npos);
  // |A| = 3, |S| = 2, |A∩S| = 1, |A∩P| = 2: precision 2/3, recall 1/2, AER 1 - 3/5.
  CHECK(svg.find(">precision 0.667 \xC2\xB7 recall 0.500 \xC2\xB7 AER 0.400</text>") != std::string::npos);
  CHECK(svg.find("false alarm: 1") != std::string::npos);
  CHECK(svg.find("</script>") == std::string::npos);
  CHECK(svg.find("a &lt;b&gt; &amp; &quot;c&quot;") != std::string::npos);

  // From weights: the hypothesis is each row's largest weight, the weights shaded.
  Eigen::MatrixXf w(3, 3);
  w << 0.8f, 0.1f, 0.1f, 0.2f, 0.7f, 0.1f, 0.6f, 0.1f, 0.3f;
  const std::string from_weights = attn::io::alignment_svg(w, gold, o);
  CHECK(count_of(from_weights, "<g class=\"mark false-alarm\"") == 1);
  CHECK(from_weights.find("class=\"weights\"") != std::string::npos);
  o.threshold = 0.25;  // adds (2, 2): the miss becomes a hit
  CHECK(count_of(attn::io::alignment_svg(w, gold, o), "<g class=\"mark miss\"") == 0);

  // Without gold: dots, no scores.
  const std::string links = attn::io::alignment_svg(hypothesis);
  CHECK(count_of(links, "<g class=\"mark link\"") == 3);
  CHECK(links.find("precision") == std::string::npos);
}

TEST_CASE("alignment_svg argument checks", "[alignment_formats][svg][errors]") {
  attn::io::AlignmentSvgOptions o;
  o.rows = 2;
  o.cols = 3;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::alignment_svg(Alignment{{0, 0}, {2, 1}}, {}, o); }) ==
        "attn::io::alignment_svg: hypothesis[1] (2, 1) is outside the 2x3 picture (rows are target tokens, columns "
        "source tokens)");
  attn::io::GoldAlignment gold;
  gold.possible = {{0, 3}};
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::alignment_svg(Alignment{}, gold, o); }) ==
        "attn::io::alignment_svg: gold.possible[0] (0, 3) is outside the 2x3 picture (rows are target tokens, columns "
        "source tokens)");
  o.rows = 0;
  o.row_labels = {"a"};
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::alignment_svg(Eigen::MatrixXd::Ones(2, 3), {}, o); }) ==
        "attn::io::alignment_svg: the weights are 2x3 but the picture is 1x3");
  o.row_labels.clear();
  o.max_cell_size = 0;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::alignment_svg(Alignment{}, o); }) ==
        "attn::io::alignment_svg: options.max_cell_size (0) must be > 0");
  // A stray index ("0-999999999" in a Pharaoh file) is refused at once, not drawn as a billion
  // cells; the limit is 2^26 cells (8192x8192).
  CHECK(message_of<attn::invalid_argument>([] { attn::io::alignment_svg(Alignment{{0, 0}, {1, 999999999}}); }) ==
        "attn::io::alignment_svg: a picture of 2x1000000000 cells is more than 2^26; is a link index out of place?");
  CHECK(message_of<attn::invalid_argument>([] {
          attn::io::alignment_svg(Alignment{{Index(1) << 40, Index(1) << 40}});
        }) == "attn::io::alignment_svg: a picture of 1099511627777x1099511627777 cells is more than 2^26; is a link index out of place?");
  o.max_cell_size = 20;
  o.rows = 8192;
  o.cols = 8193;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::alignment_svg(Alignment{}, o); }) ==
        "attn::io::alignment_svg: a picture of 8192x8193 cells is more than 2^26; is a link index out of place?");
}

}  // namespace test_alignment_formats
