#!/usr/bin/env bash
# Training-serving skew and drift (issue #11; docs/PERFORMANCE.md, "Skew and drift"), on the
# demo fraud classifier and its committed baseline:
#   1. serve the demo with a prediction log; bench/skew_replay.py sends in-distribution rows,
#      then a x100 unit error on amount_usd, +0.5 sigma on each numeric feature, and three
#      pairs of swapped columns (SEEDS seeds), and LONG in-distribution requests; it reports
#      requests-to-detection and the features named (fixed seeds: reproducible counts);
#   2. fulcrum skew-check replays the server's prediction log: the offline verdict;
#   3. OFFLINE in-distribution rows (default 1,000,000) through skew-check for each seed of
#      OFFLINE_SEEDS (default "42 7 1 2 3"; 7 is the live million's own sequence, the one that
#      used to raise merchant_risk's CUSUM at observation 402,690): false alarms (inputs only:
#      the log it generates has no outputs);
#   4. monitoring on vs off (and the dashboard open vs closed): bench/overhead.sh, ROUNDS rounds
#      (OVERHEAD=0 skips it).
# FULCRUM: the launcher (default ./fulcrum; e.g. "java -cp 'fulcrum-tools/target/dist/lib/*'
# dev.fulcrum.tools.FulcrumCli" on a machine where ./fulcrum must not build).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FULCRUM=${FULCRUM:-./fulcrum}
PORT=${PORT:-18700}
SEEDS=${SEEDS:-3}
LONG=${LONG:-100000}
OFFLINE=${OFFLINE:-1000000}
OFFLINE_SEEDS=${OFFLINE_SEEDS:-42 7 1 2 3}
ROUNDS=${ROUNDS:-7}
OVERHEAD=${OVERHEAD:-1}
OUT="bench/results/skew-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

serve() { # log-file extra-flags...
  local log=$1; shift
  $FULCRUM serve --model-repository demo/models --http-port "$PORT" --grpc-port 0 \
    --metrics-port 0 "$@" > "$log" 2>&1 &
  SERVER=$!
  for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && return 0
    sleep 1
  done
  echo "server did not start:"; cat "$log"; exit 1
}
stop() { kill -TERM "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
trap 'stop' EXIT

echo "== detection (seeds $SEEDS, long run $LONG)"
serve "$OUT/server.log" --prediction-log "$OUT/predictions"
python3 bench/skew_replay.py --url "http://127.0.0.1:$PORT" --seeds "$SEEDS" --long "$LONG" \
  --out "$OUT/detection.json" | tee "$OUT/detection.txt"
stop
# The server logs a version's alerts of one second on one line (session 36): count alerts, not lines.
echo "alerts in the server log: $(grep -o 'DRIFT (' "$OUT/server.log" | wc -l)"

echo "== skew-check on the server's prediction log"
$FULCRUM skew-check --log "$OUT/predictions" --baseline demo/models/fraud_classifier/baseline.json \
  > "$OUT/skew-check.txt" || true
echo "alert lines in skew-check: $(grep -c 'DRIFT (' "$OUT/skew-check.txt" || true)"
if diff <(grep -o 'feature [a-z_]*: DRIFT ([a-z]* score [0-9.e+]*, threshold [0-9.e+]*) since observation [0-9]*' "$OUT/server.log" | sed 's/since/at/') \
        <(grep -o 'feature [a-z_]*: DRIFT ([a-z]* score [0-9.e+]*, threshold [0-9.e+]*) at observation [0-9]*' "$OUT/skew-check.txt") >/dev/null; then
  echo "skew-check raised the same alerts, at the same observations, as the live monitor"
else
  echo "skew-check and the live monitor DIFFER"
fi

if [ "$OFFLINE" -gt 0 ]; then
  total=0
  for seed in $OFFLINE_SEEDS; do
    echo "== $OFFLINE in-distribution rows offline, seed $seed"
    python3 bench/skew_replay.py --write-log "$OUT/in-distribution.jsonl" --rows "$OFFLINE" --seed "$seed"
    $FULCRUM skew-check --log "$OUT/in-distribution.jsonl" \
      --baseline demo/models/fraud_classifier/baseline.json > "$OUT/offline-$seed.txt" || true
    alarms=$(grep -c 'DRIFT (' "$OUT/offline-$seed.txt" || true)
    total=$((total + alarms))
    echo "false alarms in $OFFLINE rows, seed $seed: $alarms"
    rm -f "$OUT/in-distribution.jsonl"
  done
  echo "false alarms in all offline rows: $total"
fi

if [ "$OVERHEAD" = 1 ]; then
  echo "== monitoring on vs off, dashboard open vs closed: bench/overhead.sh ($ROUNDS rounds)"
  FULCRUM="$FULCRUM" ROUNDS="$ROUNDS" bash bench/overhead.sh | tee "$OUT/overhead.txt"
fi
echo "results in $OUT"
