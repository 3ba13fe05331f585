#!/usr/bin/env bash
# TF Serving / KServe v1 REST clients' requests (bench/tfserving_client.py, Python's stdlib only)
# against `./fulcrum serve` with the demo models and an inference token: predict in row and columnar
# format on fraud_classifier, all_minilm_l6_v2 (named token inputs) and minilm_text (strings and
# b64), each answer compared with v2/models/<m>/infer's; the model status, metadata, GET
# /v1/models/<m>, and the errors. Prints PASS/FAIL per check; exits non-zero on a FAIL. RATE=N also
# times N sequential one-row requests of predict and of infer on one connection.
#   [PORT=18200] [RATE=2000] [NO_SERVER=1 TOKEN=...] bash bench/tfserving_client.sh
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT=${PORT:-18200}

PID=""
if [ -z "${NO_SERVER:-}" ]; then
  TOKEN=${TOKEN:-tfserving-client-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}
  LOG=$(mktemp)
  FULCRUM_INFERENCE_TOKEN="$TOKEN" FULCRUM_NO_BUILD=${FULCRUM_NO_BUILD:-1} \
    FULCRUM_NO_AOT=${FULCRUM_NO_AOT:-1} FULCRUM_HOME="$ROOT" \
    setsid ./fulcrum serve --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
    >"$LOG" 2>&1 &
  PID=$!
  trap 'kill -TERM -- "-$PID" 2>/dev/null; wait $PID 2>/dev/null' EXIT
  for _ in $(seq 600); do
    curl -fs -o /dev/null "http://127.0.0.1:$PORT/v2/health/ready" && break
    kill -0 "$PID" 2>/dev/null || { echo "FAIL server did not start:"; tail -20 "$LOG"; exit 1; }
    sleep 0.2
  done
fi

python3 "$ROOT/bench/tfserving_client.py" --http "127.0.0.1:$PORT" --token "${TOKEN:-}" \
  --rate "${RATE:-0}"
