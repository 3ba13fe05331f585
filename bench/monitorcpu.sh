#!/usr/bin/env bash
# The drift monitor's CPU per request, two builds side by side (issue #11's cost of monitoring):
# for each build A and B in turn (ROUNDS rounds, order alternating), one server with the fraud
# model as shipped (monitoring on) takes DUR s of closed-loop load (wrk -t1 -cCONC) whose requests
# are NBODIES different rows of demo/data/fraud_training.csv (so the detectors' searches are not
# predicted perfectly, unlike bench/overhead.sh's one body); before and after, it reads
#   monitor_ns   the fulcrum-monitor thread's run time (/proc/<pid>/task/<tid>/schedstat, ns)
#   observations GET /v2/models/fraud_classifier/drift's observation count
#   server_ns    the whole process's run time (the sum over its threads' schedstat)
# and prints per round monitor ns per observation and server µs per request. Run time, not
# throughput: a busy machine slows both arms alike but does not add to a thread's own CPU time
# (cache effects aside). The monitor thread also has a fixed cost per second (it wakes every 5 ms
# while requests arrive), which dominates when a busy machine serves few requests; so each arm
# also runs DUR s at c=1 first, and `slope` = (monitor ns at cCONC - at c1) / (observations at
# cCONC - at c1) is the cost per request with the fixed part cancelled.
#
#   A=/tmp/before/dist B=fulcrum-tools/target/dist ROUNDS=3 DUR=15 bash bench/monitorcpu.sh
#
# A and B: dist folders (with lib/); B defaults to this tree's fulcrum-tools/target/dist.
# Needs wrk, curl and python3.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-15}
WARM=${WARM:-10}
CONC=${CONC:-16}
NBODIES=${NBODIES:-512}
PORT=${PORT:-$((20000 + RANDOM % 12000))}
B=${B:-fulcrum-tools/target/dist}
A=${A:?A=<dist folder of the build to compare with>}
. bin/find-java.sh
fulcrum_find_java
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "monitorcpu.sh needs $tool" >&2; exit 1; }
done
OUT="bench/results/monitorcpu-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT/repo"
cp -r demo/models/fraud_classifier "$OUT/repo/"
LUA="$OUT/fraud.lua"
python3 - "$NBODIES" "$LUA" <<'PY'
import json, random, sys
n, lua = int(sys.argv[1]), sys.argv[2]
rows = [l.strip().split(",")[:8] for l in open("demo/data/fraud_training.csv").readlines()[1:]]
random.seed(42)
bodies = []
for _ in range(n):
    r = [float(x) for x in random.choice(rows)]
    bodies.append(json.dumps({"inputs": [{"name": "features", "shape": [1, 8], "datatype": "FP32",
                                          "data": r}]}))
with open(lua, "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nbodies = {\n')
    for b in bodies:
        f.write("  " + json.dumps(b) + ",\n")
    f.write("}\ni = 0\nrequest = function()\n  i = i % #bodies + 1\n"
            "  return wrk.format(nil, nil, nil, bodies[i])\nend\n")
PY
BODY='{"inputs":[{"name":"features","shape":[1,8],"datatype":"FP32","data":[71.92,8,0.12,11.37,3,2083,0,0]}]}'
PID=""
cleanup() { if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi; }
trap cleanup EXIT
schedstat() { # pid [name] -> summed run ns of its threads (named so, when given)
  local t sum=0
  for t in /proc/"$1"/task/*; do
    [ -z "${2:-}" ] || [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ] || continue
    sum=$((sum + $(awk '{ print $1 }' "$t/schedstat" 2>/dev/null || echo 0)))
  done
  echo "$sum"
}
observations() {
  curl -fs "http://127.0.0.1:$PORT/v2/models/fraud_classifier/drift" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["observations"])'
}
arm() { # name dist
  set -f
  setsid "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$2/lib/*" \
    dev.fulcrum.tools.FulcrumCli serve --model-repository "$OUT/repo" --http-port "$PORT" \
    --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) >"$OUT/server-$1-$r.log" 2>&1 &
  PID=$!
  set +f
  for _ in $(seq 1200); do
    curl -fs -o /dev/null -H 'Content-Type: application/json' -d "$BODY" \
      "http://127.0.0.1:$PORT/v2/models/fraud_classifier/infer" 2>/dev/null && break
    sleep 0.1
  done
  wrk -t1 -c"$CONC" -d"${WARM}s" -s "$LUA" "http://127.0.0.1:$PORT/v2/models/fraud_classifier/infer" >/dev/null
  sleep 0.5 # the monitor catches up
  local o0 m0 s0 o1 m1 s1 rps q0 n0
  q0=$(observations); n0=$(schedstat "$PID" fulcrum-monitor)
  wrk -t1 -c1 -d"${DUR}s" -s "$LUA" "http://127.0.0.1:$PORT/v2/models/fraud_classifier/infer" >/dev/null
  sleep 0.5
  o0=$(observations); m0=$(schedstat "$PID" fulcrum-monitor); s0=$(schedstat "$PID")
  rps=$(wrk -t1 -c"$CONC" -d"${DUR}s" -s "$LUA" "http://127.0.0.1:$PORT/v2/models/fraud_classifier/infer" \
    | awk '/Requests\/sec/ { print $2 }')
  sleep 0.5
  o1=$(observations); m1=$(schedstat "$PID" fulcrum-monitor); s1=$(schedstat "$PID")
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  python3 - "$1" "$r" "$o0" "$o1" "$m0" "$m1" "$s0" "$s1" "$rps" "$q0" "$n0" <<'PY' | tee -a "$OUT/rounds.tsv"
import sys
name, r, o0, o1, m0, m1, s0, s1, rps, q0, n0 = sys.argv[1:]
n = int(o1) - int(o0)
lo_n, lo_m = int(o0) - int(q0), int(m0) - int(n0)  # the c=1 phase, as long
slope = ((int(m1) - int(m0)) - lo_m) / max(n - lo_n, 1)
print(f"{name}\tround {r}\tobservations {n}\tmonitor {(int(m1)-int(m0))/max(n,1):.0f} ns/obs"
      f"\tserver {(int(s1)-int(s0))/max(n,1)/1000:.1f} us/req\t{rps} req/s"
      f"\tslope {slope:.0f} ns/obs (c=1: {lo_n} obs)")
PY
}
echo "A = $A, B = $B; $ROUNDS rounds of ${DUR}s at c=$CONC, $NBODIES bodies; $OUT"
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then arm A "$A"; arm B "$B"; else arm B "$B"; arm A "$A"; fi
done
python3 - "$OUT/rounds.tsv" <<'PY'
import re, statistics, sys
per = {}
for line in open(sys.argv[1]):
    f = line.split("\t")
    per.setdefault(f[0], []).append((float(re.search(r"([\d.]+) ns", f[3]).group(1)),
                                      float(re.search(r"([\d.]+) us", f[4]).group(1)),
                                      float(re.search(r"slope (-?[\d.]+) ns", f[6]).group(1))))
for k in sorted(per):
    m = [x[0] for x in per[k]]; s = [x[1] for x in per[k]]; d = [x[2] for x in per[k]]
    print(f"{k}: monitor median {statistics.median(m):.0f} ns/obs ({min(m):.0f}..{max(m):.0f}),"
          f" slope median {statistics.median(d):.0f} ns/obs ({min(d):.0f}..{max(d):.0f}),"
          f" server median {statistics.median(s):.1f} us/req ({min(s):.1f}..{max(s):.1f})")
PY
