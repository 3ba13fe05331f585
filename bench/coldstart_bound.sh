#!/usr/bin/env bash
# The bound for a JVM server's cold start (docs/PERFORMANCE.md, "Cold start", session 11):
# bench/coldstart-bound/Bound.java does only what the first fraud answer needs (JVM, ONNX
# Runtime environment, the fraud session, a bound port, one REST JSON answer by hand-rolled HTTP).
#   bash bench/coldstart_bound.sh prepare [VARIANT...]   compile it into a jar and train each
#                                           variant's own AOT cache the way `./fulcrum aot` did before
#                                           session 14 (-XX:AOTCacheOutput, classes only:
#                                           -XX:-AOTRecordTraining), if absent or stale
#   bash bench/coldstart_bound.sh cmd PORT [VARIANT] [noaot]   print its server command line
#                                           (bench/coldstart.sh's `bound`, `bound-noaot`,
#                                           `java-bound`, `java-bound-noort`; JVM options in
#                                           BOUND_JAVA_OPTS are added last)
# VARIANT (session 20): socket (default: the hand-rolled ServerSocket loop and ONNX Runtime), jdk
# (the JDK's HttpServer and ONNX Runtime), jdk-noort (the JDK's HttpServer, no ONNX Runtime: a
# fixed answer to the same POST); each has its own cache, bench/coldstart-bound/target/bound[-V].aot.
#   N=7 bash bench/coldstart_bound.sh steps the steps' own times, one JVM per line, with and
#                                           without the AOT cache interleaved: spawn -> main(), ORT
#                                           environment, fraud session, first run, and the
#                                           process's CPU after each; medians
# Same JVM options as `./fulcrum serve` (--enable-native-access, -XX:-UsePerfData,
# -XX:CompileThresholdScaling=4, ONNX Runtime's native library from the dist, not extracted).
# Needs JDK 25 and a built dist (fulcrum-tools/target/dist: the ONNX Runtime jar and native lib).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. bin/find-java.sh
fulcrum_find_java >/dev/null
DIST=fulcrum-tools/target/dist
T=bench/coldstart-bound/target
JAR=$T/bound.jar
aot_of() { [ "${1:-socket}" = socket ] && echo "$T/bound.aot" || echo "$T/bound-$1.aot"; }
args_of() {
  case ${1:-socket} in
    socket) ;;
    jdk) echo "--http jdk" ;;
    jdk-noort) echo "--http jdk --no-ort" ;;
    *) echo "coldstart_bound: unknown variant $1 (socket, jdk, jdk-noort)" >&2; exit 2 ;;
  esac
}
ORT_JAR=$(ls "$DIST"/lib/onnxruntime-*.jar | head -1)
CP="$ROOT/$JAR:$ROOT/$ORT_JAR"
OPTS=(--enable-native-access=ALL-UNNAMED -XX:-UsePerfData -XX:CompileThresholdScaling=4)
for native in "$ROOT/$DIST"/native/ai/onnxruntime/native/*/; do
  [ -d "$native" ] && OPTS+=("-Donnxruntime.native.path=${native%/}")
done
AOT=$(aot_of socket)
AOT_OPTS=("-XX:AOTCache=$ROOT/$AOT" -Xlog:aot=off -Xlog:cds=off)

prepare() {
  if [ ! -f "$JAR" ] || [ bench/coldstart-bound/Bound.java -nt "$JAR" ] || [ "$ORT_JAR" -nt "$JAR" ]; then
    rm -rf "$T" && mkdir -p "$T/classes"
    "$JAVA_HOME/bin/javac" -d "$T/classes" -cp "$ORT_JAR" bench/coldstart-bound/Bound.java
    "$JAVA_HOME/bin/jar" --create --file "$JAR" -C "$T/classes" .
  fi
  local variant=${1:-socket} AOT
  AOT=$(aot_of "$variant")
  [ -f "$AOT" ] && return 0
  local port=$((20000 + RANDOM % 12000)) log=$T/train-$variant.log
  # shellcheck disable=SC2046 # the variant's flags are a list of words
  "$JAVA_HOME/bin/java" "${OPTS[@]}" -XX:+UnlockDiagnosticVMOptions -XX:-AOTRecordTraining \
    -XX:AOTCacheOutput="$ROOT/$AOT.tmp" -Xlog:aot=warning -Xlog:cds=warning -cp "$CP" Bound \
    --port "$port" $(args_of "$variant") > "$log" 2>&1 &
  local pid=$!
  local body='{"id":"t","inputs":[{"name":"features","shape":[2,8],"datatype":"FP32","data":[[1250.0,3,0.92,410.5,14,20,1,0],[23.5,14,0.05,3.2,2,2900,0,1]]}]}'
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  for _ in $(seq 20); do
    curl -sf "http://127.0.0.1:$port/v2/models/fraud_classifier/infer" -d "$body" >/dev/null
  done
  kill -TERM "$pid"; wait "$pid" || true
  [ -f "$AOT.tmp" ] || { echo "coldstart_bound: no AOT cache written; see $log" >&2; exit 1; }
  mv "$AOT.tmp" "$AOT"
  echo "coldstart_bound: wrote $AOT ($(du -h "$AOT" | cut -f1))" >&2
}

case ${1:-steps} in
  prepare)
    shift
    [ $# -gt 0 ] || set -- socket
    for v in "$@"; do prepare "$v"; done ;;
  cmd)
    variant=${3:-socket} aot=aot
    [ "$variant" = noaot ] && variant=socket aot=noaot   # the form before session 20: cmd PORT noaot
    [ "${4:-}" = noaot ] && aot=noaot
    if [ $aot = noaot ]; then
      echo "$JAVA_HOME/bin/java ${OPTS[*]} ${BOUND_JAVA_OPTS:-} -cp $CP Bound --port $2 $(args_of "$variant")"
    else
      echo "$JAVA_HOME/bin/java ${OPTS[*]} -XX:AOTCache=$ROOT/$(aot_of "$variant") -Xlog:aot=off -Xlog:cds=off ${BOUND_JAVA_OPTS:-} -cp $CP Bound --port $2 $(args_of "$variant")"
    fi ;;
  steps)
    prepare
    N=${N:-7}
    OUT=$(mktemp -d)
    for _ in $(seq "$N"); do
      for v in aot noaot; do
        extra=()
        [ $v = aot ] && extra=("${AOT_OPTS[@]}")
        # exec keeps the PID and the clock: t0 is taken by the shell just before the JVM replaces it
        bash -c 'exec "$@" -Dbound.t0=$(date +%s%N) -cp "'"$CP"'" Bound --steps' _ \
          "$JAVA_HOME/bin/java" "${OPTS[@]}" "${extra[@]}" >> "$OUT/$v.jsonl"
      done
    done
    python3 - "$OUT" <<'PY'
import json, statistics, sys
out = sys.argv[1]
keys = ("to_main", "env", "session", "first_run", "main_to_answer", "cpu_main", "cpu_env",
        "cpu_session", "cpu_run")
print("medians (s); cpu_* = the process's CPU after that step (10 ms steps)")
print(f"{'':6}" + "".join(f"{k:>15}" for k in keys))
for v in ("aot", "noaot"):
    runs = [json.loads(l) for l in open(f"{out}/{v}.jsonl") if l.strip()]
    print(f"{v:6}" + "".join(f"{statistics.median(r[k] for r in runs):>15.3f}" for k in keys)
          + f"   (n={len(runs)})")
PY
    rm -rf "$OUT" ;;
  *) echo "usage: $0 prepare | cmd PORT [noaot] | steps" >&2; exit 2 ;;
esac
