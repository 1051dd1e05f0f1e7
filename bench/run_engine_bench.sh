#!/usr/bin/env bash
# Engine throughput beside the Node reference, in one run, on the peers corpus.
#   bench/run_engine_bench.sh [BUILD_DIR]      env: REPS=3 PEERS=../shared/peers
# Alternates REPS runs of the Node reference (node_decide.js) and of bench_engine, then prints
# the medians and ratios as a Markdown table. Uses one core each at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REPS=${REPS:-3}
PEERS=${PEERS:-../shared/peers}
BENCH=$BUILD/bench/bench_engine
[ -x "$BENCH" ] || { echo "build $BENCH first (cmake --build $BUILD --target bench_engine)" >&2; exit 2; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
node "$PEERS/gen_corpus.js" --out "$OUT" >/dev/null

for r in $(seq "$REPS"); do
  WARM_MS=500 RUN_MS=1500 ROUNDS=3 node "$PEERS/node_decide.js" "$OUT/corpus.jsonl" "$OUT/policy.json" \
    >"$OUT/node.$r.txt"
  WARM_MS=500 RUN_MS=1500 ROUNDS=3 node bench/node_audit_decide.js "$PEERS" "$OUT/corpus.jsonl" \
    "$OUT/policy.json" >>"$OUT/node.$r.txt"
  "$BENCH" --corpus "$OUT" --benchmark_format=json --benchmark_min_time=1.5 >"$OUT/cpp.$r.json" 2>/dev/null
done

python3 - "$OUT" "$REPS" <<'PY'
import json, re, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
node = {k: [] for k in ("node_e2e_decisions_per_s", "node_preparsed_decisions_per_s",
                        "node_preparsed_audit_decisions_per_s", "node_parse_only_per_s")}
cpp = {k: [] for k in ("e2e", "preparsed", "e2e_lua", "parse_only_owned_task",
                       "preparsed_no_exclusions")}
allocs = {k: [] for k in cpp}
for r in range(1, reps + 1):
    for line in open(f"{out}/node.{r}.txt"):
        m = re.match(r"(\w+)=(\d+)", line)
        if m and m.group(1) in node:
            node[m.group(1)].append(float(m.group(2)))
    for b in json.load(open(f"{out}/cpp.{r}.json"))["benchmarks"]:
        name = b["name"].split("/")[0]
        if name in cpp:
            cpp[name].append(b["items_per_second"])
            allocs[name].append(b.get("allocs_per_decision", float("nan")))
med = lambda v: statistics.median(v) if v else float("nan")
rows = [
    ("JSON text in -> decision JSON out", "e2e", "node_e2e_decisions_per_s", 3.0),
    ("pre-parsed task -> decision", "preparsed", "node_preparsed_decisions_per_s", 2.0),
    ("pre-parsed, Node also building the audit record (like for like)", "preparsed",
     "node_preparsed_audit_decisions_per_s", None),
    ("pre-parsed under a policy that excludes nothing: the audit record alone (vs Node's whole decision)",
     "preparsed_no_exclusions", "node_preparsed_decisions_per_s", None),
    ("e2e + a typical Lua rule (vs Node e2e without it)", "e2e_lua", "node_e2e_decisions_per_s", 2.0),
    ("parse only (owned task / JSON.parse)", "parse_only_owned_task", "node_parse_only_per_s", None),
]
print(f"runs: {reps} alternating; each figure is the median over runs (Node: of its rounds' medians)")
print("per run: recrules' rate over Node's in the same run (minutes apart at most), which cancels")
print("much of what a busy neighbour does to both; the median and the range over the runs\n")
print("| measure | recrules (decisions/s) | Node reference | ratio of medians | ratio per run: median (range) | target | allocations per decision |")
print("|---|---|---|---|---|---|---|")
for label, c, n, target in rows:
    a, b = med(cpp[c]), med(node[n])
    per_run = [x / y for x, y in zip(cpp[c], node[n])]
    t = f"{target:.0f}x" if target else "-"
    print(f"| {label} | {a/1e3:,.0f} k ({1e9/a:,.0f} ns) | {b/1e3:,.0f} k ({1e9/b:,.0f} ns) | {a/b:.2f}x "
          f"| {med(per_run):.2f}x ({min(per_run):.2f}-{max(per_run):.2f}) | {t} | {med(allocs[c]):.2f} |")
print()
print("raw recrules:", {k: [round(x) for x in v] for k, v in cpp.items()})
print("raw node:", {k: [round(x) for x in v] for k, v in node.items()})
PY
