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
