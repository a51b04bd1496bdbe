#!/usr/bin/env bash
# Build attn and run every test: a Release build (unit, compile, example and consumer
# tests), then an ASan+UBSan build running the unit, compile and example tests again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/deps.sh
source scripts/deps.sh

jobs="$(nproc 2>/dev/null || echo 2)"
section() { printf '\n==== %s ====\n' "$*"; }

section "dependencies"
# libxml2-utils: xmllint for the SVG/HTML well-formedness tests; chromium + python3: the
# browser pixel test; clang + libclang-rt-14-dev: the libFuzzer run (fuzz/run.sh).
attn_deps libxml2-utils chromium python3 clang libclang-rt-14-dev

section "configure build/ (Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
    -DATTN_BUILD_TESTS=ON -DATTN_BUILD_EXAMPLES=ON -DATTN_SANITIZE=OFF

section "build build/"
cmake --build build -j"$jobs"

section "test build/"
ctest --test-dir build --output-on-failure -j"$jobs"

section "configure build-asan/ (Debug -O1, ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
    -DATTN_BUILD_TESTS=ON -DATTN_BUILD_EXAMPLES=ON -DATTN_SANITIZE=ON

section "build build-asan/"
cmake --build build-asan -j"$jobs"

section "test build-asan/ (without consumer, clang compile and browser tests)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE 'consumer|clang|browser'

section "fuzz the .npy reader (libFuzzer + ASan + UBSan, ${ATTN_FUZZ_SECONDS:-60} s)"
bash fuzz/run.sh "${ATTN_FUZZ_SECONDS:-60}"

section "all tests passed"
