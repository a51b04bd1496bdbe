// SPDX-License-Identifier: MIT
// Tests of attn/io/html.hpp: every document is parsed by xmllint both as XML (XHTML) and as
// HTML, tokens with markup, quotes, non-ASCII and malformed UTF-8 included; shading, tooltips,
// one line per query, characters, argument checks and the atomic path overload.
#include "attn/io/html.hpp"

#include "helpers.hpp"

#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// Everything in this file lives in namespace test_html: the suite is a unity build.
namespace test_html {

namespace fs = std::filesystem;
using attn::Index;
using attn_test::message_of;
using attn_test::slurp;

namespace {


/// Runs `xmllint --noout [flags]` on `text`; "" when it parses without error or warning.
std::string lint(const std::string& text, const std::string& flags) {
  if (std::system("xmllint --version >/dev/null 2>&1") != 0) {
    FAIL("xmllint is not installed (Debian: apt-get install libxml2-utils); scripts/test.sh installs it");
  }
  static int counter = 0;
  const fs::path file =
      fs::temp_directory_path() / ("attn_html_lint_" + std::to_string(std::random_device{}()) + "_" + std::to_string(++counter));
  const fs::path errors = file.string() + ".err";
  {
    std::ofstream out(file, std::ios::binary);
    out << text;
  }
  const int status =
      std::system(("xmllint --noout " + flags + " '" + file.string() + "' 2>'" + errors.string() + "'").c_str());
  std::string complaint = slurp(errors);
  std::error_code ignored;
  fs::remove(file, ignored);
  fs::remove(errors, ignored);
  if (status != 0 && complaint.empty()) complaint = "xmllint exited with status " + std::to_string(status);
  return complaint;
}

#define CHECK_XHTML_AND_HTML(text)                   \
  do {                                               \
    const std::string as_xml_ = lint(text, "");      \
    INFO("as XML: " << as_xml_);                     \
    CHECK(as_xml_.empty());                          \
    const std::string as_html_ = lint(text, "--html"); \
    INFO("as HTML: " << as_html_);                   \
    CHECK(as_html_.empty());                         \
  } while (false)

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

const std::vector<std::string> kTokens{"<b>bold</b>", "Tom & \"Jerry\"", "it's", "café 注意 🙂",
                                       std::string("bad\xff\xc3 bytes"), " leading space", "ctl\x02"};

}  // namespace

TEST_CASE("html: hostile tokens give a document that parses as XHTML and as HTML", "[io][html][xmllint]") {
  Eigen::RowVectorXd w(7);
  w << 0.3, 0.05, 0.1, 0.2, 0.15, 0.1, 0.1;
  attn::io::HighlightOptions options;
  options.title = "Review <#1> & \"notes\" — ünïcødé";
  options.show_weights = true;
  const std::string html = attn::io::highlight_html(kTokens, w, options);
  CHECK_XHTML_AND_HTML(html);
  CHECK(html.find("<b>") == std::string::npos);
  CHECK(html.find(">&lt;b&gt;bold&lt;/b&gt;<") != std::string::npos);
  CHECK(html.find("Tom &amp; &quot;Jerry&quot;") != std::string::npos);
  CHECK(html.find("it&#39;s") != std::string::npos);
  CHECK(html.find("café 注意 🙂") != std::string::npos);
  CHECK(html.find("bad\xEF\xBF\xBD\xEF\xBF\xBD bytes") != std::string::npos);
  CHECK(html.find('\x02') == std::string::npos);
  CHECK(html.find("> leading space<") != std::string::npos);  // spaces kept (pre-wrap)
  CHECK(html.find("<title>Review &lt;#1&gt; &amp; &quot;notes&quot; — ünïcødé</title>") != std::string::npos);
  CHECK(html.find("<sub class=\"attn-weight\">0.300</sub>") != std::string::npos);

  options.fragment = true;
  const std::string fragment = attn::io::highlight_html(kTokens, w, options);
  CHECK(fragment.rfind("<div class=\"attn-highlight\">", 0) == 0);
  CHECK(fragment.find("<html") == std::string::npos);
  CHECK(lint(fragment, "").empty());
}

TEST_CASE("html: each token's shade follows its weight and its tooltip gives the weight", "[io][html]") {
  Eigen::RowVectorXf w(4);
  w << 0.0f, 0.5f, 1.0f, 0.25f;
  const std::vector<std::string> tokens{"a", "b", "c", "d"};
  const std::string html = attn::io::highlight_html(tokens, w);
  CHECK(html.find("style=\"background-color:#ffffff;color:#000000;white-space:pre-wrap\" title=\"a: 0.000\" "
                  "data-weight=\"0\">a</span>") != std::string::npos);
  CHECK(html.find("style=\"background-color:#e6550d;color:#000000;white-space:pre-wrap\" title=\"c: 1.000\" "
                  "data-weight=\"1\">c</span>") != std::string::npos);
  CHECK(html.find("title=\"b: 0.500\"") != std::string::npos);
  // Halfway between white and #e6550d.
  CHECK(html.find("background-color:#f3aa86;color:#000000;white-space:pre-wrap\" title=\"b: 0.500\"") !=
        std::string::npos);
  CHECK(html.find("weight 0.000 <span") != std::string::npos);  // legend: 0 .. max
  CHECK(html.find("</span> 1.000 (white: weight 0)</div>") != std::string::npos);
  CHECK(occurrences(html, "class=\"attn-line\"") == 1);

  attn::io::HighlightOptions dark;
  dark.color = "#08306b";
  dark.vmax = 0.5;
  dark.decimals = 1;
  const std::string d = attn::io::highlight_html(tokens, w, dark);
  CHECK(d.find("background-color:#08306b;color:#ffffff;white-space:pre-wrap\" title=\"c: 1.0\"") !=
        std::string::npos);  // clamped to vmax, white text on the dark shade
  CHECK(d.find("background-color:#08306b;color:#ffffff;white-space:pre-wrap\" title=\"b: 0.5\"") != std::string::npos);
}

TEST_CASE("html: a Tq x n matrix gives one labelled line per query", "[io][html][xmllint]") {
  Eigen::MatrixXd w(3, 4);
  w << 0.7, 0.1, 0.1, 0.1, 0.05, 0.8, 0.1, 0.05, 0.0, 0.2, 0.3, 0.5;
  attn::io::HighlightOptions options;
  options.row_labels = {"le", "<chat>", "noir"};
  const std::string html = attn::io::highlight_html({"the", "cat", "black", "."}, w, options);
  CHECK_XHTML_AND_HTML(html);
  CHECK(occurrences(html, "class=\"attn-line\"") == 3);
  CHECK(occurrences(html, "class=\"attn-query\"") == 3);
  // The tokens' language: unknown (lang="") unless given, not the page's English.
  CHECK(occurrences(html, "class=\"attn-line\" dir=\"auto\" lang=\"\"") == 3);
  CHECK(html.find("<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">") != std::string::npos);
  options.language = "zh-Hans";
  const std::string chinese = attn::io::highlight_html({"the", "cat", "black", "."}, w, options);
  CHECK_XHTML_AND_HTML(chinese);
  CHECK(occurrences(chinese, "class=\"attn-line\" dir=\"auto\" lang=\"zh-Hans\"") == 3);
  CHECK(html.find("title=\"&lt;chat&gt; \xE2\x86\x92 cat: 0.800\"") != std::string::npos);
  // One query alone (a row of the matrix) is one line.
  const std::string one = attn::io::highlight_html({"the", "cat", "black", "."}, w.row(1));
  CHECK(occurrences(one, "class=\"attn-line\"") == 1);
  // A column vector with one weight per token is one line too.
  const Eigen::VectorXd column = w.row(2).transpose();
  CHECK(attn::io::highlight_html({"the", "cat", "black", "."}, column) ==
        attn::io::highlight_html({"the", "cat", "black", "."}, w.row(2)));
}

TEST_CASE("html: masked tokens are hatched, say masked and set no end of the scale", "[io][html][xmllint]") {
  // A causal model's weights: query i sees tokens 0..i; the future tokens' weight 0 must not read
  // as attention given nothing.
  Eigen::MatrixXd w(3, 3);
  w << 1.0, 0.0, 0.0, 0.4, 0.6, 0.0, 0.2, 0.3, 0.5;
  const std::vector<std::string> tokens{"a", "b", "c"};
  attn::io::HighlightOptions options;
  options.mask = attn::Mask::causal();
  options.row_labels = {"a", "b", "c"};
  const std::string html = attn::io::highlight_html(tokens, w, options);
  CHECK_XHTML_AND_HTML(html);
  CHECK(occurrences(html, "attn-token attn-masked") == 3);  // (0, 1), (0, 2), (1, 2)
  const std::string hatched = attn::io::detail::masked_token_style;
  CHECK(html.find("<span class=\"attn-token attn-masked\" style=\"" + hatched +
                  ";white-space:pre-wrap\" title=\"a \xE2\x86\x92 b: masked\" data-weight=\"0\">b</span>") !=
        std::string::npos);
  CHECK(html.find("title=\"b \xE2\x86\x92 a: 0.400\"") != std::string::npos);  // visible: shaded as before
  CHECK(html.find(hatched + "\"></span> masked</div>") != std::string::npos);    // the legend names them
  // One row alone: mask_first_row says which query it is (row 1 sees a and b, not c).
  attn::io::HighlightOptions row = options;
  row.row_labels = {};
  row.mask_first_row = 1;
  const std::string one = attn::io::highlight_html(tokens, w.row(1), row);
  CHECK(occurrences(one, "attn-masked") == 1);
  CHECK(one.find("title=\"c: masked\"") != std::string::npos);
  CHECK(one.find("title=\"b: 0.600\"") != std::string::npos);
  // Masked entries set no end of the scale: a hidden 9 leaves 0.6 at the top, full colour.
  Eigen::RowVectorXd spiked = w.row(1);
  spiked(2) = 9.0;
  CHECK(attn::io::highlight_html(tokens, spiked, row).find("background-color:#e6550d;color:#000000;white-space:"
                                                           "pre-wrap\" title=\"b: 0.600\"") != std::string::npos);
  // A matrix mask: its rows are the map's; lines past them and shapes that do not fit are refused.
  attn::BoolMatrix visible = attn::BoolMatrix::Constant(3, 3, true);
  visible(2, 0) = false;
  attn::io::HighlightOptions matrix;
  matrix.mask = attn::Mask::matrix(visible);
  matrix.mask_first_row = 2;
  CHECK(attn::io::highlight_html(tokens, w.row(2), matrix).find("title=\"a: masked\"") != std::string::npos);
  matrix.mask_first_row = 3;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::highlight_html(tokens, w.row(2), matrix); }) ==
        "attn::io::highlight_html: options.mask_first_row (3) and 1 line(s) need the mask's rows 3 to 3 + 0, but "
        "options.mask has 3 rows");
  // A causal mask takes any row, up to where first + line would overflow.
  attn::io::HighlightOptions far;
  far.mask = attn::Mask::causal();
  far.mask_first_row = std::numeric_limits<Index>::max() - 1;
  CHECK(occurrences(attn::io::highlight_html(tokens, w.row(2), far), "attn-masked") == 0);  // sees all 3 tokens
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::highlight_html(tokens, w, far); }) ==
        "attn::io::highlight_html: options.mask_first_row (9223372036854775806) and 3 line(s) need the mask's "
        "rows 9223372036854775806 to 9223372036854775806 + 2, past the largest Index");
  matrix.mask_first_row = -1;
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::highlight_html(tokens, w.row(2), matrix); }) ==
        "attn::io::highlight_html: options.mask_first_row (-1) must be >= 0");
  attn::io::HighlightOptions long_keys;
  long_keys.mask = attn::Mask::key_length(4);
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::highlight_html(tokens, w, long_keys); }) ==
        "attn::io::highlight_html: mask key length (4) exceeds the number of keys (3)");
  // No mask: the page is as before, nothing hatched.
  CHECK(attn::io::highlight_html(tokens, w).find("masked") == std::string::npos);
}

// The combining marks of every script belong to the character before them: each example's
// characters are what the Unicode charts make of it (extended grapheme clusters), by hand.
TEST_CASE("html: characters keep the combining marks of every script", "[io][html]") {
  using attn::io::utf8_characters;
  // Hindi हिंदी: HA + vowel sign I (U+093F, Mc) + anusvara (U+0902, Mn), DA + vowel sign II (U+0940, Mc).
  CHECK(utf8_characters("\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\x82\xE0\xA4\xA6\xE0\xA5\x80") ==
        std::vector<std::string>{"\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\x82", "\xE0\xA4\xA6\xE0\xA5\x80"});
  // Arabic كَتَبَ: KAF, TEH, BEH, each with a fatha (U+064E).
  CHECK(utf8_characters("\xD9\x83\xD9\x8E\xD8\xAA\xD9\x8E\xD8\xA8\xD9\x8E") ==
        std::vector<std::string>{"\xD9\x83\xD9\x8E", "\xD8\xAA\xD9\x8E", "\xD8\xA8\xD9\x8E"});
  // Hebrew שָׁלוֹם: SHIN + qamats (U+05B8) + shin dot (U+05C1), LAMED, VAV + holam (U+05B9), FINAL MEM.
  CHECK(utf8_characters("\xD7\xA9\xD6\xB8\xD7\x81\xD7\x9C\xD7\x95\xD6\xB9\xD7\x9D") ==
        std::vector<std::string>{"\xD7\xA9\xD6\xB8\xD7\x81", "\xD7\x9C", "\xD7\x95\xD6\xB9", "\xD7\x9D"});
  // Thai ที่: THO THAHAN + sara ii (U+0E35) + mai ek (U+0E48): one character.
  CHECK(utf8_characters("\xE0\xB8\x97\xE0\xB8\xB5\xE0\xB9\x88").size() == 1);
  // Tamil நீ: NA + vowel sign II (U+0BC0, Mc); Cyrillic 100 000 sign (U+0488, Me) around a 1.
  CHECK(utf8_characters("\xE0\xAE\xA8\xE0\xAF\x80").size() == 1);
  CHECK(utf8_characters("1\xD2\x88").size() == 1);
  // A conjunct (KA, virama, SSA: क्ष) is one character in Devanagari, two in Tamil (KA, virama, SSA:
  // க்ஷ, the virama with the first), as Unicode 15.1 on says; code points are code points.
  CHECK(utf8_characters("\xE0\xA4\x95\xE0\xA5\x8D\xE0\xA4\xB7") ==
        std::vector<std::string>{"\xE0\xA4\x95\xE0\xA5\x8D\xE0\xA4\xB7"});
  CHECK(utf8_characters("\xE0\xAE\x95\xE0\xAF\x8D\xE0\xAE\xB7") ==
        std::vector<std::string>{"\xE0\xAE\x95\xE0\xAF\x8D", "\xE0\xAE\xB7"});
  // Korean in jamo (HIEUH, A, NIEUN: 한; KIYEOK, EU, RIEUL: 글) is two syllables.
  CHECK(utf8_characters("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB\xE1\x84\x80\xE1\x85\xB3\xE1\x86\xAF") ==
        std::vector<std::string>{"\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB", "\xE1\x84\x80\xE1\x85\xB3\xE1\x86\xAF"});
  CHECK(attn::io::utf8_code_points("\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\x82").size() == 3);
}

namespace {

// The UTF-8 of the hexadecimal code points in `fields` (up to a "|" or the end).
std::string utf8_of_hex(std::istringstream& fields) {
  std::string text;
  std::string word;
  while (fields >> word && word != "|") {
    attn::io::detail::append_utf8(text, static_cast<char32_t>(std::stoul(word, nullptr, 16)));
  }
  return text;
}

// "2,1,1": sizes of clusters, in code points.
std::vector<std::size_t> sizes_of(const std::string& list) {
  std::vector<std::size_t> out;
  std::istringstream in(list);
  std::string n;
  while (std::getline(in, n, ',')) out.push_back(std::stoul(n));
  return out;
}

// The sizes, in code points, of utf8_characters(text)'s characters.
std::vector<std::size_t> character_sizes(const std::string& text) {
  std::vector<std::size_t> out;
  for (const std::string& c : attn::io::utf8_characters(text)) out.push_back(attn::io::utf8_code_points(c).size());
  return out;
}

}  // namespace

// Every code point at an edge of the property table (and just outside it) in the four contexts of
// tests/fixtures/text/grapheme_edges.txt, as ICU's grapheme segmenter cut them
// (make_grapheme_breaks.mjs): "a" c "a", KA VIRAMA c KA, CHOSEONG KIYEOK c JONGSEONG KIYEOK,
// U+263A c ZWJ U+263A.
TEST_CASE("html: characters agree with ICU at every edge of the property table", "[io][html]") {
  std::ifstream in(attn_test::fixture_path("text/grapheme_edges.txt"));
  REQUIRE(in);
  const char32_t before[4][2] = {{U'a', 0}, {0x915, 0x94D}, {0x1100, 0}, {0x263A, 0}};
  const char32_t after[4][2] = {{U'a', 0}, {0x915, 0}, {0x11A8, 0}, {0x200D, 0x263A}};
  std::string line;
  std::size_t checked = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string hex;
    std::string contexts;
    fields >> hex >> contexts;
    REQUIRE(fields);
    const auto cp = static_cast<char32_t>(std::stoul(hex, nullptr, 16));
    std::istringstream lists(contexts);
    for (int k = 0; k < 4; ++k) {
      std::string list;
      REQUIRE(std::getline(lists, list, '|'));
      std::string text;
      for (const char32_t c : before[k])
        if (c != 0) attn::io::detail::append_utf8(text, c);
      attn::io::detail::append_utf8(text, cp);
      for (const char32_t c : after[k])
        if (c != 0) attn::io::detail::append_utf8(text, c);
      INFO("U+" << hex << " in context " << k);
      CHECK(character_sizes(text) == sizes_of(list));
      ++checked;
    }
  }
  CHECK(checked > 8000);
}

// Random strings of code points of every class, and words (Hindi, Bengali, Korean in jamo, emoji,
// flags, CR LF, Arabic number signs), as ICU cut them (tests/fixtures/text/grapheme_strings.txt).
TEST_CASE("html: characters agree with ICU on strings of every class", "[io][html]") {
  std::ifstream in(attn_test::fixture_path("text/grapheme_strings.txt"));
  REQUIRE(in);
  std::string line;
  std::size_t checked = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    const std::string text = utf8_of_hex(fields);
    std::string list;
    fields >> list;
    REQUIRE(fields);
    INFO(line);
    CHECK(character_sizes(text) == sizes_of(list));
    ++checked;
  }
  CHECK(checked > 4000);
}

TEST_CASE("html: characters, NaN weights and empty input", "[io][html][xmllint]") {
  const std::vector<std::string> chars = attn::io::utf8_characters("Un cafe\xCC\x81 \xE2\x80\x94 ok\xff");
  CHECK(chars == std::vector<std::string>{"U", "n", " ", "c", "a", "f", "e\xCC\x81", " ", "\xE2\x80\x94", " ", "o",
                                          "k", "\xEF\xBF\xBD"});
  // Code points, as Python's list(text): the combining mark is one of its own.
  CHECK(attn::io::utf8_code_points("cafe\xCC\x81!\xff") ==
        std::vector<std::string>{"c", "a", "f", "e", "\xCC\x81", "!", "\xEF\xBF\xBD"});
  // What a reader sees as one character: a family joined by zero-width joiners (U+200D), a thumb
  // with a skin tone (U+1F3FD), a flag (two regional indicators), a heart with its emoji
  // variation selector (U+FE0F), x with a combining ring above for symbols (U+20DD); two flags
  // in a row are two; a joiner before a letter joins nothing.
  const std::string family = "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7";
  const std::string thumb = "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD";
  const std::string fr = "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7";
  const std::string de = "\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA";
  const std::string heart = "\xE2\x9D\xA4\xEF\xB8\x8F";
  const std::string ring = "x\xE2\x83\x9D";
  CHECK(attn::io::utf8_characters(family + thumb + fr + de + heart + ring + "a\xE2\x80\x8D" + "b") ==
        std::vector<std::string>{family, thumb, fr, de, heart, ring, "a\xE2\x80\x8D", "b"});
  // A joiner joins two pictographs only (Unicode's rule GB11): after a letter the emoji is its own.
  const std::string up = "\xF0\x9F\x91\x8D";
  CHECK(attn::io::utf8_characters("a\xE2\x80\x8D" + up) == std::vector<std::string>{"a\xE2\x80\x8D", up});
  CHECK(attn::io::utf8_code_points(family).size() == 5);
  CHECK(attn::io::utf8_code_points(fr + de).size() == 4);
  Eigen::RowVectorXd w = Eigen::RowVectorXd::LinSpaced(static_cast<Index>(chars.size()), 0.0, 1.0);
  w(2) = std::numeric_limits<double>::quiet_NaN();
  attn::io::HighlightOptions options;
  options.separator = "";
  const std::string html = attn::io::highlight_html(chars, w, options);
  CHECK_XHTML_AND_HTML(html);
  CHECK(html.find("background-color:#d9d9d9;color:#000000;white-space:pre-wrap\" title=\" : NaN\"") !=
        std::string::npos);
  // The legend names the grey of NaN (as the SVG heatmap's does).
  CHECK(html.find("background:#d9d9d9\"></span> NaN</div>") != std::string::npos);
  CHECK(html.find("</span><span") != std::string::npos);  // no separator between characters
  CHECK_XHTML_AND_HTML(attn::io::highlight_html({}, Eigen::RowVectorXd(0)));
  // No token (a user with an empty history): each line says so, and the legend places no weight
  // on a scale (it read "weight 0.000 ... 1.000").
  attn::io::HighlightOptions empty;
  empty.row_labels = {"candidate 7"};
  const std::string none = attn::io::highlight_html({}, Eigen::RowVectorXd(0), empty);
  CHECK_XHTML_AND_HTML(none);
  CHECK(none.find(">candidate 7</span></span><span class=\"attn-empty\" style=\"color:#595959;font-style:italic\">"
                  "no tokens</span></div>") != std::string::npos);
  CHECK(none.find("<div class=\"attn-legend\">no weights: there are no tokens</div>") != std::string::npos);
  CHECK(none.find("linear-gradient") == std::string::npos);
}

TEST_CASE("html: argument checks", "[io][html][error]") {
  const Eigen::RowVectorXd w = Eigen::RowVectorXd::Constant(3, 1.0 / 3);
  CHECK(message_of([&] { (void)attn::io::highlight_html({"a", "b"}, w); }) ==
        "attn::io::highlight_html: weights.cols() (3) must equal tokens.size() (2)");
  attn::io::HighlightOptions options;
  options.row_labels = {"x", "y"};
  CHECK(message_of([&] { (void)attn::io::highlight_html({"a", "b", "c"}, w, options); }) ==
        "attn::io::highlight_html: options.row_labels.size() (2) must equal weights.rows() (1)");
  options = {};
  options.color = "orange";
  CHECK(message_of([&] { (void)attn::io::highlight_html({"a", "b", "c"}, w, options); }) ==
        "attn::io::highlight_html: colour 'orange' must be '#rrggbb' or '#rgb'");
  options = {};
  options.decimals = -1;
  CHECK(message_of([&] { (void)attn::io::highlight_html({"a", "b", "c"}, w, options); }) ==
        "attn::io::highlight_html: options.decimals (-1) must be in [0, 10]");
  options = {};
  options.vmin = 0.5;
  options.vmax = 0.5;
  CHECK(message_of([&] { (void)attn::io::highlight_html({"a", "b", "c"}, w, options); }) ==
        "attn::io::highlight_html: options.vmin (0.5) must be less than options.vmax (0.5)");
  options.vmax = std::nan("");
  CHECK(message_of([&] { (void)attn::io::highlight_html({"a", "b", "c"}, w, options); }) ==
        "attn::io::highlight_html: options.vmax (NaN) must be finite");
  options = {};
  options.language = "en_US\" onclick=\"x";
  CHECK(message_of([&] { (void)attn::io::highlight_html({"a", "b", "c"}, w, options); }) ==
        "attn::io::highlight_html: options.language (\"en_US\" onclick=\"x\") must be a BCP 47 tag such as \"de\" or "
        "\"zh-Hans\" (subtags of 1 to 8 letters or digits joined by '-', the first letters, at most 35 characters)");
  for (const char* bad : {"-", "de-", "-de", "a--b", "--values", "1", "de-toolongsubtag", "é"}) {
    options.language = bad;
    CHECK_THROWS_AS(attn::io::highlight_html({"a", "b", "c"}, w, options), attn::invalid_argument);
  }
  for (const char* good : {"de", "zh-Hans", "sr-Latn-RS", "es-419", "x"}) {
    options.language = good;
    CHECK_NOTHROW(attn::io::highlight_html({"a", "b", "c"}, w, options));
  }
  CHECK_THROWS_AS(attn::io::highlight_html({"a"}, w), attn::invalid_argument);
}

TEST_CASE("html: the path overload writes atomically and reports I/O failures", "[io][html]") {
  const fs::path dir = fs::temp_directory_path() / ("attn_test_html_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  const Eigen::RowVectorXd w = Eigen::RowVectorXd::Constant(2, 0.5);
  attn::io::write_highlight_html(dir / "a.html", {"x", "y"}, w);
  CHECK(slurp(dir / "a.html") == attn::io::highlight_html({"x", "y"}, w));
  std::ostringstream os;
  attn::io::write_highlight_html(os, {"x", "y"}, w);
  CHECK(os.str() == slurp(dir / "a.html"));
  const fs::path missing = dir / "missing" / "a.html";
  const std::string what = message_of([&] { attn::io::write_highlight_html(missing, {"x", "y"}, w); });
  CHECK_THAT(what, Catch::StartsWith("attn::io::write_highlight_html: cannot write '" + missing.string() + "'"));
  CHECK_THAT(what, Catch::EndsWith("No such file or directory"));
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    (void)entry;
    ++files;
  }
  CHECK(files == 1);
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

TEST_CASE("html: scale min_max makes the smallest weight white, as pandas' background_gradient", "[io][html]") {
  Eigen::RowVectorXd w(3);
  w << 0.2, 0.5, 0.8;
  const std::vector<std::string> tokens{"a", "b", "c"};
  const auto shade = [](const std::string& html, const std::string& token) {
    const std::size_t at = html.find("\" title=\"" + token + ": ");
    REQUIRE(at != std::string::npos);
    const std::size_t start = html.rfind("background-color:", at);
    return html.substr(start + 17, 7);
  };
  const std::string zero = attn::io::highlight_html(tokens, w);  // from_zero: 0.2 is a quarter shade
  CHECK(shade(zero, "a") == "#f9d5c3");
  CHECK(shade(zero, "c") == "#e6550d");
  CHECK(zero.find("weight 0.000 <span") != std::string::npos);
  CHECK(zero.find("(white: weight 0)") != std::string::npos);
  // from_zero with a negative weight: the scale starts at it (white), and the legend says so.
  const Eigen::RowVector3d negative(-0.5, std::numeric_limits<double>::infinity(), 0.2);
  const std::string below = attn::io::highlight_html(tokens, negative);
  CHECK(shade(below, "a") == "#ffffff");
  CHECK(below.find("weight -0.500 <span") != std::string::npos);
  // (+inf takes the top end's colour; the legend says where infinite weights are drawn.)
  CHECK(below.find("</span> 0.200 (white: the smallest weight) \xC2\xB7 \xC2\xB1inf: at the ends of the scale</div>") !=
        std::string::npos);
  CHECK(shade(below, "b") == "#e6550d");
  CHECK(zero.find("inf: at the ends") == std::string::npos);  // finite weights: no such note
  CHECK(zero.find("> NaN") == std::string::npos);
  CHECK(below.find("(white: weight 0)") == std::string::npos);

  attn::io::HighlightOptions options;
  options.scale = attn::io::HighlightScale::min_max;
  const std::string mm = attn::io::highlight_html(tokens, w, options);
  CHECK(shade(mm, "a") == "#ffffff");
  CHECK(shade(mm, "b") == "#f3aa86");  // halfway
  CHECK(shade(mm, "c") == "#e6550d");
  CHECK(mm.find("weight 0.200 <span") != std::string::npos);  // the legend starts at the smallest weight
  CHECK(mm.find("</span> 0.800 (white: the smallest weight)</div>") != std::string::npos);
  // Equal weights (a uniform row) have no range: min_max starts from zero, so that the most
  // attended tokens (all of them) have the full colour, not white on a scale to 2/6.
  const Eigen::RowVector3d uniform = Eigen::RowVector3d::Constant(1.0 / 6.0);
  const std::string flat = attn::io::highlight_html(tokens, uniform, options);
  CHECK(shade(flat, "a") == "#e6550d");
  CHECK(shade(flat, "c") == "#e6550d");
  CHECK(flat.find("weight 0.000 <span") != std::string::npos);
  CHECK(flat.find("</span> 0.167 (white: weight 0)</div>") != std::string::npos);
  // A given vmin wins over the scale, and the legend then shows only the ends.
  options.vmin = 0.0;
  const std::string given = attn::io::highlight_html(tokens, w, options);
  CHECK(shade(given, "a") == "#f9d5c3");
  CHECK(given.find("(white:") == std::string::npos);
}

}  // namespace test_html
