#!/usr/bin/env bash
# The dashboard's cost at saturation (issue #13): throughput of fraud_classifier at concurrency 64
# with the dashboard closed vs open (SUBSCRIBERS event streams of /dashboard/events read by curl,
# which is what an open page costs the server: the frame is serialized once per second and written
# to each stream), interleaved ROUNDS times with the order alternating, so that the machine's drift
# falls on both. Prints each pair and the median ratio open / closed (the bar: >= 0.99).
# The per-request cost (one HdrHistogram Recorder.recordValue) is paid either way: it is always on.
#   FULCRUM="java --enable-native-access=ALL-UNNAMED -cp 'fulcrum-tools/target/dist/lib/*' dev.fulcrum.tools.FulcrumCli" bench/dashboard.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT=${PORT:-18820}
ROUNDS=${ROUNDS:-5}
WINDOW=${WINDOW:-5s}
WINDOWS=${WINDOWS:-3}
CONCURRENCY=${CONCURRENCY:-64}
SUBSCRIBERS=${SUBSCRIBERS:-1}
MODEL=${MODEL:-fraud_classifier}
FULCRUM=${FULCRUM:-./fulcrum}
OUT="bench/results/dashboard-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

eval "$FULCRUM serve --http-port $PORT --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2))" \
  > "$OUT/server.log" 2>&1 &
SERVER=$!
STREAMS=()
cleanup() {
  for s in "${STREAMS[@]}"; do kill "$s" 2>/dev/null || true; done
  kill -TERM "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 240); do
  curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && break
  sleep 0.5
done
URL="http://127.0.0.1:$PORT"

run() { # name -> requests/s
  eval "$FULCRUM bench -m $MODEL --url $URL --protocol rest-binary --concurrency $CONCURRENCY \
    --warmup 2s --window $WINDOW --max-windows $WINDOWS --output $OUT/$1.json" > "$OUT/$1.txt" 2>&1 \
    || { echo "bench $1 failed:" >&2; cat "$OUT/$1.txt" >&2; exit 1; }
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[0]['requests_per_second'])" "$OUT/$1.json"
}
open_dashboard() {
  STREAMS=()
  for i in $(seq "$SUBSCRIBERS"); do
    curl -sN "$URL/dashboard/events" > "$OUT/stream.$i.txt" &
    STREAMS+=($!)
  done
  sleep 2 # the first (history) frame is out
}
close_dashboard() {
  for s in "${STREAMS[@]}"; do kill "$s" 2>/dev/null || true; wait "$s" 2>/dev/null || true; done
  STREAMS=()
}

run warm > /dev/null # JIT and caches warm on both sides before the first measured pair
: > "$OUT/pairs.txt"
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then
    closed=$(run "closed_r$round")
    open_dashboard; open=$(run "open_r$round"); close_dashboard
  else
    open_dashboard; open=$(run "open_r$round"); close_dashboard
    closed=$(run "closed_r$round")
  fi
  frames=$(cat "$OUT"/stream.*.txt | grep -c '^data: ' || true)
  echo "round $round: closed $closed req/s, open $open req/s ($frames frames received)" | tee -a "$OUT/pairs.txt"
done
python3 - "$OUT/pairs.txt" <<'PY'
import re, statistics, sys
pairs = [tuple(map(float, re.findall(r"(?:closed|open) ([0-9.]+)", l))) for l in open(sys.argv[1])]
closed = statistics.median(p[0] for p in pairs)
opened = statistics.median(p[1] for p in pairs)
ratios = [p[1] / p[0] for p in pairs]
print(f"median closed {closed:.1f} req/s, median open {opened:.1f} req/s, "
      f"median of per-round ratios open/closed {statistics.median(ratios):.3f} "
      f"(min {min(ratios):.3f}, max {max(ratios):.3f}, {len(pairs)} rounds)")
PY
echo "results: $OUT"
