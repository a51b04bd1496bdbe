// SPDX-License-Identifier: MIT
// attn date demo: a trained character-level seq2seq model (GRU encoder, GRU decoder with Bahdanau
// attention; examples/date_demo/train.py) turns human-written dates into ISO 8601 in C++. The
// decoder runs on attn::AttentionLoop, which keeps every step's alignment; the demo prints each
// translation, draws the first one's alignment and writes it to alignments.csv (target tokens ×
// source characters), and every translation's alignment to alignments.html, the interactive
// view (attn::io::write_attention_view: one batch item per date).
//
// Usage: attn_date_demo [--weights DIR] [--csv FILE] [--html FILE] [date ...]
//   DIR defaults to examples/date_demo/weights next to this source file; FILE to alignments.csv
//   and alignments.html.

#include "date_demo/date_model.hpp"

#include <attn/io/csv.hpp>
#include <attn/io/viewer.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

std::filesystem::path default_weights() {
#ifdef ATTN_DATE_DEMO_WEIGHTS
  return ATTN_DATE_DEMO_WEIGHTS;
#else
  return std::filesystem::path(__FILE__).parent_path() / "date_demo" / "weights";
#endif
}

/// A text heatmap: one line per target token, one column per source character.
void draw(const date_demo::Translation& tr, const std::string& source) {
  const char* shades = " .:-=+*#%@";
  std::cout << "       " << source << "\n";
  for (Eigen::Index t = 0; t < tr.alignments.rows(); ++t) {
    std::string line;
    for (Eigen::Index j = 0; j < tr.alignments.cols(); ++j) {
      const float a = tr.alignments(t, j);
      line += shades[std::min(9, static_cast<int>(a * 9.0f + 0.5f))];
    }
    std::printf("%5s  %s\n", tr.target_tokens[static_cast<std::size_t>(t)].c_str(), line.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::filesystem::path weights = default_weights();
    std::filesystem::path csv = "alignments.csv";
    std::filesystem::path html = "alignments.html";
    std::vector<std::string> dates;
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--weights" && i + 1 < argc) {
        weights = argv[++i];
      } else if (arg == "--csv" && i + 1 < argc) {
        csv = argv[++i];
      } else if (arg == "--html" && i + 1 < argc) {
        html = argv[++i];
      } else if (arg == "--help" || arg == "-h") {
        std::cout << "usage: attn_date_demo [--weights DIR] [--csv FILE] [--html FILE] [date ...]\n";
        return 0;
      } else {
        dates.push_back(arg);
      }
    }
    if (dates.empty())
      dates = {"3rd of May 1998",  "sun 05/03/98", "Saturday, December 31, 2016", "14.07.1989",
               "feb 29 2024",      "10 SEP 63",    "1st of january 2000",         "July 20th, 1969"};

    const date_demo::Model model = date_demo::Model::load(weights);
    std::cout << "attn date demo: GRU encoder-decoder with Bahdanau attention, weights from " << weights.string()
              << "\n\n";
    std::vector<date_demo::Translation> translations;
    for (const std::string& date : dates) {
      translations.push_back(date_demo::translate(model, date));
      std::printf("  %-30s -> %s\n", date.c_str(), translations.back().text.c_str());
    }

    const date_demo::Translation& first = translations.front();
    std::cout << "\nalignment of \"" << dates.front() << "\" (rows: output tokens, columns: input characters)\n\n";
    draw(first, dates.front());
    const float share = date_demo::year_mass_share(first, dates.front());
    if (share > 0) std::printf("\nyear digits' attention on the input's year characters: %.1f%%\n", 100.0f * share);

    attn::io::write_csv(csv, first.alignments, first.target_tokens, first.source_tokens);
    std::cout << "\nwrote " << csv.string() << " (" << first.alignments.rows() << " output tokens x "
              << first.alignments.cols() << " input characters)\n";

    // The interactive view: one batch item per date, the decoder's alignment history as its layer.
    attn::io::AttentionView view;
    for (std::size_t k = 0; k < translations.size(); ++k) {
      const date_demo::Translation& tr = translations[k];
      view.add_item(dates[k])
          .add_attention("decoder alignment (Bahdanau)", tr.target_tokens, tr.source_tokens)
          .add_layer(tr.alignments, "alignment history");
    }
    attn::io::ViewOptions options;
    options.title = "Bahdanau attention of a trained date translator";
    options.separator = "";  // the source tokens are characters
    attn::io::write_attention_view(html, view, options);
    std::cout << "wrote " << html.string() << " (interactive view of the " << translations.size()
              << " translations; open it in a browser)\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "attn_date_demo: " << e.what() << "\n";
    return 1;
  }
}
