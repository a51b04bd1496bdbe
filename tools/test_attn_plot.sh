#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tests of the attn-plot command-line tool: --help documents every option the tool accepts;
# good inputs (.npy of every kind, .csv with labels, grids, pairs, characters) give output
# that xmllint parses; bad inputs and bad command lines give a clear "attn-plot: ..." message,
# exit status 1 (input/output) or 2 (command line), never a crash, and leave no output file,
# no temporary file and any existing output untouched.
#
#   tools/test_attn_plot.sh ATTN_PLOT SOURCE_DIR [POOL_REFERENCE]
# POOL_REFERENCE (attn_plot_pool_reference, tools/pool_reference.cpp) writes the large map of
# the --pool tests and computes its pooled values independently; without it they fail.
set -uo pipefail

plot="${1:?usage: test_attn_plot.sh ATTN_PLOT SOURCE_DIR}"
src="${2:?usage: test_attn_plot.sh ATTN_PLOT SOURCE_DIR}"
npy="$src/tests/fixtures/npy"
work="$(mktemp -d "${TMPDIR:-/tmp}/attn_plot_test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

# Python writes the N-D arrays and decodes the PNGs. Debian's interpreter (scripts/test.sh installs
# it) before the python3 that PATH finds first: a version manager's shim (pyenv) takes about 0.6 s
# to start Python, /usr/bin/python3 0.05 s, and these tests start it about 20 times.
if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python="$(command -v python3 || true)"; fi

if ! command -v xmllint >/dev/null 2>&1; then
    echo "FAIL: xmllint is not installed (Debian: apt-get install libxml2-utils)"
    exit 1
fi

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# ok NAME OUTPUT ARGS...: the tool succeeds and OUTPUT parses as XML (and as HTML for .html).
ok() {
    local name="$1" out="$2"
    shift 2
    rm -f "$out"
    if ! "$plot" "$@" -o "$out" 2>"$work/err"; then
        fail "$name: exit status $? ($(cat "$work/err"))"
        return
    fi
    if [ -s "$work/err" ]; then fail "$name: printed to stderr: $(cat "$work/err")"; return; fi
    if ! xmllint --noout "$out" 2>"$work/lint"; then fail "$name: xmllint: $(head -c 400 "$work/lint")"; return; fi
    case "$out" in
        *.html) if ! xmllint --html --noout "$out" 2>"$work/lint"; then
                    fail "$name: xmllint --html: $(head -c 400 "$work/lint")"; return
                fi ;;
    esac
    pass
}

# ok_png NAME OUTPUT ARGS...: the tool succeeds, silently, and writes a non-empty OUTPUT (what is
# in it: cmp against a reference picture, or png_pixels below).
ok_png() {
    local name="$1" out="$2"
    shift 2
    rm -f "$out"
    if ! "$plot" "$@" -o "$out" 2>"$work/err"; then fail "$name: exit status $? ($(cat "$work/err"))"; return; fi
    if [ -s "$work/err" ]; then fail "$name: printed to stderr: $(cat "$work/err")"; return; fi
    if [ ! -s "$out" ]; then fail "$name: no output"; return; fi
    pass
}

# bad NAME STATUS TEXT ARGS...: the tool exits with STATUS, says TEXT, writes no output.
bad() {
    local name="$1" want="$2" text="$3"
    shift 3
    mkdir -p "$work/out"
    echo "OLD" >"$work/out/keep.svg"
    "$plot" "$@" 2>"$work/err" >/dev/null
    local status=$?
    local message
    message="$(cat "$work/err")"
    if [ "$status" -ne "$want" ]; then fail "$name: exit status $status, expected $want ($message)"; return; fi
    case "$message" in
        "attn-plot: "*) ;;
        *) fail "$name: message does not start with 'attn-plot: ': $message"; return ;;
    esac
    case "$message" in
        *"$text"*) ;;
        *) fail "$name: message lacks '$text': $message"; return ;;
    esac
    if [ "$(cat "$work/out/keep.svg")" != "OLD" ]; then fail "$name: an existing output file was changed"; return; fi
    if [ -n "$(find "$work/out" -name '*.tmp.*')" ] || [ -e "$work/out/new.svg" ] || [ -e "$work/out/new.html" ] ||
       [ -e "$work/out/new.png" ]; then
        fail "$name: left an output or temporary file: $(ls "$work/out")"
        return
    fi
    pass
}

# --- help and version -------------------------------------------------------------------
if "$plot" --help >"$work/help" 2>&1 && grep -q '^usage: attn-plot' "$work/help"; then pass; else fail "--help"; fi
# Every option the source accepts is explained by --help.
options="$(grep -o 'arg == "-[-a-z]*"' "$src/tools/attn_plot.cpp" | sed 's/arg == "\(.*\)"/\1/' | sort -u)"
count=0
for option in $options; do
    [ "$option" = "--" ] && continue
    count=$((count + 1))
    if grep -q -- "$option\\b" "$work/help"; then pass; else fail "--help does not explain $option"; fi
done
if [ "$count" -ge 25 ]; then pass; else fail "found only $count options in tools/attn_plot.cpp"; fi
if "$plot" --version | grep -q '^attn-plot [0-9]'; then pass; else fail "--version"; fi

# --- inputs -----------------------------------------------------------------------------
printf '%s\n' 'le <b>' 'chat & "chien"' "l'oiseau ünïcødé 注意" >rows3.txt
printf '%s\r\n' 'w' 'x' 'y' 'z' >cols4.txt          # CRLF line ends
printf '%s\n' 'a' 'b' >rows2.txt
printf '%s\n' 'p' 'q' 'r' >cols3.txt
cat >labelled.csv <<'EOF'
,the,"black, dark",cat
le,0.95,0.03,0.02
"chat ""x""",0.02,0.08,0.90
EOF
printf 'Un café.' >chars.txt                         # 8 characters, no final newline
printf '0.1,0.1,0.1,0.1,0.2,0.1,0.2,0.1\n' >chars.csv
printf 'a,b\n1,2\n3\n' >ragged.csv
printf '1,2\n3,x\n' >notnumber.csv

# --- good runs ----------------------------------------------------------------------------
ok "npy C order"            a.svg    "$npy/f8_c_3x4.npy"
ok "npy Fortran, labels"    b.svg    "$npy/f8_fortran_3x4.npy" -r rows3.txt -c cols4.txt -t 'Title <&> "q"' --values
ok "npy float16"            c.svg    "$npy/f2_c_2x3.npy" --colormap greys --reverse --vmin -3 --vmax 0
ok "npy int8"               d.svg    "$npy/i1_2x3.npy" --decimals 0 --values --colorbar-label "weight"
ok "npy 1-D"                e.svg    "$npy/f8_1d_5.npy"
ok "npy 0-D"                f.svg    "$npy/f8_0d.npy"
ok "npy 3-D grid"           h.svg    "$npy/f8_c_2x3x4.npy" -r rows3.txt -c cols4.txt --grid-columns 1
# --font-size: the picture's text size (the root's font-size; titles 1.4 times it), for every svg.
ok "font size heatmap"      fs.svg   "$npy/f8_c_3x4.npy" -r rows3.txt -c cols4.txt -t T --font-size 18
if grep -q 'font-size="18">' fs.svg && grep -q 'font-size="25.2" font-weight="bold">T<' fs.svg; then pass; else
    fail "--font-size 18: root font-size 18 and a 25.2 px title"; fi
ok "font family"            ff.svg   "$npy/f8_c_3x4.npy" --font-family 'Times New Roman, "Nimbus Roman", serif'
if grep -q 'font-family="Times New Roman, &quot;Nimbus Roman&quot;, serif"' ff.svg; then pass; else
    fail "--font-family: the root's font-family, quotes escaped"; fi
ok "font family hist"       ffh.svg  "$npy/f8_c_3x4.npy" --hist 5 --font-family serif
if grep -q 'font-family="serif"' ffh.svg; then pass; else fail "--font-family serif (histogram)"; fi
ok "font size bars"         fsb.svg  "$npy/f8_1d_5.npy" --font-size 18
if grep -q 'font-size="18">' fsb.svg; then pass; else fail "--font-size 18 (bars): root font-size 18"; fi
ok "font size hist"         fsh.svg  "$npy/f8_c_3x4.npy" --hist 5 --font-size 18
if grep -q 'font-size="18">' fsh.svg; then pass; else fail "--font-size 18 (histogram): root font-size 18"; fi
ok "npy 3-D titles"         i.svg    "$npy/f4_fortran_2x3x4.npy" --panel-titles 'layer <0>,layer 1'
# Maps past the end of --panel-titles keep their default title; more titles than maps are refused.
ok "npy 3-D one title"      i1.svg   "$npy/f4_fortran_2x3x4.npy" --panel-titles 'layer <0>'
if grep -q '>layer &lt;0&gt;<' i1.svg && grep -q '>head 1<' i1.svg; then pass; else fail "--panel-titles with one title of two maps: not 'layer <0>' and 'head 1'"; fi
ok "truth one title"        k1.svg   "$npy/f8_c_3x4.npy" --truth "$npy/f4_c_3x4.npy" --panel-titles 'gold'
if grep -q '>gold<' k1.svg && grep -q '>attention<' k1.svg; then pass; else fail "--truth with one title: not 'gold' and 'attention'"; fi
# --batch: a 3-D file's first axis is batch items (torch's weights averaged over heads, a Keras
# Attention layer's scores): the grid says "item k", not "head k".
ok "npy 3-D batch"          i2.svg   "$npy/f8_c_2x3x4.npy" --batch
if grep -q '>item 0<' i2.svg && grep -q '>item 1<' i2.svg && ! grep -q '>head ' i2.svg; then pass; else fail "--batch grid: not titled 'item 0', 'item 1'"; fi
bad "batch one map"      2 "--batch names the first axis of a 3-D WEIGHTS file, but '$npy/f8_c_3x4.npy' holds one map" "$npy/f8_c_3x4.npy" --batch -o out/new.svg
bad "batch png"          2 "--batch names the items of an svg grid; png output draws no grid" "$npy/f8_c_2x3x4.npy" --batch -o out/new.png
bad "batch truth"        2 "--truth takes one map, but '$npy/f8_c_2x3x4.npy' is 3-D" "$npy/f8_c_2x3x4.npy" --batch --truth "$npy/f8_c_3x4.npy" -o out/new.svg
bad "batch animate"      2 "--batch names the first axis of a WEIGHTS file; --animate's frames hold samples" --animate "$npy/f8_c_2x3x4.npy" --batch -o out/new.html
ok "truth beside"           j.svg    "$npy/f8_c_3x4.npy" --truth "$npy/f8_fortran_3x4.npy" --row-title target --col-title source
ok "truth under"            k.svg    "$npy/f8_c_3x4.npy" --truth "$npy/f4_c_3x4.npy" --layout under --panel-titles 'gold,epoch 3'
# --layout auto (the default): a square pair side by side, 1 x T strips one under another.
ok "truth auto square"      j2.svg   "$npy/f8_c_3x4.npy" --truth "$npy/f8_fortran_3x4.npy" --row-title target --col-title source --layout beside
if cmp -s j.svg j2.svg; then pass; else fail "--layout auto of a 3x4 pair is not beside"; fi
printf '0.1,0.2,0.3,0.2,0.1,0.1\n' >strip.csv
ok "truth auto strip"       s1.svg   strip.csv --truth strip.csv
ok "truth under strip"      s2.svg   strip.csv --truth strip.csv --layout under
ok "truth beside strip"     s3.svg   strip.csv --truth strip.csv --layout beside
if cmp -s s1.svg s2.svg && ! cmp -s s1.svg s3.svg; then pass; else fail "--layout auto of 1x6 strips is not under"; fi
rm -f strip.csv s1.svg s2.svg s3.svg j2.svg
ok "csv labels"             l.svg    labelled.csv
ok "csv no labels"          m.svg    labelled.csv --csv-labels both --no-colorbar --max-size 100 --raster always
ok "html npy"               a.html   "$npy/f8_c_3x4.npy" -r rows3.txt -c cols4.txt --values
ok "html lang"              lang.html "$npy/f8_c_3x4.npy" -r rows3.txt -c cols4.txt --lang zh-Hans
if [ "$(grep -c 'class="attn-line" dir="auto" lang="zh-Hans"' lang.html)" = 3 ]; then pass; else
    fail "--lang zh-Hans: each of the 3 lines has lang=\"zh-Hans\""; fi
ok "html csv query"         b.html   labelled.csv --query 1 --color '#08306b' -t 'One <query>'
ok "html chars"             c.html   chars.csv --csv-labels none --chars chars.txt
ok "html format flag"       out.svgz "$npy/f8_1d_5.npy" --format html -c <(printf '%s\n' 1 2 3 4 5)
ok "option=value form"      n.svg    "$npy/f8_c_3x4.npy" --title=eq --vmax=10 --colorbar-label=weight
# A CSV of row labels only: every line read as a label, no column of numbers, as NumPy's
# space-separated np.savetxt output reads. Refused, with the delimiter to use.
printf 'a\nb\n' >labels_only.csv
bad "csv no numbers"     1 "'labels_only.csv' has no column of numbers (each line was read as one row label, e.g. 'a'): attn-plot reads comma-separated values; NumPy writes them with np.savetxt(path, w, delimiter=',')" labels_only.csv -o out/new.svg
printf '0.25 0.75\n0.5 0.5\n' >spaces.csv
bad "csv spaces"         1 "'spaces.csv' has no column of numbers (each line was read as one row label, e.g. '0.25 0.75')" spaces.csv -o out/new.svg

# Bars and histograms (issue 15): a single row is drawn as bars by default.
ok "bars default 1-D"       bars1.svg "$npy/f8_1d_5.npy" -c <(printf '%s\n' 'le <b>' 'chat & "x"' $'\xe2\x80\xaeevil' $'\xff' '注意')
if grep -q 'class="bar"' bars1.svg && ! grep -q 'class="cells"' bars1.svg && grep -q 'le &lt;b&gt;' bars1.svg; then
    pass
else
    fail "a 1-D input is not drawn as bars by default"
fi
if [ "$(grep -c 'class="bar"' bars1.svg)" -eq 5 ]; then pass; else fail "bars1.svg: not 5 bars"; fi
ok "heatmap strip"          strip.svg "$npy/f8_1d_5.npy" --heatmap
if grep -q 'class="cells"' strip.svg && ! grep -q 'class="bar"' strip.svg; then pass; else fail "--heatmap did not draw a heatmap"; fi
ok "bars small multiples"   bars3.svg "$npy/f8_c_3x4.npy" --bars -r rows3.txt -c cols4.txt -t 'Bars <&>' --vmax 20 --color '#e6550d'
if [ "$(grep -c 'class="panel"' bars3.svg)" -eq 3 ] && [ "$(grep -c 'class="bar"' bars3.svg)" -eq 12 ] \
    && grep -q '>chat &amp; &quot;chien&quot;<' bars3.svg && grep -q 'fill="#e6550d"' bars3.svg; then
    pass
else
    fail "--bars on a 3x4 map: not 3 titled panels of 4 bars in the given colour"
fi
printf ',a,b,c\nq,0.2,0.5,0.3\n' >row.csv
ok "csv row as bars"        bars_csv.svg row.csv
if grep -q 'class="panel-title"[^>]*>q<' bars_csv.svg && grep -q '>b</text>' bars_csv.svg; then pass; else fail "row.csv: labels missing"; fi
ok "histogram"              hist.svg "$npy/f8_c_2x3x4.npy" --hist 7 -t 'Histogram <&>'
if [ "$(grep -c 'class="bar"' hist.svg)" -eq 7 ]; then pass; else fail "--hist 7 did not give 7 bins"; fi
ok "histogram default bins" hist20.svg "$npy/f8_c_3x4.npy" --hist
if [ "$(grep -c 'class="bar"' hist20.svg)" -eq 20 ]; then pass; else fail "--hist did not give 20 bins"; fi
ok "histogram =bins range"  hist_range.svg "$npy/f8_c_3x4.npy" --hist=4 --vmin 0 --vmax 5 --col-title 'weight <w>'
if grep -q 'outside the range' hist_range.svg; then pass; else fail "--hist range: no note of the values left out"; fi
# Bars coloured by value (--colormap): one fill per distinct value, not the single --color.
ok "bars colormap"          bars_cm.svg "$npy/f8_1d_5.npy" --colormap greys
if [ "$(grep -o 'class="bar"[^>]*fill="#[0-9a-f]*"' bars_cm.svg | sort -u | wc -l)" -ge 4 ] \
    && ! grep -q 'fill="#31688e"' bars_cm.svg; then
    pass
else
    fail "--colormap on bars: the bars are not filled by value"
fi

# --chars ignores one newline at the end of the file (editors write it), not two.
printf 'Un café.\n' >chars_lf.txt
printf 'Un café.\r\n' >chars_crlf.txt
printf 'Un café.\n\n' >chars_two.txt
ok "chars final LF"         c_lf.html   chars.csv --csv-labels none --chars chars_lf.txt
ok "chars final CRLF"       c_crlf.html chars.csv --csv-labels none --chars chars_crlf.txt
bad "chars two newlines" 1 "--chars 'chars_two.txt' has 9 characters but the weights have 8 columns" chars.csv --csv-labels none --chars chars_two.txt -o out/new.html
# --highlight-scale min-max: the smallest weight is white; from-zero (default) it is not.
ok "highlight min-max"      mm.html chars.csv --csv-labels none --chars chars.txt --highlight-scale min-max
# "café" written with a combining acute (e + U+0301): 8 characters, 9 code points (Python's
# list(text)). Weights from a code-point model are refused with a pointer to --code-points, and
# drawn with it, the mark in a span of its own.
printf 'Un cafe\xcc\x81.' >chars_nfd.txt
printf '0.1,0.1,0.1,0.1,0.2,0.1,0.1,0.1,0.1\n' >codepoints.csv
bad "chars as code points" 1 "--chars 'chars_nfd.txt' has 8 characters but the weights have 9 columns (a character: what a reader sees as one, a code point with its combining marks, a conjunct, joined emoji; split into code points, as Python's list(text) does, it has 9: add --code-points)" codepoints.csv --csv-labels none --chars chars_nfd.txt -o out/new.html
ok "chars --code-points"    cp.html codepoints.csv --csv-labels none --chars chars_nfd.txt --code-points
if [ "$(grep -o 'class="attn-token"' cp.html | wc -l)" -eq 9 ] && grep -qF "$(printf '>\xcc\x81</span>')" cp.html; then pass; else fail "--code-points: 9 spans, the mark alone"; fi
ok "chars NFD as characters" nfd.html chars.csv --csv-labels none --chars chars_nfd.txt
if [ "$(grep -o 'class="attn-token"' nfd.html | wc -l)" -eq 8 ] && grep -qF "$(printf '>e\xcc\x81</span>')" nfd.html; then pass; else fail "characters: 8 spans, e with its mark"; fi
# Hindi क्षत्रिय: 8 code points, 3 characters as a reader (and a browser) cuts it: the conjuncts
# क्ष and त्रि (consonant, virama, consonant, and a vowel sign) are one each.
printf '\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa4\xb7\xe0\xa4\xa4\xe0\xa5\x8d\xe0\xa4\xb0\xe0\xa4\xbf\xe0\xa4\xaf' >hindi.txt
printf '0.5,0.3,0.2\n' >hindi.csv
ok "chars conjuncts"        hindi.html hindi.csv --csv-labels none --chars hindi.txt
if [ "$(grep -o 'class="attn-token"' hindi.html | wc -l)" -eq 3 ] && grep -qF "$(printf '>\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa4\xb7</span>')" hindi.html; then pass; else fail "conjuncts: 3 spans, KA VIRAMA SSA in one"; fi
bad "code points count" 1 "--chars 'chars.txt' has 8 code points but the weights have 9 columns" codepoints.csv --csv-labels none --chars chars.txt --code-points -o out/new.html
bad "code points alone" 2 "--code-points says how to split --chars FILE: give --chars" codepoints.csv --csv-labels none --code-points -o out/new.html
if grep -q 'background-color:#ffffff' mm.html && grep -q 'white: the smallest weight' mm.html \
    && ! grep -q 'background-color:#ffffff' c.html && grep -q 'white: weight 0' c.html; then
    pass
else
    fail "--highlight-scale min-max: the smallest weight is not white, or the legend does not say so"
fi
bad "highlight scale"   2 "--highlight-scale must be from-zero or min-max, not 'log'" chars.csv --highlight-scale log -o out/new.html

# -o - writes to standard output.
if "$plot" "$npy/f8_c_3x4.npy" --format svg -o - >stdout.svg 2>"$work/err" && xmllint --noout stdout.svg \
    && [ ! -e ./- ]; then pass; else fail "-o - did not write an SVG to standard output"; fi
bad "stdout no format"  2 "-o - (standard output) needs --format" "$npy/f8_c_3x4.npy" -o -
# The output is never written through a symbolic link or into a FIFO.
mkfifo fifo.svg
bad "fifo output"       1 "it is a FIFO, and only a regular file is replaced" "$npy/f8_c_3x4.npy" -o fifo.svg
if [ -p fifo.svg ]; then pass; else fail "the FIFO was replaced"; fi

if grep -q 'le &lt;b&gt;' b.svg && grep -q 'chat &amp; &quot;chien&quot;' b.svg && grep -q '注意' b.svg; then
    pass
else
    fail "labels are not escaped in b.svg"
fi
if grep -q '>black, dark<' l.svg && grep -q '>chat &quot;x&quot;<' l.svg; then pass; else fail "CSV labels missing in l.svg"; fi
if [ "$(grep -c 'class="panel"' h.svg)" -eq 2 ]; then pass; else fail "3-D input did not give 2 panels"; fi
if grep -q 'title="chat &quot;x&quot; → cat: 0.900"' b.html; then pass; else fail "html tooltip missing"; fi
if [ "$(grep -c 'class="attn-line"' a.html)" -eq 3 ]; then pass; else fail "html: not one line per query"; fi

# --- training animation (--animate, issue 14) ---------------------------------------------------
# Frames from epoch_N.npy files, sorted by N (epoch_2 before epoch_10, whatever the shell's order).
mkdir -p frames
cp "$npy/f4_c_3x4.npy" frames/epoch_1.npy
cp "$npy/f8_fortran_3x4.npy" frames/epoch_2.npy
cp "$npy/f8_c_3x4.npy" frames/epoch_10.npy
cp "$npy/f8_v2_3x4.npy" frames/truth.npy
ok "animate html"           anim.html --animate frames/epoch_10.npy frames/epoch_1.npy frames/epoch_2.npy \
                                      --truth frames/truth.npy -r rows3.txt -c cols4.txt -t 'Training <&>'
if grep -q '<ol id="attn-frame-titles"><li>epoch 1</li><li>epoch 2</li><li>epoch 10</li></ol>' anim.html \
    && grep -q '<ol id="attn-frame-steps"><li>step 1</li><li>step 2</li><li>step 10</li></ol>' anim.html \
    && grep -q '<li>chat &amp; &quot;chien&quot;</li>' anim.html && grep -q '<title>Training &lt;&amp;&gt;</title>' anim.html \
    && grep -q '"truth":{"lo"' anim.html && ! grep -q 'src=' anim.html; then
    pass
else
    fail "--animate: frames not in natural order, labels or truth missing"
fi
# A directory stands for its numbered .npy files (truth.npy in it is not a frame).
ok "animate directory"      anim_dir.html --animate frames --truth frames/truth.npy --frame-ms 100 --cell 8 --precision uint8 \
                                          --colormap greys --panel-titles 'sentence <1>'
if grep -q '"frame_ms":100,"cell":8' anim_dir.html && grep -q '"bytes":1' anim_dir.html \
    && grep -q '<li>sentence &lt;1&gt;</li>' anim_dir.html && [ "$(grep -o '<li>epoch' anim_dir.html | wc -l)" -eq 3 ]; then
    pass
else
    fail "--animate DIR: options not applied or not 3 frames"
fi
# Options a mode does not use are refused, not dropped (a new user's run: each was accepted and
# the picture came out byte-identical).
one="$npy/f8_c_3x4.npy"
bad "one map layout"     2 "--layout is for a grid (3-D WEIGHTS) or a pair (--truth), but '$one' is one map (-t titles it)" "$one" --layout under -o out/new.svg
bad "one map grid"       2 "--grid-columns is for a grid (3-D WEIGHTS) or a pair (--truth), but '$one' is one map" "$one" --grid-columns 2 -o out/new.svg
bad "one map titles"     2 "--panel-titles is for a grid (3-D WEIGHTS) or a pair (--truth)" "$one" --panel-titles a -o out/new.svg
bad "grid layout"        2 "--layout says where the --truth map goes: give --truth" "$npy/f8_c_2x3x4.npy" --layout under -o out/new.svg
bad "pair grid columns"  2 "--grid-columns is for a grid of 3-D WEIGHTS: --truth draws a pair (--layout beside or under)" "$one" --truth "$one" --grid-columns 2 -o out/new.svg
bad "heatmap color"      2 "--color is for html highlighting, bars and histograms: a heatmap takes --colormap" "$one" --color '#ff0000' -o out/new.svg
bad "svg highlight"      2 "--highlight-scale is for html output (highlighted tokens)" "$one" --highlight-scale min-max -o out/new.svg
bad "svg separator"      2 "--separator is for html output (highlighted tokens)" "$one" --separator , -o out/new.svg
bad "html image color"   2 "--color is for highlighted tokens, but this page shows the 3x4 map as a heatmap image" "$one" --raster always --color '#ff0000' -o out/new.html
bad "svg view-start"     2 "--view-start is for --view pages" "$one" --view-start map -o out/new.svg
bad "npy csv-labels"     2 "--csv-labels says how to read a .csv file's labels, but no input is a .csv file" "$one" --csv-labels none -o out/new.svg
bad "view threshold"     2 "--threshold is for word alignments (--gold, or an alignment file as WEIGHTS), not --view" --view "$one" --threshold 0.5 -o out/new.html
bad "animate values"     2 "--values is not used by --animate (it takes -t, -r, -c, --colormap" --animate frames --values -o out/new.html
bad "animate max-size"   2 "--max-size is not used by --animate" --animate frames --max-size 300 -o out/new.html
bad "animate eos"        2 "--eos is for word alignments (--gold, or an alignment file as WEIGHTS), not --animate" --animate frames --eos keep -o out/new.html
bad "animate grid cell"  2 "--cell is for the --animate page (-o FILE.html), not the svg grid of --frames (the truth is the last column)" --animate frames --frames 1 --cell 8 -o out/new.svg
bad "animate grid layout" 2 "--layout is for the --animate page (-o FILE.html)" --animate frames --frames 1 --layout under -o out/new.svg
bad "animate titles"    1 "--panel-titles lists 2 titles but 'frames/epoch_1.npy' holds 1 map" --animate frames --panel-titles a,b -o out/new.html
# The SVG grid of chosen frames, by the numbers in the file names, in the order given.
ok "animate grid"           anim_grid.svg --animate frames --truth frames/truth.npy --frames 10,1 -t 'Grid'
if [ "$(grep -c 'class="panel"' anim_grid.svg)" -eq 3 ] \
    && grep -o 'class="panel-title"[^>]*>[^<]*' anim_grid.svg | sed 's/.*>//' | tr '\n' ',' | grep -q '^epoch 10,epoch 1,truth,$'; then
    pass
else
    fail "--animate --frames 10,1: not the panels epoch 10, epoch 1, truth"
fi
cp "$npy/f8_c_2x3x4.npy" frames3d_5.npy   # two samples per frame
cp "$npy/f4_fortran_2x3x4.npy" frames3d_6.npy
ok "animate 3-D samples"    anim3d.svg --animate frames3d_5.npy frames3d_6.npy --truth "$npy/f8_c_2x3x4.npy" --frames 6
if [ "$(grep -c 'class="panel"' anim3d.svg)" -eq 4 ] && grep -q '>sample 1: truth<' anim3d.svg; then
    pass
else
    fail "--animate with 3-D frames: not 2 samples x (1 frame + truth)"
fi
cp "$npy/f2_c_2x3.npy" frames_bad_3.npy
bad "animate shapes"    1 "'frames_bad_3.npy' map 0 is 2x3 but in 'frames/epoch_1.npy' it is 3x4" --animate frames/epoch_1.npy frames_bad_3.npy -o out/new.html
bad "animate count"     1 "'frames3d_5.npy' holds 2 maps but 'frames/epoch_1.npy' holds 1" --animate frames/epoch_1.npy frames3d_5.npy -o out/new.html
bad "animate truth"     1 "--truth '$npy/f2_c_2x3.npy' holds 1 map(s) of 2x3 but each frame holds 1 map(s) of 3x4" --animate frames --truth "$npy/f2_c_2x3.npy" -o out/new.html
bad "animate no number" 2 "'notes.npy' has no number in its name" --animate frames/epoch_1.npy notes.npy -o out/new.html
bad "animate same step" 2 "have the same number 10" --animate frames/epoch_10.npy frames/epoch_10.npy -o out/new.html
if grep -q '^usage: attn-plot --animate ' "$work/err"; then pass; else fail "animate same step: not the --animate usage line: $(cat "$work/err")"; fi
printf 'a\nb\n' >rows2_animate.txt
bad "animate rows"      1 "--rows 'rows2_animate.txt' has 2 tokens but the weights have 3 rows (queries)" --animate frames -r rows2_animate.txt -o out/new.html
bad "animate frame 3"   2 "--frames: no frame file is numbered 3 (the frames are 1, 2, 10)" --animate frames --frames 1,3 -o out/new.svg
bad "animate svg"       2 "give --frames LIST" --animate frames -o out/new.svg
bad "animate frames"    2 "--frames is for the svg grid" --animate frames --frames 1 -o out/new.html
bad "frames alone"      2 "--frames, --frame-ms and --precision are for --animate" "$npy/f8_c_3x4.npy" --frames 1 -o out/new.svg
bad "animate bars"      2 "--animate cannot be used with --bars" --animate frames --bars -o out/new.svg
bad "animate frame-ms"  2 "--frame-ms needs an integer in [20, 60000], not '5'" --animate frames --frame-ms 5 -o out/new.html
bad "animate precision" 2 "--precision must be uint16 or uint8, not 'float'" --animate frames --precision float -o out/new.html
mkdir -p no_frames && cp frames/truth.npy no_frames/
bad "animate empty dir" 2 "no numbered .npy file found in 'no_frames'" --animate no_frames -o out/new.html
bad "animate no files"  2 "no frame files given" --animate -o out/new.html
bad "animate max cells" 1 "more than --max-cells 20" --animate frames --max-cells 20 -o out/new.html

# --- bad command lines: status 2 --------------------------------------------------------------
bad "no arguments"      2 "no WEIGHTS file given"
bad "no output"         2 "no output file given"                 "$npy/f8_c_3x4.npy"
bad "unknown option"    2 "unknown option '--colour'"             "$npy/f8_c_3x4.npy" --colour red -o out/new.svg
bad "two inputs"        2 "one WEIGHTS file expected, got 2"      a b -o out/new.svg
bad "bad extension"     2 "cannot tell the format of 'out/new.gif'" "$npy/f8_c_3x4.npy" -o out/new.gif
bad "input extension"   1 "not .npy / .csv weights, nor an alignment file (Pharaoh, fairseq, Marian): attn::io::read_pharaoh: 'rows3.txt', line 1: token 'le' is not of the form i-j" rows3.txt -o out/new.svg
printf '\211HDF\r\n\032\n\0\0\0\0' >weights.best.hdf5  # a Keras model file given as WEIGHTS
bad "hdf5 input"        1 "attn-plot: 'weights.best.hdf5' is an HDF5 file (a Keras .h5 / .hdf5 model or weights), which attn-plot does not read" weights.best.hdf5 -o out/new.svg
rm -f weights.best.hdf5
bad "bad number"        2 "--vmin needs a finite number, not 'abc'" "$npy/f8_c_3x4.npy" --vmin abc -o out/new.svg
bad "nan number"        2 "--vmax needs a finite number"          "$npy/f8_c_3x4.npy" --vmax nan -o out/new.svg
bad "vmin >= vmax"      2 "--vmin must be less than --vmax"       "$npy/f8_c_3x4.npy" --vmin 1 --vmax 0 -o out/new.svg
bad "decimals"          2 "--decimals needs an integer in [0, 10], not '11'" "$npy/f8_c_3x4.npy" --decimals 11 -o out/new.svg
bad "decimals alone"    2 "--decimals sets the decimals of --values: give --values too" "$npy/f8_c_3x4.npy" --decimals 3 -o out/new.svg
bad "values raster"     2 "--values prints each weight in its cell, but --raster always draws the cells as one image without text: leave one of them out" "$npy/f8_c_3x4.npy" --values --raster always -o out/new.svg
bad "colormap"          2 "--colormap must be viridis or greys, not 'jet'" "$npy/f8_c_3x4.npy" --colormap jet -o out/new.svg
bad "colormap gray"     2 "--colormap must be viridis or greys, not 'gray' (matplotlib's gray, white for the high weights, is --colormap greys --reverse)" "$npy/f8_c_3x4.npy" --colormap gray -o out/new.svg
ok "colormap Greys"         greys_mpl.svg "$npy/f8_c_3x4.npy" --colormap Greys
ok "colormap greys"         greys_attn.svg "$npy/f8_c_3x4.npy" --colormap greys
if cmp -s greys_mpl.svg greys_attn.svg; then pass; else fail "--colormap Greys is not greys"; fi
bad "typo option"       2 "unknown option '--colour-map' (did you mean --colormap?)" "$npy/f8_c_3x4.npy" --colour-map greys -o out/new.svg
bad "typo option value" 2 "unknown option '--rowss' (did you mean --rows?)" "$npy/f8_c_3x4.npy" --rowss=r.txt -o out/new.svg
bad "short option"      2 "unknown option '--out' (did you mean --output?)" "$npy/f8_c_3x4.npy" --out x.svg
bad "far option"        2 "unknown option '--zzzzzzzz'"$'\n' "$npy/f8_c_3x4.npy" --zzzzzzzz -o out/new.svg
bad "layout"            2 "--layout must be auto, beside or under"      "$npy/f8_c_3x4.npy" --layout diagonal -o out/new.svg
bad "raster"            2 "--raster must be auto, always or never" "$npy/f8_c_3x4.npy" --raster maybe -o out/new.svg
bad "missing value"     2 "--title needs a value"                 "$npy/f8_c_3x4.npy" -o out/new.svg --title
bad "flag with value"   2 "--values takes no value"               "$npy/f8_c_3x4.npy" --values=1 -o out/new.svg
bad "query range"       2 "--query 3 is out of range: the weights have 3 rows" "$npy/f8_c_3x4.npy" -c cols4.txt --query 3 -o out/new.html
bad "html no tokens"    2 "html output needs the tokens"          "$npy/f8_c_3x4.npy" -o out/new.html
bad "html colormap"     2 "--colormap is for heatmaps: html output shades the tokens with --color (it shows a heatmap, which takes it, above 16384 cells or with --raster always)" "$npy/f8_c_3x4.npy" -c cols4.txt --colormap greys -o out/new.html
bad "html row title"    2 "--row-title is for heatmaps: html output shades the tokens" "$npy/f8_c_3x4.npy" -c cols4.txt --row-title q -o out/new.html
bad "html max size"     2 "--max-size is for heatmaps: html output shades the tokens" "$npy/f8_c_3x4.npy" -c cols4.txt --max-size 100 -o out/new.html
bad "svg lang"          2 "--lang is for html output" "$npy/f8_c_3x4.npy" --lang de -o out/new.svg
bad "view lang"         2 "--lang is for highlighted text (html output), not --view" --view "$npy/f8_c_3x4.npy" --lang de -o out/new.html
bad "lang tag"          2 "--lang 'en_US' must be a BCP 47 tag" "$npy/f8_c_3x4.npy" -c cols4.txt --lang 'en_US' -o out/new.html
bad "lang option"       2 "--lang '--values' must be a BCP 47 tag" "$npy/f8_c_3x4.npy" -c cols4.txt --lang --values -o out/new.html
bad "html font size"    2 "--font-size is for heatmaps: html output shades the tokens" "$npy/f8_c_3x4.npy" -c cols4.txt --font-size 20 -o out/new.html
bad "png font family"   2 "--font-family is not for png output" "$npy/f8_c_3x4.npy" --font-family serif -o out/new.png
bad "html font family"  2 "--font-family is for heatmaps: html output shades the tokens" "$npy/f8_c_3x4.npy" -c cols4.txt --font-family serif -o out/new.html
bad "empty font family" 2 "--font-family must name a font" "$npy/f8_c_3x4.npy" --font-family '' -o out/new.svg
bad "png font size"     2 "--font-size is not for png output" "$npy/f8_c_3x4.npy" --font-size 20 -o out/new.png
bad "view font size"    2 "--font-size is for pictures, not --view" --view "$npy/f8_c_3x4.npy" --font-size 20 -o out/new.html
bad "animate font size" 2 "--font-size is not used by --animate" --animate frames --font-size 20 -o out/new.html
bad "font size range"   2 "--font-size must be in [4, 200] pixels" "$npy/f8_c_3x4.npy" --font-size 2 -o out/new.svg
ok "html heatmap options"   raster_opts.html "$npy/f8_c_3x4.npy" -c cols4.txt --raster always --colormap greys --row-title q
bad "chars and cols"    2 "--chars and --cols cannot be used together" "$npy/f8_1d_5.npy" --chars chars.txt -c cols4.txt -o out/new.html
bad "bad colour"        2 "colour 'orange' must be '#rrggbb' or '#rgb'" "$npy/f8_c_3x4.npy" -c cols4.txt --color orange -o out/new.html
bad "query for svg"     2 "--query is for html output"            "$npy/f8_c_3x4.npy" --query 0 -o out/new.svg
bad "hist bins 0"        2 "--hist needs an integer in [1, 100000], not '0'" "$npy/f8_c_3x4.npy" --hist=0 -o out/new.svg
bad "hist bins text"    2 "--hist needs an integer in [1, 100000], not 'many'" "$npy/f8_c_3x4.npy" --hist=many -o out/new.svg
bad "hist and bars"     2 "--bars, --heatmap and --hist cannot be used together" "$npy/f8_c_3x4.npy" --hist --bars -o out/new.svg
bad "bars for html"     2 "--bars, --heatmap and --hist are for svg output" "$npy/f8_c_3x4.npy" --bars -c cols4.txt -o out/new.html
bad "bars and truth"    2 "--bars and --hist cannot be used with --truth" "$npy/f8_c_3x4.npy" --bars --truth "$npy/f4_c_3x4.npy" -o out/new.svg
bad "hist lone vmin"    2 "--hist takes the range of its bins from --vmin and --vmax together" "$npy/f8_c_3x4.npy" --hist --vmin 0 -o out/new.svg
bad "bars 3-D"          2 "--bars takes one map (1-D or 2-D), but" "$npy/f8_c_2x3x4.npy" --bars -o out/new.svg
# Options only a heatmap uses are refused for bars and histograms, saying what is drawn instead.
bad "bars values"       2 "--values is for heatmaps: '$npy/f8_1d_5.npy' is a single row, drawn as bars (--heatmap draws it as a one-row heatmap)" "$npy/f8_1d_5.npy" --values -o out/new.svg
bad "bars reverse"      2 "--reverse is for heatmaps: --bars draws each row as bars" "$npy/f8_c_3x4.npy" --bars --reverse -o out/new.svg
bad "bars mask"         2 "--mask is for svg heatmaps, html highlighting and --view pages" "$npy/f8_c_3x4.npy" --bars --mask causal -o out/new.svg
bad "bars no colorbar"  2 "--no-colorbar is for heatmaps: --bars draws each row as bars" "$npy/f8_c_3x4.npy" --bars --no-colorbar -o out/new.svg
bad "bars color+map"    2 "--color and --colormap: bars take one colour (--color) or each the colour of its value" "$npy/f8_1d_5.npy" --color '#e6550d' --colormap greys -o out/new.svg
bad "hist colormap"     2 "--colormap is for heatmaps: --hist draws a histogram of all the weights" "$npy/f8_c_3x4.npy" --hist --colormap greys -o out/new.svg
bad "hist row title"    2 "--row-title is for heatmaps: --hist draws a histogram" "$npy/f8_c_3x4.npy" --hist --row-title q -o out/new.svg
bad "hist rows"         2 "--rows labels tokens, but --hist draws a histogram of all the weights (its x axis: weight)" "$npy/f8_c_3x4.npy" --hist -r rows3.txt -o out/new.svg

# --- bad input files: status 1 ------------------------------------------------------------------
bad "titles > maps"     1 "--panel-titles lists 3 titles but '$npy/f8_c_2x3x4.npy' holds 2 maps" "$npy/f8_c_2x3x4.npy" --panel-titles a,b,c -o out/new.svg
bad "titles > truth"    1 "--panel-titles lists 3 titles but --truth draws 2 maps" "$npy/f8_c_3x4.npy" --truth "$npy/f4_c_3x4.npy" --panel-titles a,b,c -o out/new.svg
bad "missing file"      1 "cannot open 'nothere.npy' for reading: No such file or directory" nothere.npy -o out/new.svg
bad "row count"         1 "--rows 'rows2.txt' has 2 tokens but the weights have 3 rows" "$npy/f8_c_3x4.npy" -r rows2.txt -o out/new.svg
bad "col count"         1 "--cols 'cols3.txt' has 3 tokens but the weights have 4 columns (keys) (padded to 4 steps? give the padding's tokens too, or save the tokens' part of the weights: w[..., :3] for padding after them, w[..., -3:] before them, as Keras' pad_sequences does)" "$npy/f8_c_3x4.npy" -c cols3.txt -o out/new.svg
bad "row count padded"  1 "--rows 'rows2.txt' has 2 tokens but the weights have 3 rows (queries) (padded to 3 steps? give the padding's tokens too, or save the tokens' part of the weights: w[..., :2, :] for padding after them, w[..., -2:, :] before them" "$npy/f8_c_3x4.npy" -r rows2.txt -o out/new.svg
bad "missing tokens"    1 "--cols 'none.txt': cannot open for reading: No such file or directory" "$npy/f8_c_3x4.npy" -c none.txt -o out/new.svg
bad "chars count"       1 "--chars 'chars.txt' has 8 characters but the weights have 5 columns" "$npy/f8_1d_5.npy" --chars chars.txt -o out/new.html
bad "truth shape"       1 "is 2x3 but the weights are 3x4"        "$npy/f8_c_3x4.npy" --truth "$npy/f2_c_2x3.npy" -o out/new.svg
bad "html 3-D"          1 "html highlighting takes one map"       "$npy/f8_c_2x3x4.npy" -c cols4.txt -o out/new.html
bad "ragged csv"        1 "line 3: 1 fields, expected 2"          ragged.csv -o out/new.svg
bad "csv not number"    1 "line 2, field 2: 'x' is not a number"  notnumber.csv --csv-labels none -o out/new.svg
mkdir -p dir.npy
bad "directory input"   1 "cannot open 'dir.npy' for reading: Is a directory" dir.npy -o out/new.svg
bad "directory tokens"  1 "--rows 'dir.npy': cannot open for reading: Is a directory" "$npy/f8_c_3x4.npy" -r dir.npy -o out/new.svg
bad "no output dir"     1 "attn-plot: cannot write 'out/missing/new.svg': there is no directory 'out/missing'" "$npy/f8_c_3x4.npy" -o out/missing/new.svg
if grep -q 'attn-plot: attn-plot:' "$work/err"; then fail "no output dir: the program is named twice: $(cat "$work/err")"; else pass; fi
# OUTPUT is never one of the inputs: WEIGHTS, a label file, a frame (each left as it was).
cp "$npy/f8_c_3x4.npy" self.npy && cp self.npy self_orig.npy && cp self.npy self_1.npy
printf 'a\nb\nc\n' >self_rows.txt && cp self_rows.txt self_rows_orig.txt
bad "output is weights" 2 "-o 'self.npy' is the WEIGHTS file 'self.npy': attn-plot does not write over its inputs" self.npy --format svg -o self.npy
bad "output is rows"    2 "-o 'self_rows.txt' is the --rows file 'self_rows.txt'" self.npy --rows self_rows.txt --format svg -o self_rows.txt
bad "output is a frame" 2 "-o 'self_1.npy' is the FRAMES file 'self_1.npy'" --animate self_1.npy --format html -o self_1.npy
if cmp -s self.npy self_orig.npy && cmp -s self_1.npy self_orig.npy && cmp -s self_rows.txt self_rows_orig.txt; then
    pass
else
    fail "output is an input: an input changed"
fi
# A label file's extra empty last line is named in the message.
printf 'a\nb\nc\n\n' >rows_blank_end.txt
bad "rows blank end"    1 "has 4 tokens but the weights have 3 rows (queries) (its last line is empty: one token per line" "$npy/f8_c_3x4.npy" --rows rows_blank_end.txt -o out/new.svg
# --pool is for one 2-D map: a stack refuses it, and so does --view.
bad "pool stack"        2 "is a stack of 2 maps, drawn as a grid without pooling: leave out --pool" "$npy/f8_c_2x3x4.npy" --pool max -o out/new.svg
bad "pool view"         2 "--view shows every token and pools nothing" --view "$npy/f8_c_3x4.npy" --pool max -o out/new.html
# Resource limits: a 128-byte .npy claiming a billion empty maps ends at once, with status 1.
npy_header() {  # npy_header SHAPE: a version-1.0 float64 .npy header of 128 bytes, no data
    local dict="{'descr': '<f8', 'fortran_order': False, 'shape': $1, }"
    local pad=$((118 - ${#dict} - 1))
    printf '\x93NUMPY\x01\x00\x76\x00%s%*s\n' "$dict" "$pad" ''
}
npy_header '(1000000000, 0, 1)' >billion_empty.npy
if [ "$(wc -c <billion_empty.npy)" -eq 128 ]; then pass; else fail "billion_empty.npy is not 128 bytes"; fi
bad "billion empty maps" 1 "'billion_empty.npy' holds 1000000000 maps, more than --max-maps 1024" billion_empty.npy -o out/new.svg
# Processor time (user + system), not wall time, so a machine busy with other work passes too.
cpu_ms() {  # cpu_ms CMD...: runs CMD, output discarded; prints its processor time in ms
    local TIMEFORMAT='%3U %3S' times
    times="$( { time "$@" >/dev/null 2>&1; } 2>&1 )"
    awk '{ printf "%d", ($1 + $2) * 1000 }' <<<"$times"
}
elapsed_ms="$(cpu_ms "$plot" billion_empty.npy -o out/new.svg)"
if [ "$elapsed_ms" -lt 1000 ]; then pass; else fail "billion empty maps took ${elapsed_ms} ms of processor time"; fi
npy_header '(2, 0, 1)' >two_empty.npy
bad "empty maps"        1 "'two_empty.npy': its 2 maps are empty (0x1)" two_empty.npy -o out/new.svg
# A 2x0 map: --query takes a row without columns (found by fuzz/attn_plot_fuzzer.cpp with a
# CSV of labels only; clang's UBSan reported an offset applied to a null pointer).
# Since attn-plot refuses empty maps (nothing to draw, most often a slice that took nothing), the
# case stays as a refusal.
npy_header '(2, 0)' >two_by_zero.npy
bad "html query, no columns" 1 "'two_by_zero.npy' is a 2x0 map: there is nothing to draw" two_by_zero.npy --query 1 -o out/new.html
bad "npy empty"         1 "is a 0x3 map: there is nothing to draw" "$npy/f8_empty_0x3.npy" -o out/new.svg
bad "max cells"         1 "holds 2 map(s) of 3x4 cells, more than --max-cells 20: draw one map with --index 0 (see --index), or raise --max-cells" "$npy/f8_c_2x3x4.npy" --max-cells 20 -o out/new.svg
bad "max maps"          1 "holds 2 maps, more than --max-maps 1" "$npy/f8_c_2x3x4.npy" --max-maps 1 -o out/new.svg
bad "max bytes"         1 "bytes, more than --max-bytes 1000" "$npy/f8_c_3x4.npy" --max-bytes 1000 -o out/new.svg
bad "max bytes html"    1 "more than --max-bytes 1000" "$npy/f8_c_3x4.npy" -c cols4.txt --max-bytes 1000 -o out/new.html
bad "max maps value"    2 "--max-maps needs an integer in [1, " "$npy/f8_c_3x4.npy" --max-maps 0 -o out/new.svg
# A big map to HTML is drawn as a heatmap image, not as 90000 highlighted tokens (about 11 MB).
npy_header '(300, 300)' >big.npy
head -c $((300 * 300 * 8)) /dev/zero >>big.npy
cols300="$(seq 1 300)"
printf '%s\n' $cols300 >cols300.txt
ok "html big map raster" big.html big.npy -c cols300.txt
if grep -q '<image' big.html && grep -q 'drawn as a heatmap image' big.html && [ "$(wc -c <big.html)" -lt 2000000 ]; then
    pass
else
    fail "html big map: no embedded image, or $(wc -c <big.html) bytes"
fi
ok "html big map as text" big_text.html big.npy -c cols300.txt --raster never
if grep -q 'data-weight' big_text.html && ! grep -q '<image' big_text.html; then pass; else fail "html --raster never: not text"; fi
ok "html raster always" small_raster.html "$npy/f8_c_3x4.npy" -c cols4.txt --raster always
if grep -q '<image' small_raster.html; then pass; else fail "html --raster always: no image"; fi

# Labels repeated in every cell's tooltip: refused before drawing.
head -c 200000 /dev/zero | tr '\0' 'x' >longlabel.txt; printf '\n' >>longlabel.txt
for _ in 1 2 3; do printf 'y\n' >>longlabel.txt; done
bad "label bytes"       1 "the labels alone would make the output about" "$npy/f8_c_3x4.npy" -c longlabel.txt --max-bytes 500000 -o out/new.svg
# Cells drawn as an image have no tooltips: the labels are counted once (300 x 99 bytes here,
# not 300 x 300 x 99 = 8.9 MB), so the picture is drawn, and refused only with --raster never.
for k in $(seq 1 300); do printf '%099d\n' "$k"; done >cols300long.txt
ok "raster label bytes"     big_long.svg big.npy -c cols300long.txt --max-bytes 2000000
bad "vector label bytes" 1 "the labels alone would make the output about 8910000 bytes, more than --max-bytes 2000000" big.npy -c cols300long.txt --raster never --max-bytes 2000000 -o out/new.svg

# --mask: masked cells hatched (a pattern, a legend); a mask file of the weights' shape.
# (weights of a causal attention, 0 where the mask hides: a causal mask over weights that are
# not gets a note, below)
printf '1,0,0,0\n0.5,0.5,0,0\n0.2,0.3,0.5,0\n' >causal3x4.csv
ok "mask causal" masked.svg causal3x4.csv --mask causal
printf '1,0.005,0,0\n0.5,0.5,0,0\n0.2,0.3,0.5,0\n' >nearly_causal.csv  # 0.17 % hidden: no note
ok "mask causal rounding" nearly.svg nearly_causal.csv --mask causal
if grep -q 'url(#attn-masked)' masked.svg && grep -q '>masked</text>' masked.svg; then pass; else fail "--mask causal: no hatched cells"; fi
# attn-plot's own output given back as WEIGHTS: said so (it was read as an alignment file, "'<?xml'
# is not a finite number").
bad "svg as weights"    1 "'masked.svg' is an SVG picture, not weights (attn-plot's own output?)" masked.svg -o out/new.svg
printf '1,1,0,0\n1,1,1,0\n1,1,1,1\n' >visible.csv
ok "mask file" masked_file.svg "$npy/f8_c_3x4.npy" --mask visible.csv
if [ "$(grep -o 'url(#attn-masked)' masked_file.svg | wc -l)" -eq 4 ]; then pass; else fail "--mask FILE: not 3 masked cells + legend"; fi
printf '1,1\n1,1\n' >visible2.csv
bad "mask shape"        1 "--mask 'visible2.csv' is 2x2 but the weights are 3x4 (a mask is Tq x Tk, or one value per key, 1 x Tk, or per query, Tq x 1)" "$npy/f8_c_3x4.npy" --mask visible2.csv -o out/new.svg
bad "mask per item"     1 "is 3-D but the weights are 3x4 (a mask is Tq x Tk, or one value per key, 1 x Tk, or per query, Tq x 1; a 3-D mask, one per map or batch item, is for grids and --view: save the item's own, np.save('mask1.npy', mask[1]))" "$npy/f8_c_2x3x4.npy" --index 1 --mask "$npy/f8_c_2x3x4.npy" -o out/new.svg
# --leaked: a bar per row of 1 - its sum (a monotonic alignment's lost mass); a full row has none.
printf '0.5,0.5,0\n0.2,0.1,0.1\n0,0,0.25\n' >leak.csv
ok "leaked"                 leak.svg leak.csv --leaked
if grep -q '<title>row 1: leaked mass 0.6</title>' leak.svg && grep -q '<title>row 2: leaked mass 0.75</title>' leak.svg \
    && ! grep -q 'row 0: leaked' leak.svg; then pass; else fail "--leaked: not bars of 0.6 and 0.75 on rows 1 and 2"; fi
ok "no leaked"              leak0.svg leak.csv
if ! grep -q 'leaked' leak0.svg; then pass; else fail "a leaked column without --leaked"; fi
# A T x 1 column (Keras' (T, 1) Dense(1) output) is one highlighted line; fewer characters than
# weights (a padded model input) says how to cut the padding off.
printf '0.1\n0.2\n0.7\n' >column.csv
printf '0.1,0.2,0.7\n' >row.csv
printf 'abc' >abc.txt
ok "chars column"           col.html column.csv --chars abc.txt
ok "chars row"              row.html row.csv --chars abc.txt
if cmp -s col.html row.html; then pass; else fail "a T x 1 column is not highlighted as its 1 x T row"; fi
printf 'ab' >ab.txt
bad "chars padded"      1 "--chars 'ab.txt' has 2 characters but the weights have 3 columns (a character: what a reader sees as one, a code point with its combining marks, a conjunct, joined emoji); the model's input padded to 3 steps? save the text's part of the weights: w[..., -2:] for Keras' pad_sequences (padding='pre', its default), w[..., :2] for padding='post'" row.csv --chars ab.txt -o out/new.html
printf '0.1,0.2,0.7\n0.5,0.3,0.2\n' >two.csv  # B x T: each line named, as bars name their rows
ok "chars rows named"       two.html two.csv --chars abc.txt
if grep -q '>row 0<' two.html && grep -q '>row 1<' two.html; then pass; else fail "highlighted lines of a 2 x T file not named row 0, row 1"; fi
ok "chars row unnamed"      row1.html row.csv --chars abc.txt
if ! grep -q '>row 0<' row1.html; then pass; else fail "a single highlighted line named row 0"; fi
rm -f column.csv row.csv abc.txt ab.txt col.html row.html two.csv two.html row1.html
printf '0.5,0.5,0\nnan,0.1,0.1\n0,0,0.25\n' >leak_nan.csv
ok "leaked nan"             leak_nan.svg leak_nan.csv --leaked
if grep -q 'row 2: leaked mass 0.75' leak_nan.svg && ! grep -q 'row 1: leaked' leak_nan.svg; then pass; else fail "--leaked: a row holding NaN got a bar"; fi
rm -f leak_nan.csv leak_nan.svg
bad "leaked html"       2 "--leaked is for svg heatmaps (a bar per row beside the map)" leak.csv --leaked -o out/new.html
bad "leaked bars"       2 "--leaked is for svg heatmaps" leak.csv --leaked --bars -o out/new.svg
rm -f leak.csv leak.svg leak0.svg
# One value per key (Keras' mask_zero) or per query applies to every row or column, as NumPy
# broadcasts it: the same picture as the whole mask.
printf '1,1,1,0\n' >keys.csv
printf '1,1,1,0\n1,1,1,0\n1,1,1,0\n' >keys_full.csv
printf '1\n0\n1\n' >queries.csv
printf '1,1,1,1\n0,0,0,0\n1,1,1,1\n' >queries_full.csv
ok "mask per key"           mk1.svg "$npy/f8_c_3x4.npy" --mask keys.csv -t same
ok "mask per key whole"     mk2.svg "$npy/f8_c_3x4.npy" --mask keys_full.csv -t same
ok "mask per query"         mk3.svg "$npy/f8_c_3x4.npy" --mask queries.csv -t same
ok "mask per query whole"   mk4.svg "$npy/f8_c_3x4.npy" --mask queries_full.csv -t same
if cmp -s mk1.svg mk2.svg && cmp -s mk3.svg mk4.svg && ! cmp -s mk1.svg mk3.svg; then pass; else fail "--mask of one value per key or query is not the whole mask's picture"; fi
rm -f keys.csv keys_full.csv queries.csv queries_full.csv mk1.svg mk2.svg mk3.svg mk4.svg
# PyTorch's float attn_mask (0 = attend, -inf = hidden) would be drawn inverted: refused, saying what to save.
f8_ninf='\x00\x00\x00\x00\x00\x00\xf0\xff' f8_z='\x00\x00\x00\x00\x00\x00\x00\x00'
{ npy_header '(3, 4)'; printf "$f8_z$f8_ninf$f8_ninf$f8_ninf$f8_z$f8_z$f8_ninf$f8_ninf$f8_z$f8_z$f8_z$f8_ninf"; } >torch_mask.npy
bad "mask torch float"  1 "--mask 'torch_mask.npy' holds -inf at (0, 1): a mask file is visible where non-zero (Keras' 0/1 masks; true = visible). PyTorch's masks read the other way: save (attn_mask == 0) for its float attn_mask (0 = attend, -inf = hidden), ~attn_mask for its boolean one" "$npy/f8_c_3x4.npy" --mask torch_mask.npy -o out/new.svg
bad "view mask torch float" 1 "--mask 'torch_mask.npy' holds -inf at (0, 1)" --view "$npy/f8_c_3x4.npy" --mask torch_mask.npy -o out/new.html
# PyTorch's boolean attn_mask (true = hidden) saved as it is: it hides every cell holding weight
# of causal weights and shows only their zeros: refused (svg, and --view); the right mask draws,
# and so does one hiding cells that hold some of the weight (the leaked-mass picture).
printf '1,0,0\n0.5,0.5,0\n0.2,0.3,0.5\n' >causal_w.csv
printf '0,1,1\n0,0,1\n0,0,0\n' >torch_bool.csv
printf '1,0,0\n1,1,0\n1,1,1\n' >keras_mask.csv
printf '1,0,0\n1,0,0\n1,1,1\n' >leaky_mask.csv
bad "mask torch bool"   1 "--mask 'torch_bool.csv' hides every cell that holds weight (the cells it leaves visible are all 0): it reads the other way round. A mask file is visible where non-zero; PyTorch's boolean attn_mask is true where a key is hidden: save ~attn_mask (np.logical_not) instead" causal_w.csv --mask torch_bool.csv -o out/new.svg
bad "view mask torch bool" 1 "--mask 'torch_bool.csv' hides every cell that holds weight" --view causal_w.csv --mask torch_bool.csv -o out/new.html
ok "mask keras"             mask_keras.svg causal_w.csv --mask keras_mask.csv
ok "mask leaked"            mask_leaked.svg causal_w.csv --mask leaky_mask.csv
ok "view mask keras"        mask_keras.html --view causal_w.csv --mask keras_mask.csv
printf '1,1,0,0\n1,-1,1,0\n1,1,1,1\n' >negative.csv
bad "mask negative"     1 "--mask 'negative.csv' holds -1 at (1, 1)" "$npy/f8_c_3x4.npy" --mask negative.csv -o out/new.svg
bad "mask png"          2 "--mask is not for png output" "$npy/f8_c_3x4.npy" --mask causal -o out/new.png
# html: the tokens a mask hid are hatched, their tooltip says "masked"; --query N is row N of it.
ok "html mask"              hm1.html causal3x4.csv -c cols4.txt --mask causal
ok "html mask query"        hm2.html causal3x4.csv -c cols4.txt --mask causal --query 1
ok "html mask image"        hm3.html causal3x4.csv -c cols4.txt --mask causal --raster always
if [ "$(grep -o 'attn-token attn-masked' hm1.html | wc -l)" -eq 6 ] && [ "$(grep -o 'attn-token attn-masked' hm2.html | wc -l)" -eq 2 ] &&
   grep -q 'title="row 0 → [^"]*: masked"' hm1.html && grep -q 'class="masked"' hm3.html; then
    pass
else
    fail "html --mask causal: not 6 tokens of the map and 2 of row 1 hatched, or the image without hatching"
fi

# An option given twice is refused (the second silently replaced the first: "--mask causal
# --mask pad.npy" drew the padding alone); -o and --output are one option.
bad "mask twice"        2 "--mask is given twice: each option is taken once; for two masks at once save the cells both leave visible as one FILE" "$npy/f8_c_3x4.npy" --mask causal --mask visible.csv -o out/new.svg
bad "output twice"      2 "--output is given twice (as -o before)" "$npy/f8_c_3x4.npy" -o out/new.svg --output out/new.svg
bad "isolate svg"       2 "--isolate-tokens is for html output (highlighted tokens)" "$npy/f8_c_3x4.npy" --isolate-tokens -o out/new.svg
bad "isolate view"      2 "--isolate-tokens is for highlighted text (html output), not --view" --view "$npy/f8_c_3x4.npy" --isolate-tokens -o out/new.html
bad "title twice"       2 "-t is given twice" "$npy/f8_c_3x4.npy" -t A -t B -o out/new.svg

# --mask causal-lower-right pairs the last row with the last key (torch's causal_lower_right):
# on a 2x4 map row i sees keys j <= i + 2, so (0, 3) alone is hidden; causal hides 5 cells, and
# when they hold weight (83 % of it here; over 1 %) a note says so (a forecaster's 12x60 map
# lost 97 % of its weight to causal in silence).
printf '1,2,3,0\n0,1,2,3\n' >wide.csv
ok "mask lower right"       lr1.svg wide.csv --mask causal-lower-right
ok "html mask lower right"  lr2.html wide.csv -c cols4.txt --query 0 --mask causal-lower-right
ok "view mask lower right"  lr3.html --view wide.csv --mask causal-lower-right
if [ "$(grep -o 'url(#attn-masked)' lr1.svg | wc -l)" -eq 2 ] && grep -q 'row 0, column 3: masked' lr1.svg &&
   [ "$(grep -o 'attn-token attn-masked' lr2.html | wc -l)" -eq 1 ] && grep -q '"mask":"CA=="' lr3.html; then
    pass
else
    fail "--mask causal-lower-right: not cell (0, 3) alone hidden in the svg, html and --view"
fi
if "$plot" wide.csv --mask causal -o lr4.svg 2>"$work/err" &&
   grep -q "note: --mask causal hides cells that hold 83 % of the weight, .*take --mask causal-lower-right" "$work/err" &&
   [ "$(grep -o 'url(#attn-masked)' lr4.svg | wc -l)" -eq 6 ]; then
    pass
else
    fail "--mask causal over a 2x4 map: no note of the weight it hides ($(cat "$work/err"))"
fi
if "$plot" --view wide.csv --mask causal -o lr5.html 2>"$work/err" && grep -q "hold 83 % of the weight" "$work/err"; then
    pass
else
    fail "--view --mask causal over a 2x4 map: no note of the weight it hides ($(cat "$work/err"))"
fi

bad "html as weights"   1 "'hm1.html' is an HTML page, not weights" hm1.html -o out/new.svg
# --- --view: the interactive page --------------------------------------------------------
npy_header '(2, 3, 2, 2)' >view4d.npy                      # L x h x Tq x Tk, all zero
head -c $((2 * 3 * 2 * 2 * 8)) /dev/zero >>view4d.npy
cat >tidy.csv <<'EOF'
layer,head,step,query,key,query_token,key_token,weight
0,0,0,0,0,le,the,0.9
0,0,0,0,1,le,"cat, black",0.1
0,1,0,0,0,le,the,0.4
0,1,0,0,1,le,"cat, black",0.6
0,0,5,0,0,Q,K,1
EOF
printf 'query,key,weight\n0,0,0.5\n1,x,0.5\n' >tidy_bad.csv
ok "view 4-D"               v1.html  --view view4d.npy -r rows2.txt -c rows2.txt -t 'view <4-D>'
if grep -q '"name":"layer 1","heads":\[{' v1.html && [ "$(grep -o '{"lo":' v1.html | wc -l)" -eq 6 ]; then
    pass
else
    fail "view 4-D: not 2 layers of 3 heads"
fi
ok "view 3-D two files"     v2.html  --view "$npy/f8_c_2x3x4.npy" "$npy/f4_fortran_2x3x4.npy" --view-start model
if grep -q '"view":"model"' v2.html && [ "$(grep -o '{"lo":' v2.html | wc -l)" -eq 4 ]; then pass; else fail "view two files"; fi
ok "view 2-D csv labels"    v3.html  --view labelled.csv --view-precision uint8 --separator ''
if grep -q '"encoding":"uint8"' v3.html && grep -q '"k":\["the","black, dark","cat"\]' v3.html && grep -q '"separator":""' v3.html; then
    pass
else
    fail "view wide csv: labels or precision"
fi
printf 'attention,query,key,key_token,weight\nenc,0,0,a,1\ncross,0,0,x,0.5\ncross,0,1,y,0.5\n' >tidy_att.csv
ok "view tidy attentions"   v5.html  --view tidy_att.csv
if grep -q '"name":"enc","tq":1,"tk":1' v5.html && grep -q '"name":"cross","tq":1,"tk":2,"q":\[\],"k":\["x","y"\]' v5.html; then
    pass
else
    fail "view tidy csv: the attention column"
fi
# --view --mask: the page's "mask" bits (bit n of cell n = i·Tk + j; 1: hidden), causal or one
# mask per batch item (a 3-D file); view4d.npy with --batch is 2 items of 3 heads of 2x2.
ok "view mask causal"       vm1.html --view view4d.npy --mask causal
if [ "$(grep -o '"mask":"Ag=="' vm1.html | wc -l)" -eq 1 ]; then pass; else fail "view --mask causal: not cell (0, 1) alone"; fi
f8_one='\x00\x00\x00\x00\x00\x00\xf0\x3f' f8_zero='\x00\x00\x00\x00\x00\x00\x00\x00'
{ npy_header '(2, 2, 2)'; printf "$f8_one$f8_one$f8_one$f8_one$f8_one$f8_zero$f8_one$f8_zero"; } >pad_mask.npy
ok "view mask per item"     vm2.html --view --batch view4d.npy --mask pad_mask.npy
if [ "$(grep -o '"mask":"[^"]*"' vm2.html)" = '"mask":"Cg=="' ] && grep -q '"name":"item 1","attentions":\[{"name":"attention","tq":2,"tk":2,"q":\[\],"k":\[\],"mask":"Cg=="' vm2.html; then
    pass
else
    fail "view --mask per item: item 0 hides nothing, item 1 key 1"
fi
{ npy_header '(3, 2, 2)'; for _ in 1 2 3; do printf "$f8_one$f8_one$f8_one$f8_one"; done; } >three_masks.npy
# One value per key broadcasts as for svg: B x 1 x Tk (each item's padding), and 1 x Tk for all.
{ npy_header '(2, 1, 2)'; printf "$f8_one$f8_one$f8_one$f8_zero"; } >pad_keys.npy
ok "view mask per item keys" vm3.html --view --batch view4d.npy --mask pad_keys.npy
if [ "$(grep -o '"mask":"[^"]*"' vm3.html)" = '"mask":"Cg=="' ]; then pass; else fail "view --mask B x 1 x Tk: item 1 key 1"; fi
{ npy_header '(1, 2)'; printf "$f8_one$f8_zero"; } >pad_key.npy
ok "view mask keys"          vm4.html --view --batch view4d.npy --mask pad_key.npy
if [ "$(grep -o '"mask":"Cg=="' vm4.html | wc -l)" -eq 2 ]; then pass; else fail "view --mask 1 x Tk: key 1 of each item"; fi
bad "view mask items"   1 "--mask 'three_masks.npy' holds 3 masks but the page has 2 batch item(s): give one mask per item (B x Tq x Tk, or B x 1 x Tk), or one for all (Tq x Tk, or 1 x Tk)" --view --batch view4d.npy --mask three_masks.npy -o out/new.html
bad "view mask shape"   1 "--mask 'visible2.csv' is 2x2 but the weights are 3x4" --view "$npy/f8_c_3x4.npy" --mask visible2.csv -o out/new.html
ok "view tidy csv"          v4.html  --view tidy.csv
if grep -q '"name":"step 0"' v4.html && grep -q '"name":"step 5"' v4.html && grep -q '"k":\["the","cat, black"\]' v4.html; then
    pass
else
    fail "view tidy csv: items or tokens"
fi
bad "view svg"          2 "--view writes an HTML page, not svg" --view view4d.npy -f svg -o out/new.svg
bad "view bars"         2 "--view cannot be used with --bars" --view view4d.npy --bars -o out/new.html
bad "view start"        2 "--view-start must be auto, head, model, map or text, not 'grid'" --view view4d.npy --view-start grid -o out/new.html
bad "view precision"    2 "--view-precision must be auto, float32, uint16 or uint8, not 'f16'" --view view4d.npy --view-precision f16 -o out/new.html
bad "two files"         2 "one WEIGHTS file expected, got 2 (several files are for --view, one per layer, and --animate" "$npy/f8_c_3x4.npy" "$npy/f8_c_3x4.npy" -o out/new.svg
bad "view shapes"       1 "every layer needs the same heads and shape" --view "$npy/f8_c_2x3x4.npy" "$npy/f8_c_3x4.npy" -o out/new.html
bad "view rows"         1 "--rows 'rows3.txt' has 3 tokens but the weights have 2 rows" --view view4d.npy -r rows3.txt -o out/new.html
bad "view tidy index"   1 "line 3: the key 'x' is not a whole number" --view tidy_bad.csv -o out/new.html
# The tidy form without --view is not a matrix: refused with what reads it, with or without the
# token columns (without them it would otherwise parse as a 4-column matrix of numbers).
tidy_hint="is the tidy form of attn::io::write_csv_long (columns query, key and weight, a row per weight), not a matrix: open it with --view"
bad "tidy csv as a map"  1 "'tidy.csv' $tidy_hint" tidy.csv -o out/new.svg
printf 'head,query,key,weight\n0,0,0,0.5\n0,0,1,0.5\n' >tidy_numbers.csv
bad "tidy csv numbers"   1 "'tidy_numbers.csv' $tidy_hint" tidy_numbers.csv -o out/new.svg
bad "tidy csv truth"     1 "'tidy_numbers.csv' $tidy_hint" "$npy/f8_c_3x4.npy" --truth tidy_numbers.csv -o out/new.svg
bad "view max bytes"    1 "more than --max-bytes 1000" --view view4d.npy --max-bytes 1000 -o out/new.html

# --- N-D arrays (Hugging Face's output_attentions): --index, leading axes of size 1, 5-D views ---
# write_npy FILE SHAPE C|F DESCR EXPR: a .npy of SHAPE in C or Fortran order whose entry at the
# index tuple t is EXPR (Python's standard library only: struct packs '<f8', '<f4' and '<f2').
write_npy() {
    "$python" - "$@" <<'PY'
import itertools, struct, sys
path, shape, fortran, descr, expr = sys.argv[1], eval(sys.argv[2]), sys.argv[3] == "F", sys.argv[4], sys.argv[5]
order = list(itertools.product(*[range(n) for n in shape]))
if fortran:
    order.sort(key=lambda t: t[::-1])  # the first index varies fastest
fmt = {"<f8": "d", "<f4": "f", "<f2": "e"}[descr]
entry = eval("lambda t: " + expr, {})  # compiled once: 1.1 million entries took 12 s with eval each
data = struct.pack("<%d%s" % (len(order), fmt), *map(entry, order))
head = "{'descr': '%s', 'fortran_order': %s, 'shape': %r, }" % (descr, fortran, tuple(shape))
head += " " * ((64 - (10 + len(head) + 1) % 64) % 64) + "\n"
open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode() + data)
PY
}
if [ -z "$python" ]; then
    fail "N-D arrays: python3 is not installed (it writes them)"
else
    # layers x batch x heads x Tq x Tk, entry (l, b, h, i, j) = l·10000 + b·1000 + h·100 + i·10 + j.
    value='t[0]*10000 + t[1]*1000 + t[2]*100 + t[3]*10 + t[4]'
    write_npy hf5.npy '(3, 2, 4, 2, 3)' C '<f8' "$value"
    write_npy hf5f.npy '(3, 2, 4, 2, 3)' F '<f8' "$value"
    ok "index map"              n1.svg   hf5.npy --index 2,1,3 --values --decimals 0
    if grep -q '>21312<' n1.svg && grep -q '>21300<' n1.svg && ! grep -q '>21212<' n1.svg; then
        pass
    else
        fail "index map: w[2, 1, 3] is not the map drawn"
    fi
    # Without --title, the title names the part picked as NumPy does, a negative index counted
    # from the end (the same picture as its positive twin); a --title of its own replaces it.
    if grep -q 'class="title"[^>]*>hf5.npy\[2, 1, 3\]<' n1.svg; then pass; else fail "index map: not titled hf5.npy[2, 1, 3]"; fi
    ok "index negative"         n2.svg   hf5.npy --index -1,1,-1 --values --decimals 0
    if cmp -s n1.svg n2.svg; then pass; else fail "--index -1,1,-1 is not --index 2,1,3"; fi
    ok "index own title"        n5.svg   hf5.npy --index 2,1,3 --values --decimals 0 -t 'w[2,1,3]'
    if grep -q 'class="title"[^>]*>w\[2,1,3\]<' n5.svg && ! grep -q 'hf5.npy' n5.svg; then pass; else fail "index own title: --title not used alone"; fi
    ok "index Fortran"          n3.svg   hf5f.npy --index 2,1,3 --values --decimals 0 -t 'w[2,1,3]'
    if cmp -s n5.svg n3.svg; then pass; else fail "--index of a Fortran-order file picks another map"; fi
    # A Fortran-order file is read whole: picking from one bigger than --max-cells is refused.
    bad "index Fortran limit" 1 "'hf5f.npy' is in Fortran order: --index reads all of its 144 cells, more than --max-cells 100; save it in C order, np.save(path, np.ascontiguousarray(w)), or raise --max-cells" hf5f.npy --index 2,1,3 --max-cells 100 -o out/new.svg
    ok "index C limit"          n9.svg   hf5.npy --index 2,1,3 --max-cells 100
    ok "index grid"             n4.svg   hf5.npy --index 2,1 --values --decimals 0
    if grep -q '>head 3<' n4.svg && grep -q '>21312<' n4.svg && ! grep -q '>head 4<' n4.svg && ! grep -q '>20312<' n4.svg; then
        pass
    else
        fail "index grid: w[2, 1] is not the grid of 4 heads drawn"
    fi
    # ':' keeps a whole axis, as NumPy's w[:, 1, 3] (TF's time-major alignment_history.stack(),
    # (T_out, B, T_in): --index :,0 is item 0): a grid of the 3 layers' maps of item 1, head 3.
    ok "index colon"            n10.svg  hf5.npy --index :,1,3 --values --decimals 0
    if grep -q '>1312<' n10.svg && grep -q '>11312<' n10.svg && grep -q '>21312<' n10.svg && ! grep -q '>21212<' n10.svg \
        && ! grep -q '>20312<' n10.svg && grep -q 'class="title"[^>]*>hf5.npy\[:, 1, 3\]<' n10.svg; then
        pass
    else
        fail "index colon: w[:, 1, 3] is not the grid drawn (or not titled hf5.npy[:, 1, 3])"
    fi
    ok "index colon Fortran"    n11.svg  hf5f.npy --index :,1,3 --values --decimals 0 -t same
    ok "index colon C"          n12.svg  hf5.npy --index :,1,3 --values --decimals 0 -t same
    if cmp -s n11.svg n12.svg; then pass; else fail "--index :,1,3 of a Fortran-order file picks other maps"; fi
    ok "index colon map"        n13.svg  hf5.npy --index 2,:,3,1 --values --decimals 0
    if grep -q '>20310<' n13.svg && grep -q '>21312<' n13.svg && ! grep -q '>21302<' n13.svg; then
        pass
    else
        fail "index colon map: w[2, :, 3, 1] (items x Tk of layer 2, head 3, query 1) is not the map drawn"
    fi
    # The grid's maps are titled as NumPy indexes them (the kept axis has no known name).
    if grep -q '>\[0, 1, 3\]<' n10.svg && grep -q '>\[2, 1, 3\]<' n10.svg && ! grep -q '>head 0<' n10.svg; then
        pass
    else
        fail "index colon: the maps of w[:, 1, 3] not titled [0, 1, 3] ... [2, 1, 3]"
    fi
    ok "index colon negative"   n15.svg  hf5.npy --index :,-1,-1 --values --decimals 0
    if cmp -s n10.svg n15.svg; then pass; else fail "--index :,-1,-1 is not --index :,1,3 (titles of the maps included)"; fi
    ok "index trailing colon"   n14.svg  hf5.npy --index 2,1,3,: --values --decimals 0
    if cmp -s n1.svg n14.svg; then pass; else fail "--index 2,1,3,: is not --index 2,1,3 (a trailing ':' picks nothing)"; fi
    bad "index colon view"  2 "--view names the axes it shows (layers, items, heads): ':' in --index keeps an axis" --view hf5.npy --index :,1 -o out/new.html
    bad "index colon limit" 1 "'hf5.npy': --index with ':' before a picked axis reads all of its 144 cells, more than --max-cells 100" hf5.npy --index :,1,3 --max-cells 100 -o out/new.svg
    # Hugging Face's batch of one: leading axes of size 1 go, (1, 1, 2, 3) is one map.
    write_npy one_map.npy '(1, 1, 2, 3)' C '<f8' 't[2]*10 + t[3]'
    write_npy plain_map.npy '(2, 3)' C '<f8' 't[0]*10 + t[1]'
    ok "leading ones"           n5.svg   one_map.npy
    ok "plain map"              n6.svg   plain_map.npy
    if cmp -s n5.svg n6.svg; then pass; else fail "a (1, 1, 2, 3) array is not drawn as its (2, 3) map"; fi
    bad "5-D picture"       1 "'hf5.npy' has shape (3, 2, 4, 2, 3): attn-plot draws one map (2-D) or a grid of maps (3-D, or 4-D layers x heads as svg); pick along the leading axes with --index (--index 0,0: the grid of w[0,0]; --index 0,0,0: the map w[0,0,0]), or show every map with --view" hf5.npy -o out/new.svg
    # A 4-D L x h x Tq x Tk file (Hugging Face's output_attentions of one item) is an svg grid: a
    # row per layer, a column per head, titled "layer l, head i"; torch.stack'ed as L x 1 x h x
    # Tq x Tk the same picture; with --batch the rows are items. Other outputs refuse it.
    write_npy grid4.npy '(2, 4, 2, 2)' C '<f8' 't[0]*1000 + t[1]*100 + t[2]*10 + t[3]'
    write_npy grid5.npy '(2, 1, 4, 2, 2)' C '<f8' 't[0]*1000 + t[2]*100 + t[3]*10 + t[4]'
    # A 4-D file may also be torch's per-head weights of a batch: standard error says how it was
    # read (one line), and --batch says nothing.
    note4="attn-plot: note: 'grid4.npy' (2, 4, 2, 2) is drawn as layers x heads x Tq x Tk (\"layer i, head j\"); for torch's per-head MultiheadAttention weights of a batch (batch x heads x Tq x Tk) add --batch (\"item i, head j\")"
    for columns in "" 4 3; do
        if "$plot" grid4.npy ${columns:+--grid-columns $columns} -o "g4$columns.svg" 2>"$work/err" &&
           [ "$(cat "$work/err")" = "$note4" ] && xmllint --noout "g4$columns.svg"; then
            pass
        else
            fail "4-D grid ${columns:+--grid-columns $columns}: not drawn, or standard error is not the note: $(cat "$work/err")"
        fi
    done
    mv g44.svg g4c.svg && mv g43.svg g4d.svg
    ok "5-D batch of one"       g5.svg   grid5.npy
    titles="$(grep -o 'class="panel-title"[^>]*>[^<]*' g4.svg | sed 's/.*>//' | tr '\n' '|')"
    firsts="$(grep -o 'row 0, column 0: [0-9]*' g4.svg | sed 's/.*: //' | tr '\n' ' ')"
    if [ "$titles" = "layer 0, head 0|layer 0, head 1|layer 0, head 2|layer 0, head 3|layer 1, head 0|layer 1, head 1|layer 1, head 2|layer 1, head 3|" ] \
        && [ "$firsts" = "0 100 200 300 1000 1100 1200 1300 " ] && cmp -s g4.svg g5.svg && cmp -s g4.svg g4c.svg \
        && ! cmp -s g4.svg g4d.svg; then pass; else
        fail "4-D grid: titles '$titles', first cells '$firsts', or not a row per layer"
    fi
    ok "4-D grid batch"         g4b.svg  grid4.npy --batch
    if grep -q '>item 1, head 3<' g4b.svg; then pass; else fail "4-D grid --batch: no 'item 1, head 3'"; fi
    # A 3-D --mask for a grid: one mask per item with --batch (B x 1 x Tk: item 1 hides key 1, in
    # each of its 4 heads), or one per map; another count is refused.
    write_npy pad_items.npy '(2, 1, 2)' C '<f8' '0.0 if (t[0] == 1 and t[2] == 1) else 1.0'
    ok "grid mask per item"     g4m.svg  grid4.npy --batch --mask pad_items.npy
    if [ "$(grep -o ': masked (1[0-9][0-9][0-9])' g4m.svg | wc -l)" -eq 8 ] && [ "$(grep -o ': masked (' g4m.svg | wc -l)" -eq 8 ]; then
        pass
    else
        fail "grid --batch --mask: not the 8 cells of key 1 in item 1's 4 maps hatched"
    fi
    write_npy per_map.npy '(8, 2, 2)' C '<f8' '0.0 if (t[0] == 5 and t[1] == 0 and t[2] == 1) else 1.0'
    ok "grid mask per map"      g4p.svg  grid4.npy --batch --mask per_map.npy
    if [ "$(grep -o ': masked (' g4p.svg | wc -l)" -eq 1 ] && grep -q 'row 0, column 1: masked (1101)' g4p.svg; then
        pass
    else
        fail "grid --mask per map: not cell (0, 1) of map 5 (item 1, head 1) alone hatched"
    fi
    bad "grid mask count"   1 "--mask 'pad_items.npy' holds 2 masks but 'grid4.npy' draws 8 maps: give one mask per map, or one for all (Tq x Tk)" grid4.npy --mask pad_items.npy -o out/new.svg
    bad "4-D after index"   1 "'hf5.npy' has shape (3, 2, 4, 2, 3), (2, 4, 2, 3) after --index" hf5.npy --index 1 -o out/new.svg
    bad "4-D png"           1 "'grid4.npy' has shape (2, 4, 2, 2): attn-plot draws one map (2-D) or a grid of maps (3-D, or 4-D layers x heads as svg)" grid4.npy -o out/new.png
    bad "index range"       1 "'hf5.npy' has shape (3, 2, 4, 2, 3): --index 2 is out of range for axis 1 (size 2)" hf5.npy --index 0,2 -o out/new.svg
    bad "index axes"        1 "--index picks along 5 axes, but at most 4 of its axes can be picked" hf5.npy --index 0,0,0,0,0 -o out/new.svg
    bad "index text"        2 "--index needs comma-separated integers or ':'" hf5.npy --index 0,x -o out/new.svg
    bad "index csv"         2 "--index picks maps from .npy arrays; 'labelled.csv' is not a .npy file" labelled.csv --index 0 -o out/new.svg
    bad "index animate"     2 "--index picks maps from WEIGHTS .npy files, not from --animate's frames" --animate hf5.npy --index 0 -o out/new.html
    bad "index html grid"   1 "html highlighting takes one map (1-D or 2-D); draw the grid as svg (-o FILE.svg), show it with --view, or pick one map with --index 2,1,K" hf5.npy --index 2,1 -o out/new.html
    # --view of a 5-D file: one batch item each (the page's item selector), layers x heads.
    ok "view 5-D"               v6.html  --view hf5.npy
    if grep -q '"name":"item 1"' v6.html && ! grep -q '"name":"item 2"' v6.html &&
       [ "$("$python" -c 'import re,sys; print(" ".join("%g" % float(x) for x in re.findall(r"\{\"lo\":([^,]+),", open(sys.argv[1]).read())))' v6.html)" = \
         "$("$python" -c 'print(" ".join("%g" % (l*10000 + b*1000 + h*100) for b in range(2) for l in range(3) for h in range(4)))')" ]; then
        pass
    else
        fail "view 5-D: not 2 items of 3 layers of 4 heads in order"
    fi
    # Several files are one layer each: a 4-D one (a batch of layers) is refused, not flattened.
    write_npy hf4.npy '(2, 4, 2, 3)' C '<f8' 't[0]*1000 + t[1]*100 + t[2]*10 + t[3]'
    bad "view 4-D files"    1 "'hf4.npy' has shape (2, 4, 2, 3): with several files each is one layer, 2-D (Tq x Tk) or 3-D (h x Tq x Tk)" --view hf4.npy hf4.npy -o out/new.html
    ok "view files index"       v7.html  --view hf4.npy hf4.npy --index 1
    if [ "$(grep -o '{"lo":' v7.html | wc -l)" -eq 8 ] && grep -q '{"lo":1100,' v7.html && ! grep -q '{"lo":0,' v7.html; then
        pass
    else
        fail "view files index: not 2 layers of item 1's 4 heads"
    fi
    # lo_values PAGE: the smallest value of every map of a --view page, in page order.
    lo_values() { "$python" -c 'import re,sys; print(" ".join("%g" % float(x) for x in re.findall(r"\{\"lo\":([^,]+),", open(sys.argv[1]).read())))' "$1"; }
    # What --index leaves of a 5-D file keeps the axes' names: w[2] is batch x heads x Tq x Tk,
    # two items of one layer (a user saw them titled "layer 0", "layer 1").
    ok "view 5-D index"         v8.html  --view hf5.npy --index 2
    if grep -q '"name":"item 1"' v8.html && ! grep -q '"name":"layer 1"' v8.html &&
       [ "$(lo_values v8.html)" = "$("$python" -c 'print(" ".join("%g" % (20000 + b*1000 + h*100) for b in range(2) for h in range(4)))')" ]; then
        pass
    else
        fail "view 5-D index: not 2 items of layer 2's 4 heads"
    fi
    # --batch: a 4-D file is batch x heads x Tq x Tk (torch's per-head weights of a batch).
    ok "view batch"             v9.html  --view --batch hf4.npy
    if grep -q '"name":"item 1"' v9.html && ! grep -q '"name":"layer 1"' v9.html &&
       [ "$(lo_values v9.html)" = "$("$python" -c 'print(" ".join("%g" % (b*1000 + h*100) for b in range(2) for h in range(4)))')" ]; then
        pass
    else
        fail "view batch: not 2 items of 4 heads"
    fi
    bad "batch picture"     2 "--batch names the first axis of a 3-D WEIGHTS file (an svg grid of batch items) or of a 4-D --view file; with --index, what is left keeps the axes' own names" --batch hf4.npy --index 0 -o out/new.svg
    # --batch with a 3-D file: B items of one map each (the page's item selector).
    ok "view batch 3-D"         v10.html --view --batch "$npy/f8_c_2x3x4.npy"
    if grep -q '"name":"item 1"' v10.html && ! grep -q '"name":"head 1"' v10.html; then pass; else fail "view batch 3-D: not 2 items of one map"; fi
    bad "view batch one map" 1 "--batch: '$npy/f8_c_3x4.npy' holds one map; --batch takes one file whose first axis is batch items" --view --batch "$npy/f8_c_3x4.npy" -o out/new.html
    # Picture options are refused with --view, not dropped (the page looked the same with them).
    bad "view vmax"         2 "--vmax is for pictures, not --view" --view hf4.npy --vmax 1 -o out/new.html
    bad "view reverse"      2 "--reverse is for pictures, not --view" --view hf4.npy --reverse -o out/new.html
    bad "view values"       2 "--values is for pictures, not --view" --view hf4.npy --values -o out/new.html
    write_npy empty_map.npy '(0, 5)' C '<f8' '0'
    bad "view empty"        1 "'empty_map.npy' is a 0x5 map: there is nothing to draw" --view empty_map.npy -o out/new.html
    write_npy empty4.npy '(2, 3, 0, 4)' C '<f8' '0'
    bad "view empty 4-D"    1 "'empty4.npy': its 6 maps are empty (0x4)" --view empty4.npy -o out/new.html
    # A page above 2^20 cells is stored quantised: said on standard error, with the way back.
    write_npy wide.npy '(1100, 1000)' C '<f4' '((t[0] * 7 + t[1]) % 13) / 1300'
    if "$plot" --view wide.npy -o v10.html 2>"$work/err" && grep -q '"encoding":"uint16"' v10.html &&
       grep -q "^attn-plot: note: the page stores its 1100000 cells in 16 bits, each value within (max - min) / 131064 of its map's" "$work/err" &&
       grep -q -- '--view-precision float32 keeps them exactly' "$work/err"; then
        pass
    else
        fail "view quantised note: $(cat "$work/err")"
    fi
    ok "view uint16 asked"      v11.html --view wide.npy --view-precision uint16
    rm -f wide.npy v10.html v11.html
    # Limits come from the header, before any data is read: a sparse 4 GiB file (no disk used)
    # is refused in no time, where reading it would take 4 GiB of memory.
    npy_header '(2, 16384, 16384)' >huge_stack.npy
    truncate -s $((128 + 2 * 16384 * 16384 * 8)) huge_stack.npy
    bad "limits first"      1 "'huge_stack.npy' holds 2 map(s) of 16384x16384 cells, more than --max-cells 4194304" huge_stack.npy -o out/new.svg
    elapsed_ms="$(cpu_ms "$plot" huge_stack.npy -o out/new.svg)"
    if [ "$elapsed_ms" -lt 1000 ]; then pass; else fail "limits first: took ${elapsed_ms} ms of processor time"; fi
    npy_header '(2, 3, 1, 8192, 8192)' >huge_view.npy
    truncate -s $((128 + 6 * 8192 * 8192 * 8)) huge_view.npy
    bad "view limits first" 1 "'huge_view.npy' holds 6 map(s) of 8192x8192 cells, more than --max-cells 4194304" --view huge_view.npy -o out/new.html
    rm -f huge_stack.npy huge_view.npy
    # A damaged array inside an .npz: the message names the archive's array, not a temporary file.
    "$python" -c 'import zipfile; zipfile.ZipFile("w.npz", "w").writestr("arr_0.npy", b"x")'
    bad "npz bad member"    1 "attn-plot: attn::io::read_npy_array: 'w.npz:arr_0': not a NumPy .npy file" w.npz -o out/new.svg
fi

# --- --reshape: rows (or columns) as grids of patches (vision transformers) -------------------
# A ViT layer of 2 heads over 1 class token + 2x3 patches: entry (h, q, k) = h·100 + q·10 + k.
# Drawn reshaped, each map must be the one NumPy's w[h, q, 1:].reshape(2, 3) gives, written here
# as its own file (entry (r, c) = h·100 + q·10 + 1 + 3r + c): the same picture, byte for byte.
if [ -z "$python" ]; then
    fail "--reshape: python3 is not installed (it writes the arrays)"
else
    write_npy vit.npy '(2, 7, 7)' C '<f4' 't[0]*100 + t[1]*10 + t[2]'
    write_npy vit_1_4.npy '(2, 3)' C '<f4' '144 + 3*t[0] + t[1] - 3'
    ok "reshape row"            r1.svg   vit.npy --index 1,4 --reshape 2,3 --values --decimals 0 -t same
    ok "reshape reference"      r2.svg   vit_1_4.npy --values --decimals 0 -t "same — keys 1–6 as 2×3 (row-major)"
    if cmp -s r1.svg r2.svg; then pass; else fail "reshape row: w[1, 4, 1:].reshape(2, 3) is not the map drawn"; fi
    # Without a title, the picked part and what was reshaped; the class token's weight (140) left out.
    ok "reshape titled"         r3.svg   vit.npy --index 1,4 --reshape 2x3 --values --decimals 0
    if grep -q 'class="title"[^>]*>vit.npy\[1, 4\] — keys 1–6 as 2×3 (row-major)<' r3.svg && grep -q '>row 1, column 0: 144<' r3.svg \
        && ! grep -q '>140<' r3.svg; then
        pass
    else
        fail "reshape titled: not titled 'vit.npy[1, 4] — keys 1–6 as 2×3 (row-major)', or key 4 not at row 1, column 0"
    fi
    write_npy png_ref.npy '(2, 3)' C '<f4' '144 + 3*t[0] + t[1] - 3'
    ok_png "reshape png"        r1.png   vit.npy --index 1,4 --reshape 2,3
    ok_png "reshape png ref"    r2.png   png_ref.npy
    if cmp -s r1.png r2.png; then pass; else fail "reshape png: not the PNG of w[1, 4, 1:].reshape(2, 3)"; fi
    # ':' keeps the heads: a map per head, titled as NumPy indexes them.
    ok "reshape heads"          r4.svg   vit.npy --index :,4 --reshape 2,3 --values --decimals 0
    if grep -q '>\[0, 4\]<' r4.svg && grep -q '>\[1, 4\]<' r4.svg && grep -q '>row 1, column 0: 44<' r4.svg \
        && grep -q '>row 1, column 0: 144<' r4.svg && grep -q 'keys 1–6 of each row as 2×3' r4.svg; then
        pass
    else
        fail "reshape heads: w[:, 4] not drawn as two 2x3 maps titled [0, 4] and [1, 4]"
    fi
    # A whole 3-D array: a map per head and query; --rows labels the queries.
    printf 'c\np0\np1\np2\np3\np4\np5\n' >vit_rows.txt
    ok "reshape stack"          r5.svg   vit.npy --reshape 2,3 --values --decimals 0 -r vit_rows.txt
    if grep -q '>head 1, p5<' r5.svg && grep -q '>head 0, c<' r5.svg && grep -q '>row 0, column 2: 163<' r5.svg \
        && [ "$(grep -o 'class="panel-title"' r5.svg | wc -l)" -eq 14 ]; then
        pass
    else
        fail "reshape stack: not 14 maps titled 'head h, <query label>'"
    fi
    # Cross-attention from a 2x3 image to 2 tokens (6 x 2, fewer keys than cells): a map per
    # token, titled by --cols; entry (q, k) = q·10 + k, so token 1's map is 1, 11, 21 / 31, 41, 51.
    write_npy cross.npy '(6, 2)' C '<f8' 't[0]*10 + t[1]'
    printf 'a cat\n,\n' >cross_cols.txt
    ok "reshape columns"        r6.svg   cross.npy --reshape 2,3 --values --decimals 0 -c cross_cols.txt
    if grep -q '>a cat<' r6.svg && grep -q '>,<' r6.svg && grep -q '>row 1, column 2: 51<' r6.svg \
        && grep -q '>row 0, column 1: 10<' r6.svg && grep -q 'all 6 queries of each column as 2×3' r6.svg; then
        pass
    else
        fail "reshape columns: not a 2x3 map per token, titled by --cols"
    fi
    bad "reshape too big"     1 "--reshape 3,3 draws 9 weights of each row (or column) as a 3x3 map, but 'vit.npy' is 7x7 (each of its maps): give a grid of at most 7 cells (e.g. 2,2 for the last 4)" vit.npy --reshape 3,3 -o out/new.svg
    bad "reshape one size"    2 "--reshape needs the rows and columns of the grid, R,C" vit.npy --reshape 6 -o out/new.svg
    bad "reshape zero"        2 "--reshape" vit.npy --reshape 0,6 -o out/new.svg
    bad "reshape html"        2 "--reshape draws rows as grids of cells: it is for svg and png pictures, not html output" vit.npy --reshape 2,3 -o out/new.html
    bad "reshape view"        2 "--reshape draws rows as grids of cells: it is for svg and png pictures, not --view" --view vit.npy --reshape 2,3 -o out/new.html
    bad "reshape truth"       2 "--truth cannot be used with --reshape, which draws each row of the weights as a map of its own" vit.npy --reshape 2,3 --truth vit.npy -o out/new.svg
    bad "reshape max maps"    1 "--reshape 2,3 draws each of the 7 rows of 'vit.npy' (2 maps) as a map: 14 maps, more than --max-maps 10: pick the rows to draw with --index (e.g. --index :,0, row 0 of every map), or raise --max-maps" vit.npy --reshape 2,3 --max-maps 10 -o out/new.svg
    bad "reshape png grid"    1 "a PNG holds one map" vit.npy --index 0 --reshape 2,3 -o out/new.png
    # A map above --max-cells would be pooled: --reshape needs every weight, so it is refused.
    bad "reshape pooled"      1 "'cross.npy' has 6x2 cells, more than --max-cells 10: --reshape draws every weight of each row; pick rows with --index (e.g. --index 0 for row 0), or raise --max-cells" cross.npy --reshape 2,3 --max-cells 10 -o out/new.svg
    # --color-scale per-map: each token's map on its own scale and colour bar (token 0's weights,
    # 0..50, would otherwise set the colours of token 1's, 1..51, nearly alike: here, 6 of 12
    # cells of each map are in the top half of its own scale).
    ok "per-map scale"          r7.svg   cross.npy --reshape 2,3 -c cross_cols.txt --color-scale per-map
    if [ "$(grep -c '<g class="colorbar">' r7.svg)" -eq 2 ] && grep -q 'a scale per map' r7.svg \
        && [ "$(grep -o 'fill="#fde725"' r7.svg | wc -l)" -eq 2 ]; then
        pass
    else
        fail "per-map scale: not two maps each with its own colour bar, each reaching the top colour"
    fi
    ok "shared scale"           r8.svg   cross.npy --reshape 2,3 -c cross_cols.txt
    if [ "$(grep -c '<g class="colorbar">' r8.svg)" -eq 1 ] && [ "$(grep -o 'fill="#fde725"' r8.svg | wc -l)" -eq 1 ]; then
        pass
    else
        fail "shared scale: not one colour bar, the top colour in one cell"
    fi
    ok "per-map pair"           r9.svg   vit_1_4.npy --truth png_ref.npy --color-scale per-map
    bad "per-map one map"     2 "--color-scale is for a grid (3-D WEIGHTS) or a pair (--truth), but 'vit_1_4.npy' is one map" vit_1_4.npy --color-scale per-map -o out/new.svg
    bad "per-map html"        2 "--color-scale per-map gives each map of an svg grid (3-D WEIGHTS, --reshape) or --truth pair a colour scale and colour bar of its own: it is for svg heatmaps" vit.npy --color-scale per-map -o out/new.html
    bad "per-map png"         2 "it is for svg heatmaps" vit.npy --index 0,0 --color-scale per-map -o out/new.png
    bad "per-map view"        2 "it is for svg heatmaps" --view vit.npy --color-scale per-map -o out/new.html
    bad "per-map value"       2 "--color-scale must be shared or per-map, not 'each'" vit.npy --color-scale each -o out/new.svg
    # --origin lower: row 0 at the bottom. The png is the png of the rows reversed, written here
    # as its own file; the svg's row ticks go up (tick 0 below tick 1).
    write_npy rows_up.npy '(2, 3)' C '<f4' '141 + 3*(1 - t[0]) + t[1]'
    ok_png "origin png"         o1.png   vit_1_4.npy --origin lower
    ok_png "origin png ref"     o2.png   rows_up.npy
    if cmp -s o1.png o2.png; then pass; else fail "origin png: not the PNG of the rows reversed"; fi
    ok "origin svg"             o3.svg   vit_1_4.npy --origin lower --values --decimals 0
    y0="$(grep -o '<text x="[0-9.]*" y="[0-9.]*" dy="0.35em">0</text>' o3.svg | head -1 | sed 's/.* y="\([0-9.]*\)".*/\1/')"
    y1="$(grep -o '<text x="[0-9.]*" y="[0-9.]*" dy="0.35em">1</text>' o3.svg | head -1 | sed 's/.* y="\([0-9.]*\)".*/\1/')"
    if [ -n "$y0" ] && [ -n "$y1" ] && awk -v a="$y0" -v b="$y1" 'BEGIN { exit !(a > b) }' && grep -q 'row 0 at the bottom' o3.svg; then
        pass
    else
        fail "origin svg: row 0's tick ($y0) is not below row 1's ($y1)"
    fi
    ok "origin grid"            o4.svg   vit.npy --index :,4 --reshape 2,3 --origin lower
    bad "origin text"         2 "--origin is for heatmaps: html output shades the tokens" cross.npy -c cross_cols.txt --origin lower -o out/new.html
    bad "origin bars"         2 "--origin lower draws a heatmap's row 0 at the bottom: it is for svg and png heatmaps" vit_1_4.npy --bars --origin lower -o out/new.svg
    bad "origin value"        2 "--origin must be upper or lower, not 'bottom'" vit_1_4.npy --origin bottom -o out/new.svg
fi

# --- NumPy .npz archives (tests/fixtures/npz/, written by np.savez and np.savez_compressed) ----
npz="$src/tests/fixtures/npz"
mkdir -p npz_tmp
# Each archive's array draws the picture its np.save twin draws; the temporary files are gone.
TMPDIR="$work/npz_tmp" ok "npz one name"        z1.svg "$npz/savez.npz:w"
ok "npy twin"               z2.svg "$npz/w.npy"
if cmp -s z1.svg z2.svg; then pass; else fail "npz one name: not the picture of w.npy"; fi
ok "npz compressed"         z3.svg "$npz/compressed.npz:heads"
ok "npy twin, heads"        z4.svg "$npz/heads.npy"
if cmp -s z3.svg z4.svg; then pass; else fail "npz compressed: not the picture of heads.npy"; fi
ok "npz index"              z5.svg "$npz/compressed.npz:heads" --index 1
# The title names the archive's array as given, not attn-plot's temporary file.
if grep -q 'class="title"[^>]*>compressed.npz:heads\[1\]<' z5.svg; then pass; else fail "npz index: not titled compressed.npz:heads[1]"; fi
ok "npz index titled"       z8.svg "$npz/compressed.npz:heads" --index 1 -t heads
ok "npy index titled"       z6.svg "$npz/heads.npy" --index 1 -t heads
if cmp -s z8.svg z6.svg; then pass; else fail "npz index: not the picture of heads.npy --index 1"; fi
ok "npz only array"         z7.svg "$npz/zip64.npz"
if cmp -s z7.svg z2.svg; then pass; else fail "npz only array: zip64.npz's w is not the picture of w.npy"; fi
if [ -z "$(ls -A npz_tmp)" ]; then pass; else fail "npz: temporary files left: $(ls npz_tmp)"; fi
# Frames: every numbered array of the archive, in number order, its truth by name.
ok "npz frames"             z8.html --animate "$npz/frames.npz" --truth "$npz/frames.npz:truth"
ok "npy frames"             z9.html --animate "$npz/frames" --truth "$npz/frames.npz:truth"
if cmp -s z8.html z9.html && grep -q 'epoch 10' z8.html; then pass; else fail "npz frames: not the page of frames/*.npy"; fi
ok "npz view"               z10.html --view "$npz/savez.npz:w" "$npz/compressed.npz:w"
# --view of an archive of several arrays: each array a layer, in the order of the numbers in
# their names (np.savez(f, *layers): arr_0 ... arr_11; arr_10 is stored before arr_2 here).
for k in 0 1 2 10; do write_npy "layer$k.npy" '(2, 3, 3)' C '<f8' "$k + t[0]*0.1 + t[1]*0.01 + t[2]*0.001"; done
"$python" -c 'import zipfile, sys
z = zipfile.ZipFile("layers.npz", "w")
for k in (10, 0, 2, 1): z.write("layer%d.npy" % k, "arr_%d.npy" % k)'
ok "npz view layers"        z11.html --view layers.npz
ok "npy view layers"        z12.html --view layer0.npy layer1.npy layer2.npy layer10.npy
if cmp -s z11.html z12.html; then pass; else fail "npz view layers: not the page of the 4 files in numeric order"; fi
bad "npz many arrays"   2 "WEIGHTS '$npz/savez.npz' holds 7 arrays (w, fortran, heads, bias, half, mask, arr_0): name one as '$npz/savez.npz:w'" "$npz/savez.npz" -o out/new.svg
bad "npz no such name"  1 "'$npz/savez.npz': no array named 'wq'; the archive holds 'w', 'fortran'" "$npz/savez.npz:wq" -o out/new.svg
bad "npz truth"         2 "--truth '$npz/frames.npz' holds 4 arrays" "$npy/f8_c_3x4.npy" --truth "$npz/frames.npz" -o out/new.svg
bad "torch.save"        1 "WEIGHTS '$npz/torch_like.npz' is a torch.save file (a ZIP archive of pickles), not NumPy's .npz: save the tensor with np.save('w.npy', tensor.detach().cpu().numpy())" "$npz/torch_like.npz" -o out/new.svg
cp "$npz/torch_like.npz" torch_saved.npy
bad "torch.save as .npy" 1 "WEIGHTS 'torch_saved.npy' is a torch.save file" torch_saved.npy -o out/new.svg
cp "$npz/savez.npz" out/archive.svg
bad "npz is the output"  2 "-o 'out/archive.svg' is the WEIGHTS file 'out/archive.svg:w'" out/archive.svg:w -o out/archive.svg
if cmp -s out/archive.svg "$npz/savez.npz"; then pass; else fail "npz is the output: the archive was changed"; fi
rm -f out/archive.svg
if [ -n "$python" ]; then
    # Frames of one archive with one number: the message names both arrays.
    "$python" -c 'import sys, zipfile
w = open(sys.argv[1], "rb").read()
with zipfile.ZipFile("dup.npz", "w") as z:
    z.writestr("epoch_1.npy", w)
    z.writestr("epoch_01.npy", w)' "$npz/w.npy"
    bad "npz frames, one number" 2 "--animate: 'dup.npz:epoch_01' and 'dup.npz:epoch_1' have the same number 1" --animate dup.npz -o out/new.html
    # float16 maps are pooled too: the same picture as the float32 file of the same values.
    write_npy half.npy '(40, 30)' C '<f2' '(t[0] % 4) / 4 + (t[1] % 2) / 8'
    write_npy single.npy '(40, 30)' C '<f4' '(t[0] % 4) / 4 + (t[1] % 2) / 8'
    ok "pool float16"           n7.svg   half.npy --max-cells 100
    ok "pool float32"           n8.svg   single.npy --max-cells 100
    if grep -q 'pooled from 40×30' n7.svg && cmp -s n7.svg n8.svg; then pass; else fail "pool float16: not the float32 picture"; fi
fi
printf 'a b c d\n' >one_line.txt
bad "one line tokens"   1 "--cols 'one_line.txt' has 1 tokens but the weights have 4 columns (keys) (one token per line: its only line holds spaces" "$npy/f8_c_3x4.npy" -c one_line.txt -o out/new.svg

# Every malformed .npy of the corpus: status 1 with the reader's message.
while IFS=$'\t' read -r file text; do
    case "$file" in "#"*|"") continue ;; esac
    bad "npy $file" 1 "$text" "$npy/bad/$file" -o out/new.svg
done <"$npy/bad/MANIFEST.tsv"

# --- word alignments: Pharaoh, fairseq, Marian files; --gold -----------------------------------
al="$src/tests/fixtures/alignments"
# scores NAME EXPECTED ARGS...: the tool succeeds, its standard output has the line EXPECTED,
# and the SVG (a.svg) parses.
scores() {
    local name="$1" want="$2"
    shift 2
    rm -f a.svg
    if ! "$plot" "$@" -o a.svg >"$work/stdout" 2>"$work/err"; then fail "$name: exit status ($(cat "$work/err"))"; return; fi
    if ! grep -qxF -- "$want" "$work/stdout"; then fail "$name: no line '$want' in: $(cat "$work/stdout")"; return; fi
    if ! xmllint --noout a.svg 2>"$work/lint"; then fail "$name: xmllint: $(head -c 400 "$work/lint")"; return; fi
    pass
}
ok "pharaoh links alone"    al1.svg "$al/fast_align_readme.align" --sentence 2
ok "fairseq soft heatmap"   al2.svg "$al/fairseq_generate_soft.txt" -t 'soft <&>'
ok "marian soft heatmap"    al3.svg "$al/marian_soft.txt" --align-format marian
ok "marian hard links"      al4.svg "$al/marian_hard.txt" --row-title target --col-title source
printf '%s\n' new models are being tested . >tgt6.txt
printf '%s\n' neue Modelle werden erprobt . >src5.txt
# Marian's hard links join the two </s> (5-6): dropped by default, the words' labels fit.
ok "marian hard, words"     al4w.svg "$al/marian_hard.txt" -r tgt6.txt -c src5.txt
if [ "$(grep -c 'class="mark link"' al4w.svg)" -eq 6 ]; then pass; else fail "marian hard links: not 6 links without </s>"; fi
printf '%s\n' new models are being tested . '</s>' >tgt7.txt
printf '%s\n' neue Modelle werden erprobt . '</s>' >src6.txt
# Gold for the README's second sentence: werden-are/being sure, erprobt-being possible.
printf '0-0 1-1 2-2 2-3 3p3 3-4 4-5\n' >marian_gold.talp
# marian_soft.txt's last row and column are </s> (7x6 weights), dropped by default (--eos auto):
# the argmax links of the 6x5 rest are 0-0 1-1 2-2 3-3 3-4 4-5 (source-target): 5 of the 6 sure
# links, 3-3 possible: precision 6/6, recall 5/6, AER 1 - (5 + 6)/(6 + 6).
scores "marian soft vs gold" "sentence 0: precision 1.0000 recall 0.8333 AER 0.0833 (|A| 6, |S| 6, |P| 7, |A&S| 5, |A&P| 6)" \
    "$al/marian_soft.txt" --gold marian_gold.talp -r tgt6.txt -c src5.txt
# With --eos keep the </s> row joins in: its largest weight is the source </s>, 5-6, a false alarm
# against this gold: precision 6/7, recall 5/6, AER 1 - (5 + 6)/(7 + 6).
scores "marian soft, --eos keep" "sentence 0: precision 0.8571 recall 0.8333 AER 0.1538 (|A| 7, |S| 6, |P| 7, |A&S| 5, |A&P| 6)" \
    "$al/marian_soft.txt" --gold marian_gold.talp -r tgt7.txt -c src6.txt --eos keep
# Marian's hard form of the same output links the two </s> (5-6); dropped by default (--eos
# auto), it scores as the soft form does.
scores "marian hard vs gold" "sentence 0: precision 1.0000 recall 0.8333 AER 0.0833 (|A| 6, |S| 6, |P| 7, |A&S| 5, |A&P| 6)" \
    "$al/marian_hard.txt" --gold marian_gold.talp -r tgt6.txt -c src5.txt
# A gold standard that has </s> (5-6) scores the kept link as a hit.
printf '0-0 1-1 2-2 2-3 3p3 3-4 4-5 5-6\n' >marian_gold_eos.talp
scores "marian hard, --eos keep" "sentence 0: precision 1.0000 recall 0.8571 AER 0.0714 (|A| 7, |S| 7, |P| 8, |A&S| 6, |A&P| 7)" \
    "$al/marian_hard.txt" --gold marian_gold_eos.talp --eos keep
# Hand-computed (tests/test_alignment_formats.cpp): A = {0-0 1-1 0-2}, S = {0-0 2-2}, P = S + {1-1 2-1}
# (source-target): precision 2/3, recall 1/2, AER 1 - (1 + 2)/(3 + 2) = 0.4.
printf '0-0 1-1 0-2\n' >hyp.align
printf '0-0 2-2 1p1 2p1\n' >hyp_gold.talp
scores "pharaoh vs gold" "sentence 0: precision 0.6667 recall 0.5000 AER 0.4000 (|A| 3, |S| 2, |P| 4, |A&S| 1, |A&P| 2)" \
    hyp.align --gold hyp_gold.talp
# The same links written target-source: --link-order tgt-src reads both files that way.
printf '0-0 1-1 2-0\n' >hyp_ts.align
printf '0-0 2-2 1?1 1p2\n' >hyp_gold_ts.talp
scores "tgt-src order" "sentence 0: precision 0.6667 recall 0.5000 AER 0.4000 (|A| 3, |S| 2, |P| 4, |A&S| 1, |A&P| 2)" \
    hyp_ts.align --gold hyp_gold_ts.talp --link-order tgt-src
head -n 2 "$al/gold.talp" >gold2.talp
scores "fairseq corpus" "all 2 sentences: precision 1.0000 recall 1.0000 AER 0.0000 (|A| 13, |S| 12, |P| 14, |A&S| 12, |A&P| 13)" \
    "$al/fairseq_generate_hard.txt" --gold gold2.talp --sentence 1
scores "fairseq vs longer gold" "all sentences: not scored: '$al/fairseq_generate_hard.txt' against --gold '$al/gold.talp': attn::io::alignment_scores: no hypothesis for 2 of the 4 sentence pairs of the gold standard (the first: sentence 2)" \
    "$al/fairseq_generate_hard.txt" --gold "$al/gold.talp"
# fairseq's S- and H- lines label the picture when --cols / --rows do not: sentence 1's five
# source and six hypothesis tokens (not the T- reference's), also over the gold (line 2 of
# gold.talp: sure 0-0 1-1 2-3 3-4 4-5, possible 2p2 3p3; the six links hit 5 sure + 2-2 possible).
# texts FILE: the texts of FILE's <text> elements, one a line.
texts() { grep -o '<text[^>]*>[^<]*</text>' "$1" | sed -e 's/<text[^>]*>//' -e 's|</text>||'; }
has_texts() {  # has_texts NAME FILE TEXT...: each TEXT is one of FILE's texts
    local name="$1" file="$2" t
    shift 2
    for t in "$@"; do
        if ! texts "$file" | grep -qxF -- "$t"; then fail "$name: no text '$t' in $file: $(texts "$file" | tr '\n' '|')"; return; fi
    done
    pass
}
ok "fairseq tokens"         alt1.svg "$al/fairseq_generate_hard.txt" --sentence 1
has_texts "fairseq tokens, labels" alt1.svg neue Modelle werden erprobt . new models are being tested
scores "fairseq tokens, gold" "sentence 1: precision 1.0000 recall 1.0000 AER 0.0000 (|A| 6, |S| 5, |P| 7, |A&S| 5, |A&P| 6)" \
    "$al/fairseq_generate_hard.txt" --gold gold2.talp --sentence 1
has_texts "fairseq tokens, gold labels" a.svg erprobt tested
# Soft weights: their </s> row and column dropped (--eos auto), the three tokens fit; kept, the
# labels end in </s> (escaped).
ok "fairseq soft tokens"    alt2.svg "$al/fairseq_generate_soft.txt"
has_texts "fairseq soft tokens, labels" alt2.svg neue Modelle . new models
ok "fairseq soft, eos kept" alt3.svg "$al/fairseq_generate_soft.txt" --eos keep
if [ "$(texts alt3.svg | grep -cxF '&lt;/s&gt;')" -eq 2 ]; then pass; else fail "fairseq soft, eos kept: not two </s> labels: $(texts alt3.svg | tr '\n' '|')"; fi
# --cols wins over the S- line; the H- line still labels the rows.
ok "fairseq tokens, --cols" alt4.svg "$al/fairseq_generate_hard.txt" --sentence 1 -c src5.txt
has_texts "fairseq tokens, --cols labels" alt4.svg neue tested
# Tokens that do not fit the links (--remove-bpe words against subword links): a note, no labels.
printf 'S-0\tein Haus\nH-0\t-0.2\ta house is\nA-0\t0-0 1-1 2-2\n' >bpe.out
if "$plot" bpe.out -o alt5.svg 2>"$work/err" && xmllint --noout alt5.svg; then pass; else fail "fairseq tokens, no fit: exit status ($(cat "$work/err"))"; fi
if grep -qxF "attn-plot: note: the S- line's 2 source tokens of sentence 0 do not fit its source link indices (up to 2): drawn without them (--cols gives labels)" "$work/err"; then pass; else fail "fairseq tokens, no fit: note: $(cat "$work/err")"; fi
has_texts "fairseq tokens, no fit, rows" alt5.svg a house is
if texts alt5.svg | grep -qxF Haus; then fail "fairseq tokens, no fit: 'Haus' drawn"; else pass; fi
# Marian's translation labels the rows (no source in its output: the columns keep numbers);
# with --eos keep its hard links keep the </s> row, and the labels end in </s>.
ok "marian tokens"          alt6.svg "$al/marian_hard.txt"
has_texts "marian tokens, labels" alt6.svg new models are being tested . 0 4
ok "marian tokens, eos"     alt7.svg "$al/marian_hard.txt" --eos keep
has_texts "marian tokens, eos labels" alt7.svg tested '&lt;/s&gt;' 5
ok "marian soft tokens"     alt8.svg "$al/marian_soft.txt" --align-format marian
has_texts "marian soft tokens, labels" alt8.svg new tested
# Two records against a one-line gold: the corpus is not scored (it used to be left out unsaid).
head -n 1 "$al/gold.talp" >gold1.talp
scores "fairseq vs shorter gold" "all sentences: not scored: '$al/fairseq_generate_hard.txt' against --gold 'gold1.talp': attn::io::alignment_scores: the hypothesis on line 6 is of sentence 1, which the gold standard (1 sentence pair(s), numbered from 0) does not have" \
    "$al/fairseq_generate_hard.txt" --gold gold1.talp
scores "marian n-best" "sentence 0: precision 1.0000 recall 0.8333 AER 0.0833 (|A| 6, |S| 6, |P| 7, |A&S| 5, |A&P| 6)" \
    "$al/marian_nbest.txt" --gold marian_gold.talp --align-format marian
# Weights (.npy) against a gold standard: the hypothesis is each row's largest weight.
printf '0-0 1-1 2-2\n' >npy_gold.talp
ok "npy vs gold"            al5.svg "$npy/f8_c_3x4.npy" --gold npy_gold.talp -r rows3.txt -c cols4.txt --threshold 0.5
if "$plot" "$npy/f8_c_3x4.npy" --gold npy_gold.talp --format svg -o - 2>"$work/err" | xmllint --noout - && grep -q '^sentence 0: precision' "$work/err"; then
    pass
else
    fail "-o - with --gold: the scores go to standard error ($(cat "$work/err"))"
fi
printf '0-0\n3x\n' >badgold.talp
bad "gold bad token"    1 "--gold: attn::io::read_pharaoh: 'badgold.talp', line 2: token '3x' is not of the form i-j" hyp.align --gold badgold.talp -o out/new.svg
bad "gold sentence"     1 "--gold 'npy_gold.talp' has 1 sentence pairs (lines); --sentence 4 is not one of them" "$npy/f8_c_3x4.npy" --gold npy_gold.talp --sentence 4 -o out/new.svg
bad "no such sentence"  1 "has no alignment of sentence 7 (2 alignments read)" "$al/fairseq_generate_hard.txt" --sentence 7 -o out/new.svg
bad "gold too wide"     1 "sentence 0: attn::io::alignment_svg: gold.sure[2] (4, 2) is outside the 3x4 picture" "$npy/f8_c_3x4.npy" --gold "$al/gold.talp" -o out/new.svg
# A stray index makes no picture of a billion cells: --max-cells bounds hard links too.
printf '0-0 0-999999999\n' >stray.talp
bad "stray index"       1 "'stray.talp', sentence 0: its links reach target token 999999999 and source token 0, a picture of 1000000000x1 cells, more than --max-cells 4194304 (is a link index out of place?)" stray.talp --link-order src-tgt -o out/new.svg
bad "stray gold index"  1 "'hyp.align', sentence 0: its links reach target token" hyp.align --gold stray.talp -o out/new.svg
# fairseq output written without --print-alignment: said, not read as a Pharaoh file.
printf 'S-0\tDas ist gut\nH-0\t-0.3\tthis is good\nD-0\t-0.3\tthis is good\n' >no_align.out
bad "fairseq no A-"     1 "attn-plot: attn::io::read_fairseq_alignments: 'no_align.out' has a hypothesis (H- line) but no alignment (A- lines): fairseq-generate and fairseq-interactive write them with --print-alignment" no_align.out -o out/new.svg
printf 'A-0\t0-0 0.5,0.5\n' >mixed.out
bad "fairseq mixed"     1 "attn-plot: attn::io::read_fairseq_alignments: 'mixed.out', line 1: token '0.5,0.5' is not a link s-t like the first token '0-0'" mixed.out -o out/new.svg
bad "gold html"         2 "alignments (--gold, alignment files) are drawn as svg only" "$npy/f8_c_3x4.npy" --gold npy_gold.talp -c cols4.txt -o out/new.html
bad "gold and bars"     2 "do not apply to alignments" "$npy/f8_c_3x4.npy" --gold npy_gold.talp --bars -o out/new.svg
bad "link order"        2 "--link-order must be src-tgt or tgt-src, not 'st'" hyp.align --link-order st -o out/new.svg
bad "align format"      2 "--align-format must be auto, pharaoh, fairseq or marian, not 'giza'" hyp.align --align-format giza -o out/new.svg
bad "rows vs soft"      1 "--rows 'rows3.txt' has 3 tokens but the weights have 6 rows (target tokens)" "$al/marian_soft.txt" -r rows3.txt -o out/new.svg
# An alignment file's sentence is never padded: no padding hint.
case "$("$plot" "$al/marian_soft.txt" -r rows3.txt -o out/new.svg 2>&1)" in
    *"padded to"*) fail "rows vs soft: a padding hint for an alignment file" ;;
    *"has 3 tokens"*) pass ;;
    *) fail "rows vs soft: not the token count message" ;;
esac
bad "rows with </s>"    1 "--rows 'tgt7.txt' has 7 tokens but the weights have 6 rows (target tokens) (the end-of-sentence row and column were dropped: --eos keep keeps them)" "$al/marian_soft.txt" -r tgt7.txt -o out/new.svg
bad "cols without </s>" 1 "--cols 'src5.txt' has 5 tokens but the weights have 6 columns (source tokens) (--eos drop leaves out the last row and column, the </s> tokens)" "$al/marian_soft.txt" -c src5.txt --eos keep -o out/new.svg
bad "eos value"         2 "--eos must be auto, drop or keep, not 'yes'" "$al/marian_soft.txt" --eos yes -o out/new.svg
bad "eos of hard links" 2 "--eos is for soft alignments (weights) and Marian's hard links, but sentence 0 of '$al/fairseq_generate_hard.txt' (line 12) holds other hard links, which have no </s>" "$al/fairseq_generate_hard.txt" --eos drop -o out/new.svg
bad "threshold of hard links" 2 "--threshold makes links of weights, but sentence 0 of 'hyp.align' (line 1) holds hard links" hyp.align --threshold 0.3 -o out/new.svg
bad "threshold, no alignment" 2 "--threshold is for word alignments (--gold, or an alignment file as WEIGHTS), not for '$npy/f8_c_3x4.npy'" "$npy/f8_c_3x4.npy" --threshold 0.3 -o out/new.svg
bad "sentence, no alignment"  2 "--sentence is for word alignments" "$npy/f8_c_3x4.npy" --sentence 1 -o out/new.svg

# --- pooling of maps too large to hold (--pool, above --max-cells) ---------------------------------
pool_ref="${3:-}"
if [ -z "$pool_ref" ] || [ ! -x "$pool_ref" ]; then
    fail "pool: no POOL_REFERENCE helper (third argument: attn_plot_pool_reference)"
else
    # 3000 x 2000 float32 cells (24 MB), one hot cell of weight 1 at (1234, 567).
    "$pool_ref" write big.npy 3000 2000 1234 567
    # pooled_cells SVG: "i j value" of every cell's tooltip ("row i, column j: value").
    pooled_cells() { grep -o 'row [0-9]*, column [0-9]*: [^<]*' "$1" | sed 's/row \([0-9]*\), column \([0-9]*\): /\1 \2 /'; }
    # same_cells NAME GOT WANT: the same cells, values within 1e-5 relative (6 significant digits shown).
    same_cells() {
        local verdict
        verdict="$(awk 'NR == FNR { want[$1 " " $2] = $3; n++; next }
                        { k = $1 " " $2; seen++; if (!(k in want)) { print "extra cell " k; exit }
                          d = $3 - want[k]; if (d < 0) d = -d; t = 1e-5 * (want[k] < 0 ? -want[k] : want[k]) + 1e-9
                          if (d > t) { print "cell " k ": " $3 " != " want[k]; exit } }
                        END { if (seen != n) print seen " cells, expected " n }' "$3" "$2")"
        if [ -n "$verdict" ]; then fail "$1: $verdict"; else pass; fi
    }
    # --max-size 60: blocks of 50 x 34 cells, 60 x 59 pooled cells (few enough for one <rect> each).
    ok "pool mean" pool_mean.svg big.npy --pool mean --max-size 60
    pooled_cells pool_mean.svg >got_mean.txt
    "$pool_ref" expect mean 3000 2000 50 34 1234 567 >want_mean.txt
    same_cells "pool mean values" got_mean.txt want_mean.txt
    ok "pool max" pool_max.svg big.npy --pool max --max-size 60 -t "Hot cell"
    pooled_cells pool_max.svg >got_max.txt
    "$pool_ref" expect max 3000 2000 50 34 1234 567 >want_max.txt
    same_cells "pool max values" got_max.txt want_max.txt
    # Max pooling keeps the single hot cell at full weight (block 1234 / 50, 567 / 34); mean dilutes it.
    if grep -q '^24 16 1$' got_max.txt && ! grep -q '^24 16 1$' got_mean.txt; then pass; else
        fail "pool max: the hot cell is not 1 in block (24, 16) ($(grep '^24 16 ' got_max.txt got_mean.txt | tr '\n' ' '))"
    fi
    # The picture says so: in its title (the user's title first).
    if grep -q 'pooled from 3000×2000 to 60×59 (mean of 50×34 cells)' pool_mean.svg &&
       grep -q 'Hot cell — pooled from 3000×2000 to 60×59 (max of 50×34 cells)' pool_max.svg; then pass; else
        fail "pool: the title does not say the map was pooled ($(grep -o '<title>[^<]*pooled[^<]*' pool_mean.svg pool_max.svg | head -2 | tr '\n' ' '))"
    fi
    # Above --max-cells (default 4194304) a 2-D float .npy is pooled without --pool, to --max-size
    # 720 cells per axis: 600 x 667 (blocks of 5 x 3), drawn as one image.
    ok "pool automatic" pool_auto.svg big.npy
    if grep -q 'pooled from 3000×2000 to 600×667 (mean of 5×3 cells)' pool_auto.svg; then pass; else
        fail "pool automatic: no pooled title"
    fi
    # --mask causal hides the blocks whose every cell is hidden (first column past the block's last
    # row: J * 34 > min(50 (I + 1), 3000) - 1), in the file's coordinates, not the pooled grid's.
    ok "pool causal" pool_causal.svg big.npy --pool mean --max-size 60 --mask causal
    want_masked="$(awk 'BEGIN { n = 0; for (i = 0; i < 60; i++) { last = 50 * (i + 1); if (last > 3000) last = 3000
                                 for (j = 0; j < 59; j++) if (34 * j > last - 1) n++ }; print n }')"
    got_masked="$(grep -o 'row [0-9]*, column [0-9]*: masked' pool_causal.svg | wc -l)"
    if [ "$got_masked" -eq "$want_masked" ] && grep -q 'row 0, column 1: [0-9]' pool_causal.svg \
        && grep -q 'row 0, column 2: masked' pool_causal.svg; then pass; else
        fail "pool causal: $got_masked masked blocks, expected $want_masked"
    fi
    # causal-lower-right on the 3000x2000 map: row i sees keys j <= i - 1000.
    ok "pool causal lower right" pool_lr.svg big.npy --pool mean --max-size 60 --mask causal-lower-right
    want_masked="$(awk 'BEGIN { n = 0; for (i = 0; i < 60; i++) { last = 50 * (i + 1); if (last > 3000) last = 3000
                                 for (j = 0; j < 59; j++) if (34 * j > last - 1 - 1000) n++ }; print n }')"
    got_masked="$(grep -o 'row [0-9]*, column [0-9]*: masked' pool_lr.svg | wc -l)"
    if [ "$got_masked" -eq "$want_masked" ] && grep -q 'row 0, column 0: masked' pool_lr.svg; then pass; else
        fail "pool causal lower right: $got_masked masked blocks, expected $want_masked"
    fi
    bad "pool mask file" 2 "--mask takes 'causal' or 'causal-lower-right' for a pooled map, not a file" big.npy --pool mean --mask "$npy/f8_c_3x4.npy" -o out/new.svg
    # Fortran order is read in file order to the same pooled cells (--max-cells 4: 2 x 2 blocks).
    ok "pool fortran" pool_f.svg "$npy/f4_fortran_3x4.npy" --max-cells 4
    ok "pool c order" pool_c.svg "$npy/f4_c_3x4.npy" --max-cells 4
    pooled_cells pool_f.svg >got_f.txt
    pooled_cells pool_c.svg >got_c.txt
    if [ "$(wc -l <got_c.txt)" -eq 4 ] && cmp -s got_f.txt got_c.txt; then pass; else
        fail "pool fortran: $(tr '\n' ' ' <got_f.txt) vs C order $(tr '\n' ' ' <got_c.txt)"
    fi
    # A map with more rows or columns than --max-size pixels is pooled (mean) without --pool,
    # although it is below --max-cells: a browser scaling its image down would drop cells
    # (a new user's 2000x2000 map showed one of its four spikes). Not when the picture needs
    # every cell: labels, --raster never, png.
    "$pool_ref" write mid.npy 300 200 123 45
    ok "pool display" pool_display.svg mid.npy --max-size 60
    pooled_cells pool_display.svg >got_display.txt
    "$pool_ref" expect mean 300 200 5 4 123 45 >want_display.txt
    same_cells "pool display values" got_display.txt want_display.txt
    if grep -q 'pooled from 300×200 to 60×50 (mean of 5×4 cells)' pool_display.svg; then pass; else
        fail "pool display: no pooled title"
    fi
    # Its index ticks count the file's columns (0, 50, 100, 150 at 4 per cell, those that fit
    # apart in 60 px), not the pooled cells (0 to 49).
    ticks="$(sed -n '/<g class="col-ticks"/,/<\/g>/p' pool_display.svg | grep -o '>[0-9]*</text>' | tr -d '<>/text' | tr '\n' ' ')"
    if echo "$ticks" | grep -Eq '^0 ((50|100|150) )*$' && echo "$ticks" | grep -Eq '(100|150) $' \
        && grep -q '>column (4 per cell)<' pool_display.svg; then pass; else
        fail "pool display: column ticks '$ticks', not the file's columns (0, 50, 100, 150)"
    fi
    printf '%s\n' $(seq 1 200) >cols200.txt
    ok "pool display labels" pool_display_labels.svg mid.npy --max-size 60 --cols cols200.txt
    ok "pool display vector" pool_display_vector.svg mid.npy --max-size 60 --raster never --max-bytes 100000000
    if grep -q 'pooled' pool_display_labels.svg pool_display_vector.svg; then
        fail "pool display: a map with labels or --raster never was pooled"
    else
        pass
    fi
    # A small map is not pooled with --pool when it fits the display.
    ok "pool small" pool_small.svg "$npy/f8_c_3x4.npy" --pool max
    if grep -q 'pooled' pool_small.svg; then fail "pool small: a 3x4 map was pooled"; else pass; fi
    bad "pool how"      2 "--pool must be mean or max, not 'median'" big.npy --pool median -o out/new.svg
    # A pooled map has no token per row or column to label; --view draws every token: refused.
    printf '%s\n' $(seq 1 3000) >rows3000.txt
    bad "pool labels"   2 "'big.npy' is drawn pooled from 3000×2000 to 600×667 (mean of 5×3 cells): its blocks of 5x3 cells have no token each" big.npy --rows rows3000.txt -o out/new.svg
    bad "pool view big" 1 "'big.npy' holds a 3000x2000 map, more than --max-cells 4194304, and --view shows every token" --view big.npy -o out/new.html
    bad "pool int"      1 "pooling (--pool, above --max-cells) reads float16, float32 or float64 (<f2, <f4, <f8); save it as one, np.save(path, w.astype(np.float32)), or raise --max-cells" "$npy/i4_2x3.npy" --pool mean --max-size 16 --max-cells 4 -o out/new.svg
    head -c 100000 big.npy >cut.npy
    bad "pool truncated" 1 "truncated data: shape (3000, 2000) of '<f4' needs 24000000 bytes" cut.npy -o out/new.svg
fi

# --- png output (-o FILE.png, --format png): the cells of one map, decoded here --------------------
# png_pixels FILE X,Y...: checks the PNG's signature and every chunk's CRC (Python's zlib, not
# attn's code), then prints "WIDTH HEIGHT" and the "R G B" of each pixel asked for.
png_pixels() {
    "$python" - "$@" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "no PNG signature"
at, idat, ihdr = 8, b"", None
while at < len(data):
    n, kind = struct.unpack(">I4s", data[at:at + 8])
    body = data[at + 8:at + 8 + n]
    assert struct.unpack(">I", data[at + 8 + n:at + 12 + n])[0] == zlib.crc32(kind + body), "bad CRC"
    if kind == b"IHDR": ihdr = struct.unpack(">IIBBBBB", body)
    if kind == b"IDAT": idat += body
    at += 12 + n
w, h, depth, color = ihdr[:4]
assert (depth, color) == (8, 2), "not 8-bit RGB"
raw, rows, prev = zlib.decompress(idat), [], bytearray(3 * w)
for y in range(h):
    line = raw[y * (3 * w + 1):(y + 1) * (3 * w + 1)]
    f, cur = line[0], bytearray(line[1:])
    for i in range(3 * w):
        a = cur[i - 3] if i >= 3 else 0
        b, c = prev[i], prev[i - 3] if i >= 3 else 0
        p = a + b - c
        pred = [0, a, b, (a + b) // 2,
                a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else (b if abs(p - b) <= abs(p - c) else c)][f]
        cur[i] = (cur[i] + pred) & 255
    rows.append(cur)
    prev = cur
print(w, h)
for point in sys.argv[2:]:
    x, y = map(int, point.split(","))
    print(*rows[y][3 * x:3 * x + 3])
PY
}
if [ -z "$python" ]; then
    fail "png: python3 is not installed (it decodes the PNGs)"
else
    # expect_png NAME FILE "WANT" X,Y...: the decoded size and pixels are WANT (lines joined by "|").
    expect_png() {
        local name="$1" file="$2" want="$3"
        shift 3
        local got
        got="$(png_pixels "$file" "$@" 2>&1 | tr '\n' '|')"
        if [ "$got" = "$want|" ]; then pass; else fail "$name: got '$got', expected '$want|'"; fi
    }
    # viridis ends #440154 (68 1 84) and #fde725 (253 231 37); greys white to black; NaN #d9d9d9.
    # f8_c_3x4: -3 ... 2.5 by rows; automatic cells of 64 px (the longer side reaches 256).
    "$plot" "$npy/f8_c_3x4.npy" -o m.png 2>err.txt && [ ! -s err.txt ] && pass || fail "png: $(cat err.txt)"
    expect_png "png size and ends" m.png "256 192|68 1 84|253 231 37|253 231 37" 0,0 255,191 192,128
    # The same map in Fortran order and float32 gives the same bytes; so does standard output.
    "$plot" "$npy/f4_fortran_3x4.npy" -o mf.png && cmp -s m.png mf.png && pass || fail "png: Fortran float32 differs"
    "$plot" "$npy/f8_c_3x4.npy" --format png -o - >stdout.png && cmp -s m.png stdout.png && pass ||
        fail "png: -o - --format png differs from the file"
    # --cell 3 with a scale of 0..1: row 1 is -1 -0.5 0 0.5 (low, low, low, the middle); row 2 high.
    "$plot" "$npy/f8_c_3x4.npy" --cell 3 --vmin 0 --vmax 1 -o c.png && pass || fail "png --cell"
    expect_png "png --cell --vmin --vmax" c.png "12 9|68 1 84|68 1 84|253 231 37|253 231 37" 0,0 7,4 0,6 11,8
    "$plot" "$npy/f8_c_3x4.npy" --cell 1 --colormap greys -o g.png && pass || fail "png greys"
    expect_png "png greys" g.png "4 3|255 255 255|0 0 0" 0,0 3,2
    "$plot" "$npy/f8_c_3x4.npy" --cell 1 --reverse -o r.png && pass || fail "png reverse"
    expect_png "png reverse" r.png "4 3|253 231 37|68 1 84" 0,0 3,2
    # f8_specials_8 (1-D): NaN grey, +inf the high end, -inf the low end, on the finite values' scale.
    "$plot" "$npy/f8_specials_8.npy" --cell 2 -o s.png && pass || fail "png specials"
    expect_png "png specials" s.png "16 2|217 217 217|253 231 37|68 1 84|253 231 37" 0,0 2,1 4,0 10,1
    # A map above --max-cells is pooled (mean) to --max-size cells per axis; standard error says so.
    if [ -n "${pool_ref:-}" ] && [ -x "$pool_ref" ] && [ -f big.npy ]; then
        if "$plot" big.npy -o big.png 2>err.txt &&
           [ "$(cat err.txt)" = "attn-plot: note: 'big.npy' is drawn pooled from 3000×2000 to 600×667 (mean of 5×3 cells)" ]; then
            pass
        else
            fail "png pooled: $(cat err.txt)"
        fi
        expect_png "png pooled size" big.png "667 600"
    fi
    bad "png stack"     1 "'$npy/f8_c_2x3x4.npy' is 3-D (2 maps): a PNG holds one map; draw the grid as svg (-o FILE.svg), or pick one map with --index 0 (the first)" "$npy/f8_c_2x3x4.npy" -o out/new.png
    bad "png stack index" 1 "'view4d.npy' is 3-D (3 maps): a PNG holds one map; draw the grid as svg (-o FILE.svg), or pick one map with --index 1,0 (the first)" view4d.npy --index 1 -o out/new.png
    bad "png empty"     1 "is a 0x3 map: a PNG needs at least one row and one column" "$npy/f8_empty_0x3.npy" -o out/new.png
    bad "png rows"      2 "--rows is not for png output: a PNG holds the map's cells alone" "$npy/f8_c_3x4.npy" -r rows.txt -o out/new.png
    bad "png title"     2 "--title is not for png output" "$npy/f8_c_3x4.npy" -t T --format png -o out/new.svg
    bad "png truth"     2 "--truth is not for png output" "$npy/f8_c_3x4.npy" --truth "$npy/f8_c_3x4.npy" -o out/new.png
    bad "png bytes"     1 "a 3x4 map at 64 px per cell is 256x192 px, 147456 bytes of pixels before compression, more than --max-bytes 1000" "$npy/f8_c_3x4.npy" --max-bytes 1000 -o out/new.png
    bad "png cell"      2 "--cell needs an integer in [1, 64], not '0'" "$npy/f8_c_3x4.npy" --cell 0 -o out/new.png
    bad "cell svg"      2 "--cell is for --animate and png output" "$npy/f8_c_3x4.npy" --cell 4 -o out/new.svg
    bad "png animate"   2 "--animate writes an HTML page or an svg grid, not png" --animate "$npy/f8_c_3x4.npy" -o out/new.png
    bad "png view"      2 "--view writes an HTML page: name the output .html, not 'out/new.png'" --view "$npy/f8_c_3x4.npy" -o out/new.png
    bad "view svg name" 2 "--view writes an HTML page: name the output .html, not 'out/new.svg'" --view "$npy/f8_c_3x4.npy" -o out/new.svg
    bad "png view -f"   2 "--view writes an HTML page, not png" --view "$npy/f8_c_3x4.npy" -f png -o out/new.html
    bad "png gold"      2 "--gold is not for png output" "$npy/f8_c_3x4.npy" --gold gold.talp -o out/new.png
    bad "png alignment" 2 "alignments (--gold, alignment files) are drawn as svg only" "$al/marian_soft.txt" -o out/new.png
    bad "png format"    2 "--format must be svg, html or png, not 'jpg'" "$npy/f8_c_3x4.npy" -f jpg -o out/new.png
    bad "jpg extension" 2 "use .svg, .html or .png, or --format" "$npy/f8_c_3x4.npy" -o out/new.jpg
fi

echo "attn-plot: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
