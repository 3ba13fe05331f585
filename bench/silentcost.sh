#!/usr/bin/env bash
# What one silent connection costs a server's accept thread and event loops, per accepted
# connection (docs/PERFORMANCE.md, "Hostile clients", session 14): starts a server (the launcher
# FULCRUM, default ./fulcrum, a built dist), opens N connections as fast as one process can
# (default 8,000: the default cap of 4,096 evicts the rest), holds them 3 s, closes them, and
# prints the CPU the threads took over the burst, divided by the connections accepted.
#   PORT=28310 bash bench/silentcost.sh -Xint          # the path interpreted, as a fresh JVM runs it
#   FULCRUM=/path/to/other/fulcrum N=8000 bash bench/silentcost.sh -Xint
#   FIRST_BYTE=1 bash bench/silentcost.sh -Xint   # then one head byte on each, as the slowloris
#                                                 # attack's first tick: the first reads' cost too
# Extra arguments are JVM options (FULCRUM_JAVA_OPTS). CPU time, so a busy machine inflates it:
# compare interleaved runs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FULCRUM=${FULCRUM:-$ROOT/fulcrum}
PORT=${PORT:-18750}
N=${N:-8000}
FIRST_BYTE=${FIRST_BYTE:-0}
LOG=${SERVER_LOG:-/tmp/fulcrum-silentcost-$PORT.log}
ulimit -n "$(ulimit -Hn)"
FULCRUM_NO_BUILD=1 FULCRUM_JAVA_OPTS="$*" "$FULCRUM" serve --http-port "$PORT" \
  --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) > "$LOG" 2>&1 &
S=$!
trap 'kill -TERM $S 2>/dev/null; wait $S 2>/dev/null || true' EXIT
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && break; sleep 1; done
cpu() { # accept threads, event loops: clock ticks
  for t in /proc/$S/task/*; do
    read -r -a f < <(sed 's/^.*) //' "$t/stat"); echo "$(cat "$t/comm") $((f[11] + f[12]))"
  done | awk '{if ($1 ~ /^fulcrum-http-ac/) a += $2; else if ($1 ~ /^fulcrum-http-/) l += $2} END {print a + 0, l + 0}'
}
sleep 2
read -r a0 l0 < <(cpu)
python3 - "$PORT" "$N" "$FIRST_BYTE" <<'PY'
import resource, socket, sys, time
port, n, first_byte = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))
socks = []
for _ in range(n):
    s = socket.socket(); s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    socks.append(s)
if first_byte:  # the attack's first tick: one byte on every connection still open, right away
    time.sleep(0.2)
    for s in socks:
        try:
            s.send(b"G")
        except OSError:
            pass
time.sleep(3)
for s in socks:
    s.close()
PY
sleep 12 # the cap's evictions and the closes done
read -r a1 l1 < <(cpu)
kill -TERM $S; wait $S 2>/dev/null || true
trap - EXIT
evicted=$(grep -o "[0-9]* evicted" "$LOG" | cut -d' ' -f1)
max=4096
accepted=$((${evicted:-0} + (N < max ? N : max)))
tick_us=$((1000000 / $(getconf CLK_TCK)))
echo "load $(cut -d' ' -f1 /proc/loadavg); first byte $FIRST_BYTE; $accepted connections accepted ($evicted evicted):" \
  "accept threads $(((a1 - a0) * tick_us / accepted)) us, event loops $(((l1 - l0) * tick_us / accepted)) us a connection (loops $(((l1 - l0) * tick_us / 1000)) ms in all)"
