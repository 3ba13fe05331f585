#!/usr/bin/env bash
# Bytes allocated per fraud request, by the REST event loops and by all threads, under open-loop load
# (the young collections' pace: PERFORMANCE.md, "Session 26 (lead): GC pauses"): for the build in
# BASE_ROOT (a copy of an older tree's launcher and dist, as bench/coldstart.sh takes it) and this
# tree, ROUNDS times interleaved, a fresh `fulcrum serve`, 6 s closed loop at 64 connections (JIT),
# then bench/openloop at RATE req/s over 512 connections while JFR's ThreadAllocationStatistics
# reads each thread's allocated bytes every second for 10 s.
#   BASE_ROOT=/tmp/base RATE=10000 ROUNDS=2 bash bench/alloc_ab.sh
# Without BASE_ROOT only this tree is measured. Results: bench/results/<time>-alloc_ab/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
RATE=${RATE:-10000}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-18800}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-alloc_ab"
mkdir -p "$OUT"
. bin/find-java.sh
fulcrum_find_java
export FULCRUM_NO_BUILD=${FULCRUM_NO_BUILD:-1}
bench_openloop "$OUT/openloop"
cp "$BENCH_FRAUD_BODY" "$OUT/fraud.body"
cat >"$OUT/alloc.jfc" <<'JFC'
<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0">
  <event name="jdk.ThreadAllocationStatistics"><setting name="enabled">true</setting><setting name="period">1 s</setting></event>
</configuration>
JFC
ARMS=(main)
[ -z "${BASE_ROOT:-}" ] || ARMS=(base main)
SP=
trap '[ -z "$SP" ] || kill "$SP" 2>/dev/null || true' EXIT
for r in $(seq "$ROUNDS"); do
  for arm in "${ARMS[@]}"; do
    home=$ROOT
    [ "$arm" = main ] || home=$(cd "$BASE_ROOT" && pwd)
    (cd "$home" && FULCRUM_HOME=$home exec ./fulcrum serve --http-port "$PORT" --grpc-port $((PORT + 1)) \
      --metrics-port $((PORT + 2))) >"$OUT/server-$arm-$r.log" 2>&1 &
    SP=$!
    bench_wait_ready "$PORT"
    url="http://127.0.0.1:$PORT/v2/models/fraud_classifier/infer"
    bench_warm_jit "$OUT/openloop" "$url" "$OUT/fraud.body"
    "$OUT/openloop" --url "$url" --body "$OUT/fraud.body" --rate "$RATE" --duration 16 --warmup 2 \
      --slo-ms 10 --connections 512 --out "$OUT/openloop-$arm-$r.json" >/dev/null 2>&1 &
    load=$!
    sleep 4
    "$JAVA_HOME/bin/jcmd" "$SP" JFR.start name=alloc settings="$ROOT/$OUT/alloc.jfc" filename="$ROOT/$OUT/alloc-$arm-$r.jfr" >/dev/null
    sleep 10.5
    "$JAVA_HOME/bin/jcmd" "$SP" JFR.stop name=alloc >/dev/null
    wait "$load" || true
    kill "$SP"; wait "$SP" 2>/dev/null || true; SP=
    "$JAVA_HOME/bin/jfr" print --json --events jdk.ThreadAllocationStatistics "$OUT/alloc-$arm-$r.jfr" >"$OUT/alloc-$arm-$r.json"
    python3 - "$OUT/alloc-$arm-$r.json" "$arm" "$r" "$RATE" <<'PY' | tee -a "$OUT/summary.txt"
import collections, json, sys
path, arm, r, rate = sys.argv[1:]
by = collections.defaultdict(list)
for e in json.load(open(path))["recording"]["events"]:
    v = e["values"]
    by[v["thread"]["javaName"] if v["thread"] else "?"].append((v["startTime"], v["allocated"]))
loops = total = 0
span = max(len(x) for x in by.values()) - 1
for name, xs in by.items():
    xs.sort()
    d = xs[-1][1] - xs[0][1]
    total += d
    if name.startswith("fulcrum-http"):
        loops += d
n = int(rate) * max(1, span)
print(f"round {r} {arm}: event loops {loops / n:.0f} B a request, all threads {total / n:.0f} B a request")
PY
  done
done
echo "results in $OUT"
