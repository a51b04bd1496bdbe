#!/usr/bin/env bash
# Builds every libFuzzer target fuzz/<target>_fuzzer.cpp (clang++ -fsanitize=fuzzer,address,
# undefined, -O1, one compile each) and runs them, sharing a time budget; fails on any crash,
# sanitizer report, leak, timeout or allocation above the memory limit. Builds and runs go
# ATTN_FUZZ_JOBS at a time (default: the number of cores): each target still fuzzes for its
# share of SECONDS on a core of its own, so two cores halve the wall time, not the fuzzing.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#       SECONDS  fuzzing time (default 60), split evenly among the targets (at least 1 s each)
#       TARGET   npy, csv, attn_plot, writers (default: every fuzz/*_fuzzer.cpp)
#   env: ATTN_FUZZ_BUILD_DIR (default build-fuzz), CXX_FUZZ (default: the first clang++ found),
#        EIGEN3_INCLUDE_DIR (default /usr/include/eigen3), ATTN_FUZZ_JOBS (default nproc)
#
# Prints "fuzz <target>: N executions, 0 crashes" per target. Seeds: fuzz/corpus/<target>/
# (committed, small), plus tests/fixtures/npy/ and tests/fixtures/npy/bad/ for npy; new inputs go
# to $ATTN_FUZZ_BUILD_DIR/corpus/<target>/, never into the committed seed directories. A
# dictionary fuzz/<target>.dict is used when it exists. Needs Debian's clang and
# libclang-rt-14-dev.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"

seconds="${1:-60}"
shift || true
build="${ATTN_FUZZ_BUILD_DIR:-build-fuzz}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac  # absolute: attn_plot changes directory
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

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    for source in fuzz/*_fuzzer.cpp; do
        name="$(basename "$source" .cpp)"
        targets+=("${name%_fuzzer}")
    done
fi
count="${#targets[@]}"
each=$(( seconds / count ))
[ "$each" -ge 1 ] || each=1

jobs="${ATTN_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}"
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
# in_parallel FUNCTION ARG...: runs FUNCTION ARG for each ARG, $jobs at a time; returns 1 when
# any of them failed (after all have finished).
in_parallel() {
    local fn="$1" status=0 pid
    shift
    local pids=()
    for arg in "$@"; do
        "$fn" "$arg" &
        pids+=("$!")
        if [ "${#pids[@]}" -ge "$jobs" ]; then
            wait "${pids[0]}" || status=1
            pids=("${pids[@]:1}")
        fi
    done
    for pid in "${pids[@]}"; do wait "$pid" || status=1; done
    return "$status"
}

mkdir -p "$build"
for target in "${targets[@]}"; do
    [ -f "fuzz/${target}_fuzzer.cpp" ] || { echo "fuzz: no target '$target' (fuzz/${target}_fuzzer.cpp)" >&2; exit 1; }
done
build_target() {
    local target="$1" source="fuzz/$1_fuzzer.cpp" binary="$build/$1_fuzzer"
    # Rebuilt only when the target or a header it may include changed.
    if [ ! -x "$binary" ] || [ -n "$(find "$source" fuzz/*.hpp include tools/attn_plot.cpp -newer "$binary" -print -quit)" ]; then
        echo "fuzz: building $binary with $cxx"
        # -g1: line tables are all a crash report needs (15 % less compile time than -g).
        "$cxx" -std=c++17 -g1 -O1 -fno-omit-frame-pointer \
            -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
            -Iinclude -isystem "$eigen_dir" \
            "$source" -o "$binary.tmp" && mv "$binary.tmp" "$binary"
    fi
}
in_parallel build_target "${targets[@]}" || { echo "fuzz: a target did not build" >&2; exit 1; }

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
run_target() {
    local target="$1"
    local corpus="$build/corpus/$target" artifacts="$build/artifacts/$target" log="$build/$target.log"
    rm -rf "$artifacts"
    mkdir -p "$corpus" "$artifacts"
    local seeds=("$root/fuzz/corpus/$target")
    if [ "$target" = npy ]; then seeds+=("$root/tests/fixtures/npy" "$root/tests/fixtures/npy/bad" "$root/tests/fixtures/npz"); fi
    local extra=()
    if [ -f "fuzz/$target.dict" ]; then extra+=("-dict=$root/fuzz/$target.dict"); fi
    local status=0
    "$build/${target}_fuzzer" \
        -max_total_time="$each" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -max_len=16384 -print_final_stats=1 "${extra[@]}" \
        -artifact_prefix="$artifacts/" \
        "$corpus" "${seeds[@]}" >"$log" 2>&1 || status=$?
    local runs crashes
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    crashes="$(find "$artifacts" -type f | wc -l)"
    if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ] || [ -z "$runs" ]; then
        tail -n 60 "$log" >&2
        echo "fuzz $target: FAILED (exit $status, $crashes artifact(s) in $artifacts; log $log)" >&2
        return 1
    fi
    echo "fuzz $target: $runs executions, 0 crashes (${each}s; corpus: $(find "$corpus" -type f | wc -l) new inputs)"
}
failed=0
in_parallel run_target "${targets[@]}" || failed=1
exit "$failed"
