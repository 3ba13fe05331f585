#!/usr/bin/env bash
# TF Serving's gRPC API called as its Python clients call it, against `./fulcrum serve` with the
# demo models and an inference token: stubs generated with grpcio-tools from Fulcrum's TF Serving
# protos (fulcrum-server/src/main/proto/tensorflow*, the module paths of tensorflow-serving-api)
# into a temporary directory; Predict (tensor_content and float_val / int64_val, output_filter, a
# pinned version) compared with REST infer's answers for fraud_classifier and all_minilm_l6_v2,
# GetModelMetadata, GetModelStatus, and the statuses of an unknown model or version, another
# signature, a wrong value count, Classify, a missing token. Prints PASS/FAIL per check and the
# counts (bench/tfserving_grpc_client.py); exits non-zero on a FAIL.
#   [PORT=24210] [BENCH=N] [NO_SERVER=1 TOKEN=...] bash bench/tfserving_grpc_client.sh
# BENCH=N then times N sequential one-row calls of Predict (float_val, tensor_content) and OIP's
# ModelInfer from the same Python client (p50, p99).
# NO_SERVER=1 uses a server already listening on PORT (HTTP), PORT+1 (gRPC), PORT+2 (metrics).
# Needs python3 with grpcio and grpcio-tools (`pip install grpcio grpcio-tools`). Not a CI test.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT=${PORT:-24210}

python3 -c 'import grpc, grpc_tools' 2>/dev/null \
  || { echo "FAIL python3 needs grpcio and grpcio-tools (pip install grpcio grpcio-tools)"; exit 1; }

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

python3 "$ROOT/bench/tfserving_grpc_client.py" --grpc "127.0.0.1:$((PORT + 1))" \
  --http "127.0.0.1:$PORT" --token "${TOKEN:-}" --bench "${BENCH:-0}"
