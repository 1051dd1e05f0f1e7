#!/usr/bin/env python3
"""Plots bench_scale's Google Benchmark JSON as docs/scale.png and prints the table of medians.

    python3 bench/plot_scale.py SCALE_JSON OUT_PNG

SCALE_JSON is the output of `bench_scale --benchmark_format=json --benchmark_repetitions=N
--benchmark_report_aggregates_only=true` (bench/run_scale_bench.sh). Benchmark names are
FAMILY/SERIES/X; the figure has one panel per family, ns per decision (median CPU time per
iteration) against X, both axes logarithmic. Drawn with gnuplot (scripts/install-deps.sh --bench).
"""
import json
import subprocess
import sys

PANELS = [
    ("exclusions", "Built-in exclusions", "number of exclusions in the policy"),
    ("lua_rules", "Lua rules (each reads 3 attributes, passes)", "number of Lua rules"),
    ("task_size", "Task size", "task JSON size (KB)"),
]
SERIES_TITLES = {
    "queues_nomatch": "queues, no match",
    "queues_match": "queues, last entry matches",
    "attributes_nomatch": "attributes on 5 keys, no match",
    "attributes_match": "attributes on 5 keys, last matches",
    "attribute_paths_nomatch": "attributes, N distinct keys, no match",
    "pass": "builtin:exclusions + N Lua rules",
    "builtin": "built-in rules (10+10 exclusions)",
    "builtin_and_1_lua": "built-ins + 1 Lua rule",
}


COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]


def load(path):
    doc = json.load(open(path))
    # (family, series) -> {x: {"median": ns, "cv": fraction, "bytes": task bytes}}
    data = {}
    for b in doc["benchmarks"]:
        if b.get("run_type") != "aggregate":
            continue
        agg = b["aggregate_name"]
        if agg not in ("median", "cv"):
            continue
        family, series, x = b["run_name"].split("/")
        assert b["time_unit"] == "ns", b["time_unit"]
        point = data.setdefault((family, series), {}).setdefault(int(x), {})
        if agg == "median":
            point["median"] = b["cpu_time"]
            point["bytes"] = b.get("task_bytes", 0.0)
        else:
            point["cv"] = b["cpu_time"]  # the cv aggregate is a fraction
    return doc.get("context", {}), data


def x_value(family, x, point):
    # Task sizes are plotted at the size the tasks really have, not the size asked for.
    return point["bytes"] / 1024 if family == "task_size" else x


def table(context, data):
    lines = []
    load_avg = context.get("load_avg")
    if load_avg:
        lines.append("load average when the run started (benchmark context): " + " ".join(f"{v:.2f}" for v in load_avg))
    lines.append(f"{context.get('num_cpus', '?')} CPUs, {context.get('date', '')}")
    for family, title, xlabel in PANELS:
        series = [(s, pts) for (f, s), pts in data.items() if f == family]
        if not series:
            continue
        xs = sorted({x for _, pts in series for x in pts})
        unit = " KB" if family == "task_size" else ""
        lines.append("")
        lines.append(f"{title}: ns per decision (median; coefficient of variation)")
        lines.append("")
        lines.append("| series | " + " | ".join(f"{x}{unit}" for x in xs) + " |")
        lines.append("|---|" + "---|" * len(xs))
        for s, pts in series:
            cells = []
            for x in xs:
                p = pts.get(x)
                cells.append(f"{p['median']:,.0f} ({p.get('cv', 0) * 100:.0f} %)".replace(",", " ")
                             if p else "-")
            lines.append(f"| {SERIES_TITLES.get(s, s)} | " + " | ".join(cells) + " |")
        if family == "task_size":
            sizes = {x: p["bytes"] for _, pts in series for x, p in pts.items()}
            lines.append("")
            lines.append("actual task sizes: " +
                         ", ".join(f"{x} KB -> {sizes[x]:,.0f} B".replace(",", " ") for x in xs))
    return "\n".join(lines)


def gnuplot_script(context, data, out_png):
    g = [
        f"set terminal pngcairo size 1650,560 font 'sans,10'",
        f"set output '{out_png}'",
        "set logscale xy",
        "set grid xtics ytics mxtics mytics lc rgb '#dddddd'",
        "set key top left box opaque font ',9'",
        "set ylabel 'ns per decision (median CPU time)'",
        "set format y '%g'",
        # Labels at 1, 2 and 5 of each decade: log axes with decade labels only are hard to read.
        "set ytics add (" + ", ".join(str(m * 10**e) for e in range(2, 8) for m in (2, 5)) + ")",
        "set format x '%g'",
        "set pointsize 1.2",
    ]
    load_avg = context.get("load_avg")
    note = f" (load average {load_avg[0]:.1f})" if load_avg else ""
    g.append(f"set multiplot layout 1,3 title 'recrules: cost of one decision, JSON text in -> "
             f"decision JSON out, one thread{note}' font ',12'")
    for family, title, xlabel in PANELS:
        series = [(s, pts) for (f, s), pts in data.items() if f == family]  # benchmark order
        if not series:
            continue
        g.append(f"set title '{title}'")
        g.append(f"set xlabel '{xlabel}'")
        g.append("set xtics (1, 2, 4, 8, 16, 32, 64)" if family == "task_size" else "set xtics auto")
        ys = [p["median"] for _, pts in series for p in pts.values()]
        g.append(f"set yrange [{min(ys) / 1.6}:{max(ys) * 2.2}]")
        xs = [x_value(family, x, p) for _, pts in series for x, p in pts.items()]
        g.append(f"set xrange [{min(xs) / 1.5}:{max(xs) * 1.5}]")
        plots = []
        for k, (s, pts) in enumerate(series):
            block = f"${family}_{k}"
            g.append(f"{block} << EOD")
            for x in sorted(pts):
                g.append(f"{x_value(family, x, pts[x])} {pts[x]['median']}")
            g.append("EOD")
            plots.append(f"{block} using 1:2 with linespoints lw 2 pt {5 + k} "
                         f"lc rgb '{COLORS[k % len(COLORS)]}' "
                         f"title '{SERIES_TITLES.get(s, s)}'")
        g.append("plot " + ", ".join(plots))
    g.append("unset multiplot")
    return "\n".join(g) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot_scale.py SCALE_JSON OUT_PNG")
    context, data = load(sys.argv[1])
    if not data:
        sys.exit("plot_scale.py: no median aggregates in " + sys.argv[1] +
                 " (run with --benchmark_repetitions and --benchmark_report_aggregates_only)")
    subprocess.run(["gnuplot"], input=gnuplot_script(context, data, sys.argv[2]), text=True,
                   check=True)
    print(table(context, data))
    print(f"\nwrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
