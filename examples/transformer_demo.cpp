// SPDX-License-Identifier: MIT
// attn transformer demo: a trained encoder-decoder transformer (2 + 2 layers, 4 heads, d_model 64;
// examples/transformer_demo/train.py) turns human-written dates into ISO 8601 in C++. Embeddings,
// positions, layer norm and feed-forward blocks are plain Eigen (transformer_demo/
// transformer_model.hpp); every attention is attn's multi-head attention. The demo decodes
// greedily and with a beam of 4 (transformer_demo/decode.hpp), prints the translations, and writes
// the per-layer, per-head cross-attention of the first date's greedy translation:
//   transformer_attention.csv   long form, one record per (layer, head, output step, input
//                               character): layer,head,query,key,query_token,key_token,weight
//   transformer_attention.svg   a grid of heatmaps, one panel per layer × head (rows: layers)
// and prints, per layer and head, how much of the year digits' attention lands on the year.
//
// Usage: attn_transformer_demo [--weights DIR] [--csv FILE] [--svg FILE] [date ...]
//   DIR defaults to examples/transformer_demo/weights next to this source file.

#include "date_demo/date_model.hpp"  // date_demo::year_span
#include "transformer_demo/decode.hpp"

#include <attn/io/csv.hpp>
#include <attn/io/svg.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

using transformer_demo::Hypothesis;
using transformer_demo::Index;

std::filesystem::path default_weights() {
  return std::filesystem::path(__FILE__).parent_path() / "transformer_demo" / "weights";
}

/// Mean over the year digits of the output (the first four characters of an ISO date) of the
/// attention mass on the source's year characters, for map `m` (T_out×T_in); -1 when the
/// translation is not a date or the year is not in the source.
double year_share(const Hypothesis& h, const transformer_demo::Mat& m, const std::string& source) {
  if (h.text.size() != 10 || m.rows() < 4) return -1;
  for (std::size_t i = 0; i < 4; ++i)
    if (h.text[i] < '0' || h.text[i] > '9') return -1;
  const auto [first, last] = date_demo::year_span(source, std::stoi(h.text.substr(0, 4)));
  if (first < 0) return -1;
  return static_cast<double>(m.topRows(4).middleCols(first, last - first).sum()) / 4.0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::filesystem::path weights = default_weights();
    std::filesystem::path csv = "transformer_attention.csv";
    std::filesystem::path svg = "transformer_attention.svg";
    std::vector<std::string> dates;
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--weights" && i + 1 < argc) {
        weights = argv[++i];
      } else if (arg == "--csv" && i + 1 < argc) {
        csv = argv[++i];
      } else if (arg == "--svg" && i + 1 < argc) {
        svg = argv[++i];
      } else if (arg == "--help" || arg == "-h") {
        std::cout << "usage: attn_transformer_demo [--weights DIR] [--csv FILE] [--svg FILE] [date ...]\n";
        return 0;
      } else {
        dates.push_back(arg);
      }
    }
    if (dates.empty())
      dates = {"3rd of May 1998", "sun 05/03/98",        "May 3, 1998", "1998-05-03", "Saturday, December 31, 2016",
               "14.07.1989",      "feb 29 2024",         "1st of january 2000", "10 SEP 63", "JULY 20TH, 1969"};

    const auto model = transformer_demo::Model::load(weights);
    std::cout << "attn transformer demo: " << model.encoder.size() << " + " << model.decoder.size()
              << " layers, " << model.heads << " heads, d_model " << model.d_model << "; weights from "
              << weights.string() << "\n\n";

    const std::vector<Hypothesis> greedy = transformer_demo::greedy(model, dates);
    std::printf("  %-30s %-12s %s\n", "input", "greedy", "beam 4 (log-probability)");
    for (std::size_t i = 0; i < dates.size(); ++i) {
      const std::vector<Hypothesis> beam = transformer_demo::beam_search(model, dates[i], 4);
      std::printf("  %-30s %-12s", dates[i].c_str(), greedy[i].text.c_str());
      for (const Hypothesis& h : beam) std::printf(" %s (%.3f)", h.text.c_str(), h.score);
      std::printf("\n");
    }

    // Which heads align: year digits' attention on the input's year, per layer and head, averaged
    // over the dates whose year appears in the input.
    const Index layers = model.layers();
    const Index heads = model.heads;
    std::cout << "\nattention of the output's year digits on the input's year characters (mean over dates)\n";
    for (Index l = 0; l < layers; ++l) {
      std::printf("  layer %ld:", static_cast<long>(l));
      for (Index h = 0; h < heads; ++h) {
        double sum = 0;
        int count = 0;
        for (std::size_t i = 0; i < dates.size(); ++i) {
          const double s = year_share(greedy[i], greedy[i].cross[static_cast<std::size_t>(l * heads + h)], dates[i]);
          if (s >= 0) {
            sum += s;
            ++count;
          }
        }
        std::printf("  head %ld %5.1f%%", static_cast<long>(h), count > 0 ? 100.0 * sum / count : 0.0);
      }
      std::printf("\n");
    }

    // The first date's greedy cross-attention: long CSV and a grid of heatmaps (layers × heads).
    const Hypothesis& first = greedy.front();
    const std::vector<std::string> source = transformer_demo::characters(dates.front());
    std::vector<attn::io::CsvMap<float>> maps;
    std::vector<attn::io::HeatmapPanel> panels;
    for (Index l = 0; l < layers; ++l)
      for (Index h = 0; h < heads; ++h) {
        const auto& m = first.cross[static_cast<std::size_t>(l * heads + h)];
        maps.push_back({l, h, std::nullopt, m});
        panels.push_back(attn::io::heatmap_panel(m, "layer " + std::to_string(l) + ", head " + std::to_string(h),
                                                 first.target_tokens, source));
      }
    attn::io::write_csv_long(csv, maps, first.target_tokens, source);
    attn::io::HeatmapOptions options;
    options.title = "Cross-attention of \"" + dates.front() + "\" -> " + first.text + " (greedy)";
    options.row_axis_title = "output";
    options.col_axis_title = "input";
    options.colorbar_label = "weight";
    options.vmin = 0.0;
    options.vmax = 1.0;
    options.grid_columns = heads;
    attn::io::write_heatmap_grid_svg(svg, panels, options);
    std::cout << "\nwrote " << csv.string() << " (layer,head,query,key,query_token,key_token,weight; "
              << layers * heads << " maps of " << first.cross.front().rows() << " output tokens x "
              << source.size() << " input characters)\nwrote " << svg.string()
              << " (one panel per layer x head; rows: layers)\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "attn_transformer_demo: " << e.what() << "\n";
    return 1;
  }
}
