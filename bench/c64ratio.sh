#!/usr/bin/env bash
# Issue 12's c=64 ratio, A/B and interleaved: fraud REST JSON req/s over the same server's own
# `GET /v2/health/live` req/s, closed loop at c=64 with wrk (-t1 -c64, as bench/peers.sh), for one
# or two builds side by side (docs/PERFORMANCE.md, "Per-request cost", session 16).
#   A=<launcher> [B=<launcher>] PORT=23000 N=3 DUR=8 WARM=15 bash bench/c64ratio.sh
# Both servers are up at once (the idle one costs a few ms/s); every round runs, for each arm in
# turn (the order alternates by round), an unmeasured PRE s window and a measured DUR s window of the
# probe, then the same of fraud, and records req/s and the server's CPU per request (/proc) of each
# window, and the cores (CPU seconds a second) of the server, of its REST event loops and of wrk
# (GNU time): on two cores with one loop, whichever of the loop and wrk (one thread each) sits at a
# full core is the bound (PERFORMANCE.md, "Session 22 (lead)"). The ratio of a round is fraud /
# probe of the same server in the same round, so a machine that grows busier between rounds moves
# both. A launcher runs `fulcrum "$@"` and passes
# FULCRUM_JAVA_OPTS (./fulcrum does; bench scripts' copies with another DIST too).
# PERF=1 adds, per arm and load, one more window under `perf record -g` (cpu-clock, 999 Hz, frame
# pointers and the JIT's perf map) in OUT/perf-<arm>-<load>.script, for bench/fraudcpu_split.py.
# Results: bench/results/<time>-c64ratio/ (rounds.tsv, summary.txt, server logs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
A=${A:-./fulcrum}
B=${B:-}
PORT=${PORT:-23000}
N=${N:-3}
DUR=${DUR:-8}
PRE=${PRE:-3}
WARM=${WARM:-15}
CONC=${CONC:-64}
PERF=${PERF:-0}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-c64ratio"
mkdir -p "$OUT"
for tool in wrk python3 curl; do
  command -v "$tool" >/dev/null || { echo "c64ratio.sh needs $tool" >&2; exit 1; }
done
. bin/find-java.sh
fulcrum_find_java

FRAUD_LUA="$OUT/fraud.lua"
printf '%s\n' 'wrk.method = "POST"' 'wrk.headers["Content-Type"] = "application/json"' \
  'wrk.body = "{\"inputs\":[{\"name\":\"features\",\"shape\":[1,8],\"datatype\":\"FP32\",\"data\":[1250.0,3,0.92,410.5,14,20,1,0]}]}"' \
  >"$FRAUD_LUA"

ARMS=(A)
[ -z "$B" ] || ARMS+=(B)
declare -A LAUNCH PIDS SPIDS PORTS
LAUNCH[A]=$A
LAUNCH[B]=$B
cleanup() {
  for arm in "${ARMS[@]}"; do
    [ -z "${PIDS[$arm]:-}" ] || kill -TERM -- "-${PIDS[$arm]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT
i=0
for arm in "${ARMS[@]}"; do
  p=$((PORT + 10 * i))
  PORTS[$arm]=$p
  FULCRUM_NO_BUILD=1 FULCRUM_JAVA_OPTS="${FULCRUM_JAVA_OPTS:-} -XX:+PreserveFramePointer" \
    setsid "${LAUNCH[$arm]}" serve --http-port "$p" --grpc-port $((p + 1)) --metrics-port $((p + 2)) \
    ${SERVE_ARGS:-} >"$OUT/server-$arm.log" 2>&1 &
  PIDS[$arm]=$!
  i=$((i + 1))
done
url() { # arm load -> URL
  if [ "$2" = live ]; then echo "http://127.0.0.1:${PORTS[$1]}/v2/health/live"
  else echo "http://127.0.0.1:${PORTS[$1]}/v2/models/fraud_classifier/infer"; fi
}
for arm in "${ARMS[@]}"; do
  for _ in $(seq 600); do
    curl -fs -o /dev/null "http://127.0.0.1:${PORTS[$arm]}/v2/models/fraud_classifier/ready" && break
    sleep 0.2
  done
  # the java process (the launcher execs it, setsid keeps the pid)
  SPIDS[$arm]=${PIDS[$arm]}
done
run_wrk() { # arm load secs -> wrk's output, then "client-cpu-s <user+system s>" (GNU time)
  local t="$OUT/wrk-time" timed=()
  [ -z "$TIME" ] || timed=("$TIME" -f 'client-cpu-s %U %S' -o "$t")
  if [ "$2" = live ]; then "${timed[@]}" wrk -t1 -c"$CONC" -d"$3s" "$(url "$1" live)" 2>&1
  else "${timed[@]}" wrk -t1 -c"$CONC" -d"$3s" -s "$FRAUD_LUA" "$(url "$1" fraud)" 2>&1; fi
  [ -z "$TIME" ] || awk '{ print $1, $2 + $3 }' "$t"
}
passes() { # arm -> "inference_count execution_count" of fraud_classifier
  curl -fs "http://127.0.0.1:${PORTS[$1]}/v2/models/fraud_classifier/stats" | python3 bench/model_counts.py 2>/dev/null || echo "0 0"
}
ticks() { awk '{ s = substr($0, index($0, ")") + 2); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
loop_ticks() { # pid -> CPU ticks of its REST event loops (fulcrum-http-*, not the acceptors)
  local sum=0 t c
  for t in /proc/"$1"/task/*; do
    c=$(cat "$t/comm" 2>/dev/null) || continue
    case "$c" in fulcrum-http-ac*) ;; fulcrum-http-*) sum=$((sum + $(ticks "${t#/proc/}" 2>/dev/null || echo 0))) ;; esac
  done
  echo "$sum"
}
# GNU time gives the client's own CPU: whether wrk (one thread) or the server's loop is the bound
TIME=$(command -v /usr/bin/time || true)
echo "warming each server ${WARM}s per load" >&2
for arm in "${ARMS[@]}"; do
  for load in fraud live; do run_wrk "$arm" "$load" "$WARM" >/dev/null; done
done
printf 'round\tarm\tload\treq_s\tcpu_us_per_req\tload_avg\trows_per_pass\tserver_cores\tloop_cores\tclient_cores\n' >"$OUT/rounds.tsv"
for r in $(seq "$N"); do
  order=("${ARMS[@]}")
  if [ $((r % 2)) = 0 ] && [ ${#ARMS[@]} = 2 ]; then order=(B A); fi
  for arm in "${order[@]}"; do
    for load in live fraud; do
      [ "$PRE" = 0 ] || run_wrk "$arm" "$load" "$PRE" >/dev/null
      c0=$(passes "$arm")
      t0=$(ticks "${SPIDS[$arm]}")
      l0=$(loop_ticks "${SPIDS[$arm]}")
      out=$(run_wrk "$arm" "$load" "$DUR")
      t1=$(ticks "${SPIDS[$arm]}")
      l1=$(loop_ticks "${SPIDS[$arm]}")
      c1=$(passes "$arm")
      rpp=$(python3 -c "a='$c0'.split(); b='$c1'.split(); e=int(b[1])-int(a[1]); print(round((int(b[0])-int(a[0]))/e, 2) if e > 0 else '-')")
      rps=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
      total=$(echo "$out" | awk '/requests in/ { print $1 }')
      cpu=$(python3 -c "import os; print(round(($t1 - $t0) / os.sysconf('SC_CLK_TCK') / max(1, int('${total:-0}')) * 1e6, 1))")
      la=$(cut -d' ' -f1 /proc/loadavg)
      cores=$(python3 -c "import os; k = os.sysconf('SC_CLK_TCK') * $DUR; print(f'{($t1 - $t0) / k:.2f}\t{($l1 - $l0) / k:.2f}')")
      client=$(echo "$out" | awk -v d="$DUR" '/^client-cpu-s/ { printf "%.2f", $2 / d }')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$arm" "$load" "$rps" "$cpu" "$la" "$rpp" "$cores" "${client:--}" | tee -a "$OUT/rounds.tsv" >&2
    done
  done
done
if [ "$PERF" = 1 ]; then
  for arm in "${ARMS[@]}"; do
    for load in live fraud; do
      perf record -q -e cpu-clock -F 999 -g -p "${SPIDS[$arm]}" -o "$OUT/perf-$arm-$load.data" -- sleep "$DUR" 2>/dev/null &
      rec=$!
      out=$(run_wrk "$arm" "$load" "$DUR")
      wait "$rec" || true
      echo "$out" | awk '/requests in/ { print $1 }' >"$OUT/perf-$arm-$load.count"
      "$JAVA_HOME/bin/jcmd" "${SPIDS[$arm]}" Compiler.perfmap >/dev/null 2>&1 || true
      perf script -i "$OUT/perf-$arm-$load.data" -F comm,tid,ip,sym,dso 2>/dev/null >"$OUT/perf-$arm-$load.script" || true
    done
  done
fi
python3 - "$OUT/rounds.tsv" <<'PY' | tee "$OUT/summary.txt"
import collections, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
by = collections.defaultdict(dict)
for r, arm, load, rps, cpu, la, rpp, sc, lc, cc in rows:
    by[(arm, r)][load] = (float(rps or 0), float(cpu), la, rpp, sc, lc, cc)
ratios = collections.defaultdict(list)
print("arm round  probe req/s (cpu us)  fraud req/s (cpu us)  fraud/probe  load  fraud rows/pass"
      "  cores probe / fraud: server, its event loops, the client (wrk)")
for (arm, r), d in sorted(by.items(), key=lambda kv: (kv[0][0], int(kv[0][1]))):
    if "live" in d and "fraud" in d:
        ratio = d["fraud"][0] / d["live"][0] if d["live"][0] else 0
        ratios[arm].append(ratio)
        print(f"{arm}   {r:>5}  {d['live'][0]:>10.0f} ({d['live'][1]:5.1f})  {d['fraud'][0]:>10.0f} ({d['fraud'][1]:5.1f})  {ratio:11.3f}  {d['fraud'][2]}  {d['fraud'][3]}"
              f"  {'/'.join(d['live'][4:])} | {'/'.join(d['fraud'][4:])}")
for arm, v in sorted(ratios.items()):
    print(f"{arm}: median fraud/probe {statistics.median(v):.3f} over {len(v)} rounds")
PY
