#!/usr/bin/env bash
# Training-serving skew and drift (issue #11; docs/PERFORMANCE.md, "Skew and drift"), on the
# demo fraud classifier and its committed baseline:
#   1. serve the demo with a prediction log; bench/skew_replay.py sends in-distribution rows,
#      then a x100 unit error on amount_usd, +0.5 sigma on each numeric feature, and three
#      pairs of swapped columns (SEEDS seeds), and LONG in-distribution requests; it reports
#      requests-to-detection and the features named (fixed seeds: reproducible counts);
#   2. fulcrum skew-check replays the server's prediction log: the offline verdict;
#   3. OFFLINE in-distribution rows (default 1,000,000) through skew-check: false alarms
#      (inputs only: the log it generates has no outputs);
#   4. monitoring on vs off: fulcrum bench at concurrency CONC, ROUNDS alternating runs.
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
CONC=${CONC:-32}
ROUNDS=${ROUNDS:-3}
WINDOW=${WINDOW:-5s}
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
stop() { kill -TERM "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true; }
trap 'stop' EXIT

echo "== detection (seeds $SEEDS, long run $LONG)"
serve "$OUT/server.log" --prediction-log "$OUT/predictions"
python3 bench/skew_replay.py --url "http://127.0.0.1:$PORT" --seeds "$SEEDS" --long "$LONG" \
  --out "$OUT/detection.json" | tee "$OUT/detection.txt"
stop
echo "alert lines in the server log: $(grep -c 'DRIFT (' "$OUT/server.log" || true)"

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
  echo "== $OFFLINE in-distribution rows offline"
  python3 bench/skew_replay.py --write-log "$OUT/in-distribution.jsonl" --rows "$OFFLINE"
  $FULCRUM skew-check --log "$OUT/in-distribution.jsonl" \
    --baseline demo/models/fraud_classifier/baseline.json > "$OUT/offline.txt" || true
  echo "false alarms in $OFFLINE rows: $(grep -c 'DRIFT (' "$OUT/offline.txt" || true)"
  rm -f "$OUT/in-distribution.jsonl"
fi

echo "== throughput, monitoring on vs off (concurrency $CONC, $ROUNDS rounds)"
python3 - "$OUT/requests.jsonl" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open("demo/data/fraud_training.csv")))[:2000]
names = ["amount_usd", "hour_of_day", "merchant_risk", "distance_from_home_km",
         "transactions_last_24h", "account_age_days", "is_foreign", "card_present"]
with open(sys.argv[1], "w") as f:
    for r in rows:
        f.write(json.dumps({"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 8],
                                        "data": [float(r[n]) for n in names]}]}) + "\n")
PY
for round in $(seq "$ROUNDS"); do
  for mode in on off; do
    flag=true; [ "$mode" = off ] && flag=false
    serve "$OUT/server-$mode-$round.log" --monitoring "$flag"
    $FULCRUM bench -m fraud_classifier --url "http://127.0.0.1:$PORT" --protocol rest-json \
      --concurrency "$CONC" --input-data "$OUT/requests.jsonl" --warmup 3s --window "$WINDOW" \
      --max-windows 3 --output "$OUT/bench-$mode-$round.json" > "$OUT/bench-$mode-$round.txt" 2>&1
    stop
  done
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def read(mode):
    rs = [json.load(open(f"{out}/bench-{mode}-{r}.json"))[0] for r in range(1, rounds + 1)]
    return [r["requests_per_second"] for r in rs], [r["latency_p50_ms"] for r in rs]
on_rps, on_p50 = read("on")
off_rps, off_p50 = read("off")
print(f"monitoring on : req/s {on_rps}  p50 ms {on_p50}")
print(f"monitoring off: req/s {off_rps}  p50 ms {off_p50}")
print(f"median throughput on/off {statistics.median(on_rps) / statistics.median(off_rps):.3f},"
      f" median p50 added {1000 * (statistics.median(on_p50) - statistics.median(off_p50)):.0f} us")
PY
echo "results in $OUT"
