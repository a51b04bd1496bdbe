# SPDX-License-Identifier: MIT
# Shared by the browser tests (tests/browser/*_pixels.sh ATTN_PLOT [WORK_DIR]; source it with
# `here` set to this directory): sets `plot` and `work` (WORK_DIR, or a temporary directory) from
# the script's arguments, finds chromium and python3 (exit 1 without them), and defines
# screenshot, svg_size, run_check (which counts `failures`) and finish.

plot="${1:?usage: $(basename "$0") ATTN_PLOT [WORK_DIR]}"
work="${2:-$(mktemp -d "${TMPDIR:-/tmp}/attn_browser.XXXXXX")}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"

chromium=""
for candidate in chromium chromium-browser google-chrome; do
    if command -v "$candidate" >/dev/null 2>&1; then chromium="$candidate"; break; fi
done
if [ -z "$chromium" ]; then
    echo "FAIL: chromium is not installed (Debian: apt-get install chromium); scripts/test.sh installs it" >&2
    exit 1
fi
# Debian's interpreter (scripts/test.sh installs it) before the python3 that PATH finds first: a
# version manager's shim (pyenv) takes about 0.6 s to start Python, /usr/bin/python3 0.05 s.
if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python="$(command -v python3 || true)"; fi
if [ -z "$python" ]; then
    echo "FAIL: python3 is not installed" >&2
    exit 1
fi

# screenshot FILE WIDTH HEIGHT OUT: renders FILE at 1 px per unit, top-left at (0, 0).
screenshot() {
    local profile
    profile="$(mktemp -d "$work/profile.XXXXXX")"
    local status=0
    timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-quic --no-first-run --disable-component-update --disable-sync --disable-dev-shm-usage \
        --disable-extensions --hide-scrollbars --force-device-scale-factor=1 --user-data-dir="$profile" \
        --window-size="$2,$3" --screenshot="$4" "file://$1" >"$work/chromium.log" 2>&1 || status=$?
    rm -rf "$profile"
    if [ "$status" -ne 0 ] || [ ! -s "$4" ]; then
        echo "FAIL: chromium could not render $1 (exit $status):" >&2
        tail -n 20 "$work/chromium.log" >&2
        exit 1
    fi
}

svg_size() {  # prints "WIDTH HEIGHT" of an SVG's root element, rounded up
    "$python" - "$1" <<'EOF'
import math, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
print(math.ceil(float(root.get("width"))), math.ceil(float(root.get("height"))))
EOF
}

failures=0
run_check() {
    if "$python" "$here/png_pixels.py" "$@"; then
        echo "ok"
    else
        echo "FAIL: png_pixels.py $*" >&2
        failures=$((failures + 1))
    fi
}


# finish [KEEP]: exits 1 when a check failed (the files stay in $work), else removes $work
# unless KEEP (the caller's WORK_DIR argument) is given.
finish() {
    if [ "$failures" -ne 0 ]; then
        echo "browser test: $failures check(s) failed; files in $work" >&2
        exit 1
    fi
    echo "browser test: all checks passed"
    if [ -z "${1:-}" ]; then rm -rf "$work"; fi
}
