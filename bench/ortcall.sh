#!/usr/bin/env bash
# ONNX Runtime's per-call CPU in process on the fraud model (bench/ortcall/OrtCall.java): the calling
# thread's CPU time and the process's, per OrtSession.run, over many calls, for the variants below
# (intra-op threads, batch rows, a fresh input OnnxTensor + feeds map per call as OnnxModelInstance
# does or one reused, arena and memory pattern off, and a 2 MB cache thrash between calls that
# stands in for the event loop's other work). Outputs are pinned, as the server pins them.
# Usage: bash bench/ortcall.sh    (needs the built dist or ~/.m2's onnxruntime jar)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. bin/find-java.sh
fulcrum_find_java
. bench/lib.sh
JAR=$(bench_ort_jar)
MODEL=${MODEL:-demo/models/fraud_classifier/1/model.onnx}
OUT=$(mktemp -d)
"$JAVA_HOME/bin/javac" -d "$OUT" -cp "$JAR" bench/ortcall/OrtCall.java
run() { echo "== $*"; "$JAVA_HOME/bin/java" "${@:5}" -cp "$JAR:$OUT" OrtCall "$MODEL" "$1" "$2" "$3" "$4" 2>&1 | grep -v WARN | tail -2; }
for round in 1 2; do
  run 2 1 fresh nospin
  run 2 1 reuse nospin
  run 1 1 fresh nospin
  run 2 1 create nospin
  run 2 8 fresh nospin
  run 2 8 reuse nospin
  run 1 8 fresh nospin
  run 2 1 fresh nospin -Dn=50000 -Dthrash=1
  run 2 1 fresh nospin -Dn=50000 -Dthrash=2048
  run 2 1 fresh nospin -Dn=50000 -Dthrash=2048 -Dnoarena=true -Dnopattern=true
done
