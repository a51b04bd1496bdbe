// SPDX-License-Identifier: MIT
// For the fuzzers: checks in-process that an SVG or HTML document attn wrote is well-formed
// and that no label or value escaped into markup. Valid UTF-8 with no control characters but
// tab/LF/CR; tags balanced and nested; attributes quoted, unique, and from the short list attn
// writes (a label that broke out of a quoted attribute would add one); '&' only as one of the
// five entities attn writes or a numeric reference; no raw '<' or '>' in text; and elements that
// hold label text (text, title, desc, h1, span, sub, li) contain no elements but the ones attn
// puts there, so a label spelling "<rect/>" would be caught even though it is well-formed. A
// <script> element (the animation page's) is raw text up to its end tag and holds no "</".
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace attn_fuzz {

/// Empty when `doc` passes; otherwise what is wrong and where.
inline std::string markup_problem(std::string_view doc) {
  const auto at = [](std::size_t i) { return " at byte " + std::to_string(i); };
  // UTF-8: strict (no overlongs, surrogates or code points above U+10FFFF).
  for (std::size_t i = 0; i < doc.size();) {
    const auto c = static_cast<unsigned char>(doc[i]);
    std::size_t n = 0;
    unsigned cp = 0;
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return "control character" + at(i);
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return "invalid UTF-8 lead byte" + at(i);
    }
    if (i + n >= doc.size()) return "truncated UTF-8 sequence" + at(i);
    for (std::size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(doc[i + k]);
      if ((d & 0xC0u) != 0x80u) return "invalid UTF-8 continuation" + at(i + k);
      cp = (cp << 6) | (d & 0x3Fu);
    }
    const unsigned min = n == 1 ? 0x80u : n == 2 ? 0x800u : 0x10000u;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return "invalid code point" + at(i);
    if (cp == 0xFFFE || cp == 0xFFFF) return "non-character" + at(i);
    i += n + 1;
  }

  static const std::vector<std::string_view> attributes = {
      "xmlns", "xmlns:xlink", "version", "width", "height", "viewBox", "font-family", "font-size", "font-weight",
      "class", "x", "y", "dy", "x1", "y1", "x2", "y2", "text-anchor", "transform", "fill", "stroke", "stroke-width",
      "d", "id", "offset", "stop-color", "shape-rendering", "pointer-events", "preserveAspectRatio",
      "image-rendering", "style", "xlink:href", "lang", "charset", "title", "data-weight", "patternUnits",
      "patternTransform",
      "dir",  // dir="auto" of a highlighted line and of its query label (io/html.hpp)
      // the animation page (io/animation.hpp): its meta, slider, button and hidden lists
      "name", "content", "type", "min", "max", "step", "value", "aria-label", "hidden"};
  // Element -> the child elements it may hold. Elements not listed hold anything.
  const auto allowed_children = [](std::string_view parent, std::string_view child) {
    if (parent == "text") return child == "title";
    if (parent == "span") return child == "sub" || child == "span";  // a token's weight, a query label
    if (parent == "title" || parent == "desc" || parent == "h1" || parent == "sub" || parent == "style" ||
        parent == "li") {
      return false;
    }
    return true;
  };
  const auto name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == ':' ||
           c == '_';
  };
  const auto entity_ok = [&](std::size_t i, std::size_t& length) {  // doc[i] == '&'
    for (const std::string_view e : {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"}) {
      if (doc.substr(i, e.size()) == e) {
        length = e.size();
        return true;
      }
    }
    return false;
  };

  std::vector<std::string_view> open;
  std::size_t i = 0;
  bool root_seen = false;
  while (i < doc.size()) {
    const char c = doc[i];
    if (c == '&') {
      std::size_t length = 0;
      if (!entity_ok(i, length)) return "bare '&'" + at(i);
      i += length;
      continue;
    }
    if (c == '>') return "raw '>' in text" + at(i);
    if (c != '<') {
      if (open.empty() && c != ' ' && c != '\n' && c != '\t' && c != '\r') return "text outside the root element" + at(i);
      ++i;
      continue;
    }
    // Markup.
    if (doc.substr(i, 5) == "<?xml") {
      if (i != 0) return "XML declaration not at the start" + at(i);
      const std::size_t end = doc.find("?>", i);
      if (end == std::string_view::npos) return "unterminated XML declaration";
      i = end + 2;
      continue;
    }
    if (doc.substr(i, 9) == "<!DOCTYPE") {
      if (root_seen) return "DOCTYPE after the root element" + at(i);
      const std::size_t end = doc.find('>', i);
      if (end == std::string_view::npos) return "unterminated DOCTYPE";
      i = end + 1;
      continue;
    }
    if (doc.substr(i, 2) == "</") {
      std::size_t k = i + 2;
      while (k < doc.size() && name_char(doc[k])) ++k;
      const std::string_view name = doc.substr(i + 2, k - i - 2);
      if (k >= doc.size() || doc[k] != '>') return "malformed end tag" + at(i);
      if (open.empty() || open.back() != name) return "end tag </" + std::string(name) + "> does not match" + at(i);
      open.pop_back();
      i = k + 1;
      continue;
    }
    std::size_t k = i + 1;
    while (k < doc.size() && name_char(doc[k])) ++k;
    const std::string_view name = doc.substr(i + 1, k - i - 1);
    if (name.empty()) return "raw '<' in text" + at(i);
    if (root_seen && open.empty()) return "a second root element" + at(i);
    if (!open.empty() && !allowed_children(open.back(), name)) {
      return "<" + std::string(name) + "> inside <" + std::string(open.back()) + ">" + at(i);
    }
    root_seen = true;
    std::vector<std::string_view> seen;
    for (;;) {
      const std::size_t space = k;
      while (k < doc.size() && (doc[k] == ' ' || doc[k] == '\n' || doc[k] == '\t')) ++k;
      if (k >= doc.size()) return "unterminated tag" + at(i);
      if (doc[k] == '>') {
        open.push_back(name);
        i = k + 1;
        if (name == "script") {  // raw text: nothing in it may end it early or open markup
          const std::size_t end = doc.find("</", i);
          if (end == std::string_view::npos || doc.substr(end, 9) != "</script>") return "<script> not closed by </script>" + at(i);
          i = end;
        }
        break;
      }
      if (doc.substr(k, 2) == "/>") {
        i = k + 2;
        break;
      }
      if (k == space) return "no space before an attribute" + at(k);
      const std::size_t name_start = k;
      while (k < doc.size() && name_char(doc[k])) ++k;
      const std::string_view attribute = doc.substr(name_start, k - name_start);
      if (attribute.empty()) return "malformed attribute" + at(k);
      if (std::find(attributes.begin(), attributes.end(), attribute) == attributes.end()) {
        return "unexpected attribute '" + std::string(attribute) + "'" + at(name_start);
      }
      if (std::find(seen.begin(), seen.end(), attribute) != seen.end()) {
        return "duplicate attribute '" + std::string(attribute) + "'" + at(name_start);
      }
      seen.push_back(attribute);
      if (doc.substr(k, 2) != "=\"") return "attribute without a quoted value" + at(k);
      k += 2;
      while (k < doc.size() && doc[k] != '"') {
        if (doc[k] == '<') return "raw '<' in an attribute value" + at(k);
        if (doc[k] == '&') {
          std::size_t length = 0;
          if (!entity_ok(k, length)) return "bare '&' in an attribute value" + at(k);
          k += length;
        } else {
          ++k;
        }
      }
      if (k >= doc.size()) return "unterminated attribute value" + at(name_start);
      ++k;
    }
  }
  if (!open.empty()) return "<" + std::string(open.back()) + "> is not closed";
  if (!root_seen) return "no root element";
  return {};
}

}  // namespace attn_fuzz
