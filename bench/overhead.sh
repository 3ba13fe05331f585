#!/usr/bin/env bash
# What drift monitoring (issue #11) and an open dashboard (issue #13) cost a request, measured so
# that a loaded machine blurs it as little as possible. Three arms on the demo fraud model, REST
# JSON, one body (the one bench/peers.sh sends):
#   off     a server whose repository is a copy of fraud_classifier with config.yaml's
#           `monitoring:` section removed (the model is not monitored; the dashboard feed runs)
#   on      the demo's fraud_classifier as shipped (monitoring on, every request compared)
#   page    the `on` server with SUBSCRIBERS event streams of /dashboard/events read by curl
#           (what an open dashboard page costs the server)
# Both servers run for the whole script; each round measures the three arms in a rotating order
# (so the machine's drift falls on all of them), and per arm:
#   cpu_us   server CPU per request: utime+stime of the server process (/proc/<pid>/stat) over
#            DUR s at RATE req/s offered by hey (-q per worker, 16 workers), divided by the
#            requests completed. Load on the machine moves this far less than throughput.
#   p50_us / p99_us   latency at c=1 (wrk -t1 -c1 --latency, microsecond resolution), DUR s
#   rps      closed-loop throughput at c=CONC (wrk -t1 -cCONC), DUR s: saturation
#   monitor_share   during the rps run, the fulcrum-monitor thread's CPU / the server's CPU
# and, after each round's arms, the issue's own measure of monitoring's throughput cost: PAIRS
# pairs of SAT s saturation windows, on and off back to back (order on,off then off,on: ABBA, so
# a machine's drift within a pair cancels over two pairs), with requests cycling through NBODIES
# rows of demo/data/fraud_training.csv (the one body above lets every search predict perfectly);
# each pair gives one ratio on/off, and the summary prints the median of all pairs' ratios and
# the median of the rounds' medians. Short adjacent windows put on and off under the same machine
# load far more often than one DUR s window per arm a minute apart.
# A first round of all three arms warms the JIT and is discarded (warm.jsonl).
# Prints per round, then per arm the median and range over the rounds, and the median of the
# per-round differences and ratios: on - off (the monitor's cost) and page / on (the page's cost).
# Targets: monitoring <= 3 % throughput and <= 50 µs at p50; dashboard open >= 0.99 throughput.
# The arms' runs send one row, so the monitor soon raises alerts on it (a few log lines) and its
# searches and score memo always hit: its per-request work there is below varied rows' (the pairs).
#   ROUNDS=9 DUR=5 bash bench/overhead.sh        (PAIRS=0: without the interleaved phase)
#   MONITOR_SCHED=idle ROUNDS=3 PAIRS=8 bash bench/overhead.sh   (the monitor thread under SCHED_IDLE)
# ON_ARGS: extra `fulcrum serve` flags for the on server (e.g. "--monitor-max-rate 10000").
# ALT_ARGS (session 19): a third server, `alt`, monitoring on as `on` plus these flags; the pairs
# then become triples (on, off, alt in a rotating order, SAT s each) and the summary adds alt / off
# and alt / on: two monitor settings against the same off windows, in the same minutes, e.g.
#   ALT_ARGS="--monitor-max-rate 10000" ROUNDS=3 PAIRS=8 bash bench/overhead.sh
# Needs wrk and hey (apt-get install -y wrk hey) and a built dist
# (./mvnw -B -ntp -DskipTests package; FULCRUM overrides the command).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
ROUNDS=${ROUNDS:-7}
DUR=${DUR:-5}
WARM=${WARM:-15}
RATE=${RATE:-2000}
CONC=${CONC:-64}
PAIRS=${PAIRS:-4}
SAT=${SAT:-3}
NBODIES=${NBODIES:-512}
SUBSCRIBERS=${SUBSCRIBERS:-1}
PORT=${PORT:-$((20000 + RANDOM % 12000))} # below the ephemeral range (32768-): a client port cannot take it
if [ -z "${FULCRUM:-}" ]; then
  . bin/find-java.sh
  fulcrum_find_java
  FULCRUM="$JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED -cp fulcrum-tools/target/dist/lib/* dev.fulcrum.tools.FulcrumCli"
fi
for tool in wrk hey curl python3; do
  command -v "$tool" >/dev/null || { echo "overhead.sh needs $tool (apt-get install -y wrk hey)" >&2; exit 1; }
done
OUT="bench/results/overhead-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

# Two repositories holding only the fraud model: as shipped, and without its monitoring section.
mkdir -p "$OUT/repo-on" "$OUT/repo-off"
cp -r demo/models/fraud_classifier "$OUT/repo-on/"
cp -r demo/models/fraud_classifier "$OUT/repo-off/"
python3 bench/config_variant.py "$OUT/repo-off/fraud_classifier/config.yaml" ""
grep -q '^monitoring:' "$OUT/repo-off/fraud_classifier/config.yaml" && { echo "monitoring still in the off copy" >&2; exit 1; }

BODY="$OUT/fraud.json"
cp "$BENCH_FRAUD_BODY" "$BODY"
LUA="$OUT/fraud.lua"
python3 - "$BODY" "$LUA" <<'PY'
import json, sys
body = open(sys.argv[1]).read().strip()
open(sys.argv[2], "w").write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                             f"wrk.body = {json.dumps(body)}\n")
PY
VARIED="$OUT/fraud-varied.lua" # NBODIES training rows, cycled (as bench/monitorcpu.sh sends)
python3 - "$NBODIES" "$VARIED" <<'PY'
import json, random, sys
n, lua = int(sys.argv[1]), sys.argv[2]
rows = [l.strip().split(",")[:8] for l in open("demo/data/fraud_training.csv").readlines()[1:]]
random.seed(42)
with open(lua, "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nbodies = {\n')
    for _ in range(n):
        r = [float(x) for x in random.choice(rows)]
        b = {"inputs": [{"name": "features", "shape": [1, 8], "datatype": "FP32", "data": r}]}
        f.write("  " + json.dumps(json.dumps(b)) + ",\n")
    f.write("}\ni = 0\nrequest = function()\n  i = i % #bodies + 1\n"
            "  return wrk.format(nil, nil, nil, bodies[i])\nend\n")
PY

PIDS=()
STREAMS=()
cleanup() {
  for s in "${STREAMS[@]}"; do kill "$s" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
start() { # name port [extra serve flags] -> pid
  local cmd extra
  set -f # FULCRUM's class path holds a '*' for java, not for the shell
  # shellcheck disable=SC2206
  cmd=($FULCRUM)
  # shellcheck disable=SC2206
  extra=(${3:-})
  set +f
  local repo=$1
  [ "$repo" = alt ] && repo=on
  setsid "${cmd[@]}" serve --model-repository "$OUT/repo-$repo" --http-port "$2" --grpc-port $(($2 + 1)) \
    --metrics-port $(($2 + 2)) "${extra[@]}" >"$OUT/server-$1.log" 2>&1 &
  echo $!
}
wait_ready() { # port
  for _ in $(seq 1200); do
    curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary "@$BODY" \
      "http://127.0.0.1:$1/v2/models/fraud_classifier/infer" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server on port $1 did not become ready" >&2
  exit 1
}
cpu_ticks() { # pid -> utime+stime in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
thread_ticks() { # pid name -> utime+stime of the process's threads with that name
  local t sum=0
  for t in /proc/"$1"/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ] || continue
    sum=$((sum + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat")))
  done
  echo "$sum"
}
HZ=$(getconf CLK_TCK)

ON_PORT=$PORT
OFF_PORT=$((PORT + 10))
ON_PID=$(start on "$ON_PORT" "${ON_ARGS:-}")
PIDS+=("$ON_PID")
OFF_PID=$(start off "$OFF_PORT")
PIDS+=("$OFF_PID")
wait_ready "$ON_PORT"
wait_ready "$OFF_PORT"
ALT_PORT=$((PORT + 20))
ALT_PID=
if [ -n "${ALT_ARGS:-}" ]; then
  ALT_PID=$(start alt "$ALT_PORT" "${ON_ARGS:-} $ALT_ARGS")
  PIDS+=("$ALT_PID")
  wait_ready "$ALT_PORT"
fi
# MONITOR_SCHED=idle: the on server's monitor thread under SCHED_IDLE (chrt), so it runs only on
# CPU nothing else wants: what monitoring would cost at saturation if it yielded to requests (its
# queue then drops and counts). An experiment, not what the server does.
if [ "${MONITOR_SCHED:-}" = idle ]; then
  for t in /proc/"$ON_PID"/task/*; do
    if [ "$(cat "$t/comm" 2>/dev/null)" = fulcrum-monitor ]; then
      chrt -i -p 0 "${t##*/}" && echo "fulcrum-monitor ${t##*/} under SCHED_IDLE" >&2
    fi
  done
fi
curl -fs "http://127.0.0.1:$ON_PORT/v2/models/fraud_classifier/drift" >/dev/null \
  || { echo "the on server does not monitor fraud_classifier" >&2; exit 1; }
if curl -fs "http://127.0.0.1:$OFF_PORT/v2/models/fraud_classifier/drift" >/dev/null 2>&1; then
  echo "the off server monitors fraud_classifier" >&2
  exit 1
fi
for p in "$ON_PORT" "$OFF_PORT"; do # JIT and caches warm on both before the first round
  wrk -t1 -c16 -d"${WARM}s" -s "$LUA" "http://127.0.0.1:$p/v2/models/fraud_classifier/infer" >/dev/null 2>&1
done
warm_alt() { # s: the alt server runs no arms; it gets as many seconds of load as off's arms get
  wrk -t1 -c"$CONC" -d"${1}s" -s "$VARIED" "http://127.0.0.1:$ALT_PORT/v2/models/fraud_classifier/infer" >/dev/null 2>&1
}
if [ -n "$ALT_PID" ]; then
  warm_alt "$((WARM + 3 * DUR))" # its own warm-up plus round 0's three windows (busy: C2 is slow)
fi

open_page() {
  STREAMS=()
  for i in $(seq "$SUBSCRIBERS"); do
    curl -sN "http://127.0.0.1:$ON_PORT/dashboard/events" >"$OUT/stream.$i.txt" &
    STREAMS+=($!)
  done
  sleep 2 # the first frame (the history) is out
}
close_page() {
  for s in "${STREAMS[@]}"; do kill "$s" 2>/dev/null || true; wait "$s" 2>/dev/null || true; done
  STREAMS=()
}
measure() { # arm round -> one JSON line
  local arm=$1 round=$2 port=$ON_PORT pid=$ON_PID
  [ "$arm" = off ] && { port=$OFF_PORT; pid=$OFF_PID; }
  local url="http://127.0.0.1:$port/v2/models/fraud_classifier/infer"
  [ "$arm" = page ] && open_page
  local before after out ok cpu lat rps frames=0
  before=$(cpu_ticks "$pid")
  out=$(hey -z "${DUR}s" -c 16 -q $((RATE / 16)) -m POST -T application/json -D "$BODY" "$url" 2>&1)
  after=$(cpu_ticks "$pid")
  ok=$(echo "$out" | awk '/\[200\]/ { print $2 }')
  cpu=$(python3 -c "import sys; print(round((int(sys.argv[2]) - int(sys.argv[1])) / int(sys.argv[3]) * 1e6 / max(1, int(sys.argv[4] or 0)), 2))" \
    "$before" "$after" "$HZ" "${ok:-0}")
  lat=$(wrk -t1 -c1 -d"${DUR}s" --latency -s "$LUA" "$url" 2>&1)
  local all0 mon0 all1 mon1 share
  all0=$(cpu_ticks "$pid"); mon0=$(thread_ticks "$pid" fulcrum-monitor)
  rps=$(wrk -t1 -c"$CONC" -d"${DUR}s" -s "$LUA" "$url" 2>&1 | awk '/Requests\/sec/ { print $2 }')
  all1=$(cpu_ticks "$pid"); mon1=$(thread_ticks "$pid" fulcrum-monitor)
  share=$(python3 -c "import sys; a=int(sys.argv[2])-int(sys.argv[1]); print(round((int(sys.argv[4])-int(sys.argv[3]))/a, 4) if a else 0)" \
    "$all0" "$all1" "$mon0" "$mon1")
  if [ "$arm" = page ]; then
    frames=$(cat "$OUT"/stream.*.txt | grep -c '^data: ' || true)
    close_page
  fi
  LAT="$lat" python3 - "$arm" "$round" "$cpu" "${ok:-0}" "$rps" "$frames" "$share" <<'PY'
import json, os, re, sys
arm, rnd, cpu, ok, rps, frames, share = sys.argv[1:]
lat = os.environ["LAT"]
def us(p):
    m = re.search(r"^\s*%s%%\s+([0-9.]+)(us|ms|s)\s*$" % p, lat, re.M)
    if not m:
        return None
    return round(float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)], 1)
print(json.dumps({"round": int(rnd), "arm": arm, "cpu_us": float(cpu), "cpu_requests": int(ok),
                  "p50_us": us(50), "p99_us": us(99), "rps": float(rps or 0),
                  "frames": int(frames), "monitor_share": float(share)}))
PY
}

saturate() { # arm -> req/s at c=CONC over SAT s, varied rows, and the monitor's CPU share
  local port=$ON_PORT pid=$ON_PID all0 mon0 all1 mon1 rps
  [ "$1" = off ] && { port=$OFF_PORT; pid=$OFF_PID; }
  [ "$1" = alt ] && { port=$ALT_PORT; pid=$ALT_PID; }
  all0=$(cpu_ticks "$pid"); mon0=$(thread_ticks "$pid" fulcrum-monitor)
  rps=$(wrk -t1 -c"$CONC" -d"${SAT}s" -s "$VARIED" "http://127.0.0.1:$port/v2/models/fraud_classifier/infer" \
    2>&1 | awk '/Requests\/sec/ { print $2 }')
  all1=$(cpu_ticks "$pid"); mon1=$(thread_ticks "$pid" fulcrum-monitor)
  python3 -c "import sys; a=int(sys.argv[3])-int(sys.argv[2]); print(sys.argv[1], round((int(sys.argv[5])-int(sys.argv[4]))/a, 4) if a else 0)" \
    "${rps:-0}" "$all0" "$all1" "$mon0" "$mon1"
}
pairs() { # round -> PAIRS JSON lines
  local k first second a b
  if [ -n "$ALT_PID" ]; then
    triples "$1"
    return
  fi
  for k in $(seq "$PAIRS"); do
    if [ $(((k + $1) % 2)) = 1 ]; then first=on; second=off; else first=off; second=on; fi
    a=$(saturate "$first"); b=$(saturate "$second")
    python3 - "$1" "$k" "$first" "$a" "$second" "$b" <<'PY'
import json, sys
rnd, k, first, a, second, b = sys.argv[1:]
m = {first: a.split(), second: b.split()}
on, off = float(m["on"][0]), float(m["off"][0])
print(json.dumps({"round": int(rnd), "pair": int(k), "order": f"{first},{second}", "on_rps": on,
                  "off_rps": off, "ratio": round(on / off, 4) if off else None,
                  "monitor_share": float(m["on"][1])}))
PY
  done
}

triples() { # round -> PAIRS JSON lines: on, off and alt in a rotating order
  local k arms a b c
  local rot=(on off alt on off alt)
  for k in $(seq "$PAIRS"); do
    arms=("${rot[@]:$(((k + $1) % 3)):3}")
    a=$(saturate "${arms[0]}"); b=$(saturate "${arms[1]}"); c=$(saturate "${arms[2]}")
    python3 - "$1" "$k" "${arms[0]}" "$a" "${arms[1]}" "$b" "${arms[2]}" "$c" <<'PY'
import json, sys
rnd, k = sys.argv[1:3]
m = {sys.argv[i]: sys.argv[i + 1].split() for i in (3, 5, 7)}
on, off, alt = (float(m[x][0]) for x in ("on", "off", "alt"))
print(json.dumps({"round": int(rnd), "pair": int(k), "order": ",".join(sys.argv[3:9:2]),
                  "on_rps": on, "off_rps": off, "alt_rps": alt,
                  "ratio": round(on / off, 4) if off else None,
                  "alt_ratio": round(alt / off, 4) if off else None,
                  "alt_on": round(alt / on, 4) if on else None,
                  "monitor_share": float(m["on"][1]), "alt_monitor_share": float(m["alt"][1])}))
PY
  done
}

: >"$OUT/rounds.jsonl"
: >"$OUT/pairs.jsonl"
: >"$OUT/warm.jsonl"
ARMS=(off on page)
# Round 0 runs every arm once and is discarded: the JIT compiles the paths each arm takes (the
# compiler's CPU time counts in the server's), and the page arm's first stream starts the feed's
# serializer.
for round in $(seq 0 "$ROUNDS"); do
  shift_by=$((round % 3))
  order=("${ARMS[@]:$shift_by}" "${ARMS[@]:0:$shift_by}")
  for arm in "${order[@]}"; do
    line=$(measure "$arm" "$round")
    if [ "$round" = 0 ]; then
      echo "$line" >>"$OUT/warm.jsonl"
    else
      echo "$line" | tee -a "$OUT/rounds.jsonl"
    fi
  done
  if [ "$round" != 0 ] && [ "$PAIRS" -gt 0 ]; then
    [ -n "$ALT_PID" ] && warm_alt "$((3 * DUR))" # as much load as the off server's arms had
    pairs "$round" | tee -a "$OUT/pairs.jsonl"
  fi
done
curl -fs "http://127.0.0.1:$ON_PORT/v2/models/fraud_classifier/drift" >"$OUT/drift.json" || true
if [ -n "$ALT_PID" ]; then
  curl -fs "http://127.0.0.1:$ALT_PORT/v2/models/fraud_classifier/drift" >"$OUT/drift-alt.json" || true
fi

python3 - "$OUT/rounds.jsonl" "$RATE" "$DUR" "$OUT/pairs.jsonl" "$SAT" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
RATE, DUR = int(sys.argv[2]), int(sys.argv[3])
by = {}
for r in rows:
    by.setdefault(r["round"], {})[r["arm"]] = r
def col(arm, k):
    return [by[n][arm][k] for n in sorted(by) if by[n][arm].get(k) is not None]
print(f"{len(by)} rounds; per arm: median (min..max)")
for k, unit in (("cpu_us", "µs server CPU / request at fixed rate"), ("p50_us", "µs p50 at c=1"),
                ("p99_us", "µs p99 at c=1"), ("rps", "req/s at saturation")):
    cells = []
    for arm in ("off", "on", "page"):
        xs = col(arm, k)
        cells.append(f"{arm} {statistics.median(xs):.1f} ({min(xs):.1f}..{max(xs):.1f})" if xs else f"{arm} -")
    print(f"  {k:7s} {unit}: " + ", ".join(cells))
def paired(a, b, k, ratio):
    xs = []
    for n in sorted(by):
        x, y = by[n][a].get(k), by[n][b].get(k)
        if x is not None and y is not None and (not ratio or y):
            xs.append(x / y if ratio else x - y)
    return xs
for (a, b, what) in (("on", "off", "monitoring on - off"), ("page", "on", "dashboard open - closed")):
    d_cpu = paired(a, b, "cpu_us", False)
    d_p50 = paired(a, b, "p50_us", False)
    r_rps = paired(a, b, "rps", True)
    print(f"{what}: CPU/request {statistics.median(d_cpu):+.1f} µs ({min(d_cpu):+.1f}..{max(d_cpu):+.1f}),"
          f" p50 {statistics.median(d_p50):+.1f} µs ({min(d_p50):+.1f}..{max(d_p50):+.1f}),"
          f" throughput ratio {statistics.median(r_rps):.3f} ({min(r_rps):.3f}..{max(r_rps):.3f})")
share = col("on", "monitor_share")
if share:
    print(f"monitor thread's share of the server's CPU at saturation (on arm): median"
          f" {statistics.median(share):.2%} ({min(share):.2%}..{max(share):.2%}); the CPU the"
          f" detectors take from the request path, whatever the throughput noise")
reached = [r["cpu_requests"] / (RATE * DUR) for r in rows]
if min(reached) < 0.9:
    print(f"WARNING: the offered rate was not reached in every CPU run (completed {min(reached):.0%}"
          f" of RATE x DUR at worst): CPU per request then counts the server's fixed background"
          f" work over fewer requests; lower RATE or rerun on a quieter machine")
pairs = [json.loads(l) for l in open(sys.argv[4])]
ratios = [p["ratio"] for p in pairs if p["ratio"]]
if ratios:
    per_round = {}
    for p in pairs:
        if p["ratio"]:
            per_round.setdefault(p["round"], []).append(p["ratio"])
    medians = [statistics.median(v) for v in per_round.values()]
    shares = [p["monitor_share"] for p in pairs]
    q = statistics.quantiles(ratios, n=4) if len(ratios) >= 4 else [min(ratios), 0, max(ratios)]
    print(f"interleaved saturation (varied rows, {len(ratios)} on/off pairs of {sys.argv[5]} s,"
          f" ABBA): throughput ratio on/off median {statistics.median(ratios):.3f}"
          f" (quartiles {q[0]:.3f}..{q[2]:.3f}, range {min(ratios):.3f}..{max(ratios):.3f});"
          f" median of the {len(medians)} rounds' medians {statistics.median(medians):.3f};"
          f" on {statistics.median(p['on_rps'] for p in pairs):.0f} req/s,"
          f" off {statistics.median(p['off_rps'] for p in pairs):.0f} req/s;"
          f" monitor thread's share of the on server's CPU {statistics.median(shares):.2%}")
alts = [p for p in pairs if p.get("alt_ratio")]
if alts:
    import os
    def q(xs):
        xs = sorted(xs)
        qq = statistics.quantiles(xs, n=4) if len(xs) >= 4 else [xs[0], 0, xs[-1]]
        return (f"median {statistics.median(xs):.3f} (quartiles {qq[0]:.3f}..{qq[2]:.3f},"
                f" range {xs[0]:.3f}..{xs[-1]:.3f})")
    print(f"alt server (monitoring on plus ALT_ARGS), {len(alts)} triples: alt/off {q([p['alt_ratio'] for p in alts])};"
          f" on/off in the same triples {q([p['ratio'] for p in alts])}; alt/on {q([p['alt_on'] for p in alts])};"
          f" alt {statistics.median(p['alt_rps'] for p in alts):.0f} req/s;"
          f" monitor thread's share: alt {statistics.median(p['alt_monitor_share'] for p in alts):.2%},"
          f" on {statistics.median(p['monitor_share'] for p in alts):.2%}")
    try:
        d = json.load(open(os.path.join(os.path.dirname(sys.argv[1]), "drift-alt.json")))
        o = json.load(open(os.path.join(os.path.dirname(sys.argv[1]), "drift.json")))
        print(f"rows compared: alt {d['observations']} (shed {d.get('shed')}, dropped {d['dropped']}),"
              f" on {o['observations']} (shed {o.get('shed')}, dropped {o['dropped']})")
    except (OSError, ValueError, KeyError):
        pass
frames = col("page", "frames")
print(f"frames received per page arm: {min(frames)}..{max(frames)}")
PY
echo "results: $OUT"
