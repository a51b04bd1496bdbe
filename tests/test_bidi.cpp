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
  // Every token and the query label are isolated from their neighbours.
  CHECK(count(html, "class=\"attn-token\"") == 5);
  CHECK(count(html, "unicode-bidi:isolate") == 6);
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

}  // namespace test_bidi
