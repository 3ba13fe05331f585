#!/usr/bin/env bash
# The SLO policy against the best static batcher, measured in interleaved pairs (issue #10;
# docs/PERFORMANCE.md, "Latency objectives", session 13). One run of bench/slo.sh cannot tell the
# two apart on a busy 2-core machine that also runs the client (session 12: the same policy
# measured 0.46x, 0.68x and 1.00x the static within one hour, as the machine's capacity moved
# 720 -> 1,043/s between runs). Here both servers are up side by side (same model files, same
# instances and threads; only the batching differs), and in every round:
#   1. capacity: the static server's closed loop (64 connections, CAP_SECS s), measured again in
#      each round, so each round's rates follow the machine as it is in that round
#   2. for each fraction F in FRACTIONS: Poisson windows of WINDOW s at F x that capacity in the
#      order static, policy, policy, static (A,B,B,A: a drift within the round cancels in the pair)
#      and one window of GET /v2/health/live at the same rate (the client's own bound: no model,
#      no batching; if it misses the SLO the rate says nothing about the servers)
# Per window: fraction within the SLO (refusals, errors, unanswered are misses), refused, ok p99,
# answered-within-SLO rate (goodput), late sends. At the end, per fraction: the medians over the
# rounds of each arm, the per-round ratio policy/static of goodput (each round's two windows of an
# arm averaged first), and the highest fraction at which each arm's median meets 99.9 %.
#   MODEL=minilm STATIC=16:5000 FRACTIONS="0.8 0.9" ROUNDS=3 WINDOW=8 PORT=29000 bash bench/slo_pairs.sh
#   MODEL=fraud  STATIC=64:2000 FRACTIONS="0.1 0.2 0.8" ROUNDS=3 WINDOW=6 PORT=29000 bash bench/slo_pairs.sh
# Ports: PORT..PORT+2 static, PORT_B..PORT_B+2 policy (PORT_B: PORT+100 unless set).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
MODEL=${MODEL:-minilm}
case $MODEL in
  fraud) NAME=fraud_classifier; SLO=10; STATIC=${STATIC:-64:2000} ;;
  minilm) NAME=all_minilm_l6_v2; SLO=100; STATIC=${STATIC:-16:5000} ;;
  *) echo "MODEL is fraud or minilm"; exit 2 ;;
esac
FRACTIONS=${FRACTIONS:-"0.8 0.9"}
ROUNDS=${ROUNDS:-3}
WINDOW=${WINDOW:-8}        # measured seconds per window (after WARM s of warm-up)
WARM=${WARM:-1}            # unmeasured seconds at the window's rate before it
CAP_SECS=${CAP_SECS:-4}
JIT_SECS=${JIT_SECS:-8}    # closed-loop warm-up of each server, not measured
CONNS=${CONNS:-512}
PORT=${PORT:-29000}
PORT_B=${PORT_B:-$((PORT + 100))}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
CP=${FULCRUM_CP:-fulcrum-tools/target/dist/lib/*}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-slo-pairs-$MODEL"
mkdir -p "$OUT"
LOAD="$OUT/openloop"
bench_openloop "$LOAD"
if [ "$MODEL" = fraud ]; then
  cp "$BENCH_FRAUD_BODY" "$OUT/body"
else
  cp "$BENCH_MINILM_BODY" "$OUT/body"
fi
pids=()
SERVER=
trap 'for p in "${pids[@]}" $SERVER; do kill "$p" 2>/dev/null || true; done' EXIT
serve() { # arm extra-config-yaml port: a server on a copy of the one model, as bench/slo.sh's
  PORT=$3 bench_serve_model "$NAME" "$OUT/repo-$1" "$2" "$OUT/server-$1.log" --cost-per-hour 1
  pids+=("$SERVER")
}
A=$PORT; B=$PORT_B
serve static "max-batch-size: ${STATIC%%:*}
dynamic-batching: {max-queue-delay-microseconds: ${STATIC##*:}}" "$A"
serve slo "slo: {latency-ms: $SLO}" "$B"
for p in "$A" "$B"; do
  "$LOAD" --url "http://127.0.0.1:$p/v2/models/$NAME/infer" --body "$OUT/body" --closed \
    --connections 64 --duration "$JIT_SECS" >/dev/null 2>>"$OUT/openloop.log"
done
window() { # out port rate seed [path]: one open-loop window
  local url="http://127.0.0.1:$2${5:-/v2/models/$NAME/infer}" body=()
  [ -z "${5:-}" ] && body=(--body "$OUT/body")
  "$LOAD" --url "$url" "${body[@]}" --rate "$3" --duration $((WINDOW + WARM)) --warmup "$WARM" \
    --slo-ms "$SLO" --connections "$CONNS" --drain 2 --seed "$4" --out "$OUT/$1.json" \
    >/dev/null 2>>"$OUT/openloop.log"
}
: >"$OUT/windows.tsv"
for round in $(seq "$ROUNDS"); do
  "$LOAD" --url "http://127.0.0.1:$A/v2/models/$NAME/infer" --body "$OUT/body" --closed \
    --connections 64 --duration $((CAP_SECS + 1)) --warmup 1 --out "$OUT/cap-$round.json" \
    >/dev/null 2>>"$OUT/openloop.log"
  cap=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ok_per_second'])" "$OUT/cap-$round.json")
  echo "round $round: capacity (static, closed loop c=64) $cap/s, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  for f in $FRACTIONS; do
    rate=$(python3 -c "print(max(1, int($f * $cap)))")
    i=0
    for arm in static slo slo static; do
      i=$((i + 1))
      p=$([ $arm = static ] && echo "$A" || echo "$B")
      window "r$round-f$f-$i-$arm" "$p" "$rate" "$((round * 10 + i))"
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$f" "$rate" "$arm" "$OUT/r$round-f$f-$i-$arm.json" \
        "$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/windows.tsv"
    done
    window "r$round-f$f-live" "$A" "$rate" "$((round * 10 + 9))" /v2/health/live
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$f" "$rate" live "$OUT/r$round-f$f-live.json" \
      "$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/windows.tsv"
  done
done
curl -s "localhost:$B/v2/models/$NAME/slo" >"$OUT/policy-slo.json" || true
python3 - "$OUT/windows.tsv" "$SLO" "$STATIC" "$OUT/policy-slo.json" <<'PY' | tee "$OUT/summary.txt"
import json, statistics as st, sys
from collections import defaultdict
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
slo, static = sys.argv[2], sys.argv[3]
by = defaultdict(list)  # (fraction, arm) -> [(round, rate, data, load)]
print(f"per window (SLO {slo} ms; static = {static}; slo = the SLO policy; live = GET /v2/health/live):")
for rnd, f, rate, arm, path, la in rows:
    d = json.load(open(path))
    good = d["within_slo"] / d["measured_s"]
    by[(f, arm)].append((int(rnd), int(rate), d, good, float(la)))
    print(f"  round {rnd} x{f} {rate:>6}/s {arm:>6}: within {100 * d['within_slo_fraction']:7.3f} %, refused {d['refused']:>5},"
          f" p99 {d['ok_p99_ms']:7.1f} ms, goodput {good:8.1f}/s, late sends {d['late_sends']:>6}, load {la}")
print("medians over rounds (each round's two windows of an arm averaged first):")
best = {}
for f in sorted({k[0] for k in by}, key=float):
    per = {}
    for arm in ("static", "slo", "live"):
        rounds = defaultdict(list)
        for rnd, rate, d, good, la in by[(f, arm)]:
            rounds[rnd].append((d["within_slo_fraction"], good, d["refused"], d["ok_p99_ms"]))
        per[arm] = {r: tuple(st.mean(x[i] for x in v) for i in range(4)) for r, v in rounds.items()}
    line = []
    for arm in ("static", "slo", "live"):
        v = per[arm].values()
        w = st.median(x[0] for x in v)
        if w >= 0.999:
            best[arm] = f
        line.append(f"{arm} within {100 * w:.3f} %, goodput {st.median(x[1] for x in v):.1f}/s,"
                    f" refused {st.median(x[2] for x in v):.0f}, p99 {st.median(x[3] for x in v):.1f} ms")
    ratios = [per["slo"][r][1] / per["static"][r][1] for r in per["slo"] if per["static"].get(r, (0, 0))[1] > 0]
    print(f"  x{f}: " + "; ".join(line))
    print(f"  x{f}: goodput policy/static per round {', '.join(f'{x:.3f}' for x in ratios)};"
          f" median {st.median(ratios):.3f}" if ratios else f"  x{f}: no ratio")
print("highest fraction of capacity whose median meets 99.9 %: " +
      ", ".join(f"{a} x{best.get(a, '-')}" for a in ("static", "slo", "live")))
try:
    p = json.load(open(sys.argv[4]))["policy"]
    print("policy: mean batch %.1f; pass times (batch: mean/planned ms): %s" % (p["batch_size"], "; ".join(
        "%d: %.2f/%.2f" % (x["batch_size"], x["mean_us"] / 1e3, x["planned_us"] / 1e3) for x in p["pass_times"])))
except Exception as e:
    print(f"policy table unavailable: {e}")
PY
echo "results in $OUT" >&2
