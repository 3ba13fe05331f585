#!/usr/bin/env bash
# Hostile clients against a fresh server (loopback only, bounded), issue #14's cases: the
# timeouts, 20,000 slowloris connections, unfinished h2c streams, partial gRPC messages, large
# HTTP/1.1 bodies, deep pipelining and a stuck metrics request, with a normal request's latency
# meanwhile and the server's RSS against the stated bound (bench/hostile.py). Extra arguments go
# to hostile.py, e.g. --cases slowloris --slowloris 2000 (slowloris runs twice on the one server by
# default, --slowloris-rounds: the first round meets a fresh JVM, the later a warm one, each judged
# on its p99; each round prints the accept queue's peak and the kernel's listen-drop counters).
#
# The file limit is raised for both sides (20,000 connections need 20,000 descriptors on each):
# as root, or with a hard limit that allows it. FULCRUM overrides the server command (default:
# ./fulcrum); SERVER_ARGS adds serve flags; SERVER_LOG is where the server's log goes (default
# /tmp/fulcrum-hostile-server.log).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT=${PORT:-18740}
FULCRUM=${FULCRUM:-./fulcrum}
SLOW=${SLOW:-20000}
ulimit -n $((SLOW + 10000)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "file limit: $(ulimit -n) (both sides)"
if [ "$FULCRUM" = ./fulcrum ]; then ./fulcrum --version >/dev/null; fi   # builds if needed

# Default limits: 4096 connections a port (at the cap, a connection without a request head past
# a 100 ms grace, the slowest sending it, makes room for a new one), a 10 s header timeout, one 1 GiB budget of buffered request
# bytes for the REST and gRPC ports together (256 MiB a connection), so the stated RSS bound is
# 1024 + 300 MB.
# shellcheck disable=SC2086
$FULCRUM serve --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
  ${SERVER_ARGS:-} > "${SERVER_LOG:-/tmp/fulcrum-hostile-server.log}" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && break
  sleep 1
done
# ./fulcrum execs the JVM, so $SERVER is the process whose RSS is reported.
python3 bench/hostile.py --port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
  --pid "$SERVER" --slowloris "$SLOW" --bound-mb $((1024 + 300)) "$@"
