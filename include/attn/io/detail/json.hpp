// SPDX-License-Identifier: MIT
// JSON text that is safe inside an HTML <script> element: strings with `<`, `>`, `&`, U+2028 and
// U+2029 escaped (so "</script>" or "<!--" in a label cannot end the script), malformed UTF-8
// replaced, bidi controls balanced; numbers in the C locale, exact.
#pragma once

#include "text.hpp"

#include <cmath>
#include <string>
#include <string_view>

namespace attn::io::detail {

/// Appends `text` as a JSON string literal (with its quotes) that can sit inside a <script>
/// element: `"` and `\` are escaped, control characters, `<`, `>`, `&`, U+2028 and U+2029 become
/// `\uXXXX`, malformed UTF-8 becomes U+FFFD (as the WHATWG decoder reads it) and bidirectional
/// controls are kept balanced within `text` (BidiBalance). The output is plain ASCII plus valid
/// UTF-8, and JSON.parse gives back the cleaned label.
inline void append_json_string(std::string& out, std::string_view text) {
  const auto hex4 = [&out](char32_t cp) {
    static const char* const digits = "0123456789abcdef";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out.push_back(digits[(cp >> shift) & 0xF]);
  };
  out.push_back('"');
  BidiBalance bidi;
  std::size_t i = 0;
  while (i < text.size()) {
    const char32_t cp = utf8_next(text, i);
    if (BidiBalance::is_control(cp)) {
      if (bidi.feed(cp)) hex4(cp);
      continue;
    }
    if (cp == '"') {
      out += "\\\"";
    } else if (cp == '\\') {
      out += "\\\\";
    } else if (cp < 0x20 || cp == '<' || cp == '>' || cp == '&' || cp == 0x2028 || cp == 0x2029 || cp == 0x7F) {
      hex4(cp);
    } else {
      append_utf8(out, cp);
    }
  }
  for (const char32_t closer : bidi.closers()) hex4(closer);
  out.push_back('"');
}

/// `text` as a JSON string literal; see append_json_string().
inline std::string json_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

/// A double as a JSON number that reads back exactly (17 significant digits, C locale); NaN and
/// ±inf, which JSON cannot hold, become 0 (callers keep non-finite values out of their numbers).
inline std::string json_number(double v) { return std::isfinite(v) ? format_significant(v, 17) : "0"; }

}  // namespace attn::io::detail
