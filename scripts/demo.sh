#!/usr/bin/env bash
# Build and run the demo: a trained GRU encoder-decoder with Bahdanau attention translates
# dates in C++ (examples/date_demo.cpp), writes alignments.csv and alignments.html (the
# interactive view of every translation's alignment) into the repository root, and attn-plot
# draws alignments.csv as alignments.svg. Then the transformer demo (examples/transformer_demo.cpp):
# a trained encoder-decoder transformer decodes the same kind of dates greedily and with a beam of
# 4 and writes transformer_attention.csv and transformer_attention.svg (cross-attention per layer
# and head). Last, attn_long_context: 8192 tokens, the ten keys that received the most attention
# and the mean row entropy, through weight sinks, without a T x T matrix.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/deps.sh
source scripts/deps.sh

jobs="$(nproc 2>/dev/null || echo 2)"
section() { printf '\n==== %s ====\n' "$*"; }

section "dependencies"
attn_deps

section "configure build/ (Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DATTN_BUILD_EXAMPLES=ON

section "build attn_date_demo, attn_transformer_demo, attn_long_context and attn-plot"
cmake --build build -j"$jobs" --target attn_date_demo attn_transformer_demo attn_long_context attn-plot

section "run attn_date_demo (dates given as arguments are translated too)"
rm -f alignments.csv alignments.svg alignments.html
./build/examples/attn_date_demo "$@"

section "alignments.csv"
cat alignments.csv

section "alignments.svg (heatmap of alignments.csv)"
./build/tools/attn-plot alignments.csv \
    --row-title "output token" --col-title "input character" \
    -t "Bahdanau attention of a trained date translator" --colorbar-label weight --vmin 0 \
    -o alignments.svg
echo "wrote alignments.svg"

section "alignments.html (interactive view: head, model, map and text views; works offline)"
test -s alignments.html
echo "open alignments.html in a browser"

section "run attn_transformer_demo (greedy and beam 4; per-layer, per-head cross-attention)"
rm -f transformer_attention.csv transformer_attention.svg
./build/examples/attn_transformer_demo "$@"
echo "open transformer_attention.svg in a browser"

# T = 8192 keeps the demo short (under a second); `attn_long_context` alone runs T = 32768, about
# 5 s on the project's 2-vCPU VM under load (docs/08-performance.md, "Example: 32768 tokens").
section "attn_long_context 8192: attention received per key, without a T x T matrix"
./build/examples/attn_long_context 8192
