// SPDX-License-Identifier: MIT
// Text helpers shared by the SVG and HTML writers: UTF-8 validation, XML escaping, characters
// (extended grapheme clusters), display width estimates and locale-independent number formatting.
#pragma once

#include "grapheme_breaks.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <ios>
#include <limits>
#include <locale>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace attn::io::detail {

inline constexpr char32_t replacement_character = 0xFFFD;

/// Decodes the code point at `text[i]` and advances `i`. Malformed UTF-8 (a stray
/// continuation byte, a truncated sequence, an overlong form, a surrogate, a value above
/// U+10FFFF) gives U+FFFD and advances by one byte, as the WHATWG decoder does.
inline char32_t utf8_next(std::string_view text, std::size_t& i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) {
    ++i;
    return lead;
  }
  std::size_t length = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    cp = lead & 0x1Fu;
    min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    cp = lead & 0x0Fu;
    min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    cp = lead & 0x07u;
    min = 0x10000;
  } else {
    ++i;
    return replacement_character;
  }
  if (i + length > text.size()) {
    ++i;
    return replacement_character;
  }
  for (std::size_t k = 1; k < length; ++k) {
    const unsigned char c = byte(i + k);
    if ((c & 0xC0u) != 0x80u) {
      ++i;
      return replacement_character;
    }
    cp = (cp << 6) | (c & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return replacement_character;
  }
  i += length;
  return cp;
}

inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

/// Appends the UTF-8 bytes `text` to `out`, each malformed byte as U+FFFD (utf8_next), the rest
/// as they are.
inline void append_valid_utf8(std::string& out, std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t at = i;
    const char32_t cp = utf8_next(text, i);
    if (cp == replacement_character) {
      append_utf8(out, cp);
    } else {
      out.append(text.substr(at, i - at));
    }
  }
}

/// Keeps the bidirectional controls of one label balanced: feed() every code point in order; it
/// says whether to keep the code point (an unmatched closer, U+202C PDF or U+2069 PDI, is
/// dropped), and close() appends the closers of every embedding, override (U+202A, U+202B,
/// U+202D, U+202E) or isolate (U+2066..U+2068) left open, so one label cannot reorder the text
/// around it.
class BidiBalance {
 public:
  /// Whether `cp` is a bidi control (then feed() decides on it).
  static bool is_control(char32_t cp) { return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069); }
  /// Records the bidi control `cp`; false when it closes nothing and must be dropped.
  bool feed(char32_t cp) {
    if (cp == 0x202C) {  // PDF closes the latest embedding, unless an isolate is open above it
      if (open_.empty() || open_.back() != 'e') return false;
      open_.pop_back();
    } else if (cp == 0x2069) {  // PDI closes the latest isolate and what was opened inside it
      const std::size_t at = open_.rfind('i');
      if (at == std::string::npos) return false;
      open_.erase(at);
    } else {
      open_.push_back(cp >= 0x2066 ? 'i' : 'e');
    }
    return true;
  }
  /// The closers of what is still open, innermost first.
  std::vector<char32_t> closers() const {
    std::vector<char32_t> out;
    for (auto k = open_.rbegin(); k != open_.rend(); ++k) out.push_back(*k == 'i' ? 0x2069 : 0x202C);
    return out;
  }

 private:
  std::string open_;  // the bidi controls opened so far: 'e' embedding/override, 'i' isolate
};

/// Appends `text` escaped for XML character data and attribute values (both quote kinds):
/// `& < > " '` become entities; tab, CR and LF become a space (labels are one line); other
/// control characters, U+FFFE/U+FFFF and malformed UTF-8 become U+FFFD, so the result is
/// always well-formed XML 1.0 in valid UTF-8. Bidirectional controls are kept balanced within
/// `text` (BidiBalance), so one label cannot reorder the text around it.
inline void append_xml_escaped(std::string& out, std::string_view text) {
  BidiBalance bidi;
  std::size_t i = 0;
  while (i < text.size()) {
    const char32_t cp = utf8_next(text, i);
    if (BidiBalance::is_control(cp)) {
      if (bidi.feed(cp)) append_utf8(out, cp);
      continue;
    }
    switch (cp) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\t':
      case '\n':
      case '\r': out.push_back(' '); break;
      default:
        if (cp < 0x20 || cp == 0xFFFE || cp == 0xFFFF) {
          append_utf8(out, replacement_character);
        } else {
          append_utf8(out, cp);
        }
    }
  }
  for (const char32_t closer : bidi.closers()) append_utf8(out, closer);
}

inline std::string xml_escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_xml_escaped(out, text);
  return out;
}

/// Whether `cp` is a letter of a right-to-left script: the Hebrew, Arabic, Syriac, Thaana, NKo,
/// Samaritan and Mandaic blocks (U+0590..U+08FF), their presentation forms (U+FB1D..U+FDFF,
/// U+FE70..U+FEFF) and the right-to-left planes' ranges (U+10800..U+10FFF, U+1E800..U+1EFFF),
/// or the right-to-left mark U+200F. (The blocks also hold digits, marks and signs of weaker bidi
/// classes; a label made of those alone is isolated too, which changes nothing it shows.)
inline bool right_to_left_code_point(char32_t cp) {
  return (cp >= 0x0590 && cp <= 0x08FF) || (cp >= 0xFB1D && cp <= 0xFDFF) || (cp >= 0xFE70 && cp <= 0xFEFF) ||
         (cp >= 0x10800 && cp <= 0x10FFF) || (cp >= 0x1E800 && cp <= 0x1EFFF) || cp == 0x200F;
}

/// Whether `text` holds right-to-left text (right_to_left_code_point), so that a writer lays it
/// out as a paragraph of its own (append_label).
inline bool right_to_left(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (right_to_left_code_point(utf8_next(text, i))) return true;
  }
  return false;
}

/// Appends a label as append_xml_escaped does; a label holding right-to-left text goes inside a
/// first-strong isolate (U+2068 … U+2069), as HTML's `dir="auto"` would lay it out. So a Hebrew
/// or Arabic label cut to its first letters ("…" last in reading order) shows its ellipsis at
/// its left end, where the reader stops, and in "label → token: 0.25" a right-to-left label or
/// token cannot carry the number after it to its other side (without the isolate, the digits
/// after an Arabic word join it as Arabic numbers). Other labels are written unchanged.
inline void append_label(std::string& out, std::string_view label) {
  const bool isolate = right_to_left(label);
  if (isolate) out += "\xE2\x81\xA8";  // U+2068 first strong isolate
  append_xml_escaped(out, label);
  if (isolate) out += "\xE2\x81\xA9";  // U+2069 pop directional isolate
}

/// Unicode's extended grapheme clusters (UAX #29, rules GB3 to GB999), one code point at a time:
/// `boundary(cp)` says whether a cluster starts at `cp`, given the code points before it. The
/// properties are those of grapheme_breaks.hpp (ICU's, Unicode 17); the state is what the rules
/// look back for: the class of the code point before, whether an emoji sequence (pictograph,
/// Extend*, ZWJ) waits for a pictograph (GB11), whether the regional indicators before come in
/// an odd number (GB12, GB13), and how far a conjunct (consonant, [extend or linker]*, linker,
/// [extend or linker]*) has come (GB9c).
class GraphemeBreaker {
 public:
  bool boundary(char32_t cp) {
    const std::uint8_t p = grapheme_property(cp);
    const auto cls = static_cast<GraphemeBreak>(p & 15);
    const auto conjunct = static_cast<ConjunctBreak>((p >> 4) & 3);
    const bool pictograph = (p & 64) != 0;
    const bool cut = first_ || cut_before(cls, conjunct, pictograph);
    // The state after cp.
    emoji_ = pictograph ? Emoji::pictograph
             : cls == GraphemeBreak::extend && emoji_ == Emoji::pictograph ? Emoji::pictograph
             : cls == GraphemeBreak::zwj && emoji_ == Emoji::pictograph  ? Emoji::joined
                                                                          : Emoji::none;
    odd_indicators_ = cls == GraphemeBreak::regional_indicator && !(odd_indicators_ && !cut);
    if (conjunct == ConjunctBreak::consonant) {
      conjunct_ = Conjunct::consonant;
    } else if (conjunct == ConjunctBreak::linker && conjunct_ != Conjunct::none) {
      conjunct_ = Conjunct::linked;
    } else if (conjunct != ConjunctBreak::extend) {
      conjunct_ = Conjunct::none;
    }
    before_ = cls;
    first_ = false;
    return cut;
  }

 private:
  enum class Emoji : std::uint8_t { none, pictograph, joined };
  enum class Conjunct : std::uint8_t { none, consonant, linked };

  bool cut_before(GraphemeBreak cls, ConjunctBreak conjunct, bool pictograph) const {
    using G = GraphemeBreak;
    const G b = before_;
    if (b == G::cr && cls == G::lf) return false;                                             // GB3
    if (b == G::cr || b == G::lf || b == G::control) return true;                             // GB4
    if (cls == G::cr || cls == G::lf || cls == G::control) return true;                       // GB5
    if (b == G::l && (cls == G::l || cls == G::v || cls == G::lv || cls == G::lvt)) return false;  // GB6
    if ((b == G::lv || b == G::v) && (cls == G::v || cls == G::t)) return false;              // GB7
    if ((b == G::lvt || b == G::t) && cls == G::t) return false;                              // GB8
    if (cls == G::extend || cls == G::zwj || cls == G::spacing_mark) return false;            // GB9, GB9a
    if (b == G::prepend) return false;                                                        // GB9b
    if (conjunct == ConjunctBreak::consonant && conjunct_ == Conjunct::linked) return false;  // GB9c
    if (pictograph && b == G::zwj && emoji_ == Emoji::joined) return false;                   // GB11
    if (cls == G::regional_indicator && b == G::regional_indicator && odd_indicators_) return false;  // GB12, GB13
    return true;                                                                              // GB999
  }

  GraphemeBreak before_ = GraphemeBreak::other;
  Emoji emoji_ = Emoji::none;
  Conjunct conjunct_ = Conjunct::none;
  bool odd_indicators_ = false;
  bool first_ = true;
};

/// Width of a code point in "character cells": 0 for combining marks and invisible controls
/// (zero-width, bidi), 2 for East Asian wide and emoji (regional indicators too: a flag is a
/// pair), 1 otherwise (a rough wcwidth, enough to size label margins).
inline int code_point_width(char32_t cp) {
  if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
      (cp >= 0x2060 && cp <= 0x206F) || (cp >= 0xFE00 && cp <= 0xFE0F)) {
    return 0;  // combining marks, zero-width and bidi controls, variation selectors
  }
  if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
      (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
      (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F1E6 && cp <= 0x1F1FF) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
      (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD)) {
    return 2;
  }
  return 1;
}

/// Calls `f(start, end, width)` for each character (extended grapheme cluster, GraphemeBreaker)
/// of `text`: its bytes [start, end) and its width in character cells, the widest of its code
/// points (é written as e + U+0301 is 1, 👨‍👩‍👧 2, a flag 2).
template <typename F>
void for_each_character(std::string_view text, F&& f) {
  GraphemeBreaker breaker;
  std::size_t start = 0;
  int width = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t at = i;
    const char32_t cp = utf8_next(text, i);
    if (breaker.boundary(cp) && at > 0) {
      f(start, at, width);
      start = at;
      width = 0;
    }
    width = std::max(width, code_point_width(cp));
  }
  if (!text.empty()) f(start, text.size(), width);
}

/// Display width of `text` in character cells (for_each_character).
inline std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for_each_character(text, [&](std::size_t, std::size_t, int w) { width += static_cast<std::size_t>(w); });
  return width;
}

/// `text` cut to at most `max_width` character cells, ending in "…" when cut: whole characters
/// only (extended grapheme clusters: never a base without its marks, half a flag or part of a
/// joined emoji, never a broken UTF-8 sequence; malformed bytes become U+FFFD). `max_width` 0
/// means no limit.
inline std::string truncated(std::string_view text, std::size_t max_width) {
  if (max_width == 0 || display_width(text) <= max_width) return std::string(text);
  std::string out;
  std::size_t width = 0;
  bool full = false;
  for_each_character(text, [&](std::size_t start, std::size_t end, int w) {
    if (full || width + static_cast<std::size_t>(w) + 1 > max_width) {
      full = true;
      return;
    }
    width += static_cast<std::size_t>(w);
    append_valid_utf8(out, text.substr(start, end - start));
  });
  out += "\xE2\x80\xA6";  // …
  return out;
}

/// `value` with at most `decimals` decimals, trailing zeros removed ("12", "3.5", "-0.25"),
/// independent of any locale; for SVG coordinates and sizes (|value| < 1e12).
inline std::string format_coordinate(double value, int decimals = 2) {
  if (!std::isfinite(value)) return "0";
  long long scale = 1;
  for (int k = 0; k < decimals; ++k) scale *= 10;
  const long long scaled = std::llround(value * static_cast<double>(scale));
  const bool negative = scaled < 0;
  const unsigned long long magnitude =
      negative ? static_cast<unsigned long long>(-(scaled + 1)) + 1ull : static_cast<unsigned long long>(scaled);
  const auto uscale = static_cast<unsigned long long>(scale);
  std::string text = (negative ? "-" : "") + std::to_string(magnitude / uscale);
  unsigned long long fraction = magnitude % uscale;
  if (fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, static_cast<std::size_t>(decimals) - digits.size(), '0');
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    text += "." + digits;
  }
  return text == "-0" ? "0" : text;
}

/// `value` in the C locale: fixed with `decimals` decimals when `decimals >= 0`, else the
/// shortest of %g with 6 significant digits; "NaN", "inf", "-inf" for non-finite values.
inline std::string format_number(double value, int decimals) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os.imbue(std::locale::classic());
  if (decimals >= 0) {
    os.setf(std::ios_base::fixed, std::ios_base::floatfield);
    os.precision(decimals);
  } else {
    os.precision(6);
  }
  os << value;
  std::string text = os.str();
  if (decimals >= 0 && text[0] == '-') {  // "-0.00" reads as zero
    bool zero = true;
    for (const char c : text) zero = zero && (c == '-' || c == '0' || c == '.');
    if (zero) text.erase(0, 1);
  }
  return text;
}

/// `value` with `digits` significant digits in the shortest form of printf's "%g", C locale
/// ("0.25", "5e-324", "1.5e+308"); zero (either sign) is "0".
inline std::string format_significant(double value, int digits) {
  if (value == 0) return "0";
  std::ostringstream os;
  os.imbue(std::locale::classic());
  os.precision(digits);
  os << value;
  return os.str();
}

/// Whether `text` reads back (in the classic locale, whatever the program's) as a finite number
/// within `tolerance` of `value`.
inline bool reads_back(const std::string& text, double value, double tolerance) {
  std::istringstream in(text);
  in.imbue(std::locale::classic());
  double back = 0;
  in >> back;
  return !in.fail() && std::isfinite(back) && std::abs(back - value) <= tolerance;
}

/// Labels of the increasing finite values `ticks` (a colour bar, the ends of a legend) that
/// tell neighbours apart: fixed with `decimals` decimals when `decimals >= 0`, every |tick| is
/// below 1e9 and that is enough; otherwise the fewest significant digits (1 to 17,
/// format_significant) with which no two neighbours read the same and each label reads back
/// within a millionth of the smallest gap between ticks (so 1.5e308 is never shown as
/// "2e+308", and 5e-324 next to 0 is "5e-324", not "0").
inline std::vector<std::string> tick_labels(const std::vector<double>& ticks, int decimals) {
  std::vector<std::string> labels(ticks.size());
  const auto distinct = [&labels] {
    for (std::size_t k = 1; k < labels.size(); ++k)
      if (labels[k] == labels[k - 1]) return false;
    return true;
  };
  bool short_fixed = decimals >= 0;
  for (const double t : ticks) short_fixed = short_fixed && std::abs(t) < 1e9;
  if (short_fixed) {
    for (std::size_t k = 0; k < ticks.size(); ++k) labels[k] = format_number(ticks[k], decimals);
    if (distinct()) return labels;
  }
  double gap = std::numeric_limits<double>::infinity();
  for (std::size_t k = 1; k < ticks.size(); ++k) {
    const double g = ticks[k] - ticks[k - 1];
    gap = std::min(gap, std::isfinite(g) ? g : std::numeric_limits<double>::max());  // -1e308 to 1e308
  }
  const double tolerance = std::isfinite(gap) ? gap * 1e-6 : 0.0;
  for (int digits = 1; digits <= 17; ++digits) {
    bool close = true;
    for (std::size_t k = 0; k < ticks.size(); ++k) {
      labels[k] = format_significant(ticks[k], digits);
      close = close && reads_back(labels[k], ticks[k], tolerance);
    }
    if (close && distinct()) break;
  }
  return labels;
}

}  // namespace attn::io::detail
