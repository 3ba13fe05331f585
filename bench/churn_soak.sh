#!/usr/bin/env bash
# Long soak with churn: a server from this checkout (demo repository, explicit model control) under
# a LOW open-loop load (~255 req/s: fraud JSON, REST binary, gRPC, MiniLM, the minilm_text pipeline,
# ~5 % bad requests) while fraud_classifier reloads every 30 s, all_minilm_l6_v2 unloads and loads
# every 2 min, /metrics, stats and slo are scraped every 10 s, two dashboard SSE clients watch (one
# for the whole run, one reconnecting every 20 s) and the fraud amounts drift for 5 minutes in the
# middle. Every 30 s the server's RSS, heap (after a GC every 2 min), NMT totals, threads by name,
# fds, metric series and log lines go to samples.csv: a leak is a slope (bench/churn_soak.py says
# what each file holds).
#
#   bash bench/churn_soak.sh [minutes, default 60] [rate scale, default 1.0]
#   python3 bench/churn_soak_trend.py bench/results/<time>-churn-soak   # slopes over the last 40 min
#
# Needs a built dist (./mvnw -B -ntp -DskipTests package; touch fulcrum-tools/target/dist/.built)
# and a python with grpcio and grpcio-tools (SOAK_PYTHON, default python3). Ports: SOAK_PORT (HTTP,
# default 36000), +1 gRPC, +2 metrics. Results: bench/results/<UTC time>-churn-soak/.
# Behaviour, not speed: on a shared machine the p99 figures say what the clients saw, nothing more.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MINUTES=${1:-60}
SCALE=${2:-1.0}
PORT=${SOAK_PORT:-36000}
PY=${SOAK_PYTHON:-python3}
OUT="$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-churn-soak"
mkdir -p "$OUT/pb"
. "$ROOT/bin/find-java.sh"
fulcrum_find_java

"$PY" -m grpc_tools.protoc -I "$ROOT/fulcrum-server/src/main/proto" --python_out="$OUT/pb" \
  --grpc_python_out="$OUT/pb" "$ROOT"/fulcrum-server/src/main/proto/*.proto

# NMT summary for the totals (its own cost is a few % of malloc-heavy paths; the same in every sample).
FULCRUM_JAVA_OPTS="-XX:NativeMemoryTracking=summary ${FULCRUM_JAVA_OPTS:-}" \
FULCRUM_NO_BUILD=1 FULCRUM_NO_AOT=1 FULCRUM_HOME="$ROOT" "$ROOT/fulcrum" serve \
  --model-repository "$ROOT/demo/models" --model-control-mode explicit \
  --load-model fraud_classifier --load-model all_minilm_l6_v2 --load-model minilm_text \
  --host 127.0.0.1 --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
  >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
. "$ROOT/bench/lib.sh"
bench_wait_ready "$PORT" 180
echo "server pid $SERVER ready; soak $MINUTES min at scale $SCALE -> $OUT"
cd "$ROOT"
PYTHONPATH="$OUT/pb" "$PY" "$ROOT/bench/churn_soak.py" --pid "$SERVER" --port "$PORT" \
  --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) --log "$OUT/server.log" --out "$OUT" \
  --minutes "$MINUTES" --scale "$SCALE" | tee "$OUT/driver.log"
