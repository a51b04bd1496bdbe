// SPDX-License-Identifier: MIT
// Colour maps for the pictures of attention weights (SVG heatmaps, HTML highlighting): a value
// t in [0, 1] becomes an sRGB colour. Viridis (perceptually uniform, colour-blind safe, prints
// in grey) is the default; greys is the printer-friendly light-to-dark ramp.
#pragma once

#include "../config.hpp"
#include "detail/text.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

/// Exporters and readers: CSV, NumPy `.npy`, SVG heatmaps, HTML highlighting, Pharaoh alignments.
namespace attn::io {

/// An 8-bit sRGB colour.
struct Rgb {
  /// Red, 0..255.
  std::uint8_t r = 0;
  /// Green, 0..255.
  std::uint8_t g = 0;
  /// Blue, 0..255.
  std::uint8_t b = 0;
  /// \param x first colour \param y second colour \return true when all three channels are equal
  friend bool operator==(const Rgb& x, const Rgb& y) { return x.r == y.r && x.g == y.g && x.b == y.b; }
  /// \param x first colour \param y second colour \return `!(x == y)`
  friend bool operator!=(const Rgb& x, const Rgb& y) { return !(x == y); }
};

/// Sequential colour maps: low values first.
/// - `viridis`: matplotlib's default map (dark purple → blue → green → yellow), perceptually
///   uniform; the high weights are the bright ones.
/// - `greys`: white → black, for print; the high weights are the dark ones.
enum class Colormap { viridis, greys };

namespace detail {

/// Viridis (van der Walt, Smith, Firing; CC0), every 8th of its 256 entries and the last,
/// as sRGB in [0, 1]; linear interpolation between them stays within 1.7/255 of the full table
/// (measured against matplotlib 3.6's 256 entries: each byte within 2 of its own).
inline constexpr double viridis_table[33][3] = {
    {0.267004, 0.004874, 0.329415}, {0.277018, 0.050344, 0.375715}, {0.282327, 0.094955, 0.417331},
    {0.282884, 0.135920, 0.453427}, {0.278826, 0.175490, 0.483397}, {0.270595, 0.214069, 0.507052},
    {0.258965, 0.251537, 0.524736}, {0.244972, 0.287675, 0.537260}, {0.229739, 0.322361, 0.545706},
    {0.214298, 0.355619, 0.551184}, {0.199430, 0.387607, 0.554642}, {0.185556, 0.418570, 0.556753},
    {0.172719, 0.448791, 0.557885}, {0.160665, 0.478540, 0.558115}, {0.149039, 0.508051, 0.557250},
    {0.137770, 0.537492, 0.554906}, {0.127568, 0.566949, 0.550556}, {0.120565, 0.596422, 0.543611},
    {0.120638, 0.625828, 0.533488}, {0.132268, 0.655014, 0.519661}, {0.157851, 0.683765, 0.501686},
    {0.196571, 0.711827, 0.479221}, {0.246070, 0.738910, 0.452024}, {0.304148, 0.764704, 0.419943},
    {0.369214, 0.788888, 0.382914}, {0.440137, 0.811138, 0.340967}, {0.515992, 0.831158, 0.294279},
    {0.595839, 0.848717, 0.243329}, {0.678489, 0.863742, 0.189503}, {0.762373, 0.876424, 0.137064},
    {0.845561, 0.887322, 0.099702}, {0.926106, 0.897330, 0.104071}, {0.993248, 0.906157, 0.143936}};

inline std::uint8_t to_byte(double v) {
  return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
}

/// Where `v` lies on the colour scale [vmin, vmax] (finite, vmin < vmax): 0 at vmin, 1 at vmax,
/// unclamped (±inf for infinite `v`), NaN for NaN. Exact at the ends, and with no overflow when
/// the span exceeds the largest double (vmin = -1.8e308, vmax = 1.8e308 puts 0 at 0.5): such a
/// span is computed on halves, which are exact there.
inline double scale_fraction(double v, double vmin, double vmax) {
  if (v == vmin) return 0.0;
  if (v == vmax) return 1.0;
  const double span = vmax - vmin;
  if (std::isfinite(span)) return (v - vmin) / span;
  return (0.5 * v - 0.5 * vmin) / (0.5 * vmax - 0.5 * vmin);
}

/// A scale's ends as a caller gave them (`options.<lo_name>` and `options.<hi_name>`, each
/// optional): each finite, and the low one below the high one when both are given. Throws
/// attn::invalid_argument naming `who` and the option otherwise.
inline void check_scale_ends(const std::optional<double>& lo, const std::optional<double>& hi, const std::string& who,
                             const char* lo_name = "vmin", const char* hi_name = "vmax") {
  const std::string low = std::string("options.") + lo_name;
  const std::string high = std::string("options.") + hi_name;
  ATTN_CHECK(!lo || std::isfinite(*lo), who + ": " + low + " (" + format_number(*lo, -1) + ") must be finite");
  ATTN_CHECK(!hi || std::isfinite(*hi), who + ": " + high + " (" + format_number(*hi, -1) + ") must be finite");
  ATTN_CHECK(!lo || !hi || *lo < *hi, who + ": " + low + " (" + format_number(*lo, -1) + ") must be less than " + high +
                                          " (" + format_number(*hi, -1) + ")");
}

/// The other end of a colour scale that has only `end` (a caller's vmin or vmax, or the value
/// of a constant map): `end ± |end|`, or `± 1` for 0 (`above`: +), capped at the largest finite
/// double. Throws attn::invalid_argument naming `who` and `name` when `end` is already that
/// largest double (nothing finite lies beyond it).
inline double scale_other_end(double end, bool above, const std::string& who, const char* name) {
  const double limit = above ? std::numeric_limits<double>::max() : -std::numeric_limits<double>::max();
  ATTN_CHECK(end != limit, who + ": " + name + " (" + format_number(end, -1) + ") leaves no room for a scale " +
                               (above ? "above it; set options.vmax too" : "below it; set options.vmin too"));
  const double step = end == 0 ? 1.0 : std::abs(end);
  const double other = above ? end + step : end - step;
  return std::isfinite(other) ? other : limit;
}

}  // namespace detail

/// The colour of `t` in `map`: `t` is clamped to [0, 1] (+inf → 1, -inf → 0). NaN gives light
/// grey `#d9d9d9` (the SVG heatmap also crosses such cells out, since greys has that colour too).
/// \param map viridis or greys
/// \param t position on the map, 0 the low end, 1 the high end
/// \return the sRGB colour
inline Rgb colormap_color(Colormap map, double t) {
  if (std::isnan(t)) return {0xd9, 0xd9, 0xd9};
  t = std::clamp(t, 0.0, 1.0);
  if (map == Colormap::greys) {
    // Linear in sRGB from white (t = 0) to black (t = 1).
    const double v = 1.0 - t;
    return {detail::to_byte(v), detail::to_byte(v), detail::to_byte(v)};
  }
  const double row = t * 255.0;  // position in the full 256-entry table
  std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(row / 8.0), 31);
  const double lo = static_cast<double>(k * 8);
  const double hi = k == 31 ? 255.0 : lo + 8.0;
  const double f = std::clamp((row - lo) / (hi - lo), 0.0, 1.0);
  const double* lo_rgb = detail::viridis_table[k];
  const double* hi_rgb = detail::viridis_table[k + 1];
  const auto channel = [&](int c) { return detail::to_byte(lo_rgb[c] + f * (hi_rgb[c] - lo_rgb[c])); };
  return {channel(0), channel(1), channel(2)};
}

/// "#rrggbb", lowercase.
/// \param c the colour \return the CSS hex text, e.g. "#e6550d"
inline std::string css_color(Rgb c) {
  static const char* const hex = "0123456789abcdef";
  std::string s = "#000000";
  const std::uint8_t parts[3] = {c.r, c.g, c.b};
  for (std::size_t i = 0; i < 3; ++i) {
    s[1 + 2 * i] = hex[parts[i] >> 4];
    s[2 + 2 * i] = hex[parts[i] & 15];
  }
  return s;
}

/// Parses "#rrggbb" or "#rgb" (case-insensitive). Throws attn::invalid_argument naming `who`
/// otherwise.
/// \param text the colour text
/// \param who the function named in the message
/// \return the colour
/// \throws attn::invalid_argument when `text` is neither form
inline Rgb parse_css_color(std::string_view text, const char* who = "attn::io::parse_css_color") {
  const auto nibble = [&](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
  };
  bool ok = !text.empty() && text[0] == '#' && (text.size() == 7 || text.size() == 4);
  for (std::size_t i = 1; ok && i < text.size(); ++i) ok = nibble(text[i]) >= 0;
  ATTN_CHECK(ok, std::string(who) + ": colour '" + std::string(text) + "' must be '#rrggbb' or '#rgb'");
  if (text.size() == 4) {
    const auto expand = [&](char ch) { return static_cast<std::uint8_t>(nibble(ch) * 17); };
    return {expand(text[1]), expand(text[2]), expand(text[3])};
  }
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(nibble(text[i]) * 16 + nibble(text[i + 1])); };
  return {byte(1), byte(3), byte(5)};
}

/// Relative luminance (WCAG 2) of an sRGB colour, in [0, 1].
/// \param c the colour \return 0 for black, 1 for white
inline double relative_luminance(Rgb c) {
  const auto linear = [](std::uint8_t v) {
    const double s = v / 255.0;
    return s <= 0.04045 ? s / 12.92 : std::pow((s + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * linear(c.r) + 0.7152 * linear(c.g) + 0.0722 * linear(c.b);
}

/// Black or white, whichever reads better on `background` (the larger WCAG contrast ratio).
/// \param background the colour behind the text \return black or white
inline Rgb contrasting_text_color(Rgb background) {
  const double l = relative_luminance(background);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? Rgb{0, 0, 0} : Rgb{255, 255, 255};
}

namespace detail {
/// matplotlib's "gray" (and its spellings), which runs the other way from greys: black for 0,
/// white for the high weights. Named in the messages that refuse it.
inline bool is_matplotlib_gray(std::string_view name) {
  return name == "gray" || name == "grey" || name == "Gray" || name == "Grey";
}
}  // namespace detail

/// The map named `name` ("viridis", "greys"; case-sensitive). Throws attn::invalid_argument
/// naming `who` and the known names otherwise.
/// \param name "viridis" or "greys" ("grays" and matplotlib's "Greys" are read as greys too)
/// \param who the function named in the message
/// \return the map
/// \throws attn::invalid_argument for any other name
inline Colormap parse_colormap(std::string_view name, const char* who = "attn::io::parse_colormap") {
  if (name == "viridis") return Colormap::viridis;
  if (name == "greys" || name == "grays" || name == "Greys") return Colormap::greys;  // matplotlib: "Greys"
  throw invalid_argument(std::string(who) + ": unknown colour map '" + std::string(name) + "' (known: viridis, greys" +
                         (detail::is_matplotlib_gray(name) ? "; matplotlib's gray, white for the high weights, is greys "
                                                             "reversed"
                                                           : "") +
                         ")");
}

/// The name of `map`, as parse_colormap() reads it.
/// \param map the colour map \return "viridis" or "greys"
inline const char* colormap_name(Colormap map) { return map == Colormap::greys ? "greys" : "viridis"; }

}  // namespace attn::io
