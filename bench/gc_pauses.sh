#!/usr/bin/env bash
# Young-collection pauses against fraud's 10 ms SLO under open-loop load (issue #10; PERFORMANCE.md,
# "Session 26 (lead): GC pauses"): for each JVM-option arm in turn, ROUNDS times interleaved, a
# fresh `fulcrum serve` (demo models, GC log on), 6 s closed loop at 64 connections to warm the
# JIT, then bench/openloop at RATE req/s Poisson over 512 connections for DUR s. Prints per run:
# the share answered 2xx within 10 ms (from the intended send), the admitted p99, the number of
# young pauses and the median / max of the last 12, and the RSS after.
#   ARM0="" ARM1="-XX:MaxTenuringThreshold=15" RATE=10000 DUR=30 ROUNDS=2 bash bench/gc_pauses.sh
# SERVE0 / SERVE1 add serve options to an arm instead (e.g. SERVE1="--http-thread-count 2" with
# ARM1="": one REST event loop against two).
# (ARM0/ARM1 are added to FULCRUM_JAVA_OPTS; the launcher's own flags come first, so an arm can
# override them.) BASE_ROOT (a copy of an older tree's launcher and dist, as bench/coldstart.sh takes
# it) runs arm 0 on that build instead, to compare two builds with the same options:
#   BASE_ROOT=/tmp/base ARM1="" RATE=10000 DUR=30 ROUNDS=3 bash bench/gc_pauses.sh
# Results: bench/results/<time>-gc_pauses/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
RATE=${RATE:-10000}
DUR=${DUR:-30}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-18500}
ARMS=("${ARM0:-}" "${ARM1--XX:MaxTenuringThreshold=15}")
SERVES=("${SERVE0:-}" "${SERVE1:-}")
LAUNCHERS=(./fulcrum ./fulcrum)
[ -z "${BASE_ROOT:-}" ] || LAUNCHERS[0]="$BASE_ROOT/fulcrum"
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-gc_pauses"
mkdir -p "$OUT"
. bin/find-java.sh
fulcrum_find_java
export FULCRUM_NO_BUILD=${FULCRUM_NO_BUILD:-1}
bench_openloop "$OUT/openloop"
cp "$BENCH_FRAUD_BODY" "$OUT/fraud.body"
SP=
trap '[ -z "$SP" ] || kill "$SP" 2>/dev/null || true' EXIT
for r in $(seq "$ROUNDS"); do
  for i in "${!ARMS[@]}"; do
    opts=${ARMS[$i]}
    p=$((PORT + 10 * i))
    # shellcheck disable=SC2086 # an arm is a list of JVM options, SERVES[i] of serve options
    FULCRUM_JAVA_OPTS="${FULCRUM_JAVA_OPTS:-} $opts -Xlog:gc:file=$OUT/gc-$i-$r.log:uptime" \
      "${LAUNCHERS[$i]}" serve ${SERVES[$i]} --http-port "$p" --grpc-port $((p + 1)) --metrics-port $((p + 2)) >"$OUT/server-$i-$r.log" 2>&1 &
    SP=$!
    bench_wait_ready "$p"
    url="http://127.0.0.1:$p/v2/models/fraud_classifier/infer"
    bench_warm_jit "$OUT/openloop" "$url" "$OUT/fraud.body"
    "$OUT/openloop" --url "$url" --body "$OUT/fraud.body" --rate "$RATE" --duration $((DUR + 2)) --warmup 2 \
      --slo-ms 10 --connections 512 --out "$OUT/openloop-$i-$r.json" >/dev/null 2>&1
    rss=$(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$SP/status")
    label="${opts:-default}${SERVES[$i]:+, serve ${SERVES[$i]}}"
    [ -z "${BASE_ROOT:-}" ] || label="$([ "$i" = 0 ] && echo base || echo this tree): $label"
    python3 - "$OUT/gc-$i-$r.log" "$OUT/openloop-$i-$r.json" "$label" "$r" "$rss" <<'PY' | tee -a "$OUT/summary.txt"
import json, re, statistics, sys
log, run, opts, r, rss = sys.argv[1:]
pauses = [float(m.group(1)) for m in re.finditer(r"Pause Young.* ([\d.]+)ms", open(log).read())]
t = json.load(open(run))
last = pauses[-12:] or [0.0]
print(f"round {r} [{opts}] within 10 ms {t['within_slo_fraction'] * 100:.3f} %, p99 {t['ok_p99_ms']} ms, "
      f"late sends {t['late_sends']} | young pauses {len(pauses)}, last {len(last)}: median "
      f"{statistics.median(last):.1f} ms, max {max(last):.1f} | RSS {rss} MB")
PY
    kill "$SP"; wait "$SP" 2>/dev/null || true; SP=
  done
done
echo "results in $OUT"
