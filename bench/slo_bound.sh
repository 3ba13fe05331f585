#!/usr/bin/env bash
# The machine's bound for issue #10's MiniLM objective (100 ms, 80 % of capacity, 5 minutes):
# MiniLM on ONNX Runtime alone in one JVM (bench/ortcall/MiniLmSlo.java), no HTTP and no client
# process, open-loop Poisson arrivals batched greedily by two one-thread workers on one session (the
# demo server's layout), every request served. Two runs: at FRACTION (0.8) of the capacity it
# measures itself first, and at RATE (default 1032/s: 80 % of the server's capacity in
# bench/slo.sh, session 29). What the model alone keeps on this machine at that load, with nothing
# of a server around it (no sockets, codecs or second process): the reference for the server's
# figure. Greedy batching is not proven optimal, so it is a reference, not a strict bound.
#   SECONDS=300 bash bench/slo_bound.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. bin/find-java.sh
fulcrum_find_java
SECONDS_RUN=${SECONDS:-300}
FRACTION=${FRACTION:-0.8}
RATE=${RATE:-1032}
SLO_MS=${SLO_MS:-100}
. bench/lib.sh
JAR=$(bench_ort_jar)
MODEL=$BENCH_MINILM_MODEL
bench_need_minilm slo_bound.sh
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$JAVA_HOME/bin/javac" -d "$OUT" -cp "$JAR" bench/ortcall/MiniLmSlo.java
for r in $FRACTION $RATE; do
  [ "$r" = 0 ] && continue
  echo "== $(date -u +%H:%M:%S) MiniLM in process, load $r, $SECONDS_RUN s (load average $(cut -d' ' -f1 /proc/loadavg))"
  "$JAVA_HOME/bin/java" -XX:+UseParallelGC -cp "$JAR:$OUT" MiniLmSlo "$MODEL" "$SECONDS_RUN" "$r" "$SLO_MS" 2>&1 | grep -v WARN
done
