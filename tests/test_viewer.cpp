// SPDX-License-Identifier: MIT
// Tests of attn/io/viewer.hpp: the page's data block read back independently (its own base64
// decoder here, and Python's json module when python3 is there): maps in order and within the
// stated error bound of each precision, hostile labels escaped inside <script>, the 12 layers ×
// 12 heads × T = 128 page under 8 MB, the bits of a mask, every argument check, and the atomic
// path overload.
#include "attn/io/viewer.hpp"

#include "helpers.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

// Everything in this file lives in namespace test_viewer: the suite is a unity build.
namespace test_viewer {

namespace fs = std::filesystem;
using attn::Index;
using attn_test::message_of;
using attn_test::slurp;

namespace {


/// The JSON text of the page's data block.
std::string data_block(const std::string& page) {
  const std::string open = "<script type=\"application/json\" id=\"attn-data\">";
  const std::size_t at = page.find(open);
  REQUIRE(at != std::string::npos);
  const std::size_t end = page.find("</script>", at);
  REQUIRE(end != std::string::npos);
  return page.substr(at + open.size(), end - at - open.size());
}

/// RFC 4648 base64, written here from the RFC (not the library's encoder).
std::vector<std::uint8_t> unbase64(const std::string& text) {
  std::vector<std::uint8_t> out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    if (c >= '0' && c <= '9') v = c - '0' + 52;
    if (c == '+') v = 62;
    if (c == '/') v = 63;
    if (v < 0) continue;  // '=' padding
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<std::uint8_t>((bits >> count) & 0xFF));
    }
  }
  return out;
}

/// The maps of the data block in order (items → attentions → layers → heads): lo, hi, bytes.
struct Encoded {
  double lo, hi;
  std::vector<std::uint8_t> bytes;
};
std::vector<Encoded> maps_of(const std::string& json) {
  std::vector<Encoded> maps;
  std::size_t at = 0;
  while ((at = json.find("{\"lo\":", at)) != std::string::npos) {
    Encoded e{};
    e.lo = std::strtod(json.c_str() + at + 6, nullptr);
    const std::size_t h = json.find("\"hi\":", at);
    e.hi = std::strtod(json.c_str() + h + 5, nullptr);
    const std::size_t d = json.find("\"d\":\"", at) + 5;
    const std::size_t end = json.find('"', d);
    e.bytes = unbase64(json.substr(d, end - d));
    maps.push_back(std::move(e));
    at = end;
  }
  return maps;
}

/// Map `e` read back as the page's script does, row-major Tq×Tk.
Eigen::MatrixXd decode(const Encoded& e, const std::string& precision, Index rows, Index cols) {
  Eigen::MatrixXd m(rows, cols);
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) {
      const auto k = static_cast<std::size_t>(i * cols + j);
      if (precision == "float32") {
        std::uint32_t u = 0;
        for (std::size_t b = 0; b < 4; ++b) u |= static_cast<std::uint32_t>(e.bytes.at(4 * k + b)) << (8 * b);
        float f = 0;
        std::memcpy(&f, &u, 4);
        m(i, j) = f;
      } else {
        // Codes 0..top: lo to hi; top + 1: -inf, top + 2: +inf, top + 3: NaN (ViewPrecision).
        const bool wide = precision == "uint16";
        const unsigned top = wide ? 65532 : 252;
        const unsigned c = wide ? e.bytes.at(2 * k) | (static_cast<unsigned>(e.bytes.at(2 * k + 1)) << 8) : e.bytes.at(k);
        const double inf = std::numeric_limits<double>::infinity();
        m(i, j) = c <= top ? e.lo + c * (e.hi - e.lo) / top : c == top + 1 ? -inf : c == top + 2 ? inf : std::nan("");
      }
    }
  }
  return m;
}

Eigen::MatrixXd softmax_rows(Index rows, Index cols, std::mt19937& rng) {
  std::normal_distribution<double> normal(0.0, 2.0);
  Eigen::MatrixXd m = Eigen::MatrixXd::NullaryExpr(rows, cols, [&] { return std::exp(normal(rng)); });
  for (Index i = 0; i < rows; ++i) m.row(i) /= m.row(i).sum();
  return m;
}

}  // namespace

TEST_CASE("viewer: the data block holds every map in order, exactly in float32", "[io][viewer]") {
  std::mt19937 rng(7);
  attn::HeadWeights<double> layer0(3, 4, 5);
  for (Index h = 0; h < 3; ++h) layer0.head(h) = softmax_rows(4, 5, rng);
  const std::vector<Eigen::MatrixXd> layer1{softmax_rows(4, 5, rng), softmax_rows(4, 5, rng), softmax_rows(4, 5, rng)};
  const Eigen::MatrixXf single = softmax_rows(2, 2, rng).cast<float>();
  attn::io::AttentionView view;
  view.add_attention("cross", {"a", "b", "c", "d"}, {"v", "w", "x", "y", "z"}).add_layer(layer0).add_layer(layer1, "top");
  view.add_item("second").add_attention("self", {"p", "q"}, {"p", "q"}).add_layer(single);
  const std::string page = attn::io::attention_view_html(view);
  const std::string json = data_block(page);
  CHECK(json.find("\"encoding\":\"float32\"") != std::string::npos);
  CHECK(json.find("\"name\":\"item 0\"") != std::string::npos);
  CHECK(json.find("\"name\":\"second\"") != std::string::npos);
  CHECK(json.find("\"name\":\"layer 0\"") != std::string::npos);
  CHECK(json.find("\"name\":\"top\"") != std::string::npos);
  CHECK(json.find("\"tq\":4,\"tk\":5,\"q\":[\"a\",\"b\",\"c\",\"d\"],\"k\":[\"v\",\"w\",\"x\",\"y\",\"z\"]") != std::string::npos);
  const std::vector<Encoded> maps = maps_of(json);
  REQUIRE(maps.size() == 7);
  for (Index h = 0; h < 3; ++h) {
    CHECK(decode(maps[static_cast<std::size_t>(h)], "float32", 4, 5) == layer0.head(h).cast<float>().cast<double>());
    CHECK(decode(maps[static_cast<std::size_t>(3 + h)], "float32", 4, 5) == layer1[static_cast<std::size_t>(h)].cast<float>().cast<double>());
  }
  CHECK(decode(maps[6], "float32", 2, 2) == single.cast<double>());
  CHECK(maps[6].lo == Approx(single.minCoeff()));
  CHECK(maps[6].hi == Approx(single.maxCoeff()));
  // The page is self-contained: no URL to fetch, one inline style, two inline scripts.
  CHECK(page.find("src=") == std::string::npos);
  CHECK(page.find("href=") == std::string::npos);
  std::size_t urls = 0;  // the XHTML and SVG namespaces, nothing else
  for (std::size_t at = page.find("://"); at != std::string::npos; at = page.find("://", at + 1)) ++urls;
  CHECK(urls == 2);
  CHECK(page.find("https://") == std::string::npos);
}

TEST_CASE("viewer: float32 keeps NaN, +inf and -inf as they are", "[io][viewer]") {
  Eigen::MatrixXd m(2, 3);
  m << 0.25, std::numeric_limits<double>::infinity(), std::nan(""), -std::numeric_limits<double>::infinity(), 0.5, 0.25;
  attn::io::AttentionView view;
  view.add_attention("a", {}, {}).add_layer(m);
  attn::io::ViewOptions options;
  options.precision = attn::io::ViewPrecision::float32;
  const std::vector<Encoded> maps = maps_of(data_block(attn::io::attention_view_html(view, options)));
  REQUIRE(maps.size() == 1);
  const Eigen::MatrixXd back = decode(maps[0], "float32", 2, 3);
  CHECK(back(0, 1) == std::numeric_limits<double>::infinity());
  CHECK(back(1, 0) == -std::numeric_limits<double>::infinity());
  CHECK(std::isnan(back(0, 2)));
  CHECK(back(1, 1) == 0.5);
  CHECK(maps[0].lo == 0.25);  // the finite range
  CHECK(maps[0].hi == 0.5);
}

TEST_CASE("viewer: quantised maps read back within the stated bound, NaN and ±inf kept", "[io][viewer]") {
  std::mt19937 rng(11);
  Eigen::MatrixXd m = softmax_rows(30, 40, rng);
  m(3, 4) = std::nan("");
  m(5, 6) = -std::numeric_limits<double>::infinity();
  m(9, 1) = std::numeric_limits<double>::infinity();
  m(7, 8) = -0.5;  // a negative value sets lo
  attn::io::AttentionView view;
  view.add_attention("a", {}, {}).add_layer(m);
  const double lo = -0.5;
  double hi = -std::numeric_limits<double>::infinity();  // of the finite values
  for (Index k = 0; k < m.size(); ++k)
    if (std::isfinite(m.data()[k])) hi = std::max(hi, m.data()[k]);
  hi = static_cast<float>(hi);
  for (const auto& [precision, name, steps] : {std::tuple{attn::io::ViewPrecision::uint16, "uint16", 65532.0},
                                               std::tuple{attn::io::ViewPrecision::uint8, "uint8", 252.0}}) {
    attn::io::ViewOptions options;
    options.precision = precision;
    const std::string json = data_block(attn::io::attention_view_html(view, options));
    CHECK(json.find(std::string("\"encoding\":\"") + name + "\"") != std::string::npos);
    const std::vector<Encoded> maps = maps_of(json);
    REQUIRE(maps.size() == 1);
    CHECK(maps[0].lo == lo);
    CHECK(maps[0].hi == Approx(hi).epsilon(1e-7));
    CHECK(maps[0].bytes.size() == static_cast<std::size_t>(m.size()) * (steps > 255 ? 2u : 1u));
    const Eigen::MatrixXd back = decode(maps[0], name, 30, 40);
    const double bound = (hi - lo) / (2 * steps);
    double worst = 0;
    for (Index i = 0; i < 30; ++i) {
      for (Index j = 0; j < 40; ++j) {
        if (std::isfinite(m(i, j))) {
          worst = std::max(worst, std::abs(back(i, j) - static_cast<float>(m(i, j))));
        } else if (std::isnan(m(i, j))) {
          CHECK(std::isnan(back(i, j)));
        } else {
          CHECK(back(i, j) == m(i, j));  // ±inf
        }
      }
    }
    INFO(name << ": worst error " << worst << ", bound " << bound);
    CHECK(worst <= bound * (1 + 1e-9));
    CHECK(worst > bound / 4);  // the bound is not loose by orders of magnitude
  }
}

TEST_CASE("viewer: the 12 layers x 12 heads x T = 128 page stays under 8 MB", "[io][viewer][size]") {
  std::mt19937 rng(3);
  std::vector<std::string> tokens;
  for (int t = 0; t < 128; ++t) tokens.push_back("token" + std::to_string(t));
  attn::io::AttentionView view;
  auto& encoder = view.add_attention("encoder", tokens, tokens);
  for (int l = 0; l < 12; ++l) {
    attn::HeadWeights<float> heads(12, 128, 128);
    for (Index h = 0; h < 12; ++h) heads.head(h) = softmax_rows(128, 128, rng).cast<float>();
    encoder.add_layer(heads);
  }
  const std::string page = attn::io::attention_view_html(view);
  INFO("page size " << page.size() << " bytes");
  CHECK(page.size() < 8000000);
  CHECK(data_block(page).find("\"encoding\":\"uint16\"") != std::string::npos);
  CHECK(maps_of(data_block(page)).size() == 144);
}

TEST_CASE("viewer: the page opens on the head view up to 128 tokens, on the map above", "[io][viewer]") {
  const auto start_of = [](Index tq, Index tk, std::optional<attn::io::ViewKind> kind) {
    attn::io::AttentionView view;
    view.add_attention("a", {}, {}).add_layer(Eigen::MatrixXd::Constant(tq, tk, 1.0 / static_cast<double>(tk)));
    attn::io::ViewOptions options;
    if (kind) options.view = *kind;
    const std::string json = data_block(attn::io::attention_view_html(view, options));
    const std::size_t at = json.find("\"view\":\"");
    return at == std::string::npos ? std::string() : json.substr(at + 8, json.find('"', at + 8) - at - 8);
  };
  CHECK(start_of(128, 128, std::nullopt) == "head");
  CHECK(start_of(1, 129, std::nullopt) == "map");  // the head view would list 129 key tokens
  CHECK(start_of(129, 4, std::nullopt) == "map");
  CHECK(start_of(200, 200, attn::io::ViewKind::head) == "head");  // asked for: kept
  CHECK(start_of(4, 4, attn::io::ViewKind::text) == "text");
}

TEST_CASE("viewer: hostile labels stay inside their JSON strings", "[io][viewer][hostile]") {
  const std::vector<std::string> keys{"</script><script>alert(1)</script>", "\"quoted\" \\ & 'single'",
                                      "bad \xff\xfe bytes", "line\xE2\x80\xA8sep\xE2\x80\xA9par", "\xE2\x80\xAErlo",
                                      "<!-- x", "tab\there", "pdf\xE2\x80\xAC"};
  attn::io::AttentionView view;
  view.add_attention("</script>", {"q"}, keys).add_layer(Eigen::MatrixXd::Constant(1, 8, 0.125), "<b>");
  attn::io::ViewOptions options;
  options.title = "</title><script>x</script>";
  const std::string page = attn::io::attention_view_html(view, options);
  // Exactly the page's own two scripts end; no label opens an element or a comment.
  std::size_t ends = 0;
  for (std::size_t at = page.find("</script>"); at != std::string::npos; at = page.find("</script>", at + 1)) ++ends;
  CHECK(ends == 2);
  CHECK(page.find("<!--") == std::string::npos);
  const std::string json = data_block(page);
  CHECK(json.find('<') == std::string::npos);
  CHECK(json.find('>') == std::string::npos);
  CHECK(json.find("\xE2\x80\xA8") == std::string::npos);
  CHECK(json.find("\xE2\x80\xA9") == std::string::npos);
  CHECK(json.find("\"k\":[\"\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\","
                  "\"\\\"quoted\\\" \\\\ \\u0026 'single'\",\"bad \xEF\xBF\xBD\xEF\xBF\xBD bytes\","
                  "\"line\\u2028sep\\u2029par\",\"\\u202erlo\\u202c\",\"\\u003c!-- x\",\"tab\\u0009here\",\"pdf\"]") !=
        std::string::npos);
  CHECK(json.find("\"name\":\"\\u003c/script\\u003e\"") != std::string::npos);
  CHECK(json.find("\"name\":\"\\u003cb\\u003e\"") != std::string::npos);
  CHECK(page.find("<title>&lt;/title&gt;&lt;script&gt;x&lt;/script&gt;</title>") != std::string::npos);
  // An independent JSON reader gets the labels back (Python's json, when python3 is there).
  if (std::system("python3 -c 'import json' >/dev/null 2>&1") == 0) {
    const fs::path file = fs::temp_directory_path() / ("attn_viewer_json_" + std::to_string(std::random_device{}()));
    std::ofstream(file, std::ios::binary) << json;
    const std::string command = "python3 -c \"import json,sys; d=json.load(open(sys.argv[1],encoding='utf-8')); "
                                "k=d['items'][0]['attentions'][0]['k']; "
                                "sys.exit(0 if k[0]=='</script><script>alert(1)</script>' and k[2]=='bad \\ufffd\\ufffd bytes' "
                                "and k[4]=='\\u202erlo\\u202c' and k[7]=='pdf' else 1)\" " + file.string();
    CHECK(std::system(command.c_str()) == 0);
    fs::remove(file);
  }
}

TEST_CASE("viewer: AlignmentHistory and HeadWeights become layers", "[io][viewer]") {
  attn::AlignmentHistory<double> history(std::vector<Index>{3, 2}, 2);
  Eigen::MatrixXd step(2, 3);
  step << 0.1, 0.2, 0.7, 0.5, 0.5, 0.0;
  history.record(0, step);
  step << 0.6, 0.3, 0.1, 0.2, 0.2, 0.6;
  history.record(0, step);
  attn::io::AttentionView view;
  view.add_attention("decoder", {"y0", "y1"}, {"x0", "x1", "x2"}).add_history(history, 0, "alignment");
  const std::vector<Encoded> maps = maps_of(data_block(attn::io::attention_view_html(view)));
  REQUIRE(maps.size() == 2);
  for (Index h = 0; h < 2; ++h) {
    CHECK(decode(maps[static_cast<std::size_t>(h)], "float32", 2, 3) == history.view(0, h).cast<float>().cast<double>());
  }
  CHECK(message_of([&] { view.add_attention("d", {}, {}).add_history(history, 2); }) ==
        "attn::io::ViewAttention::add_history: sequence (2) must be in [0, 2)");
}

TEST_CASE("viewer: bad shapes and options are refused with a clear message", "[io][viewer][errors]") {
  attn::io::AttentionView empty;
  CHECK(message_of([&] { (void)attn::io::attention_view_html(empty); }) ==
        "attn::io::attention_view_html: the view has no item (add_attention or add_item first)");
  attn::io::AttentionView no_attention;
  no_attention.add_item();
  CHECK(message_of([&] { (void)attn::io::attention_view_html(no_attention); }) ==
        "attn::io::attention_view_html: item 0 has no attention");
  attn::io::AttentionView view;
  attn::io::ViewAttention& a = view.add_attention("enc", {"a", "b"}, {"a", "b", "c"});
  CHECK(message_of([&] { (void)attn::io::attention_view_html(view); }) ==
        "attn::io::attention_view_html: item 0 attention 'enc' has no layer");
  CHECK(message_of([&] { a.add_layer(std::vector<Eigen::MatrixXd>{}); }) ==
        "attn::io::ViewAttention::add_layer: 'enc' layer 0 has no head");
  CHECK(message_of([&] { a.add_layer(Eigen::MatrixXd::Zero(3, 3)); }) ==
        "attn::io::ViewAttention::add_layer: 'enc' layer 0: the maps have 3 rows but there are 2 query tokens");
  CHECK(message_of([&] { a.add_layer(Eigen::MatrixXd::Zero(2, 2)); }) ==
        "attn::io::ViewAttention::add_layer: 'enc' layer 0: the maps have 2 columns but there are 3 key tokens");
  a.add_layer(std::vector<Eigen::MatrixXd>{Eigen::MatrixXd::Zero(2, 3), Eigen::MatrixXd::Zero(2, 3)});
  CHECK(message_of([&] { a.add_layer(std::vector<Eigen::MatrixXd>{Eigen::MatrixXd::Zero(2, 3), Eigen::MatrixXd::Zero(3, 2)}); }) ==
        "attn::io::ViewAttention::add_layer: 'enc' layer 1 head 1 is (3x2), expected (2x3)");
  CHECK(message_of([&] { a.add_layer(Eigen::MatrixXd::Zero(2, 3)); }) ==
        "attn::io::ViewAttention::add_layer: 'enc' layer 1 has 1 heads, layer 0 has 2");
  CHECK(a.layers().size() == 1);  // a refused layer is not kept
  attn::io::ViewOptions options;
  options.min_line_weight = 1.5;
  CHECK(message_of([&] { (void)attn::io::attention_view_html(view, options); }) ==
        "attn::io::attention_view_html: options.min_line_weight (1.5) must be in [0, 1]");
  options = {};
  options.max_lines = 0;
  CHECK(message_of([&] { (void)attn::io::attention_view_html(view, options); }) ==
        "attn::io::attention_view_html: options.max_lines (0) must be >= 1");
  options = {};
  options.head_colors = {"#123456", "red"};
  CHECK(message_of([&] { (void)attn::io::attention_view_html(view, options); }) ==
        "attn::io::attention_view_html: colour 'red' must be '#rrggbb' or '#rgb'");
  options = {};
  options.highlight_color = "#12";
  CHECK(message_of([&] { (void)attn::io::attention_view_html(view, options); }) ==
        "attn::io::attention_view_html: colour '#12' must be '#rrggbb' or '#rgb'");
  CHECK_THROWS_AS(attn::io::attention_view_html(empty), attn::invalid_argument);
}

TEST_CASE("viewer: a mask marks the cells it hid, one bit each, and a mask that hides nothing adds nothing", "[io][viewer][mask]") {
  // Which cells each mask hides, computed here from the masks' definitions (DESIGN.md), and
  // read back from the page's "mask" bits: bit n % 8 of byte n / 8 for cell n = i·Tk + j.
  const Index tq = 4;
  const Index tk = 5;
  Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic> explicit_visible(tq, tk);
  for (Index i = 0; i < tq; ++i)
    for (Index j = 0; j < tk; ++j) explicit_visible(i, j) = (i + 2 * j) % 3 != 0;
  struct Case {
    const char* name;
    attn::Mask mask;
    bool (*hidden)(Index, Index);
  };
  const std::vector<Case> cases{
      {"causal", attn::Mask::causal(), [](Index i, Index j) { return j > i; }},
      {"key length 3", attn::Mask::key_length(3), [](Index, Index j) { return j >= 3; }},
      {"window 1 0 & causal 1", attn::Mask::window(1, 0) & attn::Mask::causal(1),
       [](Index i, Index j) { return j < i - 1 || j > i; }},
      {"matrix", attn::Mask::matrix(explicit_visible), [](Index i, Index j) { return (i + 2 * j) % 3 == 0; }},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    attn::io::AttentionView view;
    view.add_attention("self", {}, {}).add_layer(Eigen::MatrixXd::Constant(tq, tk, 0.2)).set_mask(c.mask);
    const std::string json = data_block(attn::io::attention_view_html(view));
    const std::size_t at = json.find("\"mask\":\"");
    REQUIRE(at != std::string::npos);
    const std::size_t end = json.find('"', at + 8);
    const std::vector<std::uint8_t> bits = unbase64(json.substr(at + 8, end - at - 8));
    REQUIRE(bits.size() == static_cast<std::size_t>((tq * tk + 7) / 8));
    for (Index i = 0; i < tq; ++i) {
      for (Index j = 0; j < tk; ++j) {
        const auto n = static_cast<std::size_t>(i * tk + j);
        CHECK(((bits[n / 8] >> (n % 8)) & 1) == (c.hidden(i, j) ? 1 : 0));
      }
    }
  }
  attn::io::AttentionView none;  // a mask that hides no cell of these maps: no "mask" at all
  none.add_attention("self", {}, {}).add_layer(Eigen::MatrixXd::Constant(tq, tk, 0.2)).set_mask(attn::Mask::key_length(tk));
  none.add_attention("plain", {}, {}).add_layer(Eigen::MatrixXd::Constant(tq, tk, 0.2));
  CHECK(data_block(attn::io::attention_view_html(none)).find("\"mask\"") == std::string::npos);

  attn::io::AttentionView wrong;
  wrong.add_attention("cross", {}, {}).add_layer(Eigen::MatrixXd::Constant(tq, tk, 0.2)).set_mask(attn::Mask::key_length(6));
  CHECK(message_of([&] { (void)attn::io::attention_view_html(wrong); }) ==
        "attn::io::attention_view_html: item 0 attention 'cross': the mask's key length (6) exceeds the maps' 5 keys");
  attn::io::AttentionView shape;
  shape.add_attention("", {}, {}).add_layer(Eigen::MatrixXd::Constant(tq, tk, 0.2)).set_mask(attn::Mask::matrix(explicit_visible.transpose()));
  CHECK(message_of([&] { (void)attn::io::attention_view_html(shape); }) ==
        "attn::io::attention_view_html: item 0 attention 'attention 0': the mask is (5x4) but the maps are (4x5)");
}

TEST_CASE("viewer: the path overload writes atomically, and a refused view leaves the file alone", "[io][viewer]") {
  const fs::path dir = fs::temp_directory_path() / ("attn_test_viewer_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  attn::io::AttentionView view;
  view.add_attention("a", {"x"}, {"y", "z"}).add_layer(Eigen::RowVector2d(0.25, 0.75));
  attn::io::write_attention_view(dir / "v.html", view);
  CHECK(slurp(dir / "v.html") == attn::io::attention_view_html(view));
  std::ostringstream os;
  attn::io::write_attention_view(os, view);
  CHECK(os.str() == slurp(dir / "v.html"));
  // A view that cannot be drawn throws before the file is touched.
  attn::io::AttentionView bad;
  CHECK_THROWS_AS(attn::io::write_attention_view(dir / "v.html", bad), attn::invalid_argument);
  CHECK(slurp(dir / "v.html") == os.str());
  // A failing rename leaves the old file and no temporary behind.
  attn::io::detail::write_fault_hook() = [](attn::io::detail::WriteStep step, const fs::path&) {
    return step == attn::io::detail::WriteStep::rename ? EXDEV : 0;
  };
  attn::io::AttentionView other;
  other.add_attention("b", {}, {}).add_layer(Eigen::MatrixXd::Identity(3, 3));
  const std::string what = message_of([&] { attn::io::write_attention_view(dir / "v.html", other); });
  attn::io::detail::write_fault_hook() = nullptr;
  CHECK_THAT(what, Catch::StartsWith("attn::io::write_attention_view: cannot write '" + (dir / "v.html").string() + "'"));
  CHECK(slurp(dir / "v.html") == os.str());
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    (void)entry;
    ++files;
  }
  CHECK(files == 1);
  const std::string missing = message_of([&] { attn::io::write_attention_view(dir / "no" / "v.html", view); });
  CHECK_THAT(missing, Catch::EndsWith("No such file or directory"));
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

}  // namespace test_viewer
