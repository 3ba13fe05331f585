#!/usr/bin/env bash
# The REST port's I/O transport, A/B on one build (issue 12; docs/PERFORMANCE.md, "io_uring"):
# `fulcrum serve --transport A` and `--transport B`, one at a time, interleaved A B A B over N
# rounds. Each round of each transport, after WARM s of warm-up:
#   cpu_fraud   server CPU per fraud request, µs, at RATE req/s offered (hey -c 16 -q RATE/16, as
#               bench/peers.sh): utime+stime from /proc/<pid>/stat over the requests completed
#   cpu_live    the same for GET /v2/health/live at the same rate: the transport's own floor
#   sys_fraud   system calls per fraud request at RATE (perf stat -e raw_syscalls:sys_enter -p)
#   cs_fraud    voluntary + involuntary context switches of all the server's threads per request
#               at RATE (/proc/<pid>/task/*/status)
#   fraud64 / live64   req/s at c=64, closed loop (wrk -t1 -c64)
# and prints the median of each per transport and B / A.
#   A=epoll B=io_uring N=3 DUR=8 WARM=15 RATE=2000 PORT=22100 bash bench/transport.sh
# A_ARGS / B_ARGS add serve flags to one arm, e.g. one event loop per core against Netty's default:
#   A=epoll B=epoll B_ARGS="--http-thread-count 2" bash bench/transport.sh
# (arms are labelled A_LABEL / B_LABEL, by default the transport, with -a / -b when they are equal).
# LAUNCHER (default ./fulcrum) runs `fulcrum "$@"`. Needs hey, wrk, perf (perf_event_paranoid <= 1
# or root) for sys_fraud (null without it). On a busy machine offer a RATE it can serve: the CPU
# per request is only comparable when both transports complete about the offered rate.
# Results: bench/results/<time>-transport/ (one JSON line per transport and round; summary.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
A=${A:-epoll}
B=${B:-io_uring}
N=${N:-3}
DUR=${DUR:-8}
WARM=${WARM:-15}
RATE=${RATE:-4000}
PORT=${PORT:-22100}
LAUNCHER=${LAUNCHER:-./fulcrum}
A_LABEL=${A_LABEL:-$A}
B_LABEL=${B_LABEL:-$B}
if [ "$A_LABEL" = "$B_LABEL" ]; then A_LABEL="$A_LABEL-a"; B_LABEL="$B_LABEL-b"; fi
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-transport"
mkdir -p "$OUT"
for tool in hey wrk python3; do
  command -v "$tool" >/dev/null || { echo "transport.sh needs $tool" >&2; exit 1; }
done
FRAUD="$OUT/fraud.json"
cp "$BENCH_FRAUD_BODY" "$FRAUD"
python3 - "$FRAUD" "$OUT/fraud.lua" <<'PY'
import json, sys
body = open(sys.argv[1]).read().strip()
open(sys.argv[2], "w").write(
    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
    f"wrk.body = {json.dumps(body)}\n")
PY
Q=$(((RATE + 15) / 16))

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
switches() { # pid -> voluntary + involuntary context switches of all its threads
  cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s }'
}
ok_of() { awk '$1 == "[200]" { print $2; exit }'; }
fixed_rate() { # url [post] -> hey's summary
  if [ "${2:-}" = post ]; then
    hey -z "${DUR}s" -c 16 -q "$Q" -m POST -T application/json -D "$FRAUD" "$1" 2>&1
  else
    hey -z "${DUR}s" -c 16 -q "$Q" "$1" 2>&1
  fi
}
per_request() { # before after ok scale -> (after-before)*scale/ok
  python3 -c "print(round(($2 - $1) * $4 / max(1, ${3:-0}), 2))"
}
TCK=$(getconf CLK_TCK)
HAVE_PERF=0
if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then HAVE_PERF=1; fi

echo "transport: $N rounds of $A_LABEL ($A ${A_ARGS:-}), $B_LABEL ($B ${B_ARGS:-}); ${DUR}s windows at $RATE req/s; results in $OUT" >&2
for round in $(seq "$N"); do
  for arm in A B; do
    if [ "$arm" = A ]; then tr=$A t=$A_LABEL extra=${A_ARGS:-}; else tr=$B t=$B_LABEL extra=${B_ARGS:-}; fi
    port=$PORT
    # shellcheck disable=SC2086 # extra is a list of flags
    setsid "$LAUNCHER" serve --transport "$tr" --http-port "$port" --grpc-port $((port + 1)) \
      --metrics-port $((port + 2)) $extra >"$OUT/$t-$round.log" 2>&1 &
    pid=$!
    base="http://127.0.0.1:$port"
    url="$base/v2/models/fraud_classifier/infer"
    for _ in $(seq 900); do
      curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary "@$FRAUD" "$url" && break
      sleep 0.2
    done
    wrk -t1 -c16 -d"${WARM}s" -s "$OUT/fraud.lua" "$url" >/dev/null 2>&1
    wrk -t1 -c16 -d"$((WARM / 3 + 1))s" "$base/v2/health/live" >/dev/null 2>&1
    fixed_rate "$url" post >/dev/null
    # CPU per request at the offered rate: fraud, then the health probe.
    c0=$(cpu_ticks "$pid"); s0=$(switches "$pid")
    ok=$(fixed_rate "$url" post | ok_of)
    c1=$(cpu_ticks "$pid"); s1=$(switches "$pid")
    cpu_fraud=$(per_request "$c0" "$c1" "$ok" "1e6/$TCK")
    cs_fraud=$(per_request "$s0" "$s1" "$ok" 1)
    c0=$(cpu_ticks "$pid")
    okl=$(fixed_rate "$base/v2/health/live" | ok_of)
    c1=$(cpu_ticks "$pid")
    cpu_live=$(per_request "$c0" "$c1" "$okl" "1e6/$TCK")
    sys_fraud=null
    if [ "$HAVE_PERF" = 1 ]; then
      perf stat -x, -e raw_syscalls:sys_enter -p "$pid" -o "$OUT/$t-$round.perf" -- sleep "$DUR" &
      sp=$!
      oks=$(fixed_rate "$url" post | ok_of)
      wait "$sp" || true
      calls=$(awk -F, '/raw_syscalls:sys_enter/ { print $1; exit }' "$OUT/$t-$round.perf")
      sys_fraud=$(per_request 0 "${calls:-0}" "$oks" 1)
    fi
    fraud64=$(wrk -t1 -c64 -d"${DUR}s" -s "$OUT/fraud.lua" "$url" 2>&1 | awk '/Requests\/sec/ { print $2 }')
    live64=$(wrk -t1 -c64 -d"${DUR}s" "$base/v2/health/live" 2>&1 | awk '/Requests\/sec/ { print $2 }')
    line=$(printf '{"round":%d,"transport":"%s","fraud_ok":%s,"live_ok":%s,"cpu_fraud_us":%s,"cpu_live_us":%s,"sys_fraud":%s,"cs_fraud":%s,"fraud64":%s,"live64":%s}' \
      "$round" "$t" "${ok:-0}" "${okl:-0}" "$cpu_fraud" "$cpu_live" "$sys_fraud" "$cs_fraud" "${fraud64:-null}" "${live64:-null}")
    echo "$line" >>"$OUT/rounds.jsonl"
    echo "round $round $t: $line" >&2
    kill -TERM -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
done

python3 - "$OUT" "$A_LABEL" "$B_LABEL" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
out, a, b = sys.argv[1:]
rows = [json.loads(l) for l in open(f"{out}/rounds.jsonl") if l.strip()]
cols = ["fraud_ok", "live_ok", "cpu_fraud_us", "cpu_live_us", "sys_fraud", "cs_fraud", "fraud64", "live64"]
med = {}
for t in (a, b):
    med[t] = {}
    for c in cols:
        v = [r[c] for r in rows if r["transport"] == t and r.get(c) is not None]
        med[t][c] = statistics.median(v) if v else None
print(f"medians of {sum(r['transport'] == a for r in rows)} / {sum(r['transport'] == b for r in rows)} rounds")
print(f"{'':16}{a:>12}{b:>12}{b + ' / ' + a:>20}")
for c in cols:
    x, y = med[a][c], med[b][c]
    ratio = f"{y / x:.2f}" if x and y is not None else "-"
    print(f"{c:16}{x if x is not None else '-':>12}{y if y is not None else '-':>12}{ratio:>20}")
for t in (a, b):
    m = med[t]
    if m["fraud64"] and m["live64"]:
        print(f"{t}: fraud c=64 / live c=64 = {m['fraud64'] / m['live64']:.2f}; "
              f"CPU/req fraud / live = {m['cpu_fraud_us'] / m['cpu_live_us']:.2f}" if m["cpu_live_us"] else "")
json.dump(med, open(f"{out}/summary.json", "w"), indent=1)
PY
