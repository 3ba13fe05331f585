#!/usr/bin/env bash
# Where a WARM server's CPU per fraud request goes (issue 12; docs/PERFORMANCE.md, "Where a warm
# server's CPU per fraud request goes"). One server, started with frame pointers kept for Java
# stacks, warmed for WARM s at the measured load and then some, then at RATE req/s offered
# (hey -c 16 -q RATE/16, as bench/peers.sh) for three windows of DUR s each:
#   1. /proc: the process's CPU and each thread group's CPU and voluntary / involuntary context
#      switches per completed request (as bench/handoff.sh);
#   2. perf stat: system calls per request, by call and by thread group (syscalls:sys_enter_*);
#   3. perf record -g (cpu-clock, F Hz): samples split by thread group and, on the event loops and
#      the engine thread, by what the stack was doing (kernel: the system call or interrupt;
#      Java: decode, encode, HTTP codec, scheduler, ONNX Runtime, statistics and metrics...),
#      with Java symbols from `jcmd <pid> Compiler.perfmap`.
#   LAUNCHER=./fulcrum PORT=19600 WARM=20 DUR=10 RATE=4000 bash bench/fraudcpu.sh
# MODEL=minilm splits a MiniLM request (peers.sh's 16-token body) the same way; RATE=0 makes every
# window closed loop at CONC connections (default 16): `MODEL=minilm RATE=0 bash bench/fraudcpu.sh`
# is MiniLM at c=16, peers.sh's saturation window. MODEL=live splits `GET /v2/health/live` (the
# transport's floor) the same way: what a fraud request costs beyond it is fraud's own work.
# LAUNCHER is a script that runs `fulcrum "$@"` and passes FULCRUM_JAVA_OPTS to java (./fulcrum
# does). PROTOCOL=rest-json (default). Needs hey, perf (root, or perf_event_paranoid <= 1) and the
# JDK's jcmd. Counts (switches, system calls) are not blurred by a busy machine; CPU µs are
# somewhat; label them with the machine's state.
# Results: bench/results/<time>-fraudcpu/ (proc.json, syscalls.csv, perf.data, split.txt, summary.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bench/lib.sh"
cd "$ROOT"
WARM=${WARM:-20}
DUR=${DUR:-10}
PORT=${PORT:-19600}
RATE=${RATE:-4000}
FREQ=${FREQ:-999}
LAUNCHER=${LAUNCHER:-./fulcrum}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-fraudcpu"
mkdir -p "$OUT"
for tool in hey perf python3; do
  command -v "$tool" >/dev/null || { echo "fraudcpu.sh needs $tool" >&2; exit 1; }
done
. bin/find-java.sh
fulcrum_find_java

MODEL=${MODEL:-fraud}
CONC=${CONC:-16}
FRAUD="$OUT/$MODEL.json"  # the body of every request, whichever the model
case $MODEL in
  fraud)
    cp "$BENCH_FRAUD_BODY" "$FRAUD"
    URL="http://127.0.0.1:$PORT/v2/models/fraud_classifier/infer" ;;
  minilm)
    cp "$BENCH_MINILM_BODY" "$FRAUD"
    URL="http://127.0.0.1:$PORT/v2/models/all_minilm_l6_v2/infer" ;;
  live)
    : >"$FRAUD"
    URL="http://127.0.0.1:$PORT/v2/health/live" ;;
  *) echo "MODEL is fraud, minilm or live" >&2; exit 1 ;;
esac
REQ=(-m POST -T application/json -D "$FRAUD") # hey's method and body
[ "$MODEL" != live ] || REQ=()
Q=$(((RATE + CONC - 1) / CONC))
RATE_ARGS=(-q "$Q")
[ "$RATE" != 0 ] || RATE_ARGS=()

FULCRUM_JAVA_OPTS="${FULCRUM_JAVA_OPTS:-} -XX:+PreserveFramePointer" \
  setsid "$LAUNCHER" serve --http-port "$PORT" --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
  ${SERVE_ARGS:-} >"$OUT/server.log" 2>&1 &
PID=$!
trap 'kill -TERM -- "-$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  if [ "$MODEL" = live ]; then
    curl -fs -o /dev/null "http://127.0.0.1:$PORT/v2/models/fraud_classifier/ready" && break
  else
    curl -fs -o /dev/null -H 'Content-Type: application/json' --data-binary "@$FRAUD" "$URL" && break
  fi
  sleep 0.2
done
echo "server $PID up; warming $((WARM + 15))s" >&2
# Closed loop first: as many requests as the machine allows, so the JIT is done with the path.
hey -z "${WARM}s" -c 64 "${REQ[@]}" "$URL" >/dev/null 2>&1
hey -z 5s -c "$CONC" "${RATE_ARGS[@]}" "${REQ[@]}" "$URL" >/dev/null 2>&1
hey -z 5s -c 1 "${REQ[@]}" "$URL" >/dev/null 2>&1
hey -z 10s -c "$CONC" "${RATE_ARGS[@]}" "${REQ[@]}" "$URL" >/dev/null 2>&1

snapshot() { # -> JSON {"cpu": ticks, "threads": {tid: [name, voluntary, involuntary, ticks]}}
  python3 - "$PID" <<'PY'
import json, os, re, sys
pid = sys.argv[1]
stat = open(f"/proc/{pid}/stat").read()
f = stat[stat.rindex(")") + 2:].split()
threads = {}
for tid in os.listdir(f"/proc/{pid}/task"):
    try:
        st = open(f"/proc/{pid}/task/{tid}/status").read()
        ts = open(f"/proc/{pid}/task/{tid}/stat").read()
    except OSError:
        continue
    tf = ts[ts.rindex(")") + 2:].split()
    threads[tid] = [re.search(r"^Name:\s*(.*)$", st, re.M).group(1),
                    int(re.search(r"^voluntary_ctxt_switches:\s*(\d+)", st, re.M).group(1)),
                    int(re.search(r"^nonvoluntary_ctxt_switches:\s*(\d+)", st, re.M).group(1)),
                    int(tf[11]) + int(tf[12])]
print(json.dumps({"cpu": int(f[11]) + int(f[12]), "threads": threads}))
PY
}
load() { # -> hey's summary
  hey -z "${DUR}s" -c "$CONC" "${RATE_ARGS[@]}" "${REQ[@]}" "$URL" 2>&1
}
ok_of() { awk '$1 == "[200]" { print $2; exit }' "$1"; }

echo "window 1: /proc" >&2
snapshot >"$OUT/proc-before.json"
load >"$OUT/hey-proc.txt"
snapshot >"$OUT/proc-after.json"

echo "window 2: perf stat (system calls)" >&2
# One counter per thread and event: the calls a request path makes, and raw_syscalls for all.
# clock_gettime: the vDSO answers the wall clocks, but a thread's CPU clock (ThreadMXBean, the
# lone-pass learner) is a real system call (it was most of "(others)" before session 11).
CALLS=raw_syscalls:sys_enter
for c in read write readv writev recvfrom sendto recvmsg sendmsg epoll_wait epoll_pwait epoll_pwait2 \
  epoll_ctl io_uring_enter futex sched_yield nanosleep clock_nanosleep timerfd_settime mmap munmap madvise \
  mprotect ioctl getrusage sched_getaffinity rt_sigreturn clock_gettime; do
  CALLS+=",syscalls:sys_enter_$c"
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
perf stat -x, --per-thread -e "$CALLS" -p "$PID" -o "$OUT/syscalls.csv" -- sleep "$DUR" &
STAT=$!
load >"$OUT/hey-syscalls.txt"
wait "$STAT" || true
snapshot >"$OUT/proc-syscalls.json"

echo "window 3: perf record" >&2
perf record -q -e cpu-clock -F "$FREQ" -g -p "$PID" -o "$OUT/perf.data" -- sleep "$DUR" 2>"$OUT/perf-record.log" &
REC=$!
load >"$OUT/hey-perf.txt"
wait "$REC" || true
"$JAVA_HOME/bin/jcmd" "$PID" Compiler.perfmap >/dev/null 2>&1 || echo "jcmd Compiler.perfmap failed" >&2
perf script -i "$OUT/perf.data" -F comm,tid,ip,sym,dso 2>/dev/null >"$OUT/perf.script" || true

python3 bench/fraudcpu_split.py "$OUT" "$(ok_of "$OUT/hey-proc.txt")" "$(ok_of "$OUT/hey-syscalls.txt")" \
  "$(ok_of "$OUT/hey-perf.txt")" | tee "$OUT/summary.txt"
