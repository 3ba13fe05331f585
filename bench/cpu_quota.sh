#!/usr/bin/env bash
# Serves the demo inside a cgroup with a CPU quota (a container's CPU limit: QUOTA_PERCENT of one
# core, default 30), drives the fraud model with hey past what the quota allows, and prints what
# the dashboard's event stream said meanwhile: the server strip's machine CPU and throttled share
# (the cgroup's cpu.stat) and the fraud model's verdict, beside the kernel's own cpu.stat counts.
# Needs root (it creates the cgroup; cgroup v2, or v1's cpu controller). Results under
# bench/results/<time>-cpu_quota/.
#   bash bench/cpu_quota.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. bench/lib.sh
PORT=${PORT:-19850}
QUOTA_PERCENT=${QUOTA_PERCENT:-30}
OUT="bench/results/$(date -u +%Y%m%d-%H%M%S)-cpu_quota"
mkdir -p "$OUT"
NAME="fulcrum-cpu-quota-$$"
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then # v2
  CG=/sys/fs/cgroup/$NAME
  mkdir "$CG"
  echo "$((QUOTA_PERCENT * 1000)) 100000" > "$CG/cpu.max"
else
  CG=/sys/fs/cgroup/cpu/$NAME
  mkdir "$CG"
  echo 100000 > "$CG/cpu.cfs_period_us"
  echo "$((QUOTA_PERCENT * 1000))" > "$CG/cpu.cfs_quota_us"
fi
./fulcrum --version >/dev/null # builds if needed, outside the quota
(echo "$BASHPID" > "$CG/cgroup.procs"; exec ./fulcrum serve --http-port "$PORT" \
  --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2))) > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rmdir "$CG" 2>/dev/null || true' EXIT
bench_wait_ready "$PORT" 120
echo "cgroup $CG, quota $QUOTA_PERCENT % of a core"
cat "$CG/cpu.stat" > "$OUT/cpu.stat.before"
hey -z 15s -c 32 -m POST -T application/json -D "$BENCH_FRAUD_BODY" \
  "http://127.0.0.1:$PORT/v2/models/fraud_classifier/infer" > "$OUT/hey.txt" &
HEY=$!
sleep 5
timeout 9 curl -sN "http://127.0.0.1:$PORT/dashboard/events" > "$OUT/events.txt" || true
wait $HEY
cat "$CG/cpu.stat" > "$OUT/cpu.stat.after"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
def stat(name):
    return {k: int(v) for k, v in (l.split() for l in open(f"{out}/{name}") if l.strip())}
b, a = stat("cpu.stat.before"), stat("cpu.stat.after")
periods = a["nr_periods"] - b["nr_periods"]
throttled = a["nr_throttled"] - b["nr_throttled"]
print(f"kernel: {throttled} of {periods} periods throttled ({100 * throttled / max(periods, 1):.0f} %) during the load")
for line in open(f"{out}/events.txt"):
    if not line.startswith("data:"):
        continue
    frame = json.loads(line[5:])
    server = frame.get("server", {})
    for row in frame.get("models", []):
        if row.get("model") == "fraud_classifier":
            m = server.get("machineCpu", [None])[-1]
            t = server.get("throttled", [None])[-1]
            print(f"dashboard: machine CPU {m} %, throttled {t} %; fraud: {row['verdict']['text']}")
PY
grep -E "Requests/sec" "$OUT/hey.txt"
echo "results: $OUT"
