#!/usr/bin/env bash
# The start steps' own thread CPU (the `Startup` debug lines: http, models, onnxruntime, grpc,
# metrics), interleaved fresh starts of a base build and this checkout's dist, each stopped once
# ready (docs/PERFORMANCE.md, "Cold start", session 17, second helper). A step's thread ends when
# the step does, so bench/coldstart.sh's per-thread CPU at the fraud answer cannot show it.
# Also the main thread's marks (`start: ...`): its CPU (and JVM uptime) when it had read the command
# line, set up metrics, and set up the repository just before the models' start (session 19).
#   BASE_ROOT=/tmp/base N=5 PORT=25011 bash bench/coldstart_steps.sh
# BASE_ROOT: a copy of a checkout's `fulcrum`, `bin/` and dist with its own AOT cache (as for
# bench/coldstart.sh's `base`); both use this checkout's demo repository. Does not build.
# NEW_OPTS / BASE_OPTS (session 20): JVM options added to one side only (FULCRUM_JAVA_OPTS), e.g.
# a flag's A/B on one dist: BASE_ROOT=$PWD NEW_OPTS=--sun-misc-unsafe-memory-access=allow ...
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N=${N:-5}
PORT=${PORT:-18811}
BASE_ROOT=${BASE_ROOT:?BASE_ROOT: a copy of the launcher and dist}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-steps"
mkdir -p "$OUT"
export FULCRUM_NO_BUILD=1
JOPT="-Dorg.slf4j.simpleLogger.log.dev.fulcrum.tools.serve.Startup=debug"
for i in $(seq 1 "$N"); do
  for v in base new; do
    log="$OUT/$v-$i.log"
    if [ "$v" = base ]; then
      cmd=(env FULCRUM_HOME="$BASE_ROOT" "$BASE_ROOT/fulcrum") opts="${BASE_OPTS:-}"
    else
      cmd=(./fulcrum) opts="${NEW_OPTS:-}"
    fi
    FULCRUM_JAVA_OPTS="$JOPT $opts" "${cmd[@]}" serve --model-repository "$ROOT/demo/models" \
      --http-port "$PORT" --grpc-port $((PORT + 2)) --metrics-port $((PORT + 4)) >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do grep -q "server is READY" "$log" && break; sleep 0.2; done
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
python3 - "$OUT" "$N" <<'PY' | tee "$OUT/summary.txt"
import re, statistics, sys
out, n = sys.argv[1], int(sys.argv[2])
cpu = {}
for i in range(1, n + 1):
    for v in ("base", "new"):
        text = open(f"{out}/{v}-{i}.log").read()
        for m in re.finditer(r"start step (\w+) ended [0-9.]+ s after the JVM started, ([0-9.]+) s CPU", text):
            cpu.setdefault((m.group(1), v), []).append(float(m.group(2)))
        for m in re.finditer(r"start: ([a-z ]+?) ([0-9.]+) s after the JVM started, ([0-9.]+) s CPU", text):
            cpu.setdefault(("main: " + m.group(1), v), []).append(float(m.group(3)))
            cpu.setdefault(("main: " + m.group(1) + " (uptime)", v), []).append(float(m.group(2)))
print("step thread CPU, s (median base, median new; new/base round by round)")
marks = sorted({k for k, _ in cpu if k.startswith("main: ")}, key=lambda k: (k.endswith("(uptime)"), statistics.median(cpu[(k, "base")]) if (k, "base") in cpu else 0))
for step in ["http", "models", "onnxruntime", "grpc", "metrics"] + marks:
    b, w = cpu.get((step, "base"), []), cpu.get((step, "new"), [])
    if b and w:
        ratios = " ".join(f"{y / x:.2f}" for x, y in zip(b, w))
        print(f"{step:12} {statistics.median(b):.3f} {statistics.median(w):.3f}  {ratios}")
PY
