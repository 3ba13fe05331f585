#!/usr/bin/env bash
# SIGTERM under load, RUNS times (issue #14): the server must exit 0 every time, and every response
# it started must arrive whole. Load: FRAUD_LOOPS curl loops of fraud_classifier JSON requests and
# MINILM_REQUESTS all_minilm_l6_v2 requests of shape [16, MINILM_SEQ] (~19 MB JSON responses at
# 256) in flight when SIGTERM lands. A request answered 503 or refused (connection refused after
# the port closed) is fine; a cut response (curl exit 18/52/56), a 500, or a MiniLM request that
# was in flight and did not get its 200 is a failure.
#   FULCRUM="java -cp 'fulcrum-tools/target/dist/lib/*' dev.fulcrum.tools.FulcrumCli" bench/sigterm.sh
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUNS=${RUNS:-10}
PORT=${PORT:-18750}
FRAUD_LOOPS=${FRAUD_LOOPS:-8}
MINILM_REQUESTS=${MINILM_REQUESTS:-4}
MINILM_SEQ=${MINILM_SEQ:-256}
FULCRUM=${FULCRUM:-./fulcrum}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

python3 - "$WORK" "$MINILM_SEQ" <<'PY'
import json, random, sys
work, seq = sys.argv[1], int(sys.argv[2])
json.dump({"inputs": [{"name": "features", "shape": [1, 8], "datatype": "FP32",
                       "data": [120.5, 23, 0.7, 900, 6, 30, 1, 0]}]},
          open(f"{work}/fraud.json", "w"))
ids = [101] + [random.randrange(1000, 30000) for _ in range(seq - 2)] + [102]
inputs = [("input_ids", ids), ("attention_mask", [1] * seq), ("token_type_ids", [0] * seq)]
json.dump({"inputs": [{"name": n, "shape": [16, seq], "datatype": "INT64", "data": v * 16}
                      for n, v in inputs]}, open(f"{work}/minilm.json", "w"))
PY

fail=0
for run in $(seq "$RUNS"); do
  dir="$WORK/run$run"
  mkdir -p "$dir"
  eval "exec $FULCRUM serve --http-port $PORT --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
    --exit-timeout-secs 60" > "$dir/server.log" 2>&1 &
  server=$!
  for _ in $(seq 240); do
    curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && break
    sleep 0.5
  done
  url="http://127.0.0.1:$PORT/v2/models"
  for i in $(seq "$FRAUD_LOOPS"); do
    (
      while true; do
        code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
          --data-binary @"$WORK/fraud.json" "$url/fraud_classifier/infer")
        echo "$? $code" >> "$dir/fraud.$i"
        case "$code" in 000|503) break ;; esac
      done
    ) &
  done
  for i in $(seq "$MINILM_REQUESTS"); do
    (
      code=$(curl -s -o "$dir/minilm.$i.out" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary @"$WORK/minilm.json" "$url/all_minilm_l6_v2/infer")
      echo "$? $code" > "$dir/minilm.$i"
    ) &
  done
  # SIGTERM once the MiniLM requests are in the server (queued or running, from its own gauge), so
  # that each must end in a whole 200; 2 s at most, as before, on a server slow to take them.
  for _ in $(seq 40); do
    pending=$(curl -s "http://127.0.0.1:$((PORT + 2))/metrics" \
      | awk '/^nv_inference_pending_request_count\{.*all_minilm_l6_v2/ {s += $NF} END {print s + 0}')
    [ "${pending%.*}" -ge "$MINILM_REQUESTS" ] && break
    sleep 0.05
  done
  echo "run $run: $pending MiniLM requests pending at SIGTERM" >> "$dir/notes"
  sleep 0.2
  kill -TERM "$server"
  wait "$server"
  rc=$?
  wait
  cut=$(cat "$dir"/fraud.* "$dir"/minilm.? 2>/dev/null | awk '$1==18||$1==52||$1==56||$2==500' | wc -l)
  minilm_ok=$(cat "$dir"/minilm.? 2>/dev/null | awk '$1==0&&$2==200' | wc -l)
  fraud_ok=$(cat "$dir"/fraud.* | awk '$1==0&&$2==200' | wc -l)
  # A MiniLM request the server had not taken when SIGTERM landed may be refused (503, or the
  # connection refused: curl exit 7); one it had taken must be answered whole.
  minilm_refused=$(cat "$dir"/minilm.? 2>/dev/null | awk '($1==0&&$2==503)||$1==7' | wc -l)
  minilm_taken=$((MINILM_REQUESTS - minilm_refused))
  echo "run $run: exit $rc; fraud 200s $fraud_ok; MiniLM 200s $minilm_ok of $minilm_taken taken" \
    "($pending pending at SIGTERM, $minilm_refused refused before it started); cut or 500: $cut"
  if [ "$rc" -ne 0 ] || [ "$cut" -ne 0 ] || [ "$minilm_ok" -ne "$minilm_taken" ] \
    || [ "${pending%.*}" -gt "$minilm_ok" ]; then
    fail=1
    tail -20 "$dir/server.log"
  fi
done
exit $fail
