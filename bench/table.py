#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Markdown tables for docs/08-performance.md from Google Benchmark JSON (attn's bench/ executables).

Usage: bench/table.py attention.json [decode.json sinks.json ...]

Reads the median rows (run with --benchmark_repetitions=N --benchmark_report_aggregates_only=true
--benchmark_out=FILE --benchmark_out_format=json). Each table compares the variants of one
benchmark family side by side, as measured in one run: attn's time, naive Eigen's time and the
GEMM-only bound where there is one; `attn ÷ GEMM` is attn's time over the bound's (1.00 would be
the products alone), `naive ÷ attn` the speed-up over naive Eigen; `extra` gives the spread
(coefficient of variation over the repetitions, attn / naive) where the run has it. When the
run has the machine's multiply-add peak (peak/fma/threads:N), the attention tables also give
attn's and the bound's GFLOP/s and their share of the peak at the row's thread count.
"""
import json
import sys
from collections import defaultdict


def medians(path):
    with open(path) as f:
        data = json.load(f)
    rows = {}
    spread = {}
    for b in data["benchmarks"]:
        name = b.get("run_name", b["name"]).replace("/real_time", "")
        if b.get("aggregate_name") == "cv":
            spread[name] = b["real_time"]  # coefficient of variation over the repetitions
        if b.get("aggregate_name", "median") != "median":
            continue
        rows[name] = b
    for name, b in rows.items():
        if name in spread:
            b["cv"] = spread[name]
    return data.get("context", {}), rows


def ms(b):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
    return b["real_time"] * scale


def counter(b, name):
    return f"{b[name]:.1f}" if b and name in b and b[name] >= 0 else ""


def sinks_table(rows):
    """bench_sinks.cpp: long/*, out/* and mhsink/* side by side (median real time, ms)."""
    by = defaultdict(dict)  # (family, T) -> {variant: row}
    for name, b in rows.items():
        parts = name.split("/")
        t = next((p for p in parts if p.startswith("T:")), "")
        by[(parts[0], t)][parts[1]] = b
    out = []
    headed = set()
    order = {"long": 0, "out": 1, "mhsink": 2}
    for (family, t), v in sorted(by.items(), key=lambda kv: (order[kv[0][0]], int(kv[0][1][2:] or 0))):
        if family == "long":
            a, g = v.get("colsum"), v.get("gemm")
            out.append("\n**single head d=64, 1 thread: ColumnSums sink vs the two products alone (block by block)**\n")
            out.append("| case | ColumnSums ms | GEMM-only ms | ÷ GEMM | CPU ÷ GEMM CPU | peak above inputs MiB | GEMM-only peak above inputs MiB | inputs MiB |")
            out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
            ratio = f"{ms(a) / ms(g):.2f}" if a and g else ""
            cpu = f"{a['cpu_time'] / g['cpu_time']:.2f}" if a and g else ""
            out.append(f"| {t} | {ms(a):.4g} | {ms(g):.4g} | {ratio} | {cpu} | {counter(a, 'peak_above_inputs_MiB')} | "
                       f"{counter(g, 'peak_above_inputs_MiB')} | {counter(a, 'inputs_MiB')} |")
        elif family == "out":
            n, g, f, c = v.get("none"), v.get("gemm"), v.get("full"), v.get("causal")
            if family not in headed:
                headed.add(family)
                out.append("\n**single head d=64, 1 thread: output only (no_weights) vs GEMM-only writing T×T scores vs full weights; "
                           "output only under Mask::causal()**\n")
                out.append("| case | output only ms | GEMM-only ms | full weights ms | GEMM ÷ output only | full ÷ output only | "
                           "causal output only ms | causal ÷ output only |")
                out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
            rg = f"{ms(g) / ms(n):.2f}" if n and g else ""
            rf = f"{ms(f) / ms(n):.2f}" if n and f else ""
            rc = f"{ms(c) / ms(n):.2f}" if n and c else ""
            causal = f"{ms(c):.4g}" if c else ""
            out.append(f"| {t} | {ms(n):.4g} | {ms(g):.4g} | {ms(f):.4g} | {rg} | {rf} | {causal} | {rc} |")
        elif family == "mhsink":
            m, n = v.get("mean"), v.get("none")
            ref = m or n
            out.append("\n**multi-head h=8 D=512, 1 thread: HeadSinks::reduce(mean) and output only**\n")
            out.append("| case | mean sink ms | output only ms | peak above inputs MiB: mean | output only | one T×T map MiB | "
                       "(mean peak + inputs) ÷ (map + inputs) | full per-head sink MiB (h maps, from sizes) |")
            out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
            ratio = ""
            if m and m.get("peak_above_inputs_MiB", -1) >= 0:
                ratio = f"{(m['peak_above_inputs_MiB'] + m['inputs_MiB']) / (m['map_MiB'] + m['inputs_MiB']):.2f}"
            out.append(f"| {t} | {ms(m):.4g} | {ms(n):.4g} | {counter(m, 'peak_above_inputs_MiB')} | "
                       f"{counter(n, 'peak_above_inputs_MiB')} | {counter(ref, 'map_MiB')} | {ratio} | "
                       f"{counter(ref, 'full_sink_MiB')} |")
    return "\n".join(out)


def table(rows):
    if rows and all(name.split("/")[0] in ("long", "out", "mhsink") for name in rows):
        return sinks_table(rows)
    # The machine's multiply-add peak per thread count (peak/fma/threads:N, bench_attention.cpp).
    peak = {}
    for name, b in rows.items():
        if name.startswith("peak/fma/threads:") and "GFLOP/s" in b:
            peak[name.rsplit(":", 1)[1]] = b["GFLOP/s"]
    # family/variant/args -> {variant: row}; e.g. "sdpa/attn/T:1024/threads:1".
    families = defaultdict(lambda: defaultdict(dict))
    for name, b in rows.items():
        parts = name.split("/")
        if parts[0] == "peak":
            continue
        family, variant, args = parts[0] + ("/" + parts[1] if parts[0] == "decode" else ""), None, None
        if parts[0] == "decode":  # decode/<step>/<variant>[/args]: multi-head rows have args
            variant, args = parts[2], "/".join(parts[3:])
        else:
            variant, args = parts[1], "/".join(parts[2:])
        families[family][args][variant] = b
    out = []
    if peak:
        out.append("\n**the machine's float multiply-add peak (register-only loop)**\n")
        out.append("| threads | GFLOP/s |")
        out.append("|---:|---:|")
        for threads, gflops in sorted(peak.items(), key=lambda kv: int(kv[0])):
            out.append(f"| {threads} | {gflops:.1f} |")

    def of_peak(b, args):
        # "GFLOP/s (% of the peak at this row's thread count)", where both are known.
        threads = next((p.split(":")[1] for p in args.split("/") if p.startswith("threads:")), "1")
        if not b or "GFLOP/s" not in b:
            return ""
        if threads not in peak:
            return f"{b['GFLOP/s']:.1f}"
        return f"{b['GFLOP/s']:.1f} ({100 * b['GFLOP/s'] / peak[threads]:.0f} %)"

    for family, by_args in families.items():
        rated = peak and any("GFLOP/s" in b for v in by_args.values() for b in v.values())
        out.append(f"\n**{family}**\n")
        if rated:
            out.append("| case | attn ms | naive ms | GEMM-only ms | attn ÷ GEMM | naive ÷ attn | "
                       "attn GFLOP/s (% of peak) | GEMM-only GFLOP/s (% of peak) | extra |")
            out.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        else:
            out.append("| case | attn ms | naive ms | GEMM-only ms | attn ÷ GEMM | naive ÷ attn | extra |")
            out.append("|---|---:|---:|---:|---:|---:|---|")
        for args, v in by_args.items():
            a, n, g = v.get("attn"), v.get("naive"), v.get("gemm")
            cell = lambda b: f"{ms(b):.4g}" if b else ""
            ratio_g = f"{ms(a) / ms(g):.2f}" if a and g else ""
            ratio_n = f"{ms(n) / ms(a):.2f}×" if a and n else ""
            extra = ""
            if a and "peak_MiB" in a and len(rows) == 1:  # a memory run: this benchmark alone
                extra = f"weights {a['weights_MiB']:.0f} MiB, peak RSS {a['peak_MiB']:.0f} MiB"
            elif a and n and "cv" in a and "cv" in n:  # spread over the repetitions
                extra = f"cv {100 * a['cv']:.0f} % / {100 * n['cv']:.0f} %"
            torch = [f"{k} {ms(v[k]):.4g} ms" for k in ("torch", "torch_ops", "torch_module") if k in v]
            if torch:  # the LibTorch benchmarks' rows (attn_bench_*_torch), merged by main()
                extra = ", ".join(torch)
                if a and "torch" in v:
                    extra += f" (LibTorch ÷ attn {ms(v['torch']) / ms(a):.2f})"
            rates = f" {of_peak(a, args)} | {of_peak(g, args)} |" if rated else ""
            out.append(f"| {args or family} | {cell(a)} | {cell(n)} | {cell(g)} | {ratio_g} | {ratio_n} |{rates} {extra} |")
    return "\n".join(out)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    # A LibTorch file (x_torch.json) given with its attn file (x.json) is merged into that file's
    # tables, its rows beside attn's; alone, it makes its own.
    runs = [(path, *medians(path)) for path in sys.argv[1:]]
    paths = [path for path, _, _ in runs]
    for path, context, rows in runs:
        partner = path.replace("_torch.json", ".json")
        if path.endswith("_torch.json") and partner in paths:
            continue
        for other, other_context, other_rows in runs:
            if other != path and other.endswith("_torch.json") and other.replace("_torch.json", ".json") == path:
                rows = {**rows, **other_rows}
                print(f"<!-- {other}: {other_context.get('date', '')}, merged below -->")
        print(f"<!-- {path}: {context.get('date', '')}, {context.get('num_cpus', '?')} CPUs, "
              f"{context.get('mhz_per_cpu', '?')} MHz -->")
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
