#!/usr/bin/env bash
# How long the REST port's event loops go between polls of their sockets during one fresh
# slowloris round (docs/PERFORMANCE.md, "Hostile clients", session 15): perf records every
# epoll_wait/epoll_pwait/epoll_pwait2 on the machine (tracepoints, as root) while
# `bench/hostile.sh --cases slowloris --slowloris-rounds 1` runs the launcher FULCRUM (default
# ./fulcrum, a built dist), then the gaps between one loop's consecutive polls are counted, both
# loops together: a gap of 0.98-1.12 s is the mark of Netty's 1 s task-processing quantum. Wall
# time: a busy machine lengthens every gap (a loop waits for a core), so compare interleaved runs.
#   PORT=35000 FULCRUM=/path/to/other/fulcrum bash bench/loopgaps.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT=${PORT:-18760}
REAL=${FULCRUM:-$ROOT/fulcrum}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# A launcher that notes its pid (the JVM's: the launchers exec it) before it starts the server.
printf '#!/usr/bin/env bash\necho $$ > %q\nexec %q "$@"\n' "$WORK/pid" "$REAL" > "$WORK/launcher"
chmod +x "$WORK/launcher"
perf record -q -a -o "$WORK/perf.data" -e syscalls:sys_enter_epoll_wait \
  -e syscalls:sys_enter_epoll_pwait -e syscalls:sys_enter_epoll_pwait2 -- sleep 600 >/dev/null 2>&1 &
PERF=$!
sleep 1
FULCRUM_NO_BUILD=1 FULCRUM="$WORK/launcher" PORT=$PORT SERVER_LOG="$WORK/server.log" \
  bash "$ROOT/bench/hostile.sh" --cases slowloris --slowloris-rounds 1 "$@" > "$WORK/report" 2>&1 || true
kill -INT $PERF; wait $PERF 2>/dev/null || true
grep -E "opened|normal requests during|answer after|ListenOverflows" "$WORK/report" | sed 's/TCPReqQFull.*//'
perf script -i "$WORK/perf.data" -F pid,tid,comm,time 2>/dev/null | python3 -c '
import collections, re, sys
pid = sys.argv[1]
polls, comm = collections.defaultdict(list), {}
for line in sys.stdin:
    m = re.match(r"\s*(.+?)\s+(\d+)/(\d+)\s+([\d.]+):", line)
    if m and m.group(2) == pid:
        comm[m.group(3)] = m.group(1)
        polls[m.group(3)].append(float(m.group(4)))
bins = collections.Counter()
longest = []
for t, ts in polls.items():
    if not comm[t].startswith("fulcrum-http") or comm[t].startswith("fulcrum-http-ac"):
        continue  # the REST event loops only, not the accept threads
    for a, b in zip(ts, ts[1:]):
        g = b - a
        longest.append(g)
        for lo, name in ((1.12, ">= 1.12 s"), (0.98, "0.98-1.12 s"), (0.5, "0.5-0.98 s"), (0.1, "0.1-0.5 s")):
            if g >= lo:
                bins[name] += 1
                break
longest.sort(reverse=True)
print("event loops gaps between polls:", ", ".join(f"{k} {bins[k]}" for k in (">= 1.12 s", "0.98-1.12 s", "0.5-0.98 s", "0.1-0.5 s")),
      "; longest", ", ".join(f"{g * 1000:.0f}" for g in longest[:4]), "ms")
' "$(cat "$WORK/pid")"
