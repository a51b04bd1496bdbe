#!/usr/bin/env bash
# Build and run attn's benchmarks (Google Benchmark), then print the performance tables of docs/08-performance.md.
#   bash scripts/bench.sh          attn's own products (Eigen's where attn has none), -O3 -march=native -fopenmp
#   bash scripts/bench.sh --blas   the same with EIGEN_USE_BLAS and OpenBLAS (AVX-512 kernels
#                                  with OPENBLAS_CORETYPE=SkylakeX where the CPU has AVX-512,
#                                  one OpenBLAS thread)
#   bash scripts/bench.sh --dnnl   the same with ATTN_USE_DNNL: attn's float products, and the
#                                  GEMM-only bound rows, on oneDNN (Debian libdnnl-dev)
#   bash scripts/bench.sh --all    the three, one after the other (about 3 times as long)
# Writes bench-<variant>/{attention,decode,sinks}.json in the repository root (ignored by git), and
# decode_torch.json and attention_torch.json when the LibTorch benchmarks were built (CMake found
# LibTorch).
# attn_bench_sinks (weight sinks: T = 32768 column sums, output only, multi-head mean over heads)
# adds about 3 minutes at 5 repetitions; its memory counters reset the process's peak per case.
# attn_bench_attention also measures the float multiply-add peak (peak/fma, 1 and 2 threads):
# the tables give each row's GFLOP/s as a share of it.
# Timings are only comparable within one run: every table row compares attn, naive Eigen and
# the GEMM-only bound measured side by side. Run it on an otherwise idle machine.
#   ATTN_BENCH_REPETITIONS=N       repetitions of each case (default 5; medians are reported)
#   ATTN_BENCH_FILTER=REGEX        run only the cases REGEX matches (Google Benchmark's
#                                  --benchmark_filter, e.g. 'out/' or 'sdpa/(attn|gemm)')
# To run a benchmark by hand after this script has built it:
#   ./build-bench-eigen/bench/attn_bench_sinks --benchmark_filter='out/' --benchmark_repetitions=5
# (a tree of your own: -DATTN_BUILD_BENCHMARKS=ON -DATTN_BENCH_NATIVE=ON for -march=native.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
fi
# shellcheck source=scripts/deps.sh
source scripts/deps.sh

case "${1:-}" in
    "" | --dnnl | --blas) ;;
    --all)  # every backend in turn, each in its own build tree and JSON directory
        bash scripts/bench.sh
        bash scripts/bench.sh --dnnl
        bash scripts/bench.sh --blas
        exit 0
        ;;
    *)
        echo "scripts/bench.sh: unknown argument '$1' (none, --dnnl, --blas, --all or --help)" >&2
        exit 2
        ;;
esac

variant=eigen
blas=OFF
dnnl=OFF
extra=()
if [ "${1:-}" = "--dnnl" ]; then
    variant=dnnl
    dnnl=ON
    extra=(libdnnl-dev ocl-icd-opencl-dev)
elif [ "${1:-}" = "--blas" ]; then
    variant=blas
    blas=ON
    extra=(libopenblas-dev)
    # OpenBLAS 0.3.21 runs its Haswell (AVX2) kernels on AVX-512 AMD cores unless told (and
    # this workplace's environment presets OPENBLAS_CORETYPE=Haswell): on a CPU with AVX-512,
    # ask for SkylakeX. Its own threads would fight attn's OpenMP threads in the multi-head rows.
    if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
        export OPENBLAS_CORETYPE=SkylakeX
    fi
    export OPENBLAS_NUM_THREADS=1
fi
repetitions="${ATTN_BENCH_REPETITIONS:-5}"
dir="bench-$variant"
section() { printf '\n==== %s ====\n' "$*"; }

section "dependencies"
attn_deps libbenchmark-dev python3 "${extra[@]}"

section "configure build-$dir (Release, -march=native, ATTN_USE_BLAS=$blas, ATTN_USE_DNNL=$dnnl)"
cmake -S . -B "build-$dir" -DCMAKE_BUILD_TYPE=Release -DATTN_BUILD_TESTS=OFF -DATTN_BUILD_EXAMPLES=OFF \
    -DATTN_INSTALL=OFF -DATTN_BUILD_BENCHMARKS=ON -DATTN_BENCH_NATIVE=ON -DATTN_USE_BLAS="$blas" \
    -DATTN_USE_DNNL="$dnnl"
cmake --build "build-$dir" -j"$(nproc 2>/dev/null || echo 2)"

mkdir -p "$dir"
for name in attention decode sinks; do
    section "attn_bench_$name ($repetitions repetitions, medians)"
    "./build-$dir/bench/attn_bench_$name" --benchmark_repetitions="$repetitions" \
        --benchmark_filter="${ATTN_BENCH_FILTER:-.}" --benchmark_report_aggregates_only=true --benchmark_out="$dir/$name.json" --benchmark_out_format=json
done
if [ -n "${ATTN_BENCH_FILTER:-}" ]; then
    # A program none of whose cases match says so and goes on; the tables need a whole run.
    echo "ATTN_BENCH_FILTER: the cases above, in $dir/*.json; the tables need a whole run (unset it)"
    exit 0
fi
# LibTorch's decoder steps and MultiheadAttention (bench/torch_*.cpp), built only when CMake
# found LibTorch.
torch_json=()
for name in decode attention; do
    if [ -x "./build-$dir/bench/attn_bench_${name}_torch" ]; then
        section "attn_bench_${name}_torch ($repetitions repetitions, medians)"
        "./build-$dir/bench/attn_bench_${name}_torch" --benchmark_repetitions="$repetitions" \
            --benchmark_report_aggregates_only=true --benchmark_out="$dir/${name}_torch.json" --benchmark_out_format=json
        torch_json+=("$dir/${name}_torch.json")
    fi
done
# The multi-head memory row: T = 2048 alone in its process, so that the peak is this call's.
section "memory: multi-head T = 2048, 1 thread, alone"
"./build-$dir/bench/attn_bench_attention" --benchmark_filter='mha/attn/T:2048/threads:1/' \
    --benchmark_out="$dir/memory.json" --benchmark_out_format=json

section "tables"
python3 bench/table.py "$dir/attention.json" "$dir/decode.json" "${torch_json[@]}" "$dir/memory.json" "$dir/sinks.json"
