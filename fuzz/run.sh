#!/usr/bin/env bash
# Builds the libFuzzer target for the .npy reader (clang++ -fsanitize=fuzzer,address,undefined)
# and runs it for a bounded time; fails on any crash, sanitizer report, leak, timeout or
# allocation above the memory limit.
#
#   fuzz/run.sh [SECONDS]        default 60; env ATTN_FUZZ_BUILD_DIR (default build-fuzz),
#                                CXX_FUZZ (default: the first clang++ found), ATTN_FUZZ_JOBS
#
# Seeds: fuzz/corpus/ (tiny hostile files), tests/fixtures/npy/ (files written by NumPy) and
# tests/fixtures/npy/bad/ (the malformed corpus); new inputs go to $ATTN_FUZZ_BUILD_DIR/corpus,
# never into the committed seed directories. Needs Debian's clang and libclang-rt-14-dev.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-60}"
build="${ATTN_FUZZ_BUILD_DIR:-build-fuzz}"
cxx="${CXX_FUZZ:-}"
if [ -z "$cxx" ]; then
    for candidate in clang++ clang++-18 clang++-17 clang++-16 clang++-15 clang++-14; do
        if command -v "$candidate" >/dev/null 2>&1; then cxx="$candidate"; break; fi
    done
fi
if [ -z "$cxx" ]; then
    echo "fuzz: no clang++ found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
fi
eigen_dir="${EIGEN3_INCLUDE_DIR:-/usr/include/eigen3}"

mkdir -p "$build/corpus" "$build/artifacts"
echo "fuzz: building $build/npy_fuzzer with $cxx"
"$cxx" -std=c++17 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Iinclude -isystem "$eigen_dir" \
    fuzz/npy_fuzzer.cpp -o "$build/npy_fuzzer"

log="$build/fuzz.log"
echo "fuzz: running for ${seconds}s (log: $log)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
"$build/npy_fuzzer" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -max_len=16384 -dict=fuzz/npy.dict -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/" \
    "$build/corpus" fuzz/corpus tests/fixtures/npy tests/fixtures/npy/bad >"$log" 2>&1 || status=$?

runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
crashes="$(find "$build/artifacts" -type f | wc -l)"
if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "fuzz: FAILED (exit $status, $crashes artifact(s) in $build/artifacts)" >&2
    exit 1
fi
echo "fuzz: ${runs:-?} executions in ${seconds}s, 0 crashes (corpus: $(find "$build/corpus" -type f | wc -l) new inputs)"
