// SPDX-License-Identifier: MIT
// libFuzzer target for attn-plot's argument and file handling, in-process (attn_plot_main,
// tools/attn_plot.cpp compiled with ATTN_PLOT_NO_MAIN). Input, as text:
//
//   argv words, one per line (argv[0] is added)
//   %% NAME          then the bytes of the file NAME, up to the next "\n%% " line; repeatable
//
// Each run starts in an empty private temporary directory (the working directory of the whole
// fuzzer), writes the files, and runs attn-plot. Words never hold '/', and "." or ".." become
// "dot", so nothing outside that directory can be named. Checks: the exit status is 0, 1 or 2;
// an error is one "attn-plot: ..." message; a success writes a well-formed document
// (markup_check.hpp) to the output file or to standard output; no temporary file is left
// behind either way. Build and run: fuzz/run.sh (it passes absolute paths, since this target
// changes directory).
#define ATTN_PLOT_NO_MAIN
#include "../tools/attn_plot.cpp"

#include "markup_check.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace attn_plot_fuzzer {

void require(bool condition, const std::string& what) {
  if (condition) return;
  std::fprintf(stderr, "attn_plot_fuzzer: %s\n", what.c_str());
  std::abort();
}

std::string safe_word(std::string word) {
  for (char& c : word)
    if (c == '/') c = '_';
  if (word == "." || word == "..") word = "dot";
  return word;
}

std::set<std::string> entries() {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(fs::current_path())) names.insert(entry.path().filename().string());
  return names;
}

void clear_directory() {
  for (const auto& entry : fs::directory_iterator(fs::current_path())) fs::remove_all(entry.path());
}

/// What is wrong with an interactive view page (attn-plot --view), or "": valid UTF-8 without
/// control characters, exactly the page's two scripts, and a data block in which no label can
/// open or close markup (no '<', '>' or '&'); the page ends where it should.
std::string viewer_problem(const std::string& doc, const std::string& data_open) {
  for (std::size_t i = 0; i < doc.size();) {
    const auto c = static_cast<unsigned char>(doc[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\n' && c != '\t') return "control character at byte " + std::to_string(i);
      ++i;
      continue;
    }
    const std::size_t n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
    if (c < 0xC2 || c > 0xF4 || i + n >= doc.size()) return "bad UTF-8 at byte " + std::to_string(i);
    for (std::size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(doc[i + k]) & 0xC0u) != 0x80u) return "bad UTF-8 at byte " + std::to_string(i);
    i += n + 1;
  }
  std::size_t scripts = 0;
  for (std::size_t at = doc.find("</script>"); at != std::string::npos; at = doc.find("</script>", at + 1)) ++scripts;
  if (scripts != 2) return std::to_string(scripts) + " </script> tags, not 2";
  const std::size_t begin = doc.find(data_open) + data_open.size();
  const std::string data = doc.substr(begin, doc.find("</script>", begin) - begin);
  if (data.find_first_of("<>&") != std::string::npos) return "'<', '>' or '&' in the data block";
  if (data.empty() || data.front() != '{' || data.back() != '}') return "the data block is not one JSON object";
  if (doc.size() < 8 || doc.compare(doc.size() - 8, 8, "</html>\n") != 0) return "the page does not end with </html>";
  return {};
}

}  // namespace attn_plot_fuzzer

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char pattern[] = "/tmp/attn_plot_fuzzer.XXXXXX";
  const char* dir = mkdtemp(pattern);
  attn_plot_fuzzer::require(dir != nullptr && chdir(dir) == 0, "cannot make and enter a temporary directory");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using attn_plot_fuzzer::require;
  if (size > 8192) return -1;  // keep runs short: attn-plot's own limits are tested elsewhere
  attn_plot_fuzzer::clear_directory();
  const std::string text(reinterpret_cast<const char*>(data), size);

  // Words until the first "%% " line, then files.
  std::vector<std::string> words{"attn-plot"};
  std::size_t at = 0;
  while (at < text.size() && text.compare(at, 3, "%% ") != 0) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    if (words.size() < 24) words.push_back(attn_plot_fuzzer::safe_word(text.substr(at, end - at)));
    at = end + 1;
  }
  std::set<std::string> made;
  while (at < text.size()) {  // at "%% NAME\n"
    const std::size_t line_end = std::min(text.find('\n', at), text.size());
    std::string name = attn_plot_fuzzer::safe_word(text.substr(at + 3, line_end - at - 3));
    std::size_t body = std::min(line_end + 1, text.size());
    std::size_t next = text.find("\n%% ", body > 0 ? body - 1 : 0);
    if (next == std::string::npos) next = text.size();
    if (!name.empty() && name.size() < 64 && made.size() < 4 && made.count(name) == 0) {
      std::ofstream(name, std::ios::binary) << text.substr(body, next > body ? next - body : 0);
      made.insert(name);
    }
    at = next + 1;
  }
  const std::set<std::string> before = attn_plot_fuzzer::entries();

  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  std::ostringstream out;
  std::ostringstream err;
  const int status = attn_plot_main(static_cast<int>(words.size()), argv.data(), out, err);

  require(status == 0 || status == 1 || status == 2, "exit status " + std::to_string(status));
  const std::string message = err.str();
  // New entries may only be the output file (no temporary left behind, success or not).
  std::vector<std::string> added;
  for (const auto& name : attn_plot_fuzzer::entries())
    if (before.count(name) == 0) added.push_back(name);
  if (status != 0) {
    require(message.rfind("attn-plot: ", 0) == 0, "error message '" + message + "'");
    require(added.empty(), "a failed run left '" + (added.empty() ? std::string() : added.front()) + "'");
    return 0;
  }
  // A successful run writes nothing to standard error but notes: whole lines that begin
  // "attn-plot: note: " (a pooled PNG's, which has no title to say it; a 4-D file's axes; a
  // page's cell count; an alignment line's tokens), never a warning or an error.
  bool notes_only = message.empty() || message.back() == '\n';
  for (std::size_t at = 0; notes_only && at < message.size(); at = message.find('\n', at) + 1)
    notes_only = message.compare(at, 17, "attn-plot: note: ") == 0;
  require(notes_only, "a successful run wrote to standard error: " + message);
  require(added.size() <= 1, "a run left " + std::to_string(added.size()) + " new files");
  std::string document = out.str();
  if (!added.empty()) {
    std::ifstream in(added.front(), std::ios::binary);
    document.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    require(out.str().empty(), "wrote both a file and standard output");
  }
  const bool help = document.rfind("attn-plot", 0) == 0 || document.rfind("usage", 0) == 0;
  const std::string data_open = "<script type=\"application/json\" id=\"attn-data\">";
  const std::string png_signature("\x89PNG\r\n\x1a\n", 8);
  const std::string png_end("\0\0\0\0IEND\xae\x42\x60\x82", 12);
  if (document.rfind(png_signature, 0) == 0) {  // png output: whole (test_png.cpp checks its chunks)
    require(document.size() >= 8 + 25 + 12 && document.compare(document.size() - 12, 12, png_end) == 0,
            "a PNG that does not end with its IEND chunk");
    require(document.find(png_signature, 1) == std::string::npos, "two PNGs in one output");
  } else if (document.find(data_open) != std::string::npos) {  // --view: the interactive page
    const std::string problem = attn_plot_fuzzer::viewer_problem(document, data_open);
    require(problem.empty(), "viewer page: " + problem);
  } else if (!help && !document.empty()) {
    const std::string problem = attn_fuzz::markup_problem(document);
    require(problem.empty(), "output not well-formed: " + problem);
  }
  return 0;
}
