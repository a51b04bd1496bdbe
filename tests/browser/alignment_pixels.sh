#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Browser test: headless Chromium renders the alignment-vs-gold pictures that attn-plot drew
# from Pharaoh, Marian and .npy inputs, and tests/browser/png_pixels.py (Python standard library)
# checks every mark in the screenshot: hits filled green with a dot, possible hits light green,
# misses an orange outline around an empty centre, false alarms a red cross, possible links left
# unfilled, links without gold dark dots; each legend colour is on the page.
#
#   tests/browser/alignment_pixels.sh ATTN_PLOT [WORK_DIR]
#
# Needs chromium (Debian: apt-get install chromium) and python3; scripts/test.sh installs them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fixtures="$(cd "$here/../fixtures/alignments" && pwd)"
# shellcheck source=tests/browser/lib.sh
. "$here/lib.sh"

# 1. Pharaoh hypothesis over a gold standard (source-target): every kind of mark once or more.
#    A = {0-0 1-1 0-2 3-3}; S = {0-0 2-2 3-1}; P = S + {1-1 2-1}:
#    hit 0-0, possible hit 1-1, misses 2-2 and 3-1, possible 2-1, false alarms 0-2 and 3-3.
printf '0-0 1-1 0-2 3-3\n' >"$work/hyp.align"
printf '0-0 2-2 3-1 1p1 2p1\n' >"$work/gold.talp"
"$plot" "$work/hyp.align" --gold "$work/gold.talp" -t 'hypothesis <&> gold' -o "$work/gold.svg" >"$work/scores.txt"
read -r w h < <(svg_size "$work/gold.svg")
screenshot "$work/gold.svg" "$w" "$h" "$work/gold.png"
run_check check-alignment "$work/gold.png" "$work/gold.svg" hit=1 possible-hit=1 miss=2 possible=1 false-alarm=2
for color in '#1b9e77' '#a6dba0' '#d95f02' '#d7191c'; do
    run_check count-color "$work/gold.png" "$color" 40
done

# 2. Marian soft alignment (shaded weights under the marks) against a gold standard, with labels.
#    The file's </s> row and column are dropped (--eos auto): A = {0-0 1-1 2-2 3-3 3-4 4-5},
#    S = {0-0 1-1 2-2 2-3 3-4 4-5}, P = S + {3-3}: 5 hits, possible hit 3-3, miss 2-3.
printf '%s\n' new models are being tested . >"$work/tgt.txt"
printf '%s\n' neue Modelle werden erprobt . >"$work/src.txt"
printf '0-0 1-1 2-2 2-3 3p3 3-4 4-5\n' >"$work/marian_gold.talp"
"$plot" "$fixtures/marian_soft.txt" --gold "$work/marian_gold.talp" -r "$work/tgt.txt" -c "$work/src.txt" \
    -o "$work/marian.svg" >"$work/scores.txt"
read -r w h < <(svg_size "$work/marian.svg")
screenshot "$work/marian.svg" "$w" "$h" "$work/marian.png"
run_check check-alignment "$work/marian.png" "$work/marian.svg" hit=5 possible-hit=1 miss=1 false-alarm=0

# 3. Links alone (fast_align's README example): a dark dot per link.
"$plot" "$fixtures/fast_align_readme.align" -o "$work/links.svg"
read -r w h < <(svg_size "$work/links.svg")
screenshot "$work/links.svg" "$w" "$h" "$work/links.png"
run_check check-alignment "$work/links.png" "$work/links.svg" link=7

finish "${2:-}"
