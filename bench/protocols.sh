#!/usr/bin/env bash
# gRPC vs REST binary vs REST JSON on both demo models, at concurrency 1, 4, 16 and 64, in one
# run against one server (docs/PERFORMANCE.md). Results: bench/results/<time>-protocols/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT=${PORT:-18700}
WINDOW=${WINDOW:-3s}
WINDOWS=${WINDOWS:-4}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-protocols"
mkdir -p "$OUT"
./fulcrum --version >/dev/null   # builds if needed

./fulcrum serve --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
  > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && break
  sleep 1
done

MINILM_SHAPES=(--shape input_ids:16 --shape attention_mask:16 --shape token_type_ids:16)
for model in fraud_classifier all_minilm_l6_v2; do
  extra=()
  [ "$model" = all_minilm_l6_v2 ] && extra=("${MINILM_SHAPES[@]}")
  for protocol in grpc rest-binary rest-json; do
    ./fulcrum bench -m "$model" --protocol "$protocol" --url "http://127.0.0.1:$PORT" \
      --grpc-url "127.0.0.1:$((PORT + 1))" --concurrency 1:64:x4 --warmup 2s \
      --window "$WINDOW" --max-windows "$WINDOWS" "${extra[@]}" \
      --output "$OUT/$model-$protocol.json" > "$OUT/$model-$protocol.txt" 2>&1
  done
done

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
print(f"results in {out}")
print(f"{'model':18} {'protocol':12} {'load':6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
for model in ("fraud_classifier", "all_minilm_l6_v2"):
    base = {}
    for protocol in ("grpc", "rest-binary", "rest-json"):
        for r in json.load(open(f"{out}/{model}-{protocol}.json")):
            errs = sum(r[k] for k in ("rejected_total", "timed_out_total", "unavailable_total", "other_errors_total"))
            print(f"{model:18} {protocol:12} {r['load']:6} {r['requests_per_second']:9.1f} {r['latency_p50_ms']:8.3f} {r['latency_p99_ms']:8.3f} {errs:6d}")
PY
