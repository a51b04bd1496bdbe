#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Browser test: headless Chromium renders heatmaps and highlighted text that attn-plot drew from
# a known matrix, and tests/browser/png_pixels.py (Python standard library) checks the pixels:
# the high-weight cell and the low-weight cell differ in the right direction (brighter with
# viridis, darker with greys), every cell shows its own fill colour, the raster form of the
# map shows the same colours, and the most attended token of the HTML has the full shade.
#
#   tests/browser/heatmap_pixels.sh ATTN_PLOT [WORK_DIR]
#
# Needs chromium (Debian: apt-get install chromium) and python3; scripts/test.sh installs them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/browser/lib.sh
. "$here/lib.sh"

# The known matrix: rows are queries, columns keys; (0,0) = 0.95 is the high-weight cell,
# (1,0) = 0.02 the low-weight one.
cat >"$work/weights.csv" <<'EOF'
,the,black,cat
le,0.95,0.03,0.02
chat,0.02,0.08,0.90
noir,0.10,0.85,0.05
EOF
printf '%s\n' 'le <b>' 'chat & "chien"' 'noir ünïcødé' >"$work/rows.txt"

# 1. viridis, vector cells, labels from the CSV: the high-weight cell is brighter.
"$plot" "$work/weights.csv" -r "$work/rows.txt" -t "viridis <&>" --values -o "$work/viridis.svg"
read -r w h < <(svg_size "$work/viridis.svg")
screenshot "$work/viridis.svg" "$w" "$h" "$work/viridis.png"
run_check check-svg "$work/viridis.png" "$work/viridis.svg" 0 0 1 0 brighter

# 2. the same map as one embedded raster image: same colours, same direction.
"$plot" "$work/weights.csv" --raster always -o "$work/raster.svg"
"$plot" "$work/weights.csv" --raster never -o "$work/reference.svg"
read -r w h < <(svg_size "$work/raster.svg")
screenshot "$work/raster.svg" "$w" "$h" "$work/raster.png"
run_check check-svg "$work/raster.png" "$work/raster.svg" 0 0 1 0 brighter "$work/reference.svg"

# 3. greys: the high-weight cell is darker.
"$plot" "$work/weights.csv" --colormap greys -o "$work/greys.svg"
read -r w h < <(svg_size "$work/greys.svg")
screenshot "$work/greys.svg" "$w" "$h" "$work/greys.png"
run_check check-svg "$work/greys.png" "$work/greys.svg" 0 0 1 0 darker

# 4. highlighted text: the most attended token (0.95) wears the full shade #e6550d.
"$plot" "$work/weights.csv" --query 0 --color '#e6550d' -o "$work/text.html"
screenshot "$work/text.html" 800 300 "$work/text.png"
run_check count-color "$work/text.png" '#e6550d' 100

finish "${2:-}"
