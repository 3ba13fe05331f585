#!/usr/bin/env bash
# MiniLM's ONNX Runtime pass alone, in process (issue 12; docs/PERFORMANCE.md, "Session 18: one row
# on one thread"): the one-row pass on 1 thread, 2 threads without spinning (Fulcrum as shipped) and
# 2 spinning threads (the Java peer's ORT defaults), back to back and GAP_US apart, interleaved over
# N rounds; then CPU per row at batch 8 for one 2-thread session, two 1-thread sessions and one
# 1-thread session. Busy machine: compare only within a run.
#   N=3 GAP_US=1000 bash bench/minilmcall.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. bin/find-java.sh
fulcrum_find_java
N=${N:-3}
GAP_US=${GAP_US:-1000}
. bench/lib.sh
JAR=$(bench_ort_jar)
MODEL=$BENCH_MINILM_MODEL
bench_need_minilm minilmcall.sh
OUT=$(mktemp -d)
"$JAVA_HOME/bin/javac" -d "$OUT" -cp "$JAR" bench/ortcall/MiniLmCall.java bench/ortcall/MiniLmRows.java
for round in $(seq "$N"); do
  for v in "1 nospin" "2 nospin" "2 spin"; do
    for gap in 0 "$GAP_US"; do
      "$JAVA_HOME/bin/java" -cp "$JAR:$OUT" MiniLmCall "$MODEL" $v "$gap" 600 2>&1 | grep -v WARN | tail -1
    done
  done
  for v in "1 2 8" "2 1 8" "1 1 8"; do
    "$JAVA_HOME/bin/java" -cp "$JAR:$OUT" MiniLmRows "$MODEL" $v 4 2>&1 | grep -v WARN | tail -1
  done
done
rm -rf "$OUT"
