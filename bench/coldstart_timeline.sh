#!/usr/bin/env bash
# Cold-start timeline (docs/PERFORMANCE.md, "Cold start"): what is on the path from the process's
# spawn to the first fraud_classifier answer. Starts `./fulcrum serve` N times (default 3, the AOT
# cache on unless FULCRUM_NO_AOT=1) with
#   -Xlog:startuptime (the JVM's own phases), -Xlog:class+load with uptime and thread id,
#   the start steps' debug lines (each step's end and its thread's CPU, the main thread's marks),
# and the probe's per-thread CPU at the first fraud answer; then prints, for the last start:
# the JVM phases, each start step, classes loaded by the fraud answer grouped by library (and by
# where they came from: the AOT cache or a jar), and the thread CPU. Does not build.
#   N=3 PORT=18900 bash bench/coldstart_timeline.sh
# Results: bench/results/<time>-timeline/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N=${N:-3}
PORT=${PORT:-18900}
STEP=${PORT_STEP:-1} # 2 with an odd PORT: every port odd (bench/coldstart.sh's header)
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-timeline"
mkdir -p "$OUT"
export FULCRUM_NO_BUILD=1
for round in $(seq "$N"); do
  rm -f "$OUT/classes.log"
  FULCRUM_JAVA_OPTS="-Xlog:startuptime:file=$OUT/startuptime.log:uptime -Xlog:class+load:file=$OUT/classes.log:uptime,tid -Dorg.slf4j.simpleLogger.log.dev.fulcrum.tools.serve.Startup=debug ${FULCRUM_JAVA_OPTS:-}" \
    python3 bench/coldstart_probe.py --port "$PORT" --log "$OUT/server-$round.log" --threads \
      --count-lines "$OUT/classes.log" -- ./fulcrum serve --http-port "$PORT" \
      --grpc-port $((PORT + STEP)) --metrics-port $((PORT + 2 * STEP)) | tee -a "$OUT/probe.jsonl" >&2
done

python3 - "$OUT" "$N" <<'PY' | tee "$OUT/timeline.txt"
import json, re, sys
out, n = sys.argv[1], sys.argv[2]
probe = [json.loads(l) for l in open(f"{out}/probe.jsonl") if l.strip()][-1]
print(f"last of {n} starts: ready {probe.get('ready')} s, first fraud answer "
      f"{probe.get('fraud_classifier')} s after the spawn; CPU then {probe.get('cpu_fraud_classifier')} s")
print("\nJVM phases (-Xlog:startuptime):")
for line in open(f"{out}/startuptime.log"):
    print("  " + line.rstrip())
print("\nstart steps (JVM uptime; the thread's CPU):")
for line in open(f"{out}/server-{n}.log", errors="replace"):
    if "start step" in line or "start: " in line or "READY" in line or " on http" in line \
            or "(Open Inference Protocol) on" in line:
        print("  " + line.rstrip())
lines = open(f"{out}/classes.log", errors="replace").read().splitlines()[: probe.get("lines_at_fraud") or None]
groups = {}
pat = re.compile(r"^\[([0-9.]+)s\]\[\s*(\d+)\s*\] (\S+) source: (.*)$")  # thread ids are padded
def group(name):
    for prefix, g in (("picocli.", "picocli"), ("io.netty.", "netty"), ("io.grpc.", "grpc"),
                      ("com.google.protobuf", "protobuf"), ("io.prometheus", "prometheus"),
                      ("ai.onnxruntime", "onnxruntime"), ("com.fasterxml.jackson", "jackson"),
                      ("org.yaml", "snakeyaml"), ("dev.fulcrum.", "fulcrum"),
                      ("org.slf4j", "slf4j"), ("java.", "jdk"), ("javax.", "jdk"),
                      ("jdk.", "jdk"), ("sun.", "jdk"), ("com.sun.", "jdk")):
        if name.startswith(prefix):
            return g
    return "other"
for l in lines:
    m = pat.match(l)
    if not m:
        continue
    t, _, name, source = m.groups()
    where = "aot" if "shared objects file" in source else "jar/jrt" if ("file:" in source or "jrt:" in source) else "generated"
    g = groups.setdefault(group(name), {"n": 0, "aot": 0, "jar/jrt": 0, "generated": 0, "first": float(t), "last": 0.0})
    g["n"] += 1
    g[where] += 1
    g["last"] = float(t)
print(f"\nclasses loaded by the first fraud answer: {sum(g['n'] for g in groups.values())}")
print(f"  {'library':12} {'classes':>7} {'AOT':>6} {'jar/jrt':>7} {'generated':>9} {'first':>7} {'last':>7}")
for name, g in sorted(groups.items(), key=lambda kv: -kv[1]["n"]):
    print(f"  {name:12} {g['n']:>7} {g['aot']:>6} {g['jar/jrt']:>7} {g['generated']:>9} {g['first']:>7.3f} {g['last']:>7.3f}")
print("\nthread CPU at the first fraud answer (s; threads that had ended are not listed):")
for name, cpu in (probe.get("threads") or {}).items():
    if cpu > 0:
        print(f"  {name:16} {cpu:.2f}")
PY
echo "results in $OUT" >&2
