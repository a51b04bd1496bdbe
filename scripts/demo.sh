#!/usr/bin/env bash
# Build and run the alignment demo: it writes alignments.csv into the repository root,
# which is then printed.
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

section "build attn_alignment_demo"
cmake --build build -j"$jobs" --target attn_alignment_demo

section "run attn_alignment_demo"
rm -f alignments.csv
./build/examples/attn_alignment_demo

section "alignments.csv"
cat alignments.csv
