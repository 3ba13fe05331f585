#!/usr/bin/env bash
# Cold start (docs/PERFORMANCE.md, "Cold start"): process start -> GET /v2/health/ready 200 and
# -> first successful REST JSON inference on each demo model, median of N fresh starts, for
#   fulcrum         ./fulcrum serve as the README starts it (launcher included), with the AOT cache
#   fulcrum-noaot   the same without the AOT cache (FULCRUM_NO_AOT=1)
#   java-peer       bench/peers/java: JDK HttpServer + ONNX Runtime Java + Jackson
#   node-peer       bench/peers/node: Node + fastify + onnxruntime-node
#   bound           not in the default set: bench/coldstart-bound, the least a JVM program does
#                   before the first fraud answer (its own AOT cache; bench/coldstart_bound.sh);
#                   only ready and fraud are probed. bound-noaot: the same without its cache;
#                   bound+NAME: with OPTS_NAME added
#   java-bound      not in the default set (session 20): the same least program on the JDK's
#                   HttpServer (what a Java user writes first), one ONNX Runtime session, its own
#                   AOT cache; java-bound-noort: the JDK's HttpServer without ONNX Runtime, a fixed
#                   answer to the same fraud POST (what the JVM and an HTTP server alone cost);
#                   only ready and fraud are probed; +NAME variants as for bound
# interleaved (one start of each, then repeat), each quoted as a ratio to the Node peer.
# Build time is excluded (the script builds first); the AOT cache is trained first if absent.
#   N=5 PORT=18800 bash bench/coldstart.sh
# Options (environment):
#   SERVERS="fulcrum node-peer"   a subset, in this order (default: the four above)
#   A variant for A/B starts: fulcrum+NAME or fulcrum-noaot+NAME runs Fulcrum with the JVM options
#   in OPTS_NAME added (FULCRUM_JAVA_OPTS), e.g.
#     SERVERS="fulcrum fulcrum+picocli" OPTS_picocli=-Dfulcrum.cli.picocli=true bash bench/coldstart.sh
#   the start-order switches (docs/PERFORMANCE.md, "Third round"): -Dfulcrum.start.lightest-first=false
#   (every model at once), -Dfulcrum.start.engine-beside=false (the repository waits for ONNX
#   Runtime), -Dfulcrum.start.ports-after-model=false (gRPC and metrics beside HTTP),
#   -Dfulcrum.onnx.optimized-cache=false (every start optimizes the ONNX graphs again),
#   -Dfulcrum.start.dashboard=answer|model (the dashboard's sampling at the first answer, or beside
#   the first model, instead of a second after it), -Dfulcrum.start.models-after-answer=true (the
#   models after the lightest wait for its first answer, not only until it is ready: session 9's
#   experiment, off by default), -Dfulcrum.start.ports-after-answer=true (gRPC and metrics after the first answer too),
#   -Dfulcrum.start.answer-grace-ms=N (how long those wait for an answer, default 300); another
#   AOT cache: OPTS_x=-XX:AOTCache=FILE (the last -XX:AOTCache wins)
#   Another build (A/B across commits): base or base+NAME runs BASE_ROOT/fulcrum (a copy of a
#   checkout's `fulcrum`, `bin/` and `fulcrum-tools/target/dist`, with its own AOT cache) on this
#   checkout's demo repository, e.g.
#     mkdir -p /tmp/base/fulcrum-tools/target && cp -r fulcrum bin /tmp/base/ &&
#     cp -r fulcrum-tools/target/dist /tmp/base/fulcrum-tools/target/ && touch /tmp/base/fulcrum-tools/target/dist/.built
#     (cd /tmp/base && FULCRUM_NO_BUILD=1 FULCRUM_HOME=$PWD ./fulcrum aot)   # before the change
#     ... change, build, ./fulcrum aot ...; BASE_ROOT=/tmp/base SERVERS="base fulcrum" bash bench/coldstart.sh
#   THREADS=1   also record each thread's CPU at the first fraud answer (medians in summary.txt)
#   CLASSES=1   also count the classes Fulcrum has loaded by its first fraud answer
#               (-Xlog:class+load to a file; this slows the start, so time without it)
#   PORT_STEP=2 gRPC on PORT+2 and metrics on PORT+4 (default +1, +2): with an odd PORT every port is
#               odd, which Linux's connect() does not pick as a client's port while even ones are free
#               (a port in the ephemeral range, 32768-60999 here, can be held by another program's
#               client connections and then fails to bind)
#   BUILD=0     use the dist as it is: no build, and the launcher skips its staleness check
#               (FULCRUM_NO_BUILD=1); the default starts exactly as the README does
# Results: bench/results/<time>-coldstart/ (one JSON line per start, summary.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N=${N:-5}
PORT=${PORT:-18800}
STEP=${PORT_STEP:-1}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-coldstart"
mkdir -p "$OUT"

if [ "${BUILD:-1}" = 0 ]; then
  export FULCRUM_NO_BUILD=1   # the launcher's staleness check is skipped too
else
  ./fulcrum --version >/dev/null   # builds if needed
fi
. bin/find-java.sh
fulcrum_find_java
DIST=fulcrum-tools/target/dist
if [ "${FULCRUM_JAVA_MAJOR:-0}" -ge 25 ] && [ ! -f "$DIST/fulcrum.aot" ]; then
  ./fulcrum aot
fi
PEER_CLASSES=bench/peers/java/target/classes
if [ ! -f "$PEER_CLASSES/Peer.class" ] || [ bench/peers/java/Peer.java -nt "$PEER_CLASSES/Peer.class" ]; then
  mkdir -p "$PEER_CLASSES"
  javac -d "$PEER_CLASSES" -cp "$DIST/lib/*" bench/peers/java/Peer.java
fi
# onnxruntime-node's install script would download CUDA binaries; the CPU binary is in the package.
[ -d bench/peers/node/node_modules ] || (cd bench/peers/node && npm ci --ignore-scripts --no-audit --no-fund)

read -r -a SERVERS <<< "${SERVERS:-fulcrum fulcrum-noaot java-peer node-peer}"
BOUND_VARIANTS=()
for s in "${SERVERS[@]}"; do
  case $s in
    bound*) BOUND_VARIANTS+=(socket) ;;
    java-bound-noort*) BOUND_VARIANTS+=(jdk-noort) ;;
    java-bound*) BOUND_VARIANTS+=(jdk) ;;
  esac
done
[ ${#BOUND_VARIANTS[@]} -gt 0 ] && bash bench/coldstart_bound.sh prepare "${BOUND_VARIANTS[@]}"
start() { # server port -> the probe's command line after `--` (FULCRUM_JAVA_OPTS set by the caller)
  local serve=(./fulcrum serve --http-port "$2" --grpc-port $(($2 + STEP)) --metrics-port $(($2 + 2 * STEP)))
  case $1 in
    fulcrum | fulcrum+*) echo "${serve[@]}" ;;
    fulcrum-noaot | fulcrum-noaot+*) echo env FULCRUM_NO_AOT=1 "${serve[@]}" ;;
    base | base+*) echo env FULCRUM_NO_BUILD=1 FULCRUM_HOME="$ROOT" "${BASE_ROOT:?BASE_ROOT: a copy of the launcher and dist}/fulcrum" "${serve[@]:1}" ;;
    java-peer) echo "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$PEER_CLASSES:$DIST/lib/*" Peer --port "$2" ;;
    node-peer) echo node bench/peers/node/server.js --port "$2" ;;
    bound-noaot | bound-noaot+*) BOUND_JAVA_OPTS="$(java_opts "$1")" bash bench/coldstart_bound.sh cmd "$2" noaot ;;
    bound | bound+*) BOUND_JAVA_OPTS="$(java_opts "$1")" bash bench/coldstart_bound.sh cmd "$2" ;;
    java-bound-noort | java-bound-noort+*) BOUND_JAVA_OPTS="$(java_opts "$1")" bash bench/coldstart_bound.sh cmd "$2" jdk-noort ;;
    java-bound | java-bound+*) BOUND_JAVA_OPTS="$(java_opts "$1")" bash bench/coldstart_bound.sh cmd "$2" jdk ;;
    *) echo "unknown server $1" >&2; exit 2 ;;
  esac
}
java_opts() { # server -> the extra JVM options of its variant, and of CLASSES=1
  local opts="" name
  case $1 in *+*) name="OPTS_${1#*+}"; opts="${!name:-}" ;; esac
  case $1 in fulcrum*) [ "${CLASSES:-0}" = 1 ] && opts="$opts -Xlog:class+load:file=$OUT/$1.classes" ;; esac
  echo "$opts"
}
echo "cold start: $N rounds of ${SERVERS[*]}; results in $OUT" >&2
for round in $(seq "$N"); do
  for i in "${!SERVERS[@]}"; do
    s=${SERVERS[$i]}
    port=$((PORT + 10 * i))
    probe=(--port "$port" --log "$OUT/$s.log")
    [ "${THREADS:-0}" = 1 ] && probe+=(--threads)
    [[ $s == bound* || $s == java-bound* ]] && probe+=(--only ready,fraud_classifier)
    rm -f "$OUT/$s.classes"
    [ "${CLASSES:-0}" = 1 ] && [[ $s == fulcrum* ]] && probe+=(--count-lines "$OUT/$s.classes")
    # shellcheck disable=SC2046 # the command line is a list of words
    FULCRUM_JAVA_OPTS="$(java_opts "$s")" \
      python3 bench/coldstart_probe.py "${probe[@]}" -- $(start "$s" "$port") \
      | tee -a "$OUT/$s.jsonl" | sed "s/^/round $round $s: /" >&2
  done
done

python3 - "$OUT" "${SERVERS[@]}" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
out, servers = sys.argv[1], sys.argv[2:]
cols = ("ready", "fraud_classifier", "all_minilm_l6_v2", "cpu_fraud_classifier")
med = {}
threads = {}
for s in servers:
    runs = [json.loads(l) for l in open(f"{out}/{s}.jsonl") if l.strip()]
    med[s] = {c: statistics.median(r[c] for r in runs) if all(r.get(c) is not None for r in runs)
              else "n/a" if all(c not in r for r in runs) else None for c in cols}
    med[s]["n"] = len(runs)
    classes = [r["lines_at_fraud"] for r in runs if r.get("lines_at_fraud") is not None]
    med[s]["classes_at_fraud"] = statistics.median(classes) if classes else None
    per = [r["threads"] for r in runs if r.get("threads")]
    if per:
        names = sorted({n for p in per for n in p})
        threads[s] = {n: statistics.median(p.get(n, 0) for p in per) for n in names}
        med[s]["threads"] = threads[s]
json.dump(med, open(f"{out}/summary.json", "w"), indent=1)
node = med.get("node-peer", {})
def cell(s, c):
    v = med[s][c]
    if v is None or v == "n/a":
        return "failed" if v is None else "n/a"
    ratio = (f" ({v / node[c]:.2f}x)" if isinstance(node.get(c), float) and c != "cpu_fraud_classifier"
             else "")
    return f"{v:.3f}{ratio}"
print("medians in seconds from process start (ratio to node-peer)")
print(f"{'server':14} {'n':>2} {'ready':>16} {'fraud infer':>16} {'minilm infer':>16} {'cpu@fraud':>10}")
for s in servers:
    classes = med[s]["classes_at_fraud"]
    print(f"{s:14} {med[s]['n']:>2} " + " ".join(f"{cell(s, c):>16}" for c in cols[:3])
          + f" {cell(s, cols[3]):>10}" + (f" classes@fraud {classes:.0f}" if classes else ""))
for s, t in threads.items():
    top = sorted(t.items(), key=lambda kv: -kv[1])[:12]
    print(f"{s}: thread CPU at the fraud answer (median s): "
          + ", ".join(f"{n} {v:.2f}" for n, v in top if v > 0))
PY
echo "results in $OUT" >&2
