#!/usr/bin/env bash
# Build attn and run every test: a Release build (unit, compile, documentation snippet, example,
# consumer, tool and browser tests), an ASan+UBSan build running the unit, example and tool
# tests again with float products on oneDNN, the bounded libFuzzer runs and the API reference
# (Doxygen, warnings are errors). Prints the wall time of each phase at the end (also when a
# phase fails), so regressions show.
#
#   bash scripts/test.sh            everything (what .ci/run calls)
#   ATTN_FUZZ_SECONDS=N             fuzzing budget in seconds (default 60)
#   ATTN_SANITIZE_CXX=COMPILER      compiler of the sanitizer build (default clang++)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/deps.sh
source scripts/deps.sh

jobs="$(nproc 2>/dev/null || echo 2)"
section() { printf '\n==== %s ====\n' "$*"; }

# phase NAME COMMAND...: runs COMMAND under a section heading and records its wall time.
phase_names=()
phase_times=()
started="$EPOCHREALTIME"
phase() {
    local name="$1" t0="$EPOCHREALTIME"
    shift
    section "$name"
    "$@"
    phase_names+=("$name")
    phase_times+=("$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')")
}
summary() {
    local status=$? i
    section "wall time per phase"
    for i in "${!phase_names[@]}"; do
        printf '%8s s  %s\n' "${phase_times[$i]}" "${phase_names[$i]}"
    done
    printf '%8s s  total%s\n' "$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" \
        "$([ "$status" -eq 0 ] || echo " (FAILED, exit $status)")"
}
trap summary EXIT

# libxml2-utils: xmllint for the SVG/HTML well-formedness tests; chromium + python3: the
# browser pixel test; clang + libclang-rt-14-dev + libomp-dev: the sanitizer build and the
# libFuzzer runs (fuzz/run.sh); doxygen: the API reference; protobuf-compiler: protoc
# --decode_raw for the TensorBoard format test (tool.tensorboard_protoc).
# libdnnl-dev: the unit tests on the oneDNN product backend (build-asan/); ocl-icd-opencl-dev: the
# OpenCL that Debian's oneDNN CMake package requires (only a Recommends of libdnnl-dev).
# g++-multilib, g++-mingw-w64-x86-64-posix and -win32: compile.platforms.* (32-bit x86, Windows).
phase "dependencies" attn_deps libxml2-utils chromium python3 clang libclang-rt-14-dev libomp-dev doxygen \
    protobuf-compiler libdnnl-dev ocl-icd-opencl-dev g++-multilib g++-mingw-w64-x86-64-posix \
    g++-mingw-w64-x86-64-win32
# npm (with Debian's nodejs) and playwright-core, pinned in tests/browser/package-lock.json, for
# the browser interaction tests (browser.* CTests driven by tests/browser/*.test.mjs).
phase "dependencies (npm: playwright-core)" attn_npm_deps tests/browser

# Release at -O2 (as Debian builds its packages; CMake's Release default is -O3): the tests run
# optimised, vectorised code, and GCC compiles the test groups in about 0.73 of the -O3 time
# (measured: 55 against 75 CPU seconds for the keras group). The benchmarks
# (scripts/bench.sh) build at -O3 -march=native in their own tree.
phase "configure build/ (Release, -O2)" \
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
        -DATTN_BUILD_TESTS=ON -DATTN_BUILD_EXAMPLES=ON -DATTN_SANITIZE=OFF
phase "build build/" cmake --build build -j"$jobs"
phase "test build/" ctest --test-dir build --output-on-failure -j"$jobs"

# The sanitizer build uses Clang (ATTN_SANITIZE_CXX to change it) at -O0 -g1: Clang builds the
# suite with sanitizers in a quarter of GCC -O1's time (measured: 2 min against 25), its
# UBSan also checks pointer arithmetic, which GCC's does not, and the suite then runs under a
# second compiler. -g1: line tables are all a sanitizer report needs.
# It is also the oneDNN build (-DATTN_USE_DNNL=ON, docs/08 "Product backends"): the unit tests
# run there with attn's float products on oneDNN, while build/ runs them on attn's own products
# (what a default build uses). attn's own gemm is still checked under the sanitizers in float
# and double (tests/test_gemm.cpp calls it directly), and every double product stays on it.
# A third build for oneDNN took about 4 of this command's minutes (build 162 to 173 s, tests
# 63 to 67 s on the 2-core machine).
phase "configure build-asan/ (Clang, -O0, ASan + UBSan, oneDNN products)" \
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g1 -O0" \
        -DCMAKE_CXX_COMPILER="${ATTN_SANITIZE_CXX:-clang++}" \
        -DATTN_BUILD_TESTS=ON -DATTN_BUILD_EXAMPLES=ON -DATTN_SANITIZE=ON -DATTN_USE_DNNL=ON
phase "build build-asan/" cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS="${ASAN_OPTIONS:-strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
# Compile, consumer and browser tests check the build and the pictures, not memory: Release
# runs them. OMP_NUM_THREADS=1: oneDNN's own threads (Debian's oneDNN uses GCC's OpenMP, which
# attn's Clang OpenMP tests cannot set) would otherwise spin beside the two tests CTest runs at
# once; the OpenMP tests set their thread counts themselves.
phase "test build-asan/ (unit, example and tool tests)" \
    env OMP_NUM_THREADS=1 ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE 'consumer|compile|browser'

phase "fuzz (libFuzzer + ASan + UBSan, ${ATTN_FUZZ_SECONDS:-60} s)" bash fuzz/run.sh "${ATTN_FUZZ_SECONDS:-60}"

phase "API reference (Doxygen, a warning is an error)" bash scripts/docs.sh build/docs

section "all tests passed"
