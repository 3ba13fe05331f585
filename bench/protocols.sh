#!/usr/bin/env bash
# gRPC vs REST binary vs REST JSON on both demo models, at concurrency 1, 4, 16 and 64, in one
# run against one server (docs/PERFORMANCE.md), and each load's gRPC / REST binary ratio.
#   bash bench/protocols.sh
#   MODELS=fraud_classifier CONCURRENCY=1 FULCRUM_LAUNCHER=/path/to/wrapper bash bench/protocols.sh
# FULCRUM_LAUNCHER replaces ./fulcrum (a wrapper around an already built dist: `fulcrum "$@"`).
# Results: bench/results/<time>-protocols/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT=${PORT:-18700}
WINDOW=${WINDOW:-3s}
WINDOWS=${WINDOWS:-4}
MODELS=(${MODELS:-fraud_classifier all_minilm_l6_v2})
CONCURRENCY=${CONCURRENCY:-1:64:x4}
LAUNCHER=${FULCRUM_LAUNCHER:-./fulcrum}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-protocols"
mkdir -p "$OUT"
[ -n "${FULCRUM_LAUNCHER:-}" ] || ./fulcrum --version >/dev/null   # builds if needed

"$LAUNCHER" serve --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
  > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && break
  sleep 1
done

MINILM_SHAPES=(--shape input_ids:16 --shape attention_mask:16 --shape token_type_ids:16)
# Warm every path first (WARM per model and protocol, results dropped): otherwise the protocol
# measured first pays the JIT's warm-up (the launcher's CompileThresholdScaling=4 makes it longer),
# and on a busy machine that alone once made gRPC at c=1 look 0.19x REST binary.
WARM=${WARM:-10s}
for model in "${MODELS[@]}"; do
  extra=()
  [ "$model" = all_minilm_l6_v2 ] && extra=("${MINILM_SHAPES[@]}")
  for protocol in grpc rest-binary rest-json; do
    "$LAUNCHER" bench -m "$model" --protocol "$protocol" --url "http://127.0.0.1:$PORT" \
      --grpc-url "127.0.0.1:$((PORT + 1))" --concurrency 4 --warmup "$WARM" --window 1s \
      --max-windows 1 "${extra[@]}" > "$OUT/warm-$model-$protocol.txt" 2>&1
  done
done
for model in "${MODELS[@]}"; do
  extra=()
  [ "$model" = all_minilm_l6_v2 ] && extra=("${MINILM_SHAPES[@]}")
  for protocol in grpc rest-binary rest-json; do
    "$LAUNCHER" bench -m "$model" --protocol "$protocol" --url "http://127.0.0.1:$PORT" \
      --grpc-url "127.0.0.1:$((PORT + 1))" --concurrency "$CONCURRENCY" --warmup 2s \
      --window "$WINDOW" --max-windows "$WINDOWS" "${extra[@]}" \
      --output "$OUT/$model-$protocol.json" > "$OUT/$model-$protocol.txt" 2>&1
  done
done

python3 - "$OUT" "${MODELS[@]}" <<'PY'
import json, sys
out, models = sys.argv[1], sys.argv[2:]
print(f"results in {out}")
print(f"{'model':18} {'protocol':12} {'load':6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
rates = {}
for model in models:
    for protocol in ("grpc", "rest-binary", "rest-json"):
        for r in json.load(open(f"{out}/{model}-{protocol}.json")):
            errs = sum(r[k] for k in ("rejected_total", "timed_out_total", "unavailable_total", "other_errors_total"))
            rates[(model, protocol, r["load"])] = r["requests_per_second"]
            print(f"{model:18} {protocol:12} {r['load']:6} {r['requests_per_second']:9.1f} {r['latency_p50_ms']:8.3f} {r['latency_p99_ms']:8.3f} {errs:6d}")
print("gRPC / REST binary, req/s:")
for (model, protocol, load), rps in rates.items():
    rest = rates.get((model, "rest-binary", load))
    if protocol == "grpc" and rest:
        print(f"{model:18} {load:6} {rps / rest:6.2f}")
PY
