#!/usr/bin/env bash
# TF Serving's gRPC API called as its Python clients call it, against `./fulcrum serve` with the
# demo models and an inference token: stubs generated with grpcio-tools from Fulcrum's TF Serving
# protos (fulcrum-server/src/main/proto/tensorflow*, the module paths of tensorflow-serving-api)
# into a temporary directory; Predict (tensor_content and float_val / int64_val, output_filter, a
# pinned version) compared with REST infer's answers for fraud_classifier and all_minilm_l6_v2,
# GetModelMetadata, GetModelStatus, and the statuses of an unknown model or version, another
# signature, a wrong value count, Classify, a missing token. Prints PASS/FAIL per check and the
# counts (bench/tfserving_grpc_client.py); exits non-zero on a FAIL.
#   [PORT=24210] [BENCH=N] [NO_SERVER=1 TOKEN=...] [VENV=/tmp/tfserving-grpc-venv] bash bench/tfserving_grpc_client.sh
# BENCH=N then times N sequential one-row calls of Predict (float_val, tensor_content) and OIP's
# ModelInfer from the same Python client (p50, p99).
# NO_SERVER=1 uses a server already listening on PORT (HTTP), PORT+1 (gRPC), PORT+2 (metrics).
# Needs grpcio and grpcio-tools: python3's when it has them, else a virtual environment of its own
# (VENV, default /tmp/tfserving-grpc-venv, over the system's packages) that pip fills once. Not a
# CI test.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. "$ROOT/bench/lib.sh"
PORT=${PORT:-24210}
VENV=${VENV:-/tmp/tfserving-grpc-venv}

PY=python3
if ! python3 -c 'import grpc, grpc_tools' 2>/dev/null; then
  PY="$VENV/bin/python"
  if ! "$PY" -c 'import grpc, grpc_tools' 2>/dev/null; then
    echo "python3 has no grpcio or grpcio-tools: installing them into $VENV" >&2
    python3 -m venv --system-site-packages "$VENV" \
      && "$VENV/bin/pip" install -q --timeout 20 grpcio grpcio-tools \
      || { echo "FAIL could not install grpcio and grpcio-tools into $VENV"; exit 1; }
  fi
fi

PID=""
if [ -z "${NO_SERVER:-}" ]; then
  TOKEN=${TOKEN:-$(bench_token tfserving-client)}
  FULCRUM_INFERENCE_TOKEN="$TOKEN" bench_fulcrum_serve
fi

"$PY" "$ROOT/bench/tfserving_grpc_client.py" --grpc "127.0.0.1:$((PORT + 1))" \
  --http "127.0.0.1:$PORT" --token "${TOKEN:-}" --bench "${BENCH:-0}"
