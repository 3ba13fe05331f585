#!/usr/bin/env bash
# Hostile clients against a fresh server (loopback only, bounded): slowloris heads, stalled large
# bodies, deep pipelining and a stuck metrics request, printing the server's RSS and a normal
# request's latency meanwhile (bench/hostile.py; issue #14 item 3). Extra arguments go to
# hostile.py, e.g. --slowloris 2000 --seconds 20.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT=${PORT:-18740}
./fulcrum --version >/dev/null   # builds if needed

./fulcrum serve --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
  > /tmp/fulcrum-hostile-server.log 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && break
  sleep 1
done
# ./fulcrum execs the JVM, so $SERVER is the process whose RSS is reported.
python3 bench/hostile.py --port "$PORT" --metrics-port $((PORT + 2)) --pid "$SERVER" "$@"
