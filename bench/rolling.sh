#!/usr/bin/env bash
# A rolling update's failed requests, with and without --shutdown-delay-secs (docs/DEPLOYMENT.md).
# Two servers (fraud_classifier only) behind bench/rolling.py, a balancer that follows readiness
# LAG seconds late, as an endpoint's removal reaches kube-proxy or an ingress; the first server gets
# SIGTERM at KILL_AT seconds. For each DELAYS value (seconds of --shutdown-delay-secs), one round:
# its JSON line (requests, ok, failed, each server's outcomes) and the terminated server's exit code.
#   DELAYS="0 5" LAG=2 RATE=200 bash bench/rolling.sh
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
PORT=${PORT:-18950}
DELAYS=${DELAYS:-"0 5"}
export LAG=${LAG:-2} RATE=${RATE:-200} KILL_AT=${KILL_AT:-3} DURATION=${DURATION:-15}
FULCRUM=${FULCRUM:-$ROOT/fulcrum}
export FULCRUM_NO_BUILD=1
OUT="$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)-rolling"
mkdir -p "$OUT"

serve() { # port delay log: in the background (the caller takes $!)
  "$FULCRUM" serve --http-port "$1" --grpc-port $(($1 + 1)) --metrics-port $(($1 + 2)) \
    --model-control-mode explicit --load-model fraud_classifier --monitoring false \
    --shutdown-delay-secs "$2" > "$3" 2>&1 &
}

for delay in $DELAYS; do
  serve "$PORT" "$delay" "$OUT/a-delay$delay.log"
  a=$!
  serve $((PORT + 10)) "$delay" "$OUT/b-delay$delay.log"
  b=$!
  bench_wait_ready "$PORT" 120 && bench_wait_ready $((PORT + 10)) 120 || exit 1
  line=$(python3 "$ROOT/bench/rolling.py" "$a" "$PORT" $((PORT + 10)) "$BENCH_FRAUD_BODY")
  wait "$a"
  code=$?
  kill -TERM "$b" 2>/dev/null
  wait "$b"
  echo "shutdown-delay-secs=$delay exit=$code $line" | tee -a "$OUT/rolling.txt"
done
echo "results: $OUT"
