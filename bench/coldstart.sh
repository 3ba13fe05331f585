#!/usr/bin/env bash
# Cold start (docs/PERFORMANCE.md, "Cold start"): process start -> GET /v2/health/ready 200 and
# -> first successful REST JSON inference on each demo model, median of N fresh starts, for
#   fulcrum         ./fulcrum serve as the README starts it (launcher included), with the AOT cache
#   fulcrum-noaot   the same without the AOT cache (FULCRUM_NO_AOT=1)
#   java-peer       bench/peers/java: JDK HttpServer + ONNX Runtime Java + Jackson
#   node-peer       bench/peers/node: Node + fastify + onnxruntime-node
# interleaved (one start of each, then repeat), each quoted as a ratio to the Node peer.
# Build time is excluded (the script builds first); the AOT cache is trained first if absent.
#   N=5 PORT=18800 bash bench/coldstart.sh
# Results: bench/results/<time>-coldstart/ (one JSON line per start, summary.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N=${N:-5}
PORT=${PORT:-18800}
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-coldstart"
mkdir -p "$OUT"

./fulcrum --version >/dev/null   # builds if needed
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

SERVERS=(fulcrum fulcrum-noaot java-peer node-peer)
start() { # server port -> the probe's command line after `--`
  case $1 in
    fulcrum) echo ./fulcrum serve --http-port "$2" --grpc-port $(($2 + 1)) --metrics-port $(($2 + 2)) ;;
    fulcrum-noaot) echo env FULCRUM_NO_AOT=1 ./fulcrum serve --http-port "$2" --grpc-port $(($2 + 1)) --metrics-port $(($2 + 2)) ;;
    java-peer) echo "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$PEER_CLASSES:$DIST/lib/*" Peer --port "$2" ;;
    node-peer) echo node bench/peers/node/server.js --port "$2" ;;
  esac
}
echo "cold start: $N rounds of ${SERVERS[*]}; results in $OUT" >&2
for round in $(seq "$N"); do
  for i in "${!SERVERS[@]}"; do
    s=${SERVERS[$i]}
    port=$((PORT + 10 * i))
    # shellcheck disable=SC2046 # the command line is a list of words
    python3 bench/coldstart_probe.py --port "$port" --log "$OUT/$s.log" -- $(start "$s" "$port") \
      | tee -a "$OUT/$s.jsonl" | sed "s/^/round $round $s: /" >&2
  done
done

python3 - "$OUT" "${SERVERS[@]}" <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
out, servers = sys.argv[1], sys.argv[2:]
cols = ("ready", "fraud_classifier", "all_minilm_l6_v2", "cpu_fraud_classifier")
med = {}
for s in servers:
    runs = [json.loads(l) for l in open(f"{out}/{s}.jsonl") if l.strip()]
    med[s] = {c: statistics.median(r[c] for r in runs) if all(r.get(c) is not None for r in runs)
              else None for c in cols}
    med[s]["n"] = len(runs)
json.dump(med, open(f"{out}/summary.json", "w"), indent=1)
node = med.get("node-peer", {})
def cell(s, c):
    v = med[s][c]
    if v is None:
        return "failed"
    ratio = f" ({v / node[c]:.2f}x)" if node.get(c) and c != "cpu_fraud_classifier" else ""
    return f"{v:.3f}{ratio}"
print("medians in seconds from process start (ratio to node-peer)")
print(f"{'server':14} {'n':>2} {'ready':>16} {'fraud infer':>16} {'minilm infer':>16} {'cpu@fraud':>10}")
for s in servers:
    print(f"{s:14} {med[s]['n']:>2} " + " ".join(f"{cell(s, c):>16}" for c in cols[:3])
          + f" {cell(s, cols[3]):>10}")
PY
echo "results in $OUT" >&2
