#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Browser test: headless Chromium renders heatmaps that attn-plot drew with a mask (--mask), and
# tests/browser/png_pixels.py check-masked checks the pixels: every masked cell shows the
# hatching (neutral greys only, light background and dark stripes: no colour of the map, so a
# masked cell never looks like weight 0), the legend swatch likewise, and every visible cell its
# own colour; with vector cells and with the map drawn as one embedded image.
#
#   tests/browser/mask_pixels.sh ATTN_PLOT [WORK_DIR]
#
# Needs chromium (Debian: apt-get install chromium) and python3; scripts/test.sh installs them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/browser/lib.sh
. "$here/lib.sh"

# Causal self-attention weights: the upper triangle is 0 (masked); row 0 has its 1 on the diagonal.
cat >"$work/causal.csv" <<'CSV'
1,0,0,0
0.6,0.4,0,0
0.2,0.3,0.5,0
0,0.1,0.2,0.7
CSV

# 1. vector cells, --mask causal
"$plot" "$work/causal.csv" --mask causal --raster never -t "causal" -o "$work/masked.svg"
xmllint --noout "$work/masked.svg"
read -r w h < <(svg_size "$work/masked.svg")
screenshot "$work/masked.svg" "$w" "$h" "$work/masked.png"
run_check check-masked "$work/masked.png" "$work/masked.svg"

# 2. the same map as one embedded image, the hatching over it; mask from a file (non-zero: visible)
cat >"$work/visible.csv" <<'CSV'
1,0,0,0
1,1,0,0
1,1,1,0
1,1,1,1
CSV
"$plot" "$work/causal.csv" --mask "$work/visible.csv" --raster always -o "$work/raster.svg"
xmllint --noout "$work/raster.svg"
read -r w h < <(svg_size "$work/raster.svg")
screenshot "$work/raster.svg" "$w" "$h" "$work/raster.png"
run_check check-masked "$work/raster.png" "$work/raster.svg" "$work/masked.svg"

finish "${2:-}"
