#!/usr/bin/env bash
# Build attn's API reference with Doxygen into build/docs/html (open build/docs/html/index.html).
# docs/Doxyfile makes every warning an error: this exits non-zero on the first undocumented
# public function, type, member or parameter. Installs doxygen (Debian) when it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/deps.sh
source scripts/deps.sh

attn_deps doxygen

out="${1:-build/docs}"
mkdir -p "$out"
rm -rf "$out/html"
( cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $out" ) | doxygen -
echo "docs: API reference in $out/html/index.html"
