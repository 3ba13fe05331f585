#!/usr/bin/env bash
# MLflow scoring clients' and SageMaker's requests (bench/mlflow_client.py, Python's stdlib only)
# against `./fulcrum serve --invocations-model fraud_classifier` with the demo models and an
# inference token: POST /invocations with the bodies MLflow's client and pandas write (split,
# records, CSV, inputs, instances, params) on fraud_classifier, and on minilm_text and
# all_minilm_l6_v2 through SageMaker's multi-model header, each answer compared with
# v2/models/<m>/infer's; GET /ping, /health, /version; the errors in MLflow's shape. Prints
# PASS/FAIL per check; exits non-zero on a FAIL. RATE=N also times N sequential one-row requests of
# /invocations and of infer on one connection.
#   [PORT=18300] [RATE=2000] [NO_SERVER=1 TOKEN=...] bash bench/mlflow_client.sh
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT=${PORT:-18300}

. "$ROOT/bench/lib.sh"
if [ -z "${NO_SERVER:-}" ]; then
  TOKEN=${TOKEN:-$(bench_token mlflow-client)}
  FULCRUM_INFERENCE_TOKEN="$TOKEN" bench_fulcrum_serve --invocations-model fraud_classifier
fi

python3 "$ROOT/bench/mlflow_client.py" --http "127.0.0.1:$PORT" --token "${TOKEN:-}" \
  --rate "${RATE:-0}"
