#!/usr/bin/env bash
# Server-side cost of one fraud call at c=1, gRPC against REST binary (issue 12): system calls,
# context switches (a thread going to sleep: the wake-ups of a call) and CPU time of the server
# process per request, counted by perf stat (-p, all its threads) over a DUR s window of
# `fulcrum bench` at c=1 after PROTO_WARM of warm-up. Counts do not depend on how busy the machine
# is the way req/s do, so one run of each is worth reading.
#   L=./fulcrum DUR=5 bash bench/grpc_c1_syscalls.sh        (L: the server's launcher)
# Needs perf with the syscalls tracepoints (perf list | grep syscalls:).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
L=${L:-./fulcrum}
CLIENT=${CLIENT:-$L}
DUR=${DUR:-5}
PROTO_WARM=${PROTO_WARM:-40s} # C2 needs ~60,000 calls under the launcher's CompileThresholdScaling=4
PORT=${PORT:-$((20000 + RANDOM % 12000))}
export FULCRUM_NO_BUILD=1 FULCRUM_HOME="${FULCRUM_HOME:-$ROOT}"
OUT=$(mktemp -d)
setsid "$L" serve --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) >"$OUT/server.log" 2>&1 &
pid=$!
trap 'kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$OUT"' EXIT
BODY='{"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32","data":[1250.0,3,0.92,410.5,14,20,1,0]}]}'
for _ in $(seq 600); do
  curl -fs -o /dev/null -H 'Content-Type: application/json' -d "$BODY" \
    "http://127.0.0.1:$PORT/v2/models/fraud_classifier/infer" 2>/dev/null && break
  sleep 0.1
done
EVENTS=raw_syscalls:sys_enter,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,context-switches,task-clock
for proto in ${PROTOS:-grpc rest-binary}; do
  "$CLIENT" bench -m fraud_classifier --protocol "$proto" --url "http://127.0.0.1:$PORT" \
    --grpc-url "127.0.0.1:$((PORT + 1))" --concurrency 1 --warmup "$PROTO_WARM" --window "${DUR}s" \
    --max-windows 1 --output "$OUT/$proto.json" >"$OUT/bench-$proto.log" 2>&1 &
  bpid=$!
  sleep "${PROTO_WARM%s}"
  sleep 0.5
  perf stat -x, -e "$EVENTS" -p "$pid" -o "$OUT/perf-$proto.csv" -- sleep "$((DUR - 1))" 2>/dev/null
  wait "$bpid"
  python3 - "$OUT/perf-$proto.csv" "$OUT/$proto.json" "$proto" "$((DUR - 1))" <<'PY'
import json, sys
rate = json.load(open(sys.argv[2]))[0]["requests_per_second"]
n = rate * float(sys.argv[4])
out = []
for line in open(sys.argv[1]):
    f = line.strip().split(",")
    if len(f) < 3 or not f[0] or f[0].startswith("#"):
        continue
    try:
        v = float(f[0])
    except ValueError:
        continue
    name = f[2].replace("syscalls:sys_enter_", "").replace("raw_syscalls:sys_enter", "syscalls")
    out.append(f"{name} {v / n:.2f}" if name != "task-clock" else f"cpu_us {v * 1000 / n:.1f}")
print(f"{sys.argv[3]}: {rate:.0f} req/s; per request: " + ", ".join(out))
PY
done
