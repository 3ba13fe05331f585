#!/usr/bin/env bash
# fulcrum tune: quick mode against the exhaustive sweep on the same grid (docs/TUNE.md,
# docs/PERFORMANCE.md "tune"). The grid is tune's default for the demo fraud classifier on this
# machine (7 batch sizes x 4 queue delays x instances x threads up to the cores; 100 distinct
# configurations on 2 cores, more on more), under a p99 SLO. Prints the trials each mode used
# (re-measurements of the best few included) and the gap between quick's recommendation and the
# exhaustive best: as each sweep measured them (minutes apart, so machine drift is in it), and
# the figure to quote: both configurations measured again in turns in the same minutes (A, B, A,
# B, A, B with the same trial length: `fulcrum tune --compare`), the ratio of their medians.
#   TRIAL_SECONDS=4 SLO_MS=10 ROUNDS=3 bash bench/tune.sh
# A smoke run on a small grid (not the goal's 100 configurations):
#   TRIAL_SECONDS=0.8 TUNE_FLAGS="--max-batch-sizes 8,64 --intra-op-threads 1,2 --instance-counts 1" bash bench/tune.sh
# Results: bench/results/tune-<time>/{quick,exhaustive}/ (results.json, report.html, ...).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TRIAL_SECONDS=${TRIAL_SECONDS:-4}
SLO_MS=${SLO_MS:-10}
MODEL=${MODEL:-fraud_classifier}
REPO=${REPO:-demo/models}
CONCURRENCY=${CONCURRENCY:-1:64:x4}
COST=${COST:-0.10}
ROUNDS=${ROUNDS:-3}
TUNE_FLAGS=${TUNE_FLAGS:-}
FULCRUM=${FULCRUM:-./fulcrum}
OUT="bench/results/tune-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

run() { # $1: quick|exhaustive, then extra flags
  local mode=$1; shift
  local start; start=$(date +%s)
  $FULCRUM tune --model-repository "$REPO" --model "$MODEL" --slo-p99-ms "$SLO_MS" \
    --cost-per-hour "$COST" --trial-seconds "$TRIAL_SECONDS" --concurrency "$CONCURRENCY" \
    --output "$OUT/$mode" $TUNE_FLAGS "$@" > "$OUT/$mode.out" 2> "$OUT/$mode.log" || true
  echo "$mode: $(( $(date +%s) - start )) s" >> "$OUT/times.txt"
}

run quick
run exhaustive --exhaustive
# The verdict: both recommendations again, in turns, in the same minutes.
if [ -f "$OUT/quick/recommended.yaml" ] && [ -f "$OUT/exhaustive/recommended.yaml" ]; then
  run compare --compare "$OUT/quick/recommended.yaml" \
    --compare "$OUT/exhaustive/recommended.yaml" --rounds "$ROUNDS"
fi
cat "$OUT/times.txt"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
q = json.load(open(f"{out}/quick/results.json"))
e = json.load(open(f"{out}/exhaustive/results.json"))
def chosen(r):
    return None if r["chosen"] is None else r["trials"][r["chosen"]]
qc, ec = chosen(q), chosen(e)
def each(t):
    return " / ".join(f"{m['throughput_per_second']:.0f}" + ("" if m["feasible"] else "x")
                      for m in t["measurements"])
print(f"grid: {e['grid_size']} configurations; SLO p99 <= {e['constraints']['slo_p99_ms']} ms")
print(f"quick: {q['trials_run']} trials ({100 * q['trials_run'] / q['grid_size']:.1f} % of the grid,"
      f" re-measurements included), {q['configurations_measured']} configurations")
print(f"exhaustive: {e['trials_run']} trials")
if qc is None or ec is None:
    print("no recommendation from", "quick" if qc is None else "exhaustive"); sys.exit(1)
print(f"exhaustive best: {ec['label']}: {ec['throughput_per_second']:.0f}/s (median of {each(ec)}),"
      f" p99 {ec['p99_ms']:.2f} ms")
print(f"quick's choice:  {qc['label']}: {qc['throughput_per_second']:.0f}/s as quick measured it"
      f" (median of {each(qc)}) "
      f"(gap {100 * (1 - qc['throughput_per_second'] / ec['throughput_per_second']):+.1f} %)")
same = [t for t in e["trials"] if t["label"] == qc["label"]][0]
value = same["throughput_per_second"] if same["feasible"] else 0
print(f"  the same configuration in the exhaustive sweep: {same['throughput_per_second']:.0f}/s"
      f"{'' if same['feasible'] else ' (missed the SLO there)'} "
      f"(gap {100 * (1 - value / ec['throughput_per_second']):+.1f} %)")
try:
    c = json.load(open(f"{out}/compare/compare.json"))
except FileNotFoundError:
    print("no comparison in turns (see compare.log)"); sys.exit(1)
qa, ea = c["configurations"]
def ms(a):
    return " / ".join(f"{m['throughput_per_second']:.0f}" + ("" if m["feasible"] else "x")
                      for m in a["measurements"])
print(f"in turns, {c['rounds']} rounds of {c['trial_seconds']} s trials (A,B,A,B..), same minutes:")
print(f"  quick's choice  {qa['label']}: {qa['throughput_per_second']:.0f}/s ({ms(qa)})")
print(f"  exhaustive best {ea['label']}: {ea['throughput_per_second']:.0f}/s ({ms(ea)})")
if ea["throughput_per_second"] > 0:
    r = qa["throughput_per_second"] / ea["throughput_per_second"]
    print(f"VERDICT: quick / exhaustive = {r:.3f} (gap {100 * (1 - r):+.1f} %; goal: gap <= 5 %,"
          f" trials <= 15 %: {100 * q['trials_run'] / q['grid_size']:.1f} %)")
else:
    print("VERDICT: none: the exhaustive best missed the constraints in most of its measurements"
          " in turns (x: a measurement that missed them); the machine was not quiet enough")
    sys.exit(1)
PY
