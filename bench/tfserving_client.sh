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
. "$ROOT/bench/lib.sh"
PORT=${PORT:-18200}

PID=""
if [ -z "${NO_SERVER:-}" ]; then
  TOKEN=${TOKEN:-$(bench_token tfserving-client)}
  FULCRUM_INFERENCE_TOKEN="$TOKEN" bench_fulcrum_serve
fi

python3 "$ROOT/bench/tfserving_client.py" --http "127.0.0.1:$PORT" --token "${TOKEN:-}" \
  --rate "${RATE:-0}"
