// SPDX-License-Identifier: MIT
// HTML text highlighting: tokens (words, sub-words or characters) shaded by their attention
// weight, the weight in each token's tooltip; a weights row vector `1×n` gives one line, a
// matrix `Tq×n` one line per query. The output is polyglot HTML5/XHTML (parses as XML too).
#pragma once

#include "../config.hpp"
#include "../mask.hpp"
#include "colormap.hpp"
#include "detail/text.hpp"
#include "detail/write_file.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <limits>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace attn::io {

/// Where the shading of highlighted text starts when HighlightOptions::vmin is not given.
enum class HighlightScale {
  from_zero,  ///< white is weight 0 (or the smallest weight when it is negative): shades compare across pages
  min_max     ///< white is the smallest weight of the page, like pandas' `Styler.background_gradient`
};

/// How highlighted text looks.
struct HighlightOptions {
  std::string title;                    ///< page title and heading; empty: "attention weights" (no heading)
  std::string color = "#e6550d";        ///< shade of the highest weight ("#rrggbb"); weight 0 is white
  /// Shading scale. Unset: vmin = min(0, smallest weight) with HighlightScale::from_zero
  /// (default), the smallest weight with HighlightScale::min_max; vmax = the largest weight (so
  /// the most attended token of the page has the full colour). Weights outside are clamped. When
  /// the ends meet or cross (min_max over equal weights starts from zero first: a uniform row is
  /// full colour, not white), the end not given moves away: vmax = vmin + |vmin| (vmin + 1 for
  /// 0), or with only vmax given vmin = vmax - |vmax|, capped at the largest double.
  std::optional<double> vmin;
  /// Shading scale's upper end; unset: the largest finite weight (see vmin).
  std::optional<double> vmax;
  /// Where white is when vmin is unset: weight 0 (from_zero, default) or the smallest weight
  /// (min_max); the legend says which.
  HighlightScale scale = HighlightScale::from_zero;
  std::string separator = " ";          ///< text between tokens: " " for words, "" for characters
  std::vector<std::string> row_labels;  ///< one label per line (the query token), or empty
  bool show_weights = false;            ///< also print each weight under its token
  int decimals = 3;                     ///< decimals of the weights in tooltips and print, 0..10
  bool legend = true;                   ///< a colour scale with its two ends under the text
  bool fragment = false;                ///< only the `<div>` (inline styles), to embed in a page
  /// Which tokens the weights' call hid from each line's query: its mask (causal, a key length,
  /// a Tq×Tk matrix...). Hidden tokens are drawn hatched in grey (not in a shade of the scale,
  /// which they do not set), their tooltip says "masked", and the legend names them, as the
  /// viewer's text view does: a causal model's future tokens, of weight 0, then do not read as
  /// tokens it looked at and gave nothing. Default: nothing hidden.
  Mask mask;
  /// The query (row of the Tq×Tk map) of the first line, for `mask`: line l is query
  /// `mask_first_row + l`. Highlighting row i of a map alone: i. Default 0.
  Index mask_first_row = 0;
  /// The language of the tokens (and query labels) as a BCP 47 tag, e.g. "de", "he", "zh-Hans":
  /// the `lang` of the lines, so that a screen reader speaks them in it and the browser picks
  /// its fonts. Empty (default): `lang=""`, unknown, rather than the page's own English (the
  /// legend and title are in the page's `lang="en"`). Letters, digits and '-' only.
  std::string language;
  /// Lay each token out on its own, as the items of a list rather than the words of a sentence:
  /// its text in its own direction (CSS unicode-bidi: plaintext), the token with its printed
  /// weight one unit in the line's order. For titles of films, products or documents that mix
  /// Hebrew or Arabic with Latin: without it, consecutive right-to-left titles run right to left
  /// as one phrase and a weight can land inside a title. Off (default) for text: a Hebrew phrase
  /// in an English sentence then reads right to left, and Arabic highlighted character by
  /// character keeps its letters joined.
  bool isolate_tokens = false;
};

namespace detail {

/// The pieces of UTF-8 `text`: each code point its own piece, or with `join` its extended
/// grapheme clusters (for_each_character). Malformed bytes become U+FFFD.
inline std::vector<std::string> utf8_pieces(std::string_view text, bool join) {
  std::vector<std::string> pieces;
  const auto piece = [&](std::size_t start, std::size_t end) {
    pieces.emplace_back();
    append_valid_utf8(pieces.back(), text.substr(start, end - start));
  };
  if (join) {
    for_each_character(text, [&](std::size_t start, std::size_t end, int) { piece(start, end); });
  } else {
    for (std::size_t i = 0; i < text.size();) {
      const std::size_t start = i;
      utf8_next(text, i);
      piece(start, i);
    }
  }
  return pieces;
}

}  // namespace detail

/// The characters of UTF-8 `text`, one string each, to highlight text character by character
/// (with HighlightOptions::separator ""). A character here is what a reader sees as one:
/// Unicode's extended grapheme cluster (UAX #29), as ICU and browsers (`Intl.Segmenter`) cut
/// text, with the properties of Unicode 17. That is a code point with its combining marks (é
/// written as e + U+0301; Hebrew points, Arabic vowel signs, Indic vowel signs: हिंदी is two
/// characters, हिं and दी; Thai vowels and tones), an Indic conjunct (क्ष: consonant, virama,
/// consonant) in the scripts where Unicode joins them (Devanagari, Bengali, Gujarati, Oriya,
/// Telugu, Malayalam and a few more; not Tamil or Kannada), a Korean syllable written in jamo
/// (ᄒ ᅡ ᆫ is one 한), emoji joined by zero-width joiners (👨‍👩‍👧 is one), an emoji with its
/// skin tone (👍🏽) or variation selector, a flag (two regional indicators: 🇫🇷), CR LF, and a
/// prepended sign with what follows it (the Arabic number sign U+0600 with its digit). A model
/// whose tokens are code points (Python's `list(text)`) needs utf8_code_points instead.
/// Malformed bytes become U+FFFD.
/// \param text UTF-8 text
/// \return the characters, in order; joined they give `text` (with malformed bytes replaced)
inline std::vector<std::string> utf8_characters(std::string_view text) { return detail::utf8_pieces(text, true); }

/// The code points of UTF-8 `text`, one string each: the tokens of a character-level model that
/// splits text as Python's `list(text)` does (é written as e + U+0301 is two). Malformed bytes
/// become U+FFFD.
/// \param text UTF-8 text
/// \return the code points, in order, each as UTF-8
inline std::vector<std::string> utf8_code_points(std::string_view text) { return detail::utf8_pieces(text, false); }

namespace detail {

inline Rgb mix_white(Rgb c, double t) {
  const auto channel = [t](std::uint8_t v) {
    return static_cast<std::uint8_t>(std::lround(255.0 + t * (static_cast<double>(v) - 255.0)));
  };
  return {channel(c.r), channel(c.g), channel(c.b)};
}

/// A masked token's look, as the viewer's text view draws one: grey hatching, grey text.
inline constexpr const char* masked_token_style =
    "background:repeating-linear-gradient(135deg, #d2d2d2 0 1px, #f4f4f4 1px 4px);color:#555555";

/// Whether `tag` has the form of a BCP 47 language tag: subtags of 1 to 8 ASCII letters or
/// digits joined by single '-', the first of letters, at most 35 characters ("de", "zh-Hans",
/// "sr-Latn-RS"; not "-", "de-", "a--b", "en_US" or an option name such as "--values").
inline bool is_language_tag(const std::string& tag) {
  if (tag.empty() || tag.size() > 35) return false;
  std::size_t length = 0;  // of the current subtag
  bool first = true;
  for (const char c : tag) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    if (c == '-') {
      if (length == 0) return false;
      length = 0;
      first = false;
    } else if ((letter || (digit && !first)) && length < 8) {
      ++length;
    } else {
      return false;
    }
  }
  return length > 0;
}

template <typename Derived>
std::string html_render(const std::vector<std::string>& tokens, const Eigen::DenseBase<Derived>& weights_in,
                        const HighlightOptions& options, const char* who) {
  static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
  const Rgb color = parse_css_color(options.color, who);
  ATTN_CHECK(options.decimals >= 0 && options.decimals <= 10,
             std::string(who) + ": options.decimals (" + std::to_string(options.decimals) + ") must be in [0, 10]");
  const auto n = static_cast<Index>(tokens.size());
  // A column vector with one weight per token is one line, like a row vector.
  Matrix<double> w = weights_in.template cast<double>();
  if (w.cols() == 1 && w.rows() == n && n != 1) w.transposeInPlace();
  ATTN_CHECK(w.cols() == n, std::string(who) + ": weights.cols() (" + std::to_string(w.cols()) +
                                ") must equal tokens.size() (" + std::to_string(n) + ")");
  ATTN_CHECK(options.row_labels.empty() || static_cast<Index>(options.row_labels.size()) == w.rows(),
             std::string(who) + ": options.row_labels.size() (" + std::to_string(options.row_labels.size()) +
                 ") must equal weights.rows() (" + std::to_string(w.rows()) + ")");
  check_scale_ends(options.vmin, options.vmax, who);
  ATTN_CHECK(options.language.empty() || detail::is_language_tag(options.language),
             std::string(who) + ": options.language (\"" + options.language.substr(0, 40) +
                 "\") must be a BCP 47 tag such as \"de\" or \"zh-Hans\" (subtags of 1 to 8 letters or digits "
                 "joined by '-', the first letters, at most 35 characters)");
  // The mask's rows are the map's queries: the lines are rows mask_first_row onwards.
  const Mask& mask = options.mask;
  const Index first = options.mask_first_row;
  ATTN_CHECK(first >= 0, std::string(who) + ": options.mask_first_row (" + std::to_string(first) + ") must be >= 0");
  // A matrix mask has a row per query of the map; the other kinds take any row (first + i never
  // overflows: the lines end below Index's largest value).
  const auto& explicit_rows = mask.explicit_matrix();
  const Index mask_rows = explicit_rows ? explicit_rows->rows() : std::numeric_limits<Index>::max();
  ATTN_CHECK(first <= mask_rows - w.rows(),
             std::string(who) + ": options.mask_first_row (" + std::to_string(first) + ") and " +
                 std::to_string(w.rows()) + " line(s) need the mask's rows " + std::to_string(first) + " to " +
                 std::to_string(first) + " + " + std::to_string(w.rows() - 1) + ", " +
                 (explicit_rows ? "but options.mask has " + std::to_string(mask_rows) + " rows"
                                : std::string("past the largest Index")));
  mask.check(who, explicit_rows ? mask_rows : w.rows(), n, "the tokens");
  const bool masking = !mask.is_all_visible();
  const auto hidden = [&](Index i, Index j) { return masking && !mask.visible(first + i, j, n); };

  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  bool any_nan = false;       // the legend then names the grey of NaN
  bool any_infinite = false;  // and says where ±inf are drawn (at the ends of the scale)
  bool any_hidden = false;    // and the hatching of masked tokens
  for (Index k = 0; k < w.size(); ++k) {
    if (hidden(k % w.rows(), k / w.rows())) {  // a hidden token sets no end of the scale
      any_hidden = true;
      continue;
    }
    const double v = w.data()[k];
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    any_nan = any_nan || std::isnan(v);
    any_infinite = any_infinite || std::isinf(v);
  }
  const double smallest = std::isfinite(lo) ? lo : 0.0;
  double vmin = options.vmin                                   ? *options.vmin
                : options.scale == HighlightScale::min_max ? smallest
                                                           : std::min(0.0, smallest);
  double vmax = options.vmax ? *options.vmax : (std::isfinite(hi) ? hi : 1.0);
  // min_max over equal weights (a uniform row) has no range to shade: it starts from zero
  // instead, so that the most attended tokens (all of them) have the full colour, as the
  // heatmaps' equal ends become [0, v]; white at the weights would read as "none attended".
  if (!(vmin < vmax) && !options.vmin && !options.vmax && options.scale == HighlightScale::min_max)
    vmin = std::min(0.0, smallest);
  if (!(vmin < vmax)) {  // (without options.vmin the scale can grow above vmin)
    if (options.vmax) {
      vmin = scale_other_end(vmax, false, who, "options.vmax");
    } else {
      vmax = scale_other_end(vmin, true, who, "options.vmin");
    }
  }

  const bool labels = !options.row_labels.empty();
  std::string out;
  if (!options.fragment) {
    out += "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
           "<meta charset=\"utf-8\"/>\n<title>";
    append_xml_escaped(out, options.title.empty() ? std::string("attention weights") : options.title);
    out += "</title>\n<style>\n"
           "body { font-family: 'DejaVu Sans', Verdana, Arial, sans-serif; margin: 1.5em; }\n"
           ".attn-line { margin: 0.35em 0; line-height: 2.2; }\n"
           ".attn-query { display: inline-block; min-width: 6em; margin-inline-end: 0.8em; color: #444444; "
           "font-weight: bold; text-align: end; }\n"
           ".attn-token { border-radius: 0.2em; padding: 0.15em 0.05em; }\n"
           ".attn-weight { font-size: 0.6em; }\n"  // in its token's ink, chosen to contrast with its shade
           ".attn-legend { margin-top: 1em; font-size: 0.85em; color: #444444; }\n"
           "</style>\n</head>\n<body>\n";
    if (!options.title.empty()) {
      out += "<h1>";
      append_xml_escaped(out, options.title);
      out += "</h1>\n";
    }
  }
  out += "<div class=\"attn-highlight\">\n";
  const std::string separator = xml_escaped(options.separator);
  for (Index i = 0; i < w.rows(); ++i) {
    // dir="auto": a line reads in the direction of its tokens' first strong character (Hebrew and
    // Arabic text right to left, its query label then at the right, aligned towards the tokens).
    // The label sits in a <span dir="auto"> (what <bdi> does, in markup HTML4 parsers know too):
    // laid out in its own direction, and left out of the line's choice.
    // With labels, a hanging indent: a line that wraps goes on under its first token, not under
    // the label, so that each query's tokens read as one block (the label's 6em + 0.8em).
    out += "<div class=\"attn-line\" dir=\"auto\" lang=\"" + options.language + "\"" +
           (labels ? " style=\"padding-inline-start:6.8em;text-indent:-6.8em\">" : ">");
    if (labels) {
      out += "<span class=\"attn-query\" style=\"display:inline-block;min-width:6em;margin-inline-end:0.8em;"
             "font-weight:bold;text-align:end;unicode-bidi:isolate;text-indent:0\"><span dir=\"auto\">";
      append_xml_escaped(out, options.row_labels[static_cast<std::size_t>(i)]);
      out += "</span></span>";
    }
    for (Index j = 0; j < n; ++j) {
      const double v = w(i, j);
      double t = scale_fraction(v, vmin, vmax);  // no overflow for vmin = -1.8e308, vmax = 1.8e308
      if (std::isnan(t)) t = 0;
      t = std::clamp(t, 0.0, 1.0);
      const Rgb background = std::isnan(v) ? Rgb{0xd9, 0xd9, 0xd9} : mix_white(color, t);
      const Rgb ink = contrasting_text_color(background);
      const std::string& token = tokens[static_cast<std::size_t>(j)];
      // A token the mask hid is hatched, its tooltip says so, and no weight is printed under it.
      const bool masked = hidden(i, j);
      const std::string weight = masked ? std::string("masked") : format_number(v, options.decimals);
      if (j > 0) out += separator;
      // Tokens are not bidi-isolated (unless isolate_tokens): the line lays out as the text it is,
      // so the letters of an Arabic word highlighted character by character stay joined, and a
      // Hebrew phrase in an English line reads right to left. A token's own bidi controls are
      // closed inside its span. (plaintext, not dir="auto": the line's dir="auto" skips elements
      // with a dir attribute, and would then see no letter at all.)
      out += masked ? "<span class=\"attn-token attn-masked\" style=\"" + std::string(masked_token_style)
                    : "<span class=\"attn-token\" style=\"background-color:" + css_color(background) +
                          ";color:" + css_color(ink);
      out += options.isolate_tokens ? ";white-space:pre-wrap;unicode-bidi:isolate" : ";white-space:pre-wrap";
      out += "\" title=\"";
      if (labels) {
        append_label(out, options.row_labels[static_cast<std::size_t>(i)]);
        out += " \xE2\x86\x92 ";  // →
      }
      append_label(out, token);
      out += ": " + weight + "\" data-weight=\"" + format_number(v, -1) + "\">";
      if (options.isolate_tokens) {
        out += "<span style=\"unicode-bidi:plaintext\">";
        append_xml_escaped(out, token);
        out += "</span>";
      } else {
        append_xml_escaped(out, token);
      }
      if (options.show_weights && !masked) {
        out += "<sub class=\"attn-weight\">" + weight + "</sub>";
      }
      out += "</span>";
    }
    // No token at all (a user with an empty history): said, not an empty line.
    if (n == 0) out += "<span class=\"attn-empty\" style=\"color:#595959;font-style:italic\">no tokens</span>";
    out += "</div>\n";
  }
  if (options.legend && w.size() == 0) {  // no weight to place on a scale
    out += "<div class=\"attn-legend\">no weights: there are no tokens</div>\n";
  } else if (options.legend) {
    const Rgb top = mix_white(color, 1.0);
    const std::vector<std::string> ends = tick_labels({vmin, vmax}, options.decimals);  // "0" and "5e-324"
    out += "<div class=\"attn-legend\">weight " + ends[0] +
           " <span style=\"display:inline-block;width:10em;height:0.9em;vertical-align:middle;border:1px solid "
           "#808080;background:linear-gradient(to right, #ffffff, " +
           css_color(top) + ")\"></span> " + ends[1] +
           // What white is: weight 0, or the smallest weight (min_max, or from_zero when a
           // weight is negative: the scale then starts there).
           (options.vmin ? std::string()
            : vmin == 0.0 ? std::string(" (white: weight 0)")
                          : std::string(" (white: the smallest weight)")) +
           // Weights the scale cannot place: NaN in grey (as the SVG heatmap's legend says), and
           // ±inf drawn at the ends of the scale (their tooltips say inf).
           (any_nan ? std::string(" \xC2\xB7 <span style=\"display:inline-block;width:1.2em;height:0.9em;"
                                  "vertical-align:middle;border:1px solid #808080;background:#d9d9d9\"></span> NaN")
                    : std::string()) +
           (any_infinite ? std::string(" \xC2\xB7 \xC2\xB1inf: at the ends of the scale") : std::string()) +
           (any_hidden ? " \xC2\xB7 <span style=\"display:inline-block;width:1.2em;height:0.9em;vertical-align:middle;"
                         "border:1px solid #808080;" + std::string(masked_token_style) + "\"></span> masked"
                       : std::string()) +
           "</div>\n";
  }
  out += "</div>\n";
  if (!options.fragment) out += "</body>\n</html>\n";
  return out;
}

}  // namespace detail

/// HTML of `tokens` shaded by `weights`: `1×n` (or `n×1`) gives one line, `m×n` gives one line
/// per row (query), labelled with `options.row_labels` when given. Each token is a `<span>`
/// whose background goes from white (vmin: 0 by default, the smallest weight with
/// `options.scale = HighlightScale::min_max`) to `options.color` (vmax), with black or white
/// text for contrast, a tooltip (`title`: "query → token: weight") and a `data-weight`
/// attribute; NaN weights are grey and ±inf take the colours of the scale's ends (the legend
/// says both when they occur). Tokens are any UTF-8, escaped (malformed bytes become
/// U+FFFD); their spaces are kept (white-space: pre-wrap). The document is polyglot
/// HTML5/XHTML: browsers read it as HTML and XML tools can parse it. Throws
/// attn::invalid_argument when weights.cols() != tokens.size(), row_labels does not have one
/// label per row, options.color is not `#rrggbb` or `#rgb`, vmin >= vmax (both given), a lone
/// vmin or vmax is the largest double (no room for the other end), or options.mask does not fit
/// the lines (mask_first_row negative or past a matrix mask's rows, a key length past the
/// tokens, a per-head mask). Tokens options.mask hides are hatched in grey (see
/// HighlightOptions::mask). The legend's two ends are told apart (more digits when `decimals`
/// would print them alike: "0" and "5e-324").
/// \param tokens the tokens, n of them
/// \param weights `1×n` or `n×1` (one line), or `m×n` (one line per row); float or double
/// \param options look of the page (default: HighlightOptions{})
/// \return the HTML document, or only the `<div>` with `options.fragment`
/// \throws attn::invalid_argument also when options.decimals is outside [0, 10] or vmin or vmax
///         is not finite
template <typename Derived>
std::string highlight_html(const std::vector<std::string>& tokens, const Eigen::DenseBase<Derived>& weights,
                           const HighlightOptions& options = {}) {
  return detail::html_render(tokens, weights, options, "attn::io::highlight_html");
}

/// Writes highlight_html(tokens, weights, options) to `os` (std::runtime_error when the stream
/// is not good before the call or fails during it).
/// \param os the stream, written unformatted
/// \param tokens the tokens, n of them
/// \param weights `1×n`, `n×1` or `m×n`
/// \param options look of the page
/// \throws attn::invalid_argument as highlight_html does
template <typename Derived>
void write_highlight_html(std::ostream& os, const std::vector<std::string>& tokens,
                          const Eigen::DenseBase<Derived>& weights, const HighlightOptions& options = {}) {
  const char* who = "attn::io::write_highlight_html";
  const std::string text = detail::html_render(tokens, weights, options, who);
  if (!os) throw std::runtime_error(std::string(who) + ": the output stream is not in a good state");
  os.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!os) throw std::runtime_error(std::string(who) + ": writing to the output stream failed");
}

/// Writes highlight_html(tokens, weights, options) to the file `path` atomically (temporary
/// file + rename); I/O failures throw std::runtime_error naming the path and the reason.
/// \param path the file to write
/// \param tokens the tokens, n of them
/// \param weights `1×n`, `n×1` or `m×n`
/// \param options look of the page
/// \throws attn::invalid_argument as highlight_html does (before the file is touched)
template <typename Derived>
void write_highlight_html(const std::filesystem::path& path, const std::vector<std::string>& tokens,
                          const Eigen::DenseBase<Derived>& weights, const HighlightOptions& options = {}) {
  const char* who = "attn::io::write_highlight_html";
  const std::string text = detail::html_render(tokens, weights, options, who);
  detail::write_file_atomically(path, who,
                                [&](std::ostream& os) { os.write(text.data(), static_cast<std::streamsize>(text.size())); });
}

}  // namespace attn::io
