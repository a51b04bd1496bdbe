// SPDX-License-Identifier: MIT
// Bidirectional-text isolation of labels in the HTML and SVG exporters: a token holding an
// unterminated right-to-left override (U+202E) must not reverse the tokens after it.
#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)
#include "attn/io/detail/text.hpp"
#include "attn/io/html.hpp"
#include "attn/io/svg.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cstddef>
#include <string>
#include <vector>

namespace test_bidi {

using attn_test::count;

const std::string RLO = "\xE2\x80\xAE";  // U+202E right-to-left override
const std::string PDF = "\xE2\x80\xAC";  // U+202C pop directional formatting
const std::string LRE = "\xE2\x80\xAA";  // U+202A left-to-right embedding
const std::string RLI = "\xE2\x81\xA7";  // U+2067 right-to-left isolate
const std::string PDI = "\xE2\x81\xA9";  // U+2069 pop directional isolate
const std::string FSI = "\xE2\x81\xA8";  // U+2068 first strong isolate
const std::string ELLIPSIS = "\xE2\x80\xA6";
const std::string SHALOM = "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D";  // Hebrew, 4 letters (U+05E9 U+05DC U+05D5 U+05DD)
const std::string KITAB = "\xD9\x83\xD8\xAA\xD8\xA7\xD8\xA8";   // Arabic, 4 letters (U+0643 U+062A U+0627 U+0628)


TEST_CASE("bidi: labels are escaped with their directional controls balanced", "[io][bidi][text]") {
  using attn::io::detail::xml_escaped;
  CHECK(xml_escaped(RLO + "Alice") == RLO + "Alice" + PDF);           // an open override is closed
  CHECK(xml_escaped(RLI + "x") == RLI + "x" + PDI);                   // an open isolate is closed
  CHECK(xml_escaped("a" + PDF + PDI + "b") == "ab");                  // stray closers are dropped
  CHECK(xml_escaped(RLO + "x" + PDF) == RLO + "x" + PDF);             // balanced text is unchanged
  CHECK(xml_escaped(RLI + LRE + "x" + PDI) == RLI + LRE + "x" + PDI);  // PDI closes the inner LRE too
  CHECK(xml_escaped(LRE + RLI + "x") == LRE + RLI + "x" + PDI + PDF);  // closed innermost first
  CHECK(xml_escaped(RLI + "x" + PDF) == RLI + "x" + PDI);             // PDF cannot close an isolate
}

TEST_CASE("bidi: 'Transfer to Alice not Bob' stays in order in HTML", "[io][bidi][html]") {
  const std::vector<std::string> tokens{"Transfer", "to", RLO + "Alice", "not", "Bob"};
  Eigen::MatrixXd w(1, 5);
  w << 0.1, 0.1, 0.5, 0.1, 0.2;
  attn::io::HighlightOptions options;
  options.row_labels = {RLO + "query"};
  const std::string html = attn::io::highlight_html(tokens, w, options);
  // The override ends inside Alice's own span (text and tooltip), so "not" and "Bob" keep their order.
  CHECK(html.find(">" + RLO + "Alice" + PDF + "</span>") != std::string::npos);
  CHECK(html.find("title=\"" + RLO + "query" + PDF + " \xE2\x86\x92 " + RLO + "Alice" + PDF + ": ") !=
        std::string::npos);
  CHECK(count(html, RLO) == count(html, PDF));
  // The query label is isolated from the line; the tokens are not (the line lays out as the text
  // it is: an Arabic word highlighted letter by letter stays joined), their controls closed inside.
  CHECK(count(html, "class=\"attn-token\"") == 5);
  CHECK(count(html, "unicode-bidi:isolate") == 1);
}

TEST_CASE("bidi: SVG labels and titles are balanced", "[io][bidi][svg]") {
  Eigen::MatrixXd m(2, 2);
  m << 0.5, 0.5, 0.25, 0.75;
  attn::io::HeatmapOptions options;
  options.row_labels = {RLO + "Alice", "Bob"};
  options.col_labels = {"x" + PDI, RLI + "y"};
  options.title = "Transfer " + RLO;
  const std::string svg = attn::io::heatmap_svg(m, options);
  CHECK(svg.find(RLO + "Alice" + PDF + "<") != std::string::npos);
  CHECK(svg.find("Transfer " + RLO + PDF) != std::string::npos);
  CHECK(count(svg, RLO) == count(svg, PDF));
  CHECK(count(svg, RLI) == count(svg, PDI));
  CHECK(svg.find("x" + PDI) == std::string::npos);
}

// Right-to-left labels are laid out as paragraphs of their own: inside a first-strong isolate
// (FSI … PDI, as HTML's dir="auto"), so a cut label's "…" (last in reading order) shows at its left
// end and the number after a label in a tooltip stays where it is. Latin labels are unchanged.
TEST_CASE("bidi: right-to-left labels go in a first-strong isolate", "[io][bidi][text]") {
  using attn::io::detail::append_label;
  using attn::io::detail::right_to_left;
  CHECK(right_to_left(SHALOM));
  CHECK(right_to_left("x " + KITAB));
  CHECK(right_to_left("a\xE2\x80\x8F"));  // U+200F right-to-left mark
  CHECK_FALSE(right_to_left("Alice"));
  CHECK_FALSE(right_to_left(RLO + "Alice"));  // an override reorders, but holds no right-to-left letter
  CHECK_FALSE(right_to_left("\xC3\xA9t\xC3\xA9 \xE6\x97\xA5"));  // été 日
  std::string out;
  append_label(out, SHALOM + " <b>");
  CHECK(out == FSI + SHALOM + " &lt;b&gt;" + PDI);
  out.clear();
  append_label(out, RLI + KITAB);  // the label's own isolate is closed inside ours
  CHECK(out == FSI + RLI + KITAB + PDI + PDI);
  out.clear();
  append_label(out, "Alice & Bob");
  CHECK(out == "Alice &amp; Bob");
  // Bidi controls take no room in the width that sizes label margins.
  CHECK(attn::io::detail::display_width(FSI + "ab" + PDI + RLO + "c" + PDF) == 3);
}

TEST_CASE("bidi: a cut Hebrew label in SVG keeps its ellipsis inside its isolate", "[io][bidi][svg]") {
  Eigen::MatrixXd m(2, 2);
  m << 0.5, 0.5, 0.25, 0.75;
  attn::io::HeatmapOptions options;
  std::string long_hebrew;
  for (int k = 0; k < 3; ++k) long_hebrew += SHALOM;  // 12 letters
  options.row_labels = {long_hebrew, "abcdefghijkl"};
  options.col_labels = {KITAB, "x"};
  options.max_label_length = 6;  // 5 letters and the ellipsis
  const std::string svg = attn::io::heatmap_svg(m, options);
  // Shown: the first 5 letters (the 4 of shalom and its first again), "…", all in the isolate.
  CHECK(svg.find(">" + FSI + SHALOM + "\xD7\xA9" + ELLIPSIS + PDI + "<title>" + long_hebrew + "</title>") !=
        std::string::npos);
  CHECK(svg.find(">abcde" + ELLIPSIS + "<title>abcdefghijkl</title>") != std::string::npos);  // unchanged
  CHECK(svg.find(">" + FSI + KITAB + PDI + "</text>") != std::string::npos);                   // whole, isolated
  // A cell's tooltip isolates the right-to-left labels on either side of the arrow.
  CHECK(svg.find("<title>" + FSI + long_hebrew + PDI + " \xE2\x86\x92 " + FSI + KITAB + PDI + ": 0.5</title>") !=
        std::string::npos);
  CHECK(svg.find("<title>abcdefghijkl \xE2\x86\x92 x: 0.75</title>") != std::string::npos);
}

TEST_CASE("bidi: highlighted lines take the direction of their tokens", "[io][bidi][html]") {
  Eigen::MatrixXd w(1, 2);
  w << 0.25, 0.75;
  attn::io::HighlightOptions options;
  options.row_labels = {"query"};
  const std::string html = attn::io::highlight_html({SHALOM, "x"}, w, options);
  // The line's direction comes from its tokens (dir="auto"); the label, in its own dir="auto", is left out of
  // that choice and aligned towards the tokens whichever side they are on.
  CHECK(count(html, "<div class=\"attn-line\" dir=\"auto\" ") == 1);
  CHECK(html.find("text-align:end;unicode-bidi:isolate;text-indent:0\"><span dir=\"auto\">query</span></span>") !=
        std::string::npos);
  CHECK(html.find("text-align:right") == std::string::npos);
  CHECK(html.find("margin-right") == std::string::npos);
  // Tooltips: "query → <isolated Hebrew token>: 0.250", so 0.250 stays after the token.
  CHECK(html.find("title=\"query \xE2\x86\x92 " + FSI + SHALOM + PDI + ": 0.250\"") != std::string::npos);
  CHECK(html.find("title=\"query \xE2\x86\x92 x: 0.750\"") != std::string::npos);
}

}  // namespace test_bidi
