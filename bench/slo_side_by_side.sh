#!/usr/bin/env bash
# The SLO policy's server and a static server side by side at one offered rate (issue #10;
# docs/PERFORMANCE.md, "Latency objectives", session 12): both up at once, from the repositories a
# bench/slo.sh run left, openloop alternating WINDOW s Poisson windows at RATE (static first in
# each of ROUNDS rounds), then the policy's learned pass times and both servers' exec counts.
#   RUN=bench/results/<time>-slo RATE=900 bash bench/slo_side_by_side.sh
# RUN: a bench/slo.sh result folder with MODELS=minilm (it holds repo-minilm-slo,
# repo-minilm-static-<STATIC>, minilm.body and the compiled openloop). STATIC (default 16-0).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:?give RUN=bench/results/<time>-slo}
RATE=${RATE:-900}; ROUNDS=${ROUNDS:-3}; WINDOW=${WINDOW:-10}; STATIC=${STATIC:-16-0}
PORT=${PORT:-29100}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
CP=${FULCRUM_CP:-fulcrum-tools/target/dist/lib/*}
MODEL=all_minilm_l6_v2
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
serve() { # repository, port
  "$JAVA" --enable-native-access=ALL-UNNAMED -cp "$CP" dev.fulcrum.tools.FulcrumCli serve \
    --model-repository "$1" --http-port "$2" --grpc-port $(($2 + 1)) --metrics-port $(($2 + 2)) \
    --cost-per-hour 1 > "/tmp/side-by-side-$2.log" 2>&1 &
  pids+=($!)
}
serve "$RUN/repo-minilm-static-$STATIC" "$PORT"
serve "$RUN/repo-minilm-slo" $((PORT + 100))
for p in "$PORT" $((PORT + 100)); do
  for _ in $(seq 120); do curl -sf "localhost:$p/v2/health/ready" >/dev/null && break; sleep 0.5; done
  "$RUN/openloop" --url "http://127.0.0.1:$p/v2/models/$MODEL/infer" --body "$RUN/minilm.body" \
    --closed --connections 16 --duration 8 >/dev/null 2>&1   # JIT warm-up, not measured
done
for round in $(seq "$ROUNDS"); do
  for p in "$PORT" $((PORT + 100)); do
    out=$(mktemp)
    "$RUN/openloop" --url "http://127.0.0.1:$p/v2/models/$MODEL/infer" --body "$RUN/minilm.body" \
      --rate "$RATE" --duration "$WINDOW" --warmup 1 --slo-ms 100 --seed "$round" --out "$out" >/dev/null 2>&1
    name=$([ "$p" = "$PORT" ] && echo "static $STATIC" || echo "slo policy")
    python3 - "$out" "$name" "$round" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"round {sys.argv[3]} {sys.argv[2]:>12}: within 100 ms {100 * d['within_slo_fraction']:.1f} %,"
      f" refused {d['refused']}, p50 {d['ok_p50_ms']:.1f} ms, p90 {d['ok_p90_ms']:.1f}, p99 {d['ok_p99_ms']:.1f},"
      f" late sends {d['late_sends']}")
PY
    rm -f "$out"
  done
done
curl -s "localhost:$((PORT + 100))/v2/models/$MODEL/slo" | python3 -c '
import json, sys
p = json.load(sys.stdin)["policy"]
print("policy: mean batch %.1f; pass times (batch: mean/planned ms): %s" % (p["batch_size"], "; ".join(
    "%d: %.1f/%.1f" % (x["batch_size"], x["mean_us"] / 1e3, x["planned_us"] / 1e3) for x in p["pass_times"])))'
for p in "$PORT" $((PORT + 100)); do
  echo "$([ "$p" = "$PORT" ] && echo static || echo policy): $(curl -s "localhost:$((p + 2))/metrics" | grep -E '^nv_inference_(count|exec_count)\{' | awk '{printf "%s %s  ", $1, $2}')"
done
