// SPDX-License-Identifier: MIT
// attn-plot: draws attention weights saved by any framework (.npy from NumPy/PyTorch/Keras,
// or .csv as attn writes it) as an SVG heatmap, bar chart or histogram, or as HTML text
// highlighting.
// Run `attn-plot --help` for the options. Exit status: 0 done, 1 bad input or I/O failure,
// 2 bad command line. The output file is written atomically: never half-written.

#include <attn/io/alignment_formats.hpp>
#include <attn/io/alignment_svg.hpp>
#include <attn/io/animation.hpp>
#include <attn/io/bars.hpp>
#include <attn/io/csv.hpp>
#include <attn/io/detail/write_file.hpp>
#include <attn/io/html.hpp>
#include <attn/io/npy.hpp>
#include <attn/io/npz.hpp>
#include <attn/io/png.hpp>
#include <attn/io/svg.hpp>
#include <attn/io/viewer.hpp>
#include <attn/monotonic_attention.hpp>  // attn::alignment_stats: --leaked

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <iterator>
#include <limits>
#include <locale>
#include <map>
#include <new>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage = "usage: attn-plot [OPTIONS] WEIGHTS -o OUTPUT    (attn-plot --help for more)";
constexpr const char* kViewUsage =
    "usage: attn-plot --view [OPTIONS] WEIGHTS... -o PAGE.html    (attn-plot --help for more)";
constexpr const char* kAnimateUsage =
    "usage: attn-plot --animate [OPTIONS] FRAMES... -o OUTPUT    (attn-plot --help for more)";

constexpr const char* kHelp = R"(attn-plot: draw attention weights as an SVG heatmap, bar chart or histogram, or as HTML
highlighted text.

usage: attn-plot [OPTIONS] WEIGHTS -o OUTPUT
       attn-plot --view [OPTIONS] WEIGHTS... -o PAGE.html
       attn-plot --animate [OPTIONS] FRAMES... -o OUTPUT

WEIGHTS is a NumPy .npy file, an array of a NumPy .npz archive, or a CSV file:
  .npy  0-D, 1-D (one row) or 2-D (Tq x Tk: rows are queries, columns are keys) gives one map;
        3-D (n x Tq x Tk), e.g. per-head weights, gives a grid of n maps on one colour scale
        (or one each: --color-scale per-map);
        4-D (L x h x Tq x Tk, Hugging Face's attentions of one item stacked; also L x 1 x h x
        Tq x Tk) an svg grid with a row per layer, "layer l, head i";
        more axes: pick a map or a grid with --index (leading axes of size 1 are dropped).
        float16/32/64 and little-endian integer types are read, C or Fortran order.
  .npz  (np.savez, np.savez_compressed) FILE.npz:NAME is its array NAME, FILE.npz alone its only
        array, read as a .npy file; as --animate's FRAMES, every array with a number in its name
        is a frame. The same goes for --truth and --mask files.
  .csv  a matrix in the wide form that attn::io::write_csv writes (numbers, with an optional
        header record of column labels and an optional first column of row labels); its
        labels become the token labels unless --rows / --cols are given.

Output (the format follows the extension of OUTPUT unless --format is given):
  .svg          a heatmap: query tokens down the left, key tokens along the top, a colour bar;
                a single row (1-D input or a 1 x T map) is drawn as bars instead, one bar per
                key token (earlier versions drew a strip a few pixels tall: --heatmap keeps it)
  .html, .htm   the key tokens shaded by their weight, one line per query, weights in tooltips;
                above 16384 cells, or with --raster always, the heatmap instead (the options of
                heatmaps, refused for text, then apply)
  .png          the cells of one map alone (no labels, title or colour bar), each a square of
                --cell pixels (default: the longer side of the image at least 256 pixels),
                compressed; --colormap, --reverse, --vmin, --vmax apply; a map above
                --max-cells is pooled (the note goes to standard error)

Interactive view (--view): one self-contained HTML page (no network request) with a head view
(query and key tokens joined by lines whose opacity is the weight; hover a token, toggle heads),
a model view (layers x heads), a zoomable map view with tooltips and a text view. WEIGHTS:
  .npy  5-D (L x B x h x Tq x Tk, torch.stack of Hugging Face's output_attentions): B batch
        items with a selector, each L layers of h heads; 4-D (L x h x Tq x Tk): L layers of h
        heads, or with --batch (B x h x Tq x Tk, torch's MultiheadAttention per-head weights) B
        items of one layer; 3-D (h x Tq x Tk): one layer; 2-D: one map (--index picks first, see
        below; what it leaves of a 5-D file keeps the axes' names: --index 0 gives B items)
  several files: one layer each (2-D or 3-D, all of one shape; 4-D and 5-D files go alone)
  .csv  the tidy form of attn::io::write_csv_long (columns [layer,][head,][step,]query,key,
        [query_token,][key_token,]weight): layers and heads as given, each step a batch item
        with a selector, tokens from its token columns; an extra column "attention" (e.g.
        encoder, cross, decoder) splits an item into attentions with their own tokens and shapes;
        or a wide matrix as above

Options (each taken once: an option given twice is refused, not replaced):
  -o, --output FILE        where to write (required); replaced atomically, never half-written;
                           "-" writes to standard output (then --format is needed)
  -f, --format svg|html|png  the output format, whatever the extension of FILE
  -r, --rows FILE          query tokens, one per line (UTF-8): labels of the rows
  -c, --cols FILE          key tokens, one per line (UTF-8): labels of the columns
      --chars FILE         html: highlight the characters of this UTF-8 text (one weight per
                           character, newlines included) instead of --cols tokens; one
                           newline (\n or \r\n) at the very end of FILE is not a character.
                           A character is what a reader sees as one (Unicode's grapheme
                           cluster): a code point with its combining marks, an Indic conjunct,
                           a Korean syllable, joined emoji (e + U+0301, क्ष, a family emoji, a
                           flag: one each). A T x 1 column of weights (Keras' (T, 1) output of
                           a Dense(1)) is highlighted as one line, as a 1 x T row is
      --code-points        with --chars: one weight per code point instead, as Python's
                           list(text) splits text (e + U+0301: two)
  -t, --title TEXT         title above the picture
      --row-title TEXT     svg: axis title beside the row labels (e.g. "target")
      --col-title TEXT     svg: axis title above the column labels (e.g. "source")
      --bars               svg: draw each row as bars, the key tokens on the x axis (several
                           rows: one panel per row, titled by its query token); the default
                           for a single row (1-D input, 1 x T map); --colormap colours
                           each bar by its value; the options of heatmaps alone (--values,
                           --reverse, --no-colorbar, --mask, ...) are refused
      --heatmap            svg: draw a single row as a heatmap strip, not as bars
      --hist [BINS]        svg: the histogram of all weights (all maps of a 3-D input), BINS
                           bins (default 20; taken when the next argument is a whole number);
                           --vmin and --vmax together give the range of the bins; NaN and
                           infinite weights are left out and counted in a note; token
                           labels and the options of heatmaps alone are refused
      --colormap NAME      svg: viridis (default; high weights bright) or greys (high dark)
      --reverse            svg: reverse the colour map
      --vmin X             low end of the colour scale (default: the smallest weight; html: 0,
                           see --highlight-scale)
      --vmax X             high end of the colour scale (default: the largest weight)
      --values             svg: print each weight in its cell (when the cells are big enough
                           and drawn as shapes, see --raster); html: after its token
      --decimals N         decimals of printed weights (svg: of --values, default 2; html: 3)
      --colorbar-label T   svg: label beside the colour bar (e.g. "weight")
      --origin upper|lower svg, png heatmaps: row 0 at the top (upper, the default: a matrix as
                           printed) or at the bottom (lower, matplotlib's origin='lower'); with
                           the weights transposed (np.save(path, w.T)), the speech convention:
                           decoder steps along x, encoder steps going up
      --color-scale shared|per-map
                           svg grids (3-D WEIGHTS, --reshape) and --truth pairs: one colour
                           scale for all maps (shared, the default: colours compare across
                           maps) or one per map, from its own smallest to largest weight (--vmin
                           / --vmax still fix that end of each), each with its own colour bar:
                           a weak head, or a soft alignment beside a one-hot truth, then shows
                           its pattern
      --no-colorbar        svg: leave the colour bar out
      --truth FILE         svg: a second map of the same shape (.npy or .csv), e.g. the ground
                           truth alignment, drawn with the first on one colour scale (or
                           one each: --color-scale per-map)
      --layout auto|beside|under  the --truth map and the weights side by side or one
                           under the other (default auto: under for wide maps, at least 4
                           times as many columns as rows such as 1 x T strips; beside others)
      --panel-titles LIST  svg: comma-separated titles of the maps of a grid (3-D input) or
                           of the two maps of --truth (default: "head 0", "head 1", ... (with
                           --batch "item 0", ...) and
                           "truth", "attention"); maps past the end of LIST keep the default,
                           more titles than maps are refused
      --grid-columns N     svg: maps per row of a grid (default: closest to square)
      --max-size PX        svg: the maps span at most PX pixels along each axis (default 720,
                           at least 16); a pooled map (--pool) has at most PX cells per axis
      --font-size PX       svg: labels and ticks (default 12, 4 to 200; titles 1.4 times
                           larger); for a paper, an SVG pixel is 0.75 pt at its natural size
      --font-family LIST   svg: the text's CSS font-family list, e.g. "Times New Roman, serif"
                           (default "DejaVu Sans, Verdana, Arial, sans-serif")
      --raster auto|always|never  svg: draw cells as an embedded image (auto: above 16384 cells);
                           html: above that (auto) or always, the page shows the map as such a
                           heatmap instead of highlighted text (not with --query or --chars)
      --mask causal|causal-lower-right|FILE
                           svg heatmaps, html and --view: draw the cells (html: the tokens) a
                           mask hid hatched (not in a colour of the scale), named in the
                           legend: "causal" hides keys after the query (with --query N, those
                           after token N), row i against key i, as PyTorch's is_causal;
                           "causal-lower-right" pairs the last row with the last key, for
                           Tq < Tk queries that are the last of the keys (decoding with a
                           cache, a forecast's horizons), as torch's causal_lower_right (a
                           note says when a causal mask hides weight: not the mask the
                           weights were computed with); FILE (.npy or .csv, the
                           shape of the weights) is visible where non-zero (negative
                           entries, as in PyTorch's float attn_mask, are refused: save
                           attn_mask == 0; a FILE that hides every cell holding weight, as
                           torch's boolean mask saved as is, too: save ~attn_mask); a
                           1 x Tk or Tq x 1 FILE (one value per key or query) applies to
                           every row or column; a 3-D FILE holds one mask per map of a
                           grid, or per batch item with --view or --batch (B x Tq x Tk, or
                           B x 1 x Tk: each item's padding, for all its heads);
                           a pooled map (--pool) takes the causal masks, hiding the blocks
                           they hide whole
      --leaked             svg heatmaps: a "leaked" column right of each map, a bar per row of
                           1 - the row's sum (clamped to [0, 1]; below 1e-6, rounding, is 0;
                           none for a row holding NaN or inf):
                           the mass a monotonic step let run past the last key, which a faded
                           row alone does not tell
      --query N            html: only the line of query N (0-based)
      --color #RRGGBB      html: the shade of the highest weight (default #e6550d); bars and
                           histograms: the colour of the bars (default #31688e)
      --highlight-scale from-zero|min-max
                           html: white is weight 0 (from-zero, the default: shades compare
                           across pages) or the smallest weight shown (min-max, like pandas'
                           background_gradient); the most attended token has the full colour
      --separator TEXT     html: text between tokens (default: one space; "" with --chars)
      --lang TAG           html: the tokens' language as a BCP 47 tag (de, he, zh-Hans), so
                           that screen readers speak them in it (default: unknown)
      --isolate-tokens     html: lay each token out on its own, as the items of a list (film or
                           product titles mixing Hebrew or Arabic with Latin keep the line's
                           order, each weight beside its title); not for sentences
      --index I[,J...]     .npy WEIGHTS: pick along the leading axes, as NumPy's w[I, J] (-1 is the
                           last): e.g. Hugging Face's per-layer (batch, heads, T, T) with --index 0
                           draws batch item 0's heads as a grid, --index 0,3 its head 3; leading
                           axes of size 1 are dropped without it ((1, h, T, T) is h maps).
                           ':' keeps a whole axis: TF's alignment_history.stack(), (T_out, B,
                           T_in), with --index :,0 draws item 0's T_out x T_in alignment.
                           Without --title, the title names the part: "w.npy[0, 3]"
      --reshape R,C        svg, png: draw each row (a query's weights over the keys) as an R x C
                           map of its last R*C weights in row-major order, NumPy's
                           w[q, -R*C:].reshape(R, C): a vision transformer's class token over
                           its patches, which come after the class (and register) tokens in
                           row-major order (ViT-B/16 at 224 px: --index 0,0 --reshape 14,14 on a
                           layer's (h, 197, 197) weights; --index :,0 gives every head's). Maps
                           with fewer than R*C keys but at least R*C queries are reshaped by
                           column: cross-attention from a 16x16 latent to a prompt's tokens,
                           a map per token titled by --cols. Each map is titled by its row's
                           (column's) label (--rows, --cols), else "query q" ("key k");
                           the title says which weights were drawn; all maps share one
                           colour scale (--color-scale per-map: one each). Not with --truth,
                           --mask, --leaked, --bars, --hist or --pool
      --max-maps N         refuse inputs with more than N maps (default 1024)
      --max-cells N        refuse inputs with more than N cells over all maps (default 4194304);
                           a 2-D float .npy above it is pooled instead (--pool); hard links
                           are refused when their largest indices make a picture above it
      --pool mean|max      pool a 2-D float16/32/64 .npy map, read by memory map (never held
                           whole), to at most --max-size cells per axis: each drawn cell is the
                           mean (default) or the maximum of a block of cells; the title says so.
                           Done without this option when the map exceeds --max-cells, and
                           (svg, html) when it has more rows or columns than --max-size (a
                           cell would be smaller than a pixel) unless labels, --query, --chars,
                           --truth, a mask file, --raster never or --hist need every cell. A pooled
                           map takes no --rows/--cols/--chars (a block has no token); 3-D
                           stacks and --view are not pooled
      --max-bytes N        refuse to write more than N bytes of output (default 268435456), or
                           a PNG of more than N bytes of pixels before compression
      --view               write the interactive view (above) instead of a picture; takes
                           several WEIGHTS files (one per layer), or one .npz of several
                           arrays (one per layer, in the order of the numbers in their
                           names: np.savez's arr_0, arr_1, ...); -r/-c/-t and --colormap
                           apply, --color and --separator set the text view's shade and the
                           text between its tokens; the picture options (--vmin, --vmax,
                           --reverse, --values, ...) are refused
      --batch              the first axis of WEIGHTS is batch items: --view of a 4-D file
                           B x h x Tq x Tk (torch.nn.MultiheadAttention's weights with
                           average_attn_weights=False), not L x h x Tq x Tk; --view or an svg
                           grid of a 3-D file B x Tq x Tk (torch's weights averaged over
                           heads, a Keras Attention layer's scores), not h x Tq x Tk: items
                           "item 0", ... instead of heads (a 4-D svg grid: "item b, head i")
      --view-start auto|head|model|map|text
                           --view: the view the page opens with (default auto: head while
                           every map has at most 128 queries and keys, map above)
      --view-precision auto|float32|uint16|uint8
                           --view: how each map is stored (default auto: float32 up to 2^20
                           cells in all, then uint16, then uint8 above 4 * 2^20 cells, said on
                           standard error; quantised values are within (max - min) / 131064
                           (uint16) or (max - min) / 504 (uint8) of the map's float32 values,
                           shown with ≈ and the decimals that resolves; NaN and ±inf exact)
      --csv-labels auto|none|rows|cols|both
                           which labels a CSV file has (default auto: a header record is
                           detected by a field that is not a number, row labels likewise)
Word alignments (svg only): WEIGHTS may also be an alignment file (any extension but .npy
and .csv): Pharaoh "i-j" links (fast_align, atools; "ipj" / "i?j" possible links), fairseq
generate output (its "A-<id>" lines, --print-alignment hard or soft) or Marian output
(--alignment hard or soft: "translation ||| alignment"). A soft alignment without --gold is
drawn as a heatmap; everything else as the alignment picture: rows are target tokens (--rows),
columns source tokens (--cols). fairseq output labels them itself (its S- line and the H- line
the alignment follows), Marian output its rows (the translation), where --rows / --cols do not
and the token counts fit.
      --gold FILE          Pharaoh gold standard ("i-j" sure, "ipj" or "i?j" possible links, one
                           line per sentence pair): draws the hypothesis over it (hit, possible
                           hit, miss, possible link not found, false alarm, with a legend) and
                           prints precision, recall and AER (Och & Ney) of the sentence drawn and,
                           for alignment files, of all sentences (to standard error with -o -).
                           With .npy / .csv weights the hypothesis is each row's largest weight
      --align-format auto|pharaoh|fairseq|marian
                           the format of an alignment WEIGHTS file (default auto: "A-<id><tab>"
                           lines are fairseq, "|||" or commas Marian, else Pharaoh)
      --sentence N         which sentence pair to draw (default 0): fairseq's sample id, else
                           the 0-based line (Marian n-best: its sentence number); also the line
                           of --gold
      --link-order src-tgt|tgt-src
                           which index comes first in Pharaoh links, of WEIGHTS and --gold
                           (default src-tgt, as fast_align, fairseq and Marian write them;
                           attn::io::write_pharaoh writes tgt-src, i.e. row-column)
      --threshold X        soft alignments and weights: the hypothesis is every weight above X
                           instead of each target token's largest weight
      --eos auto|drop|keep
                           the end-of-sentence token: fairseq's and Marian's soft alignments
                           have a row for the target's </s> (the last) and a column for the
                           source's (the last), and Marian's hard links link the two </s>;
                           auto (default) drops them for alignment files, as fairseq's hard
                           links and gold standards leave them out, and keeps .npy / .csv
                           weights as they are; drop / keep: always. Dropped, --rows / --cols
                           list the words without </s>

Training animation (--animate): attention of a few samples after every epoch, beside the truth
      --animate            one frame per file: FRAMES... are epoch_1.npy, epoch_2.npy, ...
                           or a directory (its .npy files with a number in their names),
                           sorted by that number (epoch_2 before epoch_10), which is the
                           frame's step; the name is its title ("epoch 10"). Each file holds
                           one map (2-D) or one map per sample (3-D: n x Tq x Tk). Writes an
                           HTML page (slider, play/pause, one colour scale for every frame
                           and the truth, maps embedded quantised to 16 bits) or, with
                           -o FILE.svg and --frames, a grid of chosen frames; -r/-c label
                           every map's rows and columns (one token per row / column)
      --truth FILE         with --animate: the ground truth, one map per sample (2-D or 3-D),
                           drawn beside each sample's map, or under it (--layout; by
                           default under a wide map)
      --frames LIST        svg grid: the frames to show, by the number in their file names
                           (e.g. 1,5,10); one row per sample, the truth in the last column
                           (maps 4+ times as wide as tall, as 1 x T: a column per sample,
                           a row per frame, the truth last)
      --frame-ms N         html: milliseconds per frame when playing (20..60000, default 600)
      --cell PX            html: pixels per cell (1..64; default: about 240 x 240 px per map,
                           720 px at most along a side: a 1 x 50 row gets 14 px cells);
                           also for png output (above)
      --precision uint16|uint8
                           html: how the maps are embedded (default uint16: within 1/131064 of
                           each map's range; uint8: within 1/504, half the size)
      --panel-titles LIST  with --animate: the titles of the samples (default "sample 0", ...;
                           as for svg, more titles than samples are refused)

  -h, --help               this help
      --version            the attn version

Exit status: 0 done, 1 bad input file or I/O failure, 2 bad command line.

Examples:
  attn-plot weights.npy --rows target.txt --cols source.txt -t "Attention" -o attention.svg
  attn-plot heads.npy --grid-columns 4 -o heads.svg             # per-head weights h x Tq x Tk
  attn-plot epoch9.npy --truth alignment.npy --layout beside -o epoch9.svg
  attn-plot weights.csv --query 2 -o sentence.html               # labels from the CSV
  attn-plot pooling.npy --chars review.txt -o review.html        # 1 x n character weights
  attn-plot pooling.npy --cols tokens.txt -o pooling.svg         # 1 x n weights as bars
  attn-plot weights.npy --hist 30 -o histogram.svg               # histogram of all weights
  attn-plot --view bert.npy -r tokens.txt -c tokens.txt -o view.html   # L x h x T x T, interactive
  attn-plot --view layer0.npy layer1.npy -o view.html            # one h x Tq x Tk file per layer
  attn-plot generate.out --gold gold.talp --sentence 3 -o a3.svg # fairseq A- lines vs gold
  attn-plot weights.npy --gold gold.talp --rows tgt.txt --cols src.txt -o vs_gold.svg
  attn-plot --animate epoch_*.npy --truth mask.npy -o training.html   # training animation
  attn-plot --animate runs/ --truth mask.npy --frames 1,5,10 -o training.svg  # grid of 3 epochs
)";

/// A command-line mistake: exit status 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Whether the regular file `path` starts with the 4 bytes `magic`.
bool starts_with_magic(const std::string& path, const char (&magic)[5]) {
  std::error_code error;
  if (path.empty() || !fs::is_regular_file(path, error)) return false;
  std::ifstream in(path, std::ios::binary);
  char head[4] = {};
  return in.read(head, 4) && std::string(head, 4) == std::string(magic, 4);
}

/// Whether `path` is a regular file that starts as a ZIP archive (NumPy's .npz, a torch.save file).
bool is_zip_file(const std::string& path) { return starts_with_magic(path, "PK\x03\x04"); }

/// What picture the regular file `path` is, from its first bytes: "an SVG picture", "an HTML
/// page", "a PNG image", or "" for anything else. (attn-plot's own output given back as WEIGHTS
/// was read as an alignment file: "'<?xml' is not a finite number".)
std::string picture_kind(const std::string& path) {
  if (starts_with_magic(path, "\x89PNG")) return "a PNG image";
  std::error_code error;
  if (path.empty() || !fs::is_regular_file(path, error)) return "";
  std::ifstream in(path, std::ios::binary);
  std::string head(512, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  std::size_t start = head.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;  // a UTF-8 BOM
  while (start < head.size() && std::isspace(static_cast<unsigned char>(head[start]))) ++start;
  if (start >= head.size() || head[start] != '<') return "";
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (head.find("<html") != std::string::npos || head.find("<!doctype html") != std::string::npos) return "an HTML page";
  if (head.find("<svg") != std::string::npos) return "an SVG picture";
  return "";
}

/// The archive an input names, for the check that OUTPUT is no input: FILE of FILE.npz:NAME.
std::string archive_of(const std::string& path) {
  const std::size_t colon = path.rfind(':');
  std::error_code error;
  if (colon == std::string::npos || colon == 0 || fs::exists(path, error)) return path;
  return is_zip_file(path.substr(0, colon)) ? path.substr(0, colon) : path;
}

/// An --index entry ':' (NumPy's whole axis), among the integer indices.
constexpr long long whole_axis = std::numeric_limits<long long>::min();

struct Arguments {
  std::string weights;
  std::string output;
  std::string format;
  std::string rows_file;
  std::string cols_file;
  std::string chars_file;
  bool code_points = false;  // --chars split into code points, not characters
  std::string title;
  std::string row_title;
  std::string col_title;
  std::string colormap = "viridis";
  bool colormap_given = false;  // bars: coloured by value only when asked
  bool reverse = false;
  bool bars = false;
  bool heatmap = false;
  std::optional<long long> hist;  // bins
  bool leaked = false;            // --leaked: a bar per row of 1 - its sum
  std::optional<double> vmin;
  std::optional<double> vmax;
  bool values = false;
  std::optional<int> decimals;
  std::string colorbar_label;
  bool colorbar = true;
  std::string color_scale = "shared";  // --color-scale shared|per-map
  std::string origin = "upper";        // --origin upper|lower: where row 0 is drawn
  std::string truth;
  std::string layout = "auto";
  std::optional<std::vector<std::string>> panel_titles;
  long long grid_columns = 0;
  double max_size = 720;
  double font_size = 12;               // --font-size PX: svg labels and ticks
  std::string font_family;             // --font-family LIST: svg text (empty: the default)
  std::string raster = "auto";
  std::optional<long long> query;
  std::optional<std::string> color;
  std::optional<std::string> separator;
  std::optional<std::string> lang;  // --lang TAG: the highlighted tokens' language
  bool isolate_tokens = false;      // --isolate-tokens: HighlightOptions::isolate_tokens
  std::string highlight_scale = "from-zero";
  std::string csv_labels = "auto";
  std::string mask;  // --mask: "causal", "causal-lower-right" or a file (is_causal_keyword)
  long long max_maps = 1024;
  long long max_cells = 4194304;
  std::optional<std::string> pool;  // --pool mean|max (pool_npy_map)
  std::vector<long long> index;     // --index: picked along the leading axes of a .npy (select_npy)
  std::optional<std::pair<long long, long long>> reshape;  // --reshape R,C (reshaped_maps)
  std::string weights_named;        // WEIGHTS as given (weights: an .npz member's temporary file)
  long long max_bytes = 268435456;
  // --view (the interactive viewer page): the extra WEIGHTS files, one per layer
  bool view = false;
  bool batch = false;  // --batch: a 4-D --view file is batch x heads x Tq x Tk
  std::string view_start = "auto";
  std::string view_precision = "auto";
  std::vector<std::string> more_weights;
  // Word alignments (run_alignment)
  std::string gold;
  std::string align_format = "auto";
  long long sentence = 0;
  std::string link_order = "src-tgt";
  std::optional<double> threshold;
  std::string eos = "auto";  // --eos: the </s> row and column of soft alignments
  // --animate (training animation): every positional file, the chosen frames, the page's look.
  bool animate = false;
  std::vector<std::string> inputs;
  std::optional<std::vector<long long>> frames;  // steps, as numbered in the file names
  std::optional<long long> frame_ms;
  std::optional<long long> cell;
  std::string precision = "uint16";
};

/// Whether --mask names a causal mask rather than a file. "causal" pairs query i with key i, the
/// top-left alignment of PyTorch's is_causal (torch.nn.attention.bias.causal_upper_left);
/// "causal-lower-right" pairs the last query with the last key (causal_lower_right): Tq < Tk
/// queries at the end of the keys, as when decoding with a cache or forecasting horizons. The
/// two agree on square maps. (A file of either name is read with ./causal.)
bool is_causal_keyword(const std::string& mask) { return mask == "causal" || mask == "causal-lower-right"; }

/// The offset of the causal --mask `keyword` over rows×cols weights: query i sees keys
/// j <= i + offset, 0 for causal, cols - rows for causal-lower-right (rows > cols: its first rows
/// see no key).
long long causal_offset(const std::string& keyword, long long rows, long long cols) {
  return keyword == "causal" ? 0 : cols - rows;
}

/// The causal --mask `keyword` of rows×cols weights (causal_offset).
attn::Mask causal_mask(const std::string& keyword, attn::Index rows, attn::Index cols) {
  return attn::Mask::causal(static_cast<attn::Index>(causal_offset(keyword, rows, cols)));
}

double parse_double(const std::string& option, const std::string& text) {
  std::istringstream in(text);
  in.imbue(std::locale::classic());
  double value = 0;
  in >> value;
  if (!in || in.peek() != std::char_traits<char>::eof() || !std::isfinite(value)) {
    throw usage_error(option + " needs a finite number, not '" + text + "'");
  }
  return value;
}

long long parse_integer(const std::string& option, const std::string& text, long long min, long long max) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < min || value > max) {
    throw usage_error(option + " needs an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                      "], not '" + text + "'");
  }
  return value;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::string part;
  for (const char c : text) {
    if (c == ',') {
      parts.push_back(part);
      part.clear();
    } else {
      part.push_back(c);
    }
  }
  parts.push_back(part);
  return parts;
}

/// `text` when it is one of `choices`, else a usage error listing them as the help text does:
/// "--layout must be auto, beside or under, not 'left'".
std::string one_of(const char* option, const std::string& text, std::initializer_list<const char*> choices) {
  std::string listed;
  std::size_t k = 0;
  for (const char* choice : choices) {
    if (text == choice) return text;
    listed += (k == 0 ? "" : k + 1 == choices.size() ? " or " : ", ") + std::string(choice);
    ++k;
  }
  throw usage_error(std::string(option) + " must be " + listed + ", not '" + text + "'");
}

// --- training animation (--animate): command line ------------------------------------------

/// The options of --animate; returns false for any other argument. `value()` takes the
/// option's value, `flag()` refuses one.
template <typename Value, typename Flag>
bool parse_animation_option(Arguments& a, const std::string& arg, const Value& value, const Flag& flag) {
  if (arg == "--animate") {
    flag();
    a.animate = true;
  } else if (arg == "--frames") {
    std::vector<long long> steps;
    for (const std::string& part : split_commas(value())) {
      steps.push_back(parse_integer("--frames", part, std::numeric_limits<long long>::min(),
                                    std::numeric_limits<long long>::max()));
    }
    a.frames = steps;
  } else if (arg == "--frame-ms") {
    a.frame_ms = parse_integer(arg, value(), 20, 60000);
  } else if (arg == "--cell") {
    a.cell = parse_integer(arg, value(), 1, 64);
  } else if (arg == "--precision") {
    a.precision = one_of("--precision", value(), {"uint16", "uint8"});
  } else {
    return false;
  }
  return true;
}

/// What --animate cannot be combined with, and its options without it.
void check_animation_arguments(const Arguments& a) {
  if (!a.animate) {
    if (a.frames || a.frame_ms || a.precision != "uint16") {
      throw usage_error("--frames, --frame-ms and --precision are for --animate");
    }
    if (a.cell && a.format != "png") throw usage_error("--cell is for --animate and png output");
    return;
  }
  if (a.bars || a.heatmap || a.hist || a.query || !a.chars_file.empty() || a.grid_columns != 0) {
    throw usage_error("--animate cannot be used with --bars, --heatmap, --hist, --query, --chars or --grid-columns");
  }
  if (a.format == "svg" && !a.frames) {
    throw usage_error("--animate with svg output draws a grid of chosen frames: give --frames LIST (e.g. --frames 1,5,10)");
  }
  if (a.format == "html" && a.frames) throw usage_error("--frames is for the svg grid (-o FILE.svg)");
}

/// Whether `path` ends in `extension` (".npy"), in any case.
bool has_extension(const std::string& path, const char* extension) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e == extension;
}

/// PNG output is the map's cells alone, one colour each: what draws anything else is refused
/// (rather than silently left out), and so are the modes that write pages or grids.
/// Throws "OPTION WHY" for the first option of `options` that was given ({name, given}).
void refuse_given(const std::vector<std::pair<const char*, bool>>& options, const std::string& why) {
  for (const auto& [option, given] : options) {
    if (given) throw usage_error(std::string(option) + why);
  }
}

void check_png_arguments(const Arguments& a) {
  if (a.format != "png") return;
  if (a.animate) throw usage_error("--animate writes an HTML page or an svg grid, not png");
  const std::vector<std::pair<const char*, bool>> refused{
      {"--rows", !a.rows_file.empty()},
      {"--cols", !a.cols_file.empty()},
      {"--chars", !a.chars_file.empty()},
      {"--title", !a.title.empty()},
      {"--row-title", !a.row_title.empty()},
      {"--col-title", !a.col_title.empty()},
      {"--bars", a.bars},
      {"--heatmap", a.heatmap},
      {"--hist", a.hist.has_value()},
      {"--values", a.values},
      {"--decimals", a.decimals.has_value()},
      {"--colorbar-label", !a.colorbar_label.empty()},
      {"--no-colorbar", !a.colorbar},
      {"--truth", !a.truth.empty()},
      {"--layout", a.layout != "auto"},
      {"--panel-titles", a.panel_titles.has_value()},
      {"--grid-columns", a.grid_columns != 0},
      {"--raster", a.raster != "auto"},
      {"--mask", !a.mask.empty()},
      {"--query", a.query.has_value()},
      {"--color", a.color.has_value()},
      {"--highlight-scale", a.highlight_scale != "from-zero"},
      {"--separator", a.separator.has_value()},
      {"--lang", a.lang.has_value()},
      {"--isolate-tokens", a.isolate_tokens},
      {"--gold", !a.gold.empty()},
      {"--font-size", a.font_size != Arguments().font_size},
      {"--font-family", !a.font_family.empty()},
  };
  refuse_given(refused, " is not for png output: a PNG holds the map's cells alone (no labels, titles, "
                        "colour bar or other pictures); write svg or html for those");
}

/// The long option of the help text nearest to the unknown `arg` ("--colour-map": "--colormap",
/// "--out": "--output"), by edit distance (an option it begins: 1), or "" when none is within a
/// third of its length (at least 2 edits).
std::string nearest_option(const std::string& arg) {
  const std::string_view help(kHelp);
  std::vector<std::string> known;
  for (std::size_t at = help.find("--"); at != std::string_view::npos; at = help.find("--", at + 2)) {
    std::size_t end = at + 2;
    while (end < help.size() && (std::islower(static_cast<unsigned char>(help[end])) || help[end] == '-')) ++end;
    if (end > at + 3 && (at == 0 || help[at - 1] == ' ' || help[at - 1] == '(')) known.emplace_back(help.substr(at, end - at));
  }
  const auto distance = [](const std::string& x, const std::string& y) {  // Levenshtein, one row
    std::vector<std::size_t> row(y.size() + 1);
    for (std::size_t j = 0; j <= y.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= x.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= y.size(); ++j) {
        const std::size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (x[i - 1] == y[j - 1] ? 0 : 1)});
        diagonal = above;
      }
    }
    return row[y.size()];
  };
  const std::string name = arg.substr(0, arg.find('='));
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, name.size() / 3) + 1;
  for (const std::string& option : known) {
    // A shortened option ("--out") is one edit from the whole one.
    const std::size_t d = name.size() > 4 && option.rfind(name, 0) == 0 ? 1 : distance(name, option);
    if (d < best_distance) {
      best_distance = d;
      best = option;
    }
  }
  return best;
}

/// Returns nullopt for --help / --version (already answered).
std::optional<Arguments> parse_arguments(int argc, char** argv, std::ostream& out) {
  Arguments a;
  std::vector<std::string> positional;
  // Each option is taken once: a second one would silently replace the first (argparse's way),
  // and "--mask causal --mask pad.npy" drew the padding alone. -o and --output are one option.
  std::map<std::string, std::string> given;  // option's long name -> as it was written
  const std::map<std::string, std::string> long_names{{"-o", "--output"}, {"-f", "--format"}, {"-r", "--rows"},
                                                      {"-c", "--cols"},   {"-t", "--title"}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
      const auto eq = arg.find('=');
      if (eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg.erase(eq);
      }
    }
    if (arg.size() > 1 && arg[0] == '-' && arg != "--") {
      const auto short_name = long_names.find(arg);
      const std::string name = short_name == long_names.end() ? arg : short_name->second;
      const auto [first, fresh] = given.emplace(name, arg);
      if (!fresh) {
        throw usage_error(arg + " is given twice" + (first->second != arg ? " (as " + first->second + " before)" : "") +
                          ": each option is taken once" +
                          (name == "--mask" ? "; for two masks at once save the cells both leave visible as one "
                                              "FILE, e.g. np.tril(np.ones((T, T))) * pad for causal and padding"
                                            : ""));
      }
    }
    const auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) throw usage_error(arg + " needs a value");
      return argv[++i];
    };
    const auto flag = [&] {
      if (inline_value) throw usage_error(arg + " takes no value");
    };
    if (arg == "-h" || arg == "--help") {
      out << kHelp;
      return std::nullopt;
    } else if (arg == "--version") {
      out << "attn-plot " << ATTN_VERSION_MAJOR << "." << ATTN_VERSION_MINOR << "." << ATTN_VERSION_PATCH << "\n";
      return std::nullopt;
    } else if (arg == "-o" || arg == "--output") {
      a.output = value();
    } else if (arg == "-f" || arg == "--format") {
      a.format = one_of("--format", value(), {"svg", "html", "png"});
    } else if (arg == "-r" || arg == "--rows") {
      a.rows_file = value();
    } else if (arg == "-c" || arg == "--cols") {
      a.cols_file = value();
    } else if (arg == "--chars") {
      a.chars_file = value();
    } else if (arg == "--code-points") {
      a.code_points = true;
    } else if (arg == "-t" || arg == "--title") {
      a.title = value();
    } else if (arg == "--row-title") {
      a.row_title = value();
    } else if (arg == "--col-title") {
      a.col_title = value();
    } else if (arg == "--colormap") {
      a.colormap = value();
      a.colormap_given = true;
      try {
        (void)attn::io::parse_colormap(a.colormap);  // the names it knows
      } catch (const attn::invalid_argument&) {
        throw usage_error("--colormap must be viridis or greys, not '" + a.colormap + "'" +
                          (attn::io::detail::is_matplotlib_gray(a.colormap)
                               ? " (matplotlib's gray, white for the high weights, is --colormap greys --reverse)"
                               : ""));
      }
    } else if (arg == "--bars") {
      flag();
      a.bars = true;
    } else if (arg == "--heatmap") {
      flag();
      a.heatmap = true;
    } else if (arg == "--hist") {
      a.hist = 20;
      std::string bins;
      if (inline_value) {
        bins = *inline_value;
      } else if (i + 1 < argc && argv[i + 1][0] != '\0' &&
                 std::all_of(argv[i + 1], argv[i + 1] + std::char_traits<char>::length(argv[i + 1]),
                             [](char c) { return c >= '0' && c <= '9'; })) {
        bins = argv[++i];
      }
      if (!bins.empty()) a.hist = parse_integer(arg, bins, 1, 100000);
    } else if (arg == "--reverse") {
      flag();
      a.reverse = true;
    } else if (arg == "--vmin") {
      a.vmin = parse_double(arg, value());
    } else if (arg == "--vmax") {
      a.vmax = parse_double(arg, value());
    } else if (arg == "--values") {
      flag();
      a.values = true;
    } else if (arg == "--decimals") {
      a.decimals = static_cast<int>(parse_integer(arg, value(), 0, 10));
    } else if (arg == "--colorbar-label") {
      a.colorbar_label = value();
    } else if (arg == "--origin") {
      a.origin = one_of("--origin", value(), {"upper", "lower"});
    } else if (arg == "--color-scale") {
      a.color_scale = one_of("--color-scale", value(), {"shared", "per-map"});
    } else if (arg == "--no-colorbar") {
      flag();
      a.colorbar = false;
    } else if (arg == "--truth") {
      a.truth = value();
    } else if (arg == "--layout") {
      a.layout = one_of("--layout", value(), {"auto", "beside", "under"});
    } else if (arg == "--panel-titles") {
      a.panel_titles = split_commas(value());
    } else if (arg == "--grid-columns") {
      a.grid_columns = parse_integer(arg, value(), 1, 1000000);
    } else if (arg == "--max-size") {
      a.max_size = parse_double(arg, value());
      if (a.max_size < 16 || a.max_size > 100000) throw usage_error("--max-size must be in [16, 100000] pixels");
    } else if (arg == "--font-family") {
      a.font_family = value();
      if (a.font_family.empty()) throw usage_error("--font-family must name a font, e.g. \"Times New Roman, serif\"");
    } else if (arg == "--font-size") {
      a.font_size = parse_double(arg, value());
      if (!(a.font_size >= 4 && a.font_size <= 200)) throw usage_error("--font-size must be in [4, 200] pixels");
    } else if (arg == "--raster") {
      a.raster = one_of("--raster", value(), {"auto", "always", "never"});
    } else if (arg == "--query") {
      a.query = parse_integer(arg, value(), 0, std::numeric_limits<long long>::max());
    } else if (arg == "--color") {
      a.color = value();
    } else if (arg == "--highlight-scale") {
      a.highlight_scale = one_of("--highlight-scale", value(), {"from-zero", "min-max"});
    } else if (arg == "--isolate-tokens") {
      flag();
      a.isolate_tokens = true;
    } else if (arg == "--lang") {
      a.lang = value();
      if (!attn::io::detail::is_language_tag(*a.lang))
        throw usage_error("--lang '" + *a.lang + "' must be a BCP 47 tag such as de, he or zh-Hans (subtags of 1 to 8 "
                          "letters or digits joined by '-', the first letters)");
    } else if (arg == "--separator") {
      a.separator = value();
    } else if (arg == "--max-maps") {
      a.max_maps = parse_integer(arg, value(), 1, std::numeric_limits<long long>::max());
    } else if (arg == "--pool") {
      a.pool = one_of("--pool", value(), {"mean", "max"});
    } else if (arg == "--index") {
      a.index.clear();
      const std::string text = value();
      for (const std::string& part : split_commas(text)) {
        if (part == ":") {  // NumPy's whole axis: w[:, 0] of TF's time-major (T_out, B, T_in) history
          a.index.push_back(whole_axis);
          continue;
        }
        std::size_t used = 0;
        try {
          a.index.push_back(std::stoll(part, &used));
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != part.size() || a.index.back() == whole_axis) {
          throw usage_error("--index needs comma-separated integers or ':', NumPy's indices of the leading axes "
                            "(e.g. 2,0 for w[2, 0]; -1 is the last; :,0 for w[:, 0]), not '" + text + "'");
        }
      }
    } else if (arg == "--reshape") {
      const std::string text = value();
      std::string sizes = text;
      std::replace(sizes.begin(), sizes.end(), 'x', ',');
      const std::vector<std::string> parts = split_commas(sizes);
      if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
        throw usage_error("--reshape needs the rows and columns of the grid, R,C (e.g. 14,14 for ViT's patches), not '" +
                          text + "'");
      }
      a.reshape = std::make_pair(parse_integer(arg, parts[0], 1, 1000000), parse_integer(arg, parts[1], 1, 1000000));
    } else if (arg == "--max-cells") {
      a.max_cells = parse_integer(arg, value(), 1, std::numeric_limits<long long>::max());
    } else if (arg == "--max-bytes") {
      a.max_bytes = parse_integer(arg, value(), 1, std::numeric_limits<long long>::max());
    } else if (arg == "--csv-labels") {
      a.csv_labels = one_of("--csv-labels", value(), {"auto", "none", "rows", "cols", "both"});
    } else if (arg == "--view") {
      flag();
      a.view = true;
    } else if (arg == "--batch") {
      flag();
      a.batch = true;
    } else if (arg == "--view-start") {
      a.view_start = one_of("--view-start", value(), {"auto", "head", "model", "map", "text"});
    } else if (arg == "--view-precision") {
      a.view_precision = one_of("--view-precision", value(), {"auto", "float32", "uint16", "uint8"});
    } else if (arg == "--gold") {
      a.gold = value();
    } else if (arg == "--align-format") {
      a.align_format = one_of("--align-format", value(), {"auto", "pharaoh", "fairseq", "marian"});
    } else if (arg == "--sentence") {
      a.sentence = parse_integer(arg, value(), 0, std::numeric_limits<long long>::max());
    } else if (arg == "--link-order") {
      a.link_order = one_of("--link-order", value(), {"src-tgt", "tgt-src"});
    } else if (arg == "--threshold") {
      a.threshold = parse_double(arg, value());
    } else if (arg == "--eos") {
      a.eos = one_of("--eos", value(), {"auto", "drop", "keep"});
    } else if (parse_animation_option(a, arg, value, flag)) {
      // --animate and its options (see parse_animation_option)
    } else if (arg == "--leaked") {
      flag();
      a.leaked = true;
    } else if (arg == "--mask") {
      a.mask = value();
      if (a.mask.empty()) throw usage_error("--mask needs 'causal', 'causal-lower-right' or a file");
    } else if (arg == "--") {
      for (++i; i < argc; ++i) positional.emplace_back(argv[i]);
    } else if (arg.size() > 1 && arg[0] == '-') {
      const std::string near = nearest_option(arg);
      throw usage_error("unknown option '" + arg + "'" + (near.empty() ? "" : " (did you mean " + near + "?)"));
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.empty()) throw usage_error(a.animate ? "no frame files given (epoch_*.npy)" : "no WEIGHTS file given");
  if (positional.size() > 1 && !a.animate && !a.view) {
    throw usage_error("one WEIGHTS file expected, got " + std::to_string(positional.size()) +
                      " (several files are for --view, one per layer, and --animate, one per frame)");
  }
  a.weights = positional.front();
  a.inputs = positional;
  a.more_weights.assign(positional.begin() + 1, positional.end());
  if (a.batch && a.animate) {
    throw usage_error("--batch names the first axis of a WEIGHTS file; --animate's frames hold samples (their "
                      "titles: --panel-titles)");
  }
  // Trailing ':' picks nothing (NumPy's w[:, 0, :] is w[:, 0]).
  while (!a.index.empty() && a.index.back() == whole_axis) a.index.pop_back();
  if (a.view && std::find(a.index.begin(), a.index.end(), whole_axis) != a.index.end()) {
    throw usage_error("--view names the axes it shows (layers, items, heads): ':' in --index keeps an axis whose "
                      "name it cannot know; save the part to show, np.save(path, w[...]), or draw it as svg");
  }
  if (!a.index.empty()) {
    if (a.animate) throw usage_error("--index picks maps from WEIGHTS .npy files, not from --animate's frames");
    for (const std::string& file : positional) {
      if (!has_extension(file, ".npy") && !is_zip_file(archive_of(file))) {
        throw usage_error("--index picks maps from .npy arrays; '" + file + "' is not a .npy file or an .npz array");
      }
    }
  }
  if (a.view) {
    if (a.format == "svg" || a.format == "png") throw usage_error("--view writes an HTML page, not " + a.format);
    if (a.format.empty() && (has_extension(a.output, ".svg") || has_extension(a.output, ".png"))) {
      throw usage_error("--view writes an HTML page: name the output .html, not '" + a.output + "'");
    }
    a.format = "html";
    if (a.bars || a.heatmap || a.hist || !a.truth.empty() || !a.chars_file.empty() || a.query || a.animate ||
        !a.gold.empty()) {
      throw usage_error("--view cannot be used with --bars, --heatmap, --hist, --truth, --chars, --query, --animate or --gold");
    }
    if (a.pool) throw usage_error("--view shows every token and pools nothing: --pool is for pictures (svg, html, png)");
    // The page's own controls, not these, set its colours and labels: refused rather than
    // dropped (a page made with --vmax 1 looked like one made without).
    const std::vector<std::pair<const char*, bool>> refused{
        {"--reverse", a.reverse},
        {"--vmin", a.vmin.has_value()},
        {"--vmax", a.vmax.has_value()},
        {"--values", a.values},
        {"--decimals", a.decimals.has_value()},
        {"--row-title", !a.row_title.empty()},
        {"--col-title", !a.col_title.empty()},
        {"--colorbar-label", !a.colorbar_label.empty()},
        {"--no-colorbar", !a.colorbar},
        {"--layout", a.layout != "auto"},
        {"--panel-titles", a.panel_titles.has_value()},
        {"--grid-columns", a.grid_columns != 0},
        {"--raster", a.raster != "auto"},
        {"--highlight-scale", a.highlight_scale != "from-zero"},
        {"--max-size", a.max_size != Arguments().max_size},
        {"--font-size", a.font_size != Arguments().font_size},
        {"--font-family", !a.font_family.empty()},
    };
    refuse_given(refused, " is for pictures, not --view: the page scales each map from 0 to its largest weight, "
                          "and its tooltips give every value");
    refuse_given({{"--lang", a.lang.has_value()}, {"--isolate-tokens", a.isolate_tokens}},
                 " is for highlighted text (html output), not --view (its text view isolates every token)");
  } else if (a.batch && !a.index.empty()) {
    throw usage_error("--batch names the first axis of a 3-D WEIGHTS file (an svg grid of batch items) or of a 4-D "
                      "--view file; with --index, what is left keeps the axes' own names");
  }
  if (a.output.empty()) throw usage_error("no output file given (-o FILE)");
  if (a.format.empty() && a.output == "-") throw usage_error("-o - (standard output) needs --format svg, html or png");
  if (a.format.empty()) {
    std::string extension = fs::path(a.output).extension().string();
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (extension == ".svg") {
      a.format = "svg";
    } else if (extension == ".html" || extension == ".htm" || extension == ".xhtml") {
      a.format = "html";
    } else if (extension == ".png") {
      a.format = "png";
    } else {
      throw usage_error("cannot tell the format of '" + a.output +
                        "' from its extension: use .svg, .html or .png, or --format");
    }
  }
  check_png_arguments(a);
  if (!a.chars_file.empty() && !a.cols_file.empty()) throw usage_error("--chars and --cols cannot be used together");
  if (a.code_points && a.chars_file.empty()) throw usage_error("--code-points says how to split --chars FILE: give --chars");
  if (a.vmin && a.vmax && !(*a.vmin < *a.vmax)) throw usage_error("--vmin must be less than --vmax");
  if (static_cast<int>(a.bars) + static_cast<int>(a.heatmap) + static_cast<int>(a.hist.has_value()) > 1) {
    throw usage_error("--bars, --heatmap and --hist cannot be used together");
  }
  if ((a.bars || a.heatmap || a.hist) && a.format != "svg") throw usage_error("--bars, --heatmap and --hist are for svg output");
  if ((a.bars || a.hist) && !a.truth.empty()) throw usage_error("--bars and --hist cannot be used with --truth");
  if (!a.mask.empty() && !a.view && (a.bars || a.hist || (a.format != "svg" && a.format != "html"))) {
    throw usage_error("--mask is for svg heatmaps, html highlighting and --view pages");
  }
  if (a.leaked && (a.view || a.animate || a.bars || a.hist || a.format != "svg")) {
    throw usage_error("--leaked is for svg heatmaps (a bar per row beside the map)");
  }
  if (a.hist && a.vmin.has_value() != a.vmax.has_value()) {
    throw usage_error("--hist takes the range of its bins from --vmin and --vmax together: give both or neither");
  }
  check_animation_arguments(a);
  if (a.origin != "upper" && (a.view || a.animate || a.bars || a.hist || !a.gold.empty() || a.query ||
                              !a.chars_file.empty())) {
    throw usage_error("--origin lower draws a heatmap's row 0 at the bottom: it is for svg and png heatmaps (and "
                      "html pages that show one), not bars, histograms, highlighted text, --view, --animate or "
                      "word alignments");
  }
  if (a.color_scale != "shared" && (a.view || a.animate || a.format != "svg" || a.bars || a.hist || !a.gold.empty())) {
    throw usage_error("--color-scale per-map gives each map of an svg grid (3-D WEIGHTS, --reshape) or --truth pair "
                      "a colour scale and colour bar of its own: it is for svg heatmaps");
  }
  if (a.reshape) {
    // Each row becomes a map of its own: what draws or labels a row, or the map as it is, has
    // nothing to apply to.
    if (a.view || a.animate || (a.format != "svg" && a.format != "png")) {
      throw usage_error("--reshape draws rows as grids of cells: it is for svg and png pictures, not " +
                        std::string(a.view ? "--view" : a.animate ? "--animate" : a.format + " output"));
    }
    refuse_given({{"--bars", a.bars},
                  {"--hist", a.hist.has_value()},
                  {"--truth", !a.truth.empty()},
                  {"--mask", !a.mask.empty()},
                  {"--leaked", a.leaked},
                  {"--pool", a.pool.has_value()},
                  {"--gold", !a.gold.empty()}},
                 " cannot be used with --reshape, which draws each row of the weights as a map of its own "
                 "(reshape what it needs with NumPy instead)");
  }
  return a;
}

std::string read_text_file(const std::string& path, const std::string& option) {
  std::error_code ignored;
  const bool directory = fs::is_directory(path, ignored);
  errno = 0;
  std::ifstream in;
  if (!directory) in.open(path, std::ios::binary);
  if (!in.is_open()) {
    const int error = directory ? EISDIR : errno;
    throw std::runtime_error(option + " '" + path + "': cannot open for reading: " +
                             (error != 0 ? std::generic_category().message(error) : std::string("unknown error")));
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(option + " '" + path + "': read error");
  if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);  // UTF-8 BOM
  return text;
}

/// One token per line; "\r\n" line ends accepted; the newline after the last token is optional.
std::vector<std::string> read_tokens(const std::string& path, const std::string& option) {
  const std::string text = read_text_file(path, option);
  std::vector<std::string> tokens;
  std::string token;
  for (const char c : text) {
    if (c == '\n') {
      if (!token.empty() && token.back() == '\r') token.pop_back();
      tokens.push_back(token);
      token.clear();
    } else {
      token.push_back(c);
    }
  }
  if (!token.empty()) {
    if (token.back() == '\r') token.pop_back();
    tokens.push_back(token);
  }
  return tokens;
}

struct Weights {
  std::vector<Eigen::MatrixXd> maps;  // one, or one per slice of a 3-D array
  std::vector<std::string> row_labels;
  std::vector<std::string> col_labels;
  bool stacked = false;  // from a 3-D array (or a 4-D one: grid_heads)
  long long grid_heads = 0;  // from a 4-D L×h×Tq×Tk array drawn as svg: maps per grid row (h)
  std::string axes_read;     // a 4-D array read as layers x heads without --batch: its shape, for a note
  std::string pooled;    // "pooled from R×C to r×c (mean of a×b cells)" when pool_npy_map drew it
  long long pool_rows = 1, pool_cols = 1;      // the pooled blocks' rows and columns
  long long source_rows = 0, source_cols = 0;  // the file's rows and columns, when pooled
  std::vector<std::string> titles;  // the maps' titles in a grid, when not the default ones (--reshape)
};

/// "3-D", or "4-D" for the layers × heads grid of a 4-D file: what a stack of maps was read from.
std::string axes_text(const Weights& w) { return w.grid_heads > 0 ? "4-D" : "3-D"; }

// --- which maps of an N-D .npy are drawn (--index; leading axes of size 1) ------------------------

/// One --index entry as NumPy writes it: "2", or ":" for a whole axis.
std::string index_text(long long i) { return i == whole_axis ? ":" : std::to_string(i); }

/// A shape as NumPy prints it: "(2, 6, 10, 10)", "(5,)".
std::string shape_tuple(const std::vector<attn::Index>& shape) {
  std::string text = "(";
  for (std::size_t k = 0; k < shape.size(); ++k) text += (k ? ", " : "") + std::to_string(shape[k]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

/// The part of a .npy file that attn-plot draws (select_npy).
struct NpySelection {
  attn::io::NpyHeader header;
  std::vector<attn::Index> shape;  // after --index and the leading axes of size 1
  std::size_t offset = 0;          // its first element, in C order (contiguous selections)
  bool picked = false;             // --index took part of the array
  std::vector<long long> index;    // --index resolved (no negative index; whole_axis for ':')
  bool contiguous = true;          // no ':' before a picked axis: the part is one run of the file
};

/// What attn-plot draws of the .npy at `path`, known from its header alone (so the limits are
/// checked before any data is read): --index picks along the leading axes as NumPy's w[i, j]
/// does (a negative index counts from the end), then leading axes of size 1 go while more than
/// two axes remain (Hugging Face's batch of one: (1, h, T, T) is h maps, (1, 1, T, T) one map).
/// nullopt when the header cannot be read or the data are cut short: attn's reader then says
/// what is wrong.
std::optional<NpySelection> select_npy(const std::string& path, const std::vector<long long>& index) {
  NpySelection s;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    try {
      s.header = attn::io::read_npy_header(in);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  s.shape = s.header.shape;
  const std::size_t axes = s.shape.size();
  if (!index.empty() && index.size() + 1 > axes) {
    throw std::runtime_error("'" + path + "' has shape " + shape_tuple(s.shape) + ": --index picks along " +
                             std::to_string(index.size()) + " axes, but at most " +
                             std::to_string(axes > 0 ? axes - 1 : 0) +
                             " of its axes can be picked (the last one is a row of weights)");
  }
  bool whole_seen = false;
  for (std::size_t k = 0; k < index.size(); ++k) {
    const long long n = s.shape[k];
    if (index[k] == whole_axis) {
      s.index.push_back(whole_axis);
      whole_seen = true;
      continue;
    }
    const long long i = index[k] < 0 ? index[k] + n : index[k];
    s.index.push_back(i);
    if (whole_seen) s.contiguous = false;
    if (i < 0 || i >= n) {
      throw std::runtime_error("'" + path + "' has shape " + shape_tuple(s.shape) + ": --index " +
                               std::to_string(index[k]) + " is out of range for axis " + std::to_string(k) +
                               " (size " + std::to_string(n) + ")");
    }
    long long stride = 1;  // elements per step of axis k in C order (no overflow: the file holds them)
    for (std::size_t m = k + 1; m < axes; ++m) stride *= s.shape[m];
    s.offset += static_cast<std::size_t>(i) * static_cast<std::size_t>(stride);
  }
  // A file shorter than its header says is reported as such (attn's reader checks the size
  // before it allocates or reads anything), not as an array above the limits.
  std::error_code error;
  const auto file_size = fs::file_size(path, error);
  if (error || static_cast<double>(file_size) < static_cast<double>(s.header.data_offset) +
                                                    static_cast<double>(s.header.size()) *
                                                        static_cast<double>(s.header.item_size)) {
    return std::nullopt;
  }
  s.picked = !index.empty();
  std::vector<attn::Index> kept;  // the axes ':' keeps, then the ones after --index
  for (std::size_t k = 0; k < index.size(); ++k)
    if (s.index[k] == whole_axis) kept.push_back(s.shape[k]);
  kept.insert(kept.end(), s.shape.begin() + static_cast<std::ptrdiff_t>(index.size()), s.shape.end());
  s.shape = kept;
  while (s.shape.size() > 2 && s.shape.front() == 1) s.shape.erase(s.shape.begin());
  return s;
}

/// The elements of a selection with ':' before a picked axis (s.contiguous false), in C order,
/// gathered from `all`, the whole array in C order: NumPy's w[:, 0].
std::vector<double> gather_selection(const NpySelection& s, const std::vector<double>& all) {
  const std::vector<attn::Index>& full = s.header.shape;
  std::vector<std::size_t> stride(full.size(), 1);  // elements per step of each axis
  for (std::size_t k = full.size(); k-- > 1;) stride[k - 1] = stride[k] * static_cast<std::size_t>(full[k]);
  const std::size_t block = s.index.empty() ? all.size() : stride[s.index.size() - 1];  // after the picked axes
  std::vector<double> out;
  const auto gather = [&](const auto& self, std::size_t k, std::size_t base) -> void {
    if (k == s.index.size()) {
      out.insert(out.end(), all.begin() + static_cast<std::ptrdiff_t>(base),
                 all.begin() + static_cast<std::ptrdiff_t>(base + block));
      return;
    }
    if (s.index[k] != whole_axis) return self(self, k + 1, base + static_cast<std::size_t>(s.index[k]) * stride[k]);
    for (attn::Index i = 0; i < full[k]; ++i) self(self, k + 1, base + static_cast<std::size_t>(i) * stride[k]);
  };
  gather(gather, 0, 0);
  return out;
}

/// The elements of selection `s` of the .npy at `path`, in C order, as attn's reader converts
/// them (every element type, Fortran order). A C-order file is read from the picked part only;
/// a Fortran-order one whole, so a part picked from it is refused when the whole file holds more
/// than `max_cells` cells.
attn::io::NpyArray<double> read_selection(const std::string& path, const NpySelection& s, long long max_cells) {
  const auto count = static_cast<std::size_t>(attn::io::detail::npy_element_count(s.shape));
  const attn::io::NpyHeader& h = s.header;
  if (s.picked && h.fortran_order && h.size() > max_cells) {
    throw std::runtime_error("'" + path + "' is in Fortran order: --index reads all of its " +
                             std::to_string(h.size()) + " cells, more than --max-cells " + std::to_string(max_cells) +
                             "; save it in C order, np.save(path, np.ascontiguousarray(w)), or raise --max-cells");
  }
  if (!s.contiguous && h.size() > max_cells) {
    throw std::runtime_error("'" + path + "': --index with ':' before a picked axis reads all of its " +
                             std::to_string(h.size()) + " cells, more than --max-cells " + std::to_string(max_cells) +
                             "; save the part to draw, np.save(path, w[...]), or raise --max-cells");
  }
  if (!s.picked || h.fortran_order || !s.contiguous) {
    // All of it, through attn's reader (select_npy saw the file hold it), Fortran order made C.
    attn::io::NpyArray<double> array = attn::io::read_npy_array(fs::path(path));
    if (!s.contiguous) {
      array.data = gather_selection(s, array.data);
    } else if (s.picked) {
      const auto first = array.data.begin() + static_cast<std::ptrdiff_t>(s.offset);
      array.data = std::vector<double>(first, first + static_cast<std::ptrdiff_t>(count));
    }
    array.shape = s.shape;
    return array;
  }
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(h.data_offset + s.offset * h.item_size));
  std::vector<unsigned char> bytes(count * h.item_size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!in) throw std::runtime_error("cannot read '" + path + "'");
  attn::io::NpyArray<double> array;
  array.shape = s.shape;
  array.data.resize(count);
  const std::string context = "attn-plot: '" + path + "': ";
  attn::io::detail::npy_decode(bytes.data(), count, attn::io::detail::npy_parse_descr(h.descr, context),
                               array.data.data());
  return array;
}

/// The refusal of an array with more axes than a picture draws (`s.shape` has more than 3),
/// saying how to pick a grid or a map with --index.
std::string too_many_axes(const std::string& path, const NpySelection& s, const std::vector<long long>& index) {
  std::string grid;
  for (const long long i : index) grid += (grid.empty() ? "" : ",") + index_text(i);
  for (std::size_t k = 0; k + 3 < s.shape.size(); ++k) grid += grid.empty() ? "0" : ",0";
  const std::string map = grid + ",0";
  const std::string shape = shape_tuple(s.header.shape);
  return "'" + path + "' has shape " + shape + (index.empty() ? "" : ", " + shape_tuple(s.shape) + " after --index") +
         ": attn-plot draws one map (2-D) or a grid of maps (3-D, or 4-D layers x heads as svg); pick along the "
         "leading axes with --index "
         "(--index " + grid + ": the grid of w[" + grid + "]; --index " + map + ": the map w[" + map + "])" +
         (s.shape.size() <= 5 ? ", or show every map with --view" : "");
}

// --- pooling of .npy maps too large to hold (--pool, --max-cells) --------------------------------
// A 2-D float16/float32/float64 .npy map is memory-mapped (POSIX mmap; its header read by
// attn::io::read_npy_header) and read once in file order, each cell added to (or compared with)
// the pooled cell of its block: memory is the pooled map, whatever the file's size.

bool drawn_as_image(const Arguments& a, attn::Index cells);  // (below, with the label-size checks)

/// Whether a rows×cols map with more rows or columns than --max-size pixels is pooled without
/// --pool: a cell would be smaller than a pixel, and a browser scaling the image down shows some
/// cells and drops the others (four spikes of a 2000×2000 map came out as one pixel), where
/// the mean of each block keeps every cell's share (matplotlib's imshow averages too). Not when
/// the picture needs every cell: token labels, --query, --chars, --truth, a mask file, --raster
/// never, a histogram, a single row or column (bars or a strip), png (a pixel per cell), and
/// never in --view or --animate.
bool pools_by_default(const Arguments& a, long long rows, long long cols) {
  // html shows a map as a picture above the raster threshold (or with --raster always), and as
  // highlighted text below it, whose tokens are the map's own: pooled only as a picture. (Asked
  // only below --max-cells, npy_map_to_pool: rows·cols does not overflow.)
  const bool html_picture = a.format == "html" && drawn_as_image(a, static_cast<attn::Index>(rows * cols));
  return (a.format == "svg" || html_picture) && !a.view && !a.animate && rows > 1 && cols > 1 &&
         a.rows_file.empty() && a.cols_file.empty() && a.chars_file.empty() && !a.query && a.truth.empty() &&
         (a.mask.empty() || is_causal_keyword(a.mask)) && a.raster != "never" && !a.hist && !a.bars && !a.reshape;
}

/// Whether selection `s` of a .npy (a file that holds its data: select_npy) is a 2-D map to pool,
/// and the header pool_npy_map reads it with (the selection's shape and first byte: its elements
/// are contiguous in the file).
bool npy_map_to_pool(const NpySelection& s, const Arguments& a, attn::io::NpyHeader& header) {
  if (s.shape.size() != 2 || (s.picked && s.header.fortran_order) || !s.contiguous) return false;
  const long long rows = s.shape[0], cols = s.shape[1];
  if (rows == 0 || cols == 0) return false;
  header = s.header;
  header.shape = s.shape;
  header.data_offset += s.offset * header.item_size;
  const bool too_many = rows > a.max_cells / cols;
  const auto display = static_cast<long long>(a.max_size);
  return too_many || ((a.pool || pools_by_default(a, rows, cols)) && (rows > display || cols > display));
}

/// Pools the 2-D .npy map at `path` (header `h`) to at most --max-size cells per axis (and
/// --max-cells in all): blocks of ceil(R / size) × ceil(C / size) cells, the last ones smaller;
/// each pooled cell is the mean or the maximum of its block (NaN when the block holds a NaN).
Eigen::MatrixXd pool_npy_map(const std::string& path, const attn::io::NpyHeader& h, const Arguments& a,
                             Weights& w) {
  const std::string how = a.pool.value_or("mean");
  const long long rows = h.shape[0], cols = h.shape[1];
  if (h.descr != "<f2" && h.descr != "<f4" && h.descr != "<f8") {
    throw std::runtime_error("'" + path + "' holds " + std::to_string(rows) + "x" + std::to_string(cols) + " cells of " +
                             h.descr + ": pooling (--pool, above --max-cells) reads float16, float32 or float64 "
                             "(<f2, <f4, <f8); save it as one, np.save(path, w.astype(np.float32)), or raise "
                             "--max-cells");
  }
  const auto display = std::max<long long>(1, static_cast<long long>(a.max_size));
  long long fr = (rows + display - 1) / display, fc = (cols + display - 1) / display;
  while (((rows + fr - 1) / fr) * ((cols + fc - 1) / fc) > a.max_cells) {  // a small --max-cells
    ++fr;
    ++fc;
  }
  const long long pr = (rows + fr - 1) / fr, pc = (cols + fc - 1) / fc;
#if defined(_WIN32)
  static_cast<void>(w);
  throw std::runtime_error("'" + path + "': pooling a map by memory map is not supported on Windows yet");
#else
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open '" + path + "': " + std::generic_category().message(errno));
  struct stat st {};
  const std::size_t data = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols) * h.item_size;
  if (::fstat(fd, &st) != 0 || static_cast<std::size_t>(st.st_size) < h.data_offset + data) {
    ::close(fd);
    throw std::runtime_error("'" + path + "' is truncated: its header announces " + std::to_string(rows) + "x" +
                             std::to_string(cols) + " cells");
  }
  void* mapped = ::mmap(nullptr, h.data_offset + data, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapped == MAP_FAILED) throw std::runtime_error("cannot map '" + path + "': " + std::generic_category().message(errno));
  ::madvise(mapped, h.data_offset + data, MADV_SEQUENTIAL);
  const unsigned char* bytes = static_cast<const unsigned char*>(mapped) + h.data_offset;
  const bool f2 = h.descr == "<f2", f4 = h.descr == "<f4";
  const auto cell = [&](std::size_t k) {
    if (f2) {
      std::uint16_t x;
      std::memcpy(&x, bytes + 2 * k, 2);
      return static_cast<double>(attn::io::detail::npy_half_to_float(x));
    }
    if (f4) {
      float x;
      std::memcpy(&x, bytes + 4 * k, 4);
      return static_cast<double>(x);
    }
    double x;
    std::memcpy(&x, bytes + 8 * k, 8);
    return x;
  };
  const bool max = how == "max";
  Eigen::MatrixXd pooled = Eigen::MatrixXd::Constant(pr, pc, max ? -std::numeric_limits<double>::infinity() : 0.0);
  Eigen::MatrixXi nan = Eigen::MatrixXi::Zero(pr, pc);
  // File order: C order walks rows, Fortran order columns; either way every cell is read once.
  const long long outer = h.fortran_order ? cols : rows, inner = h.fortran_order ? rows : cols;
  // Pages already pooled are given back every 64 MiB: the file's pages would otherwise stay
  // resident (reclaimable, but counted in the process's memory) up to the whole file.
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::size_t released = 0;
  for (long long o = 0; o < outer; ++o) {
    const std::size_t done = h.data_offset + static_cast<std::size_t>(o) * static_cast<std::size_t>(inner) * h.item_size;
    if (done / page * page >= released + (std::size_t(64) << 20)) {
      const std::size_t end = done / page * page;
      ::madvise(static_cast<char*>(mapped) + released, end - released, MADV_DONTNEED);
      released = end;
    }
    for (long long n = 0; n < inner; ++n) {
      const double x = cell(static_cast<std::size_t>(o) * static_cast<std::size_t>(inner) + static_cast<std::size_t>(n));
      const long long i = h.fortran_order ? n : o, j = h.fortran_order ? o : n;
      double& p = pooled(i / fr, j / fc);
      if (std::isnan(x)) {
        nan(i / fr, j / fc) = 1;
      } else if (max) {
        p = std::max(p, x);
      } else {
        p += x;
      }
    }
  }
  ::munmap(mapped, h.data_offset + data);
  for (long long i = 0; i < pr; ++i) {
    for (long long j = 0; j < pc; ++j) {
      const long long n = (std::min(rows, (i + 1) * fr) - i * fr) * (std::min(cols, (j + 1) * fc) - j * fc);
      if (nan(i, j)) {
        pooled(i, j) = std::numeric_limits<double>::quiet_NaN();
      } else if (!max) {
        pooled(i, j) /= static_cast<double>(n);
      }
    }
  }
  w.pool_rows = fr;
  w.pool_cols = fc;
  w.source_rows = rows;
  w.source_cols = cols;
  w.pooled = "pooled from " + std::to_string(rows) + "\u00d7" + std::to_string(cols) + " to " + std::to_string(pr) +
         "\u00d7" + std::to_string(pc) + " (" + how + " of " + std::to_string(fr) + "\u00d7" + std::to_string(fc) +
         " cells)";
  return pooled;
#endif
}

/// Refuses, before any map is built, more maps or cells than the limits allow (--max-maps,
/// --max-cells) and a stack of empty maps.
void check_limits(const std::string& path, long long maps, long long rows, long long cols, const Arguments& a) {
  if (maps > a.max_maps) {
    throw std::runtime_error("'" + path + "' holds " + std::to_string(maps) + " maps, more than --max-maps " +
                             std::to_string(a.max_maps));
  }
  if (maps > 1 && (rows == 0 || cols == 0)) {
    throw std::runtime_error("'" + path + "': its " + std::to_string(maps) + " maps are empty (" + std::to_string(rows) +
                             "x" + std::to_string(cols) + ")");
  }
  const long long limit = a.max_cells;
  const bool over = rows > 0 && cols > 0 && (rows > limit / cols || maps > limit / (rows * cols));
  if (over) {
    // What to do: a stack's maps one at a time (not for --animate's frames, which take no
    // --index), or a higher limit.
    const bool pick = maps > 1 && !a.animate && path == a.weights;
    throw std::runtime_error("'" + path + "' holds " + std::to_string(maps) + " map(s) of " + std::to_string(rows) +
                             "x" + std::to_string(cols) + " cells, more than --max-cells " + std::to_string(limit) +
                             (pick ? ": draw one map with --index 0 (see --index), or raise --max-cells"
                                   : ": raise --max-cells"));
  }
}

/// The maps of WEIGHTS, --truth, --mask or a frame at `path`: `index` picks from a .npy (the
/// WEIGHTS files' --index; select_npy).
bool is_tidy_csv(const std::string& path, std::vector<std::string>& header);

Weights read_weights(const std::string& path, const std::string& csv_labels, const Arguments& a,
                     const std::vector<long long>& index = {}) {
  Weights w;
  if (has_extension(path, ".npy")) {
    const std::optional<NpySelection> s = select_npy(path, index);
    if (!s) {
      attn::io::read_npy_array(fs::path(path));  // throws what is wrong with the file
      throw std::runtime_error("cannot read the header of '" + path + "'");
    }
    attn::io::NpyHeader header;
    if (npy_map_to_pool(*s, a, header)) {
      w.maps.push_back(pool_npy_map(path, header, a, w));
      return w;
    }
    const std::size_t axes = s->shape.size();
    if ((axes == 4 || (axes == 5 && s->shape[1] == 1)) && index.empty() && path == a.weights && a.format == "svg" &&
        !a.view && !a.animate) {  // (after --index the leading axes have no known names: refused below)
      // L×h×Tq×Tk (Hugging Face's output_attentions of one item, torch.stack'ed as L×1×h×Tq×Tk:
      // the batch axis of size 1 is dropped; torch's per-head weights of a batch with --batch): a
      // grid with a row per layer (item) and a column per head, as the --view page's model view.
      const long long layers = s->shape[0], heads = s->shape[axes - 3];
      if (layers * heads == 0) {
        throw std::runtime_error("'" + path + "': the " + std::to_string(axes) + "-D array holds no map (shape " +
                                 shape_tuple(s->shape) + ")");
      }
      check_limits(path, layers * heads, s->shape[axes - 2], s->shape[axes - 1], a);
      const attn::io::NpyArray<double> array = read_selection(path, *s, a.max_cells);
      for (attn::Index l = 0; l < layers; ++l)
        for (attn::Index i = 0; i < heads; ++i)
          w.maps.push_back(axes == 4 ? array.matrix({l, i}) : array.matrix({l, 0, i}));
      w.stacked = true;
      w.grid_heads = heads;
      if (axes == 4 && !a.batch) w.axes_read = shape_tuple(s->shape);
      return w;
    }
    if (s->shape.size() > 3) throw std::runtime_error(too_many_axes(path, *s, index));
    if (s->shape.size() == 3) {
      if (s->shape[0] == 0) {
        throw std::runtime_error("'" + path + "': the 3-D array holds no map (shape " + shape_tuple(s->shape) + ")");
      }
      check_limits(path, s->shape[0], s->shape[1], s->shape[2], a);
      const attn::io::NpyArray<double> array = read_selection(path, *s, a.max_cells);
      for (attn::Index k = 0; k < array.shape[0]; ++k) w.maps.push_back(array.matrix(k));
      w.stacked = true;
    } else {
      check_limits(path, 1, s->shape.size() == 2 ? s->shape[0] : 1, s->shape.empty() ? 1 : s->shape.back(), a);
      w.maps.push_back(read_selection(path, *s, a.max_cells).to_matrix());
    }
  } else if (has_extension(path, ".csv")) {
    // write_csv_long's tidy form (a row per weight) read as a wide matrix would draw its columns
    // (head, query, key, weight) as a nonsense map, or fail on a token: say what reads it.
    std::vector<std::string> header;
    if (is_tidy_csv(path, header)) {
      throw std::runtime_error("'" + path + "' is the tidy form of attn::io::write_csv_long (columns query, key and "
                               "weight, a row per weight), not a matrix: open it with --view, or draw the maps "
                               "from a .npy (attn::io::write_npy of attn::io::npy_stack, or np.save)");
    }
    attn::io::CsvLabels labels = attn::io::CsvLabels::automatic;
    if (csv_labels == "none") labels = attn::io::CsvLabels::none;
    if (csv_labels == "rows") labels = attn::io::CsvLabels::rows;
    if (csv_labels == "cols") labels = attn::io::CsvLabels::columns;
    if (csv_labels == "both") labels = attn::io::CsvLabels::both;
    attn::io::CsvMatrix<double> csv = attn::io::read_csv<double>(fs::path(path), labels);
    if (csv.values.rows() > 0 && csv.values.cols() == 0 && !csv.row_labels.empty()) {
      // Every line became a row label: most often numbers separated by spaces (np.savetxt's default).
      throw std::runtime_error("'" + path + "' has no column of numbers (each line was read as one row label, e.g. '" +
                               csv.row_labels.front().substr(0, 40) +
                               "'): attn-plot reads comma-separated values; NumPy writes them with "
                               "np.savetxt(path, w, delimiter=',')");
    }
    check_limits(path, 1, csv.values.rows(), csv.values.cols(), a);
    w.maps.push_back(std::move(csv.values));
    w.row_labels = std::move(csv.row_labels);
    w.col_labels = std::move(csv.col_labels);
  } else {
    throw usage_error("cannot tell the format of '" + path + "' from its extension: use .npy or .csv");
  }
  return w;
}

std::string shape_text(const Eigen::MatrixXd& m) {
  return std::to_string(m.rows()) + "x" + std::to_string(m.cols());
}

void check_label_count(const std::vector<std::string>& labels, attn::Index count, const std::string& source,
                       const char* what, const std::string& note = "", bool padding_hint = true) {
  if (!labels.empty() && static_cast<attn::Index>(labels.size()) != count) {
    // One token per line: an empty line at the end is an empty last token, which is easy to miss.
    const bool blank_end = labels.back().empty() && static_cast<attn::Index>(labels.size()) > count;
    // ' '.join(tokens) written to the file: one line of tokens with spaces.
    const bool one_line = labels.size() == 1 && count > 1 && labels.front().find(' ') != std::string::npos;
    // Fewer tokens than steps: most often a batch padded to its longest sequence, or Keras'
    // pad_sequences; say how to cut the weights to the tokens.
    std::string padded;
    if (padding_hint && note.empty() && static_cast<attn::Index>(labels.size()) < count) {
      const std::string n = std::to_string(labels.size());
      const bool rows = std::string(what).rfind("rows", 0) == 0;
      const std::string after = rows ? "w[..., :" + n + ", :]" : "w[..., :" + n + "]";
      const std::string before = rows ? "w[..., -" + n + ":, :]" : "w[..., -" + n + ":]";
      padded = " (padded to " + std::to_string(count) + " steps? give the padding's tokens too, or save the "
               "tokens' part of the weights: " + after + " for padding after them, " + before +
               " before them, as Keras' pad_sequences does)";
    }
    throw std::runtime_error(source + " has " + std::to_string(labels.size()) + " tokens but the weights have " +
                             std::to_string(count) + " " + what +
                             (blank_end ? " (its last line is empty: one token per line, an empty line is an empty token)"
                              : one_line ? " (one token per line: its only line holds spaces; in Python, "
                                           "open(path, 'w').write('\\n'.join(tokens)))"
                              : note.empty() ? padded
                                             : note));
  }
}

std::size_t total_bytes(const std::vector<std::string>& labels) {
  std::size_t n = 0;
  for (const auto& label : labels) n += label.size();
  return n;
}

/// Whether a heatmap of `cells` cells per map is drawn as an image: --raster always, or --raster
/// auto above HeatmapOptions::raster_threshold cells (the SVG writer's own rule).
bool drawn_as_image(const Arguments& a, attn::Index cells) {
  return a.raster == "always" || (a.raster == "auto" && cells > attn::io::HeatmapOptions().raster_threshold);
}

/// Refuses up front an output that would exceed --max-bytes by its labels alone: every cell's
/// tooltip repeats its row and column labels. Cells drawn as an image (--raster, by default
/// above HeatmapOptions::raster_threshold cells) have no tooltips: for a `heatmap` the labels
/// then appear once (bars and highlighted text are never drawn as an image).
void check_label_bytes(const std::vector<std::string>& rows, const std::vector<std::string>& cols, attn::Index nrows,
                       attn::Index ncols, long long maps, const Arguments& a, bool heatmap = false) {
  const bool raster = heatmap && drawn_as_image(a, nrows * ncols);
  const double per_row = raster ? 1.0 : static_cast<double>(ncols);
  const double per_col = raster ? 1.0 : static_cast<double>(nrows);
  const double estimate = static_cast<double>(maps) * (static_cast<double>(total_bytes(rows)) * per_row +
                                                       static_cast<double>(total_bytes(cols)) * per_col);
  if (estimate > static_cast<double>(a.max_bytes)) {
    throw std::runtime_error("the labels alone would make the output about " + std::to_string(static_cast<long long>(estimate)) +
                             " bytes, more than --max-bytes " + std::to_string(a.max_bytes));
  }
}

/// Writes `text` to standard output (-o -) or atomically to the output file, unless it is
/// larger than --max-bytes.
void emit(const Arguments& a, const std::string& text, std::ostream& out) {
  if (text.size() > static_cast<unsigned long long>(a.max_bytes)) {
    throw std::runtime_error("the output would be " + std::to_string(text.size()) + " bytes, more than --max-bytes " +
                             std::to_string(a.max_bytes));
  }
  if (a.output == "-") {
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) throw std::runtime_error("writing to standard output failed");
    return;
  }
  const fs::path directory = fs::path(a.output).parent_path();
  std::error_code error;
  if (!directory.empty() && !fs::is_directory(directory, error)) {
    throw std::runtime_error("cannot write '" + a.output + "': there is no directory '" + directory.string() + "'");
  }
  attn::io::detail::write_file_atomically(fs::path(a.output), "attn-plot", [&](std::ostream& os) {
    os.write(text.data(), static_cast<std::streamsize>(text.size()));
  });
}

/// The heatmap options the command line asks for.
attn::io::HeatmapOptions heatmap_options(const Arguments& a, const std::vector<std::string>& row_labels,
                                         const std::vector<std::string>& col_labels) {
  attn::io::HeatmapOptions options;
  options.title = a.title;
  options.row_axis_title = a.row_title;
  options.col_axis_title = a.col_title;
  options.colormap = attn::io::parse_colormap(a.colormap);
  options.reverse_colormap = a.reverse;
  options.vmin = a.vmin;
  options.vmax = a.vmax;
  options.show_values = a.values;
  if (a.decimals) options.value_decimals = *a.decimals;
  options.colorbar = a.colorbar;
  options.colorbar_label = a.colorbar_label;
  options.shared_scale = a.color_scale == "shared";
  options.origin = a.origin == "lower" ? attn::io::HeatmapOrigin::lower : attn::io::HeatmapOrigin::upper;
  options.max_map_size = a.max_size;
  options.font_size = a.font_size;
  if (!a.font_family.empty()) options.font_family = a.font_family;
  options.raster = a.raster == "always"  ? attn::io::HeatmapRaster::always
                   : a.raster == "never" ? attn::io::HeatmapRaster::never
                                         : attn::io::HeatmapRaster::automatic;
  options.grid_columns = static_cast<attn::Index>(a.grid_columns);
  options.row_labels = row_labels;
  options.col_labels = col_labels;
  return options;
}

/// --layout as a PairLayout: auto (the default) puts the truth under wide maps (1 x T strips),
/// beside the others.
attn::io::PairLayout pair_layout(const Arguments& a) {
  if (a.layout == "under") return attn::io::PairLayout::under;
  return a.layout == "beside" ? attn::io::PairLayout::beside : attn::io::PairLayout::automatic;
}

/// Bars and histograms draw no cells, colour bar, grid or pair: the heatmap's options would be
/// dropped without a word, so they are refused, saying why (`why`: what is drawn instead).
void refuse_heatmap_only(const Arguments& a, bool colormap, const std::string& why) {
  refuse_given({{"--colormap", colormap},
                {"--reverse", a.reverse},
                {"--values", a.values},
                {"--decimals", a.decimals.has_value()},
                {"--colorbar-label", !a.colorbar_label.empty()},
                {"--no-colorbar", !a.colorbar},
                {"--row-title", !a.row_title.empty()},
                {"--raster", a.raster != "auto"},
                {"--grid-columns", a.grid_columns != 0},
                {"--layout", a.layout != "auto"},
                {"--panel-titles", a.panel_titles.has_value()},
                {"--mask", !a.mask.empty()},
                {"--leaked", a.leaked}},
               " is for heatmaps: " + why);
}

/// --panel-titles: title k of `count` maps, or `fallback(k)` past the end of the list; a list
/// longer than the maps is refused (a title would be dropped without a word).
template <typename Fallback>
std::vector<std::string> panel_titles(const Arguments& a, std::size_t count, const std::string& what, Fallback fallback) {
  if (a.panel_titles && a.panel_titles->size() > count) {
    throw std::runtime_error("--panel-titles lists " + std::to_string(a.panel_titles->size()) + " titles but " + what +
                             " " + std::to_string(count) + (count == 1 ? " map" : " maps"));
  }
  std::vector<std::string> titles;
  for (std::size_t k = 0; k < count; ++k) {
    titles.push_back(a.panel_titles && k < a.panel_titles->size() ? (*a.panel_titles)[k] : fallback(k));
  }
  return titles;
}

/// A --mask file's map `m` (from `path`) as a mask: visible where non-zero (Keras' 0/1 masks, a
/// boolean mask with true = visible). A negative, infinite or NaN entry is refused, as
/// attn::Mask::matrix refuses it: PyTorch's float attn_mask (0 = attend, -inf = hidden) would be
/// drawn inverted, as would its boolean one (true = hidden), which no entry gives away.
attn::Mask mask_of_file(const std::string& path, const Eigen::MatrixXd& m) {
  for (attn::Index j = 0; j < m.cols(); ++j)
    for (attn::Index i = 0; i < m.rows(); ++i) {
      const double x = m(i, j);
      if (x >= 0.0 && std::isfinite(x)) continue;
      throw std::runtime_error("--mask '" + path + "' holds " + attn::detail::number_text(x) + " at (" +
                               std::to_string(i) + ", " + std::to_string(j) +
                               "): a mask file is visible where non-zero (Keras' 0/1 masks; true = visible). "
                               "PyTorch's masks read the other way: save (attn_mask == 0) for its float "
                               "attn_mask (0 = attend, -inf = hidden), ~attn_mask for its boolean one");
    }
  return attn::Mask::matrix((m.array() != 0.0).matrix());
}

/// A mask file that hides every cell holding weight, and shows only zeros, reads the other way
/// round: PyTorch's boolean attn_mask (true = hidden) saved as it is. Nothing in its entries
/// tells (unlike the float form's -inf), but the weights do: refused, saying what to save.
/// (A mask that hides cells holding some of the weight, with weight left in the visible ones, is
/// drawn: that is the leaked-mass picture.)
void check_mask_not_inverted(const std::string& path, const Eigen::MatrixXd& m,
                             const std::vector<const Eigen::MatrixXd*>& maps) {
  double visible = 0;
  double hidden = 0;
  for (const Eigen::MatrixXd* w : maps) {
    for (attn::Index j = 0; j < w->cols(); ++j)
      for (attn::Index i = 0; i < w->rows(); ++i) {
        const double x = std::abs((*w)(i, j));
        if (!std::isfinite(x)) continue;
        (m(i, j) != 0.0 ? visible : hidden) += x;
      }
  }
  if (visible == 0.0 && hidden > 0.0) {
    throw std::runtime_error("--mask '" + path + "' hides every cell that holds weight (the cells it leaves visible "
                             "are all 0): it reads the other way round. A mask file is visible where non-zero; "
                             "PyTorch's boolean attn_mask is true where a key is hidden: save ~attn_mask "
                             "(np.logical_not) instead");
  }
}

/// A mask map against `rows`×`cols` weights: one value per key (1×Tk: a 1-D .npy of Tk, Keras'
/// mask_zero, a padding mask) or per query (Tq×1) applies to every row or column, as NumPy
/// broadcasts it against the Tq×Tk weights; any other shape is returned as it is.
Eigen::MatrixXd broadcast_mask(const Eigen::MatrixXd& m, attn::Index rows, attn::Index cols) {
  if (m.rows() == 1 && m.cols() == cols) return m.replicate(rows, 1);
  if (m.cols() == 1 && m.rows() == rows) return m.replicate(1, cols);
  return m;
}

/// --mask with a 3-D FILE (`file`, read) for an svg grid: panel k's mask, from one mask per map
/// (n x Tq x Tk for n maps) or, with --batch, one per batch item (B x Tq x Tk or B x 1 x Tk: the
/// padding of each item, for all its heads).
std::vector<attn::Mask> grid_masks(const Arguments& a, const Weights& w, const Weights& file) {
  const std::size_t maps = w.maps.size();
  const std::size_t heads = w.grid_heads > 0 && a.batch ? static_cast<std::size_t>(w.grid_heads) : 1;
  const std::size_t count = file.maps.size();
  if (count != maps && count * heads != maps) {
    throw std::runtime_error("--mask '" + a.mask + "' holds " + std::to_string(count) + " masks but '" + a.weights +
                             "' draws " + std::to_string(maps) + " maps" +
                             (heads > 1 ? " of " + std::to_string(maps / heads) + " batch items" : std::string()) +
                             ": give one mask per map" + (heads > 1 ? " or per item" : std::string()) +
                             ", or one for all (Tq x Tk)");
  }
  const std::size_t per = count == maps ? 1 : heads;
  std::vector<attn::Mask> masks;
  for (std::size_t k = 0; k < maps; ++k) {
    const Eigen::MatrixXd& map = w.maps[k];
    const Eigen::MatrixXd m = broadcast_mask(file.maps[k / per], map.rows(), map.cols());
    if (m.rows() != map.rows() || m.cols() != map.cols()) {
      throw std::runtime_error("--mask '" + a.mask + "' map " + std::to_string(k / per) + " is " + shape_text(m) +
                               " but the weights' maps are " + shape_text(map));
    }
    masks.push_back(mask_of_file(a.mask, m));
    check_mask_not_inverted(a.mask, m, {&map});
  }
  return masks;
}

/// --mask FILE (`file`, read) for the weights `maps` (one, or a grid's, all of one shape): one
/// map, visible where non-zero.
attn::Mask mask_of_weights_file(const Arguments& a, const std::vector<Eigen::MatrixXd>& maps, const Weights& file) {
  const Eigen::MatrixXd& map = maps.front();
  const Eigen::MatrixXd m = file.stacked ? file.maps.front() : broadcast_mask(file.maps.front(), map.rows(), map.cols());
  if (file.stacked || m.rows() != map.rows() || m.cols() != map.cols()) {
    // A mask per batch item (B x Tq x Tk, a padded batch's) is for grids and --view; here one map
    // is drawn: say how to save the picked item's.
    const std::string item = !a.index.empty() && a.index.front() != whole_axis ? std::to_string(a.index.front()) : "b";
    throw std::runtime_error("--mask '" + a.mask + "' is " + (file.stacked ? std::string("3-D") : shape_text(m)) +
                             " but the weights are " + shape_text(map) +
                             " (a mask is Tq x Tk, or one value per key, 1 x Tk, or per query, Tq x 1" +
                             (file.stacked ? "; a 3-D mask, one per map or batch item, is for grids and --view: "
                                             "save the item's own, np.save('mask" + item + ".npy', mask[" + item + "])"
                                           : std::string()) +
                             ")");
  }
  attn::Mask mask = mask_of_file(a.mask, m);
  std::vector<const Eigen::MatrixXd*> all;
  for (const Eigen::MatrixXd& w : maps) all.push_back(&w);
  check_mask_not_inverted(a.mask, m, all);
  return mask;
}

/// --mask: the mask of the weights `maps` (one, or a grid's, all of one shape): a causal
/// keyword, or a file visible where non-zero.
attn::Mask mask_option(const Arguments& a, const std::vector<Eigen::MatrixXd>& maps) {
  if (a.mask.empty()) return attn::Mask();
  if (is_causal_keyword(a.mask)) return causal_mask(a.mask, maps.front().rows(), maps.front().cols());
  return mask_of_weights_file(a, maps, read_weights(a.mask, "none", a));
}

/// --mask for a pooled map: a block is hidden when every cell of it is (a block on the diagonal
/// of a causal mask holds visible cells: it is drawn). A mask file would have to be pooled the
/// same way: it is refused, saying so.
attn::Mask pooled_mask_option(const Arguments& a, const Weights& w) {
  if (a.mask.empty()) return attn::Mask();
  if (!is_causal_keyword(a.mask)) {
    throw usage_error("'" + a.weights + "' is drawn " + w.pooled + ": --mask takes 'causal' or 'causal-lower-right' "
                      "for a pooled map, not a file; leave --mask out, or draw the map unpooled (no --pool, and a "
                      "--max-cells above its cells)");
  }
  const Eigen::MatrixXd& map = w.maps.front();
  const long long offset = causal_offset(a.mask, w.source_rows, w.source_cols);
  attn::BoolMatrix visible(map.rows(), map.cols());
  for (attn::Index I = 0; I < map.rows(); ++I) {
    // Causal hides the cells with j > i + offset: the block is hidden when its first column is
    // past its last row's last visible key.
    const long long last_row = std::min<long long>((I + 1) * w.pool_rows, w.source_rows) - 1;
    for (attn::Index J = 0; J < map.cols(); ++J) visible(I, J) = J * w.pool_cols <= last_row + offset;
  }
  return attn::Mask::matrix(visible);
}

/// --mask for an svg heatmap of `w`: the mask of every map (`all`), or with a 3-D FILE on a grid
/// one per panel (`panels`, grid_masks). The file is read once.
struct SvgMasks {
  attn::Mask all;
  std::vector<attn::Mask> panels;
};
SvgMasks svg_masks(const Arguments& a, const Weights& w) {
  if (!w.pooled.empty()) return {pooled_mask_option(a, w), {}};
  if (a.mask.empty() || is_causal_keyword(a.mask)) return {mask_option(a, w.maps), {}};
  const Weights file = read_weights(a.mask, "none", a);
  if (w.stacked && file.stacked) return {attn::Mask(), grid_masks(a, w, file)};
  return {mask_of_weights_file(a, w.maps, file), {}};
}

/// An HTML page (polyglot HTML5/XHTML, like attn's highlighting pages) that shows one SVG
/// document inline, under a note saying why it is a picture.
std::string html_page_with_svg(const std::string& title, const std::string& svg, const std::string& note) {
  std::string page =
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>";
  attn::io::detail::append_xml_escaped(page, title.empty() ? std::string("attention weights") : title);
  page += "</title>\n</head>\n<body style=\"font-family: sans-serif\">\n<p>";
  attn::io::detail::append_xml_escaped(page, note);
  page += "</p>\n";
  std::string_view body(svg);
  if (body.substr(0, 5) == "<?xml") body.remove_prefix(std::min(body.size(), body.find("?>") + 2));  // no prolog inside HTML
  while (!body.empty() && (body.front() == '\n' || body.front() == '\r')) body.remove_prefix(1);
  page.append(body.data(), body.size());
  page += "\n</body>\n</html>\n";
  return page;
}

// --- word alignments: alignment files, --gold ------------------------------------------------

bool is_alignment_file(const std::string& path) { return !has_extension(path, ".npy") && !has_extension(path, ".csv"); }

std::string scores_text(const attn::AlignmentScores& s) {
  std::ostringstream text;
  text.imbue(std::locale::classic());
  text.setf(std::ios::fixed);
  text.precision(4);
  text << "precision " << s.precision << " recall " << s.recall << " AER " << s.aer << " (|A| " << s.hypothesis
       << ", |S| " << s.sure << ", |P| " << s.possible << ", |A&S| " << s.hits_sure << ", |A&P| " << s.hits_possible << ")";
  return text.str();
}

attn::Alignment hard_links(const Eigen::MatrixXd& weights, const Arguments& a) {
  return a.threshold ? attn::threshold_alignment(weights, *a.threshold) : attn::argmax_alignment(weights);
}

/// --eos: soft alignment files (fairseq, Marian) drop their </s> row and column unless told to
/// keep them; .npy / .csv weights are used as they are unless told to drop them.
attn::io::EndOfSentence end_of_sentence(const Arguments& a, bool alignment_file) {
  const bool drop = a.eos == "drop" || (a.eos == "auto" && alignment_file);
  return drop ? attn::io::EndOfSentence::drop : attn::io::EndOfSentence::keep;
}

/// Hard links draw a picture as large as their largest indices (or the label counts): --max-cells
/// bounds it as it bounds weights, so that a stray index ("0-999999999") is refused at once.
void check_link_extent(const Arguments& a, const std::vector<const attn::Alignment*>& sets, std::size_t row_labels,
                       std::size_t col_labels) {
  const long long last_row = attn::io::detail::align_extent(sets, true) - 1;  // the picture's own rule
  const long long last_col = attn::io::detail::align_extent(sets, false) - 1;
  const long long rows = row_labels > 0 ? static_cast<long long>(row_labels) : last_row + 1;
  const long long cols = col_labels > 0 ? static_cast<long long>(col_labels) : last_col + 1;
  if (rows > 0 && cols > a.max_cells / rows) {
    throw std::runtime_error("'" + a.weights + "', sentence " + std::to_string(a.sentence) + ": its links reach target token " +
                             std::to_string(last_row) + " and source token " + std::to_string(last_col) + ", a picture of " +
                             std::to_string(rows) + "x" + std::to_string(cols) + " cells, more than --max-cells " +
                             std::to_string(a.max_cells) + " (is a link index out of place?)");
  }
}

/// Alignment files and --gold: draws the alignment (over the gold) and prints the scores.
int run_alignment(const Arguments& a, std::ostream& out, std::ostream& err) {
  if (a.format != "svg") throw usage_error("alignments (--gold, alignment files) are drawn as svg only");
  if (a.bars || a.heatmap || a.hist || !a.truth.empty() || a.query || !a.chars_file.empty()) {
    throw usage_error("--bars, --heatmap, --hist, --truth, --query and --chars do not apply to alignments");
  }
  if (a.leaked) {
    throw usage_error("--leaked draws 1 - each row's sum of weights, which an alignment file's links do not have");
  }
  const attn::io::PharaohOrder order =
      a.link_order == "src-tgt" ? attn::io::PharaohOrder::col_row : attn::io::PharaohOrder::row_col;
  const auto wanted = static_cast<attn::Index>(a.sentence);
  // The hypothesis: weights (.npy / .csv), or the records of an alignment file.
  std::vector<attn::io::AlignmentRecord> records;
  Eigen::MatrixXd weights;
  attn::Alignment links;
  bool soft = false;
  const attn::io::AlignmentRecord* own_record = nullptr;  // the sentence's record of an alignment file
  if (is_alignment_file(a.weights)) {
    if (const std::string picture = picture_kind(a.weights); !picture.empty()) {
      throw std::runtime_error("'" + a.weights + "' is " + picture + ", not weights (attn-plot's own output?): draw " +
                               "the .npy or .csv it was made from");
    }
    if (starts_with_magic(a.weights, "\x89HDF")) {  // the first question's weights.best.hdf5
      throw std::runtime_error("'" + a.weights +
                               "' is an HDF5 file (a Keras .h5 / .hdf5 model or weights), which attn-plot does not "
                               "read: in Python, np.save the attention weights (e.g. a model ending at the "
                               "attention layer's output) and draw the .npy (docs/05-keras-and-pytorch.md)");
    }
    attn::io::AlignmentFormat format = attn::io::AlignmentFormat::automatic;
    if (a.align_format == "pharaoh") format = attn::io::AlignmentFormat::pharaoh;
    if (a.align_format == "fairseq") format = attn::io::AlignmentFormat::fairseq;
    if (a.align_format == "marian") format = attn::io::AlignmentFormat::marian;
    try {
      records = attn::io::read_alignments(fs::path(a.weights), format, order);
    } catch (const attn::invalid_argument& e) {  // bad content: an input error (exit status 1)
      // The message names the file and the line. Read as Pharaoh, the file had no sign of fairseq
      // or Marian: it may be no alignment file at all (a token list given as WEIGHTS).
      const std::string what = e.what();
      if (what.rfind("attn::io::read_pharaoh", 0) != 0) throw std::runtime_error(what);
      throw std::runtime_error("not .npy / .csv weights, nor an alignment file (Pharaoh, fairseq, Marian): " + what);
    }
    const auto found = std::find_if(records.begin(), records.end(),
                                    [&](const attn::io::AlignmentRecord& r) { return r.sentence == wanted; });
    if (found == records.end()) {
      throw std::runtime_error("'" + a.weights + "' has no alignment of sentence " + std::to_string(wanted) + " (" +
                               std::to_string(records.size()) + " alignments read)");
    }
    own_record = &*found;
    soft = found->soft;
    if (soft) {
      weights = attn::io::soft_weights(*found, end_of_sentence(a, true));
    } else if (a.threshold) {
      throw usage_error("--threshold makes links of weights, but sentence " + std::to_string(wanted) + " of '" +
                        a.weights + "' (line " + std::to_string(found->line) + ") holds hard links");
    } else if (a.eos != "auto" && found->format != attn::io::AlignmentFormat::marian) {
      throw usage_error("--eos is for soft alignments (weights) and Marian's hard links, but sentence " +
                        std::to_string(wanted) + " of '" + a.weights + "' (line " + std::to_string(found->line) +
                        ") holds other hard links, which have no </s>");
    } else {
      attn::io::RecordLinkOptions link_options;
      link_options.end_of_sentence = end_of_sentence(a, true);
      links = attn::io::record_links(*found, link_options);  // Marian's: without the </s> link
    }
    check_limits(a.weights, 1, weights.rows(), weights.cols(), a);
  } else {
    Weights w = read_weights(a.weights, a.csv_labels, a, a.index);
    if (w.stacked) {
      throw std::runtime_error("'" + a.weights + "' is " + axes_text(w) + ": --gold takes one map (targets x sources)");
    }
    attn::io::AlignmentRecord record;
    record.soft = true;
    record.weights = w.maps.front();
    weights = attn::io::soft_weights(record, end_of_sentence(a, false));
    soft = true;
  }
  if (soft) links = hard_links(weights, a);

  std::vector<std::string> rows = a.rows_file.empty() ? std::vector<std::string>{} : read_tokens(a.rows_file, "--rows");
  std::vector<std::string> cols = a.cols_file.empty() ? std::vector<std::string>{} : read_tokens(a.cols_file, "--cols");
  if (soft) {
    // One token too many: most likely the </s> that --eos dropped (or one too few: kept).
    const bool dropped = end_of_sentence(a, records.size() > 0) == attn::io::EndOfSentence::drop;
    const auto eos_note = [&](const std::vector<std::string>& labels, attn::Index count) -> std::string {
      const auto n = static_cast<attn::Index>(labels.size());
      if (dropped && n == count + 1) return " (the end-of-sentence row and column were dropped: --eos keep keeps them)";
      if (!dropped && n + 1 == count) return " (--eos drop leaves out the last row and column, the </s> tokens)";
      return "";
    };
    // An alignment file's weights are its sentence's own, never padded: no padding hint.
    check_label_count(rows, weights.rows(), "--rows '" + a.rows_file + "'", "rows (target tokens)",
                      eos_note(rows, weights.rows()), false);
    check_label_count(cols, weights.cols(), "--cols '" + a.cols_file + "'", "columns (source tokens)",
                      eos_note(cols, weights.cols()), false);
  }
  // fairseq's S- and H- lines and Marian's translation name the tokens (AlignmentRecord::
  // source_tokens, target_tokens): they label the side --cols / --rows leave without labels when
  // their count fits: soft weights' columns / rows, hard links' largest index and the gold's
  // ("</s>" added where --eos keep kept the soft weights' or Marian's hard links' </s>).
  // Otherwise (--remove-bpe words against subword links) a note says why they are not used.
  const auto own_labels = [&](const std::vector<const attn::Alignment*>& sets) {
    if (own_record == nullptr) return;
    const bool marian = own_record->format == attn::io::AlignmentFormat::marian;
    const bool kept_eos = (soft || marian) && end_of_sentence(a, true) == attn::io::EndOfSentence::keep;
    const auto fit = [&](const std::vector<std::string>& tokens, bool target, std::vector<std::string>& labels) {
      if (!labels.empty() || tokens.empty()) return;
      std::vector<std::string> own = tokens;
      if (kept_eos) own.push_back("</s>");
      const auto n = static_cast<attn::Index>(own.size());
      const attn::Index cells = soft ? (target ? weights.rows() : weights.cols()) : attn::io::detail::align_extent(sets, target);
      if (soft ? n == cells : n >= cells) {
        labels = std::move(own);
        return;
      }
      err << "attn-plot: note: the " << (marian ? "translation's " : target ? "H- line's " : "S- line's ") << tokens.size()
          << (target ? " hypothesis" : " source") << " tokens of sentence " << a.sentence << " do not fit its "
          << (soft ? std::string(target ? "rows (" : "columns (") + std::to_string(cells) + ")"
                   : std::string(target ? "target" : "source") + " link indices (up to " + std::to_string(cells - 1) + ")")
          << ": drawn without them (" << (target ? "--rows" : "--cols") << " gives labels)\n";
    };
    fit(own_record->target_tokens, true, rows);
    fit(own_record->source_tokens, false, cols);
  };
  if (a.gold.empty()) {
    own_labels({&links});
    if (soft) {  // a soft alignment alone is a heatmap
      emit(a, attn::io::heatmap_svg(weights, heatmap_options(a, rows, cols)), out);
      return 0;
    }
    attn::io::AlignmentSvgOptions options;
    options.title = a.title;
    options.row_labels = rows;
    options.col_labels = cols;
    options.row_axis_title = a.row_title;
    options.col_axis_title = a.col_title;
    options.max_map_size = a.max_size;
    options.font_size = a.font_size;
    if (!a.font_family.empty()) options.font_family = a.font_family;
    check_link_extent(a, {&links}, rows.size(), cols.size());
    emit(a, attn::io::alignment_svg(links, options), out);
    return 0;
  }

  std::vector<attn::io::GoldAlignment> gold;
  try {
    gold = attn::io::read_pharaoh(fs::path(a.gold), order);
  } catch (const attn::invalid_argument& e) {  // the message names the file and the line
    throw std::runtime_error(std::string("--gold: ") + e.what());
  }
  if (wanted >= static_cast<attn::Index>(gold.size())) {
    throw std::runtime_error("--gold '" + a.gold + "' has " + std::to_string(gold.size()) +
                             " sentence pairs (lines); --sentence " + std::to_string(wanted) + " is not one of them");
  }
  const attn::io::GoldAlignment& g = gold[static_cast<std::size_t>(wanted)];
  own_labels({&links, &g.sure, &g.possible});
  attn::io::AlignmentSvgOptions options;
  options.title = a.title;
  options.row_labels = rows;
  options.col_labels = cols;
  options.row_axis_title = a.row_title;
  options.col_axis_title = a.col_title;
  options.max_map_size = a.max_size;
  options.font_size = a.font_size;
  if (!a.font_family.empty()) options.font_family = a.font_family;
  options.threshold = a.threshold;
  if (soft) {
    options.rows = weights.rows();
    options.cols = weights.cols();
  }
  if (!soft) check_link_extent(a, {&links, &g.sure, &g.possible}, rows.size(), cols.size());
  std::string svg;
  try {
    svg = soft ? attn::io::alignment_svg(weights, g, options) : attn::io::alignment_svg(links, g, options);
  } catch (const attn::invalid_argument& e) {  // links outside the picture: the files do not fit
    throw std::runtime_error("'" + a.weights + "' and --gold '" + a.gold + "', sentence " + std::to_string(wanted) +
                             ": " + e.what());
  }

  // The scores: of the sentence drawn, and with an alignment file of every gold sentence pair.
  std::ostream& report = a.output == "-" ? err : out;
  std::string text = "sentence " + std::to_string(wanted) + ": " + scores_text(attn::alignment_scores(links, g.sure, g.possible)) + "\n";
  // One gold sentence and one record: the corpus is the sentence drawn, said once. Otherwise the
  // records are matched to the gold lines by sentence number; when they do not cover the same
  // sentences the corpus is not scored, and the line says why (the sentence drawn still is).
  const bool one_sentence = gold.size() == 1 && std::all_of(records.begin(), records.end(), [](const auto& r) {
                              return r.sentence == 0;
                            });
  if (!records.empty() && !one_sentence) {
    attn::io::RecordLinkOptions link_options;
    link_options.threshold = a.threshold;
    link_options.end_of_sentence = end_of_sentence(a, true);
    try {
      text += "all " + std::to_string(gold.size()) + " sentences: " +
              scores_text(attn::io::alignment_scores(records, gold, link_options)) + "\n";
    } catch (const attn::invalid_argument& e) {
      text += "all sentences: not scored: '" + a.weights + "' against --gold '" + a.gold + "': " + e.what() + "\n";
    }
  }
  emit(a, svg, out);
  report << text;
  report.flush();
  return 0;
}

int run_animation(const Arguments& a, std::ostream& out);

int run_view(const Arguments& a, std::ostream& out, std::ostream& err);

int run_weights(const Arguments& a, Weights w, std::ostream& out);

/// The arrays of NumPy .npz archives given as inputs, each extracted to a .npy file in a private
/// temporary directory (removed when attn-plot ends), so that every reader of .npy files takes
/// them as they are: an input FILE.npz stands for its only array, FILE.npz:NAME for its array
/// NAME (when no file has that whole name), and a FRAMES archive for every array with a number
/// in its name. Messages name the archive's arrays, never the temporary files.
class NpzInputs {
 public:
  NpzInputs() = default;
  NpzInputs(const NpzInputs&) = delete;
  NpzInputs& operator=(const NpzInputs&) = delete;
  ~NpzInputs() {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  /// `path` itself, or the .npy file (or, for `frames`, the directory of .npy files) its
  /// archive's arrays went to. `what` names the input in messages ("WEIGHTS", "--truth", ...).
  std::string resolve(const std::string& path, const std::string& what, bool frames = false) {
    const std::string archive = archive_of(path);
    if (!is_zip_file(archive)) return path;
    std::string name = archive == path ? std::string() : path.substr(archive.size() + 1);
    attn::io::detail::ZipArchive zip = attn::io::detail::zip_open(archive, "attn-plot");  // read once
    const std::vector<std::string> names = checked_names(zip, archive, what);
    const fs::path to = directory() / std::to_string(shown_.size());
    fs::create_directory(to);
    if (frames && name.empty()) {  // every numbered array, as a directory of numbered .npy files
      for (const std::string& n : names) {
        if (std::none_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
        extract(zip, archive, n, to);
      }
      shown_.emplace_back(to.string(), archive);
      return to.string();
    }
    if (name.empty()) {
      if (names.size() > 1) {
        std::string list;
        for (std::size_t k = 0; k < names.size() && k < 10; ++k) list += (k ? ", " : "") + names[k];
        if (names.size() > 10) list += ", ...";
        throw usage_error(what + " '" + archive + "' holds " + std::to_string(names.size()) + " arrays (" + list +
                          "): name one as '" + archive + ":" + names.front() + "'");
      }
      name = names.front();
    }
    return extract(zip, archive, name, to);
  }

  /// For --view's layers: `path` resolved as above, except that an archive given without a name
  /// is every array, one layer each (one array: that one, as resolve() takes it), in the order
  /// of the numbers in their names (np.savez's arr_0, arr_1, ... arr_10; layer_2 before layer_10).
  std::vector<std::string> resolve_layers(const std::string& path, const std::string& what) {
    const std::string archive = archive_of(path);
    if (archive != path || !is_zip_file(archive)) return {resolve(path, what)};
    attn::io::detail::ZipArchive zip = attn::io::detail::zip_open(archive, "attn-plot");
    std::vector<std::string> names = checked_names(zip, archive, what);
    // The number in a name (the last run of digits), or -1: names without one keep their place, first.
    const auto number = [](const std::string& n) {
      const std::size_t end = n.find_last_of("0123456789");
      if (end == std::string::npos) return -1.0;
      std::size_t begin = end;
      while (begin > 0 && std::isdigit(static_cast<unsigned char>(n[begin - 1]))) --begin;
      return std::stod(n.substr(begin, end - begin + 1));
    };
    std::stable_sort(names.begin(), names.end(),
                     [&](const std::string& x, const std::string& y) { return number(x) < number(y); });
    const fs::path to = directory() / std::to_string(shown_.size());
    fs::create_directory(to);
    std::vector<std::string> files;
    for (const std::string& n : names) files.push_back(extract(zip, archive, n, to));
    return files;
  }

  /// `text` with every temporary path replaced by the archive (and array) it stands for.
  std::string shown(std::string text) const {
    std::vector<std::pair<std::string, std::string>> longest_first = shown_;  // files before their directories
    std::sort(longest_first.begin(), longest_first.end(),
              [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
    for (const auto& [path, what] : longest_first) {
      for (std::size_t at = text.find(path); at != std::string::npos; at = text.find(path, at)) {
        text.replace(at, path.size(), what);
        at += what.size();
      }
    }
    return text;
  }

 private:
  const fs::path& directory() {
    if (dir_.empty()) {
      std::string pattern = (fs::temp_directory_path() / "attn-plot-npz.XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("cannot make a temporary directory for the .npz arrays: " + std::string(std::strerror(errno)));
      }
      dir_ = pattern;
    }
    return dir_;
  }

  /// The arrays of `zip` (the archive at `archive`), refusing a torch.save file and an archive
  /// without arrays.
  static std::vector<std::string> checked_names(attn::io::detail::ZipArchive& zip, const std::string& archive,
                                                const std::string& what) {
    std::vector<std::string> names = attn::io::detail::npz_keys(zip);
    const bool pickles = std::any_of(names.begin(), names.end(), [](const std::string& n) {
      return n == "data.pkl" || (n.size() > 9 && n.compare(n.size() - 9, 9, "/data.pkl") == 0);
    });
    if (pickles) {
      throw std::runtime_error(what + " '" + archive +
                               "' is a torch.save file (a ZIP archive of pickles), not NumPy's .npz: save the "
                               "tensor with np.save('w.npy', tensor.detach().cpu().numpy()) or "
                               "np.savez('w.npz', w=tensor.detach().cpu().numpy())");
    }
    if (names.empty()) throw std::runtime_error(what + " '" + archive + "' is an .npz archive that holds no array");
    return names;
  }

  /// Writes array `name` of `zip`, the archive at `archive` (its .npy bytes, checked), to
  /// `to`/<name>.npy.
  std::string extract(attn::io::detail::ZipArchive& zip, const std::string& archive, const std::string& name,
                      const fs::path& to) {
    const std::vector<unsigned char> bytes = attn::io::detail::zip_member_bytes(zip, attn::io::detail::npz_find(zip, name));
    std::string file;  // the name, as a file name: its frame number and title stay
    for (char c : name) file += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '_';
    fs::path path = to / (file + ".npy");
    for (int k = 2; fs::exists(path); ++k) path = to / (file + "_" + std::to_string(k) + ".npy");
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw std::runtime_error("cannot write the array '" + name + "' of '" + archive + "' to a temporary file");
    shown_.emplace_back(path.string(), archive + ":" + name);
    return path.string();
  }

  fs::path dir_;
  std::vector<std::pair<std::string, std::string>> shown_;  // temporary path, what it stands for
};

/// Refuses an OUTPUT that is one of the input files (weights, frames, labels, truth, gold or
/// mask): writing it would replace what the picture is drawn from.
void check_output_is_no_input(const Arguments& a) {
  if (a.output == "-") return;
  std::error_code error;
  if (!fs::exists(a.output, error)) return;
  const char* positional = a.animate ? "FRAMES" : "WEIGHTS";
  std::vector<std::pair<std::string, std::string>> inputs{{"--rows", a.rows_file}, {"--cols", a.cols_file},
                                                          {"--chars", a.chars_file}, {"--truth", a.truth},
                                                          {"--gold", a.gold}};
  if (!is_causal_keyword(a.mask)) inputs.emplace_back("--mask", a.mask);
  inputs.emplace_back(positional, a.weights);
  for (const std::string& file : a.more_weights) inputs.emplace_back(positional, file);
  for (const auto& [what, path] : inputs) {
    if (!path.empty() && fs::equivalent(a.output, archive_of(path), error)) {
      throw usage_error("-o '" + a.output + "' is the " + what + " file '" + path +
                        "': attn-plot does not write over its inputs; choose another output");
    }
  }
}

int run_inputs(const Arguments& a, std::ostream& out, std::ostream& err);

int run(const Arguments& given, std::ostream& out, std::ostream& err) {
  check_output_is_no_input(given);
  NpzInputs npz;
  std::ostringstream notes;  // the notes name the archives' arrays, not their temporary files
  try {
    Arguments a = given;
    if (a.view && a.inputs.size() == 1) {
      a.inputs = npz.resolve_layers(a.inputs.front(), "WEIGHTS");  // an archive of layers: each a layer
    } else {
      for (std::string& file : a.inputs) file = npz.resolve(file, a.animate ? "FRAMES" : "WEIGHTS", a.animate);
    }
    a.weights_named = given.inputs.front();
    a.weights = a.inputs.front();
    a.more_weights.assign(a.inputs.begin() + 1, a.inputs.end());
    a.truth = npz.resolve(a.truth, "--truth");
    if (!is_causal_keyword(a.mask)) a.mask = npz.resolve(a.mask, "--mask");
    const int status = run_inputs(a, out, notes);
    err << npz.shown(notes.str());
    return status;
  } catch (const usage_error& e) {
    err << npz.shown(notes.str());
    throw usage_error(npz.shown(e.what()));
  } catch (const attn::invalid_argument& e) {
    err << npz.shown(notes.str());
    throw attn::invalid_argument(npz.shown(e.what()));
  } catch (const std::bad_alloc&) {
    err << npz.shown(notes.str());
    throw;
  } catch (const std::exception& e) {
    err << npz.shown(notes.str());
    throw std::runtime_error(npz.shown(e.what()));
  }
}

/// `a` with the title of what --index picked, as NumPy names it, the file's name as given
/// ("layer3.npy[2, 1]", "attentions.npz:layer3[0]") and a negative index counted from the end
/// ("[-1]" of 4 is "[3]": the title says which map it is).
/// --index with its negative indices counted from the end of the file's axes, as select_npy
/// resolves them (the file's header is read again; its data are not).
std::vector<long long> resolved_index(const Arguments& a) {
  const std::optional<NpySelection> s = select_npy(a.weights, a.index);  // read_weights read it
  return s ? s->index : a.index;
}

/// An --index as NumPy writes it, "2, :"; with `kept`, its first ':' replaced by that number (the
/// index of one map of a ':' grid).
std::string index_tuple(const std::vector<long long>& index, std::optional<long long> kept = std::nullopt) {
  std::string text;
  for (std::size_t k = 0; k < index.size(); ++k) {
    long long i = index[k];
    if (kept && i == whole_axis) i = *std::exchange(kept, std::nullopt);
    text += (k ? ", " : "") + index_text(i);
  }
  return text;
}

Arguments index_titled(const Arguments& a) {
  Arguments titled = a;
  titled.title = fs::path(a.weights_named.empty() ? a.weights : a.weights_named).filename().string() + "[" +
                 index_tuple(resolved_index(a)) + "]";
  return titled;
}

int run_weights_titled(const Arguments& a, Weights w, std::ostream& out, std::ostream& err);

/// The default titles of the maps of a grid read from a 3-D or 4-D array (`w.stacked`): "head 2",
/// "layer 1, head 2" (4-D), "item 2" (--batch); a grid kept by ':' in --index is along an axis
/// of unknown name: its maps are titled as NumPy indexes them, "[0, 1]", "[1, 1]" (the ':'
/// replaced by k).
std::function<std::string(std::size_t)> grid_titles(const Arguments& a, const Weights& w) {
  const auto heads = static_cast<std::size_t>(w.grid_heads);
  const bool colon = std::find(a.index.begin(), a.index.end(), whole_axis) != a.index.end();
  const std::vector<long long> picked = colon ? resolved_index(a) : std::vector<long long>();
  return [batch = a.batch, heads, colon, picked](std::size_t k) {
    if (colon) return "[" + index_tuple(picked, static_cast<long long>(k)) + "]";
    if (heads > 0) return (batch ? "item " : "layer ") + std::to_string(k / heads) + ", head " + std::to_string(k % heads);
    return (batch ? "item " : "head ") + std::to_string(k);
  };
}

/// --reshape R,C: every row of the maps of `w` (a query's weights over the keys) as an R×C map of
/// its last R·C weights in row-major order, NumPy's w[q, -R*C:].reshape(R, C): a vision
/// transformer's patches come after its class (and register) tokens, in row-major order, so
/// `--index 0,0 --reshape 14,14` of a ViT layer's (h, 197, 197) weights draws head 0's class
/// token over the 14×14 patches. Maps with fewer than R·C keys but at least R·C queries are
/// reshaped by column instead (cross-attention from an image's positions to a prompt's tokens:
/// a map per token). Each map gets a title (its row's or column's label: --rows, --cols or the
/// CSV's, else "query q" / "key k", after the map's own title in a grid); `said` is given what
/// was drawn, for the picture's title ("keys 1-196 of each query as 14x14 (row-major)").
Weights reshaped_maps(const Arguments& a, const Weights& w, std::string& said) {
  const long long R = a.reshape->first, C = a.reshape->second, n = R * C;
  const Eigen::MatrixXd& first = w.maps.front();
  const bool by_rows = first.cols() >= n;
  if (!by_rows && first.rows() < n) {
    const auto side = static_cast<long long>(std::sqrt(static_cast<double>(std::max(first.rows(), first.cols()))));
    throw std::runtime_error("--reshape " + std::to_string(R) + "," + std::to_string(C) + " draws " +
                             std::to_string(n) + " weights of each row (or column) as a " + std::to_string(R) + "x" +
                             std::to_string(C) + " map, but '" + a.weights + "' is " + shape_text(first) +
                             (w.maps.size() > 1 ? " (each of its maps)" : "") +
                             ": give a grid of at most " + std::to_string(std::max(first.rows(), first.cols())) +
                             " cells (e.g. " + std::to_string(side) + "," + std::to_string(side) + " for the last " +
                             std::to_string(side * side) + ")");
  }
  std::vector<std::string> labels = by_rows ? w.row_labels : w.col_labels;
  const std::string& labels_file = by_rows ? a.rows_file : a.cols_file;
  const attn::Index count = by_rows ? first.rows() : first.cols();
  if (!labels_file.empty()) {
    labels = read_tokens(labels_file, by_rows ? "--rows" : "--cols");
    check_label_count(labels, count, std::string(by_rows ? "--rows '" : "--cols '") + labels_file + "'",
                      by_rows ? "rows (queries)" : "columns (keys)");
  }
  const long long maps = static_cast<long long>(w.maps.size()) * count;
  if (maps > a.max_maps) {
    const std::string what = by_rows ? " rows" : " columns";
    throw std::runtime_error("--reshape " + std::to_string(R) + "," + std::to_string(C) + " draws each of the " +
                             std::to_string(count) + what + " of '" + a.weights + "'" +
                             (w.maps.size() > 1 ? " (" + std::to_string(w.maps.size()) + " maps)" : std::string()) +
                             " as a map: " + std::to_string(maps) + " maps, more than --max-maps " +
                             std::to_string(a.max_maps) +
                             (by_rows ? ": pick the rows to draw with --index (e.g. --index :,0, row 0 of every map)"
                                      : ": pick the map to draw with --index") +
                             ", or raise --max-maps");
  }
  check_limits(a.weights, maps, R, C, a);
  // A stack's maps keep their grid titles; a 2-D map's rows kept by ':' in --index are titled as
  // NumPy indexes them, as grid_titles titles a stack kept by ':' ("[3, 0]").
  const std::function<std::string(std::size_t)> map_title = grid_titles(a, w);
  const bool colon = std::find(a.index.begin(), a.index.end(), whole_axis) != a.index.end();
  Weights shaped;
  for (std::size_t m = 0; m < w.maps.size(); ++m) {
    for (attn::Index i = 0; i < count; ++i) {
      const Eigen::MatrixXd& map = w.maps[m];
      // The last n of the line (row i or column i), in order, filling the R×C map row by row.
      const Eigen::VectorXd line = by_rows ? Eigen::VectorXd(map.row(i).tail(n).transpose()) : Eigen::VectorXd(map.col(i).tail(n));
      shaped.maps.push_back(line.reshaped<Eigen::RowMajor>(R, C));
      std::string title = !labels.empty() ? labels[static_cast<std::size_t>(i)]
                          : colon && !w.stacked && by_rows ? map_title(static_cast<std::size_t>(i))
                                                           : (by_rows ? "query " : "key ") + std::to_string(i);
      shaped.titles.push_back(w.stacked ? map_title(m) + ", " + title : title);
    }
  }
  shaped.stacked = shaped.maps.size() > 1;
  const attn::Index length = by_rows ? first.cols() : first.rows();
  const std::string what = by_rows ? "keys " : "queries ";
  said = (length > n ? what + std::to_string(length - n) + "\u2013" + std::to_string(length - 1)
                     : "all " + std::to_string(n) + " " + what.substr(0, what.size() - 1)) +
         (shaped.stacked ? (by_rows ? " of each row" : " of each column") : "") + " as " + std::to_string(R) +
         "\u00d7" + std::to_string(C) + " (row-major)";
  return shaped;
}

/// The options of word alignments, each with whether it was given.
std::vector<std::pair<const char*, bool>> alignment_options(const Arguments& a) {
  return {{"--threshold", a.threshold.has_value()},
          {"--sentence", a.sentence != 0},
          {"--align-format", a.align_format != "auto"},
          {"--link-order", a.link_order != "src-tgt"},
          {"--eos", a.eos != "auto"}};
}

/// --animate reads frames, truth, labels, the colour scale and the page's own options: the
/// options of the other pictures would be dropped without a word, so they are refused.
void check_animation_options(const Arguments& a) {
  const std::string why = " is not used by --animate (it takes -t, -r, -c, --colormap, --reverse, --vmin, --vmax, "
                          "--colorbar-label, --no-colorbar, --panel-titles, --truth and ";
  refuse_given({{"--values", a.values},
                {"--decimals", a.decimals.has_value()},
                {"--raster", a.raster != "auto"},
                {"--row-title", !a.row_title.empty()},
                {"--col-title", !a.col_title.empty()},
                {"--mask", !a.mask.empty()},
                {"--pool", a.pool.has_value()},
                {"--max-size", a.max_size != Arguments().max_size},
                {"--font-size", a.font_size != Arguments().font_size},
                {"--font-family", !a.font_family.empty()},
                {"--color", a.color.has_value()},
                {"--highlight-scale", a.highlight_scale != "from-zero"},
                {"--separator", a.separator.has_value()}, {"--lang", a.lang.has_value()},
                    {"--isolate-tokens", a.isolate_tokens}},
               why + (a.format == "svg" ? "--frames" : "--layout, --frame-ms, --cell, --precision") + ")");
  refuse_given(alignment_options(a), " is for word alignments (--gold, or an alignment file as WEIGHTS), not --animate");
  if (a.format == "svg") {
    // The svg grid puts each sample's truth in a column of its own, at the picture's cell size.
    refuse_given({{"--layout", a.layout != "auto"},
                  {"--frame-ms", a.frame_ms.has_value()},
                  {"--cell", a.cell.has_value()},
                  {"--precision", a.precision != "uint16"}},
                 " is for the --animate page (-o FILE.html), not the svg grid of --frames (the truth is the last "
                 "column)");
  }
}

int run_inputs(const Arguments& a, std::ostream& out, std::ostream& err) {
  if (a.csv_labels != "auto") {
    bool any_csv = has_extension(a.truth, ".csv") || has_extension(a.mask, ".csv");
    for (const std::string& input : a.inputs) any_csv = any_csv || has_extension(input, ".csv");
    if (!any_csv) throw usage_error("--csv-labels says how to read a .csv file's labels, but no input is a .csv file");
  }
  if (a.view) {
    refuse_given(alignment_options(a), " is for word alignments (--gold, or an alignment file as WEIGHTS), not --view");
    return run_view(a, out, err);
  }
  // The viewer's own options would be silently ignored by the other modes.
  refuse_given({{"--view-start", a.view_start != "auto"}, {"--view-precision", a.view_precision != "auto"}},
               " is for --view pages");
  if (a.animate) {
    check_animation_options(a);
    return run_animation(a, out);
  }
  if (!a.gold.empty() || is_alignment_file(a.weights)) {
    if (a.color_scale != "shared") throw usage_error("--color-scale per-map is for grids and --truth pairs of weights, not word alignments");
    if (a.origin != "upper") throw usage_error("--origin lower is for heatmaps of weights, not word alignments");
    return run_alignment(a, out, err);
  }
  // Options of the word alignments would be silently ignored by the other pictures.
  refuse_given(alignment_options(a),
               " is for word alignments (--gold, or an alignment file as WEIGHTS), not for '" + a.weights + "'");
  Weights w = read_weights(a.weights, a.csv_labels, a, a.index);
  if (!a.index.empty() && a.title.empty() && a.format != "png") {
    // What --index picked is said in the title, as NumPy names it ("w.npy[2, 1]"): a map of
    // head 1 of layer 2 looks like any other map.
    return run_weights_titled(index_titled(a), std::move(w), out, err);
  }
  return run_weights_titled(a, std::move(w), out, err);
}

/// A note when a causal --mask hides cells that hold weight: more than 1 % of the absolute
/// weight of `maps` (rounding and float16 storage stay below). A causal attention's weights are
/// 0 there, so these weights were computed with another mask: "causal" drawn over Tq < Tk queries
/// at the end of the keys hid 97 % of a forecaster's 12 x 60 map in silence, over a key-length
/// mask's weights 40 %. Scores (before the softmax) can hold anything there, so it is a note,
/// not a refusal.
void note_causal_mask_hiding_weight(const Arguments& a, const std::vector<const Eigen::MatrixXd*>& maps,
                                    std::ostream& err) {
  if (!is_causal_keyword(a.mask)) return;
  double visible = 0;
  double hidden = 0;
  bool wide = false;  // a map with Tq < Tk
  for (const Eigen::MatrixXd* w : maps) {
    const long long offset = causal_offset(a.mask, w->rows(), w->cols());
    wide = wide || w->rows() < w->cols();
    for (attn::Index j = 0; j < w->cols(); ++j)
      for (attn::Index i = 0; i < w->rows(); ++i) {
        const double x = std::abs((*w)(i, j));
        if (std::isfinite(x)) (j <= i + offset ? visible : hidden) += x;
      }
  }
  if (!(hidden > 0.01 * (hidden + visible))) return;
  const auto percent = static_cast<int>(std::round(100 * hidden / (hidden + visible)));  // 1 .. 100
  err << "attn-plot: note: --mask " << a.mask << " hides cells that hold " << percent
      << " % of the weight, where a causal attention's weights are 0: were the weights computed with this mask?"
      << (a.mask == "causal" && wide ? " Tq < Tk queries at the end of the keys take --mask causal-lower-right." : "")
      << "\n";
}

int run_weights_titled(const Arguments& a, Weights w, std::ostream& out, std::ostream& err) {
  if (w.pooled.empty()) {
    std::vector<const Eigen::MatrixXd*> maps;
    for (const Eigen::MatrixXd& map : w.maps) maps.push_back(&map);
    note_causal_mask_hiding_weight(a, maps, err);
  }
  if (!w.axes_read.empty()) {
    // A 4-D array is Hugging Face's layers x heads of one item, or torch's per-head weights of a
    // batch: the file cannot say which, so say how it was read.
    err << "attn-plot: note: '" << a.weights << "' " << w.axes_read
        << " is drawn as layers x heads x Tq x Tk (\"layer i, head j\"); for torch's per-head "
           "MultiheadAttention weights of a batch (batch x heads x Tq x Tk) add --batch (\"item i, head j\")\n";
  }
  if (w.stacked && a.pool) {
    throw usage_error("--pool pools one 2-D map too large to draw; '" + a.weights + "' is a stack of " +
                      std::to_string(w.maps.size()) + " maps, drawn as a grid without pooling: leave out --pool");
  }
  if (!w.pooled.empty() && a.reshape) {
    throw std::runtime_error("'" + a.weights + "' has " + std::to_string(w.source_rows) + "x" +
                             std::to_string(w.source_cols) + " cells, more than --max-cells " +
                             std::to_string(a.max_cells) + ": --reshape draws every weight of each row; pick rows "
                             "with --index (e.g. --index 0 for row 0), or raise --max-cells");
  }
  if (!w.pooled.empty() && (!a.rows_file.empty() || !a.cols_file.empty() || !a.chars_file.empty())) {
    throw usage_error("'" + a.weights + "' is drawn " + w.pooled + ": its blocks of " + std::to_string(w.pool_rows) +
                      "x" + std::to_string(w.pool_cols) +
                      " cells have no token each, so --rows, --cols and --chars cannot label them; leave them out, "
                      "or draw the map unpooled (no --pool, and a --max-cells above its cells)");
  }
  if (!w.pooled.empty()) {  // the picture says it was pooled: a line of its title
    // A PNG has no title to say it: standard error does.
    if (a.format == "png") err << "attn-plot: note: '" << a.weights << "' is drawn " << w.pooled << "\n";
    Arguments titled = a;
    titled.title = a.title.empty() ? w.pooled : a.title + " \u2014 " + w.pooled;
    // Tick marks count the file's rows and columns (heatmap_options sets the blocks); the axes
    // say how many of them each drawn cell pools.
    const auto blocks = [](const std::string& mine, long long n, const char* what) {
      return (mine.empty() ? std::string(what) : mine) + " (" + std::to_string(n) + " per cell)";
    };
    titled.row_title = blocks(a.row_title, w.pool_rows, "row");
    titled.col_title = blocks(a.col_title, w.pool_cols, "column");
    return run_weights(titled, std::move(w), out);
  }
  if (a.reshape) {
    // The rows' (or columns') labels become the maps' titles, and the picture's title says what
    // was drawn.
    Arguments shaped = a;
    std::string said;
    Weights maps = reshaped_maps(a, w, said);
    shaped.reshape.reset();
    shaped.rows_file.clear();
    shaped.cols_file.clear();
    if (a.format != "png") shaped.title = a.title.empty() ? said : a.title + " \u2014 " + said;
    return run_weights(shaped, std::move(maps), out);
  }
  return run_weights(a, std::move(w), out);
}

/// run_weights() for png output: the colour-mapped cells of one map (attn::io::heatmap_png),
/// `cell` pixels a side (--cell; default: the longer side of the image at least 256 pixels).
int run_png(const Arguments& a, const Eigen::MatrixXd& map, std::size_t maps, std::ostream& out) {
  if (maps > 1) {
    // A NumPy array picks its map with --index (after what --index already picked); a CSV stack
    // has no index, so the hint is NumPy's.
    std::string pick = "--index ";
    for (const long long i : a.index) pick += index_text(i) + ",";
    const bool numpy = has_extension(a.weights, ".npy") || is_zip_file(archive_of(a.weights));
    throw std::runtime_error("'" + a.weights + "' is 3-D (" + std::to_string(maps) +
                             " maps): a PNG holds one map; draw the grid as svg (-o FILE.svg), or " +
                             (numpy ? "pick one map with " + pick + "0 (the first)"
                                    : std::string("save one map, e.g. np.save('head0.npy', w[0])")));
  }
  if (map.size() == 0) {
    throw std::runtime_error("'" + a.weights + "' is a " + shape_text(map) +
                             " map: a PNG needs at least one row and one column");
  }
  attn::io::PngHeatmapOptions options;
  options.colormap = attn::io::parse_colormap(a.colormap);
  options.reverse_colormap = a.reverse;
  options.vmin = a.vmin;
  options.vmax = a.vmax;
  if (a.cell) options.cell_size = static_cast<attn::Index>(*a.cell);
  // The image's pixels (3 bytes each) are made in memory before they are compressed: --max-bytes
  // bounds them too, checked before they are made, in the command line's terms (--cell).
  const long long side = attn::io::detail::png_cell_side(map.rows(), map.cols(), options);
  const double bytes = 3.0 * static_cast<double>(map.rows()) * static_cast<double>(map.cols()) *
                       static_cast<double>(side) * static_cast<double>(side);
  if (bytes > static_cast<double>(a.max_bytes)) {
    throw std::runtime_error("a " + shape_text(map) + " map at " + std::to_string(side) + " px per cell is " +
                             std::to_string(map.cols() * side) + "x" + std::to_string(map.rows() * side) +
                             " px, " + std::to_string(static_cast<long long>(bytes)) +
                             " bytes of pixels before compression, more than --max-bytes " + std::to_string(a.max_bytes) +
                             ": lower --cell, pool the map (--pool) or raise --max-bytes");
  }
  options.max_pixels = std::numeric_limits<attn::Index>::max();
  // --origin lower: the image's rows go down, so row 0 is its last row.
  emit(a, attn::io::heatmap_png(a.origin == "lower" ? Eigen::MatrixXd(map.colwise().reverse()) : map, options), out);
  return 0;
}

/// run() for the weights of WEIGHTS (read): a heatmap, bars, a histogram or highlighted text.
int run_weights(const Arguments& a, Weights w, std::ostream& out) {
  if (a.format == "html" && !w.stacked && w.maps.front().cols() == 1 && w.maps.front().rows() > 1 && !a.query) {
    // A T×1 column (Keras' TimeDistributed(Dense(1)) output of one item, (T, 1)) holds one
    // weight per token: highlighted as one line, its tokens given by --cols or --chars.
    w.maps.front().transposeInPlace();
    std::swap(w.row_labels, w.col_labels);
  }
  const Eigen::MatrixXd& first = w.maps.front();
  std::vector<std::string> row_labels = w.row_labels;
  std::vector<std::string> col_labels = w.col_labels;
  if (!a.rows_file.empty()) {
    row_labels = read_tokens(a.rows_file, "--rows");
    check_label_count(row_labels, first.rows(), "--rows '" + a.rows_file + "'", "rows (queries)");
  }
  if (!a.cols_file.empty()) {
    col_labels = read_tokens(a.cols_file, "--cols");
    check_label_count(col_labels, first.cols(), "--cols '" + a.cols_file + "'", "columns (keys)");
  }

  // --batch: a 3-D file's first axis is batch items (B x Tq x Tk: PyTorch's MultiheadAttention
  // weights averaged over heads, a Keras Attention layer's scores), titled "item k" in the grid.
  if (a.batch && !(w.stacked && a.format == "svg")) {
    throw usage_error(w.stacked ? "--batch names the items of an svg grid; " + a.format + " output draws no grid"
                                : "--batch names the first axis of a 3-D WEIGHTS file, but '" + a.weights +
                                      "' holds one map");
  }
  if (a.format == "png") return run_png(a, first, w.stacked ? w.maps.size() : 1, out);
  if (first.size() == 0) {  // most often a slice that took nothing (a stack of empty maps: check_limits)
    throw std::runtime_error("'" + a.weights + "' is a " + shape_text(first) + " map: there is nothing to draw");
  }
  if (a.format == "html") {
    if (w.stacked) {
      std::string pick = "--index ";
      for (const long long i : a.index) pick += index_text(i) + ",";
      throw std::runtime_error("'" + a.weights + "' is 3-D: html highlighting takes one map (1-D or 2-D); draw the "
                               "grid as svg (-o FILE.svg), show it with --view, or pick one map with " + pick + "K");
    }
    if (!a.truth.empty()) throw usage_error("--truth is for svg output");
    // A whole big map as highlighted text is about 120 bytes per token (163 MB at 1000x1000) and
    // unreadable; above the SVG raster threshold (--raster auto: 16384 cells) or with --raster
    // always, the page shows the map as the heatmap with its cells drawn as one embedded image,
    // as the SVG output does. --query and --chars ask for text: they keep it.
    const attn::Index raster_threshold = attn::io::HeatmapOptions().raster_threshold;
    if (!a.query && a.chars_file.empty() && drawn_as_image(a, first.size())) {
      refuse_given({{"--color", a.color.has_value()},
                    {"--highlight-scale", a.highlight_scale != "from-zero"},
                    {"--separator", a.separator.has_value()}, {"--lang", a.lang.has_value()},
                    {"--isolate-tokens", a.isolate_tokens}},
                   " is for highlighted tokens, but this page shows the " + shape_text(first) +
                       " map as a heatmap image (--colormap colours it; --query N or --raster never keep the text)");
      attn::io::HeatmapOptions options = heatmap_options(a, row_labels, col_labels);
      options.index_block_rows = static_cast<attn::Index>(w.pool_rows);  // a pooled map's ticks: the file's rows
      options.index_block_cols = static_cast<attn::Index>(w.pool_cols);
      options.mask = svg_masks(a, w).all;  // (html takes one map: no panels)
      options.raster = attn::io::HeatmapRaster::always;
      check_label_bytes(row_labels, col_labels, first.rows(), first.cols(), 1, a, true);
      const std::string note = "A " + shape_text(first) + " map" +
                               (a.raster == "always" ? std::string(" (--raster always)")
                                                     : " has more than " + std::to_string(raster_threshold) +
                                                           " cells") +
                               ": drawn as a heatmap image, not as highlighted text" +
                               (w.pooled.empty() ? " (--query N with the key tokens, --cols FILE, highlights one row; "
                                                   "--raster never keeps the text)."
                                                 : ".");
      emit(a, html_page_with_svg(a.title, attn::io::heatmap_svg(first, options), note), out);
      return 0;
    }
    // Highlighted text has no colour map, colour bar, axis titles or grid: refused, not dropped.
    refuse_given({{"--colormap", a.colormap_given},
                  {"--reverse", a.reverse},
                  {"--colorbar-label", !a.colorbar_label.empty()},
                  {"--no-colorbar", !a.colorbar},
                  {"--row-title", !a.row_title.empty()},
                  {"--col-title", !a.col_title.empty()},
                  {"--grid-columns", a.grid_columns != 0},
                  {"--layout", a.layout != "auto"},
                  {"--panel-titles", a.panel_titles.has_value()},
                  {"--origin", a.origin != "upper"},
                  {"--max-size", a.max_size != Arguments().max_size},
                  {"--font-size", a.font_size != Arguments().font_size},
                  {"--font-family", !a.font_family.empty()}},
                 " is for heatmaps: html output shades the tokens with --color (it shows a heatmap, which takes it, "
                 "above " + std::to_string(raster_threshold) + " cells or with --raster always)");
    Eigen::MatrixXd weights = first;
    std::vector<std::string> tokens = col_labels;
    attn::io::HighlightOptions options;
    if (!a.chars_file.empty()) {
      std::string text = read_text_file(a.chars_file, "--chars");
      // Editors end a text file with a newline: one at the very end is not part of the text.
      if (!text.empty() && text.back() == '\n') {
        text.pop_back();
        if (!text.empty() && text.back() == '\r') text.pop_back();
      }
      tokens = a.code_points ? attn::io::utf8_code_points(text) : attn::io::utf8_characters(text);
      if (static_cast<attn::Index>(tokens.size()) != weights.cols()) {
        // Say how the text was split, and whether the other split would fit.
        const std::size_t other =
            (a.code_points ? attn::io::utf8_characters(text) : attn::io::utf8_code_points(text)).size();
        const std::string other_fits = static_cast<attn::Index>(other) == weights.cols() ? std::to_string(other) : "";
        const std::string why =
            a.code_points ? (other_fits.empty() ? "" : " (as characters, without --code-points, it has " + other_fits + ")")
                          : " (a character: what a reader sees as one, a code point with its combining marks, a conjunct, joined emoji" +
                                (other_fits.empty() ? std::string(")")
                                                    : "; split into code points, as Python's list(text) does, it has " +
                                                          other_fits + ": add --code-points)");
        // Keras pads a text to the model's length (pad_sequences: zeros before it by default).
        const std::string n = std::to_string(tokens.size());
        const std::string padded =
            static_cast<attn::Index>(tokens.size()) < weights.cols()
                ? "; the model's input padded to " + std::to_string(weights.cols()) +
                      " steps? save the text's part of the weights: w[..., -" + n +
                      ":] for Keras' pad_sequences (padding='pre', its default), w[..., :" + n + "] for padding='post'"
                : "";
        throw std::runtime_error("--chars '" + a.chars_file + "' has " + n +
                                 (a.code_points ? " code points" : " characters") + " but the weights have " +
                                 std::to_string(weights.cols()) + " columns" + why + padded);
      }
      options.separator = "";
    }
    if (tokens.empty() && weights.cols() > 0) {
      throw usage_error("html output needs the tokens: give --cols FILE or --chars FILE (or a CSV with column labels)");
    }
    // --mask: the masked tokens of each line hatched; the mask is the whole map's (its rows are
    // the queries: a --query line is row q of it).
    options.mask = mask_option(a, w.maps);
    if (a.query) {
      if (*a.query >= weights.rows()) {
        throw usage_error("--query " + std::to_string(*a.query) + " is out of range: the weights have " +
                          std::to_string(weights.rows()) + " rows");
      }
      const auto q = static_cast<attn::Index>(*a.query);
      options.mask_first_row = q;
      // (A map without columns has no storage to take a row of: Eigen would offset a null pointer.)
      weights = first.cols() == 0 ? Eigen::MatrixXd(1, 0) : Eigen::MatrixXd(first.row(q));
      if (!row_labels.empty()) row_labels = {row_labels[static_cast<std::size_t>(q)]};
    }
    options.title = a.title;
    options.row_labels = row_labels;
    if (options.row_labels.empty() && weights.rows() > 1) {  // which line is which (batch items, queries)
      for (attn::Index i = 0; i < weights.rows(); ++i) options.row_labels.push_back("row " + std::to_string(i));
    }
    options.color = a.color.value_or("#e6550d");
    if (a.highlight_scale == "min-max") options.scale = attn::io::HighlightScale::min_max;
    options.vmin = a.vmin;
    options.vmax = a.vmax;
    if (a.separator) options.separator = *a.separator;
    if (a.lang) options.language = *a.lang;
    options.isolate_tokens = a.isolate_tokens;
    if (a.decimals) options.decimals = *a.decimals;
    options.show_weights = a.values;
    check_label_bytes(options.row_labels, tokens, weights.rows(), weights.cols(), 1, a);
    if (static_cast<double>(weights.size()) * 120.0 > static_cast<double>(a.max_bytes)) {
      throw std::runtime_error("a " + shape_text(weights) + " map makes more than --max-bytes " + std::to_string(a.max_bytes) +
                               " bytes of html (about 120 per token); draw it as svg, or raise --max-bytes");
    }
    emit(a, attn::io::highlight_html(tokens, weights, options), out);
    return 0;
  }

  if (!a.chars_file.empty()) throw usage_error("--chars is for html output");
  if (a.query) throw usage_error("--query is for html output");
  refuse_given({{"--highlight-scale", a.highlight_scale != "from-zero"},
                {"--separator", a.separator.has_value()},
                {"--lang", a.lang.has_value()},
                {"--isolate-tokens", a.isolate_tokens}},
               " is for html output (highlighted tokens)");
  if (a.hist) {
    refuse_heatmap_only(a, a.colormap_given, "--hist draws a histogram of all the weights");
    refuse_given({{"--rows", !a.rows_file.empty()}, {"--cols", !a.cols_file.empty()}},
                 " labels tokens, but --hist draws a histogram of all the weights (its x axis: weight)");
    attn::io::HistogramOptions options;
    options.bins = static_cast<attn::Index>(*a.hist);
    options.font_size = a.font_size;
    if (!a.font_family.empty()) options.font_family = a.font_family;
    options.range_min = a.vmin;
    options.range_max = a.vmax;
    options.title = a.title;
    if (!a.col_title.empty()) options.x_axis_title = a.col_title;
    if (a.color) options.color = *a.color;
    Eigen::Index total = 0;
    for (const Eigen::MatrixXd& m : w.maps) total += m.size();
    Eigen::RowVectorXd all(total);
    Eigen::Index at = 0;
    for (const Eigen::MatrixXd& m : w.maps) {
      if (m.size() > 0) all.segment(at, m.size()) = Eigen::Map<const Eigen::RowVectorXd>(m.data(), m.size());
      at += m.size();
    }
    emit(a, attn::io::histogram_svg(all, options), out);
    return 0;
  }
  // A single row is drawn as bars unless --heatmap asks for the strip.
  if (a.bars || (!a.heatmap && !w.stacked && a.truth.empty() && first.rows() == 1)) {
    if (w.stacked) throw usage_error("--bars takes one map (1-D or 2-D), but '" + a.weights + "' is " + axes_text(w));
    refuse_heatmap_only(a, false, a.bars ? std::string("--bars draws each row as bars")
                                         : "'" + a.weights + "' is a single row, drawn as bars (--heatmap draws it as a one-row heatmap)");
    if (a.colormap_given && a.color) {
      throw usage_error("--color and --colormap: bars take one colour (--color) or each the colour of its value "
                        "on a colormap (--colormap), not both");
    }
    attn::io::BarOptions options;
    options.title = a.title;
    options.labels = col_labels;
    options.row_labels = row_labels;
    options.x_axis_title = a.col_title;
    options.ymin = a.vmin;
    options.ymax = a.vmax;
    options.max_plot_width = a.max_size;
    options.font_size = a.font_size;
    if (!a.font_family.empty()) options.font_family = a.font_family;
    if (a.color) options.color = *a.color;
    if (a.colormap_given) options.colormap = attn::io::parse_colormap(a.colormap);
    check_label_bytes(row_labels, col_labels, first.rows(), first.cols(), 1, a);
    emit(a, attn::io::bars_svg(first, options), out);
    return 0;
  }
  // A heatmap's colours come from --colormap; a lone map has no grid or pair: refused, not dropped.
  refuse_given({{"--color", a.color.has_value()}},
               " is for html highlighting, bars and histograms: a heatmap takes --colormap");
  // The decimals of printed values, and values in cells drawn as one image: nothing to print.
  if (a.decimals && !a.values) throw usage_error("--decimals sets the decimals of --values: give --values too");
  if (a.values && a.raster == "always") {
    throw usage_error("--values prints each weight in its cell, but --raster always draws the cells as one image "
                      "without text: leave one of them out");
  }
  if (!w.stacked && a.truth.empty()) {
    refuse_given({{"--layout", a.layout != "auto"}, {"--panel-titles", a.panel_titles.has_value()},
                  {"--grid-columns", a.grid_columns != 0}, {"--color-scale", a.color_scale != "shared"}},
                 " is for a grid (3-D WEIGHTS) or a pair (--truth), but '" + a.weights + "' is one map (-t titles it)");
  } else if (a.truth.empty()) {
    refuse_given({{"--layout", a.layout != "auto"}}, " says where the --truth map goes: give --truth");
  } else {
    refuse_given({{"--grid-columns", a.grid_columns != 0}},
                 " is for a grid of 3-D WEIGHTS: --truth draws a pair (--layout beside or under)");
  }
  attn::io::HeatmapOptions options = heatmap_options(a, row_labels, col_labels);
  options.index_block_rows = static_cast<attn::Index>(w.pool_rows);  // a pooled map's ticks: the file's rows
  options.index_block_cols = static_cast<attn::Index>(w.pool_cols);
  SvgMasks masks = svg_masks(a, w);  // a 3-D mask file on a grid: one per map or item
  options.mask = std::move(masks.all);
  const std::vector<attn::Mask>& panel_masks = masks.panels;
  if (a.leaked && !w.pooled.empty()) {
    throw usage_error("--leaked needs each row's sum, but '" + a.weights + "' is drawn " + w.pooled +
                      ": draw it unpooled (--raster never, or a --max-size of at least its rows and columns, "
                      "without --pool)");
  }
  // --leaked: 1 - each row's sum, clamped to [0, 1], as leaked_mass is;
  // below 1e-6 it is the rounding of a full row (float32 files: about 1e-7 per 10 entries): 0.
  const auto leaked_of = [&a](const Eigen::MatrixXd& m) {
    if (!a.leaked) return Eigen::VectorXd();
    Eigen::VectorXd leaked = attn::alignment_stats(m).leaked;  // 1 - each row's sum
    // A row with NaN or ±inf has no known sum: no bar (NaN), rather than a made-up loss.
    for (double& l : leaked) {
      l = !std::isfinite(l) ? std::numeric_limits<double>::quiet_NaN() : l < 1e-6 ? 0.0 : std::min(l, 1.0);
    }
    return leaked;
  };

  if (!a.truth.empty()) {
    if (w.stacked) throw usage_error("--truth takes one map, but '" + a.weights + "' is " + axes_text(w));
    const Weights truth = read_weights(a.truth, a.csv_labels, a);
    if (truth.stacked) throw std::runtime_error("--truth '" + a.truth + "' is 3-D: it must be one map");
    const Eigen::MatrixXd& t = truth.maps.front();
    if (t.rows() != first.rows() || t.cols() != first.cols()) {
      throw std::runtime_error("--truth '" + a.truth + "' is " + shape_text(t) + " but the weights are " +
                               shape_text(first));
    }
    const std::vector<std::string> titles = panel_titles(a, 2, "--truth draws", [](std::size_t k) {
      return std::string(k == 0 ? "truth" : "attention");
    });
    attn::io::HeatmapPanel truth_panel{t, titles[0], {}, {}};
    attn::io::HeatmapPanel weights_panel{first, titles[1], {}, {}};
    weights_panel.leaked_mass = leaked_of(first);
    const auto layout = pair_layout(a);
    check_label_bytes(row_labels, col_labels, first.rows(), first.cols(), 2, a, true);
    emit(a, attn::io::heatmap_pair_svg(truth_panel, weights_panel, options, layout), out);
    return 0;
  }
  if (w.stacked) {
    const auto heads = static_cast<std::size_t>(w.grid_heads);
    const std::function<std::string(std::size_t)> default_title =
        w.titles.empty() ? grid_titles(a, w) : [&w](std::size_t k) { return w.titles[k]; };
    const std::vector<std::string> titles = panel_titles(a, w.maps.size(), "'" + a.weights + "' holds", default_title);
    if (heads > 0 && a.grid_columns == 0) options.grid_columns = w.grid_heads;  // a row per layer
    check_label_bytes(row_labels, col_labels, first.rows(), first.cols(), static_cast<long long>(w.maps.size()), a, true);
    std::vector<attn::io::HeatmapPanel> panels = attn::io::heatmap_panels(w.maps, titles);
    for (attn::io::HeatmapPanel& panel : panels) panel.leaked_mass = leaked_of(panel.values);
    for (std::size_t k = 0; k < panel_masks.size(); ++k) panels[k].mask = panel_masks[k];
    emit(a, attn::io::heatmap_grid_svg(panels, options), out);
    return 0;
  }
  check_label_bytes(row_labels, col_labels, first.rows(), first.cols(), 1, a, true);
  options.leaked_mass = leaked_of(first);
  emit(a, attn::io::heatmap_svg(first, options), out);
  return 0;
}


// ---- --view: the interactive viewer page (attn::io::AttentionView) ----------------------------

/// One attention of one view item: layers × heads, each Tq×Tk, and the token labels found.
struct ViewMaps {
  std::string item;       // the batch item's name ("step 3" from a tidy CSV)
  std::size_t item_index = 0;
  std::string attention = "attention";
  std::vector<std::vector<Eigen::MatrixXd>> layers;
  std::vector<std::string> query_tokens;
  std::vector<std::string> key_tokens;
};

/// Whether the header record of the CSV file `path` names the columns query, key and weight
/// (the tidy form of attn::io::write_csv_long).
bool is_tidy_csv(const std::string& path, std::vector<std::string>& header) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return false;
  attn::io::detail::CsvReader reader(in, "'" + path + "': ");
  attn::io::detail::CsvRecord record;
  if (!reader.next(record)) return false;
  header.clear();
  for (std::size_t k = 0; k < record.size(); ++k) header.emplace_back(record.field(k));
  const auto has = [&](const char* name) { return std::find(header.begin(), header.end(), name) != header.end(); };
  return has("query") && has("key") && has("weight");
}

/// --mask with --view: a causal keyword, or the maps of the mask file `masks`: one Tq×Tk map for every
/// attention of the page, or a 3-D stack of one map per batch item (padding differs by item;
/// the count is checked before).
attn::Mask view_mask(const Arguments& a, const Weights& masks, const ViewMaps& item, attn::Index rows,
                     attn::Index cols) {
  if (is_causal_keyword(a.mask)) return causal_mask(a.mask, rows, cols);
  const std::size_t k = masks.stacked ? item.item_index : 0;  // the count was checked where the masks were read
  const Eigen::MatrixXd m = broadcast_mask(masks.maps.at(k), rows, cols);
  if (m.rows() != rows || m.cols() != cols) {
    std::string whose = item.item.empty() ? "the weights" : "the maps of '" + item.item + "'";
    if (item.attention != "attention") whose += " (" + item.attention + ")";
    throw std::runtime_error("--mask '" + a.mask + "'" + (masks.stacked ? " map " + std::to_string(k) : std::string()) +
                             " is " + shape_text(m) + " but " + whose + " are " + std::to_string(rows) + "x" +
                             std::to_string(cols));
  }
  attn::Mask mask = mask_of_file(a.mask, m);
  std::vector<const Eigen::MatrixXd*> maps;
  for (const auto& layer : item.layers)
    for (const Eigen::MatrixXd& head : layer) maps.push_back(&head);
  check_mask_not_inverted(a.mask, m, maps);
  return mask;
}

/// Reads the tidy CSV `path` (header already read into `header`): each step is an item, each
/// value of an `attention` column (if any) an attention of it, in the order of first appearance;
/// layers and heads as numbered (their distinct values in increasing order); tokens from the
/// query_token / key_token columns; cells not given are NaN.
std::vector<ViewMaps> read_tidy_csv(const std::string& path, const std::vector<std::string>& header, const Arguments& a) {
  const auto column = [&](const char* name) -> long long {
    const auto at = std::find(header.begin(), header.end(), name);
    return at == header.end() ? -1 : static_cast<long long>(at - header.begin());
  };
  const long long c_layer = column("layer"), c_head = column("head"), c_step = column("step");
  const long long c_query = column("query"), c_key = column("key"), c_weight = column("weight");
  const long long c_qtok = column("query_token"), c_ktok = column("key_token"), c_att = column("attention");
  struct Cell {
    long long layer, head, query, key;
    double weight;
  };
  struct Group {  // one attention of one step
    std::vector<Cell> cells;
    std::map<long long, std::string> qtok, ktok;
    std::map<long long, std::size_t> layers, heads;
    long long rows = 0, cols = 0;
  };
  std::map<long long, std::vector<std::string>> order;  // step -> its attentions, first seen first
  std::map<std::pair<long long, std::string>, Group> groups;
  long long count = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) throw std::runtime_error("'" + path + "': cannot open for reading");
  attn::io::detail::CsvReader reader(in, "'" + path + "': ");
  attn::io::detail::CsvRecord record;
  reader.next(record);  // the header
  while (reader.next(record)) {
    if (record.size() != header.size()) {
      reader.fail(record.line, "the record has " + std::to_string(record.size()) + " fields, the header " +
                                   std::to_string(header.size()));
    }
    const auto field = [&](long long c) { return std::string(record.field(static_cast<std::size_t>(c))); };
    const auto index = [&](long long c, const char* name) -> long long {
      if (c < 0) return 0;
      const std::string text = field(c);
      double v = 0;
      if (!attn::io::detail::csv_parse_number(text, v) || !(v >= 0) || v > 1e9 || v != std::floor(v)) {
        reader.fail(record.line, std::string("the ") + name + " '" + text + "' is not a whole number in [0, 1e9]");
      }
      return static_cast<long long>(v);
    };
    const long long step = index(c_step, "step");
    const std::string attention = c_att >= 0 ? field(c_att) : std::string("attention");
    Cell cell{index(c_layer, "layer"), index(c_head, "head"), index(c_query, "query"), index(c_key, "key"), 0.0};
    const std::string w = field(c_weight);
    if (!attn::io::detail::csv_parse_number(w, cell.weight)) reader.fail(record.line, "the weight '" + w + "' is not a number");
    std::vector<std::string>& names = order[step];
    if (std::find(names.begin(), names.end(), attention) == names.end()) names.push_back(attention);
    Group& g = groups[{step, attention}];
    if (c_qtok >= 0) g.qtok[cell.query] = field(c_qtok);
    if (c_ktok >= 0) g.ktok[cell.key] = field(c_ktok);
    g.layers[cell.layer];
    g.heads[cell.head];
    g.rows = std::max(g.rows, cell.query + 1);
    g.cols = std::max(g.cols, cell.key + 1);
    g.cells.push_back(cell);
    if (++count > a.max_cells) {
      throw std::runtime_error("'" + path + "' holds more than --max-cells " + std::to_string(a.max_cells) + " weights");
    }
  }
  if (count == 0) throw std::runtime_error("'" + path + "' holds no weight");
  std::vector<ViewMaps> out;
  long long maps = 0, cells = 0;  // over the whole file, for --max-maps and --max-cells
  std::size_t item_index = 0;
  for (const auto& step : order) {
    for (const std::string& name : step.second) {
      Group& g = groups[{step.first, name}];
      std::size_t k = 0;
      for (auto& entry : g.layers) entry.second = k++;
      k = 0;
      for (auto& entry : g.heads) entry.second = k++;
      const auto n = static_cast<long long>(g.layers.size() * g.heads.size());
      check_limits(path, maps + n, g.rows, g.cols, a);
      maps += n;
      cells += n * g.rows * g.cols;
      if (cells > a.max_cells) {
        throw std::runtime_error("'" + path + "' holds more than --max-cells " + std::to_string(a.max_cells) + " cells");
      }
      ViewMaps v;
      v.item = c_step >= 0 ? "step " + std::to_string(step.first) : std::string();
      v.item_index = item_index;
      v.attention = name;
      v.layers.assign(g.layers.size(), std::vector<Eigen::MatrixXd>(g.heads.size(),
                                                                     Eigen::MatrixXd::Constant(g.rows, g.cols, std::nan(""))));
      for (const Cell& c : g.cells) v.layers[g.layers[c.layer]][g.heads[c.head]](c.query, c.key) = c.weight;
      const auto labels = [](const std::map<long long, std::string>& tokens, long long n_tokens) {
        std::vector<std::string> labels_out;
        for (long long i = 0; i < n_tokens && !tokens.empty(); ++i) {
          const auto at = tokens.find(i);
          labels_out.push_back(at != tokens.end() ? at->second : std::to_string(i));
        }
        return labels_out;
      };
      v.query_tokens = labels(g.qtok, g.rows);
      v.key_tokens = labels(g.ktok, g.cols);
      out.push_back(std::move(v));
    }
    ++item_index;
  }
  return out;
}

/// The batch items of one .npy or wide .csv file, each its layers of heads, after --index and
/// leading axes of size 1 (select_npy): 5-D L×B×h×Tq×Tk (`torch.stack` of Hugging Face's
/// `output_attentions`: B items), 4-D L×h×Tq×Tk (one item of L layers), 3-D h×Tq×Tk (one layer),
/// 2-D (one map). The axes are named from the right: what --index leaves of a file of 5 axes or
/// more keeps its names (4-D: B×h×Tq×Tk, items of one layer), as a 4-D file does with --batch
/// (torch.nn.MultiheadAttention's per-head weights). `alone`: the only WEIGHTS file; with
/// several, each is one layer (2-D or 3-D).
std::vector<std::vector<std::vector<Eigen::MatrixXd>>> read_view_file(const std::string& path, const Arguments& a,
                                                                      bool alone, ViewMaps& labels) {
  std::vector<std::vector<std::vector<Eigen::MatrixXd>>> items(1);
  const std::optional<NpySelection> s = has_extension(path, ".npy") ? select_npy(path, a.index) : std::nullopt;
  if (s && s->shape.size() > 3) {
    const std::string shape = "'" + path + "' has shape " + shape_tuple(s->header.shape) +
                              (a.index.empty() ? "" : ", " + shape_tuple(s->shape) + " after --index");
    if (!alone) {
      throw std::runtime_error(shape + ": with several files each is one layer, 2-D (Tq x Tk) or 3-D (h x Tq x Tk); "
                               "a 4-D (layers x h x Tq x Tk) or 5-D (layers x batch x h x Tq x Tk) file goes alone, or "
                               "pick from every file with --index (e.g. --index 0: batch item 0 of each)");
    }
    if (s->shape.size() > 5) {
      throw std::runtime_error(shape + ": --view reads up to 5 axes (layers x batch x heads x Tq x Tk); pick along "
                               "the leading ones with --index");
    }
    const bool five = s->shape.size() == 5;
    const bool of_items = !five && (a.batch || s->header.shape.size() >= 5);  // 4-D: B×h×Tq×Tk
    const attn::Index L = of_items ? 1 : s->shape[0];
    const attn::Index B = five ? s->shape[1] : of_items ? s->shape[0] : 1;
    const attn::Index h = s->shape[five ? 2 : 1];
    const attn::Index rows = s->shape[five ? 3 : 2], cols = s->shape[five ? 4 : 3];
    if (L == 0 || B == 0 || h == 0) throw std::runtime_error(shape + ": the array holds no map");
    const long long maps = attn::io::detail::npy_element_count({L, B, h});
    check_limits(path, maps < 0 ? std::numeric_limits<long long>::max() : maps, rows, cols, a);
    const attn::io::NpyArray<double> array = read_selection(path, *s, a.max_cells);
    using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    items.assign(static_cast<std::size_t>(B), {});
    for (attn::Index b = 0; b < B; ++b) {
      for (attn::Index l = 0; l < L; ++l) {
        items[static_cast<std::size_t>(b)].emplace_back();
        for (attn::Index k = 0; k < h; ++k) {
          const double* map = array.data.data() + ((l * B + b) * h + k) * rows * cols;
          items[static_cast<std::size_t>(b)].back().push_back(Eigen::Map<const RowMajor>(map, rows, cols));
        }
      }
    }
    return items;
  }
  attn::io::NpyHeader header;
  if (s && npy_map_to_pool(*s, a, header)) {
    // The view's head and text views draw every token: a map pooled into blocks has none.
    throw std::runtime_error("'" + path + "' holds a " + std::to_string(header.shape[0]) + "x" +
                             std::to_string(header.shape[1]) + " map, more than --max-cells " +
                             std::to_string(a.max_cells) + ", and --view shows every token: draw it as a picture ("
                             "attn-plot " + path + " -o map.svg pools it to the display size) or raise --max-cells");
  }
  Weights w = read_weights(path, a.csv_labels, a, a.index);
  if (labels.query_tokens.empty()) labels.query_tokens = w.row_labels;
  if (labels.key_tokens.empty()) labels.key_tokens = w.col_labels;
  if (a.batch) {  // 3-D B×Tq×Tk, alone: B items of one map each (torch's weights averaged over heads)
    if (!w.stacked || !alone) {
      throw std::runtime_error("--batch: '" + path + "' " +
                               (w.stacked ? "is one of several WEIGHTS files (each one layer)" : "holds one map") +
                               "; --batch takes one file whose first axis is batch items (B x Tq x Tk or "
                               "B x h x Tq x Tk)");
    }
    items.assign(w.maps.size(), {});
    for (std::size_t b = 0; b < w.maps.size(); ++b) items[b].push_back({std::move(w.maps[b])});
    return items;
  }
  items.front().push_back(std::move(w.maps));
  return items;
}

int run_view(const Arguments& a, std::ostream& out, std::ostream& err) {
  std::vector<ViewMaps> items;
  std::vector<std::string> header;
  if (a.more_weights.empty() && has_extension(a.weights, ".csv") && is_tidy_csv(a.weights, header)) {
    if (a.batch) {
      throw usage_error("--batch names the first axis of a .npy file; a tidy .csv gives its batch items in its "
                        "'step' column");
    }
    items = read_tidy_csv(a.weights, header, a);
  } else {
    items.emplace_back();
    std::vector<std::string> files{a.weights};
    files.insert(files.end(), a.more_weights.begin(), a.more_weights.end());
    for (const std::string& file : files) {
      auto batch = read_view_file(file, a, files.size() == 1, items.front());
      if (batch.size() > 1) {  // a 5-D file, alone: one batch item each, with the item selector
        const ViewMaps labels = items.front();
        items.clear();
        for (std::size_t b = 0; b < batch.size(); ++b) {
          items.push_back(labels);
          items.back().item = "item " + std::to_string(b);
          items.back().item_index = b;
          items.back().layers = std::move(batch[b]);
        }
        break;
      }
      ViewMaps& item = items.back();
      for (auto& layer : batch.front()) {
        const Eigen::MatrixXd& first = item.layers.empty() ? layer.front() : item.layers.front().front();
        if (layer.front().rows() != first.rows() || layer.front().cols() != first.cols() ||
            (!item.layers.empty() && layer.size() != item.layers.front().size())) {
          throw std::runtime_error("'" + file + "' holds " + std::to_string(layer.size()) + " map(s) of " +
                                   shape_text(layer.front()) + " but the first layer has " +
                                   std::to_string(item.layers.front().size()) + " of " + shape_text(first) +
                                   ": every layer needs the same heads and shape");
        }
        item.layers.push_back(std::move(layer));
      }
      if (static_cast<long long>(item.layers.size() * item.layers.front().size()) > a.max_maps) {
        throw std::runtime_error("the files hold more than --max-maps " + std::to_string(a.max_maps) + " maps");
      }
    }
  }
  attn::io::AttentionView view;
  double cells = 0;
  const Weights masks = a.mask.empty() || is_causal_keyword(a.mask) ? Weights() : read_weights(a.mask, "none", a);
  const std::size_t item_count = items.back().item_index + 1;
  if (masks.stacked && masks.maps.size() != item_count) {  // (a 1×Tq×Tk file is one mask for all)
    throw std::runtime_error("--mask '" + a.mask + "' holds " + std::to_string(masks.maps.size()) +
                             " masks but the page has " + std::to_string(item_count) +
                             " batch item(s): give one mask per item (B x Tq x Tk, or B x 1 x Tk), or one for all (Tq x Tk, or 1 x Tk)");
  }
  std::vector<const Eigen::MatrixXd*> all_maps;  // (a causal mask's note)
  for (ViewMaps& item : items) {
    const Eigen::MatrixXd& first = item.layers.front().front();
    for (const auto& layer : item.layers)
      for (const Eigen::MatrixXd& head : layer) all_maps.push_back(&head);
    if (first.size() == 0) {
      const bool one = items.size() == 1 && item.layers.size() == 1 && item.layers.front().size() == 1;
      throw std::runtime_error("'" + a.weights + (one ? "' is a " : "' holds ") + shape_text(first) +
                               (one ? " map" : " maps") + ": there is nothing to draw");
    }
    for (const auto& layer : item.layers) cells += static_cast<double>(layer.size()) * static_cast<double>(first.size());
    if (!a.rows_file.empty()) {
      item.query_tokens = read_tokens(a.rows_file, "--rows");
      check_label_count(item.query_tokens, first.rows(), "--rows '" + a.rows_file + "'", "rows (queries)");
    }
    if (!a.cols_file.empty()) {
      item.key_tokens = read_tokens(a.cols_file, "--cols");
      check_label_count(item.key_tokens, first.cols(), "--cols '" + a.cols_file + "'", "columns (keys)");
    }
    if (&item == &items.front() || item.item_index != (&item - 1)->item_index) view.add_item(item.item);
    auto& attention = view.add_attention(item.attention, item.query_tokens, item.key_tokens);
    for (const auto& layer : item.layers) attention.add_layer(layer);
    if (!a.mask.empty()) attention.set_mask(view_mask(a, masks, item, first.rows(), first.cols()));
  }
  note_causal_mask_hiding_weight(a, all_maps, err);
  attn::io::ViewOptions options;
  options.title = a.title;
  options.colormap = attn::io::parse_colormap(a.colormap);
  if (a.color) options.highlight_color = *a.color;
  if (a.separator) options.separator = *a.separator;
  options.view = a.view_start == "model" ? attn::io::ViewKind::model
                 : a.view_start == "map" ? attn::io::ViewKind::map
                 : a.view_start == "text" ? attn::io::ViewKind::text
                 : a.view_start == "head" ? attn::io::ViewKind::head
                                          : attn::io::ViewKind::automatic;
  options.precision = a.view_precision == "float32"  ? attn::io::ViewPrecision::float32
                      : a.view_precision == "uint16" ? attn::io::ViewPrecision::uint16
                      : a.view_precision == "uint8"  ? attn::io::ViewPrecision::uint8
                                                     : attn::io::automatic_view_precision(cells);
  if (a.view_precision == "auto" && options.precision != attn::io::ViewPrecision::float32) {
    // Chosen for the page's size: said, since values then read back approximately.
    const bool wide = options.precision == attn::io::ViewPrecision::uint16;
    err << "attn-plot: note: the page stores its " << static_cast<long long>(cells) << " cells in "
        << (wide ? "16" : "8") << " bits, each value within (max - min) / " << (wide ? "131064" : "504")
        << " of its map's (the page says how far, and prints values with \u2248); --view-precision float32 keeps "
           "them exactly, in a page of about "
        << static_cast<long long>(cells * 16 / 3 / 1e6 + 1) << " MB\n";
  }
  emit(a, attn::io::attention_view_html(view, options), out);
  return 0;
}

// --- training animation (--animate): frames from epoch_*.npy files ---------------------------

/// One input file of an animation, with the number in its name.
struct FrameFile {
  std::string path;
  long long step = 0;
  std::string title;  // "epoch 3" for epoch_3.npy
};

/// The number in a file's name (the last run of digits of its stem: epoch_10.npy → 10) and its
/// title (the stem, '_' and '-' before the number becoming a space: "epoch 10").
FrameFile frame_file(const std::string& path) {
  const std::string stem = fs::path(path).stem().string();
  std::size_t end = stem.size();
  while (end > 0 && !std::isdigit(static_cast<unsigned char>(stem[end - 1]))) --end;
  std::size_t begin = end;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(stem[begin - 1]))) --begin;
  if (begin == end) {
    throw usage_error("--animate: '" + path + "' has no number in its name (name the frames epoch_1.npy, epoch_2.npy, ...)");
  }
  const std::string digits = stem.substr(begin, end - begin);
  FrameFile file{path, 0, {}};
  try {
    file.step = std::stoll(digits);
  } catch (const std::exception&) {
    throw usage_error("--animate: the number in '" + path + "' is too large");
  }
  std::string prefix = stem.substr(0, begin);
  while (!prefix.empty() && (prefix.back() == '_' || prefix.back() == '-' || prefix.back() == ' ')) prefix.pop_back();
  file.title = (prefix.empty() ? std::string("step") : prefix) + " " + std::to_string(file.step) + stem.substr(end);
  return file;
}

/// The frame files: the arguments, a directory standing for its .npy files with a number in
/// their names (not truth.npy, nor `truth`), sorted by that number (epoch_2 before epoch_10),
/// each number once.
std::vector<FrameFile> frame_files(const std::vector<std::string>& inputs, const std::string& truth) {
  std::vector<FrameFile> files;
  for (const std::string& input : inputs) {
    std::error_code error;
    if (fs::is_directory(input, error)) {
      for (const auto& entry : fs::directory_iterator(input)) {
        std::error_code same_error;
        const bool is_truth = !truth.empty() && fs::equivalent(entry.path(), truth, same_error);
        const std::string stem = entry.path().stem().string();
        const bool numbered = std::any_of(stem.begin(), stem.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (entry.is_regular_file() && has_extension(entry.path().string(), ".npy") && !is_truth && numbered) {
          files.push_back(frame_file(entry.path().string()));
        }
      }
    } else {
      files.push_back(frame_file(input));
    }
  }
  if (files.empty()) throw usage_error("--animate: no numbered .npy file found in '" + inputs.front() + "'");
  std::sort(files.begin(), files.end(), [](const FrameFile& x, const FrameFile& y) {
    return x.step != y.step ? x.step < y.step : x.path < y.path;
  });
  for (std::size_t k = 1; k < files.size(); ++k) {
    if (files[k].step == files[k - 1].step) {
      throw usage_error("--animate: '" + files[k - 1].path + "' and '" + files[k].path + "' have the same number " +
                        std::to_string(files[k].step));
    }
  }
  return files;
}

int run_animation(const Arguments& a, std::ostream& out) {
  const std::vector<FrameFile> files = frame_files(a.inputs, a.truth);
  std::vector<attn::io::AnimationFrame> frames;
  long long cells = 0;
  for (const FrameFile& file : files) {
    if (!has_extension(file.path, ".npy") && !has_extension(file.path, ".csv")) {
      throw usage_error("cannot tell the format of '" + file.path + "' from its extension: use .npy or .csv");
    }
    Weights w = read_weights(file.path, a.csv_labels, a);
    for (const Eigen::MatrixXd& m : w.maps) cells += static_cast<long long>(m.size());
    if (cells > a.max_cells) {
      throw std::runtime_error("the frames up to '" + file.path + "' hold " + std::to_string(cells) +
                               " cells, more than --max-cells " + std::to_string(a.max_cells));
    }
    frames.push_back({file.step, file.title, std::move(w.maps)});
  }
  std::vector<Eigen::MatrixXd> truth;
  if (!a.truth.empty()) truth = read_weights(a.truth, a.csv_labels, a).maps;

  attn::io::AnimationOptions options;
  options.title = a.title;  // the page's default: "attention during training"; the grid's: none
  if (!a.rows_file.empty()) options.row_labels = read_tokens(a.rows_file, "--rows");
  if (!a.cols_file.empty()) options.col_labels = read_tokens(a.cols_file, "--cols");
  options.colormap = attn::io::parse_colormap(a.colormap);
  options.reverse_colormap = a.reverse;
  options.vmin = a.vmin;
  options.vmax = a.vmax;
  if (!a.colorbar_label.empty()) options.colorbar_label = a.colorbar_label;
  if (!a.colorbar) options.colorbar_label.clear();
  if (a.panel_titles) {
    options.sample_titles = panel_titles(a, frames.front().maps.size(), "'" + files.front().path + "' holds",
                                         [](std::size_t k) { return "sample " + std::to_string(k); });
  }
  options.truth_layout = pair_layout(a);
  if (a.frame_ms) options.frame_ms = static_cast<int>(*a.frame_ms);
  if (a.cell) options.cell_size = static_cast<int>(*a.cell);
  if (a.precision == "uint8") options.precision = attn::io::AnimationPrecision::uint8;
  // Shapes are checked here to name the files, not frames[k].
  for (std::size_t f = 1; f < frames.size(); ++f) {
    if (frames[f].maps.size() != frames.front().maps.size()) {
      throw std::runtime_error("'" + files[f].path + "' holds " + std::to_string(frames[f].maps.size()) + " maps but '" +
                               files.front().path + "' holds " + std::to_string(frames.front().maps.size()));
    }
    for (std::size_t k = 0; k < frames[f].maps.size(); ++k) {
      if (frames[f].maps[k].rows() != frames.front().maps[k].rows() ||
          frames[f].maps[k].cols() != frames.front().maps[k].cols()) {
        throw std::runtime_error("'" + files[f].path + "' map " + std::to_string(k) + " is " +
                                 shape_text(frames[f].maps[k]) + " but in '" + files.front().path + "' it is " +
                                 shape_text(frames.front().maps[k]));
      }
    }
  }
  if (!truth.empty()) {
    const auto& first = frames.front().maps;
    bool fits = truth.size() == first.size();
    for (std::size_t k = 0; fits && k < truth.size(); ++k) {
      fits = truth[k].rows() == first[k].rows() && truth[k].cols() == first[k].cols();
    }
    if (!fits) {
      const auto shapes = [](const std::vector<Eigen::MatrixXd>& maps) {
        return std::to_string(maps.size()) + " map(s) of " + shape_text(maps.front());
      };
      throw std::runtime_error("--truth '" + a.truth + "' holds " + shapes(truth) + " but each frame holds " +
                               shapes(first) + " (one truth map per map of a frame)");
    }
  }
  // Every map of a frame has the first one's shape (3-D) or is the only one (2-D).
  check_label_count(options.row_labels, frames.front().maps.front().rows(), "--rows '" + a.rows_file + "'",
                    "rows (queries)");
  check_label_count(options.col_labels, frames.front().maps.front().cols(), "--cols '" + a.cols_file + "'",
                    "columns (keys)");
  check_label_bytes(options.row_labels, options.col_labels, 1, 1, 1, a);

  if (a.format == "svg") {
    std::vector<std::size_t> shown;
    for (const long long step : *a.frames) {
      const auto at = std::find_if(files.begin(), files.end(), [&](const FrameFile& f) { return f.step == step; });
      if (at == files.end()) {
        std::string known;
        for (const FrameFile& f : files) known += (known.empty() ? "" : ", ") + std::to_string(f.step);
        throw usage_error("--frames: no frame file is numbered " + std::to_string(step) + " (the frames are " + known + ")");
      }
      shown.push_back(static_cast<std::size_t>(at - files.begin()));
    }
    emit(a, attn::io::animation_grid_svg(frames, truth, shown, options), out);
    return 0;
  }
  emit(a, attn::io::animation_html(frames, truth, options), out);
  return 0;
}

}  // namespace

/// The whole tool, callable in-process (the fuzzer does): arguments as main() gets them,
/// standard output and error as streams. Returns the exit status.
int attn_plot_main(int argc, char** argv, std::ostream& out, std::ostream& err) {
  try {
    const std::optional<Arguments> arguments = parse_arguments(argc, argv, out);
    if (!arguments) return 0;
    return run(*arguments, out, err);
  } catch (const usage_error& e) {
    // The usage line of the mode the command line asked for.
    const char* usage = kUsage;
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "--animate") usage = kAnimateUsage;
      if (arg == "--view") usage = kViewUsage;
    }
    err << "attn-plot: " << e.what() << "\n" << usage << "\n";
    return 2;
  } catch (const attn::invalid_argument& e) {
    err << "attn-plot: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    err << "attn-plot: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    // attn's file writers name the program themselves ("attn-plot: cannot write ...").
    const std::string message = e.what();
    err << (message.rfind("attn-plot: ", 0) == 0 ? "" : "attn-plot: ") << message << "\n";
    return 1;
  } catch (...) {
    err << "attn-plot: unknown error\n";
    return 1;
  }
}

#ifndef ATTN_PLOT_NO_MAIN
int main(int argc, char** argv) { return attn_plot_main(argc, argv, std::cout, std::cerr); }
#endif
