#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Browser test: headless Chromium renders the bar charts and the histogram that attn-plot drew
# from known weights, and tests/browser/png_pixels.py (Python standard library) measures the
# bars in the screenshot: the tallest bar has the bar colour at its x and its top where the SVG
# puts it, every bar of smaller weight (or count) has a lower top.
#
#   tests/browser/bars_pixels.sh ATTN_PLOT [WORK_DIR]
#
# Needs chromium (Debian: apt-get install chromium) and python3; scripts/test.sh installs them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/browser/lib.sh
. "$here/lib.sh"

# A weights row (pooling over six tokens): "cat" (0.46) is the tallest bar, "." (0.02) the shortest.
cat >"$work/row.csv" <<'CSV'
,the,black <b>,cat,sat,on,.
pooling,0.08,0.22,0.46,0.12,0.10,0.02
CSV
# 1. a single row is drawn as bars by default, in the default colour.
"$plot" "$work/row.csv" -t "bars <&>" -o "$work/bars.svg"
read -r w h < <(svg_size "$work/bars.svg")
screenshot "$work/bars.svg" "$w" "$h" "$work/bars.png"
run_check check-bars "$work/bars.png" "$work/bars.svg" '#31688e'

# 2. small multiples: each panel's bars measured on the shared y scale, in a chosen colour.
cat >"$work/steps.csv" <<'CSV'
,a,b,c,d
step 0,0.70,0.10,0.15,0.05
step 1,0.05,0.60,0.30,0.05
CSV
"$plot" "$work/steps.csv" --bars --color '#e6550d' -o "$work/steps.svg"
read -r w h < <(svg_size "$work/steps.svg")
screenshot "$work/steps.svg" "$w" "$h" "$work/steps.png"
run_check check-bars "$work/steps.png" "$work/steps.svg" '#e6550d'

# 3. the histogram of the same weights: bin counts drawn to scale.
"$plot" "$work/steps.csv" --hist 4 --vmin 0 --vmax 0.8 -o "$work/hist.svg"
read -r w h < <(svg_size "$work/hist.svg")
screenshot "$work/hist.svg" "$w" "$h" "$work/hist.png"
run_check check-bars "$work/hist.png" "$work/hist.svg" '#31688e'

finish "${2:-}"
