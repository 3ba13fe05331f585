#!/usr/bin/env bash
# The drift monitor's per-request costs before and after a change, in one run (JMH, -prof gc):
#   MonitorCompareBenchmark.compareCopied  the monitor thread's comparison of one fraud request's
#       rows with the demo baseline, values already copied: run on the build of BASE (default
#       e8d5a26, before the monitor's cost cuts; the benchmark's files are copied into it) and on
#       this tree, alternately, ROUNDS times each
#   MonitorHandOffBenchmark (this tree only): handOffCopy (the engine thread's work before: copy
#       into an Observation, ArrayBlockingQueue), handOffReference (after: one Completed on the
#       lock-free ring), compareLive (the monitor thread's work after, reading the tensors itself)
#   CompareCpuTime / HandOffCpuTime: the same operations timed in the thread's own CPU time
#       (ThreadMXBean), which a busy machine stretches far less than JMH's wall-clock ns/op
# ROWS: rows per request (the fraud bench sends 1). Short by default: -f 1 -wi 3 -i 5 -r 1s.
#
#   ROUNDS=2 bash bench/monitorjmh.sh           # BASE=<ref> to compare with another commit
#   BEFORE=/tmp/mon-base bash bench/monitorjmh.sh   # a tree of BASE already built with -Pjmh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BASE=${BASE:-e8d5a26}
ROUNDS=${ROUNDS:-2}
ROWS=${ROWS:-1,8}
JMH=${JMH:--f 1 -wi 3 -i 5 -r 1s -w 1s}
. bin/find-java.sh
fulcrum_find_java
export JAVA_HOME
OUT="bench/results/monitorjmh-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
BENCH=fulcrum-jmh/src/main/java/dev/fulcrum/monitoring
if [ -z "${BEFORE:-}" ]; then
  BEFORE="$OUT/before"
  mkdir -p "$BEFORE"
  git archive "$BASE" | tar -x -C "$BEFORE"
  mkdir -p "$BEFORE/$BENCH"
  cp "$BENCH/FraudRequests.java" "$BENCH/MonitorCompareBenchmark.java" "$BENCH/CompareCpuTime.java" \
    "$BEFORE/$BENCH/"
  cp fulcrum-jmh/pom.xml "$BEFORE/fulcrum-jmh/pom.xml"
  (cd "$BEFORE" && ./mvnw -B -ntp -o -q -Pjmh package -DskipTests -Dspotless.check.skip=true \
    -pl fulcrum-jmh -am)
fi
if [ ! -f fulcrum-jmh/target/classpath.txt ]; then
  ./mvnw -B -ntp -o -q -Pjmh package -DskipTests -pl fulcrum-jmh -am
fi
run() { # tree label benchmark
  (cd "$1" && "$JAVA_HOME/bin/java" -cp "fulcrum-jmh/target/classes:$(cat fulcrum-jmh/target/classpath.txt)" \
    org.openjdk.jmh.Main "$3" -p rows="$ROWS" -prof gc $JMH -rf json -rff "$ROOT/$OUT/$2.json") \
    | tee "$OUT/$2.txt" | grep -E '^(Benchmark|Monitor).*(avgt|gc.alloc.rate.norm )' || true
}
for r in $(seq "$ROUNDS"); do
  echo "== round $r: before ($BASE)"; run "$BEFORE" "before-$r" MonitorCompareBenchmark
  echo "== round $r: after (this tree)"; run "$ROOT" "after-$r" MonitorCompareBenchmark
done
echo "== hand-off and live comparison (this tree)"; run "$ROOT" handoff MonitorHandOffBenchmark
cpu() { # tree class rows
  (cd "$1" && "$JAVA_HOME/bin/java" -cp "fulcrum-jmh/target/classes:$(cat fulcrum-jmh/target/classpath.txt)" \
    "dev.fulcrum.monitoring.$2" "$3" 2>/dev/null)
}
for rows in ${ROWS//,/ }; do
  for r in $(seq "$ROUNDS"); do
    echo "== CPU time, rows $rows, round $r: before ($BASE), after"
    cpu "$BEFORE" CompareCpuTime "$rows" | tee -a "$OUT/cpu-before.txt"
    cpu "$ROOT" CompareCpuTime "$rows" | tee -a "$OUT/cpu-after.txt"
  done
  cpu "$ROOT" HandOffCpuTime "$rows" | tee -a "$OUT/cpu-after.txt"
done
echo "results: $OUT"
