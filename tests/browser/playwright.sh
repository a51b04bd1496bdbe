#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# playwright.sh TEST.mjs [ARGS...]: runs one Playwright test (tests/browser/*.test.mjs) with
# node, after checking that node and playwright-core (npm ci --prefix tests/browser, which
# scripts/test.sh runs) are there, so that a missing tool is a clear failure, not a stack trace.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v node >/dev/null 2>&1; then
    echo "FAIL: node is not installed (Debian: apt-get install npm); scripts/test.sh installs it" >&2
    exit 1
fi
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
    echo "FAIL: playwright-core is missing: run 'npm ci --prefix tests/browser' (scripts/test.sh does)" >&2
    exit 1
fi
exec node "$@"
