# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/demo.sh: attn_deps installs, with apt-get, the
# Debian packages the build needs (plus any named as arguments) that are not installed yet.

attn_deps() {
    local packages=(cmake g++ libeigen3-dev catch2 "$@")
    if ! command -v dpkg >/dev/null 2>&1; then
        echo "deps: no dpkg here; assuming ${packages[*]} are installed" >&2
        return 0
    fi

    local missing=() pkg
    for pkg in "${packages[@]}"; do
        if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "deps: all present (${packages[*]})"
        return 0
    fi

    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "deps: missing ${missing[*]}, and not root and no sudo to install them" >&2
            return 1
        fi
    fi
    echo "deps: installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# attn_npm_deps DIR: installs node and npm if missing (Debian's npm package), then the npm
# packages pinned in DIR/package-lock.json into DIR/node_modules (npm ci), unless they are
# there already at the pinned versions. No browser is downloaded: the tests use Debian's Chromium.
attn_npm_deps() {
    local dir="$1"
    if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
        attn_deps npm
    fi
    if [ -f "$dir/node_modules/.package-lock.json" ] &&
        cmp -s <(grep -v '"name"' "$dir/package-lock.json" | sed -n '/"node_modules\//,$p') \
               <(grep -v '"name"' "$dir/node_modules/.package-lock.json" | sed -n '/"node_modules\//,$p'); then
        echo "deps: npm packages of $dir present"
        return 0
    fi
    echo "deps: npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund
}
